from django import template

from incidents.models import Incident
from statuspage import selectors
from statuspage.models import ComponentStatus

register = template.Library()


@register.inclusion_tag("statuspage/_incident_components.html")
def incident_components(incident: Incident) -> dict:
    """The components this incident moves on the status page (two queries, whatever the page)."""
    components, impact = selectors.components_for_incident(incident=incident)
    return {
        "incident": incident,
        "components": components,
        "impact": impact,
        "impact_label": ComponentStatus(impact).label if impact else "",
    }


@register.simple_tag
def component_status_label(status: str) -> str:
    return ComponentStatus(status).label
