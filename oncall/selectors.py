"""Who is on call: computed from the rotations' rules and the overrides, never stored, so an edit
to a rotation is right at once for every moment, past and future.

A schedule's rotations are layers on call together (see oncall.models); overrides replace the
person of one rotation, or everyone, for their span."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.contrib.auth.models import User
from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet

from incidents.models import ACTIVE_STATUSES, Incident, Service, Team
from incidents.selectors import visible_incidents
from oncall.models import Override, Rotation, RotationMember, Schedule, ShiftHandoff, ShiftUnit
from postmortems import selectors as postmortem_selectors

# A moment is the window [at, at + INSTANT).
INSTANT = timedelta(microseconds=1)
# How far ahead "until when" looks for the end of a person's continuous cover.
UNTIL_HORIZON = timedelta(days=35)


@dataclass(frozen=True)
class Shift:
    """A span one person is on call for a schedule: from `starts_at` (inclusive) to `ends_at`
    (exclusive), aware datetimes in UTC. `rotation` is the layer (None: an override of the whole
    schedule); `override` is set when an override put them there."""

    schedule: Schedule
    user: User
    starts_at: datetime
    ends_at: datetime
    rotation: Rotation | None = None
    override: Override | None = None

    @property
    def duration(self) -> timedelta:
        return self.ends_at - self.starts_at

    def covers(self, at: datetime) -> bool:
        return self.starts_at <= at < self.ends_at

    @property
    def uid(self) -> str:
        """Stable for the same turn of the same person: iCalendar UIDs."""
        layer = f"o{self.override.pk}" if self.override else f"r{self.rotation.pk if self.rotation else 0}"
        return f"{self.schedule.pk}-{layer}-{self.user.pk}-{int(self.starts_at.timestamp())}"


def schedules_for_span(*, start: datetime, end: datetime) -> QuerySet[Schedule]:
    """Schedules with all they need to answer for [start, end) in four queries whatever their
    number: rotations, their members (with users), and the overrides of the span."""
    return Schedule.objects.select_related("team").prefetch_related(
        Prefetch(
            "rotations",
            queryset=Rotation.objects.order_by("position", "pk").prefetch_related(
                Prefetch(
                    "memberships", queryset=RotationMember.objects.select_related("user").order_by("position", "pk")
                )
            ),
        ),
        Prefetch(
            "overrides",
            queryset=Override.objects.filter(starts_at__lt=end, ends_at__gt=start).select_related("user"),
            to_attr="span_overrides",
        ),
    )


def _schedules_of_teams(*, team_ids: Iterable[int], start: datetime, end: datetime) -> list[Schedule]:
    """The teams' schedules with what can put someone on call in [start, end), in two queries:
    the rotation members (with their rotation, schedule and user) and the span's overrides. A
    rotation without members puts nobody on call, so it is not needed here."""
    team_ids = list(team_ids)
    schedules: dict[int, Schedule] = {}
    rotations: dict[int, Rotation] = {}
    members = (
        RotationMember.objects.filter(rotation__schedule__team_id__in=team_ids)
        .select_related("rotation__schedule", "user")
        .order_by("rotation__schedule_id", "rotation__position", "rotation_id", "position", "pk")
    )
    for membership in members:
        rotation = rotations.get(membership.rotation_id)
        if rotation is None:
            rotation = rotations[membership.rotation_id] = membership.rotation
            rotation.loaded_members = []
            schedule = schedules.setdefault(rotation.schedule_id, rotation.schedule)
            rotation.schedule = schedule
            if not hasattr(schedule, "loaded_rotations"):
                schedule.loaded_rotations = []
                schedule.span_overrides = []
            schedule.loaded_rotations.append(rotation)
        rotation.loaded_members.append(membership.user)
    overrides = Override.objects.filter(
        schedule__team_id__in=team_ids, starts_at__lt=end, ends_at__gt=start
    ).select_related("user", "schedule")
    for override in overrides:
        schedule = schedules.setdefault(override.schedule_id, override.schedule)
        if not hasattr(schedule, "loaded_rotations"):
            schedule.loaded_rotations = []
            schedule.span_overrides = []
        schedule.span_overrides.append(override)
    return list(schedules.values())


def _rotations(schedule: Schedule) -> list[Rotation]:
    loaded = getattr(schedule, "loaded_rotations", None)
    return loaded if loaded is not None else list(schedule.rotations.all())


def _overrides(schedule: Schedule, start: datetime, end: datetime) -> list[Override]:
    loaded = getattr(schedule, "span_overrides", None)
    if loaded is None:
        loaded = list(
            Override.objects.filter(schedule=schedule, starts_at__lt=end, ends_at__gt=start).select_related("user")
        )
    return [o for o in loaded if o.starts_at < end and o.ends_at > start]


def _members(rotation: Rotation) -> list[User]:
    loaded = getattr(rotation, "loaded_members", None)
    return loaded if loaded is not None else [membership.user for membership in rotation.memberships.all()]


def handoff(rotation: Rotation, k: int, schedule: Schedule) -> datetime:
    """The start of the rotation's k-th shift (k = 0 is the first), in UTC. Days count wall-clock
    days in the schedule's zone; hours count elapsed hours from the first hand-off. A hand-off
    time that a spring-forward skips is read with the offset before the change (an hour later on
    the clock); one that autumn repeats is its first occurrence."""
    zone = schedule.zone
    if rotation.shift_unit == ShiftUnit.HOURS:
        first = datetime.combine(rotation.start_date, rotation.handoff_time, tzinfo=zone).astimezone(UTC)
        return first + timedelta(hours=k * rotation.shift_length)
    day = rotation.start_date + timedelta(days=k * rotation.shift_length)
    return datetime.combine(day, rotation.handoff_time, tzinfo=zone).astimezone(UTC)


def _turn_at(rotation: Rotation, at: datetime, schedule: Schedule) -> int:
    """The index of the shift running at `at` (-1 before the first)."""
    first = handoff(rotation, 0, schedule)
    if at < first:
        return -1
    if rotation.shift_unit == ShiftUnit.HOURS:
        return int((at - first) // timedelta(hours=rotation.shift_length))
    local = at.astimezone(schedule.zone)
    k = max((local.date() - rotation.start_date).days // rotation.shift_length, 0)
    while k > 0 and handoff(rotation, k, schedule) > at:
        k -= 1
    while handoff(rotation, k + 1, schedule) <= at:
        k += 1
    return k


def _rotation_shifts(schedule: Schedule, rotation: Rotation, start: datetime, end: datetime) -> list[Shift]:
    members = _members(rotation)
    if not members:
        return []
    k = max(_turn_at(rotation, start, schedule), 0)
    shifts: list[Shift] = []
    begins = handoff(rotation, k, schedule)
    while begins < end:
        ends = handoff(rotation, k + 1, schedule)
        user = members[k % len(members)]
        if shifts and shifts[-1].user.pk == user.pk and shifts[-1].ends_at == begins:
            # One member, or the same person twice in a row: one continuous shift.
            previous = shifts.pop()
            begins = previous.starts_at
        if ends > start:
            shifts.append(Shift(schedule=schedule, user=user, starts_at=begins, ends_at=ends, rotation=rotation))
        k += 1
        begins = ends
    return shifts


def _cut(shift: Shift, starts_at: datetime, ends_at: datetime) -> list[Shift]:
    """What is left of `shift` outside [starts_at, ends_at)."""
    if ends_at <= shift.starts_at or starts_at >= shift.ends_at:
        return [shift]
    pieces = []
    if shift.starts_at < starts_at:
        pieces.append(Shift(shift.schedule, shift.user, shift.starts_at, starts_at, shift.rotation, shift.override))
    if ends_at < shift.ends_at:
        pieces.append(Shift(shift.schedule, shift.user, ends_at, shift.ends_at, shift.rotation, shift.override))
    return pieces


def shifts(*, schedule: Schedule, start: datetime, end: datetime) -> list[Shift]:
    """Every shift of the schedule that overlaps [start, end), whole (not clipped to the window),
    ordered by start then layer. Overrides cut the turns they replace; two overrides at once put
    both people on call."""
    if end <= start:
        return []
    rotations = _rotations(schedule)
    overrides = _overrides(schedule, start, end)
    turns: list[Shift] = []
    for rotation in rotations:
        turns.extend(_rotation_shifts(schedule, rotation, start, end))
    for override in overrides:
        cut: list[Shift] = []
        for turn in turns:
            if override.rotation_id is None or turn.rotation.pk == override.rotation_id:
                cut.extend(_cut(turn, override.starts_at, override.ends_at))
            else:
                cut.append(turn)
        turns = cut
    layer = {rotation.pk: rotation.position for rotation in rotations}
    for override in overrides:
        rotation = next((r for r in rotations if r.pk == override.rotation_id), None)
        turns.append(
            Shift(schedule, override.user, override.starts_at, override.ends_at, rotation=rotation, override=override)
        )
    turns = [turn for turn in turns if turn.starts_at < end and turn.ends_at > start]
    turns.sort(key=lambda s: (s.starts_at, layer.get(s.rotation.pk, -1) if s.rotation else -1, s.user.pk))
    return turns


def _unique(users: Iterable[User]) -> list[User]:
    seen: dict[int, User] = {}
    for user in users:
        seen.setdefault(user.pk, user)
    return list(seen.values())


def on_call_at(*, schedule: Schedule, at: datetime) -> list[User]:
    """The people on call for the schedule at `at`, primary layer first; [] is a gap."""
    now_on = shifts(schedule=schedule, start=at, end=at + INSTANT)
    now_on.sort(key=lambda s: (s.rotation.position if s.rotation else -1, s.rotation.pk if s.rotation else 0))
    return _unique(shift.user for shift in now_on)


def on_call_for_team(*, team: Team, at: datetime) -> list[User]:
    schedules = _schedules_of_teams(team_ids=[team.pk], start=at, end=at + INSTANT)
    return _unique(user for schedule in schedules for user in on_call_at(schedule=schedule, at=at))


def on_call_anywhere(*, at: datetime) -> list[User]:
    """Everyone on call for any schedule at `at`."""
    team_ids = Team.objects.filter(schedules__isnull=False).values_list("pk", flat=True).distinct()
    schedules = _schedules_of_teams(team_ids=team_ids, start=at, end=at + INSTANT)
    return _unique(user for schedule in schedules for user in on_call_at(schedule=schedule, at=at))


def on_call_for_service(*, service: Service, at: datetime) -> list[User]:
    """The people on call for the service's owner team's schedules at `at` ([] without a team)."""
    if service.owner_team_id is None:
        return []
    schedules = _schedules_of_teams(team_ids=[service.owner_team_id], start=at, end=at + INSTANT)
    return _unique(user for schedule in schedules for user in on_call_at(schedule=schedule, at=at))


def on_call_for_services(*, services: Iterable[Service], at: datetime) -> dict[int, list[User]]:
    """{service id: people on call} for many services in two queries (pages listing services)."""
    services = list(services)
    team_ids = {service.owner_team_id for service in services if service.owner_team_id}
    by_team: dict[int, list[User]] = {team_id: [] for team_id in team_ids}
    if team_ids:
        for schedule in _schedules_of_teams(team_ids=team_ids, start=at, end=at + INSTANT):
            by_team[schedule.team_id] = _unique([*by_team[schedule.team_id], *on_call_at(schedule=schedule, at=at)])
    return {service.pk: by_team.get(service.owner_team_id, []) for service in services}


def schedules_of_user(*, user: User, at: datetime, end: datetime | None = None) -> QuerySet[Schedule]:
    """The schedules that may put the user on call in [at, end) (end: UNTIL_HORIZON later): one
    indexed query (the rotation members by user, the overrides by user and end), and nothing more
    when there are none."""
    end = at + UNTIL_HORIZON if end is None else end
    member = RotationMember.objects.filter(rotation__schedule=OuterRef("pk"), user=user)
    covering = Override.objects.filter(schedule=OuterRef("pk"), user=user, ends_at__gt=at, starts_at__lt=end)
    return schedules_for_span(start=at, end=end).filter(Exists(member) | Exists(covering))


def user_shifts(*, user: User, start: datetime, end: datetime) -> list[Shift]:
    """The user's shifts overlapping [start, end) in every schedule, by start (the iCalendar feed)."""
    found = [
        shift
        for schedule in schedules_of_user(user=user, at=start, end=end)
        for shift in shifts(schedule=schedule, start=start, end=end)
        if shift.user.pk == user.pk
    ]
    return sorted(found, key=lambda s: (s.starts_at, s.schedule.pk))


def current_shift_for_user(*, user: User, at: datetime, schedule: Schedule | None = None) -> Shift | None:
    """The user's shift running at `at`, its end pushed to the end of their continuous cover (a
    one-person rotation, an override that follows their turn) within UNTIL_HORIZON; when they are
    on call for several schedules, the one that lasts longest. None: not on call."""
    if not user.is_authenticated:
        return None
    best: Shift | None = None
    candidates = schedules_of_user(user=user, at=at)
    if schedule is not None:
        candidates = candidates.filter(pk=schedule.pk)
    for candidate in candidates:
        mine = [s for s in shifts(schedule=candidate, start=at, end=at + UNTIL_HORIZON) if s.user.pk == user.pk]
        current = next((s for s in mine if s.covers(at)), None)
        if current is None:
            continue
        ends_at = current.ends_at
        for shift in sorted(mine, key=lambda s: s.starts_at):
            if shift.starts_at <= ends_at < shift.ends_at:
                ends_at = shift.ends_at
        whole = Shift(candidate, current.user, current.starts_at, ends_at, current.rotation, current.override)
        if best is None or whole.ends_at > best.ends_at:
            best = whole
    return best


def gaps(*, schedule: Schedule, start: datetime, end: datetime, found: list[Shift] | None = None) -> list[tuple]:
    """The spans of [start, end) when nobody is on call for the schedule, as (from, to) pairs."""
    found = shifts(schedule=schedule, start=start, end=end) if found is None else found
    holes = []
    covered_until = start
    for shift in sorted(found, key=lambda s: s.starts_at):
        if shift.starts_at > covered_until:
            holes.append((covered_until, min(shift.starts_at, end)))
        covered_until = max(covered_until, shift.ends_at)
        if covered_until >= end:
            break
    if covered_until < end:
        holes.append((covered_until, end))
    return holes


@dataclass(frozen=True)
class HandoffSummary:
    """What a shift hands over: the open incidents the outgoing person was part of, what was
    declared or resolved during the shift, and overdue action items (the outgoing person's own, and
    those of the incidents they were part of: what seed 001's checklist asks the next person to
    review, open incidents and recent changes, plus the follow-ups nobody closed)."""

    open_incidents: list
    changed_incidents: list
    overdue_action_items: list


@dataclass(frozen=True)
class Handoff:
    """What the person who just came on call should see: who handed over, their note, and the
    summary of the outgoing shift."""

    shift: Shift
    outgoing: Shift | None
    note: object
    summary: HandoffSummary | None


# The hand-off shows on the incoming person's dashboard for the first day of their shift.
HANDOFF_SHOWN_FOR = timedelta(hours=24)
# A shift's end is told to its outgoing person at most one shift, and at most a day, late (after
# an outage of the worker): an older hand-off is stale, the next person already took over.
HANDOFF_STALE_AFTER = HANDOFF_SHOWN_FOR
HANDOFF_LIST_LIMIT = 20


def _part_of(user_id: int) -> Q:
    return (
        Q(lead_id=user_id)
        | Q(comms_lead_id=user_id)
        | Q(declared_by_id=user_id)
        | Q(pk__in=Incident.responders.through.objects.filter(user_id=user_id).values("incident_id"))
    )


def handoff_summary(*, viewer: User, outgoing: User, starts_at: datetime, ends_at: datetime) -> HandoffSummary:
    """The summary of `outgoing`'s shift [starts_at, ends_at), of incidents `viewer` may see
    (incidents.selectors.visible_incidents): a fixed number of queries."""
    seen = visible_incidents(viewer).select_related("severity", "lead")
    part_of = _part_of(outgoing.pk)
    open_incidents = list(
        seen.filter(part_of, status__in=ACTIVE_STATUSES).order_by("severity__rank", "-declared_at")[:HANDOFF_LIST_LIMIT]
    )
    span = Q(declared_at__gte=starts_at, declared_at__lt=ends_at) | Q(
        resolved_at__gte=starts_at, resolved_at__lt=ends_at
    )
    changed = list(seen.filter(span).order_by("-declared_at")[:HANDOFF_LIST_LIMIT])
    overdue = postmortem_selectors.overdue_action_items(
        viewer=viewer,
        owner_id=outgoing.pk,
        incident_ids=Incident.objects.filter(part_of).values("pk"),
        limit=HANDOFF_LIST_LIMIT,
    )
    return HandoffSummary(open_incidents, changed, overdue)


def handoff_for_user(*, user: User, at: datetime) -> Handoff | None:
    """The hand-off for the user's current shift, if it began less than HANDOFF_SHOWN_FOR ago.
    Incidents are only those the user may see."""
    from oncall.models import HandoffNote

    shift = current_shift_for_user(user=user, at=at)
    if shift is None or at - shift.starts_at > HANDOFF_SHOWN_FOR:
        return None
    before = shift.starts_at - INSTANT
    previous = [
        s
        for s in shifts(schedule=shift.schedule, start=before, end=shift.starts_at)
        if s.user.pk != user.pk and (shift.rotation is None or s.rotation is None or s.rotation.pk == shift.rotation.pk)
    ]
    outgoing = previous[0] if previous else None
    if outgoing is None:
        return Handoff(shift, None, None, None)
    note = (
        HandoffNote.objects.filter(schedule=shift.schedule, author=outgoing.user, shift_ends_at__gte=shift.starts_at)
        .order_by("-created_at")
        .first()
    )
    summary = handoff_summary(
        viewer=user, outgoing=outgoing.user, starts_at=outgoing.starts_at, ends_at=shift.starts_at
    )
    return Handoff(shift, outgoing, note, summary)


@dataclass(frozen=True)
class ShiftEnd:
    """A shift that ended with its person going off call, and who took over (None: nobody)."""

    shift: Shift
    incoming: User | None


def shift_ends_due(*, now: datetime) -> list[ShiftEnd]:
    """The shifts of every schedule that ended by `now`, less than one shift (and less than
    HANDOFF_STALE_AFTER) ago, after which their person was not on call for the schedule: a hand-off,
    not a turn running on (a one-person rotation, an override that follows it). One person's two
    layers ending at once are one hand-off. Four queries whatever the number of schedules."""
    start = now - 2 * HANDOFF_STALE_AFTER
    found: dict[tuple[int, datetime, int], ShiftEnd] = {}
    for schedule in schedules_for_span(start=start, end=now + INSTANT):
        window = shifts(schedule=schedule, start=start, end=now + INSTANT)
        for shift in window:
            ends = shift.ends_at
            if ends > now or ends <= now - min(shift.duration, HANDOFF_STALE_AFTER):
                continue
            if any(other.user.pk == shift.user.pk and other.covers(ends) for other in window):
                continue
            taking_over = [other for other in window if other.covers(ends)]
            same_layer = [
                o for o in taking_over if shift.rotation and o.rotation and o.rotation.pk == shift.rotation.pk
            ]
            incoming = (same_layer or taking_over or [None])[0]
            found.setdefault((schedule.pk, ends, shift.user.pk), ShiftEnd(shift, incoming.user if incoming else None))
    return list(found.values())


def handoff_just_ended(*, user: User, now: datetime, schedule: Schedule | None = None) -> ShiftHandoff | None:
    """The user's latest shift end that was handed over less than a day ago: their note can still
    reach whoever took over (the hand-off shows on that person's dashboard for that long)."""
    ended = ShiftHandoff.objects.filter(user=user, shift_ends_at__gt=now - HANDOFF_SHOWN_FOR, shift_ends_at__lte=now)
    if schedule is not None:
        ended = ended.filter(schedule=schedule)
    return ended.select_related("schedule", "incoming").order_by("-shift_ends_at").first()
