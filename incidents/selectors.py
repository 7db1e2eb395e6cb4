"""Reads that span relations. Each returns what a page needs in a fixed number of queries."""

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property

from django.db.models import Q, QuerySet
from django.http import Http404

from incidents import errors
from incidents.models import (
    ACTIVE_STATUSES,
    EventKind,
    Incident,
    IncidentStatus,
    SeverityPolicy,
    TimelineEvent,
    reference_to_pk,
)

RECENTLY_RESOLVED_LIMIT = 10
TIMELINE_PAGE = 50


def severity_policies() -> list[SeverityPolicy]:
    return list(SeverityPolicy.objects.order_by("rank"))


def active_incidents(*, severity_keys: Iterable[str] = (), statuses: Iterable[str] = ()) -> QuerySet[Incident]:
    """Active incidents, most severe first, then the longest running first."""
    wanted_statuses = [status for status in statuses if status in ACTIVE_STATUSES] or ACTIVE_STATUSES
    incidents = Incident.objects.filter(status__in=wanted_statuses)
    severity_keys = list(severity_keys)
    if severity_keys:
        incidents = incidents.filter(severity__key__in=severity_keys)
    return incidents.select_related("severity", "lead").order_by("severity__rank", "declared_at")


def recently_resolved(*, severity_keys: Iterable[str] = (), limit: int = RECENTLY_RESOLVED_LIMIT) -> list[Incident]:
    incidents = Incident.objects.filter(status=IncidentStatus.RESOLVED)
    severity_keys = list(severity_keys)
    if severity_keys:
        incidents = incidents.filter(severity__key__in=severity_keys)
    return list(incidents.select_related("severity", "lead").order_by("-resolved_at")[:limit])


def incident_get(*, reference: str) -> Incident:
    """The incident behind a reference such as INC-0042, with everything its page shows."""
    pk = reference_to_pk(reference)
    if pk is None:
        raise Http404(errors.UNKNOWN_INCIDENT)
    try:
        return (
            Incident.objects.select_related("severity", "lead", "comms_lead", "declared_by")
            .prefetch_related("affected_services", "responders")
            .get(pk=pk)
        )
    except Incident.DoesNotExist:
        raise Http404(errors.UNKNOWN_INCIDENT) from None


class TimelinePage:
    """A page of an incident's timeline. `stamps` — (id, starred) of each event, newest first — is
    all its rendering depends on (events are immutable but for the star), so a page can be served
    from a cache without loading its events; `events` loads them on first use."""

    def __init__(self, *, stamps: list[tuple[int, bool]], has_more: bool) -> None:
        self.stamps = stamps
        self.has_more = has_more

    @cached_property
    def events(self) -> list[TimelineEvent]:
        return list(
            TimelineEvent.objects.filter(pk__in=[pk for pk, _ in self.stamps])
            .select_related("actor", "status_update")
            .order_by("-occurred_at", "-id")
        )


def incident_timeline(
    *, incident: Incident, kinds: Iterable[str] = (), before: int | None = None, limit: int = TIMELINE_PAGE
) -> TimelinePage:
    """The newest events first, a page at a time; `before` is the id of the last event already
    shown. A filter by kind narrows it."""
    events = TimelineEvent.objects.filter(incident=incident)
    kinds = [kind for kind in kinds if kind in EventKind.values]
    if kinds:
        events = events.filter(kind__in=kinds)
    if before is not None:
        anchor = (
            TimelineEvent.objects.filter(incident=incident, pk=before).values_list("occurred_at", flat=True).first()
        )
        if anchor is not None:
            events = events.filter(Q(occurred_at__lt=anchor) | Q(occurred_at=anchor, pk__lt=before))
    stamps = list(events.order_by("-occurred_at", "-id").values_list("pk", "starred")[: limit + 1])
    return TimelinePage(stamps=stamps[:limit], has_more=len(stamps) > limit)


def incident_page_state(*, incident: Incident) -> str:
    """A short fingerprint of everything the incident's panels show of the incident itself: its
    fields, responders and affected services (as incident_get loads them). The page compares
    the one its live header brings every 15 s with the one it was drawn from (static/js/app.js)."""
    state = (
        [getattr(incident, field.attname) for field in Incident._meta.concrete_fields],
        sorted(user.pk for user in incident.responders.all()),
        sorted(service.pk for service in incident.affected_services.all()),
    )
    return hashlib.sha256(repr(state).encode()).hexdigest()[:16]


def _responder_ids(incident: Incident) -> list[int]:
    return sorted(incident.responders.values_list("pk", flat=True))


def _impact_state(incident: Incident) -> tuple:
    return (
        incident.title,
        incident.summary,
        incident.affected_users_count,
        None if incident.affected_users_percent is None else str(incident.affected_users_percent),
        sorted(incident.affected_services.values_list("pk", flat=True)),
        incident.business_impact,
        incident.data_integrity_concern,
        incident.security_concern,
    )


# The incident forms whose fields start from the incident's state: what that state is, and the
# timeline kinds that change it. A form carries a fingerprint of the state its page showed, so a
# change someone made meanwhile is caught before the form overwrites it.
FORM_STATES: dict[str, tuple] = {
    "severity": (lambda incident: (incident.severity_id,), (EventKind.SEVERITY_CHANGED,)),
    "status": (lambda incident: (incident.status,), (EventKind.STATUS_CHANGED,)),
    "update": (lambda incident: (incident.status,), (EventKind.STATUS_CHANGED,)),
    "roles": (
        lambda incident: (incident.lead_id, incident.comms_lead_id, _responder_ids(incident)),
        (EventKind.ROLE_ASSIGNED,),
    ),
    "impact": (_impact_state, (EventKind.IMPACT_CHANGED,)),
    "snooze": (
        lambda incident: (incident.next_update_due_at and incident.next_update_due_at.isoformat(),),
        (EventKind.UPDATE_SNOOZED, EventKind.STATUS_UPDATE, EventKind.SEVERITY_CHANGED, EventKind.STATUS_CHANGED),
    ),
}


def incident_form_state(*, incident: Incident, form: str) -> str:
    """A short fingerprint of what the incident form `form` starts from."""
    state, _kinds = FORM_STATES[form]
    return hashlib.sha256(repr(state(incident)).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class UnseenChange:
    """What a form's page did not show: the newest timeline event that changed it, if any."""

    event: TimelineEvent | None


def incident_change_unseen(*, incident: Incident, form: str, seen: str) -> UnseenChange | None:
    """Whether what `form` starts from changed since a page showed it as `seen`. Called in a
    transaction: the incident's row stays locked until the form's change commits, so no change
    can slip in between this check and that one."""
    locked = Incident.objects.select_for_update().get(pk=incident.pk)
    if incident_form_state(incident=locked, form=form) == seen:
        return None
    _state, kinds = FORM_STATES[form]
    # Newest first along the incident's timeline index; these kinds are never backdated.
    event = (
        TimelineEvent.objects.filter(incident=locked, kind__in=kinds)
        .select_related("actor")
        .order_by("-occurred_at", "-id")
        .first()
    )
    return UnseenChange(event)
