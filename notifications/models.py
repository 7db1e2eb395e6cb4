"""Messages and their deliveries. This app tells people things; it knows nothing of incidents."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from core.outbound import url_host


class Channel(models.TextChoices):
    IN_APP = "in_app", "In-app"
    EMAIL = "email", "Email"
    WEBHOOK = "webhook", "Webhook"


class WebhookFormat(models.TextChoices):
    JSON = "json", "JSON"
    SLACK = "slack", "Slack-compatible"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"


class Message(models.Model):
    """One thing to tell people. `dedup_key` makes sending idempotent: the same key twice is the
    same message, never a second one."""

    dedup_key = models.CharField(max_length=200)
    topic = models.CharField(
        max_length=100, blank=True, help_text="An opaque label of what the message is about, e.g. INC-0042."
    )
    subject = models.CharField(max_length=255)
    body_text = models.TextField()
    body_html = models.TextField(blank=True)
    link = models.CharField(max_length=500, blank=True)
    payload = models.JSONField(default=dict, blank=True, help_text="Structured data for webhooks.")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at"]
        # A constraint rather than unique=True, which would add a second (LIKE) index nobody uses.
        constraints = [models.UniqueConstraint(fields=["dedup_key"], name="message_dedup_key_unique")]

    def __str__(self) -> str:
        return self.subject

    @property
    def link_here(self) -> str:
        """The link for a page of this site: emails and webhooks need SITE_URL's absolute address,
        but in the app, served under whatever address the reader used, the path is what works."""
        if self.link.startswith(settings.SITE_URL + "/"):
            return self.link[len(settings.SITE_URL) :]
        return self.link


class Delivery(models.Model):
    """One message to one recipient through one channel. Unique, so a retried sweep or task can
    never make a second one; its status says whether it went out."""

    # Indexed by delivery_once_per_target, which starts with the message.
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="deliveries", db_index=False)
    channel = models.CharField(max_length=16, choices=Channel.choices)
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True, related_name="deliveries"
    )
    target = models.CharField(
        max_length=500, help_text="Where it goes: user:<id> in the app, an email address, or a webhook URL."
    )
    webhook_format = models.CharField(max_length=8, choices=WebhookFormat.choices, blank=True)
    status = models.CharField(max_length=8, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField()
    queued_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "deliveries"
        constraints = [
            models.UniqueConstraint(fields=["message", "channel", "target"], name="delivery_once_per_target"),
            models.CheckConstraint(
                condition=~Q(status=DeliveryStatus.SENT) | Q(sent_at__isnull=False), name="delivery_sent_has_time"
            ),
        ]
        indexes = [
            models.Index(
                fields=["recipient", "channel", "read_at"],
                name="delivery_unread",
                condition=Q(channel=Channel.IN_APP),
            ),
            models.Index(fields=["queued_at"], name="delivery_pending", condition=Q(status=DeliveryStatus.PENDING)),
        ]

    def __str__(self) -> str:
        # A webhook's URL is a credential: named by its host.
        target = url_host(self.target) if self.channel == Channel.WEBHOOK else self.target
        return f"{self.get_channel_display()} to {target or self.recipient_id}: {self.status}"


class ChannelPreference(models.Model):
    """Which channels reach a user. In-app always does; email by default too; their own webhook
    (a Slack or generic endpoint) when they give one. The URL is a credential: written, never read
    back; people see its host."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="channel_preference")
    email = models.BooleanField(default=True)
    webhook_url = models.URLField(max_length=500, blank=True, help_text="The person's own webhook.")
    webhook_format = models.CharField(max_length=8, choices=WebhookFormat.choices, default=WebhookFormat.SLACK)

    def __str__(self) -> str:
        return f"Channels of {self.user}"

    @property
    def webhook_host(self) -> str:
        return url_host(self.webhook_url) if self.webhook_url else ""
