"""A reminder that falls due while Redis (the broker) is down is delivered once Redis is back,
exactly once: the sweep reads what is due from PostgreSQL, so nothing is lost with the broker.

A real worker with its embedded beat, on this test's own redis-server, which the test stops
and starts (the shared Redis is never touched)."""

import time
from collections import Counter

import pytest
from django.db import connection

from tests.integration.harness import CeleryWorker, SmtpSink, database_url, wait_for, worker_env
from tests.integration.test_reminder_delivery import (  # noqa: F401 - fixtures
    REMINDER,
    SWEEP_TASK,
    declare_in_the_past,
    emails_received,
    ladder_emails,
    people,
    sev2,
)
from tests.test_redis_outage import REDIS_SERVER, OwnRedis, own_redis  # noqa: F401 - a fixture

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(REDIS_SERVER is None, reason="needs redis-server (apt-get install redis-server)"),
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("committed_db"),
]


def reminders_received(smtp_sink) -> Counter:
    return Counter({key: n for key, n in emails_received(smtp_sink).items() if key[1] == REMINDER})


def sweeping_worker(redis: OwnRedis, sink: SmtpSink, tmp_path) -> CeleryWorker:
    """A worker with its embedded beat sweeping every second, on this test's own Redis."""
    env = worker_env(
        database_url=database_url(connection.settings_dict),
        redis_url=redis.url,
        email_url=sink.url,
        workdir=tmp_path / "worker",
        sweep_seconds=1,
        settings_module="config.test_settings",
    )
    return CeleryWorker(env=env, workdir=tmp_path / "worker")


def test_a_reminder_due_during_the_outage_is_delivered_once_after_it(
    own_redis: OwnRedis,  # noqa: F811
    people,  # noqa: F811
    sev2,  # noqa: F811
    smtp_sink,
    tmp_path,
):
    worker = sweeping_worker(own_redis, smtp_sink, tmp_path)
    try:
        worker.start()
        own_redis.stop()
        # Every step of the ladder falls due while the broker is down.
        incident = declare_in_the_past(people, seconds_ago=125)
        due = incident.next_update_due_at
        time.sleep(4)
        assert reminders_received(smtp_sink) == Counter(), "nothing could be swept during the outage"
        swept_before = worker.tasks_succeeded(SWEEP_TASK)

        own_redis.start()
        expected = ladder_emails(people, due)
        wait_for(lambda: expected <= set(reminders_received(smtp_sink)), timeout=90, what="the reminders")
        wait_for(lambda: worker.tasks_succeeded(SWEEP_TASK) >= swept_before + 5, timeout=30, what="5 more sweeps")
        assert reminders_received(smtp_sink) == Counter(dict.fromkeys(expected, 1))
        assert list(incident.reminders.values_list("step", flat=True)) == [1, 2, 3]
    finally:
        worker.stop()


def test_the_worker_survives_redis_stopping_while_it_sends(own_redis: OwnRedis, people, sev2, tmp_path):  # noqa: F811
    """Every task is acknowledged late, so one is in flight whenever a mail server is slow. Celery
    5.7.0's worker died of that ("Unrecoverable error: AttributeError ... 'hostname'") when the
    broker went away mid-send, and nothing came back; the worker must ride it out."""
    sink = SmtpSink(delay=2).start()
    worker = sweeping_worker(own_redis, sink, tmp_path)
    try:
        worker.start()
        incident = declare_in_the_past(people, seconds_ago=125)
        due = incident.next_update_due_at
        assert sink.message_read.wait(60), "no reminder was sent"
        own_redis.stop()  # While the mail server takes its time: the task is not acknowledged yet.
        time.sleep(4)
        assert worker.process.poll() is None, f"the worker died with the broker:\n{worker.log()}"

        own_redis.start()
        expected = ladder_emails(people, due)
        wait_for(lambda: expected <= set(reminders_received(sink)), timeout=90, what="the reminders")
        assert worker.process.poll() is None
    finally:
        worker.stop()
        sink.stop()
