"""The on-call pages: who is on call now and until when, the next weeks in the viewer's zone, a
warning for the spans nobody is on call, and the header line for whoever is on call."""

from datetime import UTC, date, datetime, time

import pytest
import time_machine

from incidents.models import Team
from oncall.models import Override
from tests.factories import ServiceFactory, UserFactory, declare_incident, on_call_schedule

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 6, 3, 12, tzinfo=UTC)  # a Wednesday


@pytest.fixture
def people(db):
    return {
        name: UserFactory(username=name, first_name=name.title(), last_name="") for name in ["alice", "bob", "carol"]
    }


@pytest.fixture
def schedule(people):
    team = Team.objects.create(name="Platform", slug="platform")
    ServiceFactory(name="Checkout", slug="checkout", owner_team=team)
    return on_call_schedule(
        team=team,
        time_zone="Europe/London",
        layers=[
            {
                "members": [people["alice"], people["bob"]],
                "start_date": date(2026, 6, 1),
                "handoff_time": time(9),
                "shift_length": 7,
                "shift_unit": "days",
            }
        ],
    )


def page(client, path, zone="UTC", **headers):
    client.cookies["tz"] = zone
    response = client.get(path, **headers)
    assert response.status_code == 200, path
    return response.content.decode()


def test_the_list_shows_who_is_on_call_now_and_the_teams_services(responder_client, schedule):
    with time_machine.travel(NOW, tick=False):
        body = page(responder_client, "/oncall/")
    assert "Alice" in body and "Bob" not in body
    assert "Checkout" in body
    assert schedule.get_absolute_url() in body


def test_the_schedule_page_shows_this_week_and_next_in_the_viewers_zone(responder_client, schedule):
    with time_machine.travel(NOW, tick=False):
        body = page(responder_client, schedule.get_absolute_url(), zone="America/New_York")
    # Monday 8 June 09:00 in London is 04:00 in New York.
    assert 'datetime="2026-06-08T08:00:00+00:00"' in body
    assert "Mon 04:00" in body
    # Within the calendar: a random token elsewhere on the page (CSRF) may spell "Bob".
    calendar = body[body.index('id="calendar"') :]
    assert calendar.index("Alice") < calendar.index("Bob")
    assert "Nobody is on call" not in body


def test_the_schedule_page_warns_of_gaps(responder_client, schedule, people):
    schedule.rotations.update(start_date=date(2026, 6, 10))
    with time_machine.travel(NOW, tick=False):
        body = page(responder_client, schedule.get_absolute_url())
    assert "Nobody is on call for 1 span" in body
    assert "Nobody on call" in body  # now


def test_the_schedule_page_by_id_with_more_weeks_and_as_a_fragment(responder_client, schedule):
    with time_machine.travel(NOW, tick=False):
        full = page(responder_client, f"/oncall/schedules/{schedule.pk}/?weeks=4")
        fragment = page(responder_client, f"/oncall/schedules/{schedule.pk}/?weeks=4", HTTP_HX_REQUEST="true")
    assert "Next 4 weeks" in full
    assert "<html" not in fragment and "Next 4 weeks" in fragment
    for weeks in ["0", "99", "-1", "²", "x" * 40, "1e3"]:
        with time_machine.travel(NOW, tick=False):
            assert "Next 2 weeks" in page(responder_client, f"{schedule.get_absolute_url()}?weeks={weeks}")
    assert responder_client.get("/oncall/schedules/nope/").status_code == 404


def test_the_pages_need_a_login(client, schedule):
    assert client.get("/oncall/").status_code == 302
    assert client.get(schedule.get_absolute_url()).status_code == 302
    # The header's poll after the session ended: nothing to swap in, not the login page.
    assert client.get("/oncall/you/").status_code == 204


def test_the_header_says_until_when_to_the_person_on_call_only(client, schedule, people):
    with time_machine.travel(NOW, tick=False):
        client.force_login(people["alice"])
        # Every page asks for the line after loading; the cached pages stay the same for all.
        assert 'hx-get="/oncall/you/"' in page(client, "/oncall/")
        line = page(client, "/oncall/you/", zone="Europe/London")
        assert "You are on call for" in line and "until" in line
        assert "Mon 09:00" in line
        client.force_login(people["carol"])
        assert "You are on call" not in page(client, "/oncall/you/")


def test_the_header_line_costs_one_query_for_someone_in_no_schedule(
    client, schedule, people, django_assert_num_queries
):
    client.force_login(people["carol"])
    with time_machine.travel(NOW, tick=False), django_assert_num_queries(2):  # the user, then the schedules
        page(client, "/oncall/you/")


def test_an_override_puts_someone_in_the_header(client, schedule, people):
    client.force_login(people["bob"])
    with time_machine.travel(NOW, tick=False):
        assert "You are on call" not in page(client, "/oncall/you/")
        Override.objects.create(
            schedule=schedule, user=people["bob"], starts_at=NOW, ends_at=datetime(2026, 6, 4, tzinfo=UTC)
        )
        assert "You are on call" in page(client, "/oncall/you/")


def test_the_incident_page_names_who_is_on_call_for_its_services(responder_client, schedule):
    with time_machine.travel(NOW, tick=False):
        incident = declare_incident(affected_services=[schedule.team.services.get()])
        body = page(responder_client, incident.get_absolute_url())
    assert "Checkout</strong>: Alice" in body
