"""The reminder engine is watched: /health reports the age of the last sweep, and when none has
run for three intervals responders and admins see a banner on every page until one runs."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.test import Client

from incidents import reminder_watch, tasks
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

# 14:02 in Berlin (UTC+1 in March).
LAST_SWEEP = datetime(2026, 3, 2, 13, 2, 0, tzinfo=UTC)
BANNER = "Reminders are not running since"


@pytest.fixture(autouse=True)
def _watched(settings):
    settings.REMINDER_SWEEP_SECONDS = 10
    settings.REMINDERS_STALLED_AFTER_SECONDS = 120


def reader(user, zone: str = "Europe/Berlin") -> Client:
    client = Client()
    client.force_login(user)
    client.cookies["tz"] = zone
    return client


def test_responders_and_admins_see_since_when_reminders_stopped_until_a_sweep_runs():
    reminder_watch.sweep_record(now=LAST_SWEEP)
    responder = reader(UserFactory(role="responder"))
    admin = reader(UserFactory(role="admin", is_staff=True))
    viewer = reader(UserFactory(role="viewer"))
    with time_machine.travel(LAST_SWEEP + timedelta(minutes=3), tick=False):
        for path in ("/", "/runbooks/", "/notifications/"):
            body = responder.get(path).content.decode()
            assert BANNER in body, path
            assert ">14:02</time>" in body, path
        assert BANNER in admin.get("/").content.decode()
        assert BANNER not in viewer.get("/").content.decode()
        # Each reader sees the time in their own zone.
        assert ">13:02</time>" in reader(UserFactory(role="responder"), "UTC").get("/").content.decode()
        tasks.sweep_reminders()
    # A sweep ran; the next minute's pages no longer say so.
    with time_machine.travel(LAST_SWEEP + timedelta(minutes=4, seconds=10), tick=False):
        for path in ("/", "/runbooks/"):
            assert BANNER not in responder.get(path).content.decode(), path


def test_no_banner_while_sweeps_run():
    with time_machine.travel(LAST_SWEEP, tick=False):
        reminder_watch.sweep_record()
    with time_machine.travel(LAST_SWEEP + timedelta(seconds=100), tick=False):
        assert BANNER not in reader(UserFactory(role="responder")).get("/").content.decode()


def test_health_reports_the_last_sweeps_age_and_says_when_reminders_stopped(client, monkeypatch):
    # Beat never ran since this process started watching, long ago.
    monkeypatch.setattr(reminder_watch, "WATCHED_SINCE", LAST_SWEEP)
    with time_machine.travel(LAST_SWEEP + timedelta(minutes=5), tick=False):
        body = client.get("/health").json()
        assert body["reminders"] == "not running since 2026-03-02T13:02:00+00:00"
        assert body["last_reminder_sweep_seconds_ago"] is None
        tasks.sweep_reminders()
    with time_machine.travel(LAST_SWEEP + timedelta(minutes=5, seconds=4), tick=False):
        body = client.get("/health").json()
    assert body["status"] == "ok"
    assert body["reminders"] == "running"
    assert body["last_reminder_sweep_seconds_ago"] == 4.0
