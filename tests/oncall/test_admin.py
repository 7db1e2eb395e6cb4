"""The admin edits teams and schedules: a schedule with its rotations and overrides inline, a
rotation with its members in turn order."""

from datetime import UTC, date, datetime

import pytest
import time_machine
from django.test import Client

from incidents.models import Team
from oncall import selectors
from oncall.models import Rotation, Schedule
from tests.factories import ServiceFactory, UserFactory, on_call_schedule

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(admin_user):
    client = Client()
    client.force_login(admin_user)
    return client


def inline(prefix: str, rows: list[dict]) -> dict:
    data = {f"{prefix}-TOTAL_FORMS": str(len(rows)), f"{prefix}-INITIAL_FORMS": "0"}
    for index, row in enumerate(rows):
        data |= {f"{prefix}-{index}-{key}": value for key, value in row.items()}
    return data


def test_every_oncall_admin_page_opens(staff):
    schedule = on_call_schedule(layers=[{"members": [UserFactory()], "start_date": date(2026, 1, 1)}])
    ServiceFactory(owner_team=schedule.team)
    for path in [
        "/admin/incidents/team/",
        "/admin/incidents/team/add/",
        f"/admin/incidents/team/{schedule.team.pk}/change/",
        "/admin/incidents/service/",
        "/admin/oncall/schedule/",
        "/admin/oncall/schedule/add/",
        f"/admin/oncall/schedule/{schedule.pk}/change/",
        "/admin/oncall/rotation/",
        f"/admin/oncall/rotation/{schedule.rotations.get().pk}/change/",
    ]:
        assert staff.get(path).status_code == 200, path


def test_a_schedule_is_made_with_a_rotation_and_an_override_and_then_members(staff):
    team = Team.objects.create(name="Payments", slug="payments")
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    form = {
        "team": team.pk,
        "name": "Primary",
        "slug": "payments-primary",
        "time_zone": "Europe/London",
        "description": "",
        **inline(
            "rotations",
            [
                {
                    "position": "0",
                    "name": "Weekly",
                    "shift_length": "7",
                    "shift_unit": "days",
                    "handoff_time": "09:00",
                    "start_date": "2026-03-23",
                }
            ],
        ),
        **inline(
            "overrides",
            [
                {
                    "user": bob.pk,
                    "starts_at_0": "2026-03-25",
                    "starts_at_1": "10:00",
                    "ends_at_0": "2026-03-25",
                    "ends_at_1": "14:00",
                }
            ],
        ),
    }
    response = staff.post("/admin/oncall/schedule/add/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    schedule = Schedule.objects.get(slug="payments-primary")
    rotation = Rotation.objects.get(schedule=schedule)
    members = {
        "schedule": schedule.pk,
        "name": "Weekly",
        "position": "0",
        "shift_length": "7",
        "shift_unit": "days",
        "handoff_time": "09:00",
        "start_date": "2026-03-23",
        **inline("memberships", [{"position": "0", "user": alice.pk}, {"position": "1", "user": bob.pk}]),
    }
    assert staff.post(f"/admin/oncall/rotation/{rotation.pk}/change/", members).status_code == 302
    at = datetime(2026, 3, 24, 12, tzinfo=UTC)
    with time_machine.travel(at, tick=False):
        assert [u.username for u in selectors.on_call_at(schedule=schedule, at=at)] == ["alice"]


def test_the_admin_refuses_an_unknown_time_zone(staff):
    team = Team.objects.create(name="Payments", slug="payments")
    form = {
        "team": team.pk,
        "name": "P",
        "slug": "p",
        "time_zone": "Mars/Olympus",
        **inline("rotations", []),
        **inline("overrides", []),
    }
    response = staff.post("/admin/oncall/schedule/add/", form)
    assert response.status_code == 200
    # The form offers only IANA names (oncall.admin.TIME_ZONE_CHOICES).
    assert "Select a valid choice" in response.content.decode() and not Schedule.objects.exists()
