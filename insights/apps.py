from django.apps import AppConfig


class InsightsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "insights"

    def ready(self) -> None:
        from core.api import api
        from incidents import registry
        from insights import demo
        from insights.api import router

        # The incident's own figures: each due time and when its update came, and its times to
        # acknowledge, mitigate and resolve against the severity's targets.
        registry.register_page_panel(place="main", template="insights/_incident_cadence.html")
        registry.register_demo_data(demo.demo_data_load)
        api.add_router("/", router)
