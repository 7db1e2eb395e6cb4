"""The on-call API: teams, schedules with rotations and overrides nested, and who is on call for
a service at a moment (a bad moment is a clear 400)."""

from datetime import UTC, date, datetime, time, timedelta

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from incidents.models import Team
from oncall import errors
from oncall.models import UNKNOWN_TIME_ZONE, Schedule
from tests.factories import ServiceFactory, UserFactory, on_call_schedule
from tests.incidents.test_api import call, token_for

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 25, 12, tzinfo=UTC)


@pytest.fixture
def admin_token(admin_user):
    return token_for(admin_user)


@pytest.fixture
def reader_token(responder):
    return token_for(responder)


@pytest.fixture
def people():
    return [UserFactory(username=name, first_name=name.title(), last_name="") for name in ("alice", "bob")]


def test_teams_are_listed_and_made_by_an_admin(client, admin_token, reader_token, people):
    made = call(client, "POST", "/api/v1/teams/", {"name": "Payments", "members": ["alice", "bob"]}, token=admin_token)
    assert made.status_code == 201, made.content
    assert made.json() == {
        "slug": "payments",
        "name": "Payments",
        "description": "",
        "members": ["alice", "bob"],
        "services": [],
    }
    ServiceFactory(slug="checkout", owner_team=Team.objects.get(slug="payments"))
    listed = call(client, "GET", "/api/v1/teams/", token=reader_token).json()
    assert [(t["slug"], t["services"]) for t in listed] == [("payments", ["checkout"])]
    refused = call(client, "POST", "/api/v1/teams/", {"name": "Other"}, token=reader_token)
    assert refused.status_code == 403 and refused.json() == {"error": errors.NOT_PERMITTED_TEAMS}
    again = call(client, "POST", "/api/v1/teams/", {"name": "payments"}, token=admin_token)
    assert again.status_code == 400 and again.json()["errors"]["__all__"] == [errors.TEAM_EXISTS]
    unknown = call(client, "POST", "/api/v1/teams/", {"name": "X", "members": ["nobody"]}, token=admin_token)
    assert unknown.json() == {"errors": {"members": [errors.UNKNOWN_USERS.format(names="nobody")]}}


def test_a_schedule_is_made_with_rotations_and_overrides_nested(client, admin_token, reader_token, people):
    Team.objects.create(name="Payments", slug="payments")
    body = {
        "team": "payments",
        "name": "Primary",
        "time_zone": "Europe/London",
        "rotations": [
            {"name": "Weekly", "start_date": "2026-03-23", "handoff_time": "09:00", "members": ["alice", "bob"]}
        ],
        "overrides": [
            {"user": "bob", "starts_at": "2026-03-25T10:00:00Z", "ends_at": "2026-03-25T14:00:00Z", "note": "Swap"}
        ],
    }
    with time_machine.travel(NOW, tick=False):
        made = call(client, "POST", "/api/v1/schedules/", body, token=admin_token)
        assert made.status_code == 201, made.content
        answer = made.json()
        assert answer["rotations"][0] | {"members": None} == {
            "name": "Weekly",
            "position": 0,
            "shift_length": 7,
            "shift_unit": "days",
            "handoff_time": "09:00",
            "start_date": "2026-03-23",
            "members": None,
        }
        assert answer["overrides"][0]["user"] == "bob" and answer["overrides"][0]["rotation"] is None
        assert [p["username"] for p in answer["on_call_now"]] == ["bob"]
        listed = call(client, "GET", "/api/v1/schedules/", token=reader_token).json()
    assert [s["slug"] for s in listed] == [answer["slug"]]
    assert call(client, "POST", "/api/v1/schedules/", body, token=reader_token).status_code == 403


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"time_zone": "Mars/Olympus"}, "time_zone", UNKNOWN_TIME_ZONE),
        ({"team": "nope"}, "team", errors.UNKNOWN_TEAM),
        ({"rotations": [{"name": "R", "start_date": "yesterday"}]}, "rotations", errors.BAD_DATE),
        ({"rotations": [{"name": "R", "start_date": "2026-01-01", "handoff_time": "25:00"}]}, "rotations", None),
        ({"rotations": [{"name": "R", "start_date": "2026-01-01", "shift_unit": "weeks"}]}, "rotations", None),
        ({"rotations": [{"name": "R", "start_date": "2026-01-01", "shift_length": 0}]}, "rotations", None),
        (
            {"overrides": [{"user": "alice", "starts_at": "2026-01-02T00:00:00Z", "ends_at": "2026-01-01T00:00:00Z"}]},
            "ends_at",
            None,
        ),
        ({"overrides": [{"user": "alice", "starts_at": "soon", "ends_at": "later"}]}, "overrides", None),
    ],
)
def test_a_refused_schedule_says_why_and_leaves_nothing(client, admin_token, people, change, field, message):
    Team.objects.create(name="Payments", slug="payments")
    body = {"team": "payments", "name": "Primary", "time_zone": "UTC", **change}
    refused = call(client, "POST", "/api/v1/schedules/", body, token=admin_token)
    assert refused.status_code == 400, refused.content
    problems = refused.json()["errors"]
    assert any(key.startswith(field) for key in problems), problems
    if message:
        assert any(message in messages for messages in problems.values())
    assert not Schedule.objects.exists()


def test_who_is_on_call_for_a_service_at_a_moment(client, reader_token, people):
    team = Team.objects.create(name="Payments", slug="payments")
    ServiceFactory(slug="checkout", owner_team=team)
    on_call_schedule(
        team=team,
        time_zone="America/New_York",
        layers=[{"members": people, "start_date": date(2026, 3, 2), "handoff_time": time(9), "shift_length": 7}],
    )
    # Monday 9 March 09:00 in New York (EDT since the 8th) is 13:00 UTC.
    before = call(client, "GET", "/api/v1/oncall/?service=checkout&at=2026-03-09T12:59:00Z", token=reader_token)
    after = call(client, "GET", "/api/v1/oncall/?service=checkout&at=2026-03-09T09:00:00-04:00", token=reader_token)
    assert before.status_code == 200
    assert [p["username"] for p in before.json()["on_call"]] == ["alice"]
    assert after.json() | {"on_call": None} == {
        "service": "checkout",
        "team": "payments",
        "at": "2026-03-09T13:00:00Z",
        "on_call": None,
    }
    assert [p["username"] for p in after.json()["on_call"]] == ["bob"]
    with time_machine.travel(datetime(2026, 3, 3, tzinfo=UTC), tick=False):
        now = call(client, "GET", "/api/v1/oncall/?service=checkout", token=reader_token)
    assert [p["username"] for p in now.json()["on_call"]] == ["alice"]


@pytest.mark.parametrize("at", ["yesterday", "2026-03-09T12:00:00", "2026-13-01T00:00:00Z", "9" * 40, "²"])
def test_a_bad_moment_is_a_clear_400(client, reader_token, at):
    ServiceFactory(slug="checkout")
    answer = call(client, "GET", f"/api/v1/oncall/?service=checkout&at={at}", token=reader_token)
    assert answer.status_code == 400
    assert answer.json() == {"errors": {"at": [errors.BAD_MOMENT]}}


def test_an_unknown_service_is_404_and_without_one_everyone_on_call_answers(client, reader_token, people):
    assert call(client, "GET", "/api/v1/oncall/?service=nope", token=reader_token).status_code == 404
    assert call(client, "GET", "/api/v1/oncall/?service=x").status_code == 401
    on_call_schedule(layers=[{"members": people[:1], "start_date": date(2026, 1, 1)}])
    on_call_schedule(
        team=Team.objects.create(name="Other", slug="other"),
        layers=[{"members": people[1:], "start_date": date(2026, 1, 1)}],
    )
    everyone = call(client, "GET", "/api/v1/oncall/?at=2026-03-01T12:00:00Z", token=reader_token).json()
    assert everyone["service"] is None
    assert sorted(p["username"] for p in everyone["on_call"]) == ["alice", "bob"]


def test_the_admin_role_without_superuser_makes_teams_and_schedules(client, people):
    admin = UserFactory(role="admin", is_staff=True)
    token = token_for(admin)
    assert call(client, "POST", "/api/v1/teams/", {"name": "Payments"}, token=token).status_code == 201
    body = {"team": "payments", "name": "Primary", "time_zone": "UTC"}
    assert call(client, "POST", "/api/v1/schedules/", body, token=token).status_code == 201
    staff = Client()
    staff.force_login(admin)
    assert staff.get("/admin/oncall/schedule/add/").status_code == 200
    assert staff.get("/admin/incidents/team/add/").status_code == 200


def _queries_of(client, path, token) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert call(client, "GET", path, token=token).status_code == 200
    return len(queries)


def test_every_on_call_list_costs_the_same_queries_for_1_or_4_teams(client, reader_token, people):
    call(client, "GET", "/api/v1/teams/", token=reader_token)  # Stamps the token's last use, once.
    counts = {}
    with time_machine.travel(NOW, tick=False):
        for total in (1, 4):
            while Team.objects.count() < total:
                team = Team.objects.create(name=f"Team {Team.objects.count()}", slug=f"team-{Team.objects.count()}")
                team.members.add(*people)
                ServiceFactory(owner_team=team)
                ServiceFactory(owner_team=team)
                schedule = on_call_schedule(
                    team=team,
                    layers=[
                        {"members": people, "start_date": date(2026, 3, 2)},
                        {"members": people[::-1], "start_date": date(2026, 3, 2)},
                    ],
                )
                schedule.overrides.create(user=people[0], starts_at=NOW, ends_at=NOW + timedelta(hours=2))
            teams = call(client, "GET", "/api/v1/teams/", token=reader_token).json()
            assert len(teams) == total and all(len(team["services"]) == 2 for team in teams)
            schedules = call(client, "GET", "/api/v1/schedules/", token=reader_token).json()
            assert len(schedules) == total and all(len(s["overrides"]) == 1 for s in schedules)
            paths = ("/api/v1/teams/", "/api/v1/schedules/", "/api/v1/oncall/")
            counts[total] = [_queries_of(client, path, reader_token) for path in paths]
    assert counts[1] == counts[4], counts
