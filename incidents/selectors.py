"""Reads that span relations. Each returns what a page needs in a fixed number of queries."""

import hashlib
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from functools import cached_property
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, Group
from django.db.models import Count, Exists, Func, IntegerField, Model, Q, QuerySet, Subquery
from django.http import Http404
from django.utils import timezone

from core.formatting import humanize_delta
from core.permissions import SECURITY_GROUP
from incidents import errors
from incidents.models import (
    ACTIVE_STATUSES,
    KEY_EVENTS,
    DraftState,
    DueOutcome,
    EventKind,
    Incident,
    IncidentStatus,
    SeverityPolicy,
    TimelineEvent,
    UpdateDraft,
    UpdateDue,
    reference_to_pk,
)

RECENTLY_RESOLVED_LIMIT = 10
TIMELINE_PAGE = 50
KEY_EVENTS_SHOWN = 10


def visible_incidents(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Incident]:
    """The incidents `user` may know of: every read of incidents starts here. A restricted
    incident exists only for its participants (who declared it, lead, comms lead, responders,
    people added) and the security group. Lazy and without a query of its own: the filter joins the query it
    starts."""
    if user.is_authenticated and user.is_active and user.is_superuser:
        return Incident.objects.all()
    if not user.is_authenticated:
        return Incident.objects.filter(restricted=False)
    return Incident.objects.filter(Q(restricted=False) | _sees_restricted(user))


def _sees_restricted(user: AbstractBaseUser) -> Q:
    """Which restricted incidents a signed-in user who is not a superuser sees."""
    responding = Incident.responders.through.objects.filter(user_id=user.pk).values("incident_id")
    added = Incident.participants.through.objects.filter(user_id=user.pk).values("incident_id")
    security = Group.objects.filter(name=SECURITY_GROUP, user=user.pk)
    return (
        Q(declared_by_id=user.pk)
        | Q(lead_id=user.pk)
        | Q(comms_lead_id=user.pk)
        | Q(pk__in=Subquery(responding))
        | Q(pk__in=Subquery(added))
        | Q(Exists(security))
    )


def visible_count(user: AbstractBaseUser | AnonymousUser, incidents: QuerySet[Incident]) -> int:
    """How many of `incidents` (filtered, but not yet by visibility) `user` may see, in one query.
    Counted as all of them less the restricted ones hidden from the user: PostgreSQL counts the
    first from an index alone and finds the few restricted ones through their partial index,
    where testing every incident against the visibility condition reads and tests each row
    (at 10,000 incidents about 1 ms against 3 ms)."""
    if user.is_authenticated and user.is_active and user.is_superuser:
        return incidents.count()
    hidden = incidents.filter(restricted=True).order_by()
    if user.is_authenticated:
        hidden = hidden.exclude(_sees_restricted(user))
    # COUNT as a plain function (not an aggregate) keeps the subquery a single row, ungrouped.
    hidden_count = Subquery(hidden.values(n=Func("pk", function="COUNT")), output_field=IntegerField())
    return incidents.order_by().aggregate(visible=Count("pk") - hidden_count)["visible"]


def visibility_key(user: AbstractBaseUser | AnonymousUser) -> Hashable:
    """What a cached page listing incidents is kept under for this reader: the same for everyone
    who sees the same restricted incidents. One query."""
    if user.is_authenticated and user.is_superuser:
        return "all"
    return tuple(visible_incidents(user).filter(restricted=True).order_by("pk").values_list("pk", flat=True))


def incident_visible(*, reference: str, user: AbstractBaseUser | AnonymousUser) -> int:
    """The pk behind a reference the user may see; 404 otherwise, exactly as for no incident. The
    same query tells whether the user is in the security group, remembered on the user object as
    core.permissions.sees_restricted remembers it, so the cached incident page's variant (who may
    restrict) costs no query of its own."""
    pk = reference_to_pk(reference)
    if pk is None:
        raise Http404(errors.UNKNOWN_INCIDENT)
    if user.is_authenticated and user.is_active and not user.is_superuser:
        security = Group.objects.filter(name=SECURITY_GROUP, user=user.pk)
        row = (
            visible_incidents(user)
            .filter(pk=pk)
            .annotate(security=Exists(security))
            .values_list("pk", "security")
            .first()
        )
        if row is not None:
            user._sees_restricted = row[1]
    else:
        row = visible_incidents(user).filter(pk=pk).values_list("pk").first()
    if row is None:
        raise Http404(errors.UNKNOWN_INCIDENT)
    return pk


def severity_policies() -> list[SeverityPolicy]:
    return list(SeverityPolicy.objects.order_by("rank"))


def active_incidents(
    *, user: AbstractBaseUser | AnonymousUser, severity_keys: Iterable[str] = (), statuses: Iterable[str] = ()
) -> QuerySet[Incident]:
    """Active incidents the user may see, most severe first, then the longest running first."""
    wanted_statuses = [status for status in statuses if status in ACTIVE_STATUSES] or ACTIVE_STATUSES
    incidents = visible_incidents(user).filter(status__in=wanted_statuses)
    severity_keys = list(severity_keys)
    if severity_keys:
        incidents = incidents.filter(severity__key__in=severity_keys)
    return incidents.select_related("severity", "lead").order_by("severity__rank", "declared_at")


def recently_resolved(
    *, user: AbstractBaseUser | AnonymousUser, severity_keys: Iterable[str] = (), limit: int = RECENTLY_RESOLVED_LIMIT
) -> list[Incident]:
    incidents = visible_incidents(user).filter(status=IncidentStatus.RESOLVED)
    severity_keys = list(severity_keys)
    if severity_keys:
        incidents = incidents.filter(severity__key__in=severity_keys)
    return list(incidents.select_related("severity", "lead").order_by("-resolved_at")[:limit])


def incident_get(*, reference: str, user: AbstractBaseUser | AnonymousUser) -> Incident:
    """The incident behind a reference such as INC-0042, with everything its page shows; 404 when
    there is none or the user may not see it."""
    pk = reference_to_pk(reference)
    if pk is None:
        raise Http404(errors.UNKNOWN_INCIDENT)
    try:
        return (
            visible_incidents(user)
            .select_related("severity", "lead", "comms_lead", "declared_by")
            .prefetch_related("affected_services", "responders", "participants")
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


def incident_key_events(*, incident: Incident, limit: int = KEY_EVENTS_SHOWN) -> list[TimelineEvent]:
    """The newest key events (models.KEY_EVENTS), through their partial index: as quick on a
    26,000-event incident as on a new one."""
    return list(
        TimelineEvent.objects.filter(KEY_EVENTS, incident=incident).select_related("actor").order_by(
            "-occurred_at", "-id"
        )[:limit]
    )


def update_drafts_pending(*, incident: Incident) -> list[UpdateDraft]:
    """The incident's public updates waiting for approval, oldest first (one query)."""
    return list(
        UpdateDraft.objects.filter(incident=incident, state=DraftState.PENDING)
        .select_related("drafted_by")
        .order_by("drafted_at", "id")
    )


def update_draft_get(*, incident: Incident, pk: int) -> UpdateDraft:
    """A draft of an incident the reader may see (the caller got the incident through
    incident_get); 404 for any other."""
    draft = UpdateDraft.objects.filter(incident=incident, pk=pk).select_related("incident").first()
    if draft is None:
        raise Http404(errors.UNKNOWN_DRAFT)
    return draft


def incident_page_state(*, incident: Incident, drafts: Iterable[UpdateDraft] = ()) -> str:
    """A short fingerprint of everything the incident's panels show of the incident itself: its
    fields, responders, affected services (as incident_get loads them) and pending drafts. The page
    compares the one its live header brings every 15 s with the one it was drawn from
    (static/js/app.js), so a draft someone posts shows on the comms lead's open page."""
    state = (
        # Generated columns only repeat other fields (and an instance keeps their old values
        # after save(), where a fresh read has the new ones).
        [getattr(incident, field.attname) for field in Incident._meta.concrete_fields if not field.generated],
        sorted(user.pk for user in incident.responders.all()),
        sorted(service.pk for service in incident.affected_services.all()),
        sorted(draft.pk for draft in drafts),
    )
    return hashlib.sha256(repr(state).encode()).hexdigest()[:16]


def comparable(value: Any) -> Any:
    """A form's or a model's value as a form's preset keeps it (JSON, in the page): a related
    object as its key, several as their sorted keys, a decimal without trailing zeros, text with
    the line ends a browser sends turned back into the ones the incident stores."""
    if isinstance(value, Model):
        return value.pk
    if isinstance(value, QuerySet | list | tuple):
        return sorted(comparable(item) for item in value)
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, str):
        return value.replace("\r\n", "\n")
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _impact_presets(incident: Incident) -> dict[str, Any]:
    return {
        "title": incident.title,
        "summary": incident.summary,
        "public_title": incident.public_title,
        "public_summary": incident.public_summary,
        "affected_users_count": incident.affected_users_count,
        "affected_users_percent": incident.affected_users_percent,
        "affected_services": list(incident.affected_services.all()),
        "business_impact": incident.business_impact,
        "data_integrity_concern": incident.data_integrity_concern,
        "security_concern": incident.security_concern,
    }


# The incident forms whose fields start from the incident: what each field shows (a key starting
# with "~" is state the form has no field for) and the timeline kinds that change it. A form carries
# its presets as its page showed them, so a change someone made meanwhile is caught before the
# form overwrites it, and the fields the reader left alone can take the new values.
FORM_PRESETS: dict[str, tuple[Callable[[Incident], dict[str, Any]], tuple[str, ...]]] = {
    "severity": (lambda incident: {"severity": incident.severity_id}, (EventKind.SEVERITY_CHANGED,)),
    "status": (
        lambda incident: {
            "status": incident.status if incident.is_active else IncidentStatus.INVESTIGATING,
            "~status": incident.status,
        },
        (EventKind.STATUS_CHANGED,),
    ),
    "update": (lambda incident: {"status": incident.status}, (EventKind.STATUS_CHANGED,)),
    "roles": (
        lambda incident: {
            "lead": incident.lead_id,
            "comms_lead": incident.comms_lead_id,
            "responders": list(incident.responders.all()),
        },
        (EventKind.ROLE_ASSIGNED,),
    ),
    "impact": (_impact_presets, (EventKind.IMPACT_CHANGED,)),
    "snooze": (
        lambda incident: {"~due": incident.next_update_due_at},
        (EventKind.UPDATE_SNOOZED, EventKind.STATUS_UPDATE, EventKind.SEVERITY_CHANGED, EventKind.STATUS_CHANGED),
    ),
}


def incident_form_presets(*, incident: Incident, form: str) -> dict[str, Any]:
    """What the incident form `form` shows of the incident, each value `comparable`."""
    presets, _kinds = FORM_PRESETS[form]
    return {name: comparable(value) for name, value in presets(incident).items()}


@dataclass(frozen=True)
class UnseenChange:
    """What a form's page did not show: the newest timeline event that changed it, if any."""

    event: TimelineEvent | None


def incident_change_unseen(*, incident: Incident, form: str, seen: dict[str, Any]) -> UnseenChange | None:
    """Whether what `form` starts from changed since a page showed it as `seen`. Called in a
    transaction: the incident's row stays locked until the form's change commits, so no change
    can slip in between this check and that one."""
    locked = Incident.objects.select_for_update().get(pk=incident.pk)
    if incident_form_presets(incident=locked, form=form) == seen:
        return None
    _presets, kinds = FORM_PRESETS[form]
    # Newest first along the incident's timeline index; these kinds are never backdated.
    event = (
        TimelineEvent.objects.filter(incident=locked, kind__in=kinds)
        .select_related("actor")
        .order_by("-occurred_at", "-id")
        .first()
    )
    return UnseenChange(event)


@dataclass
class DueKept:
    """One due time of an incident's next update and what became of it."""

    due_at: datetime
    cadence_minutes: int
    severity_key: str
    outcome: str
    answered_at: datetime | None  # when the update came (or the due time was replaced or cleared)
    late_by: timedelta | None  # None: on time, or replaced before it came, or not yet due

    @property
    def counts(self) -> bool:
        return self.outcome == DueOutcome.MET or self.late_by is not None

    @property
    def text(self) -> str:
        if self.outcome == DueOutcome.MET:
            return "on time" if self.late_by is None else f"missed by {humanize_delta(self.late_by)}"
        if self.outcome == DueOutcome.OPEN:
            return "due" if self.late_by is None else f"overdue by {humanize_delta(self.late_by)}"
        if self.late_by is None:
            return "replaced before it came" if self.outcome == DueOutcome.SUPERSEDED else "cleared before it came"
        return f"missed by {humanize_delta(self.late_by)}, no update"


@dataclass
class MilestoneKept:
    label: str
    took: timedelta | None  # from detection
    target: timedelta | None  # the severity's, where the policy sets one

    @property
    def kept(self) -> bool | None:
        if self.took is None or self.target is None:
            return None
        return self.took <= self.target


@dataclass
class CadenceKept:
    dues: list[DueKept]
    milestones: list[MilestoneKept]

    @property
    def on_time(self) -> int:
        return sum(due.outcome == DueOutcome.MET and due.late_by is None for due in self.dues)

    @property
    def counted(self) -> int:
        return sum(due.counts for due in self.dues)


def incident_cadence_kept(*, incident: Incident, now: datetime | None = None) -> CadenceKept:
    """Each due time the incident's next update had (as recorded when it was set, so a later
    policy change rewrites nothing) and when the update came; its times to acknowledge, mitigate
    and resolve from detection against its severity's targets. One query."""
    now = now or timezone.now()
    dues = []
    for due in UpdateDue.objects.filter(incident=incident).select_related("severity").order_by("due_at", "id"):
        late = due.lateness(now)
        dues.append(
            DueKept(
                due_at=due.due_at,
                cadence_minutes=due.cadence_minutes,
                severity_key=due.severity.key,
                outcome=due.outcome,
                answered_at=due.closed_at,
                late_by=late if late is not None and late > timedelta(0) else None,
            )
        )
    policy = incident.severity
    milestones = [
        MilestoneKept(label, _since_detection(incident, moment), None if target is None else timedelta(minutes=target))
        for label, moment, target in (
            ("Acknowledged", incident.acknowledged_at, policy.response_time_minutes),
            ("Mitigated", incident.mitigated_at, policy.mitigate_target_minutes),
            ("Resolved", incident.resolved_at, policy.resolve_target_minutes),
        )
    ]
    return CadenceKept(dues=dues, milestones=milestones)


def _since_detection(incident: Incident, moment: datetime | None) -> timedelta | None:
    return None if moment is None else max(timedelta(0), moment - incident.detected_at)
