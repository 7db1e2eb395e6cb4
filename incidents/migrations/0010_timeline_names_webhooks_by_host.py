"""Timeline events recorded before webhook URLs were treated as credentials named them in full:
in the data of reminders and stakeholder notices, and in the text of failed deliveries. Every
reader of the timeline (viewers too, through the API) saw them. Keep only the host."""

from urllib.parse import urlsplit

from django.db import migrations


def _host(url: str) -> str:
    try:
        return urlsplit(url).hostname or "webhook"
    except ValueError:
        return "webhook"


def names_by_host(apps, schema_editor):
    TimelineEvent = apps.get_model("incidents", "TimelineEvent")
    events = TimelineEvent.objects.filter(kind__in=["reminder", "stakeholders_notified"], data__has_key="webhooks")
    for event in events.iterator(chunk_size=1000):
        hooks = event.data.get("webhooks") or []
        hosts = [_host(hook) if "://" in str(hook) else hook for hook in hooks]
        if hosts != hooks:
            event.data["webhooks"] = hosts
            event.save(update_fields=["data"])
    failures = TimelineEvent.objects.filter(kind="notification_failed", text__startswith="Webhook to ")
    for event in failures.iterator(chunk_size=1000):
        target, _, rest = event.text.removeprefix("Webhook to ").partition(" failed after ")
        if "://" in target:
            event.text = f"Webhook to {_host(target)} failed after {rest}"
            event.save(update_fields=["text"])


class Migration(migrations.Migration):
    dependencies = [
        ("incidents", "0009_timeline_kind_index"),
    ]

    operations = [migrations.RunPython(names_by_host, migrations.RunPython.noop)]
