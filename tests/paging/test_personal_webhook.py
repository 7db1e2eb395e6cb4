"""A person's own webhook: set on their notifications page, checked against internal networks,
never shown back; every message to them (pages, reminders) also goes there."""

from datetime import UTC, datetime

import pytest
import time_machine

from core.errors import OUTBOUND_ADDRESS_REFUSED
from incidents import reminders
from incidents.models import EventKind
from notifications import errors
from notifications import services as notification_services
from notifications.models import Channel, ChannelPreference, Delivery, WebhookFormat
from notifications.senders import webhook_body, webhook_idempotency_key
from notifications.views import CHANNELS_SAVED
from paging import services as paging
from tests.factories import UserFactory, declare_incident

pytestmark = pytest.mark.django_db

HOOK = "https://hooks.slack.invalid/services/T0ALICE/B0ALICE/aliceSecretPart"
T0 = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)


def test_a_person_sets_their_webhook_and_sees_only_its_host(client):
    user = UserFactory(role="responder")
    client.force_login(user)
    answer = client.post("/notifications/", {"email": "on", "webhook_url": HOOK, "webhook_format": "slack"})
    assert answer.status_code == 302
    preference = ChannelPreference.objects.get(user=user)
    assert (preference.webhook_url, preference.webhook_format, preference.email) == (HOOK, "slack", True)

    page = client.get("/notifications/")
    body = page.content.decode()
    assert CHANNELS_SAVED in body
    assert "hooks.slack.invalid" in body and "aliceSecretPart" not in body
    # Saved again without typing it: the stored URL stays; the format changes.
    client.post("/notifications/", {"email": "on", "webhook_url": "", "webhook_format": "json"})
    preference.refresh_from_db()
    assert (preference.webhook_url, preference.webhook_format) == (HOOK, WebhookFormat.JSON)
    client.post("/notifications/", {"webhook_url": "", "webhook_format": "json", "webhook_remove": "on"})
    preference.refresh_from_db()
    assert (preference.webhook_url, preference.email) == ("", False)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://127.0.0.2:8080/hook", OUTBOUND_ADDRESS_REFUSED),
        ("http://10.0.0.5/hook", OUTBOUND_ADDRESS_REFUSED),
        ("ftp://hooks.example.com/x", errors.WEBHOOK_URL_INVALID),
        ("not a url", errors.WEBHOOK_URL_INVALID),
    ],
)
def test_an_internal_or_malformed_webhook_is_refused_with_a_message_and_nothing_lost(client, settings, url, message):
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    user = UserFactory(role="responder")
    client.force_login(user)
    answer = client.post("/notifications/", {"webhook_url": url, "webhook_format": "json"})
    assert answer.status_code == 400
    assert message in answer.content.decode()
    assert 'value="json" selected' in answer.content.decode()
    assert not ChannelPreference.objects.filter(user=user).exclude(webhook_url="").exists()


def test_an_unknown_format_is_a_message_not_an_error(client):
    client.force_login(UserFactory(role="responder"))
    answer = client.post("/notifications/?x=%ff", {"webhook_format": "<script>"})
    assert answer.status_code == 400


def test_a_page_reaches_the_persons_own_webhook_with_its_acknowledge_link(
    alerts_account, alice, checkout, policy, django_capture_on_commit_callbacks
):
    notification_services.channel_preference_set(user=alice, email=True, webhook_url=HOOK, webhook_format="slack")
    with time_machine.travel(T0, tick=False):
        incident = declare_incident(declared_by=alerts_account, severity="SEV1", affected_services=[checkout])
    paging.pages_fan_out(now=T0)
    page = incident.pages.get()
    hook = Delivery.objects.get(message__dedup_key=f"incident:{incident.pk}:page:{page.pk}", channel=Channel.WEBHOOK)
    assert (hook.recipient, hook.target, hook.webhook_format) == (alice, HOOK, WebhookFormat.SLACK)
    text = webhook_body(hook)["text"]
    assert "/paging/acknowledge/" in text and "Acknowledge (no login needed" in text
    assert webhook_idempotency_key(hook) == f"incident-desk-delivery-{hook.pk}"
    # The timeline names it by its host.
    event = incident.timeline.filter(kind=EventKind.PAGE).get()
    assert event.text == "Paged (level 1, round 1): Alice Able by in-app, email, webhook"
    assert event.data["webhooks"] == ["hooks.slack.invalid"]
    assert "aliceSecretPart" not in str(event.data)


def test_a_person_without_a_webhook_gets_no_webhook_delivery(alerts_account, alice, checkout, policy):
    with time_machine.travel(T0, tick=False):
        incident = declare_incident(declared_by=alerts_account, severity="SEV1", affected_services=[checkout])
    paging.pages_fan_out(now=T0)
    assert not Delivery.objects.filter(message__topic=incident.reference, channel=Channel.WEBHOOK).exists()


def test_a_reminder_to_the_on_call_person_reaches_their_webhook_too(alerts_account, alice, checkout, policy):
    notification_services.channel_preference_set(user=alice, email=True, webhook_url=HOOK)
    with time_machine.travel(T0, tick=False):
        incident = declare_incident(declared_by=alerts_account, severity="SEV1", affected_services=[checkout])
    due = incident.next_update_due_at
    reminders.reminders_sweep(now=due)
    reminders.reminders_fan_out(now=due)
    event = incident.timeline.filter(kind=EventKind.REMINDER).get()
    assert event.text.endswith("Alice Able by in-app, email, webhook")
    assert event.data["webhooks"] == ["hooks.slack.invalid"]
    hooks = Delivery.objects.filter(message__dedup_key__contains=":update-due:", channel=Channel.WEBHOOK)
    assert list(hooks.values_list("recipient", "target")) == [(alice.pk, HOOK)]
