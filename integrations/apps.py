from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "integrations"

    def ready(self) -> None:
        from incidents import registry
        from integrations import demo, webhooks
        from notifications import registry as notifications_registry

        # Incident events become signed deliveries to the webhook subscriptions that ask for them.
        registry.register_event_handler(webhooks.incident_event_handle)
        notifications_registry.register_webhook_headers(webhooks.webhook_headers)
        registry.register_demo_data(demo.demo_data_load)
