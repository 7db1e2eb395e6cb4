"""Escalation policies (who is paged, in which order, how long each level waits for an
acknowledgement), the escalations running for incidents, and the pages sent."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from core.outbound import url_host
from notifications.models import WebhookFormat


class EscalationPolicy(models.Model):
    """A team's ordered levels. Each level pages its people and waits its delay for someone to
    acknowledge; then the next level is paged. After the last level the policy starts again from
    the first, `repeat` more times."""

    team = models.OneToOneField("incidents.Team", on_delete=models.CASCADE, related_name="escalation_policy")
    name = models.CharField(max_length=100)
    repeat = models.PositiveSmallIntegerField(
        default=0, help_text="How many more times to go through the levels when nobody acknowledges (0 to 9)."
    )
    fallback_contact = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="Paged when a level finds nobody on call, and takes reminders nobody on call could.",
    )
    webhook_url = models.URLField(
        max_length=500,
        blank=True,
        help_text="The team's channel: told who is paged at each level (never the personal acknowledge links).",
    )
    webhook_format = models.CharField(max_length=8, choices=WebhookFormat.choices, default=WebhookFormat.SLACK)

    class Meta:
        ordering = ["team__name"]
        verbose_name_plural = "escalation policies"
        constraints = [models.CheckConstraint(condition=Q(repeat__lte=9), name="escalation_repeat_at_most_9")]

    def __str__(self) -> str:
        return self.name

    @property
    def webhook_host(self) -> str:
        return url_host(self.webhook_url)  # the URL is a credential


class EscalationLevel(models.Model):
    """Page whoever the schedule puts on call and/or the named people, then wait `delay_minutes`."""

    policy = models.ForeignKey(EscalationPolicy, on_delete=models.CASCADE, related_name="levels")
    position = models.PositiveSmallIntegerField(help_text="1 is paged first.")
    delay_minutes = models.PositiveIntegerField(
        default=5, help_text="Minutes to wait for an acknowledgement before the next level is paged."
    )
    schedule = models.ForeignKey(
        "oncall.Schedule",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Page whoever it puts on call at the time.",
    )
    users = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+", help_text="Page them too.")

    class Meta:
        ordering = ["policy", "position"]
        constraints = [
            models.UniqueConstraint(fields=["policy", "position"], name="escalation_level_position_unique"),
            models.CheckConstraint(condition=Q(position__gte=1), name="escalation_level_position_positive"),
            models.CheckConstraint(
                condition=Q(delay_minutes__gte=1) & Q(delay_minutes__lte=24 * 60), name="escalation_level_delay_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.policy} level {self.position}"


class Escalation(models.Model):
    """One policy escalating one incident: which level is paged next, and when. The sweep claims
    due rows with SELECT … FOR UPDATE SKIP LOCKED; an acknowledgement, a resolution or the last
    round stops it."""

    incident = models.ForeignKey("incidents.Incident", on_delete=models.CASCADE, related_name="escalations")
    policy = models.ForeignKey(EscalationPolicy, on_delete=models.CASCADE, related_name="escalations")
    started_at = models.DateTimeField()
    next_index = models.PositiveSmallIntegerField(default=0, help_text="The next level, counted from 0.")
    next_round = models.PositiveSmallIntegerField(default=0)
    next_at = models.DateTimeField(null=True, blank=True)
    stopped_at = models.DateTimeField(null=True, blank=True)
    stop_reason = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["-started_at"]
        constraints = [
            models.UniqueConstraint(fields=["incident", "policy"], name="escalation_once_per_incident_and_policy"),
        ]
        indexes = [
            models.Index(fields=["next_at"], name="escalation_due", condition=Q(stopped_at__isnull=True)),
        ]

    def __str__(self) -> str:
        return f"{self.policy} for incident {self.incident_id}"


class Page(models.Model):
    """One person paged for one incident at one level of one round. Recorded (recorded_at) before
    anyone is told, told once (told_at) — the unique constraint is the promise that nobody is
    paged twice for the same rung."""

    incident = models.ForeignKey("incidents.Incident", on_delete=models.CASCADE, related_name="pages", db_index=False)
    escalation = models.ForeignKey(Escalation, on_delete=models.CASCADE, related_name="pages")
    level = models.PositiveSmallIntegerField(help_text="The level's position.")
    round = models.PositiveSmallIntegerField(default=0)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="pages")
    fallback = models.BooleanField(default=False, help_text="Paged as the fallback contact: nobody was on call.")
    recorded_at = models.DateTimeField()
    told_at = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    link_used_at = models.DateTimeField(null=True, blank=True, help_text="Its acknowledge link works once.")

    class Meta:
        ordering = ["recorded_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["incident", "level", "round", "user"], name="page_once_per_rung_and_person"
            ),
        ]
        indexes = [models.Index(fields=["recorded_at"], name="page_untold", condition=Q(told_at__isnull=True))]

    def __str__(self) -> str:
        return f"Page to {self.user} for incident {self.incident_id} (level {self.level}, round {self.round + 1})"
