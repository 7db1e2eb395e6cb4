"""What a page says. Pure functions of the page; the fan-out sends what these return."""

from django.contrib.auth.models import AbstractBaseUser

from core.formatting import utc_clock
from incidents.messages import affected, incident_url, names
from incidents.models import Incident
from paging.models import Page


def page_text(page: Page, *, acknowledge_url: str, delay_minutes: int | None) -> tuple[str, str]:
    incident = page.incident
    severity = incident.severity
    subject = f"[{severity.key}] Page: {incident.reference} {incident.title}"
    why = "nobody is on call, so you are paged as the fallback contact" if page.fallback else "you are on call"
    lines = [
        f"You are paged for {incident.reference} ({why}; level {page.level}, round {page.round + 1}).",
        "",
        f"{incident.reference} {incident.title}",
        f"Severity: {severity.key} {severity.name}",
        f"Status: {incident.get_status_display()}",
        f"Affected: {affected(incident)}",
        f"Declared: {utc_clock(incident.declared_at)}",
        "",
        f"Acknowledge (no login needed, works once): {acknowledge_url}",
        f"Open the incident: {incident_url(incident)}",
    ]
    if delay_minutes:
        lines += ["", f"Without an acknowledgement within {delay_minutes} min, the next level is paged."]
    return subject, "\n".join(lines)


def channel_text(incident: Incident, *, level: int, round_: int, users: list[AbstractBaseUser]) -> tuple[str, str]:
    """What the team's channel hears: who is paged. No acknowledge link: those are personal."""
    severity = incident.severity
    subject = f"[{severity.key}] Paging {names(users)} for {incident.reference}: {incident.title}"
    lines = [
        f"{names(users)} paged for {incident.reference} (level {level}, round {round_ + 1}).",
        f"Severity: {severity.key} {severity.name}",
        f"Affected: {affected(incident)}",
        incident_url(incident),
    ]
    return subject, "\n".join(lines)
