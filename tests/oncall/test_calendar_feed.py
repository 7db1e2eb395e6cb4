"""The personal iCalendar feed: a secret address shown once, fetched without a login, remade or
revoked by its owner; RFC 5545 text (CRLF, escaping, folding)."""

import re
from datetime import UTC, date, datetime, time

import pytest
import time_machine
from django.test import Client

from oncall import ics
from oncall.models import CalendarFeed, Override
from oncall.views import FEED_REVOKED
from tests.factories import UserFactory, on_call_schedule

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 25, 12, tzinfo=UTC)


@pytest.fixture
def alice():
    return UserFactory(username="alice", first_name="Alice", last_name="")


@pytest.fixture
def schedule(alice):
    bob = UserFactory(username="bob")
    return on_call_schedule(
        time_zone="Europe/London",
        layers=[{"members": [alice, bob], "start_date": date(2026, 3, 23), "handoff_time": time(9), "shift_length": 7}],
    )


def make_address(client: Client) -> str:
    body = client.post("/oncall/calendar/", {"action": "create"}).content.decode()
    return re.search(r'id="new-feed-url">https?://[^/]+(/oncall/calendar/[^<]+\.ics)<', body).group(1)


def test_the_feed_lists_the_owners_shifts_without_a_login(client, alice, schedule):
    Override.objects.create(
        schedule=schedule,
        user=alice,
        starts_at=datetime(2026, 4, 2, 8, tzinfo=UTC),
        ends_at=datetime(2026, 4, 2, 20, tzinfo=UTC),
        note="Bob's dentist; then, lunch",
    )
    client.force_login(alice)
    with time_machine.travel(NOW, tick=False):
        address = make_address(client)
        client.logout()
        response = client.get(address)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    body = response.content.decode()
    assert body.startswith("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n") and body.endswith("END:VCALENDAR\r\n")
    assert "\n" not in body.replace("\r\n", "")
    # Alice's week from Monday 23 March 09:00 GMT, to Monday 30 March 09:00 BST (08:00 UTC).
    assert "DTSTART:20260323T090000Z\r\nDTEND:20260330T080000Z" in body
    assert "DTSTART:20260402T080000Z\r\nDTEND:20260402T200000Z" in body
    assert "Bob's dentist\\; then\\, lunch" in body.replace("\r\n ", "")
    assert body.count("BEGIN:VEVENT") >= 3


def test_a_new_address_replaces_the_old_and_revoking_ends_it(client, alice, schedule):
    client.force_login(alice)
    first = make_address(client)
    second = make_address(client)
    assert first != second
    assert Client().get(first).status_code == 404
    assert Client().get(second).status_code == 200
    response = client.post("/oncall/calendar/", {"action": "revoke"}, follow=True)
    assert FEED_REVOKED in response.content.decode()
    assert Client().get(second).status_code == 404
    assert not CalendarFeed.objects.exists()


def test_the_token_is_stored_only_as_a_digest(client, alice):
    client.force_login(alice)
    address = make_address(client)
    token = address.rsplit("/", 1)[1].removesuffix(".ics")
    feed = CalendarFeed.objects.get()
    assert token not in feed.digest and feed.digest == CalendarFeed.digest_of(token)
    page = client.get("/oncall/calendar/").content.decode()
    assert token not in page


def test_unknown_addresses_are_404(client):
    for token in ["x", "a" * 500, "%00", "..%2F..%2Fetc"]:
        assert client.get(f"/oncall/calendar/{token}.ics").status_code in (400, 404)


def test_lines_are_folded_at_75_octets_without_splitting_characters():
    long = "Ünïcödé " * 40
    text = ics.calendar(
        name="N",
        events=[ics.Event(uid="u", starts_at=NOW, ends_at=NOW, summary=long, description="a\nb")],
        now=NOW,
    )
    for line in text.split("\r\n"):
        assert len(line.encode()) <= 75
    unfolded = text.replace("\r\n ", "")
    assert f"SUMMARY:{long}\r\n" in unfolded
    assert "DESCRIPTION:a\\nb\r\n" in unfolded
