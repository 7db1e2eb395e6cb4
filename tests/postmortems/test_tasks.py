from datetime import UTC, date, datetime

import pytest
import time_machine
from django.conf import settings

from incidents import services as incident_services
from incidents.models import IncidentStatus
from notifications.models import Channel, Delivery, Message
from postmortems import services, tasks
from postmortems.models import ActionStatus, Postmortem, PostmortemStatus
from tests.factories import UserFactory, declare_incident

pytestmark = pytest.mark.django_db

MONDAY_NOON = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
TUESDAY_NOON = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


@pytest.fixture
def postmortem(settings):
    settings.TIME_ZONE = "UTC"
    incident = declare_incident(severity="SEV2")
    incident_services.incident_status_change(incident=incident, status=IncidentStatus.RESOLVED, actor=incident.lead)
    return incident.postmortem


def keys() -> list[str]:
    return sorted(Message.objects.values_list("dedup_key", flat=True).exclude(dedup_key__startswith="incident:"))


def test_due_tomorrow_then_overdue_each_told_once_to_the_owner(postmortem):
    Postmortem.objects.filter(pk=postmortem.pk).update(due_on=date(2026, 11, 25))
    with time_machine.travel(TUESDAY_NOON, tick=False):
        tasks.send_postmortem_reminders()
        tasks.send_postmortem_reminders()  # the next hour's sweep: nothing new
    assert keys() == [f"postmortem:{postmortem.pk}:due-tomorrow:2026-11-25"]
    message = Message.objects.get(dedup_key=keys()[0])
    assert "due tomorrow" in message.subject
    assert Delivery.objects.filter(message=message, channel=Channel.IN_APP, recipient=postmortem.owner).exists()
    with time_machine.travel(datetime(2026, 11, 25, 12, 0, tzinfo=UTC), tick=False):
        tasks.send_postmortem_reminders()  # due today: neither tomorrow nor overdue
    with time_machine.travel(datetime(2026, 11, 26, 12, 0, tzinfo=UTC), tick=False):
        tasks.send_postmortem_reminders()
        tasks.send_postmortem_reminders()
    assert keys() == [
        f"postmortem:{postmortem.pk}:due-tomorrow:2026-11-25",
        f"postmortem:{postmortem.pk}:overdue:2026-11-25",
    ]


def test_published_postmortems_are_not_chased(postmortem):
    Postmortem.objects.filter(pk=postmortem.pk).update(
        due_on=date(2026, 11, 1), status=PostmortemStatus.PUBLISHED, published_at=MONDAY_NOON
    )
    with time_machine.travel(TUESDAY_NOON, tick=False):
        services.postmortem_reminders_send()
    assert keys() == []


def test_overdue_action_items_go_to_their_owners(postmortem):
    alice, bob = UserFactory(), UserFactory()
    late = services.action_item_add(postmortem=postmortem, actor=alice, title="Late", due_on=date(2026, 11, 20))
    services.action_item_add(postmortem=postmortem, actor=bob, title="Fine", due_on=date(2026, 12, 20))
    done = services.action_item_add(postmortem=postmortem, actor=bob, title="Done", due_on=date(2026, 11, 1))
    services.action_item_update(item=done, actor=bob, status=ActionStatus.DONE)
    Postmortem.objects.filter(pk=postmortem.pk).update(due_on=date(2026, 12, 31))
    with time_machine.travel(TUESDAY_NOON, tick=False):
        services.postmortem_reminders_send()
        services.postmortem_reminders_send()
    assert keys() == [f"action-item:{late.pk}:overdue:2026-11-20"]
    assert list(
        Delivery.objects.filter(channel=Channel.IN_APP)
        .exclude(message__dedup_key__startswith="incident:")
        .values_list("recipient", flat=True)
    ) == [alice.pk]


def test_weekly_digest_on_monday_once_per_owner(postmortem):
    alice, bob = UserFactory(), UserFactory()
    Postmortem.objects.filter(pk=postmortem.pk).update(due_on=date(2026, 12, 31))
    for owner, title in ((alice, "A1"), (alice, "A2"), (bob, "B1")):
        services.action_item_add(postmortem=postmortem, actor=owner, title=title, due_on=date(2026, 12, 20))
    with time_machine.travel(TUESDAY_NOON, tick=False):
        services.postmortem_reminders_send()
    assert keys() == []
    with time_machine.travel(datetime(2026, 11, 30, 9, 0, tzinfo=UTC), tick=False):
        services.postmortem_reminders_send()
        services.postmortem_reminders_send()
    assert keys() == sorted([f"action-items:digest:{alice.pk}:2026-W49", f"action-items:digest:{bob.pk}:2026-W49"])
    digest = Message.objects.get(dedup_key=f"action-items:digest:{alice.pk}:2026-W49")
    assert "A1" in digest.body_text and "A2" in digest.body_text and "B1" not in digest.body_text
    assert digest.subject == "Your open action items this week: 2 (0 overdue)"


def test_the_sweep_runs_in_a_fixed_number_of_queries(postmortem, django_assert_max_num_queries):
    def grow(n):
        for _ in range(n):
            incident = declare_incident(severity="SEV2")
            incident_services.incident_status_change(incident=incident, status="resolved", actor=incident.lead)
            services.action_item_add(
                postmortem=incident.postmortem, actor=incident.lead, title="x", due_on=date(2026, 11, 1)
            )
        Postmortem.objects.update(due_on=date(2026, 11, 1))
        Message.objects.all().delete()

    grow(2)
    with time_machine.travel(datetime(2026, 11, 30, 9, 0, tzinfo=UTC), tick=False):
        with django_assert_max_num_queries(12):
            small = services.postmortem_reminders_send()
        grow(8)
        with django_assert_max_num_queries(12):
            big = services.postmortem_reminders_send()
    assert big > small


def test_the_sweep_is_in_the_beat_schedule():
    entry = settings.CELERY_BEAT_SCHEDULE["postmortem-reminders"]
    assert entry["task"] == "postmortems.tasks.send_postmortem_reminders"
    # On the default queue, which a plain `celery -A config worker -B` consumes.
    assert entry["task"] not in getattr(settings, "CELERY_TASK_ROUTES", {})
