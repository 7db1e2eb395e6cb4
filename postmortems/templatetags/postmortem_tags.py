"""The postmortem panels other apps' pages include: one query each. "My action items" differ per
reader, so the dashboard renders them as a reader slot of its cached page (incidents.pages)."""

from django import template

from postmortems import selectors
from postmortems.dates import team_today

register = template.Library()


@register.inclusion_tag("postmortems/_incident_side_panel.html", takes_context=True)
def incident_postmortem(context, incident) -> dict:
    postmortem = selectors.postmortem_summary(incident_id=incident.pk)
    return {
        "incident": incident,
        "postmortem": postmortem,
        "overdue": postmortem is not None and selectors.is_overdue(postmortem),
        "can_respond": context.get("can_respond", False),
    }


@register.inclusion_tag("postmortems/_my_action_items.html", takes_context=True)
def my_action_items(context) -> dict:
    user = context["request"].user
    items = selectors.my_action_items(user=user) if user.is_authenticated else []
    return {"items": items, "today": team_today()}
