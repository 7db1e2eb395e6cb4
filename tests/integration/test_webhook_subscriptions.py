"""Outbound webhook subscriptions through a real Celery worker, PostgreSQL and Redis: an alert
posted to the endpoint opens an incident, and the subscriber's server receives the declaration
signed with its secret (checked the way the README tells receivers to check it); a receiver that
fails first is retried with backoff and then gets it once."""

import hashlib
import hmac
import json
import time
from pathlib import Path

import pytest
from django.test import Client

from integrations.alerts import alert_source_create
from integrations.models import WebhookSubscription
from notifications.models import Delivery, DeliveryStatus
from notifications.services import MAX_ATTEMPTS
from tests.integration.harness import WebhookReceiver, wait_for

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("committed_db"),
]

SECRET = "whsec-integration-test"
FIRING = json.loads((Path(__file__).parents[1] / "integrations/fixtures/alertmanager_firing.json").read_text())


def verify(secret: str, raw: bytes, headers: dict) -> bool:
    """What a receiver does (as the README shows): refuse an old timestamp, recompute HMAC-SHA256
    over "<timestamp>.<raw body>" and compare in constant time."""
    lowered = {name.lower(): value for name, value in headers.items()}
    timestamp = lowered.get("x-incidentdesk-timestamp", "")
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > 300:
        return False
    expected = "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + raw, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, lowered.get("x-incidentdesk-signature", ""))


def post_alert(token: str) -> dict:
    response = Client().post(
        "/api/v1/alerts/alertmanager/",
        data=FIRING,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert response.status_code == 200, response.content
    return response.json()


def test_a_subscription_receives_a_signed_declaration_from_the_worker(webhook_receiver: WebhookReceiver, start_worker):
    WebhookSubscription.objects.create(team="Payments", url=webhook_receiver.url, secret=SECRET)
    _, token = alert_source_create(name="prometheus")
    reference = post_alert(token)["declared"][0]

    worker = start_worker()
    wait_for(lambda: webhook_receiver.snapshot(), timeout=30, what="the signed declaration")
    wait_for(lambda: not Delivery.objects.filter(status=DeliveryStatus.PENDING).exists(), timeout=20)

    [hook] = webhook_receiver.snapshot()
    assert verify(SECRET, hook.raw, hook.headers)
    assert not verify("another-secret", hook.raw, hook.headers)
    assert hook.body["data"]["event"] == "incident.declared"
    assert hook.body["data"]["reference"] == reference
    assert Delivery.objects.get().status == DeliveryStatus.SENT
    assert "Traceback" not in worker.log()


def test_a_failing_subscriber_is_retried_with_backoff_until_it_answers(webhook_receiver: WebhookReceiver, start_worker):
    webhook_receiver.status = 503
    WebhookSubscription.objects.create(team="Payments", url=webhook_receiver.url, secret=SECRET)
    _, token = alert_source_create(name="prometheus")
    post_alert(token)

    start_worker(extra_env={"NOTIFICATIONS_RETRY_BACKOFF_SECONDS": ",".join(["1"] * (MAX_ATTEMPTS - 1))})
    wait_for(lambda: len(webhook_receiver.snapshot()) >= 2, timeout=30, what="a retried delivery")
    webhook_receiver.status = 200
    wait_for(
        lambda: Delivery.objects.filter(status=DeliveryStatus.SENT).exists(), timeout=30, what="the delivery to succeed"
    )

    hooks = webhook_receiver.snapshot()
    assert len({hook.delivery_id for hook in hooks}) == 1  # one delivery, attempted several times
    assert all(verify(SECRET, hook.raw, hook.headers) for hook in hooks)
    assert hooks[1].received_at - hooks[0].received_at >= 0.9  # the backoff, not an immediate retry
    delivery = Delivery.objects.get()
    assert 2 <= delivery.attempts < MAX_ATTEMPTS
