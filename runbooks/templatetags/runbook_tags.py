"""The runbooks app's slots on the incident page. Inclusion tags, so the incident app's view knows
nothing of runbooks; each reads in a fixed number of queries, however many runs or steps."""

from django import template
from django.utils.html import format_html

from core.permissions import can_respond
from runbooks import selectors

register = template.Library()


@register.inclusion_tag("runbooks/_incident_checklists.html", takes_context=True)
def runbook_checklists(context: template.Context, incident) -> dict:
    """The incident's attached runbooks as checklists (two queries: runs, then their steps)."""
    runs = selectors.incident_runs(incident=incident)
    incident._runbook_runs = runs  # the side slot's suggestions leave these out without asking again
    user = context["request"].user
    return {"incident": incident, "runs": runs, "can_run": can_respond(user), "request": context["request"]}


@register.inclusion_tag("runbooks/_incident_suggestions.html", takes_context=True)
def runbook_suggestions(context: template.Context, incident) -> dict:
    """Runbooks for the incident's services or alerts (two queries: the alert names its timeline
    recorded, then the runbooks)."""
    runs = getattr(incident, "_runbook_runs", None)
    if runs is None:
        runs = selectors.incident_runs(incident=incident)
    alert_names = selectors.incident_alert_names(incident=incident)
    suggestions = selectors.suggestions_for_incident(
        incident=incident, alert_names=alert_names, exclude=[run.runbook_id for run in runs]
    )
    user = context["request"].user
    return {
        "incident": incident,
        "suggestions": suggestions,
        "attached": bool(runs),
        "can_run": can_respond(user) and incident.is_active,
        "csrf_token": context.get("csrf_token"),
    }


@register.simple_tag
def review_badge(runbook, today) -> str:
    if runbook.is_review_overdue(today):
        return format_html(
            '<span class="badge review-overdue" title="Review was due {}">Review overdue</span>', runbook.review_due_on
        )
    return ""


@register.inclusion_tag("runbooks/_completeness.html")
def runbook_completeness(runbook, today=None) -> dict:
    """Seed 004's findings for the runbook page (one query more: the steps its drills exercised)."""
    return {"runbook": runbook, "completeness": selectors.runbook_completeness_get(runbook=runbook, today=today)}
