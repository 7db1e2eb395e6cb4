from django.apps import AppConfig


class IncidentsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "incidents"

    def ready(self) -> None:
        from core.api import api
        from incidents.api import router
        from incidents.services import notification_failure_record
        from notifications import registry

        # A message that finally fails goes on its incident's timeline.
        registry.register_failure_handler(notification_failure_record)
        api.add_router("/", router)
