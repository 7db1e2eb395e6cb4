from datetime import UTC, datetime

from django import template
from django.utils.html import format_html

from incidents.models import Incident
from statuspage import selectors
from statuspage.models import ComponentStatus

register = template.Library()


@register.inclusion_tag("statuspage/_incident_components.html", takes_context=True)
def incident_components(context, incident: Incident, user=None, can_publish: bool = False) -> dict:
    """The components this incident moves on the status page, whether it is published there and
    under which name (three queries, whatever the page)."""
    components, impact = selectors.components_for_incident(incident=incident)
    shown = selectors.severity_impact(severity_id=incident.severity_id)
    return {
        "incident": incident,
        "user": user,
        "can_publish": can_publish,
        # The page's token (a placeholder on the cached page, swapped for the reader's own).
        "csrf_token": context.get("csrf_token"),
        "publish_form": context.get("publish_form"),
        "components": components,
        "impact": impact,
        "impact_label": ComponentStatus(impact).label if impact else "",
        "public_name": selectors.public_name(
            public_title=incident.public_title, impact_label=ComponentStatus(shown).label, components=components
        ),
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
