"""Fixtures for the integration tests: a real Celery worker with its embedded beat, run as a
subprocess against this test's PostgreSQL database and Redis, delivering to an SMTP sink and an
HTTP webhook receiver that run in this process.

The worker is a separate process, so it only sees committed rows: every test here uses
`django_db(transaction=True)` with the `committed_db` fixture (the flush after a test empties
every table; committed_db puts the seeded severity policy and role groups back). The worker is
started by the test, after it has arranged its data, and stopped (SIGTERM, then SIGKILL) before
the database is flushed, even when the test fails; a failing test's report carries the worker log.
"""

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from tests.integration.harness import (
    CeleryWorker,
    SmtpSink,
    WebhookReceiver,
    broker_purge,
    database_url,
    worker_env,
)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    if report.failed:
        for worker in getattr(item, "celery_workers", []):
            report.sections.append((f"Celery worker log ({worker.log_path})", worker.log()))
    return report


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    sink = SmtpSink().start()
    yield sink
    sink.stop()


@pytest.fixture
def webhook_receiver() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver().start()
    yield receiver
    receiver.stop()


@pytest.fixture
def clean_broker() -> None:
    """Messages a previous (failed) run left in the queue must not reach this test's worker."""
    broker_purge(settings.REDIS_URL)


@pytest.fixture
def start_worker(
    request: pytest.FixtureRequest, committed_db, clean_broker, smtp_sink: SmtpSink, tmp_path: Path
) -> Iterator[Callable[..., CeleryWorker]]:
    """Call it to start the worker (with beat, sweeping every second) once the data is committed.

    It depends on the database fixture, so it is torn down first: the worker is gone before
    pytest-django flushes the tables it was using."""
    workers: list[CeleryWorker] = []
    request.node.celery_workers = workers

    def start(*, sweep_seconds: float = 1, extra_env: dict[str, str] | None = None) -> CeleryWorker:
        env = worker_env(
            database_url=database_url(connection.settings_dict),
            redis_url=settings.REDIS_URL,
            email_url=smtp_sink.url,
            workdir=tmp_path,
            sweep_seconds=sweep_seconds,
            settings_module="config.test_settings",
            extra=extra_env,
        )
        worker = CeleryWorker(env=env, workdir=tmp_path / f"worker-{len(workers)}")
        workers.append(worker)
        return worker.start()

    yield start
    for worker in workers:
        worker.stop()
    broker_purge(settings.REDIS_URL)
