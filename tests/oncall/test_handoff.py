"""The hand-off: the outgoing person leaves a note; the incoming person sees it on their dashboard
for the first day of their shift, with the open incidents the outgoing person was part of and
what was declared or resolved during their shift — never a restricted incident they may not see."""

from datetime import UTC, date, datetime, time, timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError

from incidents import services as incident_services
from oncall import errors, selectors, services
from oncall.views import HANDOFF_SAVED
from tests.factories import UserFactory, declare_incident, on_call_schedule

pytestmark = pytest.mark.django_db

# Alice's week runs Monday 1 June 09:00 to Monday 8 June 09:00 UTC, then Bob's.
DURING_ALICE = datetime(2026, 6, 5, 12, tzinfo=UTC)
BOB_TAKES_OVER = datetime(2026, 6, 8, 9, tzinfo=UTC)


@pytest.fixture
def people():
    return {
        name: UserFactory(username=name, first_name=name.title(), last_name="", role="responder")
        for name in ("alice", "bob", "carol")
    }


@pytest.fixture
def schedule(people):
    return on_call_schedule(
        layers=[
            {
                "members": [people["alice"], people["bob"]],
                "start_date": date(2026, 6, 1),
                "handoff_time": time(9),
                "shift_length": 7,
            }
        ]
    )


def test_the_incoming_person_sees_the_note_and_the_incidents(client, people, schedule):
    with time_machine.travel(DURING_ALICE, tick=False):
        open_one = declare_incident(declared_by=people["alice"], title="Checkout slow")
        fixed = declare_incident(declared_by=people["carol"], title="Search down")
        incident_services.incident_status_change(incident=fixed, status="resolved", actor=people["carol"])
        hidden = declare_incident(declared_by=people["alice"], title="Secret breach", security_concern=True)
        client.force_login(people["alice"])
        response = client.post(
            "/oncall/handoff/", {"schedule": schedule.slug, "text": "Disk on db-3 at 85 %"}, follow=True
        )
        assert HANDOFF_SAVED in response.content.decode()
    with time_machine.travel(BOB_TAKES_OVER + timedelta(hours=1), tick=False):
        client.force_login(people["bob"])
        dashboard = client.get("/").content.decode()
        assert 'hx-get="/oncall/handoff/"' in dashboard
        panel = client.get("/oncall/handoff/", headers={"HX-Request": "true"}).content.decode()
    assert "<html" not in panel
    assert "Alice handed over to you" in panel
    assert "Disk on db-3 at 85 %" in panel
    assert open_one.title in panel and fixed.title in panel
    assert hidden.restricted and hidden.title not in panel


def test_the_hand_off_is_shown_for_the_first_day_only(client, people, schedule):
    client.force_login(people["bob"])
    with time_machine.travel(BOB_TAKES_OVER + timedelta(days=1, minutes=1), tick=False):
        assert "handed over" not in client.get("/oncall/handoff/").content.decode()
    assert selectors.handoff_for_user(user=people["carol"], at=BOB_TAKES_OVER) is None


def test_only_the_person_on_call_leaves_a_note_and_it_says_something(people, schedule):
    with pytest.raises(ValidationError) as refused:
        services.handoff_note_write(user=people["bob"], schedule=schedule, text="Hi", now=DURING_ALICE)
    assert errors.NOT_ON_CALL in str(refused.value)
    with pytest.raises(ValidationError) as empty:
        services.handoff_note_write(user=people["alice"], schedule=schedule, text="  \n ", now=DURING_ALICE)
    assert errors.HANDOFF_EMPTY in str(empty.value)
    first = services.handoff_note_write(user=people["alice"], schedule=schedule, text="One", now=DURING_ALICE)
    second = services.handoff_note_write(user=people["alice"], schedule=schedule, text="Two", now=DURING_ALICE)
    assert first.pk == second.pk and second.text == "Two"


def test_the_page_without_a_shift_says_so(client, people, schedule):
    client.force_login(people["carol"])
    with time_machine.travel(DURING_ALICE, tick=False):
        assert "You are not on call now" in client.get("/oncall/handoff/").content.decode()
    assert client.post("/oncall/handoff/", {"schedule": "nope", "text": "x"}).status_code == 404
