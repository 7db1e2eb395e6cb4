"""Beat in a fresh checkout: no var/ folder yet (only collectstatic used to make it), production
settings. It must start and sweep, not die on its schedule file."""

import pytest
from django.conf import settings
from django.db import connection

from incidents.models import ReminderSweep
from tests.integration.harness import CeleryWorker, database_url, wait_for, worker_env

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("committed_db", "clean_broker"),
]


class PlainWorker(CeleryWorker):
    """Without the harness's explicit schedule file: where the settings put it."""

    def command(self) -> list[str]:
        command = super().command()
        at = command.index("-s")
        return command[:at] + command[at + 2 :]


def test_beat_starts_and_sweeps_in_a_fresh_checkout(tmp_path, smtp_sink):
    fresh_var = tmp_path / "checkout" / "var"
    env = worker_env(
        database_url=database_url(connection.settings_dict),
        redis_url=settings.REDIS_URL,
        email_url=smtp_sink.url,
        workdir=fresh_var,
        settings_module="config.settings",
    )
    worker = PlainWorker(env=env, workdir=tmp_path / "logs")
    try:
        worker.start()
        wait_for(ReminderSweep.objects.exists, timeout=30, what="a reminder sweep")
        assert worker.running, worker.log()
    finally:
        worker.stop()
    assert (fresh_var / "celerybeat-schedule").exists() or list(fresh_var.glob("celerybeat-schedule*"))
