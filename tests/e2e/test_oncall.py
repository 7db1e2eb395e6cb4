"""The schedule page in a browser in New York for a schedule kept in London: the person on call
this week is marked "now", next week's person starts at Monday 09:00 London time shown as the
browser's own clock time; and the header tells the person on call until when."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from incidents.models import Team
from tests import factories

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
