"""On-call schedules: a team's schedule has rotations (who takes turns, how long a shift is, when
it hands off, in the schedule's time zone) and overrides (a person covers a span).

Layering, as GoAlert does it (each of a schedule's rules puts its people on call at once) and as
PagerDuty users build primary and secondary cover: every rotation that has begun puts its current
member on call, so two rotations are two layers on call together (primary first, by position).
An override replaces, for its span, the person of one rotation, or everyone the rotations put on
call when it names no rotation (PagerDuty's override of the final schedule)."""

import hashlib
from datetime import time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.urls import reverse

from incidents.models import Team

UNKNOWN_TIME_ZONE = "Not a time zone name: use an IANA name such as Europe/London."
OVERRIDE_ENDS_BEFORE_START = "An override must end after it starts."
ROTATION_OF_ANOTHER_SCHEDULE = "This rotation belongs to another schedule."
# A rotation's turns are computed, never stored; a year of hourly shifts is the longest turn.
MAX_SHIFT_LENGTH = 8_760


def validate_time_zone(value: str) -> None:
    # ZoneInfo also accepts file paths like "../zoneinfo/UTC"; only the IANA names are valid.
    if value not in available_timezones():
        raise ValidationError(UNKNOWN_TIME_ZONE, code="time_zone")
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ValidationError(UNKNOWN_TIME_ZONE, code="time_zone") from error


class Schedule(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="schedules")
    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=100, unique=True)
    time_zone = models.CharField(
        max_length=64,
        default="UTC",
        validators=[validate_time_zone],
        help_text="IANA name, e.g. Europe/London: hand-off times are wall-clock times in this zone.",
    )
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["team__name", "name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("oncall:schedule", args=[self.slug])

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)


class ShiftUnit(models.TextChoices):
    HOURS = "hours", "hours"
    DAYS = "days", "days"


class Rotation(models.Model):
    """Members take turns in `position` order from `start_date` at `handoff_time`. A shift of N
    days hands off at the same wall-clock time N days later (23 or 25 hours across a DST change);
    a shift of N hours lasts exactly N elapsed hours."""

    schedule = models.ForeignKey(Schedule, on_delete=models.CASCADE, related_name="rotations")
    name = models.CharField(max_length=100)
    position = models.PositiveSmallIntegerField(default=0, help_text="Layer order: 0 is the primary.")
    shift_length = models.PositiveIntegerField(
        default=1, validators=[MinValueValidator(1), MaxValueValidator(MAX_SHIFT_LENGTH)]
    )
    shift_unit = models.CharField(max_length=8, choices=ShiftUnit.choices, default=ShiftUnit.DAYS)
    handoff_time = models.TimeField(default=time(9, 0), help_text="Wall-clock time in the schedule's zone.")
    start_date = models.DateField(help_text="The first shift starts on this day at the hand-off time.")
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="RotationMember", related_name="rotations", blank=True
    )

    class Meta:
        ordering = ["schedule", "position", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(shift_length__gte=1) & Q(shift_length__lte=MAX_SHIFT_LENGTH), name="rotation_shift_length"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.schedule}: {self.name}"


class RotationMember(models.Model):
    rotation = models.ForeignKey(Rotation, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="rotation_memberships")
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["rotation", "position", "pk"]
        # The header asks on every page whether the viewer is in any rotation: indexed by user.
        indexes = [models.Index(fields=["user"], name="rotation_member_user")]

    def __str__(self) -> str:
        return f"{self.user} in {self.rotation}"


class Override(models.Model):
    schedule = models.ForeignKey(Schedule, on_delete=models.CASCADE, related_name="overrides")
    rotation = models.ForeignKey(
        Rotation,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="overrides",
        help_text="Whose turn it replaces; empty replaces everyone the schedule puts on call.",
    )
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="oncall_overrides")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["starts_at", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(ends_at__gt=F("starts_at")), name="override_ends_after_start"),
        ]
        indexes = [
            models.Index(fields=["schedule", "ends_at"], name="override_schedule_ends"),
            models.Index(fields=["user", "ends_at"], name="override_user_ends"),
        ]

    def __str__(self) -> str:
        return f"{self.user} covers {self.schedule}"

    def clean(self) -> None:
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            raise ValidationError({"ends_at": OVERRIDE_ENDS_BEFORE_START})
        if self.rotation_id and self.schedule_id and self.rotation.schedule_id != self.schedule_id:
            raise ValidationError({"rotation": ROTATION_OF_ANOTHER_SCHEDULE})


class CalendarFeed(models.Model):
    """A person's secret iCalendar address of their shifts. Only a SHA-256 digest of its token is
    stored: the address is shown once; regenerating replaces it, revoking removes it."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="oncall_feed")
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_fetched_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Calendar feed of {self.user}"

    @staticmethod
    def digest_of(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()


class HandoffNote(models.Model):
    """What the outgoing person tells whoever takes over the schedule at the end of their shift."""

    schedule = models.ForeignKey(Schedule, on_delete=models.CASCADE, related_name="handoff_notes")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="handoff_notes")
    shift_ends_at = models.DateTimeField(help_text="The end of the author's shift the note hands over.")
    text = models.TextField()
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["schedule", "shift_ends_at"], name="handoff_schedule_shift_end")]

    def __str__(self) -> str:
        return f"Hand-off by {self.author} for {self.schedule}"


class ShiftHandoff(models.Model):
    """The end of one person's shift of one schedule, recorded (recorded_at) before the outgoing
    person is sent the hand-off summary, and sent once (sent_at): the unique constraint is the
    promise, whichever sweep, beat or retry gets there."""

    schedule = models.ForeignKey(Schedule, on_delete=models.CASCADE, related_name="shift_handoffs")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="shift_handoffs")
    shift_starts_at = models.DateTimeField()
    shift_ends_at = models.DateTimeField()
    incoming = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="Who took over; empty when nobody did.",
    )
    recorded_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-shift_ends_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["schedule", "shift_ends_at", "user"], name="shift_handoff_once_per_shift_end_and_person"
            ),
        ]
        indexes = [
            models.Index(fields=["recorded_at"], name="shift_handoff_unsent", condition=Q(sent_at__isnull=True)),
            models.Index(fields=["user", "shift_ends_at"], name="shift_handoff_user_end"),
        ]

    def __str__(self) -> str:
        return f"Hand-off by {self.user} of {self.schedule}"
