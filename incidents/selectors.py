"""Reads that span relations. Each returns what a page needs in a fixed number of queries."""

from collections.abc import Iterable
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
