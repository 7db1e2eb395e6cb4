from django.apps import AppConfig


class PagingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "paging"

    def ready(self) -> None:
        from incidents import registry
        from paging import demo, services

        # A declaration pages the teams of the affected services; an acknowledgement stops it.
        registry.register_event_handler(services.incident_event_handle)
        # Due levels are paged by the reminders' beat, and told by the same delivery engine.
        registry.register_sweep(services.escalations_sweep)
        # A reminder for an incident led by the alerts account goes to whoever is on call instead.
        registry.register_reminder_stand_ins(services.reminder_stand_ins)
        # Who was paged, and whether the escalation still runs, on the incident's page.
        registry.register_page_panel(place="side", template="paging/_incident_side.html")
        registry.register_demo_data(demo.demo_data_load)
