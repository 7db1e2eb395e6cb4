from datetime import UTC, datetime

from django import template
from django.utils.html import format_html

from incidents.models import Incident
from statuspage import selectors
from statuspage.models import ComponentStatus

register = template.Library()


@register.inclusion_tag("statuspage/_incident_components.html")
def incident_components(incident: Incident, user=None) -> dict:
    """The components this incident moves on the status page (two queries, whatever the page)."""
    components, impact = selectors.components_for_incident(incident=incident)
    return {
        "incident": incident,
        "user": user,
        "components": components,
        "impact": impact,
        "impact_label": ComponentStatus(impact).label if impact else "",
    }


@register.simple_tag
def component_status_label(status: str) -> str:
    return ComponentStatus(status).label


@register.simple_tag
def utc_time(value: datetime | None, until: datetime | None = None) -> str:
    """A time (or a span) in UTC, which every reader of the shared cached page gets; the page's
    script rewrites it into the reader's own time zone."""
    if value is None:
        return ""
    text = f"{value.astimezone(UTC):%Y-%m-%d %H:%M}"
    if until is not None:
        return format_html(
            '<time datetime="{}" data-until="{}" data-local>{} \u2013 {} UTC</time>',
            value.isoformat(),
            until.isoformat(),
            text,
            f"{until.astimezone(UTC):%Y-%m-%d %H:%M}",
        )
    return format_html('<time datetime="{}" data-local>{} UTC</time>', value.isoformat(), text)
