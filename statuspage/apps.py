from django.apps import AppConfig


class StatuspageConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "statuspage"

    def ready(self) -> None:
        from incidents import registry
        from statuspage import services

        # Incident events move components and tell subscribers.
        registry.register_event_handler(services.incident_event_handle)
        registry.register_demo_data(services.demo_data_load)
        registry.register_page_data("statuspage")
        registry.register_page_panel(place="side", template="statuspage/_incident_side.html")
