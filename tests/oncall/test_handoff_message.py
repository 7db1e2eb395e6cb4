"""At the end of each shift its outgoing person gets the hand-off (in-app and their channels):
open incidents they were part of, what changed, overdue action items, and a link to add their note.
Sent once per (schedule, shift end, person), late after an outage but never stale."""

from datetime import UTC, date, datetime, time, timedelta

import pytest
import time_machine

from incidents import services as incident_services
from notifications.models import Channel, Delivery, Message
from oncall import services
from oncall.models import ShiftHandoff
from postmortems import services as postmortem_services
from tests.factories import UserFactory, declare_incident, on_call_schedule
from tests.incidents.test_concurrency import run_concurrently

# Alice's week runs Monday 1 June 09:00 to Monday 8 June 09:00 UTC, then Bob's.
DURING_ALICE = datetime(2026, 6, 5, 12, tzinfo=UTC)
BOB_TAKES_OVER = datetime(2026, 6, 8, 9, tzinfo=UTC)


@pytest.fixture
def people(db):
    return {
        name: UserFactory(username=name, first_name=name.title(), last_name="", role="responder")
        for name in ("alice", "bob", "carol")
    }


@pytest.fixture
def schedule(people):
    layer = {
        "members": [people["alice"], people["bob"]],
        "start_date": date(2026, 6, 1),
        "handoff_time": time(9),
        "shift_length": 7,
    }
    return on_call_schedule(layers=[layer])


def handoff_messages(user) -> list[Message]:
    return list(Message.objects.filter(deliveries__recipient=user, dedup_key__startswith="oncall:handoff:").distinct())


@pytest.mark.django_db
def test_the_outgoing_person_gets_the_hand_off_once_with_incidents_overdue_items_and_a_note_link(
    client, people, schedule
):
    with time_machine.travel(DURING_ALICE - timedelta(days=30), tick=False):
        old = declare_incident(declared_by=people["alice"], title="Payments timeouts")
        incident_services.incident_status_change(incident=old, status="resolved", actor=people["alice"])
        postmortem = old.postmortem  # resolving a SEV2 starts it
        postmortem_services.action_item_add(
            postmortem=postmortem, actor=people["alice"], title="Alert on queue depth", due_on=date(2026, 5, 20)
        )
        postmortem_services.action_item_add(
            postmortem=postmortem, actor=people["alice"], title="Not due yet", due_on=date(2026, 7, 1)
        )
    with time_machine.travel(DURING_ALICE, tick=False):
        open_one = declare_incident(declared_by=people["alice"], title="Checkout slow")

    with time_machine.travel(BOB_TAKES_OVER - timedelta(minutes=1), tick=False):
        assert services.handoffs_sweep() == 0  # still Alice's shift
    with time_machine.travel(BOB_TAKES_OVER + timedelta(seconds=10), tick=False):
        assert services.handoffs_sweep() == 1
        assert services.handoffs_sweep() == 0  # the next beat: already sent

    [message] = handoff_messages(people["alice"])
    assert message.subject == "Hand-off: your shift on Primary ended, over to Bob"
    assert f"{open_one.reference} [SEV2] Checkout slow" in message.body_text
    assert "Alert on queue depth (due 2026-05-20" in message.body_text
    assert "Not due yet" not in message.body_text
    assert message.link.endswith("/oncall/handoff/")
    channels = set(Delivery.objects.filter(message=message).values_list("channel", flat=True))
    assert channels == {Channel.IN_APP, Channel.EMAIL}
    assert not handoff_messages(people["bob"])  # Bob is incoming, not outgoing

    # The link: Alice, off call now, still leaves her note; Bob sees it with the overdue item.
    with time_machine.travel(BOB_TAKES_OVER + timedelta(hours=1), tick=False):
        client.force_login(people["alice"])
        page = client.get(message.link_here).content.decode()
        assert "Your shift on Primary ended" in page and "Bob took over" in page
        client.post("/oncall/handoff/", {"schedule": schedule.slug, "text": "Queue depth alert still missing"})
        client.force_login(people["bob"])
        panel = client.get("/oncall/handoff/", headers={"HX-Request": "true"}).content.decode()
    assert "Queue depth alert still missing" in panel
    assert "Alert on queue depth" in panel and "Not due yet" not in panel


@pytest.mark.django_db
def test_a_sweep_after_an_outage_catches_up_but_never_sends_a_stale_hand_off(people, schedule):
    with time_machine.travel(BOB_TAKES_OVER + timedelta(hours=23), tick=False):
        assert services.handoffs_sweep() == 1
    ShiftHandoff.objects.all().delete()
    Message.objects.all().delete()
    with time_machine.travel(BOB_TAKES_OVER + timedelta(hours=24, minutes=1), tick=False):
        assert services.handoffs_sweep() == 0
    assert not ShiftHandoff.objects.exists()


@pytest.mark.django_db
def test_an_eight_hour_shift_is_stale_after_eight_hours(people):
    hourly = on_call_schedule(
        name="Follow the sun",
        layers=[
            {
                "members": [people["alice"], people["bob"]],
                "start_date": date(2026, 6, 1),
                "handoff_time": time(1),
                "shift_length": 8,
                "shift_unit": "hours",
            }
        ],
    )
    ends = datetime(2026, 6, 1, 9, tzinfo=UTC)  # Alice's first shift, 01:00 to 09:00
    with time_machine.travel(ends + timedelta(hours=8, minutes=1), tick=False):
        services.handoffs_sweep()
    assert list(ShiftHandoff.objects.values_list("schedule", "user__username", "shift_ends_at")) == [
        (hourly.pk, "bob", ends + timedelta(hours=8))
    ]


@pytest.mark.django_db
def test_a_turn_that_runs_on_is_no_hand_off(people):
    on_call_schedule(layers=[{"members": [people["carol"]], "start_date": date(2026, 6, 1), "handoff_time": time(9)}])
    with time_machine.travel(BOB_TAKES_OVER + timedelta(minutes=1), tick=False):
        assert services.handoffs_sweep() == 0


@pytest.mark.postgres
@pytest.mark.usefixtures("committed_db")
def test_two_sweeps_racing_send_each_hand_off_once(people, schedule):
    with time_machine.travel(BOB_TAKES_OVER + timedelta(seconds=5), tick=False):
        sent: list[int] = []
        assert run_concurrently(*[lambda: sent.append(services.handoffs_sweep())] * 2) == []
    assert sum(sent) == 1
    assert len(handoff_messages(people["alice"])) == 1
    assert ShiftHandoff.objects.get().sent_at is not None
