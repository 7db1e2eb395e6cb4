"""Writes of the on-call app. Each bumps the "oncall" page version: the cached pages that show who
is on call (the incident page's services, the header) are read again after a change."""

import secrets
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify

from config.versions import ONCALL, atomic_bumping
from core.text import plain_text, single_line
from incidents.models import Team
from notifications import services as notification_services
from notifications.services import Outgoing
from oncall.models import (
    OVERRIDE_ENDS_BEFORE_START,
    ROTATION_OF_ANOTHER_SCHEDULE,
    CalendarFeed,
    HandoffNote,
    Override,
    Rotation,
    RotationMember,
    Schedule,
    ShiftHandoff,
    ShiftUnit,
)

writes = atomic_bumping(ONCALL)

# Shift ends sent per sweep: a backlog after an outage goes out over a few beats.
HANDOFF_BATCH = 200
OVERRIDE_NOT_AWARE = "Give the override's times with their time zone offset."


def _unique_slug(base: str) -> str:
    base = slugify(base)[:90] or "schedule"
    slug, n = base, 1
    while Schedule.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


@writes
def schedule_create(
    *,
    team: Team,
    name: str,
    time_zone: str,
    slug: str = "",
    description: str = "",
    rotations: Iterable[dict] = (),
    overrides: Iterable[dict] = (),
) -> Schedule:
    """A schedule with its rotations (dicts of rotation_add's arguments) and overrides (dicts of
    override_add's), checked as a whole: one refused part refuses all."""
    name = single_line(name)
    schedule = Schedule(
        team=team,
        name=name,
        slug=slug or _unique_slug(f"{team.slug}-{name}"),
        time_zone=time_zone,
        description=description,
    )
    schedule.full_clean()
    schedule.save()
    for position, rotation in enumerate(rotations):
        rotation_add(schedule=schedule, **{"position": position, **rotation})
    for override in overrides:
        override_add(schedule=schedule, **override)
    return schedule


@writes
def rotation_add(
    *,
    schedule: Schedule,
    name: str,
    start_date: date,
    members: Iterable[AbstractBaseUser] = (),
    shift_length: int = 7,
    shift_unit: str = ShiftUnit.DAYS,
    handoff_time: time = time(9),
    position: int = 0,
) -> Rotation:
    rotation = Rotation(
        schedule=schedule,
        name=single_line(name),
        start_date=start_date,
        shift_length=shift_length,
        shift_unit=shift_unit,
        handoff_time=handoff_time,
        position=position,
    )
    rotation.full_clean()
    rotation.save()
    RotationMember.objects.bulk_create(
        RotationMember(rotation=rotation, user=user, position=index) for index, user in enumerate(members)
    )
    return rotation


@writes
def override_add(
    *,
    schedule: Schedule,
    user: AbstractBaseUser,
    starts_at: datetime,
    ends_at: datetime,
    note: str = "",
    rotation: Rotation | None = None,
) -> Override:
    """`user` covers the schedule (or one of its rotations) from `starts_at` to `ends_at`."""
    if starts_at.tzinfo is None or ends_at.tzinfo is None:
        raise ValidationError({"starts_at": OVERRIDE_NOT_AWARE})
    if ends_at <= starts_at:
        raise ValidationError({"ends_at": OVERRIDE_ENDS_BEFORE_START})
    if rotation is not None and rotation.schedule_id != schedule.pk:
        raise ValidationError({"rotation": ROTATION_OF_ANOTHER_SCHEDULE})
    override = Override(
        schedule=schedule, rotation=rotation, user=user, starts_at=starts_at, ends_at=ends_at, note=single_line(note)
    )
    override.full_clean()
    override.save()
    return override


def calendar_feed_create(*, user: AbstractBaseUser) -> str:
    """A new secret feed address token for the user, replacing any earlier one (which stops
    working at once). The clear token is returned once and never stored."""
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        CalendarFeed.objects.filter(user=user).delete()
        CalendarFeed.objects.create(user=user, digest=CalendarFeed.digest_of(token))
    return token


def calendar_feed_revoke(*, user: AbstractBaseUser) -> None:
    CalendarFeed.objects.filter(user=user).delete()


def calendar_feed_fetched(*, feed: CalendarFeed, at: datetime) -> None:
    # Once an hour is precise enough, and keeps a calendar app's polling from writing each time.
    if feed.last_fetched_at is None or at - feed.last_fetched_at > timedelta(hours=1):
        CalendarFeed.objects.filter(pk=feed.pk).update(last_fetched_at=at)


HANDOFF_MAX_LENGTH = 5000


@writes
def handoff_note_write(*, user: AbstractBaseUser, schedule: Schedule, text: str, now: datetime) -> HandoffNote:
    """The person on call leaves a note for whoever takes over at the end of their shift, or, for a
    day after, for whoever took over; a second note for the same shift replaces the first."""
    from oncall import errors, selectors

    text = plain_text(text).strip()
    if not text:
        raise ValidationError({"text": errors.HANDOFF_EMPTY})
    if len(text) > HANDOFF_MAX_LENGTH:
        raise ValidationError({"text": errors.HANDOFF_TOO_LONG})
    shift = selectors.current_shift_for_user(user=user, at=now, schedule=schedule)
    ended = None if shift is not None else selectors.handoff_just_ended(user=user, schedule=schedule, now=now)
    if shift is None and ended is None:
        raise ValidationError({"text": errors.NOT_ON_CALL})
    note, _ = HandoffNote.objects.update_or_create(
        schedule=schedule,
        author=user,
        shift_ends_at=shift.ends_at if shift is not None else ended.shift_ends_at,
        defaults={"text": text, "created_at": now},
    )
    return note


def handoffs_sweep(*, now: datetime | None = None) -> int:
    """At the end of each shift, send its outgoing person (in-app and their channels) the hand-off
    summary and a link to add their note. Runs on the reminders' beat (incidents.registry).

    Each shift end is recorded first, once per (schedule, shift end, person) by the unique
    constraint, then claimed with SELECT … FOR UPDATE SKIP LOCKED and sent in the same
    transaction as its message is recorded (notifications: delivered at least once after commit,
    with a stable dedup key): two racing sweeps send it once. After an outage the sweep catches up
    on shift ends less than one shift and less than a day old; older ones are stale and skipped."""
    from oncall import messages, selectors

    now = now or timezone.now()
    with transaction.atomic():
        due = selectors.shift_ends_due(now=now)
        ShiftHandoff.objects.bulk_create(
            [
                ShiftHandoff(
                    schedule=end.shift.schedule,
                    user=end.shift.user,
                    shift_starts_at=end.shift.starts_at,
                    shift_ends_at=end.shift.ends_at,
                    incoming=end.incoming,
                    recorded_at=now,
                )
                for end in due
            ],
            ignore_conflicts=True,
        )
        claimed = list(
            ShiftHandoff.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(sent_at__isnull=True, shift_ends_at__gt=now - selectors.HANDOFF_STALE_AFTER)
            .select_related("schedule", "user", "incoming")
            .order_by("pk")[:HANDOFF_BATCH]
        )
        if not claimed:
            return 0
        note_url = settings.SITE_URL + reverse("oncall:handoff")
        outgoing = []
        for handoff in claimed:
            summary = selectors.handoff_summary(
                viewer=handoff.user,
                outgoing=handoff.user,
                starts_at=handoff.shift_starts_at,
                ends_at=handoff.shift_ends_at,
            )
            subject, body = messages.handoff_text(handoff, summary, note_url=note_url)
            outgoing.append(
                Outgoing(
                    dedup_key=f"oncall:handoff:{handoff.pk}",
                    topic=handoff.schedule.slug,
                    subject=subject,
                    body_text=body,
                    link=note_url,
                    payload={
                        "event": "oncall.handoff",
                        "schedule": handoff.schedule.slug,
                        "shift_ends_at": handoff.shift_ends_at.isoformat(),
                        "incoming": handoff.incoming.get_username() if handoff.incoming else None,
                        "open_incidents": [incident.reference for incident in summary.open_incidents],
                    },
                    recipients=[handoff.user],
                )
            )
        ShiftHandoff.objects.filter(pk__in=[handoff.pk for handoff in claimed]).update(sent_at=now)
        notification_services.messages_send(outgoing=outgoing, now=now)
    return len(claimed)
