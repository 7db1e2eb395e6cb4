from django.apps import AppConfig


class OncallConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "oncall"
    verbose_name = "On call"

    def ready(self) -> None:
        from core.api import api
        from incidents import registry
        from oncall import demo, services
        from oncall.api import router

        registry.register_demo_data(demo.demo_data_load)
        # At the end of each shift its outgoing person gets the hand-off, on the reminders' beat.
        registry.register_sweep(services.handoffs_sweep)
        # The incident page shows who is on call for its services: cached under our version too.
        registry.register_page_data("oncall")
        registry.register_page_panel(place="side", template="oncall/_incident_side.html")
        registry.register_page_panel(place="header", template="oncall/_header.html")
        registry.register_page_panel(place="dashboard", template="oncall/_dashboard.html")
        api.add_router("/", router)
