from django.apps import AppConfig


class RunbooksConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "runbooks"

    def ready(self) -> None:
        from core.api import api
        from incidents import registry
        from runbooks import demo
        from runbooks.api import router

        registry.register_demo_data(demo.demo_data_load)
        registry.register_page_data("runbooks")
        # The incident's checklists, and the runbooks suggested for it.
        registry.register_page_panel(place="main", template="runbooks/_incident_main.html")
        registry.register_page_panel(place="side", template="runbooks/_incident_side.html")
        api.add_router("/", router)
