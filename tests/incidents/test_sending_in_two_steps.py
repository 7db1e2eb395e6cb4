"""A killed worker never loses a message: the message goes out but for its last line (email) or
byte (webhook); in one transaction the delivery is marked sent, the last piece goes out and the
transaction commits when the receiver has taken the message (a mail server's 250; a web server's
whole body, before its answer is read). These tests talk to a real SMTP server (aiosmtpd) and a
real HTTP server, and kill a real process mid-send."""

import subprocess
import sys
import time

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from notifications import senders
from notifications import services as notification_services
from notifications.models import Channel, Delivery, DeliveryStatus, Message
from tests.integration.harness import BASE_DIR, SmtpSink, WebhookReceiver, database_url, wait_for, worker_env


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


def watch_last_steps(channel: str, seen: dict, arrived) -> None:
    """Make the sender of `channel` note, as it sends a message's last piece and as it reads the
    answer, whether the delivery's transaction is open and what the delivery's status reads (and,
    at the last piece, how many messages had arrived)."""
    opener = senders.OPENERS[channel]

    def watching(delivery: Delivery) -> senders.Send:
        send = opener(delivery)

        def status() -> str:
            return Delivery.objects.get(pk=delivery.pk).status

        def finish() -> None:
            seen["last piece sent"] = (connection.in_atomic_block, status(), len(arrived()))
            send.finish()

        def answer() -> None:
            seen["answer read"] = (connection.in_atomic_block, status())
            send.answer()

        return senders.Send(finish, answer, send.abort, send.close, taken_on_answer=send.taken_on_answer)

    senders.OPENERS[channel] = watching


@pytest.fixture
def restore_senders():
    openers = dict(senders.OPENERS)
    yield
    senders.OPENERS.update(openers)


@pytest.mark.parametrize(("channel", "answer_read_in_transaction"), [(Channel.EMAIL, True), (Channel.WEBHOOK, False)])
def test_the_last_piece_goes_out_in_the_transaction_marking_it_sent_which_commits_once_the_receiver_took_it(
    transactional_db, smtp, hooks, restore_senders, channel, answer_read_in_transaction
):
    target, arrived = ("lead@example.com", smtp.snapshot) if channel == Channel.EMAIL else (hooks.url, hooks.snapshot)
    delivery = delivery_to(channel, target)
    seen = {}
    watch_last_steps(channel, seen, arrived)
    assert notification_services.delivery_attempt(delivery_id=delivery.pk).outcome == "sent"
    # (in the transaction?, status as this connection reads it, messages arrived). A mail server
    # may drop the message until it answers 250, so its answer is read before the commit; a web
    # server has taken the request with its last byte, so its answer is read after the commit,
    # and outside any transaction the status read is the committed one.
    assert seen == {
        "last piece sent": (True, DeliveryStatus.SENT, 0),
        "answer read": (answer_read_in_transaction, DeliveryStatus.SENT),
    }
    assert not connection.in_atomic_block
    assert Delivery.objects.get(pk=delivery.pk).status == DeliveryStatus.SENT
    assert settled(arrived, expect=1) == 1


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
    # aiosmtpd drops a message whose sender is gone before the 250: a delivery committed as sent
    # on the end-of-data line would be lost.
    sink = SmtpSink(delay=0.5).start()
    try:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", sink.port
        delivery = delivery_to(Channel.EMAIL, "lead@example.com")
        worker = worker_attempting(delivery, sink.url, tmp_path)
        kill_when(worker, after(sink.message_read, 0.15), what="the server read the message")

        notification_services.delivery_attempt(delivery_id=delivery.pk)
        assert settled(sink.snapshot, expect=2, wait=1.5) == 1
    finally:
        sink.stop()
    assert sink.counts() == {delivery.pk: 1}
    assert Delivery.objects.get(pk=delivery.pk).status == DeliveryStatus.SENT


@pytest.mark.postgres
def test_a_webhook_whose_worker_is_killed_while_the_receiver_works_on_it_arrives_once(transactional_db, tmp_path):
    # A web server acts on a request it has read whole even if its sender is gone: a delivery
    # committed only on the answer would go out again.
    receiver = WebhookReceiver(delay=0.5).start()
    try:
        delivery = delivery_to(Channel.WEBHOOK, receiver.url)
        worker = worker_attempting(delivery, "console://", tmp_path)
        kill_when(worker, after(receiver.message_read, 0.15), what="the receiver read the request")

        notification_services.delivery_attempt(delivery_id=delivery.pk)
        assert settled(receiver.snapshot, expect=2, wait=1.5) == 1
    finally:
        receiver.stop()
    assert receiver.counts() == {delivery.pk: 1}
    assert Delivery.objects.get(pk=delivery.pk).status == DeliveryStatus.SENT


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
    # PostgreSQL finishes a COMMIT it has read even if its client dies: the last byte has to be
    # out by then, or the delivery is recorded as sent and never received.
    delivery = delivery_to(Channel.WEBHOOK, hooks.url)
    worker = worker_attempting(delivery, "console://", tmp_path)
    kill_when(worker, committing, what="the worker's COMMIT")

    notification_services.delivery_attempt(delivery_id=delivery.pk)
    assert settled(hooks.snapshot, expect=2, wait=1) == 1
    assert hooks.counts() == {delivery.pk: 1}
    assert Delivery.objects.get(pk=delivery.pk).status == DeliveryStatus.SENT
