"""Sending messages: in-app at once, email and webhook through Celery after the transaction commits.

Every message has a dedup key and every delivery is unique per (message, channel, target), so
asking twice never records twice. A delivery task locks its row while it sends, so two workers
never send it at once, and commits it as sent right after the mail backend or the webhook has
taken the message, so a killed worker never loses it: delivery is at least once, and the stable
Message-ID / Idempotency-Key lets receivers drop the rare repeat (senders.py). A final failure is
handed to the failure handlers other apps register (notifications.registry; the incident app
puts it on the timeline), not lost.
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from config.bulk import insert_rows
from core.outbound import outbound_url_check
from core.text import plain_text, single_line
from notifications import errors, registry, senders
from notifications.models import Channel, ChannelPreference, Delivery, DeliveryStatus, Message, WebhookFormat

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
# A pending delivery still unsent this long after it was due to run is queued again (its broker
# message may have been lost with a restarted Redis or a killed worker); the row lock and the
# status check make a second queueing harmless.
REQUEUE_AFTER = timedelta(seconds=20)
# Deliveries go to the broker in batches: one message per delivery would make a sweep of
# thousands of reminders wait on thousands of broker round trips. A batch is a few seconds of
# sending at most, well inside the broker's visibility timeout.
QUEUE_BATCH = 100


@dataclass(slots=True)
class Outgoing:
    """What to say, and to whom. Recipients are users (in-app, email unless they opted out, and
    their own webhook when they gave one); emails are bare addresses of people without an account
    (email only); webhooks are (url, format) pairs of shared channels."""

    dedup_key: str
    subject: str
    body_text: str
    body_html: str = ""
    link: str = ""
    topic: str = ""
    payload: dict = field(default_factory=dict)
    recipients: Sequence[AbstractBaseUser] = ()
    emails: Sequence[str] = ()
    webhooks: Sequence[tuple[str, str]] = ()


def _reach(users: Sequence[AbstractBaseUser]) -> tuple[set[int], dict[int, tuple[str, str]]]:
    """Who gets email (everyone with an address who did not opt out), and each person's own
    webhook as (url, format): one query."""
    preferences = ChannelPreference.objects.filter(user__in=[u.pk for u in users]).filter(
        Q(email=False) | ~Q(webhook_url="")
    )
    opted_out, hooks = set(), {}
    for user_id, email, url, webhook_format in preferences.values_list(
        "user_id", "email", "webhook_url", "webhook_format"
    ):
        if not email:
            opted_out.add(user_id)
        if url:
            hooks[user_id] = (url, webhook_format)
    return {user.id for user in users if user.id not in opted_out and getattr(user, "email", "")}, hooks


DELIVERY_FIELDS = [
    "message",
    "channel",
    "recipient",
    "target",
    "webhook_format",
    "status",
    "attempts",
    "last_error",
    "created_at",
    "queued_at",
    "sent_at",
    "read_at",
]
STATUS_COLUMN = DELIVERY_FIELDS.index("status")


def _pending_tail(now: datetime) -> tuple:
    """status … read_at of a delivery still to send."""
    return (DeliveryStatus.PENDING, 0, "", now, now, None, None)


@transaction.atomic
def messages_send(*, outgoing: Sequence[Outgoing], now: datetime | None = None) -> list[int]:
    """Record many messages with their deliveries in a fixed number of queries, whatever their
    number, and queue the email and webhook deliveries once the transaction commits. A message
    whose dedup key is already recorded is skipped: its deliveries were recorded with it. Returns
    the ids of the email and webhook deliveries this call queued (a repeated call queues none)."""
    if not outgoing:
        return []
    now = now or timezone.now()
    known = set(
        Message.objects.filter(dedup_key__in=[item.dedup_key for item in outgoing]).values_list("dedup_key", flat=True)
    )
    fresh: dict[str, Outgoing] = {}
    for item in outgoing:
        if item.dedup_key not in known:
            fresh.setdefault(item.dedup_key, item)
    if not fresh:
        return []
    message_ids = insert_rows(
        Message,
        ["dedup_key", "topic", "subject", "body_text", "body_html", "link", "payload", "created_at"],
        [
            (
                item.dedup_key,
                item.topic,
                single_line(item.subject)[:255],  # a newline would fail every email
                plain_text(item.body_text),  # mail, in-app and webhook text alike
                item.body_html,
                item.link,
                item.payload,
                now,
            )
            for item in fresh.values()
        ],
    )
    email_ok, own_hooks = _reach(list({user.id: user for item in fresh.values() for user in item.recipients}.values()))
    rows: dict[tuple, tuple] = {}
    for message_id, item in zip(message_ids, fresh.values(), strict=True):
        for user in item.recipients:
            target = f"user:{user.id}"
            rows.setdefault(
                (message_id, Channel.IN_APP, target),
                (message_id, Channel.IN_APP, user.id, target, "", DeliveryStatus.SENT, 1, "", now, None, now, None),
            )
            if user.id in email_ok:
                rows.setdefault(
                    (message_id, Channel.EMAIL, user.email),
                    (
                        message_id,
                        Channel.EMAIL,
                        user.id,
                        user.email,
                        "",
                        DeliveryStatus.PENDING,
                        0,
                        "",
                        now,
                        now,
                        None,
                        None,
                    ),
                )
            if user.id in own_hooks:
                url, webhook_format = own_hooks[user.id]
                rows.setdefault(
                    (message_id, Channel.WEBHOOK, url),
                    (message_id, Channel.WEBHOOK, user.id, url, webhook_format, *_pending_tail(now)),
                )
        for address in item.emails:
            rows.setdefault(
                (message_id, Channel.EMAIL, address),
                (message_id, Channel.EMAIL, None, address, "", DeliveryStatus.PENDING, 0, "", now, now, None, None),
            )
        for url, webhook_format in item.webhooks:
            rows.setdefault(
                (message_id, Channel.WEBHOOK, url),
                (
                    message_id,
                    Channel.WEBHOOK,
                    None,
                    url,
                    webhook_format or WebhookFormat.JSON,
                    DeliveryStatus.PENDING,
                    0,
                    "",
                    now,
                    now,
                    None,
                    None,
                ),
            )
    delivery_ids = insert_rows(Delivery, DELIVERY_FIELDS, list(rows.values()))
    created = [
        pk for pk, row in zip(delivery_ids, rows.values(), strict=True) if row[STATUS_COLUMN] == DeliveryStatus.PENDING
    ]
    _queue_after_commit(created)
    return created


def _queue_after_commit(delivery_ids: Sequence[int]) -> None:
    if not delivery_ids:
        return
    from notifications.tasks import deliver_batch

    ids = list(delivery_ids)

    def queue() -> None:
        for start in range(0, len(ids), QUEUE_BATCH):
            batch = ids[start : start + QUEUE_BATCH]
            # argsrepr: Celery would otherwise format every id list for its logs on each publish.
            deliver_batch.apply_async((batch,), argsrepr=f"({len(batch)} deliveries {batch[0]}…)")

    # robust: with the broker down the write stands and the answer is not an error; a sweep
    # queues the work again once the broker is back.
    transaction.on_commit(queue, robust=True)


@dataclass(frozen=True)
class Attempt:
    outcome: str  # "sent", "already", "retry", "failed"
    attempts: int = 0
    retry_in: int = 0  # seconds, when the outcome is "retry"


def delivery_attempt(*, delivery_id: int) -> Attempt:
    """Send one pending delivery: at least once, never lost.

    The row stays locked while the message is sent, so a second worker holding the same task
    waits and then finds it sent. The delivery is committed as sent right after the backend
    returns, that is once the receiver has taken the message; a refusal or an error leaves it
    pending with a retry planned. A worker killed between the backend's return and the commit
    leaves it pending too, and it goes out again with the same Message-ID or Idempotency-Key
    (senders.py), by which the receiver can drop the repeat."""
    with transaction.atomic():
        delivery = (
            Delivery.objects.select_for_update(of=("self",))
            .select_related("message", "recipient")
            .filter(pk=delivery_id)
            .first()
        )
        if delivery is None or delivery.status != DeliveryStatus.PENDING:
            return Attempt("already")
        delivery.attempts += 1
        try:
            senders.SENDERS[delivery.channel](delivery)
        except Exception as error:
            return _attempt_failed(delivery, error)
        delivery.status = DeliveryStatus.SENT
        delivery.sent_at = timezone.now()
        delivery.save(update_fields=["attempts", "status", "sent_at"])
    return Attempt("sent", delivery.attempts)


def _attempt_failed(delivery: Delivery, error: Exception) -> Attempt:
    reason = str(error) if isinstance(error, senders.DeliveryRefused) else f"{type(error).__name__}: {error}"
    delivery.last_error = reason[:1000]
    logger.warning("delivery %s attempt %s failed: %s", delivery.pk, delivery.attempts, delivery.last_error)
    if delivery.attempts >= MAX_ATTEMPTS:
        delivery.status = DeliveryStatus.FAILED
        delivery.save(update_fields=["attempts", "last_error", "status"])
        _report_failure(delivery)
        return Attempt("failed", delivery.attempts)
    backoff = settings.NOTIFICATIONS_RETRY_BACKOFF_SECONDS
    retry_in = backoff[min(delivery.attempts, len(backoff)) - 1]
    # The requeue sweep counts staleness from when the next attempt is due.
    delivery.queued_at = timezone.now() + timedelta(seconds=retry_in)
    delivery.save(update_fields=["attempts", "last_error", "queued_at"])
    return Attempt("retry", delivery.attempts, retry_in)


def _report_failure(delivery: Delivery) -> None:
    registry.failure_report(delivery=delivery)


def deliveries_requeue_stale(*, now: datetime | None = None) -> int:
    """Queue again the pending deliveries whose broker message seems lost. The sweep, not the
    broker, is the source of truth."""
    now = now or timezone.now()
    with transaction.atomic():
        stale = list(
            Delivery.objects.select_for_update(skip_locked=True)
            .filter(status=DeliveryStatus.PENDING, queued_at__lt=now - REQUEUE_AFTER)
            .values_list("pk", flat=True)[:1000]
        )
        Delivery.objects.filter(pk__in=stale).update(queued_at=now)
        _queue_after_commit(stale)
    return len(stale)


def unread_count(*, user: AbstractBaseUser) -> int:
    return Delivery.objects.filter(recipient=user, channel=Channel.IN_APP, read_at__isnull=True).count()


@transaction.atomic
def notifications_mark_read(*, user: AbstractBaseUser, delivery_ids: Sequence[int] | None = None) -> int:
    deliveries = Delivery.objects.filter(recipient=user, channel=Channel.IN_APP, read_at__isnull=True)
    if delivery_ids is not None:
        deliveries = deliveries.filter(pk__in=delivery_ids)
    return deliveries.update(read_at=timezone.now())


_webhook_url_valid = URLValidator(schemes=["http", "https"], message=errors.WEBHOOK_URL_INVALID)


@transaction.atomic
def channel_preference_set(
    *,
    user: AbstractBaseUser,
    email: bool,
    webhook_url: str | None = None,
    webhook_format: str | None = None,
    webhook_remove: bool = False,
) -> ChannelPreference:
    """Save how the user is reached. The webhook URL is written, never read back: None (or an
    empty string) keeps the stored one, `webhook_remove` clears it. A new URL must be a web
    address whose host is public (core.outbound; checked again whenever something is sent)."""
    defaults: dict[str, object] = {"email": email}
    url = (webhook_url or "").strip()
    if webhook_remove:
        defaults["webhook_url"] = ""
    elif url:
        if len(url) > 500:
            raise ValidationError({"webhook_url": errors.WEBHOOK_URL_TOO_LONG})
        try:
            _webhook_url_valid(url)
            outbound_url_check(url)
        except ValidationError as error:
            raise ValidationError({"webhook_url": error.messages}) from None
        defaults["webhook_url"] = url
    if webhook_format is not None:
        if webhook_format not in WebhookFormat.values:
            raise ValidationError({"webhook_format": errors.WEBHOOK_FORMAT_UNKNOWN})
        defaults["webhook_format"] = webhook_format
    preference, _ = ChannelPreference.objects.update_or_create(user=user, defaults=defaults)
    return preference
