"""Sending one delivery so that a worker killed at any moment never loses it.

Each protocol has a moment at which the receiver takes the message, and the delivery is committed
as sent right at that moment, with the row locked throughout:

- A mail server takes responsibility for a message when it answers 250 to the line holding a
  single dot (RFC 5321, 4.1.1.4), and some drop it until then: aiosmtpd, which the tests' SMTP
  sink runs, cancels its handler when the client goes away before the answer. Others (Postfix)
  keep a message once they have read the dot, whether or not the client stays for the 250: the
  duplicate problem of RFC 1047. No commit point suits both: committing on the dot loses the
  message to the first kind when the worker dies while the server works on it, committing on the
  250 repeats it to the second. A repeat is the lesser harm, and the stable Message-ID lets mail
  systems drop it; so the delivery is marked sent in the open transaction, the dot goes out and
  the transaction commits as soon as the 250 arrives.
- A web server acts on a request once it has read as many body bytes as Content-Length says,
  whether or not the client waits for the answer. So the delivery is marked sent, the body's last
  byte goes out and the transaction commits at once; only then is the answer read. A worker
  killed before the last byte leaves an unfinished request the server drops and a pending
  delivery; once the COMMIT is in PostgreSQL's socket, the commit happens even if the worker dies
  before the reply. Between the last byte and the COMMIT there is only the exit of a `with`
  block: a worker killed there repeats the request (the Idempotency-Key lets receivers drop it),
  never loses it.

Backends that cannot stop short (the console and in-memory mail backends of development and
tests) send at once, before the commit.
"""

import http.client
import json
import re
import urllib.parse
from collections.abc import Callable

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.backends.smtp import EmailBackend as SmtpBackend
from django.core.mail.message import sanitize_address

from notifications import registry
from notifications.models import Channel, Delivery, WebhookFormat

WEBHOOK_TIMEOUT_SECONDS = 10
LEADING_DOT = re.compile(rb"(?m)^\.")


class Send:
    """A message sent but for its last piece. `finish()` sends that piece without waiting;
    `answer()` reads the receiver's answer, raising if it refused the message; `close()` ends the
    connection politely afterwards; `abort()` drops it, so a receiver still short of the last
    piece, or one that has not answered yet, discards what it got. `taken_on_answer`: the
    receiver may drop the message until it has answered (a mail server), so the answer is read
    before the commit rather than after it."""

    def __init__(
        self,
        finish: Callable[[], None] | None = None,
        answer: Callable[[], None] | None = None,
        abort: Callable[[], None] | None = None,
        close: Callable[[], None] | None = None,
        *,
        taken_on_answer: bool = False,
    ) -> None:
        self.finish = finish or _nothing
        self.answer = answer or _nothing
        self.abort = abort or _nothing
        self.close = close or _nothing
        self.taken_on_answer = taken_on_answer


def _nothing() -> None:
    pass


SENT_ALREADY = Send()


def email_message(delivery: Delivery) -> EmailMultiAlternatives:
    message = delivery.message
    email = EmailMultiAlternatives(
        subject=message.subject,
        body=message.body_text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[delivery.target],
        # One Message-ID per delivery: should a copy ever go out twice, mail systems see the same
        # message and can drop it.
        headers={
            "X-Incident-Desk-Delivery": str(delivery.pk),
            "Message-ID": f"<delivery-{delivery.pk}.{delivery.message_id}@incident-desk>",
        },
    )
    if message.body_html:
        email.attach_alternative(message.body_html, "text/html")
    return email


def open_email(delivery: Delivery) -> Send:
    email = email_message(delivery)
    backend = get_connection()
    if not isinstance(backend, SmtpBackend):
        email.send(fail_silently=False)
        return SENT_ALREADY
    backend.open()
    try:
        smtp = backend.connection
        encoding = email.encoding or settings.DEFAULT_CHARSET
        sender = sanitize_address(email.from_email, encoding)
        data = email.message().as_bytes(linesep="\r\n")
        smtp.ehlo_or_helo_if_needed()
        options = [f"size={len(data)}"] if smtp.has_extn("size") else []
        code, reply = smtp.mail(sender, options)
        if code != 250:
            raise OSError(f"SMTP {code} to MAIL FROM: {reply.decode(errors='replace')}")
        for recipient in email.recipients():
            code, reply = smtp.rcpt(sanitize_address(recipient, encoding))
            if code not in (250, 251):
                raise OSError(f"SMTP {code} to RCPT TO: {reply.decode(errors='replace')}")
        smtp.putcmd("data")
        code, reply = smtp.getreply()
        if code != 354:
            raise OSError(f"SMTP {code} to DATA: {reply.decode(errors='replace')}")
        body = LEADING_DOT.sub(b"..", data)
        smtp.send(body if body.endswith(b"\r\n") else body + b"\r\n")
    except BaseException:
        _smtp_drop(backend)
        raise

    def finish() -> None:
        smtp.send(b".\r\n")

    def answer() -> None:
        code, reply = smtp.getreply()
        if code != 250:
            raise OSError(f"SMTP {code} at end of data: {reply.decode(errors='replace')}")

    return Send(finish, answer, lambda: _smtp_drop(backend), backend.close, taken_on_answer=True)


def _smtp_drop(backend: SmtpBackend) -> None:
    """Close without QUIT: a server drops a message whose end it never saw."""
    if backend.connection is not None:
        backend.connection.close()
        backend.connection = None


def webhook_body(delivery: Delivery) -> dict:
    message = delivery.message
    if delivery.webhook_format == WebhookFormat.SLACK:
        text = f"*{message.subject}*\n{message.body_text}"
        if message.link:
            text += f"\n<{message.link}|Open in Incident Desk>"
        return {"text": text}
    return {
        "subject": message.subject,
        "text": message.body_text,
        "link": message.link,
        "topic": message.topic,
        "data": message.payload,
        "delivery_id": delivery.pk,
    }


def _extra_webhook_headers(delivery: Delivery, body: bytes) -> dict[str, str]:
    """What other apps add (notifications.registry.register_webhook_headers), e.g. a signature made
    with a secret that only the app which asked for the delivery knows."""
    return registry.webhook_headers(delivery=delivery, body=body)


def open_webhook(delivery: Delivery) -> Send:
    body = json.dumps(webhook_body(delivery)).encode()
    url = urllib.parse.urlsplit(delivery.target)
    if url.scheme not in ("http", "https") or not url.hostname:
        raise OSError(f"not an http(s) URL: {delivery.target}")
    connection_class = http.client.HTTPSConnection if url.scheme == "https" else http.client.HTTPConnection
    connection = connection_class(url.hostname, url.port, timeout=WEBHOOK_TIMEOUT_SECONDS)
    headers = {
        "Content-Type": "application/json",
        "Content-Length": str(len(body)),
        "User-Agent": "IncidentDesk/1",
        # Receivers that see a retry of a delivery they already took can drop it by this key.
        "Idempotency-Key": f"incident-desk-delivery-{delivery.pk}",
        **_extra_webhook_headers(delivery, body),
    }
    try:
        path = (url.path or "/") + (f"?{url.query}" if url.query else "")
        connection.putrequest("POST", path, skip_accept_encoding=True)
        for name, value in headers.items():
            connection.putheader(name, value)
        connection.endheaders()
        connection.send(body[:-1])
    except BaseException:
        connection.close()
        raise

    def finish() -> None:
        connection.send(body[-1:])

    def answer() -> None:
        response = connection.getresponse()
        response.read(1024)
        if not 200 <= response.status < 300:
            raise OSError(f"HTTP {response.status} from webhook")

    return Send(finish, answer, connection.close, connection.close)


OPENERS: dict[str, Callable[[Delivery], Send]] = {Channel.EMAIL: open_email, Channel.WEBHOOK: open_webhook}
