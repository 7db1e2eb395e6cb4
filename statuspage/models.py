"""The public status page: components tied to the service catalog, their status and its history,
maintenance windows, email subscribers and the page's look."""

import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q

from incidents.models import Incident, Service, SeverityPolicy


class ComponentStatus(models.TextChoices):
    OPERATIONAL = "operational", "Operational"
    UNDER_MAINTENANCE = "under_maintenance", "Under maintenance"
    DEGRADED_PERFORMANCE = "degraded_performance", "Degraded performance"
    PARTIAL_OUTAGE = "partial_outage", "Partial outage"
    MAJOR_OUTAGE = "major_outage", "Major outage"


# How bad each status is, for "the worst wins": maintenance is planned, so any real trouble
# during a window still shows.
STATUS_RANK = {
    ComponentStatus.OPERATIONAL: 0,
    ComponentStatus.UNDER_MAINTENANCE: 1,
    ComponentStatus.DEGRADED_PERFORMANCE: 2,
    ComponentStatus.PARTIAL_OUTAGE: 3,
    ComponentStatus.MAJOR_OUTAGE: 4,
}


def worst_status(*statuses: str) -> str:
    return max(statuses, key=lambda status: STATUS_RANK[ComponentStatus(status)], default=ComponentStatus.OPERATIONAL)


class ComponentGroup(models.Model):
    name = models.CharField(max_length=100, unique=True)
    position = models.PositiveSmallIntegerField(default=0, help_text="Groups are listed by this, then by name.")

    class Meta:
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return self.name


class Component(models.Model):
    """What customers see of a service. `status` is what the page shows apart from maintenance: the
    worst of what a responder set (`manual_status`) and what active public incidents imply."""

    name = models.CharField(max_length=100, unique=True)
    description = models.CharField(max_length=255, blank=True)
    group = models.ForeignKey(
        ComponentGroup, on_delete=models.SET_NULL, null=True, blank=True, related_name="components"
    )
    service = models.ForeignKey(Service, on_delete=models.PROTECT, related_name="status_components")
    position = models.PositiveSmallIntegerField(default=0)
    manual_status = models.CharField(
        max_length=24,
        choices=ComponentStatus.choices,
        default=ComponentStatus.OPERATIONAL,
        help_text="Set by responders; incidents can only make the shown status worse.",
    )
    status = models.CharField(
        max_length=24, choices=ComponentStatus.choices, default=ComponentStatus.OPERATIONAL, editable=False
    )
    status_changed_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return self.name


class SeverityImpact(models.Model):
    """Policy as data: which component status an active public incident of a severity implies."""

    severity = models.OneToOneField(SeverityPolicy, on_delete=models.CASCADE, related_name="status_page_impact")
    component_status = models.CharField(max_length=24, choices=ComponentStatus.choices)

    class Meta:
        ordering = ["severity__rank"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(component_status=ComponentStatus.OPERATIONAL), name="impact_is_not_operational"
            )
        ]

    def __str__(self) -> str:
        return f"{self.severity.key} → {self.get_component_status_display()}"


class ComponentStatusChange(models.Model):
    """Every change of a component's status, for the 90-day history."""

    component = models.ForeignKey(Component, on_delete=models.CASCADE, related_name="changes")
    changed_at = models.DateTimeField()
    previous_status = models.CharField(max_length=24, choices=ComponentStatus.choices)
    status = models.CharField(max_length=24, choices=ComponentStatus.choices)
    incident = models.ForeignKey(Incident, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-changed_at", "-id"]
        indexes = [models.Index(fields=["changed_at"], name="component_change_at")]

    def __str__(self) -> str:
        return f"{self.component} {self.previous_status} → {self.status}"


class MaintenanceWindow(models.Model):
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    components = models.ManyToManyField(Component, related_name="maintenance_windows")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["starts_at"]
        indexes = [models.Index(fields=["ends_at"], name="maintenance_ends_at")]
        constraints = [
            models.CheckConstraint(condition=Q(ends_at__gt=models.F("starts_at")), name="maintenance_ends_after_start")
        ]

    def __str__(self) -> str:
        return self.title


class StatusPageSettings(models.Model):
    """The page's look; one row (pk 1)."""

    title = models.CharField(max_length=100, default="System status")
    logo_url = models.URLField(blank=True, help_text="Shown in the header; or upload a logo below.")
    logo = models.FileField(upload_to="statuspage/", blank=True)
    brand_colour = models.CharField(max_length=7, default="#1f4fd1", help_text="Header colour, e.g. #1f4fd1.")
    text_colour = models.CharField(max_length=7, default="#ffffff", help_text="Header text colour.")

    class Meta:
        verbose_name = verbose_name_plural = "status page settings"
        constraints = [
            models.CheckConstraint(condition=Q(id=1), name="status_page_settings_singleton"),
            models.CheckConstraint(condition=Q(brand_colour__regex=r"^#[0-9a-fA-F]{6}$"), name="brand_colour_hex"),
            models.CheckConstraint(condition=Q(text_colour__regex=r"^#[0-9a-fA-F]{6}$"), name="text_colour_hex"),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def logo_src(self) -> str:
        return self.logo.url if self.logo else self.logo_url


def new_token() -> str:
    return secrets.token_urlsafe(24)


class Subscriber(models.Model):
    """An email address told of public incidents once it confirmed (double opt-in)."""

    email = models.EmailField(unique=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    confirm_token = models.CharField(max_length=64, unique=True, default=new_token)
    unsubscribe_token = models.CharField(max_length=64, unique=True, default=new_token)
    created_at = models.DateTimeField()
    # When the last confirmation link was mailed: at most one an hour (statuspage.services).
    confirmation_sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["email"]

    def __str__(self) -> str:
        return self.email

    @property
    def is_confirmed(self) -> bool:
        return self.confirmed_at is not None


class ConfirmationSent(models.Model):
    """A confirmation mail sent for a subscription request from this client address, kept for an
    hour: strangers' requests are bounded per address in PostgreSQL, so a Redis outage lifts no
    limit."""

    client_ip = models.GenericIPAddressField()
    sent_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["client_ip", "sent_at"]), models.Index(fields=["sent_at"])]

    def __str__(self) -> str:
        return f"{self.client_ip} at {self.sent_at:%Y-%m-%d %H:%M}"
