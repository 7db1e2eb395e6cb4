"""Sending one delivery: email through Django's mail backends, webhooks with requests.

Email goes through `get_connection()`, so EMAIL_BACKEND decides how it travels: SMTP (EMAIL_URL),
the console, Django's in-memory backend in tests, or a django-anymail backend (Amazon SES,
Postmark, Mailgun, SendGrid, …). Each sender returns once the receiver has taken the message (a
mail server's 250, an email API's answer, a webhook's 2xx) and raises otherwise; the caller
commits the delivery as sent right after. Every attempt of a delivery carries the same Message-ID
(email) or Idempotency-Key (webhook), so a receiver can drop the rare repeat of a worker that
died between the send and the commit.
"""

import json
import logging
from collections.abc import Callable

import requests
from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection

from core.errors import WEBHOOK_NOT_ACCEPTED
from core.outbound import AddressRefused, outbound_session
from notifications import registry
from notifications.models import Channel, Delivery, WebhookFormat

logger = logging.getLogger(__name__)

# Seconds to connect to a webhook, and to wait for its answer.
WEBHOOK_TIMEOUT = (5, 10)


def email_message(delivery: Delivery) -> EmailMultiAlternatives:
    message = delivery.message
    email = EmailMultiAlternatives(
        subject=message.subject,
        body=message.body_text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[delivery.target],
        headers={
            "X-Incident-Desk-Delivery": str(delivery.pk),
            "Message-ID": email_message_id(delivery),
        },
    )
    if message.body_html:
        email.attach_alternative(message.body_html, "text/html")
    return email


def email_message_id(delivery: Delivery) -> str:
    """One Message-ID per delivery, the same on every attempt."""
    return f"<delivery-{delivery.pk}.{delivery.message_id}@incident-desk>"


def send_email(delivery: Delivery) -> None:
    sent = get_connection(fail_silently=False).send_messages([email_message(delivery)])
    if sent != 1:
        raise OSError(f"the email backend sent {sent} messages instead of 1")


def webhook_body(delivery: Delivery) -> dict:
    message = delivery.message
    if delivery.webhook_format == WebhookFormat.SLACK:
        text = f"*{slack_escaped(message.subject)}*\n{slack_escaped(message.body_text)}"
        if message.link:
            text += f"\n<{slack_escaped(message.link)}|Open in Incident Desk>"
        return {"text": text}
    return {
        "subject": message.subject,
        "text": message.body_text,
        "link": message.link,
        "topic": message.topic,
        "data": message.payload,
        "delivery_id": delivery.pk,
    }


def slack_escaped(text: str) -> str:
    """Slack's mrkdwn reads <!channel>, <@user> and <url|label> as commands and links: the three
    characters it asks to escape are escaped, so a title is only ever text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def webhook_idempotency_key(delivery: Delivery) -> str:
    """One key per delivery, the same on every attempt."""
    return f"incident-desk-delivery-{delivery.pk}"


def _extra_webhook_headers(delivery: Delivery, body: bytes) -> dict[str, str]:
    """What other apps add (notifications.registry.register_webhook_headers), e.g. a signature made
    with a secret that only the app which asked for the delivery knows."""
    return registry.webhook_headers(delivery=delivery, body=body)


class DeliveryRefused(Exception):
    """A delivery that did not go out, with the reason to record: generic on purpose."""


def send_webhook(delivery: Delivery) -> None:
    body = json.dumps(webhook_body(delivery)).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "IncidentDesk/1",
        "Idempotency-Key": webhook_idempotency_key(delivery),
        **_extra_webhook_headers(delivery, body),
    }
    # A redirect is refused, not followed: requests would follow it as a GET without the body, and
    # to an address nobody checked. stream=True: only the status is read, never a body of unknown
    # size. Only the server log has the details; the delivery log, which admins read, says the
    # same thing for a refused connection, a timeout or a 500, so it cannot map internal ports.
    try:
        with (
            outbound_session() as session,
            session.post(
                delivery.target, data=body, headers=headers, timeout=WEBHOOK_TIMEOUT, allow_redirects=False, stream=True
            ) as response,
        ):
            status = response.status_code
    except AddressRefused as error:
        raise DeliveryRefused(str(error)) from None
    except requests.RequestException as error:
        logger.warning("webhook delivery %s: %s: %s", delivery.pk, type(error).__name__, error)
        raise DeliveryRefused(WEBHOOK_NOT_ACCEPTED) from None
    if not 200 <= status < 300:
        logger.warning("webhook delivery %s: HTTP %s", delivery.pk, status)
        raise DeliveryRefused(WEBHOOK_NOT_ACCEPTED)


SENDERS: dict[str, Callable[[Delivery], None]] = {Channel.EMAIL: send_email, Channel.WEBHOOK: send_webhook}
