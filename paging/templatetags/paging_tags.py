"""The paging panel of the incident page: two queries, nothing when the incident paged nobody."""

from django import template

from paging import selectors

register = template.Library()


@register.inclusion_tag("paging/_incident_pages_panel.html")
def incident_paging(incident) -> dict:
    return {"incident": incident, "paging": selectors.incident_paging(incident_id=incident.pk)}
