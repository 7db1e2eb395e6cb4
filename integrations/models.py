"""Alerts in (sources, rules, alerts, refused payloads) and webhooks out (subscriptions and the
deliveries made for them)."""

import hashlib

from django.conf import settings
from django.db import models
from django.db.models import Q

from core.outbound import url_host
from notifications.models import WebhookFormat


class SourceKind(models.TextChoices):
    ALERTMANAGER = "alertmanager", "Prometheus Alertmanager"
    GENERIC = "generic", "Generic JSON webhook"


class AlertSource(models.Model):
    """A tool that sends alerts, with its own bearer token. Only a SHA-256 digest of the token is
    stored (as for incidents.ApiToken); the token is shown once, when it is made."""

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=16, choices=SourceKind.choices, default=SourceKind.ALERTMANAGER)
    digest = models.CharField(max_length=64, unique=True, editable=False)
    prefix = models.CharField(max_length=12, editable=False, help_text="The first characters, to tell tokens apart.")
    dedup_window_seconds = models.PositiveIntegerField(
        default=300, help_text="The same alert with the same status within this many seconds is recorded once."
    )
    rate_limit_per_minute = models.PositiveIntegerField(
        default=60, help_text="Requests accepted per minute; more get 429 with Retry-After."
    )
    default_severity = models.ForeignKey(
        "incidents.SeverityPolicy",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="When no rule names a severity; empty means the least severe.",
    )
    incident_lead = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Who leads the incidents this source opens; empty means the 'alerts' system user.",
    )
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=Q(rate_limit_per_minute__gte=1), name="alert_source_rate_limit_positive"),
        ]

    def __str__(self) -> str:
        return self.name

    @staticmethod
    def digest_of(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()


class AlertRule(models.Model):
    """Labels → severity and service. Rules are tried by `order`; the first whose matchers all
    match decides. Matchers are exact label values ({"severity": "critical"})."""

    name = models.CharField(max_length=100)
    source = models.ForeignKey(
        AlertSource, on_delete=models.CASCADE, null=True, blank=True, related_name="rules", help_text="Empty: any."
    )
    matchers = models.JSONField(
        default=dict, blank=True, help_text='Exact label values, e.g. {"severity": "critical"}; empty matches all.'
    )
    severity = models.ForeignKey(
        "incidents.SeverityPolicy", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    service = models.ForeignKey("incidents.Service", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    order = models.PositiveIntegerField(default=100)
    auto_resolve = models.BooleanField(
        default=False, help_text="Resolve the incident once every alert of its group has resolved."
    )

    class Meta:
        ordering = ["order", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(severity__isnull=False) | Q(service__isnull=False) | Q(auto_resolve=True),
                name="alert_rule_does_something",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def matches(self, labels: dict[str, str]) -> bool:
        return all(labels.get(str(key)) == str(value) for key, value in (self.matchers or {}).items())


class AlertStatus(models.TextChoices):
    FIRING = "firing", "Firing"
    RESOLVED = "resolved", "Resolved"


class Alert(models.Model):
    """The latest we heard of one alert (one fingerprint) from one source."""

    source = models.ForeignKey(AlertSource, on_delete=models.CASCADE, related_name="alerts")
    fingerprint = models.CharField(max_length=200)
    group_key = models.CharField(max_length=1000)
    name = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=16, choices=AlertStatus.choices)
    labels = models.JSONField(default=dict, blank=True)
    annotations = models.JSONField(default=dict, blank=True)
    starts_at = models.DateTimeField(null=True, blank=True)
    ends_at = models.DateTimeField(null=True, blank=True)
    generator_url = models.CharField(max_length=1000, blank=True)
    incident = models.ForeignKey(
        "incidents.Incident", on_delete=models.SET_NULL, null=True, blank=True, related_name="alerts"
    )
    rule = models.ForeignKey(AlertRule, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    first_received_at = models.DateTimeField()
    last_received_at = models.DateTimeField()
    recorded_at = models.DateTimeField(help_text="When its status last went on the timeline.")
    times_received = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["-last_received_at"]
        constraints = [
            models.UniqueConstraint(fields=["source", "fingerprint"], name="alert_once_per_source_fingerprint"),
        ]
        indexes = [models.Index(fields=["source", "group_key"], name="alert_source_group")]

    def __str__(self) -> str:
        return f"{self.name or self.fingerprint} ({self.status})"


class RejectedPayload(models.Model):
    """A request the alert endpoints refused, kept for the admin: nothing is dropped silently."""

    source = models.ForeignKey(AlertSource, on_delete=models.SET_NULL, null=True, blank=True, related_name="rejected")
    endpoint = models.CharField(max_length=32)
    status_code = models.PositiveSmallIntegerField()
    reason = models.TextField()
    body_excerpt = models.TextField(blank=True)
    received_at = models.DateTimeField()

    class Meta:
        ordering = ["-received_at"]
        indexes = [models.Index(fields=["-received_at"], name="rejected_received")]

    def __str__(self) -> str:
        return f"{self.status_code} {self.reason[:60]}"


class WebhookEvent(models.TextChoices):
    DECLARED = "declared", "Incident declared"
    SEVERITY_CHANGED = "severity_changed", "Severity changed"
    UPDATE_POSTED = "update_posted", "Status update posted"
    RESOLVED = "resolved", "Incident resolved"
    POSTMORTEM_PUBLISHED = "postmortem_published", "Postmortem published"


class WebhookSubscription(models.Model):
    """A team's endpoint for incident events, signed with its secret (HMAC-SHA256)."""

    team = models.CharField(max_length=100)
    url = models.URLField(max_length=500)
    secret = models.CharField(max_length=200, help_text="Signs every body: X-IncidentDesk-Signature.")
    events = models.JSONField(default=list, blank=True, help_text="Event names; empty means every event.")
    include_internal_updates = models.BooleanField(
        default=False, help_text="Also send internal status updates (public ones are always sent)."
    )
    body_format = models.CharField(max_length=8, choices=WebhookFormat.choices, default=WebhookFormat.JSON)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["team", "pk"]

    def __str__(self) -> str:
        return f"{self.team} → {url_host(self.url)}"  # the URL is a credential

    def wants(self, event: str) -> bool:
        return not self.events or event in self.events


class WebhookDelivery(models.Model):
    """Which notification delivery went to which subscription: the admin's delivery log, and how
    the sender finds the secret to sign with."""

    subscription = models.ForeignKey(WebhookSubscription, on_delete=models.CASCADE, related_name="deliveries")
    delivery = models.OneToOneField("notifications.Delivery", on_delete=models.CASCADE, related_name="+")
    event = models.CharField(max_length=32, choices=WebhookEvent.choices)
    incident = models.ForeignKey("incidents.Incident", on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name_plural = "webhook deliveries"

    def __str__(self) -> str:
        return f"{self.get_event_display()} to {self.subscription}"
