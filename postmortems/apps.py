from django.apps import AppConfig


class PostmortemsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "postmortems"

    def ready(self) -> None:
        from core.api import api
        from incidents import registry
        from postmortems import demo, services
        from postmortems.api import router

        # Resolving an incident starts its postmortem.
        registry.register_event_handler(services.incident_event_handle)
        registry.register_demo_data(demo.demo_data_load)
        registry.register_page_data("postmortems")
        registry.register_page_panel(place="side", template="postmortems/_incident_side.html")
        api.add_router("/", router)
