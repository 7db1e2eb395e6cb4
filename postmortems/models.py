"""Postmortems: the blameless review written after an incident, its action items, and the policy
that says when one is required and by when."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse

from incidents.models import Incident, SeverityPolicy, TimelineEvent

# The sections of the seeds' postmortem template (002 and 003) that are free Markdown text, in the
# order the editor and the export show them. The timeline and the five whys are rows of their own.
SECTIONS: dict[str, str] = {
    "summary": "Summary",
    "impact": "Impact",
    "root_cause": "Root cause",
    "resolution": "Resolution",
    "went_well": "What went well",
    "could_improve": "What could be improved",
    "lessons_learned": "Lessons learned",
}


class Requirement(models.TextChoices):
    REQUIRED = "required", "Required"
    OPTIONAL = "optional", "Optional"
    NOT_REQUIRED = "not_required", "Not required"


class PostmortemPolicy(models.Model):
    """Whether an incident of a severity needs a postmortem, and how many business days the team
    has after resolution. Seeded from seed 002 (SEV1/SEV2 within 2 business days); admins edit it."""

    severity = models.OneToOneField(SeverityPolicy, on_delete=models.CASCADE, related_name="postmortem_policy")
    requirement = models.CharField(max_length=16, choices=Requirement.choices, default=Requirement.OPTIONAL)
    business_days = models.PositiveSmallIntegerField(
        default=2, help_text="Business days after resolution (in the team's time zone) until the postmortem is due."
    )
    approval_by_other = models.BooleanField(
        "four eyes",
        default=True,
        help_text="Approval needs a reviewer who neither owns nor edited the postmortem. "
        "Turn off for a team too small for that.",
    )

    class Meta:
        ordering = ["severity__rank"]
        verbose_name_plural = "postmortem policies"

    def __str__(self) -> str:
        return f"{self.severity.key}: {self.get_requirement_display()}"


class Priority(models.TextChoices):
    URGENT = "urgent", "Urgent"
    HIGH = "high", "High"
    MEDIUM = "medium", "Medium"
    LOW = "low", "Low"


class ActionItemDuePolicy(models.Model):
    """Days from creation until an action item of a priority is due."""

    priority = models.CharField(max_length=8, choices=Priority.choices, unique=True)
    days = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["days"]
        verbose_name_plural = "action item due policies"

    def __str__(self) -> str:
        return f"{self.get_priority_display()}: {self.days} days"


class PostmortemStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    IN_REVIEW = "in_review", "In review"
    APPROVED = "approved", "Approved"
    PUBLISHED = "published", "Published"
    NOT_REQUIRED = "not_required", "Not required"


OPEN_POSTMORTEM_STATUSES = [PostmortemStatus.DRAFT, PostmortemStatus.IN_REVIEW, PostmortemStatus.APPROVED]


class Postmortem(models.Model):
    incident = models.OneToOneField(Incident, on_delete=models.CASCADE, related_name="postmortem")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="postmortems_owned"
    )
    reviewers = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="postmortems_reviewing")
    status = models.CharField(max_length=16, choices=PostmortemStatus.choices, default=PostmortemStatus.DRAFT)
    required = models.BooleanField(default=False, help_text="The severity policy required it when it was made.")
    due_on = models.DateField(null=True, blank=True, help_text="In the team's time zone; empty when not required.")
    not_required_reason = models.TextField(blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    published_at = models.DateTimeField(null=True, blank=True)

    # Every save of the text bumps `version`; section_versions maps a section to the version at
    # which it last changed, which is what lets two people's saves merge section by section.
    version = models.PositiveIntegerField(default=1)
    section_versions = models.JSONField(default=dict, blank=True)
    summary = models.TextField(blank=True)
    impact = models.TextField(blank=True)
    root_cause = models.TextField(blank=True)
    resolution = models.TextField(blank=True)
    went_well = models.TextField(blank=True)
    could_improve = models.TextField(blank=True)
    lessons_learned = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "due_on"], name="postmortem_status_due")]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status=PostmortemStatus.NOT_REQUIRED) | ~Q(not_required_reason=""),
                name="postmortem_not_required_has_reason",
            ),
            models.CheckConstraint(
                condition=(Q(status=PostmortemStatus.PUBLISHED) & Q(published_at__isnull=False))
                | ~Q(status=PostmortemStatus.PUBLISHED),
                name="postmortem_published_has_time",
            ),
            models.CheckConstraint(condition=Q(version__gte=1), name="postmortem_version_positive"),
        ]

    def __str__(self) -> str:
        return f"Postmortem for {self.incident_id}"

    def get_absolute_url(self) -> str:
        return reverse("postmortems:editor", kwargs={"reference": self.incident.reference})

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_POSTMORTEM_STATUSES

    @property
    def is_read_only(self) -> bool:
        return self.status in (PostmortemStatus.PUBLISHED, PostmortemStatus.NOT_REQUIRED)

    def sections(self) -> dict[str, str]:
        return {name: getattr(self, name) for name in SECTIONS}


class PostmortemTimelineRow(models.Model):
    """A line of the postmortem's timeline; prefilled from a starred event, then edited freely."""

    postmortem = models.ForeignKey(Postmortem, on_delete=models.CASCADE, related_name="timeline_rows")
    event = models.ForeignKey(TimelineEvent, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    occurred_at = models.DateTimeField()
    text = models.CharField(max_length=500)

    class Meta:
        ordering = ["occurred_at", "id"]

    def __str__(self) -> str:
        return self.text


class FiveWhy(models.Model):
    """One step of the five whys: why? → because."""

    postmortem = models.ForeignKey(Postmortem, on_delete=models.CASCADE, related_name="five_whys")
    position = models.PositiveSmallIntegerField()
    why = models.CharField(max_length=500)
    because = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.why


class ActionKind(models.TextChoices):
    PREVENT = "prevent", "Prevent"
    DETECT = "detect", "Detect"
    MITIGATE = "mitigate", "Mitigate"
    PROCESS = "process", "Process"


class ActionStatus(models.TextChoices):
    OPEN = "open", "Open"
    IN_PROGRESS = "in_progress", "In progress"
    DONE = "done", "Done"
    WONT_DO = "wont_do", "Won't do"


OPEN_ACTION_STATUSES = [ActionStatus.OPEN, ActionStatus.IN_PROGRESS]


class ActionItem(models.Model):
    postmortem = models.ForeignKey(Postmortem, on_delete=models.CASCADE, related_name="action_items")
    title = models.CharField(max_length=200)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="action_items"
    )
    due_on = models.DateField()
    priority = models.CharField(max_length=8, choices=Priority.choices, default=Priority.MEDIUM)
    kind = models.CharField(max_length=8, choices=ActionKind.choices, default=ActionKind.PREVENT)
    status = models.CharField(max_length=12, choices=ActionStatus.choices, default=ActionStatus.OPEN)
    created_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["due_on", "id"]
        indexes = [
            models.Index(fields=["owner", "status", "due_on"], name="action_item_owner_status_due"),
            models.Index(fields=["status", "due_on"], name="action_item_status_due"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=(Q(status__in=OPEN_ACTION_STATUSES) & Q(completed_at__isnull=True))
                | (~Q(status__in=OPEN_ACTION_STATUSES) & Q(completed_at__isnull=False)),
                name="action_item_completed_at_iff_closed",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_ACTION_STATUSES


# The notes of revisions that mark a moment (the prefilled start, publication) rather than someone's
# writing: their author is not an author of the text (four eyes, selectors.postmortem_author_ids).
REVISION_CREATED = "Created"
REVISION_PUBLISHED = "Published"


class PostmortemRevision(models.Model):
    """A snapshot of the text after each save: history, diffs and restore read these."""

    postmortem = models.ForeignKey(Postmortem, on_delete=models.CASCADE, related_name="revisions")
    version = models.PositiveIntegerField()
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+")
    created_at = models.DateTimeField()
    status = models.CharField(max_length=16, choices=PostmortemStatus.choices)
    sections = models.JSONField(default=dict)
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-version"]
        constraints = [
            models.UniqueConstraint(fields=["postmortem", "version"], name="postmortem_revision_once_per_version")
        ]

    def __str__(self) -> str:
        return f"Postmortem {self.postmortem_id} v{self.version}"
