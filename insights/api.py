"""GET /api/v1/insights/ (the page's figures as JSON) and POST /api/v1/incidents/{ref}/milestones/
(acknowledged and mitigated times set after the fact, so imported history has its figures)."""

from datetime import datetime
from typing import Annotated, Any, Literal

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema
from ninja.errors import HttpError

from core.api import Answer, BearerToken, Body, Error, InputRefused, InvalidInput, Moment, with_message
from core.permissions import can_respond
from incidents import errors as incident_errors
from incidents import selectors as incident_selectors
from incidents import services as incident_services
from incidents.models import Incident, reference_to_pk
from insights import errors
from insights.filters import MAX_DAYS, filters_parse
from insights.selectors import insights

router = Router(auth=BearerToken(may_write=can_respond, refusal=incident_errors.NOT_PERMITTED))
ERRORS = {401: Error, 403: Error, 405: Error}


class InsightsQuery(Schema):
    from_: str | None = Field(
        None, alias="from", description="First day, YYYY-MM-DD, in the team's time zone. Default: 29 days before 'to'."
    )
    to: str | None = Field(
        None, description=f"Last day, YYYY-MM-DD (inclusive). Default: today. At most {MAX_DAYS} days."
    )
    severity: list[str] = Field(default_factory=list, description="Severity keys, e.g. SEV1 (repeatable).")
    service: list[str] = Field(default_factory=list, description="Service slugs (repeatable).")
    team: str | None = Field(None, description="A team's slug: only incidents of services it owns.")


Seconds = Annotated[int | None, Field(description="Seconds; null when there is nothing to measure.")]


class Durations(Answer):
    mean: Seconds
    median: Seconds
    p90: Seconds


class Cadence(Answer):
    updates_due: int = Field(description="Due times that came in the period (not replaced before they came).")
    updates_on_time: int
    updates_late: int
    on_time_share: float | None
    median_lateness: Seconds
    worst_lateness: Seconds


class Figures(Answer):
    incidents: int = Field(description="Incidents detected in the period, restricted ones included.")
    time_to_acknowledge: Durations
    time_to_mitigate: Durations
    time_to_resolve: Durations
    declaration_lag: Durations = Field(description="Detected → declared.")
    acknowledged_within_response_time: float | None = Field(
        description="Share acknowledged within the severity's response time; null when none counts."
    )
    mitigated_within_target: float | None = Field(
        description="Share mitigated within the severity's mitigation target; null when none counts (no target)."
    )
    resolved_within_target: float | None = Field(
        description="Share resolved within the severity's resolution target; null when none counts (no target)."
    )
    updates_on_time: float | None = Field(
        description="Share of due times met by a status update by then (from the due times recorded)."
    )
    cadence: Cadence


class Previous(Figures):
    from_: str = Field(alias="from")
    to: str
    postmortems_on_time: float | None


class Week(Answer):
    week: str = Field(description="The Monday of the week.")
    incidents: int
    by_severity: dict[str, int]
    time_to_acknowledge: Seconds = Field(description="Median.")
    time_to_mitigate: Seconds = Field(description="Median.")
    time_to_resolve: Seconds = Field(description="Median.")
    updates_on_time: float | None


class LeadCadence(Cadence):
    lead: str


class Postmortems(Answer):
    due: int
    published_on_time: int
    published_late: int
    overdue: int
    open: int
    on_time_share: float | None


class ActionWeek(Answer):
    week: str
    opened: int
    closed: int
    open: int = Field(description="Open at the end of the week.")
    overdue: int = Field(description="Open and past their due date at the end of the week.")


class OwnerItems(Answer):
    owner: str
    opened: int = Field(description="Opened in the period.")
    closed: int = Field(description="Closed in the period.")
    open: int = Field(description="Open now.")
    overdue: int = Field(description="Open now and past their due date.")


class TeamItems(Answer):
    team: str = Field(description="The owner's team; 'No team' for items with no owner or an owner in no team.")
    slug: str = Field(description="The team's slug; empty for 'No team'.")
    opened: int = Field(description="Opened in the period.")
    closed: int = Field(description="Closed in the period.")
    open: int = Field(description="Open now.")
    overdue: int = Field(description="Open now and past their due date.")


class ActionItems(Answer):
    opened: int
    closed: int
    open: int
    overdue: int
    weekly: list[ActionWeek]
    by_owner: list[OwnerItems]
    by_team: list[TeamItems] = Field(
        description="By the owner's team (team membership); an owner in two teams counts under both."
    )


class ServiceFigures(Answer):
    service: str
    name: str
    incidents: int
    seconds: int = Field(description="Time in incident inside the period.")


class Insights(Answer):
    from_: str = Field(alias="from")
    to: str
    overall: Figures
    previous: Previous = Field(description="The same figures for the period of equal length just before.")
    by_severity: dict[str, Figures]
    weekly: list[Week]
    cadence_by_lead: list[LeadCadence]
    postmortems: Postmortems
    postmortems_on_time: float | None
    action_items: ActionItems
    top_services: list[ServiceFigures]


def insights_json(figures: dict[str, Any]) -> dict[str, Any]:
    """The figures as the API answers them (the page's own keys for the table rows left out)."""
    answer = dict(figures)
    answer["by_severity"] = {
        key: {name: value for name, value in entry.items() if name not in ("rank", "has_cadence")}
        for key, entry in figures["by_severity"].items()
    }
    answer["cadence_by_lead"] = [
        {name: value for name, value in entry.items() if name != "lead_id"} for entry in figures["cadence_by_lead"]
    ]
    return answer


@router.get(
    "insights/",
    response={200: Insights, 400: InvalidInput, **ERRORS},
    operation_id="getInsights",
    url_name="insights",
    by_alias=True,
)
def get_insights(request: HttpRequest, query: Query[InsightsQuery]) -> dict[str, Any]:
    """How fast incidents were acknowledged, mitigated and resolved (from detection), whether the
    response time and the update cadence were kept, postmortems published by their due date,
    action items and the services most in incident, for a period and the one before it.
    Durations are seconds, shares 0 to 1, null where there is no data. Responders and admins."""
    if not can_respond(request.auth):
        raise HttpError(403, errors.NOT_PERMITTED)
    filters, problems = filters_parse(request.GET)
    if problems:
        raise InputRefused(problems)
    return insights_json(insights(filters))


MILESTONE_FIELDS = {"acknowledged": "acknowledged_at", "mitigated": "mitigated_at"}


class SetMilestone(Body):
    milestone: Annotated[Literal["acknowledged", "mitigated"], with_message(errors.MILESTONE_UNKNOWN)]
    at: Moment = Field(description="ISO 8601 with a UTC offset; not in the future, not before detection.")


class Milestones(Answer):
    reference: str
    detected_at: datetime
    acknowledged_at: datetime | None
    mitigated_at: datetime | None
    resolved_at: datetime | None


@router.post(
    "incidents/{reference}/milestones/",
    response={200: Milestones, 400: InvalidInput, 404: Error, **ERRORS},
    operation_id="setMilestone",
    url_name="incident_milestones",
)
def set_milestone(request: HttpRequest, reference: str, payload: SetMilestone) -> dict[str, Any]:
    """Record when the incident was acknowledged or mitigated, e.g. for history brought from
    another tool. Checked against its other times: not in the future, not before detection, not
    after resolution. On the timeline."""
    pk = reference_to_pk(reference) if reference.isascii() else None
    incident = incident_selectors.visible_incidents(request.auth).filter(pk=pk).first() if pk else None
    if incident is None:
        raise HttpError(404, incident_errors.UNKNOWN_INCIDENT)
    incident = incident_services.incident_milestone_set(
        incident=incident, actor=request.auth, milestone=MILESTONE_FIELDS[payload.milestone], at=payload.at
    )
    incident = Incident.objects.get(pk=incident.pk)
    return {
        "reference": incident.reference,
        "detected_at": incident.detected_at,
        "acknowledged_at": incident.acknowledged_at,
        "mitigated_at": incident.mitigated_at,
        "resolved_at": incident.resolved_at,
    }
