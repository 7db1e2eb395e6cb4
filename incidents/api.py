"""The JSON API of incidents and the severity policy, for alert tools and scripts. Every write goes
through incidents.services; core.api holds what all endpoints share. The schemas below are the
OpenAPI document at /api/v1/openapi.json."""

import base64
import binascii
import json
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.db import transaction
from django.db.models import F, Prefetch, Q, QuerySet, Value
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.crypto import salted_hmac
from ninja import Field, Header, Query, Router, Schema, Status
from ninja.errors import HttpError
from pydantic import AfterValidator, PlainValidator, WithJsonSchema, field_validator

from core.api import (
    Answer,
    BearerToken,
    Body,
    Count,
    Error,
    InputRefused,
    InvalidInput,
    Moment,
    Names,
    Text,
    etag_of,
    is_stale,
    one_of,
    refuse,
    storable,
    text,
    with_message,
)
from core.outbound import url_masked
from core.permissions import can_respond
from incidents import errors, selectors, services
from incidents import models as m
from incidents.policy import LADDER_PERCENT_MAX, POLICY_MINUTES_MAX, severity_policy_update
from notifications.models import WebhookFormat

PAGE_SIZE = 50
MAX_PAGE_SIZE = 100
CHANGE_POLICY_PERMISSION = "incidents.change_severitypolicy"

# Anyone with a token reads; responders and admins change incidents; only those who may change
# the severity policy (admins) change it.
responder_token = BearerToken(may_write=can_respond, refusal=errors.NOT_PERMITTED)
policy_token = BearerToken(
    may_write=lambda user: user.has_perm(CHANGE_POLICY_PERMISSION), refusal=errors.POLICY_NOT_PERMITTED
)
router = Router(auth=responder_token)


# Fields, each checked as clients have always been told, and turned into what services take.


def _active_users(names: list[str]) -> list[User]:
    found = {user.username: user for user in User.objects.filter(username__in=names, is_active=True)}
    missing = [name for name in names if name not in found]
    if missing:
        raise refuse(errors.UNKNOWN_USERS.format(names=", ".join(missing)))
    return [found[name] for name in names]


def _active_user(name: str) -> User:
    return _active_users([name])[0]


def _groups(names: list[str]) -> list[Group]:
    found = {group.name: group for group in Group.objects.filter(name__in=names)}
    missing = [name for name in names if name not in found]
    if missing:
        raise refuse(errors.UNKNOWN_GROUPS.format(names=", ".join(missing)))
    return [found[name] for name in names]


def _services(slugs: list[str]) -> list[m.Service]:
    found = {service.slug: service for service in m.Service.objects.filter(slug__in=slugs)}
    missing = [slug for slug in slugs if slug not in found]
    if missing:
        raise refuse(errors.UNKNOWN_SERVICES.format(slugs=", ".join(missing)))
    return [found[slug] for slug in slugs]


def _severity(key: str) -> m.SeverityPolicy:
    policies = {policy.key: policy for policy in m.SeverityPolicy.objects.order_by("rank")}
    if key not in policies:
        raise refuse(errors.UNKNOWN_SEVERITY.format(keys=", ".join(policies)))
    return policies[key]


def _percent(value: Any) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise refuse(errors.NOT_A_PERCENT)
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise refuse(errors.NOT_A_PERCENT) from None
    if not number.is_finite() or number.as_tuple().exponent < -2:
        raise refuse(errors.NOT_A_PERCENT)
    # copy_abs turns -0 into 0 without the context arithmetic that overflows on 1e9999999; the
    # range itself is the service's rule.
    return number.copy_abs() if number.is_zero() else number


# Each validated into the object it names: a User, a Group, a Service, a SeverityPolicy.
Username = Annotated[str, Field(description="A username."), AfterValidator(storable), AfterValidator(_active_user)]
Usernames = Annotated[Names, Field(description="Usernames."), AfterValidator(_active_users)]
GroupNames = Annotated[Names, Field(description="Group names."), AfterValidator(_groups)]
ServiceSlugs = Annotated[Names, Field(description="Service slugs."), AfterValidator(_services)]
SeverityKey = Annotated[
    str,
    Field(
        description="A severity key from the severity policy, e.g. SEV1. The policy is data: an unknown key is "
        "refused with the list of known ones.",
        examples=["SEV2"],
    ),
    AfterValidator(storable),
    AfterValidator(_severity),
]
IncidentStatus = Annotated[
    str,
    Field(json_schema_extra={"enum": m.IncidentStatus.values}),
    AfterValidator(storable),
    one_of(m.IncidentStatus.values, errors.UNKNOWN_STATUS),
]
Percent = Annotated[
    Decimal | None,
    PlainValidator(_percent),
    WithJsonSchema(
        {
            "type": ["number", "string", "null"],
            "description": '0 to 100, at most two decimal places; a string such as "12.5" keeps it exact.',
        }
    ),
]
IncidentMoment = Annotated[Moment, with_message(errors.BAD_DATETIME)]


def _length(model: type, field: str) -> int:
    return model._meta.get_field(field).max_length


class ImpactFields(Body):
    affected_users_count: Count | None = None
    affected_users_percent: Percent = None
    affected_services: ServiceSlugs = []
    business_impact: Text = ""
    data_integrity_concern: bool = False
    security_concern: bool = False


class DeclareIncident(ImpactFields):
    title: text(_length(m.Incident, "title")) = Field(description="Internal: never shown on the status page.")
    severity: SeverityKey
    summary: Text = ""
    public_title: text(_length(m.Incident, "public_title")) = Field(
        "", description="What the status page calls it once published; empty: a neutral title from its components."
    )
    public_summary: Text = ""
    restricted: bool | None = Field(
        None,
        description="Visible only to its participants and the security group. Defaults to true for an incident with "
        "a security concern (RESTRICT_SECURITY_INCIDENTS), else false.",
    )
    detected_at: IncidentMoment | None = Field(None, description="Defaults to now; may be earlier.")
    lead: Username | None = Field(None, description="Defaults to the token's user.")
    comms_lead: Username | None = None
    responders: Usernames = []


class ChangeIncident(ImpactFields):
    """Any subset of the fields. All changes are made together or none is; a field already holding
    the given value is left alone."""

    title: text(_length(m.Incident, "title")) = ""
    summary: Text = ""
    public_title: text(_length(m.Incident, "public_title")) = ""
    public_summary: Text = ""
    restricted: bool = Field(False, description="Restrict or open it: the incident lead or the security group.")
    severity: SeverityKey = Field(None, description="Re-plans when the next status update is due.")
    status: IncidentStatus = None
    lead: Username = None
    comms_lead: Username | None = Field(None, description="null removes the comms lead.")
    responders: Usernames = Field([], description="The full list; replaces it.")

    @field_validator("lead", mode="before")
    @classmethod
    def _lead_required(cls, value: Any) -> Any:
        if value is None:
            raise refuse(errors.LEAD_REQUIRED)
        return value


class PostUpdate(Body):
    progress: Text = Field(description="What we know and what has been done.")
    status: IncidentStatus = Field(None, description="Moves the incident to this status too.")
    next_steps: Text = ""
    eta: text(_length(m.StatusUpdate, "eta")) = ""
    visibility: Annotated[
        str,
        Field(json_schema_extra={"enum": m.UpdateVisibility.values}),
        AfterValidator(storable),
        one_of(m.UpdateVisibility.values, errors.UNKNOWN_VISIBILITY),
    ] = "internal"


# What the API answers.


class Impact(Answer):
    affected_users_count: int | None
    affected_users_percent: str | None = Field(
        description='A decimal string with two places, e.g. "12.50", so no precision is lost.'
    )
    affected_services: list[str] = Field(description="Service slugs.")
    business_impact: str
    data_integrity_concern: bool
    security_concern: bool


class Incident(Answer):
    reference: str = Field(examples=["INC-0042"])
    url: str = Field(description="The incident's page for people.")
    title: str = Field(description="Internal: never shown on the status page.")
    summary: str
    public_title: str = Field(description="The status page's title; empty: a neutral one from its components.")
    public_summary: str
    published_at: datetime | None = Field(description="When it went on the status page; null while internal.")
    restricted: bool = Field(description="Visible only to its participants and the security group.")
    severity: str
    status: Literal[tuple(m.IncidentStatus.values)]
    impact: Impact
    lead: str
    comms_lead: str | None
    responders: list[str]
    detected_at: datetime
    declared_at: datetime
    acknowledged_at: datetime | None
    mitigated_at: datetime | None
    resolved_at: datetime | None
    next_update_due_at: datetime | None = Field(
        description="When the next status update is due; null when resolved or the severity has no update cadence."
    )
    last_update_at: datetime | None


NEXT_CURSOR = Field(
    description="Pass it as `cursor` for the page after this one; null on the last page. A cursor stays "
    "right however many rows are added meanwhile, and costs the same however deep into the list it is."
)


class IncidentPage(Answer):
    count: int | None = Field(description="All matching incidents, not just this page; null when paging by cursor.")
    next_cursor: str | None = NEXT_CURSOR
    results: list[Incident]


class StatusUpdate(Answer):
    id: int
    incident: str
    author: str | None
    posted_at: datetime
    status: Literal[tuple(m.IncidentStatus.values)]
    progress: str
    next_steps: str
    eta: str
    visibility: Literal[tuple(m.UpdateVisibility.values)]


class UpdateDraft(Answer):
    id: int
    incident: str
    drafted_by: str | None
    drafted_at: datetime
    state: Literal[tuple(m.DraftState.values)]
    status: Literal[tuple(m.IncidentStatus.values)]
    progress: str
    next_steps: str
    eta: str


class TimelineEvent(Answer):
    id: int
    kind: Literal[tuple(m.EventKind.values)]
    text: str = Field(description="A one-line summary.")
    body: str
    actor: str | None
    occurred_at: datetime = Field(description="When it happened; may be earlier than recorded_at.")
    recorded_at: datetime
    starred: bool
    data: dict[str, Any] = Field(description="Details that depend on the kind.")


class TimelinePage(Answer):
    count: int | None = Field(description="All events of the incident; null when paging by cursor.")
    next_cursor: str | None = NEXT_CURSOR
    results: list[TimelineEvent]


class Page(Schema):
    limit: Annotated[
        int,
        Field(ge=1, description=f"Rows per page; larger values are cut to {MAX_PAGE_SIZE}."),
        with_message(errors.BAD_LIMIT.format(high=MAX_PAGE_SIZE)),
    ] = PAGE_SIZE
    offset: Annotated[int, Field(ge=0, description="Rows to skip."), with_message(errors.BAD_OFFSET)] = 0
    cursor: str | None = Field(
        None, description="The `next_cursor` of the previous page, instead of `offset`: the rows after that page."
    )


class IncidentFilters(Page):
    status: Annotated[
        Literal["active", *m.IncidentStatus.values],
        with_message(errors.UNKNOWN_LIST_STATUS.format(values=", ".join(m.IncidentStatus.values))),
    ] = Field(None, description="active (anything not resolved) or one status.")
    severity: str | None = None


def _page(
    rows: QuerySet,
    page: Page,
    order: tuple[str, str],
    to_json: Callable[[QuerySet], list[dict[str, Any]]],
    position_of: Callable[[dict[str, Any]], tuple[datetime, int]],
    count_of: Callable[[], int] | None = None,
) -> dict[str, Any]:
    """One page of `rows`, ordered by `order` (a time field and "id", each with "-" for newest
    first), by offset with the total count, or by cursor (keyset: no count, and no rows read
    before the page however deep it is). One row more than the page is read to tell whether a
    next page exists; `position_of` gives a JSON row's place in the order for the next cursor;
    `count_of`, when given, counts the rows in a cheaper way than `rows.count()`."""
    limit = min(page.limit, MAX_PAGE_SIZE)
    rows = rows.order_by(*order)
    count = None
    if page.cursor is not None:
        if page.offset:
            raise InputRefused({"cursor": [errors.CURSOR_WITH_OFFSET]})
        found = to_json(_after(rows, order, _cursor_position(page.cursor))[: limit + 1])
    else:
        count = rows.count() if count_of is None else count_of()
        # An offset past the end never reaches the database, where a huge one would overflow.
        found = to_json(rows[page.offset : page.offset + limit + 1]) if page.offset < count else []
    more, found = len(found) > limit, found[:limit]
    return {"count": count, "next_cursor": _cursor_of(*position_of(found[-1])) if more else None, "results": found}


def _cursor_of(moment: datetime, pk: int) -> str:
    return base64.urlsafe_b64encode(json.dumps([moment.isoformat(), pk]).encode()).decode().rstrip("=")


def _cursor_position(cursor: str) -> tuple[datetime, int]:
    try:
        moment, pk = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        position = datetime.fromisoformat(moment), int(pk)
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise InputRefused({"cursor": [errors.BAD_CURSOR]}) from None
    if position[0].tzinfo is None or not 0 < position[1] < 2**63:
        raise InputRefused({"cursor": [errors.BAD_CURSOR]})
    return position


def _after(rows: QuerySet, order: tuple[str, str], position: tuple[datetime, int]) -> QuerySet:
    """The rows after `position` in `order`. Written as "time ≤ t and (time < t or id < i)" (or
    the mirror for oldest first) so that PostgreSQL reads the index from the position on."""
    moment, pk = position
    field = order[0].lstrip("-")
    if order[0].startswith("-"):
        return rows.filter(Q(**{f"{field}__lt": moment}) | Q(pk__lt=pk), **{f"{field}__lte": moment})
    return rows.filter(Q(**{f"{field}__gt": moment}) | Q(pk__gt=pk), **{f"{field}__gte": moment})


def _username(user: User | None) -> str | None:
    return None if user is None else user.get_username()


INCIDENT_NEWEST_FIRST = ("-declared_at", "-id")
TIMELINE_OLDEST_FIRST = ("occurred_at", "id")
INCIDENT_MOMENTS = (
    "detected_at",
    "declared_at",
    "acknowledged_at",
    "mitigated_at",
    "resolved_at",
    "next_update_due_at",
    "last_update_at",
)


PLACEHOLDER_REFERENCE = "INC-0"


def incidents_json(incidents: QuerySet[m.Incident]) -> list[dict[str, Any]]:
    """The JSON of each incident, in the queryset's order, in two queries whatever their number,
    read as plain values: a model instance per row and per related row cost more than the query."""
    rows = list(
        incidents.values(
            "id", "title", "summary", "public_title", "public_summary", "published_at", "restricted", "severity__key",
            "status",
            "affected_users_count", "affected_users_percent",
            "business_impact", "data_integrity_concern", "security_concern", "lead__username",
            "comms_lead__username", *INCIDENT_MOMENTS,
        )
    )  # fmt: skip
    pks = [row["id"] for row in rows]
    # Responders and affected services in one round trip, each list in name order.
    responders = m.Incident.responders.through.objects.filter(incident_id__in=pks).annotate(
        field=Value("responders"), name=F("user__username")
    )
    services = m.Incident.affected_services.through.objects.filter(incident_id__in=pks).annotate(
        field=Value("services"), name=F("service__slug")
    )
    names = {"responders": defaultdict(list), "services": defaultdict(list)}
    for field, pk, name in (
        responders.values_list("field", "incident_id", "name")
        .union(services.values_list("field", "incident_id", "name"), all=True)
        .order_by("field", "incident_id", "name")
    ):
        names[field][pk].append(name)
    responders, services = names["responders"], names["services"]
    # The page URL from one reverse() for all rows; the reference is all that differs.
    page_url = settings.SITE_URL + reverse("incidents:detail", kwargs={"reference": PLACEHOLDER_REFERENCE})
    url_before, url_after = page_url.split(PLACEHOLDER_REFERENCE)
    results = []
    for row in rows:
        reference = m.reference_of(row["id"])
        percent = row["affected_users_percent"]
        results.append(
            {
                "reference": reference,
                "url": url_before + reference + url_after,
                "title": row["title"],
                "summary": row["summary"],
                "public_title": row["public_title"],
                "public_summary": row["public_summary"],
                "published_at": row["published_at"],
                "restricted": row["restricted"],
                "severity": row["severity__key"],
                "status": row["status"],
                "impact": {
                    "affected_users_count": row["affected_users_count"],
                    "affected_users_percent": None if percent is None else str(percent),
                    "affected_services": services[row["id"]],
                    "business_impact": row["business_impact"],
                    "data_integrity_concern": row["data_integrity_concern"],
                    "security_concern": row["security_concern"],
                },
                "lead": row["lead__username"],
                "comms_lead": row["comms_lead__username"],
                "responders": responders[row["id"]],
                **{field: row[field] for field in INCIDENT_MOMENTS},
            }
        )
    return results


def incident_json(pk: int) -> dict[str, Any]:
    return incidents_json(m.Incident.objects.filter(pk=pk))[0]


def _pk_of(reference: str) -> int:
    try:
        pk = m.reference_to_pk(reference)
    except ValueError:
        # str.isdigit() accepts characters int() cannot read, such as '²'.
        pk = None
    if pk is None:
        raise HttpError(404, errors.UNKNOWN_INCIDENT)
    return pk


def _incident_or_404(request: HttpRequest, reference: str) -> m.Incident:
    """The incident if the token's user may see it; 404 as for none at all."""
    incident = selectors.visible_incidents(request.auth).filter(pk=_pk_of(reference)).first()
    if incident is None:
        raise HttpError(404, errors.UNKNOWN_INCIDENT)
    return incident


def _given(payload: Body) -> dict[str, Any]:
    """The fields the client sent, as validated (users, groups, services and severities as
    objects), in the schema's order."""
    return {field: getattr(payload, field) for field in type(payload).model_fields if field in payload.model_fields_set}


def _with_etag(response: HttpResponse, representation: dict[str, Any]) -> dict[str, Any]:
    response["ETag"] = etag_of(representation)
    return representation


IfMatch = Header(
    None,
    alias="If-Match",
    description="The ETag of the version you read. If it changed since, nothing is written: 412 with the current "
    "version. Without it, the change applies to whatever is current.",
)
ERRORS = {401: Error, 403: Error, 404: Error, 405: Error}


# Incidents.


@router.get(
    "incidents/",
    response={200: IncidentPage, 400: InvalidInput, 401: Error, 405: Error},
    operation_id="listIncidents",
    url_name="incidents",
)
def list_incidents(request: HttpRequest, filters: Query[IncidentFilters]) -> dict[str, Any]:
    """List incidents, newest first."""
    matching = m.Incident.objects.all()
    if filters.status == "active":
        matching = matching.filter(status__in=m.ACTIVE_STATUSES)
    elif filters.status is not None:
        matching = matching.filter(status=filters.status)
    if filters.severity is not None:
        keys = list(m.SeverityPolicy.objects.order_by("rank").values_list("key", flat=True))
        if filters.severity not in keys:
            raise InputRefused({"severity": [errors.UNKNOWN_SEVERITY.format(keys=", ".join(keys))]})
        matching = matching.filter(severity__key=filters.severity)
    return _page(
        matching & selectors.visible_incidents(request.auth),
        filters,
        INCIDENT_NEWEST_FIRST,
        incidents_json,
        lambda row: (row["declared_at"], m.reference_to_pk(row["reference"])),
        count_of=lambda: selectors.visible_count(request.auth, matching),
    )


@router.post(
    "incidents/",
    response={201: Incident, 400: InvalidInput, **ERRORS},
    operation_id="declareIncident",
    url_name="incident_declare",
)
def declare_incident(request: HttpRequest, payload: DeclareIncident, response: HttpResponse) -> Status:
    """Declare an incident. It opens in investigating; the first status update falls due one update
    cadence of its severity from now."""
    values = _given(payload)
    incident = services.incident_declare(declared_by=request.auth, **values)
    response["Location"] = settings.SITE_URL + reverse("api:incident", kwargs={"reference": incident.reference})
    return Status(201, _with_etag(response, incident_json(incident.pk)))


@router.get(
    "incidents/{reference}/", response={200: Incident, **ERRORS}, operation_id="getIncident", url_name="incident"
)
def get_incident(request: HttpRequest, reference: str, response: HttpResponse) -> dict[str, Any]:
    """One incident, with its ETag."""
    found = incidents_json(selectors.visible_incidents(request.auth).filter(pk=_pk_of(reference)))
    if not found:
        raise HttpError(404, errors.UNKNOWN_INCIDENT)
    return _with_etag(response, found[0])


@router.patch(
    "incidents/{reference}/",
    response={200: Incident, 400: InvalidInput, 412: Incident, **ERRORS},
    operation_id="changeIncident",
    url_name="incident",
)
def change_incident(
    request: HttpRequest,
    reference: str,
    payload: ChangeIncident,
    response: HttpResponse,
    if_match: str | None = IfMatch,
) -> Status:
    """Change severity, status, roles, title, summary or impact."""
    pk = _incident_or_404(request, reference).pk
    given = _given(payload)
    actor = request.auth
    # One transaction, so a refusal by any service undoes the changes made before it. Severity
    # goes before status: a reopened incident then owes its first update one cadence of the new
    # severity from now, rather than a cadence counted from an update posted before it resolved.
    with transaction.atomic():
        # Locked before comparing, so "already this value" and If-Match are judged on what the
        # services see.
        incident = m.Incident.objects.select_for_update().get(pk=pk)
        current = incident_json(pk)
        if is_stale(if_match, etag_of(current)):
            return Status(412, _with_etag(response, current))
        if "severity" in given and given["severity"].pk != incident.severity_id:
            incident = services.incident_severity_change(incident=incident, severity=payload.severity, actor=actor)
        if "status" in given and payload.status != incident.status:
            incident = services.incident_status_change(incident=incident, status=payload.status, actor=actor)
        roles = {field: given[field] for field in ("lead", "comms_lead", "responders") if field in given}
        if "comms_lead" in roles:
            roles["clear_comms_lead"] = roles["comms_lead"] is None
        if roles:
            incident = services.incident_roles_assign(incident=incident, actor=actor, **roles)
        if "restricted" in given and given["restricted"] != incident.restricted:
            incident = services.incident_restriction_set(incident=incident, actor=actor, restricted=given["restricted"])
        texts = ("title", "summary", "public_title", "public_summary")
        impact = {field: given[field] for field in (*ImpactFields.model_fields, *texts) if field in given}
        if impact:
            services.incident_impact_update(incident=incident, actor=actor, **impact)
    # Read back from the database so a write answers exactly what a later GET will.
    return Status(200, _with_etag(response, incident_json(pk)))


def update_json(update: m.StatusUpdate) -> dict[str, Any]:
    return {
        "id": update.pk,
        "incident": m.reference_of(update.incident_id),
        "author": _username(update.author),
        "posted_at": update.posted_at,
        "status": update.status,
        "progress": update.progress,
        "next_steps": update.next_steps,
        "eta": update.eta,
        "visibility": update.visibility,
    }


def draft_json(draft: m.UpdateDraft) -> dict[str, Any]:
    return {
        "id": draft.pk,
        # From the id: the incident row is not read again for each draft.
        "incident": m.reference_of(draft.incident_id),
        "drafted_by": _username(draft.drafted_by),
        "drafted_at": draft.drafted_at,
        "state": draft.state,
        "status": draft.status,
        "progress": draft.progress,
        "next_steps": draft.next_steps,
        "eta": draft.eta,
    }


@router.post(
    "incidents/{reference}/updates/",
    response={201: StatusUpdate, 202: UpdateDraft, 400: InvalidInput, **ERRORS},
    operation_id="postStatusUpdate",
    url_name="incident_updates",
)
def post_status_update(request: HttpRequest, reference: str, payload: PostUpdate) -> Status:
    """Post a status update. The next update falls due one cadence from now; none once resolved.
    When the severity policy wants public updates approved and you are neither the incident lead
    nor the comms lead, a public update is saved as a draft for them (202, the draft): nothing of it
    is public until one of them approves it (on the incident page, or approveUpdateDraft)."""
    incident = _incident_or_404(request, reference)
    values = _given(payload)
    if values.get("visibility") == m.UpdateVisibility.PUBLIC and services.update_needs_approval(
        incident=incident, user=request.auth
    ):
        del values["visibility"]
        draft = services.update_draft_create(incident=incident, author=request.auth, **values)
        return Status(202, draft_json(draft))
    update = services.incident_update_post(incident=incident, author=request.auth, **values)
    update = m.StatusUpdate.objects.select_related("author").get(pk=update.pk)
    return Status(201, update_json(update))


class UpdateDraftList(Answer):
    count: int
    results: list[UpdateDraft] = Field(description="Oldest first.")


class ApproveDraft(Body):
    """The fields given replace the draft's text before it is published; none: as drafted."""

    progress: Text = Field(None, description="What we know and what has been done.")
    status: IncidentStatus = Field(None, description="Moves the incident to this status too.")
    next_steps: Text = None
    eta: text(_length(m.StatusUpdate, "eta")) = None


def _draft_or_404(incident: m.Incident, draft_id: int) -> m.UpdateDraft:
    draft = m.UpdateDraft.objects.filter(incident=incident, pk=draft_id).select_related("incident").first()
    if draft is None:
        raise HttpError(404, errors.UNKNOWN_DRAFT)
    return draft


@router.get(
    "incidents/{reference}/drafts/",
    response={200: UpdateDraftList, **ERRORS},
    operation_id="listUpdateDrafts",
    url_name="incident_drafts",
)
def list_update_drafts(request: HttpRequest, reference: str) -> dict[str, Any]:
    """The public updates waiting for the incident lead's or comms lead's approval."""
    incident = _incident_or_404(request, reference)
    drafts = [draft_json(draft) for draft in selectors.update_drafts_pending(incident=incident)]
    return {"count": len(drafts), "results": drafts}


@router.post(
    "incidents/{reference}/drafts/{draft_id}/approve/",
    response={201: StatusUpdate, 400: InvalidInput, **ERRORS},
    operation_id="approveUpdateDraft",
    url_name="incident_draft_approve",
)
def approve_update_draft(request: HttpRequest, reference: str, draft_id: int, payload: ApproveDraft) -> Status:
    """The incident lead or comms lead approves a draft, edited by the fields given, and publishes
    it as a public status update."""
    incident = _incident_or_404(request, reference)
    update = services.update_draft_approve(
        draft=_draft_or_404(incident, draft_id), actor=request.auth, **_given(payload)
    )
    update = m.StatusUpdate.objects.select_related("author").get(pk=update.pk)
    return Status(201, update_json(update))


@router.post(
    "incidents/{reference}/drafts/{draft_id}/discard/",
    response={200: UpdateDraft, 400: InvalidInput, **ERRORS},
    operation_id="discardUpdateDraft",
    url_name="incident_draft_discard",
)
def discard_update_draft(request: HttpRequest, reference: str, draft_id: int) -> dict[str, Any]:
    """The incident lead or comms lead (or its author) drops a draft; nothing of it was public."""
    incident = _incident_or_404(request, reference)
    return draft_json(services.update_draft_discard(draft=_draft_or_404(incident, draft_id), actor=request.auth))


@router.post(
    "incidents/{reference}/acknowledge/",
    response={200: Incident, 400: InvalidInput, **ERRORS},
    operation_id="acknowledgeIncident",
    url_name="incident_acknowledge",
)
def acknowledge_incident(request: HttpRequest, reference: str, response: HttpResponse) -> Status:
    """Answer for the incident: sets the Acknowledged milestone and stops paging; the token's user
    leads it when its lead is not a person (an incident opened by an alert). No body."""
    incident = _incident_or_404(request, reference)
    services.incident_acknowledge(incident=incident, actor=request.auth)
    return Status(200, _with_etag(response, incident_json(incident.pk)))


def events_json(events: QuerySet[m.TimelineEvent]) -> list[dict[str, Any]]:
    """The JSON of each event, in one query, read as plain values."""
    rows = events.values(
        "id", "kind", "text", "body", "actor__username", "occurred_at", "recorded_at", "starred", "data"
    )
    return [{**row, "actor": row.pop("actor__username")} for row in rows]


@router.get(
    "incidents/{reference}/timeline/",
    response={200: TimelinePage, 400: InvalidInput, **ERRORS},
    operation_id="getTimeline",
    url_name="incident_timeline",
)
def get_timeline(request: HttpRequest, reference: str, page: Query[Page]) -> dict[str, Any]:
    """The incident's timeline, oldest first."""
    pk = selectors.visible_incidents(request.auth).filter(pk=_pk_of(reference)).values_list("pk", flat=True).first()
    if pk is None:
        raise HttpError(404, errors.UNKNOWN_INCIDENT)
    return _page(
        m.TimelineEvent.objects.filter(incident_id=pk),
        page,
        TIMELINE_OLDEST_FIRST,
        events_json,
        lambda row: (row["occurred_at"], row["id"]),
    )


# The severity policy, so teams can keep it in code.


class ChangeSeverityPolicy(Body):
    """Any subset of the fields; key and rank cannot be changed. Lists replace the current ones. A
    new update_cadence_minutes re-plans every active incident of the severity: its next update falls
    due one new cadence after its last update (or its declaration or reopening), or never while the
    cadence is null."""

    name: text(_length(m.SeverityPolicy, "name")) = Field("", examples=["Critical"])
    description: text(_length(m.SeverityPolicy, "description")) = ""
    response_time_minutes: Count | None = Field(
        None,
        description=f"Target time to respond, 1 to {POLICY_MINUTES_MAX}; null means the next business day.",
    )
    response_time_label: text(_length(m.SeverityPolicy, "response_time_label")) = Field(
        "", description="As people say it.", examples=["Immediate (< 15 min)"]
    )
    mitigate_target_minutes: Count | None = Field(
        None, description=f"Target time from detection to mitigation, 1 to {POLICY_MINUTES_MAX}; null: no target."
    )
    resolve_target_minutes: Count | None = Field(
        None, description=f"Target time from detection to resolution, 1 to {POLICY_MINUTES_MAX}; null: no target."
    )
    update_cadence_minutes: Count | None = Field(
        None,
        description=f"Minutes between status updates, 1 to {POLICY_MINUTES_MAX}; null means as needed, "
        "with no reminders.",
    )
    escalate_responders_after_percent: Count | None = Field(
        None,
        description=f"Ladder step 2, 0 to {LADDER_PERCENT_MAX}: how far past due, as a percentage of the "
        "cadence, all responders and the webhook are told. At most escalate_contacts_after_percent.",
    )
    escalate_contacts_after_percent: Count | None = Field(
        None,
        description=f"Ladder step 3, 0 to {LADDER_PERCENT_MAX}: how far past due, as a percentage of the "
        "cadence, the escalation contacts are told.",
    )
    escalation_groups: GroupNames = Field([], description="Group names; their members are escalation contacts.")
    escalation_users: Usernames = Field([], description="Escalation contacts by username.")
    notified_groups: GroupNames = Field(
        [], description="Group names told when an incident of this severity is declared, raised or resolved."
    )
    stakeholders_label: text(_length(m.SeverityPolicy, "stakeholders_label")) = ""
    show_on_status_page: bool = False
    webhook_url: text(_length(m.SeverityPolicy, "webhook_url")) = Field(
        "",
        description="An http(s) URL where incidents of this severity post notices and reminders; empty for none. "
        "Write-only: it is answered masked, and sending the masked value back keeps the stored URL.",
    )
    webhook_format: Annotated[
        str,
        Field(json_schema_extra={"enum": WebhookFormat.values}),
        AfterValidator(storable),
        one_of(WebhookFormat.values, errors.UNKNOWN_WEBHOOK_FORMAT),
    ] = "json"


class SeverityPolicy(Answer):
    key: str = Field(examples=["SEV1"])
    name: str
    rank: int = Field(description="1 is the most severe.")
    description: str
    response_time_minutes: int | None
    response_time_label: str
    mitigate_target_minutes: int | None
    resolve_target_minutes: int | None
    update_cadence_minutes: int | None
    escalate_responders_after_percent: int
    escalate_contacts_after_percent: int
    escalation_groups: list[str]
    escalation_users: list[str]
    notified_groups: list[str]
    stakeholders_label: str
    show_on_status_page: bool
    webhook_url: str = Field(
        description="Masked (a webhook URL is a credential): the scheme and host only, e.g. "
        "https://hooks.slack.com/…/••••; empty when there is none.",
        examples=["https://hooks.slack.com/…/••••"],
    )
    webhook_format: Literal[tuple(WebhookFormat.values)]


class SeverityPolicyList(Answer):
    count: int
    results: list[SeverityPolicy] = Field(description="By rank, most severe first.")


def _policies() -> QuerySet[m.SeverityPolicy]:
    """Severity policies with everything their JSON shows, in a fixed number of queries."""
    return m.SeverityPolicy.objects.order_by("rank").prefetch_related(
        Prefetch("escalation_groups", queryset=Group.objects.order_by("name")),
        Prefetch("escalation_users", queryset=User.objects.order_by("username")),
        Prefetch("notified_groups", queryset=Group.objects.order_by("name")),
    )


def _policy_or_404(key: str, queryset: QuerySet[m.SeverityPolicy] | None = None) -> m.SeverityPolicy:
    queryset = m.SeverityPolicy.objects.all() if queryset is None else queryset
    # A NUL in the path would make PostgreSQL refuse the query itself.
    policy = None if "\x00" in key else queryset.filter(key=key).first()
    if policy is None:
        raise HttpError(404, errors.UNKNOWN_SEVERITY_POLICY)
    return policy


def policy_json(policy: m.SeverityPolicy) -> dict[str, Any]:
    return {
        "key": policy.key,
        "name": policy.name,
        "rank": policy.rank,
        "description": policy.description,
        "response_time_minutes": policy.response_time_minutes,
        "response_time_label": policy.response_time_label,
        "mitigate_target_minutes": policy.mitigate_target_minutes,
        "resolve_target_minutes": policy.resolve_target_minutes,
        "update_cadence_minutes": policy.update_cadence_minutes,
        "escalate_responders_after_percent": policy.escalate_responders_after_percent,
        "escalate_contacts_after_percent": policy.escalate_contacts_after_percent,
        "escalation_groups": [group.name for group in policy.escalation_groups.all()],
        "escalation_users": [user.get_username() for user in policy.escalation_users.all()],
        "notified_groups": [group.name for group in policy.notified_groups.all()],
        "stakeholders_label": policy.stakeholders_label,
        "show_on_status_page": policy.show_on_status_page,
        "webhook_url": url_masked(policy.webhook_url),
        "webhook_format": policy.webhook_format,
    }


def _policy_etag(policy: m.SeverityPolicy) -> str:
    """Over what a GET shows and the webhook URL itself, which it shows masked: replacing one
    hook URL with another on the same host changes the ETag too."""
    return etag_of({**policy_json(policy), "webhook_url": salted_hmac("policy-etag", policy.webhook_url).hexdigest()})


@router.get(
    "severity-policies/",
    response={200: SeverityPolicyList, 401: Error, 405: Error},
    operation_id="listSeverityPolicies",
    url_name="severity_policies",
)
def list_severity_policies(request: HttpRequest) -> dict[str, Any]:
    """The severity policy, most severe first."""
    # A handful of rows, so one page holds them all.
    policies = [policy_json(policy) for policy in _policies()]
    return {"count": len(policies), "results": policies}


@router.get(
    "severity-policies/{key}/",
    response={200: SeverityPolicy, **ERRORS},
    auth=policy_token,
    operation_id="getSeverityPolicy",
    url_name="severity_policy",
)
def get_severity_policy(request: HttpRequest, key: str, response: HttpResponse) -> dict[str, Any]:
    """One severity, with its ETag."""
    policy = _policy_or_404(key, _policies())
    response["ETag"] = _policy_etag(policy)
    return policy_json(policy)


@router.patch(
    "severity-policies/{key}/",
    response={200: SeverityPolicy, 400: InvalidInput, 412: SeverityPolicy, **ERRORS},
    auth=policy_token,
    operation_id="changeSeverityPolicy",
    url_name="severity_policy",
)
def change_severity_policy(
    request: HttpRequest,
    key: str,
    payload: ChangeSeverityPolicy,
    response: HttpResponse,
    if_match: str | None = IfMatch,
) -> Status:
    """Change response targets, update cadence, escalation ladder or who is told. Needs permission
    to change the severity policy (the admin role)."""
    pk = _policy_or_404(key).pk
    changes = _given(payload)
    with transaction.atomic():
        policy = m.SeverityPolicy.objects.select_for_update().get(pk=pk)
        current = _policies().get(pk=pk)
        response["ETag"] = _policy_etag(current)
        if is_stale(if_match, response["ETag"]):
            return Status(412, policy_json(current))
        if policy.webhook_url and changes.get("webhook_url") == url_masked(policy.webhook_url):
            del changes["webhook_url"]  # a GET's answer sent back: the stored URL stays
        severity_policy_update(policy=policy, actor=request.auth, **changes)
    changed = _policies().get(pk=pk)
    response["ETag"] = _policy_etag(changed)
    return Status(200, policy_json(changed))
