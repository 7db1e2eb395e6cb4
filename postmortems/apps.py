from django.apps import AppConfig


class PostmortemsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "postmortems"

    def ready(self) -> None:
        from core.api import api
        from postmortems.api import router

        api.add_router("/", router)
