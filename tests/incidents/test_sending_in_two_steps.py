"""Sending in two steps: the mail backend or the webhook client sends the message, then the
delivery is committed as sent. A killed worker never loses a message; it may send one again, with
the same Message-ID or Idempotency-Key, by which the receiver drops the repeat (at least once).
These tests talk to a real SMTP server (aiosmtpd) and a real HTTP server, and kill a real process
mid-send."""

import json
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.conf import settings
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend as InMemoryBackend
from django.db import connection
from django.utils import timezone

from core.errors import WEBHOOK_NOT_ACCEPTED
from notifications import services as notification_services
from notifications.models import Channel, Delivery, DeliveryStatus, Message
from tests.integration.harness import BASE_DIR, SmtpSink, WebhookReceiver, database_url, wait_for, worker_env


def smtp_to(settings, sink: SmtpSink) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", sink.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""


@pytest.fixture
def smtp(settings):
    sink = SmtpSink().start()
    smtp_to(settings, sink)
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
        body_html="<p>Post an update.</p>",
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


class WatchingBackend(InMemoryBackend):
    """Django's in-memory backend, noting as it sends whether the delivery's transaction is open
    and what the delivery's status reads."""

    seen: list[tuple[bool, str]] = []

    def send_messages(self, messages) -> int:
        for message in messages:
            delivery_id = int(message.extra_headers["X-Incident-Desk-Delivery"])
            self.seen.append((connection.in_atomic_block, Delivery.objects.get(pk=delivery_id).status))
        return super().send_messages(messages)


def test_an_email_goes_through_the_configured_backend_and_is_committed_as_sent_once_it_returns(
    transactional_db, settings
):
    settings.EMAIL_BACKEND = f"{__name__}.WatchingBackend"
    WatchingBackend.seen = []
    mail.outbox.clear()
    delivery = delivery_to(Channel.EMAIL, "lead@example.com")

    assert notification_services.delivery_attempt(delivery_id=delivery.pk).outcome == "sent"

    # While the backend sent it, the delivery was locked in an open transaction and still pending.
    assert WatchingBackend.seen == [(True, DeliveryStatus.PENDING)]
    assert not connection.in_atomic_block
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.SENT, 1)
    [email] = mail.outbox
    assert (email.to, email.subject) == (["lead@example.com"], "[SEV2] INC-0001 update due")
    assert email.alternatives[0].content == "<p>Post an update.</p>"
    assert email.message()["Message-ID"] == f"<delivery-{delivery.pk}.{delivery.message_id}@incident-desk>"


class FailingBackend(InMemoryBackend):
    def send_messages(self, messages) -> int:
        raise ConnectionRefusedError("the mail service is down")


def test_an_email_the_backend_fails_to_send_stays_pending_with_a_retry_planned(db, settings):
    settings.EMAIL_BACKEND = f"{__name__}.FailingBackend"
    delivery = delivery_to(Channel.EMAIL, "lead@example.com")

    attempt = notification_services.delivery_attempt(delivery_id=delivery.pk)

    assert (attempt.outcome, attempt.attempts, attempt.retry_in) == (
        "retry",
        1,
        settings.NOTIFICATIONS_RETRY_BACKOFF_SECONDS[0],
    )
    delivery.refresh_from_db()
    assert (delivery.status, delivery.sent_at) == (DeliveryStatus.PENDING, None)
    assert delivery.last_error == "ConnectionRefusedError: the mail service is down"


class FakePostmark(BaseHTTPRequestHandler):
    """Postmark's email API as django-anymail talks to it: the edge of the world, so a stand-in."""

    requests: list = []
    status = 200

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
        if type(self).status == 200:
            answer = {"To": body["To"], "MessageID": "pm-1", "ErrorCode": 0, "Message": "OK"}
        else:
            answer = {"ErrorCode": 100, "Message": "Maintenance"}
        data = json.dumps(answer).encode()
        self.send_response(type(self).status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def postmark(settings):
    """EMAIL_BACKEND set to django-anymail's Postmark backend, its API served on 127.0.0.1."""
    handler = type("Handler", (FakePostmark,), {"requests": [], "status": 200})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings.EMAIL_BACKEND = "anymail.backends.postmark.EmailBackend"
    settings.ANYMAIL = {
        "POSTMARK_SERVER_TOKEN": "server-token",
        "POSTMARK_API_URL": f"http://127.0.0.1:{server.server_port}/",
    }
    yield handler
    server.shutdown()
    server.server_close()


def test_an_email_goes_out_through_an_email_api_with_django_anymail(db, postmark):
    delivery = delivery_to(Channel.EMAIL, "lead@example.com")
    postmark.status = 500
    assert notification_services.delivery_attempt(delivery_id=delivery.pk).outcome == "retry"
    delivery.refresh_from_db()
    assert (delivery.status, delivery.sent_at) == (DeliveryStatus.PENDING, None)
    assert delivery.last_error.startswith("AnymailRequestsAPIError: ")

    postmark.status = 200
    assert notification_services.delivery_attempt(delivery_id=delivery.pk).outcome == "sent"
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.SENT, 2)
    message_id = f"<delivery-{delivery.pk}.{delivery.message_id}@incident-desk>"
    for request in postmark.requests:
        assert request["path"] == "/email"
        assert request["headers"]["X-Postmark-Server-Token"] == "server-token"
        body = request["body"]
        assert (body["To"], body["Subject"]) == ("lead@example.com", "[SEV2] INC-0001 update due")
        assert (body["TextBody"], body["HtmlBody"]) == ("Post an update.", "<p>Post an update.</p>")
        assert {"Name": "Message-ID", "Value": message_id} in body["Headers"]
    assert len(postmark.requests) == 2


class RefusingSmtpSink(SmtpSink):
    """Refuses the first `refusals` messages at the end of data, noting the Message-ID of each."""

    def __init__(self, *, refusals: int = 1_000_000) -> None:
        super().__init__()
        self.refusals = refusals
        self.offered: list[str] = []

    async def handle_DATA(self, server, session, envelope) -> str:
        import email

        self.offered.append(str(email.message_from_bytes(envelope.content)["Message-ID"]))
        if len(self.offered) <= self.refusals:
            return "554 Message refused"
        return await super().handle_DATA(server, session, envelope)


def test_an_email_refused_at_end_of_data_is_retried_with_the_same_message_id(db, settings):
    sink = RefusingSmtpSink(refusals=1).start()
    try:
        smtp_to(settings, sink)
        delivery = delivery_to(Channel.EMAIL, "lead@example.com")
        attempt = notification_services.delivery_attempt(delivery_id=delivery.pk)
        assert (attempt.outcome, attempt.attempts) == ("retry", 1)
        delivery.refresh_from_db()
        assert (delivery.status, delivery.sent_at, delivery.attempts) == (DeliveryStatus.PENDING, None, 1)
        assert delivery.last_error == "SMTPDataError: (554, b'Message refused')"

        assert notification_services.delivery_attempt(delivery_id=delivery.pk).outcome == "sent"
    finally:
        sink.stop()
    message_id = f"<delivery-{delivery.pk}.{delivery.message_id}@incident-desk>"
    assert sink.offered == [message_id, message_id]
    assert [(m.delivery_id, m.message_id) for m in sink.snapshot()] == [(delivery.pk, message_id)]


def test_a_webhook_refused_is_pending_again_and_retried_with_the_same_idempotency_key(db, hooks):
    hooks.status = 503
    delivery = delivery_to(Channel.WEBHOOK, hooks.url)
    attempt = notification_services.delivery_attempt(delivery_id=delivery.pk)
    assert (attempt.outcome, attempt.attempts) == ("retry", 1)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.sent_at, delivery.last_error) == (
        DeliveryStatus.PENDING,
        None,
        WEBHOOK_NOT_ACCEPTED,
    )

    hooks.status = 200
    assert notification_services.delivery_attempt(delivery_id=delivery.pk).outcome == "sent"
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.SENT, 2)
    assert settled(hooks.snapshot, expect=2) == 2  # the refused one and the accepted one
    assert {hook.idempotency_key for hook in hooks.snapshot()} == {f"incident-desk-delivery-{delivery.pk}"}


# --- A worker process killed mid-send --------------------------------------------------------

ATTEMPT = (
    "import django; django.setup(); from notifications.services import delivery_attempt; "
    "delivery_attempt(delivery_id={})"
)


def worker_attempting(delivery: Delivery, email_url: str, tmp_path) -> subprocess.Popen:
    """Another process, as a Celery worker would be, sending `delivery` from the test database."""
    env = worker_env(
        database_url=database_url(connection.settings_dict),
        redis_url=settings.REDIS_URL,
        email_url=email_url,
        workdir=tmp_path,
        settings_module="config.test_settings",
    )
    return subprocess.Popen(
        [sys.executable, "-c", ATTEMPT.format(delivery.pk)],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def kill_when(worker: subprocess.Popen, moment, *, what: str) -> None:
    """SIGKILL the worker once `moment()` is true, as a crash or the OOM killer would."""
    try:
        wait_for(lambda: moment() or worker.poll() is not None, timeout=30, interval=0.005, what=what)
        assert worker.poll() is None, f"the worker ended before {what}: {worker.stderr.read().decode()}"
    finally:
        worker.kill()
        worker.wait()
        worker.stderr.close()


def after(event, seconds: float):
    """A moment `seconds` after `event` was set."""
    began = []

    def moment() -> bool:
        if event.is_set() and not began:
            began.append(time.monotonic())
        return bool(began) and time.monotonic() - began[0] >= seconds

    return moment


@pytest.mark.postgres
def test_an_email_whose_worker_is_killed_while_the_server_works_on_it_arrives_once(
    transactional_db, settings, tmp_path
):
    # aiosmtpd drops a message whose sender is gone before the 250; the delivery, committed as
    # sent only once the backend has returned, is still pending and goes out again.
    sink = SmtpSink(delay=0.5).start()
    try:
        smtp_to(settings, sink)
        delivery = delivery_to(Channel.EMAIL, "lead@example.com")
        worker = worker_attempting(delivery, sink.url, tmp_path)
        kill_when(worker, after(sink.message_read, 0.15), what="the server read the message")

        notification_services.delivery_attempt(delivery_id=delivery.pk)
        assert settled(sink.snapshot, expect=2, wait=1.5) == 1
    finally:
        sink.stop()
    assert sink.counts() == {delivery.pk: 1}
    assert Delivery.objects.get(pk=delivery.pk).status == DeliveryStatus.SENT


@pytest.fixture
def slow_mark(transactional_db):
    """Marking a delivery sent takes a second (a trigger on the UPDATE sleeps), so a worker can be
    killed after the receiver took the message and before the delivery is committed as sent."""
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE FUNCTION test_slow_mark() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN PERFORM pg_sleep(1); RETURN NEW; END $$"
        )
        cursor.execute(
            "CREATE TRIGGER test_slow_mark BEFORE UPDATE ON notifications_delivery "
            "FOR EACH ROW WHEN (NEW.status = 'sent') EXECUTE FUNCTION test_slow_mark()"
        )
    yield
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER test_slow_mark ON notifications_delivery")
        cursor.execute("DROP FUNCTION test_slow_mark()")


def marking() -> bool:
    """Whether another connection to this database is marking a delivery sent (in the trigger)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND query LIKE 'UPDATE%%' AND wait_event = 'PgSleep'"
        )
        return cursor.fetchone()[0] > 0


@pytest.mark.postgres
@pytest.mark.parametrize("channel", [Channel.EMAIL, Channel.WEBHOOK])
def test_a_worker_killed_after_the_receiver_took_the_message_sends_it_again_with_the_same_key(
    slow_mark, smtp, hooks, tmp_path, channel
):
    # At least once: the receiver took the message, the worker died before the commit, so the
    # delivery is still pending and goes out again. A receiver that drops repeats by Message-ID
    # (email) or Idempotency-Key (webhook) sees it once.
    target = "lead@example.com" if channel == Channel.EMAIL else hooks.url
    delivery = delivery_to(channel, target)
    worker = worker_attempting(delivery, smtp.url, tmp_path)
    kill_when(worker, marking, what="the worker marking the delivery sent")
    assert Delivery.objects.get(pk=delivery.pk).status == DeliveryStatus.PENDING

    assert notification_services.delivery_attempt(delivery_id=delivery.pk).outcome == "sent"
    if channel == Channel.EMAIL:
        arrived = smtp.snapshot()
        keys = {message.message_id for message in arrived}
        assert keys == {f"<delivery-{delivery.pk}.{delivery.message_id}@incident-desk>"}
    else:
        arrived = hooks.snapshot()
        keys = {hook.idempotency_key for hook in arrived}
        assert keys == {f"incident-desk-delivery-{delivery.pk}"}
    assert [item.delivery_id for item in arrived] == [delivery.pk, delivery.pk]
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.SENT, 1)


@pytest.fixture
def slow_commit(transactional_db):
    """Commits that mark a delivery sent take a second (a trigger deferred to the COMMIT sleeps),
    so a worker can be killed while its COMMIT is in PostgreSQL's hands."""
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE FUNCTION test_slow_commit() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN PERFORM pg_sleep(1); RETURN NULL; END $$"
        )
        cursor.execute(
            "CREATE CONSTRAINT TRIGGER test_slow_commit AFTER UPDATE ON notifications_delivery "
            "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (NEW.status = 'sent') "
            "EXECUTE FUNCTION test_slow_commit()"
        )
    yield
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER test_slow_commit ON notifications_delivery")
        cursor.execute("DROP FUNCTION test_slow_commit()")


def committing() -> bool:
    """Whether another connection to this database is inside a COMMIT that waits on the trigger."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND query = 'COMMIT' AND wait_event = 'PgSleep'"
        )
        return cursor.fetchone()[0] > 0


@pytest.mark.postgres
def test_a_webhook_whose_worker_is_killed_during_the_commit_arrives_once(slow_commit, hooks, tmp_path):
    # PostgreSQL finishes a COMMIT it has read even if its client dies: the delivery is recorded
    # as sent, and nothing goes out again.
    delivery = delivery_to(Channel.WEBHOOK, hooks.url)
    worker = worker_attempting(delivery, "console://", tmp_path)
    kill_when(worker, committing, what="the worker's COMMIT")

    assert notification_services.delivery_attempt(delivery_id=delivery.pk).outcome == "already"
    assert settled(hooks.snapshot, expect=2, wait=1) == 1
    assert hooks.counts() == {delivery.pk: 1}
    assert Delivery.objects.get(pk=delivery.pk).status == DeliveryStatus.SENT
