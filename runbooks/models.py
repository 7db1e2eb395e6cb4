from datetime import date, timedelta

from django.conf import settings
from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.db.models import Q
from django.urls import reverse

from incidents.models import Incident, Service


class RunbookKind(models.TextChoices):
    INCIDENT = "incident", "Incident runbook"
    OPERATIONAL = "operational", "Operational runbook"


class RunbookSeverity(models.TextChoices):
    """The seeds' runbook severity (Critical … Low); not the incident severity policy, which is
    the incident's own business."""

    CRITICAL = "critical", "Critical"
    HIGH = "high", "High"
    MEDIUM = "medium", "Medium"
    LOW = "low", "Low"


class ReviewInterval(models.IntegerChoices):
    """Days between reviews (seed 003: runbook review frequency)."""

    MONTHLY = 30, "Monthly"
    QUARTERLY = 91, "Quarterly"
    HALF_YEARLY = 182, "Every six months"
    YEARLY = 365, "Yearly"


class Runbook(models.Model):
    title = models.CharField(max_length=200)
    slug = models.SlugField(max_length=200, unique=True, help_text="Stable address: /runbooks/<slug>/")
    kind = models.CharField(max_length=16, choices=RunbookKind.choices, default=RunbookKind.INCIDENT)
    category = models.CharField(max_length=100, blank=True, help_text="Groups the index, e.g. Database.")
    services = models.ManyToManyField(Service, blank=True, related_name="runbooks")
    severity = models.CharField(max_length=16, choices=RunbookSeverity.choices, blank=True)
    owner = models.CharField(max_length=200, blank=True, help_text="A team or a person.")
    owner_team = models.ForeignKey(
        "incidents.Team",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="runbooks",
        help_text="The team that owns it; the owner text stays for a person or a team not in the catalog.",
    )
    response_time = models.CharField(max_length=100, blank=True)
    alert_names = models.JSONField(default=list, blank=True)
    extra_metadata = models.JSONField(default=list, blank=True)

    summary = models.TextField("Plain English summary", blank=True)
    symptoms = models.TextField(blank=True)
    impact = models.TextField(blank=True)
    prerequisites = models.TextField(blank=True, help_text="Access, tools with versions, permissions.")
    assessment = models.TextField("Initial assessment", blank=True)
    steps_intro = models.TextField("Before the steps", blank=True)
    verification = models.TextField(blank=True)
    communication = models.TextField(blank=True)
    rollback = models.TextField("Rollback procedure", blank=True)
    escalation = models.TextField(blank=True)
    root_cause = models.TextField("Root cause investigation", blank=True)
    post_incident = models.TextField("Post-incident actions", blank=True)
    assumptions = models.TextField(blank=True)
    failure_modes = models.TextField(blank=True)
    how_to_test = models.TextField("How to test this runbook", blank=True)
    automation = models.TextField("Automation candidates", blank=True)
    related_links = models.TextField(blank=True)
    notes = models.TextField(blank=True)
    extra_sections = models.JSONField(default=list, blank=True)

    last_tested = models.DateField(null=True, blank=True)
    review_interval_days = models.PositiveIntegerField(choices=ReviewInterval.choices, default=ReviewInterval.QUARTERLY)
    # Written by the service from last_tested (or creation) and the interval, so the stale list
    # is an indexed comparison.
    review_due_on = models.DateField(db_index=True)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Kept current by runbooks.services on every write (PostgreSQL; empty on SQLite). The GIN
    # index is created by migration 0002 on PostgreSQL only.
    search_vector = SearchVectorField(null=True, editable=False)
    # Seed 004's completeness score without the review finding (which changes with the date, not
    # with a save): written by runbooks.services on every write and finished drill, so the index
    # sorts and filters 5,000 runbooks by an indexed column. runbooks.completeness has the rules.
    completeness_score = models.PositiveSmallIntegerField(default=0, db_index=True, editable=False)

    class Meta:
        ordering = ["kind", "category", "title"]
        permissions = [("edit", "Can write, import, edit and restore runbooks")]
        constraints = [models.CheckConstraint(condition=Q(version__gte=1), name="runbook_version_positive")]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("runbooks:detail", args=[self.slug])

    def is_review_overdue(self, today: date | None = None) -> bool:
        return self.review_due_on < (today or date.today())

    @property
    def review_due_from(self) -> date:
        return self.last_tested or self.created_at.date()

    def compute_review_due(self) -> date:
        return self.review_due_from + timedelta(days=self.review_interval_days)


class RunbookStep(models.Model):
    runbook = models.ForeignKey(Runbook, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveIntegerField()
    title = models.CharField(max_length=300)
    goal = models.TextField(blank=True)
    details = models.TextField(blank=True)
    commands = models.TextField(blank=True)
    commands_language = models.CharField(max_length=30, blank=True)
    expected_output = models.TextField(blank=True)
    success_criteria = models.TextField(blank=True)
    if_fails = models.TextField("If this doesn't work", blank=True)

    class Meta:
        ordering = ["runbook", "position"]
        constraints = [models.UniqueConstraint(fields=["runbook", "position"], name="runbook_step_position_unique")]

    def __str__(self) -> str:
        return f"Step {self.position}: {self.title}"


class RunbookRevision(models.Model):
    """One saved version: the whole runbook as runbooks.markdown_format.RunbookData, so a diff is
    two exports and a restore is one import."""

    runbook = models.ForeignKey(Runbook, on_delete=models.CASCADE, related_name="revisions")
    version = models.PositiveIntegerField()
    created_at = models.DateTimeField()
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    change_note = models.CharField(max_length=300, blank=True)
    snapshot = models.JSONField()

    class Meta:
        ordering = ["runbook", "-version"]
        constraints = [models.UniqueConstraint(fields=["runbook", "version"], name="runbook_revision_unique")]

    def __str__(self) -> str:
        return f"{self.runbook} v{self.version}"


class RunbookRun(models.Model):
    """A runbook worked through as a checklist: attached to an incident, or a drill without one."""

    runbook = models.ForeignKey(Runbook, on_delete=models.CASCADE, related_name="runs")
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, null=True, blank=True, related_name="runbook_runs")
    runbook_version = models.PositiveIntegerField()
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["started_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["incident", "runbook"],
                condition=Q(incident__isnull=False),
                name="runbook_run_once_per_incident",
            )
        ]

    def __str__(self) -> str:
        return f"{self.runbook} on {self.incident or 'drill'}"

    def get_absolute_url(self) -> str:
        return reverse("runbooks:run", args=[self.pk])

    @property
    def is_drill(self) -> bool:
        return self.incident_id is None


class StepOutcome(models.TextChoices):
    PENDING = "pending", "Not done yet"
    DONE = "done", "Done"
    SKIPPED = "skipped", "Skipped"
    FAILED = "failed", "Failed"


class RunStep(models.Model):
    """A checklist line; the step's title is copied so later edits to the runbook do not rewrite
    what the team did."""

    run = models.ForeignKey(RunbookRun, on_delete=models.CASCADE, related_name="steps")
    step = models.ForeignKey(RunbookStep, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    position = models.PositiveIntegerField()
    title = models.CharField(max_length=300)
    outcome = models.CharField(max_length=16, choices=StepOutcome.choices, default=StepOutcome.PENDING)
    note = models.TextField(blank=True)
    output = models.TextField(blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    recorded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["run", "position"]
        constraints = [
            models.UniqueConstraint(fields=["run", "position"], name="run_step_position_unique"),
            models.CheckConstraint(
                condition=Q(outcome=StepOutcome.PENDING, recorded_at__isnull=True, recorded_by__isnull=True)
                | (~Q(outcome=StepOutcome.PENDING) & Q(recorded_at__isnull=False, recorded_by__isnull=False)),
                name="run_step_recorded_exactly_when_not_pending",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.position}. {self.title} ({self.outcome})"


class SearchSynonym(models.Model):
    """Words the team uses for the same thing ("payments ~ checkout ~ pay"): a search for one
    also finds runbooks that say another. Edited in the admin; seeded by migration 0004."""

    terms = models.CharField(
        max_length=300,
        unique=True,
        help_text="Two or more words or phrases separated by ~, e.g. slow ~ latency ~ response time.",
    )

    class Meta:
        ordering = ["terms"]

    def __str__(self) -> str:
        return self.terms
