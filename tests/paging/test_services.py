"""Paging with controlled time: who is paged, when, once; what stops it."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from incidents import reminders, services
from incidents.models import EventKind, IncidentStatus
from notifications.models import Channel, Delivery, Message
from paging import services as paging
from paging.models import Escalation, Page
from tests.factories import UserFactory, declare_incident

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)


def paged(incident) -> list[tuple[str, int, int]]:
    return list(incident.pages.order_by("pk").values_list("user__username", "level", "round"))


def declare_by_alert(alerts_account, checkout, **kwargs):
    return declare_incident(declared_by=alerts_account, severity="SEV1", affected_services=[checkout], **kwargs)


def test_an_alert_pages_whoever_is_on_call_at_once_with_an_acknowledge_link(
    alerts_account, checkout, policy, django_capture_on_commit_callbacks
):
    with time_machine.travel(T0, tick=False), django_capture_on_commit_callbacks() as handed_over:
        incident = declare_by_alert(alerts_account, checkout)
    assert handed_over, "the page goes to a worker once the declaration commits"
    assert paging.pages_fan_out(now=T0) == 1

    assert paged(incident) == [("alice", 1, 0)]
    page = incident.pages.get()
    assert page.told_at == T0
    message = Message.objects.get(dedup_key=f"incident:{incident.pk}:page:{page.pk}")
    assert message.subject.startswith(f"[SEV1] Page: {incident.reference}")
    assert "/paging/acknowledge/" in message.body_text
    channels = set(Delivery.objects.filter(message=message).values_list("channel", "recipient__username"))
    assert channels == {(Channel.IN_APP, "alice"), (Channel.EMAIL, "alice")}
    event = incident.timeline.filter(kind=EventKind.PAGE).get()
    assert event.text == "Paged (level 1, round 1): Alice Able by in-app, email"


def test_without_an_acknowledgement_the_next_level_is_paged_after_the_delay_and_never_twice(
    alerts_account, checkout, policy, django_capture_on_commit_callbacks
):
    with time_machine.travel(T0, tick=False):
        incident = declare_by_alert(alerts_account, checkout)
    assert paging.escalations_sweep(now=T0 + timedelta(minutes=4)) == 0
    assert paging.escalations_sweep(now=T0 + timedelta(minutes=5)) == 1
    assert paging.escalations_sweep(now=T0 + timedelta(minutes=5, seconds=1)) == 0  # the sweep again
    assert paged(incident) == [("alice", 1, 0), ("bob", 2, 0)]
    # After the last level, with no repeat, the escalation is over.
    assert paging.escalations_sweep(now=T0 + timedelta(minutes=30)) == 0
    escalation = Escalation.objects.get()
    assert escalation.stop_reason == "every level paged"


def test_the_policy_repeats_its_levels(alerts_account, checkout, policy):
    policy.repeat = 1
    policy.save()
    with time_machine.travel(T0, tick=False):
        incident = declare_by_alert(alerts_account, checkout)
    for minutes in (5, 10, 15, 20, 25):
        paging.escalations_sweep(now=T0 + timedelta(minutes=minutes))
    assert paged(incident) == [("alice", 1, 0), ("bob", 2, 0), ("alice", 1, 1), ("bob", 2, 1)]


def test_the_first_acknowledgement_stops_the_escalation(alerts_account, checkout, policy, bob):
    with time_machine.travel(T0, tick=False):
        incident = declare_by_alert(alerts_account, checkout)
    paging.escalations_sweep(now=T0 + timedelta(minutes=5))
    with time_machine.travel(T0 + timedelta(minutes=6), tick=False):
        services.incident_acknowledge(incident=incident, actor=bob)
    assert paging.escalations_sweep(now=T0 + timedelta(minutes=20)) == 0
    assert paged(incident) == [("alice", 1, 0), ("bob", 2, 0)]
    incident.refresh_from_db()
    assert incident.lead == bob
    assert incident.acknowledged_at == T0 + timedelta(minutes=6)
    assert Page.objects.get(user=bob).acknowledged_at == T0 + timedelta(minutes=6)
    assert Page.objects.get(user__username="alice").acknowledged_at is None
    assert Escalation.objects.get().stop_reason == "acknowledged"
    assert incident.timeline.filter(kind=EventKind.PAGE, text="Paging stopped: acknowledged by Bob Baker").exists()


def test_a_status_update_or_resolution_also_stops_it(alerts_account, checkout, policy, alice):
    incident = declare_by_alert(alerts_account, checkout)
    services.incident_update_post(incident=incident, author=alice, progress="On it")
    assert Escalation.objects.get().stopped_at is not None


def test_a_person_declaring_for_their_own_teams_service_pages_nobody(checkout, policy, alice):
    declare_incident(declared_by=alice, affected_services=[checkout])
    assert not Page.objects.exists()


def test_a_person_declaring_for_another_teams_service_pages_that_team(checkout, policy):
    outsider = UserFactory(role="responder")
    incident = declare_incident(declared_by=outsider, affected_services=[checkout])
    assert paged(incident) == [("alice", 1, 0)]


def test_nobody_on_call_pages_the_fallback_contact(alerts_account, checkout, policy, schedule):
    schedule.rotations.all().delete()
    incident = declare_by_alert(alerts_account, checkout)
    page = incident.pages.get()
    assert (page.user.username, page.fallback) == ("boss", True)


def test_a_restricted_incident_pages_only_people_who_may_see_it(alerts_account, checkout, policy):
    incident = declare_by_alert(alerts_account, checkout, restricted=True)
    assert not incident.pages.exists()
    assert incident.timeline.filter(kind=EventKind.PAGE, text__startswith="Nobody to page").exists()


def test_a_recorded_page_whose_task_was_lost_is_handed_over_again_by_a_later_sweep(
    alerts_account, checkout, policy, django_capture_on_commit_callbacks, monkeypatch
):
    with time_machine.travel(T0, tick=False):
        incident = declare_by_alert(alerts_account, checkout)  # its hand-over to a worker is lost
    assert incident.pages.get().told_at is None
    handed: list[list[int]] = []
    monkeypatch.setattr("paging.tasks.fan_out_pages.apply_async", lambda args, **kw: handed.append(args[0]))
    with django_capture_on_commit_callbacks(execute=True):
        paging.escalations_sweep(now=T0 + timedelta(seconds=10))  # too soon to call it lost
    assert handed == []
    with django_capture_on_commit_callbacks(execute=True):
        paging.escalations_sweep(now=T0 + timedelta(seconds=30))
    assert handed == [[incident.pages.get().pk]]
    assert paging.pages_fan_out(page_ids=handed[0]) == 1
    assert paging.pages_fan_out(page_ids=handed[0]) == 0  # told once


def test_a_reminder_for_an_incident_led_by_a_bot_goes_to_whoever_is_on_call(
    alerts_account, checkout, policy, alice, django_capture_on_commit_callbacks
):
    with time_machine.travel(T0, tick=False):
        incident = declare_by_alert(alerts_account, checkout)
    due = incident.next_update_due_at
    reminders.reminders_sweep(now=due)
    reminders.reminders_fan_out(now=due)
    event = incident.timeline.filter(kind=EventKind.REMINDER).get()
    assert event.data["recipients"] == [alice.pk]
    assert alerts_account.pk not in event.data["recipients"]


def test_a_resolved_incident_is_not_paged_further(alerts_account, checkout, policy, alice):
    with time_machine.travel(T0, tick=False):
        incident = declare_by_alert(alerts_account, checkout)
        services.incident_status_change(incident=incident, status=IncidentStatus.RESOLVED, actor=alice)
    assert paging.escalations_sweep(now=T0 + timedelta(minutes=10)) == 0
    assert paged(incident) == [("alice", 1, 0)]


def test_the_teams_channel_hears_who_is_paged_but_never_the_personal_links(alerts_account, checkout, policy):
    policy.webhook_url = "https://chat.example.com/hooks/payments"
    policy.save()
    with time_machine.travel(T0, tick=False):
        incident = declare_by_alert(alerts_account, checkout)
    paging.pages_fan_out(now=T0)
    hooks = Delivery.objects.filter(channel=Channel.WEBHOOK)
    [hook] = hooks
    assert hook.target == policy.webhook_url
    assert hook.message.subject.startswith(f"[SEV1] Paging Alice Able for {incident.reference}")
    assert "/paging/acknowledge/" not in hook.message.body_text
    event = incident.timeline.filter(kind=EventKind.PAGE).get()
    assert event.text == "Paged (level 1, round 1): Alice Able by in-app, email, webhook"
    assert event.data["webhooks"] == ["chat.example.com"]


def test_a_restricted_incident_is_never_told_to_the_teams_channel(alerts_account, checkout, policy, alice):
    policy.webhook_url = "https://chat.example.com/hooks/payments"
    policy.save()
    incident = declare_by_alert(alerts_account, checkout)
    services.incident_restriction_set(
        incident=incident, actor=UserFactory(role="responder", is_superuser=True), restricted=True
    )
    paging.pages_fan_out()
    assert paged(incident) == [("alice", 1, 0)]
    assert not Delivery.objects.filter(channel=Channel.WEBHOOK).exists()
