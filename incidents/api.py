"""The JSON API for alert tools and scripts: bearer tokens in, JSON out, every write through
incidents.services. incidents/openapi.py describes the contract and serves it; keep the two in
step."""

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.core.exceptions import NON_FIELD_ERRORS, RequestDataTooBig, ValidationError
from django.db import transaction
from django.db.models import Prefetch, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, JsonResponse
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from core.permissions import can_respond
from incidents import errors, services
from incidents.models import (
    ACTIVE_STATUSES,
    ApiToken,
    Incident,
    IncidentStatus,
    Service,
    SeverityPolicy,
    StatusUpdate,
    TimelineEvent,
    UpdateVisibility,
    reference_to_pk,
)
from incidents.policy import LADDER_FIELDS, POLICY_FIELDS, POLICY_TEXT_FIELDS, severity_policy_update
from notifications.models import WebhookFormat

PAGE_SIZE = 50
MAX_PAGE_SIZE = 100
# Recording every request would turn each read into a write; a minute is precise enough to
# tell an idle token from a busy one.
LAST_USED_RESOLUTION = timedelta(minutes=1)
# PositiveIntegerField's upper bound on every database we support; a larger number would reach
# the database and fail there instead of answering 400.
MAX_COUNT = 2_147_483_647
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}

DECLARE_FIELDS = {
    "title",
    "severity",
    "summary",
    "detected_at",
    "lead",
    "comms_lead",
    "responders",
    "affected_services",
    "affected_users_count",
    "affected_users_percent",
    "business_impact",
    "data_integrity_concern",
    "security_concern",
}
IMPACT_TEXT_FIELDS = ("title", "summary", "business_impact")
IMPACT_FLAG_FIELDS = ("data_integrity_concern", "security_concern")
CHANGE_FIELDS = (DECLARE_FIELDS - {"detected_at"}) | {"status"}
UPDATE_FIELDS = {"progress", "status", "next_steps", "eta", "visibility"}
# Every field but key and rank: the key is how people and tools name a severity, and the rank
# orders every dashboard.
POLICY_MINUTES_FIELDS = ("response_time_minutes", "update_cadence_minutes")
POLICY_GROUP_FIELDS = ("escalation_groups", "notified_groups")
CHANGE_POLICY_PERMISSION = "incidents.change_severitypolicy"


class InvalidInput(Exception):
    """Field-by-field messages for a 400."""

    def __init__(self, messages: dict[str, list[str]]) -> None:
        super().__init__(messages)
        self.messages = messages


class UnknownIncident(Exception):
    pass


class UnknownSeverityPolicy(Exception):
    pass


def _error(message: str, *, status: int, headers: dict[str, str] | None = None) -> JsonResponse:
    return JsonResponse({"error": message}, status=status, headers=headers)


def _moment(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _username(user: User | None) -> str | None:
    return None if user is None else user.get_username()


# Authentication and the shape every view shares.


def _token_user(request: HttpRequest) -> User | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    try:
        api_token = ApiToken.objects.select_related("user").get(digest=ApiToken.digest_of(token))
    except ApiToken.DoesNotExist:
        return None
    if not api_token.user.is_active:
        return None
    now = timezone.now()
    if api_token.last_used_at is None or now - api_token.last_used_at >= LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=api_token.pk).update(last_used_at=now)
    return api_token.user


def _validation_messages(error: ValidationError) -> dict[str, list[str]]:
    if hasattr(error, "error_dict"):
        return error.message_dict
    return {NON_FIELD_ERRORS: error.messages}


def json_methods(*methods: str) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """require_http_methods, with its 405 answered in JSON like every other API error. Tokens,
    not cookies, authenticate the API, so it needs no CSRF protection and no caching."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        guarded = require_http_methods(list(methods))(view)

        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            response = guarded(request, *args, **kwargs)
            if isinstance(response, HttpResponseNotAllowed):
                allowed = response["Allow"]
                message = errors.METHOD_NOT_ALLOWED.format(allowed=allowed)
                return _error(message, status=405, headers={"Allow": allowed})
            return response

        return csrf_exempt(never_cache(wrapper))

    return decorator


def _can_change_policy(user: User) -> bool:
    return user.has_perm(CHANGE_POLICY_PERMISSION)


def _token_auth(
    *, may_write: Callable[[User], bool], refusal: str
) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """Authenticate the bearer token; unsafe methods also need `may_write`, else 403 `refusal`.

    Only the token counts: a browser's session cookie is ignored, which is what makes exempting
    the API from CSRF safe."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            user = _token_user(request)
            if user is None:
                return _error(errors.INVALID_TOKEN, status=401, headers={"WWW-Authenticate": "Bearer"})
            request.user = user
            if request.method not in SAFE_METHODS and not may_write(user):
                return _error(refusal, status=403)
            try:
                return view(request, *args, **kwargs)
            except InvalidInput as invalid:
                return JsonResponse({"errors": invalid.messages}, status=400)
            except ValidationError as invalid:
                return JsonResponse({"errors": _validation_messages(invalid)}, status=400)
            except UnknownIncident:
                return _error(errors.UNKNOWN_INCIDENT, status=404)
            except UnknownSeverityPolicy:
                return _error(errors.UNKNOWN_SEVERITY_POLICY, status=404)

        return wrapper

    return decorator


# Anyone with a token reads; responders and admins change incidents; only those who may change
# the severity policy (admins) change it.
token_required = _token_auth(may_write=can_respond, refusal=errors.NOT_PERMITTED)
policy_token_required = _token_auth(may_write=_can_change_policy, refusal=errors.POLICY_NOT_PERMITTED)


# Reading request bodies and query strings.


def _json_object(request: HttpRequest) -> dict[str, Any]:
    try:
        data = json.loads(request.body)
    except RequestDataTooBig:
        raise InvalidInput({NON_FIELD_ERRORS: [errors.BODY_TOO_LARGE]}) from None
    except (ValueError, RecursionError):
        # ValueError covers bad JSON, bad UTF-8 and numbers too long to convert; RecursionError
        # a hostile depth of nesting.
        raise InvalidInput({NON_FIELD_ERRORS: [errors.MALFORMED_JSON]}) from None
    if not isinstance(data, dict):
        raise InvalidInput({NON_FIELD_ERRORS: [errors.BODY_NOT_OBJECT]})
    return data


def _storable(text: str) -> bool:
    """PostgreSQL refuses NUL in text and no database driver encodes a lone surrogate."""
    if "\x00" in text:
        return False
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


class Payload:
    """A JSON object read field by field. Every problem is collected, then answered at once."""

    def __init__(self, data: dict[str, Any], *, allowed: set[str]) -> None:
        self.data = data
        self.messages: dict[str, list[str]] = {}
        for field in data:
            if field not in allowed:
                self.refuse(field, errors.UNKNOWN_FIELD)

    def __contains__(self, field: str) -> bool:
        return field in self.data

    def refuse(self, field: str, message: str) -> None:
        self.messages.setdefault(field, []).append(message)

    def require(self, *fields: str) -> None:
        for field in fields:
            if field not in self.data:
                self.refuse(field, errors.FIELD_REQUIRED)

    def check(self) -> None:
        if self.messages:
            raise InvalidInput(self.messages)

    def text(self, field: str, *, max_length: int | None = None) -> str:
        value = self.data[field]
        if not isinstance(value, str):
            self.refuse(field, errors.NOT_A_STRING)
            return ""
        if not _storable(value):
            self.refuse(field, errors.INVALID_CHARACTERS)
        elif max_length is not None and len(value.strip()) > max_length:
            self.refuse(field, errors.TOO_LONG.format(limit=max_length))
        return value

    def texts(self, field: str) -> list[str]:
        value = self.data[field]
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            self.refuse(field, errors.NOT_A_LIST)
            return []
        if not all(_storable(item) for item in value):
            self.refuse(field, errors.INVALID_CHARACTERS)
            return []
        return list(dict.fromkeys(value))

    def flag(self, field: str) -> bool:
        value = self.data[field]
        if not isinstance(value, bool):
            self.refuse(field, errors.NOT_A_BOOLEAN)
            return False
        return value

    def count(self, field: str) -> int | None:
        value = self.data[field]
        if value is None:
            return None
        # bool is an int in Python, but true is not a number of users.
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_COUNT:
            self.refuse(field, errors.NOT_AN_INTEGER.format(low=0, high=MAX_COUNT))
            return None
        return value

    def percent(self, field: str) -> Decimal | None:
        value = self.data[field]
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            self.refuse(field, errors.NOT_A_PERCENT)
            return None
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            number = Decimal("NaN")
        if not number.is_finite() or number.as_tuple().exponent < -2:
            self.refuse(field, errors.NOT_A_PERCENT)
            return None
        # copy_abs turns -0 into 0 without the context arithmetic that overflows on 1e9999999;
        # the range itself is the service's rule.
        return number.copy_abs() if number.is_zero() else number

    def moment(self, field: str) -> datetime | None:
        value = self.data[field]
        if value is None:
            return None
        try:
            parsed = datetime.fromisoformat(value) if isinstance(value, str) else None
            if parsed is None or parsed.tzinfo is None:
                raise ValueError(value)
            return parsed.astimezone(UTC)
        except (ValueError, OverflowError):
            self.refuse(field, errors.BAD_DATETIME)
            return None

    def severity(self, field: str = "severity") -> SeverityPolicy | None:
        key = self.text(field)
        policies = {policy.key: policy for policy in SeverityPolicy.objects.order_by("rank")}
        if field not in self.messages and key not in policies:
            self.refuse(field, errors.UNKNOWN_SEVERITY.format(keys=", ".join(policies)))
        return policies.get(key)

    def choice(self, field: str, choices: list[str], message: str) -> str:
        value = self.text(field)
        if field not in self.messages and value not in choices:
            self.refuse(field, message.format(values=", ".join(choices)))
        return value

    def _users(self, field: str, names: list[str]) -> list[User]:
        found = {user.username: user for user in User.objects.filter(username__in=names, is_active=True)}
        missing = [name for name in names if name not in found]
        if missing:
            self.refuse(field, errors.UNKNOWN_USERS.format(names=", ".join(missing)))
        return [found[name] for name in names if name in found]

    def people(self, field: str) -> list[User]:
        return self._users(field, self.texts(field))

    def person(self, field: str) -> User | None:
        """A username, or None when the field is null."""
        if self.data[field] is None:
            return None
        name = self.text(field)
        if field in self.messages:
            return None
        people = self._users(field, [name])
        return people[0] if people else None

    def groups(self, field: str) -> list[Group]:
        names = self.texts(field)
        found = {group.name: group for group in Group.objects.filter(name__in=names)}
        missing = [name for name in names if name not in found]
        if missing:
            self.refuse(field, errors.UNKNOWN_GROUPS.format(names=", ".join(missing)))
        return [found[name] for name in names if name in found]

    def services(self, field: str = "affected_services") -> list[Service]:
        slugs = self.texts(field)
        found = {service.slug: service for service in Service.objects.filter(slug__in=slugs)}
        missing = [slug for slug in slugs if slug not in found]
        if missing:
            self.refuse(field, errors.UNKNOWN_SERVICES.format(slugs=", ".join(missing)))
        return [found[slug] for slug in slugs if slug in found]


def _page_bounds(request: HttpRequest) -> tuple[int, int]:
    messages: dict[str, list[str]] = {}
    limit = offset = 0
    try:
        limit = min(int(request.GET.get("limit", PAGE_SIZE)), MAX_PAGE_SIZE)
        if limit < 1:
            raise ValueError(limit)
    except ValueError:
        messages["limit"] = [errors.BAD_LIMIT.format(high=MAX_PAGE_SIZE)]
    try:
        offset = int(request.GET.get("offset", 0))
        if offset < 0:
            raise ValueError(offset)
    except ValueError:
        messages["offset"] = [errors.BAD_OFFSET]
    if messages:
        raise InvalidInput(messages)
    return limit, offset


def _page(request: HttpRequest, rows: QuerySet, to_json: Callable[[Any], dict[str, Any]]) -> JsonResponse:
    limit, offset = _page_bounds(request)
    count = rows.count()
    # An offset past the end never reaches the database, where a huge one would overflow.
    page = list(rows[offset : offset + limit]) if offset < count else []
    return JsonResponse({"count": count, "results": [to_json(row) for row in page]})


# Reads.


def _incidents() -> QuerySet[Incident]:
    """Incidents with everything their JSON shows, in a fixed number of queries."""
    return Incident.objects.select_related("severity", "lead", "comms_lead").prefetch_related(
        Prefetch("responders", queryset=User.objects.order_by("username")),
        Prefetch("affected_services", queryset=Service.objects.order_by("slug")),
    )


def _incident_pk(reference: str) -> int:
    try:
        pk = reference_to_pk(reference)
    except ValueError:
        # str.isdigit() accepts characters int() cannot read, such as '²'.
        pk = None
    if pk is None:
        raise UnknownIncident(reference)
    return pk


def _incident_or_404(reference: str, queryset: QuerySet[Incident] | None = None) -> Incident:
    queryset = Incident.objects.all() if queryset is None else queryset
    try:
        return queryset.get(pk=_incident_pk(reference))
    except Incident.DoesNotExist:
        raise UnknownIncident(reference) from None


def _incident_json(incident: Incident) -> dict[str, Any]:
    percent = incident.affected_users_percent
    return {
        "reference": incident.reference,
        "url": settings.SITE_URL + incident.get_absolute_url(),
        "title": incident.title,
        "summary": incident.summary,
        "severity": incident.severity.key,
        "status": incident.status,
        "impact": {
            "affected_users_count": incident.affected_users_count,
            "affected_users_percent": None if percent is None else str(percent),
            "affected_services": [service.slug for service in incident.affected_services.all()],
            "business_impact": incident.business_impact,
            "data_integrity_concern": incident.data_integrity_concern,
            "security_concern": incident.security_concern,
        },
        "lead": _username(incident.lead),
        "comms_lead": _username(incident.comms_lead),
        "responders": [user.get_username() for user in incident.responders.all()],
        "detected_at": _moment(incident.detected_at),
        "declared_at": _moment(incident.declared_at),
        "acknowledged_at": _moment(incident.acknowledged_at),
        "mitigated_at": _moment(incident.mitigated_at),
        "resolved_at": _moment(incident.resolved_at),
        "next_update_due_at": _moment(incident.next_update_due_at),
        "last_update_at": _moment(incident.last_update_at),
    }


def _update_json(update: StatusUpdate) -> dict[str, Any]:
    return {
        "id": update.pk,
        "incident": update.incident.reference,
        "author": _username(update.author),
        "posted_at": _moment(update.posted_at),
        "status": update.status,
        "progress": update.progress,
        "next_steps": update.next_steps,
        "eta": update.eta,
        "visibility": update.visibility,
    }


def _event_json(event: TimelineEvent) -> dict[str, Any]:
    return {
        "id": event.pk,
        "kind": event.kind,
        "text": event.text,
        "body": event.body,
        "actor": _username(event.actor),
        "occurred_at": _moment(event.occurred_at),
        "recorded_at": _moment(event.recorded_at),
        "starred": event.starred,
        "data": event.data,
    }


def _incident_response(pk: int, *, status: int = 200) -> JsonResponse:
    # Read back from the database so a write answers exactly what a later GET will.
    incident = _incidents().get(pk=pk)
    return JsonResponse(_incident_json(incident), status=status)


# Views.


@json_methods("GET", "POST")
@token_required
def incidents(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        return _incident_declare(request)
    return _incident_list(request)


def _incident_list(request: HttpRequest) -> JsonResponse:
    rows = _incidents().order_by("-declared_at", "-pk")
    messages: dict[str, list[str]] = {}
    status = request.GET.get("status")
    if status == "active":
        rows = rows.filter(status__in=ACTIVE_STATUSES)
    elif status in IncidentStatus.values:
        rows = rows.filter(status=status)
    elif status is not None:
        messages["status"] = [errors.UNKNOWN_LIST_STATUS.format(values=", ".join(IncidentStatus.values))]
    severity = request.GET.get("severity")
    if severity is not None:
        keys = list(SeverityPolicy.objects.order_by("rank").values_list("key", flat=True))
        if severity in keys:
            rows = rows.filter(severity__key=severity)
        else:
            messages["severity"] = [errors.UNKNOWN_SEVERITY.format(keys=", ".join(keys))]
    if messages:
        raise InvalidInput(messages)
    return _page(request, rows, _incident_json)


def _impact(payload: Payload) -> dict[str, Any]:
    """The title, summary and impact fields present in the payload, as incident_declare and
    incident_impact_update take them."""
    values: dict[str, Any] = {}
    for field in IMPACT_TEXT_FIELDS:
        if field in payload:
            values[field] = payload.text(field, max_length=Incident._meta.get_field(field).max_length)
    if "affected_users_count" in payload:
        values["affected_users_count"] = payload.count("affected_users_count")
    if "affected_users_percent" in payload:
        values["affected_users_percent"] = payload.percent("affected_users_percent")
    for field in IMPACT_FLAG_FIELDS:
        if field in payload:
            values[field] = payload.flag(field)
    if "affected_services" in payload:
        values["affected_services"] = payload.services()
    return values


def _incident_declare(request: HttpRequest) -> JsonResponse:
    payload = Payload(_json_object(request), allowed=DECLARE_FIELDS)
    payload.require("title", "severity")
    values = _impact(payload)
    if "severity" in payload:
        values["severity"] = payload.severity()
    if "detected_at" in payload:
        values["detected_at"] = payload.moment("detected_at")
    for field in ("lead", "comms_lead"):
        if field in payload:
            # null means the default: the declarer leads, nobody handles comms.
            values[field] = payload.person(field)
    if "responders" in payload:
        values["responders"] = payload.people("responders")
    payload.check()
    incident = services.incident_declare(declared_by=request.user, **values)
    location = settings.SITE_URL + reverse("api:incident", kwargs={"reference": incident.reference})
    response = _incident_response(incident.pk, status=201)
    response["Location"] = location
    return response


@json_methods("GET", "PATCH")
@token_required
def incident(request: HttpRequest, reference: str) -> HttpResponse:
    if request.method == "PATCH":
        return _incident_change(request, reference)
    return JsonResponse(_incident_json(_incident_or_404(reference, _incidents())))


def _incident_change(request: HttpRequest, reference: str) -> JsonResponse:
    pk = _incident_or_404(reference).pk
    payload = Payload(_json_object(request), allowed=CHANGE_FIELDS)
    severity = payload.severity() if "severity" in payload else None
    status = None
    if "status" in payload:
        status = payload.choice("status", IncidentStatus.values, errors.UNKNOWN_STATUS)
    roles: dict[str, Any] = {}
    if "lead" in payload:
        roles["lead"] = payload.person("lead")
        if payload.data["lead"] is None:
            payload.refuse("lead", errors.LEAD_REQUIRED)
    if "comms_lead" in payload:
        roles["comms_lead"] = payload.person("comms_lead")
        roles["clear_comms_lead"] = roles["comms_lead"] is None
    if "responders" in payload:
        roles["responders"] = payload.people("responders")
    impact = _impact(payload)
    payload.check()

    # One transaction, so a refusal by any service undoes the changes made before it. Severity
    # goes before status: a reopened incident then owes its first update one cadence of the new
    # severity from now, rather than a cadence counted from an update posted before it resolved.
    with transaction.atomic():
        # Locked before comparing, so "already this value" is judged on what the services see.
        incident = Incident.objects.select_for_update().get(pk=pk)
        if severity is not None and severity.pk != incident.severity_id:
            incident = services.incident_severity_change(incident=incident, severity=severity, actor=request.user)
        if status is not None and status != incident.status:
            incident = services.incident_status_change(incident=incident, status=status, actor=request.user)
        if roles:
            incident = services.incident_roles_assign(incident=incident, actor=request.user, **roles)
        if impact:
            services.incident_impact_update(incident=incident, actor=request.user, **impact)
    return _incident_response(pk)


@json_methods("POST")
@token_required
def incident_updates(request: HttpRequest, reference: str) -> HttpResponse:
    incident = _incident_or_404(reference)
    payload = Payload(_json_object(request), allowed=UPDATE_FIELDS)
    payload.require("progress")
    values: dict[str, Any] = {}
    if "progress" in payload:
        values["progress"] = payload.text("progress")
    if "next_steps" in payload:
        values["next_steps"] = payload.text("next_steps")
    if "eta" in payload:
        values["eta"] = payload.text("eta", max_length=StatusUpdate._meta.get_field("eta").max_length)
    if "status" in payload:
        values["status"] = payload.choice("status", IncidentStatus.values, errors.UNKNOWN_STATUS)
    if "visibility" in payload:
        values["visibility"] = payload.choice("visibility", UpdateVisibility.values, errors.UNKNOWN_VISIBILITY)
    payload.check()
    update = services.incident_update_post(incident=incident, author=request.user, **values)
    update = StatusUpdate.objects.select_related("incident", "author").get(pk=update.pk)
    return JsonResponse(_update_json(update), status=201)


@json_methods("GET")
@token_required
def incident_timeline(request: HttpRequest, reference: str) -> HttpResponse:
    incident = _incident_or_404(reference)
    events = incident.timeline.select_related("actor").order_by("occurred_at", "id")
    return _page(request, events, _event_json)


# The severity policy, so teams can keep it in code.


def _policies() -> QuerySet[SeverityPolicy]:
    """Severity policies with everything their JSON shows, in a fixed number of queries."""
    return SeverityPolicy.objects.order_by("rank").prefetch_related(
        Prefetch("escalation_groups", queryset=Group.objects.order_by("name")),
        Prefetch("escalation_users", queryset=User.objects.order_by("username")),
        Prefetch("notified_groups", queryset=Group.objects.order_by("name")),
    )


def _policy_or_404(key: str, queryset: QuerySet[SeverityPolicy] | None = None) -> SeverityPolicy:
    queryset = SeverityPolicy.objects.all() if queryset is None else queryset
    # A NUL in the path would make PostgreSQL refuse the query itself.
    if not _storable(key):
        raise UnknownSeverityPolicy(key)
    try:
        return queryset.get(key=key)
    except SeverityPolicy.DoesNotExist:
        raise UnknownSeverityPolicy(key) from None


def _policy_json(policy: SeverityPolicy) -> dict[str, Any]:
    return {
        "key": policy.key,
        "name": policy.name,
        "rank": policy.rank,
        "description": policy.description,
        "response_time_minutes": policy.response_time_minutes,
        "response_time_label": policy.response_time_label,
        "update_cadence_minutes": policy.update_cadence_minutes,
        "escalate_responders_after_percent": policy.escalate_responders_after_percent,
        "escalate_contacts_after_percent": policy.escalate_contacts_after_percent,
        "escalation_groups": [group.name for group in policy.escalation_groups.all()],
        "escalation_users": [user.get_username() for user in policy.escalation_users.all()],
        "notified_groups": [group.name for group in policy.notified_groups.all()],
        "stakeholders_label": policy.stakeholders_label,
        "show_on_status_page": policy.show_on_status_page,
        "webhook_url": policy.webhook_url,
        "webhook_format": policy.webhook_format,
    }


@json_methods("GET")
@token_required
def severity_policies(request: HttpRequest) -> HttpResponse:
    # A handful of rows, so one page holds them all.
    policies = [_policy_json(policy) for policy in _policies()]
    return JsonResponse({"count": len(policies), "results": policies})


@json_methods("GET", "PATCH")
@policy_token_required
def severity_policy(request: HttpRequest, key: str) -> HttpResponse:
    if request.method == "PATCH":
        return _policy_change(request, key)
    return JsonResponse(_policy_json(_policy_or_404(key, _policies())))


def _policy_change(request: HttpRequest, key: str) -> JsonResponse:
    policy = _policy_or_404(key)
    payload = Payload(_json_object(request), allowed=POLICY_FIELDS)
    changes: dict[str, Any] = {}
    for field in POLICY_TEXT_FIELDS:
        if field in payload:
            changes[field] = payload.text(field, max_length=SeverityPolicy._meta.get_field(field).max_length)
    # Whole numbers here; their ranges, and the order of the ladder, are the service's rules.
    for field in (*POLICY_MINUTES_FIELDS, *LADDER_FIELDS):
        if field in payload:
            changes[field] = payload.count(field)
    for field in POLICY_GROUP_FIELDS:
        if field in payload:
            changes[field] = payload.groups(field)
    if "escalation_users" in payload:
        changes["escalation_users"] = payload.people("escalation_users")
    if "show_on_status_page" in payload:
        changes["show_on_status_page"] = payload.flag("show_on_status_page")
    if "webhook_format" in payload:
        changes["webhook_format"] = payload.choice(
            "webhook_format", WebhookFormat.values, errors.UNKNOWN_WEBHOOK_FORMAT
        )
    payload.check()
    severity_policy_update(policy=policy, actor=request.user, **changes)
    return JsonResponse(_policy_json(_policy_or_404(key, _policies())))
