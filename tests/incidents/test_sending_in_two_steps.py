"""A killed worker neither loses nor repeats a message: the message goes out but for its last line
(email) or byte (webhook), the delivery is committed as sent, and only then is the message
finished. These tests talk to a real SMTP server (aiosmtpd) and a real HTTP server."""

import time

import pytest
from django.db import connection
from django.utils import timezone

from notifications import senders
from notifications import services as notification_services
from notifications.models import Channel, Delivery, DeliveryStatus, Message
from tests.integration.harness import SmtpSink, WebhookReceiver


@pytest.fixture
def smtp(settings):
    sink = SmtpSink().start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", sink.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    yield sink
    sink.stop()


@pytest.fixture
def hooks():
    receiver = WebhookReceiver().start()
    yield receiver
    receiver.stop()


def delivery_to(channel: str, target: str) -> Delivery:
    now = timezone.now()
    message = Message.objects.create(
        dedup_key=f"test:{channel}:{target}",
        subject="[SEV2] INC-0001 update due",
        body_text="Post an update.",
        created_at=now,
    )
    return Delivery.objects.create(
        message=message, channel=channel, target=target, webhook_format="json", created_at=now, queued_at=now
    )


def settled(read, *, expect: int, wait: float = 0.5) -> int:
    """How many arrived, waiting a moment for a server thread still at work."""
    deadline = time.monotonic() + wait
    while len(read()) < expect and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.05)
    return len(read())


def test_an_email_cut_short_before_its_last_line_is_not_delivered(db, smtp):
    delivery = delivery_to(Channel.EMAIL, "lead@example.com")
    send = senders.open_email(delivery)
    assert settled(smtp.snapshot, expect=1, wait=0.2) == 0
    send.abort()  # what a killed worker's socket does
    assert settled(smtp.snapshot, expect=1, wait=0.2) == 0

    assert notification_services.delivery_attempt(delivery_id=delivery.pk).outcome == "sent"
    assert smtp.counts() == {delivery.pk: 1}


def test_a_webhook_cut_short_before_its_last_byte_is_not_received(db, hooks):
    delivery = delivery_to(Channel.WEBHOOK, hooks.url)
    send = senders.open_webhook(delivery)
    send.abort()
    assert settled(hooks.snapshot, expect=1, wait=0.2) == 0

    assert notification_services.delivery_attempt(delivery_id=delivery.pk).outcome == "sent"
    assert settled(hooks.snapshot, expect=1) == 1
    assert hooks.snapshot()[0].delivery_id == delivery.pk


def watch_last_step(channel: str, seen: dict, arrived) -> None:
    """Make the sender of `channel` note, as it finishes a message, whether the delivery's
    transaction is still open, the delivery's status and how many messages had arrived."""
    opener = senders.OPENERS[channel]

    def watching(delivery: Delivery) -> senders.Send:
        send = opener(delivery)

        def complete() -> None:
            seen["in_transaction"] = connection.in_atomic_block
            seen["status"] = Delivery.objects.get(pk=delivery.pk).status
            seen["arrived_before_last_step"] = len(arrived())
            send.complete()

        return senders.Send(complete, send.abort, send.close, taken_on_answer=send.taken_on_answer)

    senders.OPENERS[channel] = watching


@pytest.fixture
def restore_senders():
    openers = dict(senders.OPENERS)
    yield
    senders.OPENERS.update(openers)


def test_an_email_is_committed_as_sent_when_the_mail_server_answers_250(transactional_db, smtp, restore_senders):
    delivery = delivery_to(Channel.EMAIL, "lead@example.com")
    seen = {}
    watch_last_step(Channel.EMAIL, seen, smtp.snapshot)
    assert notification_services.delivery_attempt(delivery_id=delivery.pk).outcome == "sent"
    # Finished inside the transaction that marks it sent, which commits once the server took it.
    assert seen == {"in_transaction": True, "status": DeliveryStatus.SENT, "arrived_before_last_step": 0}
    assert not connection.in_atomic_block
    assert Delivery.objects.get(pk=delivery.pk).status == DeliveryStatus.SENT
    assert smtp.counts() == {delivery.pk: 1}


def test_a_webhook_is_committed_as_sent_before_its_last_byte(transactional_db, hooks, restore_senders):
    delivery = delivery_to(Channel.WEBHOOK, hooks.url)
    seen = {}
    watch_last_step(Channel.WEBHOOK, seen, hooks.snapshot)
    assert notification_services.delivery_attempt(delivery_id=delivery.pk).outcome == "sent"
    assert seen == {"in_transaction": False, "status": DeliveryStatus.SENT, "arrived_before_last_step": 0}
    assert settled(hooks.snapshot, expect=1) == 1


class RefusingSmtpSink(SmtpSink):
    async def handle_DATA(self, server, session, envelope) -> str:
        return "554 Message refused"


def test_an_email_refused_at_end_of_data_is_pending_again_and_retried(db, settings):
    sink = RefusingSmtpSink().start()
    try:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", sink.port
        delivery = delivery_to(Channel.EMAIL, "lead@example.com")
        attempt = notification_services.delivery_attempt(delivery_id=delivery.pk)
    finally:
        sink.stop()
    assert (attempt.outcome, attempt.attempts) == ("retry", 1)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.sent_at, delivery.attempts) == (DeliveryStatus.PENDING, None, 1)
    assert delivery.last_error == "OSError: SMTP 554 at end of data: Message refused"


def test_a_webhook_refused_at_the_last_byte_is_pending_again_and_retried(db, hooks):
    hooks.status = 503
    delivery = delivery_to(Channel.WEBHOOK, hooks.url)
    attempt = notification_services.delivery_attempt(delivery_id=delivery.pk)
    assert (attempt.outcome, attempt.attempts) == ("retry", 1)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.sent_at, delivery.last_error) == (
        DeliveryStatus.PENDING,
        None,
        "OSError: HTTP 503 from webhook",
    )

    hooks.status = 200
    assert notification_services.delivery_attempt(delivery_id=delivery.pk).outcome == "sent"
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.SENT, 2)
    assert settled(hooks.snapshot, expect=2) == 2  # the refused one and the accepted one
