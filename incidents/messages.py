"""What incidents tell people: the texts of stakeholder notices, role notices and status-update
reminders, and where an incident's messages go. Pure functions of the incident; the services and
the reminder fan-out send what these return."""

import functools
from collections.abc import Iterable
from datetime import UTC, datetime

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.urls import reverse

from core.formatting import humanize_delta, utc_clock
from core.outbound import url_host
from incidents.models import Incident, IncidentStatus, ReminderStep


def user_label(user: AbstractBaseUser | None) -> str:
    if user is None:
        return "nobody"
    full_name = user.get_full_name() if hasattr(user, "get_full_name") else ""
    return full_name or user.get_username()


def incident_url(incident: Incident) -> str:
    # Reversed once per process, not once per reminder: a sweep may write thousands.
    return f"{settings.SITE_URL}{_incident_path_pattern().replace('INC-PLACEHOLDER', incident.reference)}"


@functools.cache
def _incident_path_pattern() -> str:
    return reverse("incidents:detail", kwargs={"reference": "INC-PLACEHOLDER"})


def incident_webhooks(incident: Incident) -> list[tuple[str, str]]:
    hooks = {}
    for url, webhook_format in (
        (incident.webhook_url, incident.webhook_format),
        (incident.severity.webhook_url, incident.severity.webhook_format),
    ):
        if url:
            hooks.setdefault(url, webhook_format)
    return list(hooks.items())


def webhook_labels(webhooks: list[tuple[str, str]]) -> list[str]:
    """How the timeline names the webhooks it told: by host, never by URL (a credential)."""
    return [url_host(url) for url, _ in webhooks]


def channels_label(users: Iterable[AbstractBaseUser], webhooks: list) -> str:
    users = list(users)
    channels = ["in-app"] if users else []
    if any(getattr(user, "email", "") for user in users):
        channels.append("email")
    if webhooks:
        channels.append("webhook")
    return ", ".join(channels) or "nobody"


def names(users: Iterable[AbstractBaseUser]) -> str:
    return ", ".join(sorted(user_label(user) for user in users)) or "nobody"


def affected(incident: Incident) -> str:
    """Who and what is affected: users as counted, and the services chosen."""
    parts = []
    if incident.affected_users_count is not None:
        parts.append(f"~{incident.affected_users_count} users")
    if incident.affected_users_percent is not None:
        parts.append(f"{incident.affected_users_percent.normalize():f}% of users")
    services = ", ".join(service.name for service in incident.affected_services.all())
    if services:
        parts.append(services)
    return " / ".join(parts) or "Being assessed"


def cadence_sentence(incident: Incident) -> str:
    cadence = incident.severity.update_cadence
    if cadence is None or incident.next_update_due_at is None:
        return "Updates will be provided as needed."
    return (
        f"Updates will be provided every {humanize_delta(cadence)}. "
        f"Next update by {utc_clock(incident.next_update_due_at)}."
    )


STATUS_LABELS = dict(IncidentStatus.choices)


def reminder_text(incident: Incident, step: int, due: datetime, now: datetime, url: str) -> tuple[str, str]:
    severity = incident.severity
    state = "due" if step == ReminderStep.DUE else "overdue"
    subject = f"[{severity.key}] {incident.reference} status update {state}: {incident.title}"
    if step == ReminderStep.DUE:
        timing = f"A status update is due now ({severity.key}: every {humanize_delta(severity.update_cadence)})."
    else:
        timing = f"The status update is overdue by {humanize_delta(now - due)}."
    since = incident.last_update_at or incident.declared_at
    last = "Last update" if incident.last_update_at else "No update yet; declared"
    body = "\n".join(
        [
            f"{incident.reference} · {severity.key} {severity.name} · {STATUS_LABELS[incident.status]}",
            incident.title,
            "",
            timing,
            f"{last} {humanize_delta(now - since)} ago.",
            "",
            f"Post the update: {url}#update-form",
            "",
            f"⏱️ UPDATE [{now.astimezone(UTC):%H:%M} UTC]",
            f"Status: {STATUS_LABELS[incident.status]}",
            "Progress: ",
            "Next Steps: ",
            "ETA: ",
        ]
    )
    return subject, body
