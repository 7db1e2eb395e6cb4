"""The schedule page in a browser in New York for a schedule kept in London: the person on call
this week is marked "now", next week's person starts at Monday 09:00 London time shown as the
browser's own clock time; and the header tells the person on call until when."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from incidents import services as incident_services
from incidents.models import Team
from oncall import services as oncall_services
from postmortems import services as postmortem_services
from tests import factories
from tests.e2e.test_paging import _axe
from tests.e2e.test_phone import DESKTOP, PHONE

pytestmark = pytest.mark.browser

LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")


@pytest.fixture
def rota(e2e_db):
    alice = factories.UserFactory(role="responder", username="alice", first_name="Alice", last_name="Ash")
    bob = factories.UserFactory(role="responder", username="bob", first_name="Bob", last_name="Birch")
    team = Team.objects.create(name="Payments", slug="payments")
    now = timezone.now().astimezone(LONDON)
    monday = now.date() - timedelta(days=now.weekday())
    this_week = monday if now >= datetime.combine(monday, time(9), tzinfo=LONDON) else monday - timedelta(days=7)
    start = this_week - timedelta(days=14)  # two whole turns ago: Alice's again this week
    schedule = factories.on_call_schedule(
        team=team,
        time_zone="Europe/London",
        layers=[{"members": [alice, bob], "start_date": start, "handoff_time": time(9), "shift_length": 7}],
    )
    next_handoff = datetime.combine(this_week + timedelta(days=7), time(9), tzinfo=LONDON)
    return {"schedule": schedule, "alice": alice, "bob": bob, "next_handoff": next_handoff}


def test_the_schedule_page_shows_this_week_and_next_in_the_browsers_zone(
    new_page, expect, rota, log_in, e2e_db, screenshot
):
    page = new_page(timezone_id="America/New_York")
    log_in(page, rota["alice"])
    page.goto(f"{e2e_db}{rota['schedule'].get_absolute_url()}")
    now_row = page.locator("tr.oncall-current")
    expect(now_row.first).to_contain_text("Alice Ash")
    expect(now_row.first).to_contain_text("now")
    handoff = rota["next_handoff"]
    local = handoff.astimezone(NEW_YORK)
    bobs_turn = page.locator("tr", has_text="Bob Birch").first
    starts = bobs_turn.locator("time").first
    expect(starts).to_have_attribute("datetime", handoff.astimezone(ZoneInfo("UTC")).isoformat())
    # In New York: the clock time of 09:00 London (04:00, or 05:00 in the weeks the clocks differ).
    expect(starts).to_contain_text(local.strftime("%H:%M"))
    expect(page.get_by_text("Hand-offs follow the clock in Europe/London")).to_contain_text("America/New_York")
    # The header, fetched after the page: Alice is on call until the hand-off to Bob.
    expect(page.locator(".oncall-you")).to_contain_text("You are on call for")
    expect(page.locator(".oncall-you time")).to_have_attribute("datetime", handoff.astimezone(NEW_YORK).isoformat())
    screenshot(page)


def test_the_incoming_persons_dashboard_shows_the_hand_off_with_overdue_items(
    new_page, expect, rota, log_in, e2e_db, screenshot
):
    """Alice's turn ends now; Bob's dashboard card has her note, her open incident and her overdue
    action item, at 360 px and 1280 px."""
    alice, bob = rota["alice"], rota["bob"]
    schedule = rota["schedule"]
    now = timezone.now()
    old = factories.declare_incident(declared_by=alice, title="Payments timeouts")
    incident_services.incident_status_change(incident=old, status="resolved", actor=alice)
    postmortem_services.action_item_add(
        postmortem=_postmortem(old, alice),
        actor=alice,
        title="Alert on queue depth",
        due_on=(now - timedelta(days=9)).date(),
    )
    factories.declare_incident(declared_by=alice, title="Checkout slow for card payments")
    oncall_services.handoff_note_write(user=alice, schedule=schedule, text="Disk on db-3 at 85 %, watch it", now=now)
    # Bob covers from now: Alice's turn ends, his starts (an override of the whole schedule).
    oncall_services.override_add(
        schedule=schedule, user=bob, starts_at=now - timedelta(minutes=1), ends_at=now + timedelta(days=1)
    )
    page = new_page()
    page.set_viewport_size(PHONE)
    log_in(page, bob)
    card = page.locator(".oncall-handoff")
    expect(card).to_contain_text("Alice Ash handed over to you")
    expect(card).to_contain_text("Checkout slow for card payments")
    expect(card).to_contain_text("Alert on queue depth")
    assert _axe(page) == []
    screenshot(page, "phone")
    page.set_viewport_size(DESKTOP)
    assert _axe(page) == []
    screenshot(page, "desktop")


def _postmortem(incident, actor):
    """The resolved incident's postmortem: started on resolution when its severity asks for one."""
    from postmortems.models import Postmortem

    found = Postmortem.objects.filter(incident=incident).first()
    return found or postmortem_services.postmortem_start(incident=incident, actor=actor)
