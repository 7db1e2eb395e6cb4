import hashlib
from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from notifications.models import WebhookFormat

REFERENCE_PREFIX = "INC-"


class SecondsBetween(models.Func):
    """`later` minus `earlier` in seconds (a float; NULL when either is NULL). On PostgreSQL the
    epoch of their difference, which is immutable (the epoch of a timestamptz is only stable), so a
    generated column may use it; on SQLite from julianday, to the millisecond (a julianday is a
    float of days: 15 minutes came out as 900.00000003 seconds)."""

    arity = 2
    arg_joiner = " - "
    template = "date_part('epoch', %(expressions)s)"
    output_field = models.FloatField()

    def as_sqlite(self, compiler, connection, **extra_context):
        template = "ROUND((julianday(%(expressions)s)) * 86400.0, 3)"
        return self.as_sql(compiler, connection, template=template, arg_joiner=") - julianday(", **extra_context)


def seconds_from_detection(milestone: str) -> models.Case:
    """Seconds from detection to `milestone` (never below zero; NULL until it is set)."""
    return models.Case(
        models.When(**{f"{milestone}__lt": models.F("detected_at")}, then=models.Value(0.0)),
        default=SecondsBetween(milestone, "detected_at"),
        output_field=models.FloatField(),
    )


def _seconds_field(milestone: str) -> models.GeneratedField:
    return models.GeneratedField(
        expression=seconds_from_detection(milestone), output_field=models.FloatField(), db_persist=True, null=True
    )


class SeverityPolicy(models.Model):
    """One row per severity. Code reads these values; it never branches on a severity's name."""

    key = models.CharField(max_length=16, unique=True, help_text="Short label, e.g. SEV1.")
    name = models.CharField(max_length=64, help_text="e.g. Critical.")
    rank = models.PositiveSmallIntegerField(
        unique=True, help_text="Ordering: 1 is the most severe. Dashboards sort by it."
    )
    description = models.CharField(max_length=255, blank=True)
    examples = models.CharField(max_length=255, blank=True)
    response_time_minutes = models.PositiveIntegerField(
        null=True, blank=True, help_text="Target time to respond; empty means next business day."
    )
    response_time_label = models.CharField(max_length=64, help_text="As people say it, e.g. '< 15 min'.")
    mitigate_target_minutes = models.PositiveIntegerField(
        null=True, blank=True, help_text="Target time from detection to mitigation; empty means no target."
    )
    resolve_target_minutes = models.PositiveIntegerField(
        null=True, blank=True, help_text="Target time from detection to resolution; empty means no target."
    )
    update_cadence_minutes = models.PositiveIntegerField(
        null=True, blank=True, help_text="Minutes between status updates; empty means as needed (no reminders)."
    )
    notified_groups = models.ManyToManyField(
        "auth.Group", blank=True, related_name="+", help_text="Who is told when an incident of this severity starts."
    )
    stakeholders_label = models.CharField(max_length=128, blank=True, help_text="e.g. 'Executives + status page'.")
    show_on_status_page = models.BooleanField(default=False)
    publish_automatically = models.BooleanField(
        default=False,
        help_text="Put incidents of this severity on the status page when declared, under a neutral title derived "
        "from the affected components (never the internal title). Otherwise a responder publishes them.",
    )
    public_updates_need_approval = models.BooleanField(
        default=False,
        help_text="A public status update by a responder who is neither the incident lead nor the comms lead is a "
        "draft until one of them approves it; nothing of it is public before. Off: any responder posts it.",
    )

    # The escalation ladder for an update that is due: step 1 reminds the incident lead and comms
    # lead at the due time; step 2 tells the responders and the webhook channel; step 3 tells the
    # escalation contacts. Steps 2 and 3 are a percentage of the cadence past the due time.
    escalate_responders_after_percent = models.PositiveSmallIntegerField(
        default=50, help_text="Tell all responders and the webhook channel this far past due (% of the cadence)."
    )
    escalate_contacts_after_percent = models.PositiveSmallIntegerField(
        default=100, help_text="Tell the escalation contacts this far past due (% of the cadence)."
    )
    escalation_groups = models.ManyToManyField("auth.Group", blank=True, related_name="+")
    escalation_users = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+")
    webhook_url = models.URLField(
        max_length=500, blank=True, help_text="Incidents of this severity post reminders and notices here."
    )
    webhook_format = models.CharField(max_length=8, choices=WebhookFormat.choices, default=WebhookFormat.JSON)

    class Meta:
        ordering = ["rank"]
        verbose_name_plural = "severity policies"
        constraints = [
            models.CheckConstraint(
                condition=Q(escalate_responders_after_percent__lte=models.F("escalate_contacts_after_percent")),
                name="severity_ladder_in_order",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.key} {self.name}"

    @property
    def update_cadence(self) -> timedelta | None:
        if self.update_cadence_minutes is None:
            return None
        return timedelta(minutes=self.update_cadence_minutes)


class Team(models.Model):
    """People who own services together; on-call schedules and escalation policies belong to a team."""

    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="teams")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Service(models.Model):
    """The catalog of services an incident can affect (runbooks and status components reuse it)."""

    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=100, unique=True)
    owner_team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="services", help_text="Who owns it."
    )
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class IncidentStatus(models.TextChoices):
    INVESTIGATING = "investigating", "Investigating"
    IDENTIFIED = "identified", "Identified"
    MONITORING = "monitoring", "Monitoring"
    RESOLVED = "resolved", "Resolved"


ACTIVE_STATUSES = [
    IncidentStatus.INVESTIGATING,
    IncidentStatus.IDENTIFIED,
    IncidentStatus.MONITORING,
]


class Incident(models.Model):
    title = models.CharField(max_length=200, help_text="Internal: never shown on the status page.")
    summary = models.TextField(blank=True)
    # The public voice: what the status page, its feed and subscribers are told, once published.
    public_title = models.CharField(
        max_length=200, blank=True, help_text="Empty: a neutral title from the affected components."
    )
    public_summary = models.TextField(blank=True)
    published_at = models.DateTimeField(
        null=True, blank=True, help_text="When the incident went on the status page; empty while it is internal."
    )
    severity = models.ForeignKey(SeverityPolicy, on_delete=models.PROTECT, related_name="incidents")
    status = models.CharField(max_length=16, choices=IncidentStatus.choices, default=IncidentStatus.INVESTIGATING)

    # Impact, in the words of the seeds' impact assessment.
    affected_users_count = models.PositiveIntegerField(null=True, blank=True)
    affected_users_percent = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    affected_services = models.ManyToManyField(Service, blank=True, related_name="incidents")
    business_impact = models.TextField(blank=True)
    data_integrity_concern = models.BooleanField(default=False)
    security_concern = models.BooleanField(default=False)

    # Milestones. detected_at may be earlier than declared_at (backdated by the declarer).
    detected_at = models.DateTimeField()
    declared_at = models.DateTimeField()
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    mitigated_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    # The same durations in seconds, computed by the database as a milestone is written, so that
    # insights aggregate plain columns over thousands of incidents instead of an expression per
    # row and per figure.
    seconds_to_declare = _seconds_field("declared_at")
    seconds_to_acknowledge = _seconds_field("acknowledged_at")
    seconds_to_mitigate = _seconds_field("mitigated_at")
    seconds_to_resolve = _seconds_field("resolved_at")

    lead = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="incidents_led")
    comms_lead = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="incidents_comms"
    )
    responders = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="incidents_responding")
    # Restricted: only its participants (lead, comms lead, responders, the people added here) and
    # the security group see it; for everyone else it does not exist (incidents.selectors).
    restricted = models.BooleanField(default=False)
    participants = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="incidents_participating",
        help_text="People added to see a restricted incident, besides its roles.",
    )
    declared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="incidents_declared"
    )

    next_update_due_at = models.DateTimeField(null=True, blank=True)
    last_update_at = models.DateTimeField(null=True, blank=True, help_text="When the latest status update was posted.")
    cadence_anchor_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Where the update cadence counts from: the last update, the declaration or the reopening.",
    )
    next_reminder_at = models.DateTimeField(
        null=True, blank=True, help_text="When the reminder sweep next has a ladder step to send."
    )
    webhook_url = models.URLField(max_length=500, blank=True, help_text="This incident's own channel, if any.")
    webhook_format = models.CharField(max_length=8, choices=WebhookFormat.choices, default=WebhookFormat.JSON)

    class Meta:
        ordering = ["-declared_at"]
        permissions = [("respond", "Can act on incidents: declare, update, change severity and status")]
        indexes = [
            # The API's list, newest first, paged by offset or by (declared_at, id) cursor.
            models.Index(fields=["declared_at", "id"], name="incident_declared_id"),
            models.Index(fields=["status", "declared_at"], name="incident_status_declared"),
            models.Index(fields=["next_update_due_at"], name="incident_next_update_due"),
            models.Index(
                fields=["next_reminder_at"], name="incident_next_reminder", condition=Q(next_reminder_at__isnull=False)
            ),
            models.Index(fields=["-resolved_at"], name="incident_resolved_at"),
            # Insights read incidents by when they were detected (a period and the one before).
            models.Index(fields=["detected_at"], name="incident_detected_at"),
            # The few restricted incidents: every cached page's key asks which of them its reader
            # sees (selectors.visibility_key); without it, each page view read all incidents.
            models.Index(fields=["id"], condition=Q(restricted=True), name="incident_restricted"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=(Q(status=IncidentStatus.RESOLVED) & Q(resolved_at__isnull=False))
                | (~Q(status=IncidentStatus.RESOLVED) & Q(resolved_at__isnull=True)),
                name="incident_resolved_at_iff_resolved",
            ),
            models.CheckConstraint(
                condition=~Q(status=IncidentStatus.RESOLVED)
                | (Q(next_update_due_at__isnull=True) & Q(next_reminder_at__isnull=True)),
                name="incident_resolved_has_no_update_due",
            ),
            models.CheckConstraint(
                condition=Q(detected_at__lte=models.F("declared_at")),
                name="incident_detected_not_after_declared",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reference} {self.title}"

    def get_absolute_url(self) -> str:
        return reverse("incidents:detail", kwargs={"reference": self.reference})

    @property
    def reference(self) -> str:
        return reference_of(self.pk)

    @property
    def is_active(self) -> bool:
        return self.status != IncidentStatus.RESOLVED

    @property
    def is_published(self) -> bool:
        return self.published_at is not None

    @property
    def is_update_overdue(self) -> bool:
        return self.next_update_due_at is not None and self.next_update_due_at <= timezone.now()

    @property
    def is_update_escalated(self) -> bool:
        """Past the last step of the ladder: the escalation contacts have been told."""
        cadence = self.severity.update_cadence
        if self.next_update_due_at is None or cadence is None:
            return False
        past_due = cadence * self.severity.escalate_contacts_after_percent / 100
        return self.next_update_due_at + past_due <= timezone.now()

    @property
    def duration(self) -> timedelta:
        return (self.resolved_at or timezone.now()) - self.detected_at


def reference_of(pk: int) -> str:
    """42 → 'INC-0042'."""
    return f"{REFERENCE_PREFIX}{pk:04d}"


def reference_to_pk(reference: str) -> int | None:
    """'INC-0042' (any case, leading zeros optional) → 42; anything else → None."""
    text = reference.strip().upper()
    if not text.startswith(REFERENCE_PREFIX):
        return None
    digits = text[len(REFERENCE_PREFIX) :]
    if not (digits.isascii() and digits.isdigit()):
        return None
    return int(digits)


class UpdateVisibility(models.TextChoices):
    PUBLIC = "public", "Public"
    INTERNAL = "internal", "Internal"


class StatusUpdate(models.Model):
    """The seeds' update template: status, what we know / progress, next steps, ETA."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="status_updates")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    posted_at = models.DateTimeField()
    status = models.CharField(max_length=16, choices=IncidentStatus.choices)
    progress = models.TextField(help_text="What we know and what has been done.")
    next_steps = models.TextField(blank=True)
    eta = models.CharField(max_length=200, blank=True)
    visibility = models.CharField(max_length=16, choices=UpdateVisibility.choices, default=UpdateVisibility.INTERNAL)

    class Meta:
        ordering = ["-posted_at"]
        indexes = [models.Index(fields=["incident", "-posted_at"], name="update_incident_posted")]

    def __str__(self) -> str:
        return f"Update on {self.incident_id} at {self.posted_at:%Y-%m-%d %H:%M}"


class DraftState(models.TextChoices):
    PENDING = "pending", "Waiting for approval"
    PUBLISHED = "published", "Approved and published"
    DISCARDED = "discarded", "Discarded"


class UpdateDraft(models.Model):
    """A public status update waiting for the incident lead's or comms lead's approval (the
    severity policy's public_updates_need_approval). It is not a StatusUpdate: the status page,
    its JSON and feed, subscriber mail and webhooks read only those, so nothing of a draft can
    reach the public before approval posts it as one."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="update_drafts")
    drafted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    drafted_at = models.DateTimeField()
    status = models.CharField(max_length=16, choices=IncidentStatus.choices)
    progress = models.TextField()
    next_steps = models.TextField(blank=True)
    eta = models.CharField(max_length=200, blank=True)
    state = models.CharField(max_length=16, choices=DraftState.choices, default=DraftState.PENDING)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    status_update = models.OneToOneField(
        StatusUpdate, on_delete=models.SET_NULL, null=True, blank=True, related_name="draft"
    )

    class Meta:
        ordering = ["drafted_at", "id"]
        indexes = [
            models.Index(fields=["incident", "drafted_at"], name="draft_pending", condition=Q(state="pending")),
        ]
        constraints = [
            models.CheckConstraint(
                condition=(Q(state="pending") & Q(decided_at__isnull=True) & Q(decided_by__isnull=True))
                | (~Q(state="pending") & Q(decided_at__isnull=False) & Q(decided_by__isnull=False)),
                name="draft_decided_iff_not_pending",
            ),
        ]

    def __str__(self) -> str:
        return f"Draft on {self.incident_id} by {self.drafted_by_id} at {self.drafted_at:%Y-%m-%d %H:%M}"


class EventKind(models.TextChoices):
    DECLARED = "declared", "Declared"
    SEVERITY_CHANGED = "severity_changed", "Severity changed"
    STATUS_CHANGED = "status_changed", "Status changed"
    ROLE_ASSIGNED = "role_assigned", "Role assigned"
    STATUS_UPDATE = "status_update", "Status update"
    NOTE = "note", "Note"
    MILESTONE_SET = "milestone_set", "Milestone set"
    IMPACT_CHANGED = "impact_changed", "Impact changed"
    REMINDER = "reminder", "Reminder"
    UPDATE_SNOOZED = "update_snoozed", "Update snoozed"
    STAKEHOLDERS_NOTIFIED = "stakeholders_notified", "Stakeholders notified"
    NOTIFICATION_FAILED = "notification_failed", "Notification failed"
    # Kinds recorded by the apps that build on incidents (runbooks, postmortems, integrations).
    RUNBOOK_ATTACHED = "runbook_attached", "Runbook attached"
    RUNBOOK_STEP = "runbook_step", "Runbook step"
    POSTMORTEM = "postmortem", "Postmortem"
    ALERT = "alert", "Alert"
    COMPONENT_STATUS = "component_status", "Status page"
    PUBLISHED = "published", "Published"
    RESTRICTION_CHANGED = "restriction_changed", "Restriction changed"
    PAGE = "page", "Page"
    UPDATE_DRAFTED = "update_drafted", "Public update drafted"
    UPDATE_DRAFT_DISCARDED = "update_draft_discarded", "Public update discarded"


# What the incident page lists apart as its key events, however long the timeline: starred events
# and the changes of severity, status and milestones. One predicate for the partial index and the
# selector, so PostgreSQL can use the one for the other.
KEY_EVENT_KINDS = (
    EventKind.DECLARED,
    EventKind.SEVERITY_CHANGED,
    EventKind.STATUS_CHANGED,
    EventKind.MILESTONE_SET,
)
KEY_EVENTS = Q(starred=True) | Q(kind__in=KEY_EVENT_KINDS)


class TimelineEvent(models.Model):
    """An immutable record of something that happened; only `starred` changes afterwards."""

    # No index of its own: event_incident_occurred starts with the incident (each index is one more
    # write for every event, and the sweep writes thousands at a time).
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="timeline", db_index=False)
    kind = models.CharField(max_length=32, choices=EventKind.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+")
    recorded_at = models.DateTimeField()
    occurred_at = models.DateTimeField(help_text="When it happened; notes may be backdated.")
    text = models.TextField(help_text="A one-line summary, as shown on the timeline.")
    body = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)
    status_update = models.OneToOneField(
        StatusUpdate, on_delete=models.CASCADE, null=True, blank=True, related_name="timeline_event"
    )
    starred = models.BooleanField(default=False)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [
            models.Index(fields=["incident", "-occurred_at", "-id"], name="event_incident_occurred"),
            # The timeline filtered by kind, and an incident's alerts (runbook suggestions): without
            # it, every event of a 26,000-event incident is read to find its few alerts.
            models.Index(fields=["incident", "kind", "-occurred_at", "-id"], name="event_incident_kind"),
            # The key events of a 26,000-event incident without reading its notes; partial, so the
            # many other events cost no index write.
            models.Index(fields=["incident", "-occurred_at", "-id"], name="event_incident_key", condition=KEY_EVENTS),
        ]

    def __str__(self) -> str:
        return self.text


class ReminderStep(models.IntegerChoices):
    DUE = 1, "Update due: incident lead and comms lead reminded"
    RESPONDERS = 2, "Update overdue: responders and channels told"
    CONTACTS = 3, "Update overdue: escalation contacts told"


class Reminder(models.Model):
    """One ladder step sent for one due time. The unique constraint is the promise: exactly once.
    The sweep records the step (sent_at); a worker then tells its people (told_at)."""

    # Indexed by reminder_once_per_due_time_and_step, which starts with the incident.
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="reminders", db_index=False)
    due_at = models.DateTimeField()
    step = models.PositiveSmallIntegerField(choices=ReminderStep.choices)
    sent_at = models.DateTimeField(help_text="When the sweep found the step due and recorded it.")
    told_at = models.DateTimeField(null=True, blank=True, help_text="When its people were told.")

    class Meta:
        ordering = ["due_at", "step"]
        constraints = [
            models.UniqueConstraint(fields=["incident", "due_at", "step"], name="reminder_once_per_due_time_and_step")
        ]
        indexes = [models.Index(fields=["sent_at"], name="reminder_untold", condition=Q(told_at__isnull=True))]

    def __str__(self) -> str:
        return f"{self.get_step_display()} for incident {self.incident_id} due {self.due_at:%Y-%m-%d %H:%M}"


class DueOutcome(models.TextChoices):
    OPEN = "open", "Open"
    MET = "met", "Met by a status update"
    SUPERSEDED = "superseded", "Replaced by another due time"
    CLEARED = "cleared", "Cleared (resolved or no cadence)"


class UpdateDue(models.Model):
    """Every due time an incident's next status update had, as it was set: the record the update
    cadence is measured from. Incident.next_update_due_at is overwritten as updates arrive and a
    later policy change re-plans active incidents, so neither keeps what was promised then. Each
    row keeps its own cadence and severity; at most one row of an incident is open."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="update_dues", db_index=False)
    severity = models.ForeignKey(SeverityPolicy, on_delete=models.PROTECT, related_name="+")
    due_at = models.DateTimeField()
    cadence_minutes = models.PositiveIntegerField(help_text="The severity's update cadence when it was set.")
    set_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True, help_text="When it was met, replaced or cleared.")
    outcome = models.CharField(max_length=12, choices=DueOutcome.choices, default=DueOutcome.OPEN)
    met_by = models.OneToOneField(
        StatusUpdate, on_delete=models.SET_NULL, null=True, blank=True, related_name="due_met"
    )

    class Meta:
        ordering = ["due_at", "id"]
        indexes = [
            models.Index(fields=["incident", "due_at"], name="update_due_incident"),
            models.Index(fields=["due_at"], name="update_due_at"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["incident"], condition=Q(outcome="open"), name="update_due_one_open_per_incident"
            ),
            models.CheckConstraint(
                condition=(Q(outcome="open") & Q(closed_at__isnull=True))
                | (~Q(outcome="open") & Q(closed_at__isnull=False)),
                name="update_due_closed_at_iff_closed",
            ),
        ]

    def __str__(self) -> str:
        return f"Update due on {self.incident_id} at {self.due_at:%Y-%m-%d %H:%M}"

    def lateness(self, now: datetime) -> timedelta | None:
        """How late the update came (or has been, while none came); None when the due time was
        replaced or cleared before it came, as then nothing was promised any more."""
        if self.outcome == DueOutcome.MET:
            return self.closed_at - self.due_at
        end = self.closed_at or now
        if end <= self.due_at:
            return None
        return end - self.due_at


class ReminderSweep(models.Model):
    """When the reminder sweep last ran: one row, written by every sweep. /health and the banner
    that tells responders reminders have stopped read it (incidents.reminder_watch)."""

    ran_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"Reminder sweep at {self.ran_at:%Y-%m-%d %H:%M:%S}"


class ApiToken(models.Model):
    """A bearer token for the JSON API. Only a SHA-256 digest is stored; the token is shown once."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    digest = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=12, help_text="The first characters, to tell tokens apart.")
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @staticmethod
    def digest_of(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()
