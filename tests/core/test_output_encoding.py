"""What people type reaches every channel as text: Slack-format bodies escape mrkdwn, plain-text
mail and in-app messages carry no control characters, titles lose bidi overrides and zero-width
characters, and a long unbroken word wraps instead of widening the page."""

import pytest
from django.core import mail

from config.celery import app as celery_app
from core.text import plain_text, single_line
from incidents.models import SeverityPolicy
from notifications import services as notification_services
from notifications.models import Channel, Delivery
from tests.factories import UserFactory, declare_incident
from tests.integration.harness import WebhookReceiver

pytestmark = pytest.mark.django_db

PHISH = "<!channel> <https://evil.example|Re-authenticate>"


@pytest.fixture
def receiver():
    receiver = WebhookReceiver().start()
    yield receiver
    receiver.stop()


def test_a_title_with_slack_commands_reaches_a_slack_receiver_as_escaped_text(receiver, responder):
    SeverityPolicy.objects.filter(key="SEV2").update(webhook_url=receiver.url, webhook_format="slack")
    SeverityPolicy.objects.get(key="SEV2").notified_groups.clear()
    incident = declare_incident(declared_by=responder, severity="SEV2", title=PHISH)
    delivery = Delivery.objects.get(channel=Channel.WEBHOOK)

    assert notification_services.delivery_attempt(delivery_id=delivery.pk).outcome == "sent"

    [hook] = receiver.snapshot()
    text = hook.body["text"]
    assert "&lt;!channel&gt; &lt;https://evil.example|Re-authenticate&gt;" in text
    assert "<!channel>" not in text and "<https://evil.example" not in text
    # Our own link stays a link.
    assert f"/incidents/{incident.reference}/|Open in Incident Desk>" in text


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("\u202eegatuo latot", "egatuo latot"),
        ("pay\u200bments down\u2066\u2069", "payments down"),
        ("\ufeffCheckout\u200e", "Checkout"),
        ("Deploy 👩\u200d💻 broke it", "Deploy 👩\u200d💻 broke it"),  # an emoji sequence keeps its joiner
    ],
)
def test_titles_lose_bidi_controls_and_zero_width_characters(title, expected, responder):
    assert single_line(title) == expected
    assert declare_incident(declared_by=responder, title=title).title == expected


def test_plain_text_keeps_lines_and_loses_control_characters():
    assert plain_text("Line one\r\nLine\x07 two\x1b[31m\tred\u202e\x00") == "Line one\nLine two[31m\tred"


@pytest.fixture
def eager_celery():
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = False


def test_mail_and_in_app_texts_carry_no_control_characters(settings, eager_celery, django_capture_on_commit_callbacks):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    lead = UserFactory(role="responder", email="lead@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        notification_services.messages_send(
            outgoing=[
                notification_services.Outgoing(
                    dedup_key="control",
                    subject="Checkout\x00 down\x1b",
                    body_text="Rolled back\x1b[2J\x07 the deploy\u202e\nNext: watch",
                    recipients=[lead],
                )
            ]
        )
    [message] = [m for m in mail.outbox if m.subject.startswith("Checkout")]
    assert message.body == "Rolled back[2J the deploy\nNext: watch"
    assert message.subject == "Checkout down"
    in_app = Delivery.objects.get(channel=Channel.IN_APP, message__dedup_key="control")
    assert in_app.message.body_text == message.body
