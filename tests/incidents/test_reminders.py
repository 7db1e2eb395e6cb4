"""The status-update reminder ladder with controlled time: who is told, when, and only once."""

import json
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import time_machine
from django.contrib.auth.models import Group
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from config.celery import app as celery_app
from core.errors import WEBHOOK_NOT_ACCEPTED
from incidents import errors, services
from incidents.models import EventKind, IncidentStatus, Reminder, ReminderStep, Service, SeverityPolicy
from incidents.reminders import reminders_fan_out, reminders_sweep
from notifications import services as notification_services
from notifications.models import Channel, Delivery, DeliveryStatus, Message
from tests.factories import UserFactory, declare_incident

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)


def sweep_at(moment: datetime) -> int:
    """The sweep at `moment`, then what the workers do with the steps it recorded."""
    with time_machine.travel(moment, tick=False):
        steps = reminders_sweep()
        reminders_fan_out()
        return steps


def steps(incident) -> list[tuple[datetime, int]]:
    return list(incident.reminders.order_by("due_at", "step").values_list("due_at", "step"))


def told(incident, step: int) -> set[int]:
    event = incident.timeline.get(kind=EventKind.REMINDER, data__step=step)
    return set(event.data["recipients"])


@pytest.fixture
def people(db):
    lead = UserFactory(role="responder", email="lead@example.com")
    comms = UserFactory(role="responder", email="comms@example.com")
    responder = UserFactory(role="responder", email="responder@example.com")
    boss = UserFactory(role="admin", email="boss@example.com")
    return {"lead": lead, "comms": comms, "responder": responder, "boss": boss}


@pytest.fixture
def sev2_incident(people):
    with time_machine.travel(T0, tick=False):
        incident = declare_incident(
            severity="SEV2",
            declared_by=people["lead"],
            comms_lead=people["comms"],
            responders=[people["responder"]],
        )
    # These tests count the ladder's messages; the comms lead's and responder's notices of their
    # roles are tested on their own (test_people_given_a_role_by_someone_else_are_told_so).
    Message.objects.filter(payload__event="incident.role_assigned").delete()
    return incident


def test_nothing_is_sent_before_the_update_is_due(sev2_incident):
    assert sweep_at(T0 + timedelta(minutes=29, seconds=59)) == 0
    assert steps(sev2_incident) == []


def test_at_the_due_time_the_lead_and_comms_lead_are_reminded_once(sev2_incident, people):
    due = T0 + timedelta(minutes=30)
    assert sweep_at(due) == 1
    assert sweep_at(due + timedelta(seconds=10)) == 0
    assert sweep_at(due + timedelta(seconds=20)) == 0
    assert steps(sev2_incident) == [(due, ReminderStep.DUE)]
    assert told(sev2_incident, ReminderStep.DUE) == {people["lead"].pk, people["comms"].pk}
    inbox = Delivery.objects.filter(channel=Channel.IN_APP, message__subject__contains="status update due")
    assert set(inbox.values_list("recipient", flat=True)) == {people["lead"].pk, people["comms"].pk}
    event = sev2_incident.timeline.get(kind=EventKind.REMINDER)
    assert event.occurred_at == due
    assert "by in-app, email" in event.text


def test_the_inbox_links_to_the_incident_on_the_address_the_reader_uses(sev2_incident, people, client, settings):
    """Messages carry SITE_URL's absolute link for email; served under another address (a
    reverse proxy, a laptop), the inbox must still open the incident."""
    settings.SITE_URL = "https://incidents.example.com"
    sweep_at(T0 + timedelta(minutes=30))
    client.force_login(people["lead"])
    body = client.get("/notifications/").content.decode()
    assert f'href="{sev2_incident.get_absolute_url()}#update-form"' in body
    assert 'href="https://incidents.example.com' not in body


def test_ladder_escalates_to_responders_then_to_escalation_contacts(sev2_incident, people):
    due = T0 + timedelta(minutes=30)
    sweep_at(due)
    # Step 2 at due + 50 % of the 30-minute cadence, step 3 at due + 100 %.
    assert sweep_at(due + timedelta(minutes=14, seconds=59)) == 0
    assert sweep_at(due + timedelta(minutes=15)) == 1
    assert told(sev2_incident, ReminderStep.RESPONDERS) == {
        p.pk for p in (people["lead"], people["comms"], people["responder"])
    }
    assert sweep_at(due + timedelta(minutes=30)) == 1
    assert told(sev2_incident, ReminderStep.CONTACTS) == {people["boss"].pk}
    assert [step for _, step in steps(sev2_incident)] == [1, 2, 3]
    assert sweep_at(due + timedelta(hours=3)) == 0
    sev2_incident.refresh_from_db()
    assert sev2_incident.next_reminder_at is None


@pytest.mark.parametrize("added", [False, True])
def test_escalation_contacts_who_may_not_see_a_restricted_incident_are_not_told(sev2_incident, people, added):
    services.incident_restriction_set(incident=sev2_incident, actor=people["lead"], restricted=True)
    if added:
        services.incident_participants_add(incident=sev2_incident, actor=people["lead"], users=[people["boss"]])
    sweep_at(T0 + timedelta(minutes=60))
    assert told(sev2_incident, ReminderStep.CONTACTS) == ({people["boss"].pk} if added else set())
    assert Delivery.objects.filter(recipient=people["boss"]).exists() == added


def test_a_sweep_after_an_outage_sends_each_missed_step_once(sev2_incident):
    assert sweep_at(T0 + timedelta(hours=2)) == 3
    assert sweep_at(T0 + timedelta(hours=2, seconds=10)) == 0
    assert len(steps(sev2_incident)) == 3


def test_posting_an_update_stops_the_ladder_at_once(sev2_incident, people):
    due = T0 + timedelta(minutes=30)
    sweep_at(due)
    with time_machine.travel(due + timedelta(minutes=1), tick=False):
        services.incident_update_post(incident=sev2_incident, author=people["lead"], progress="Rolling back")
    assert sweep_at(due + timedelta(minutes=20)) == 0
    next_due = due + timedelta(minutes=31)
    assert sweep_at(next_due) == 1
    assert steps(sev2_incident) == [(due, ReminderStep.DUE), (next_due, ReminderStep.DUE)]


def test_resolving_stops_every_reminder(sev2_incident, people):
    with time_machine.travel(T0 + timedelta(minutes=10), tick=False):
        services.incident_status_change(incident=sev2_incident, status=IncidentStatus.RESOLVED, actor=people["lead"])
    assert sweep_at(T0 + timedelta(hours=5)) == 0
    assert steps(sev2_incident) == []


def test_sev4_is_never_reminded(people):
    with time_machine.travel(T0, tick=False):
        incident = declare_incident(severity="SEV4", declared_by=people["lead"])
    assert sweep_at(T0 + timedelta(days=3)) == 0
    assert steps(incident) == []


def test_raising_severity_can_make_a_reminder_due_at_once(people):
    with time_machine.travel(T0, tick=False):
        incident = declare_incident(severity="SEV3", declared_by=people["lead"])
    with time_machine.travel(T0 + timedelta(minutes=20), tick=False):
        services.incident_severity_change(
            incident=incident, severity=SeverityPolicy.objects.get(key="SEV1"), actor=people["lead"]
        )
    # SEV1: due 15 minutes after the declaration, so already due at +20; step 2 at +22.5.
    assert sweep_at(T0 + timedelta(minutes=20)) == 1
    assert steps(incident) == [(T0 + timedelta(minutes=15), ReminderStep.DUE)]
    assert sweep_at(T0 + timedelta(minutes=22, seconds=30)) == 1


def test_severity_change_after_a_reopen_counts_from_the_reopening(people):
    with time_machine.travel(T0, tick=False):
        incident = declare_incident(severity="SEV3", declared_by=people["lead"])
    with time_machine.travel(T0 + timedelta(minutes=30), tick=False):
        services.incident_status_change(incident=incident, status=IncidentStatus.RESOLVED, actor=people["lead"])
    with time_machine.travel(T0 + timedelta(hours=3), tick=False):
        services.incident_status_change(incident=incident, status=IncidentStatus.INVESTIGATING, actor=people["lead"])
        services.incident_severity_change(
            incident=incident, severity=SeverityPolicy.objects.get(key="SEV1"), actor=people["lead"]
        )
    incident.refresh_from_db()
    assert incident.next_update_due_at == T0 + timedelta(hours=3, minutes=15)


def test_ladder_percentages_come_from_the_policy(people):
    SeverityPolicy.objects.filter(key="SEV2").update(
        escalate_responders_after_percent=10, escalate_contacts_after_percent=20
    )
    with time_machine.travel(T0, tick=False):
        incident = declare_incident(severity="SEV2", declared_by=people["lead"])
    due = T0 + timedelta(minutes=30)
    sweep_at(due)
    assert sweep_at(due + timedelta(minutes=3)) == 1
    assert sweep_at(due + timedelta(minutes=6)) == 1
    assert [step for _, step in steps(incident)] == [1, 2, 3]


def test_lead_snoozes_the_next_update_with_a_reason(sev2_incident, people):
    with time_machine.travel(T0 + timedelta(minutes=25), tick=False):
        services.incident_update_snooze(
            incident=sev2_incident, actor=people["lead"], minutes=10, reason="Waiting on the vendor"
        )
    sev2_incident.refresh_from_db()
    assert sev2_incident.next_update_due_at == T0 + timedelta(minutes=40)
    event = sev2_incident.timeline.get(kind=EventKind.UPDATE_SNOOZED)
    assert event.body == "Waiting on the vendor"
    assert sweep_at(T0 + timedelta(minutes=35)) == 0
    assert sweep_at(T0 + timedelta(minutes=40)) == 1


def test_pushing_an_overdue_update_counts_from_now(sev2_incident, people):
    overdue = T0 + timedelta(minutes=43)  # due at 30
    sweep_at(T0 + timedelta(minutes=30))
    with time_machine.travel(overdue, tick=False):
        services.incident_update_snooze(
            incident=sev2_incident, actor=people["lead"], minutes=10, reason="Vendor call at the top of the hour"
        )
    sev2_incident.refresh_from_db()
    assert sev2_incident.next_update_due_at == overdue + timedelta(minutes=10)
    assert sweep_at(overdue + timedelta(minutes=9)) == 0
    assert sweep_at(overdue + timedelta(minutes=10)) == 1


@pytest.mark.parametrize(
    ("who", "minutes", "reason", "field", "message"),
    [
        ("comms", 10, "x", "__all__", errors.SNOOZE_LEAD_ONLY),
        ("lead", 31, "x", "minutes", errors.SNOOZE_RANGE.format(limit=30)),
        ("lead", 0, "x", "minutes", errors.SNOOZE_RANGE.format(limit=30)),
        ("lead", 10, "  ", "reason", errors.SNOOZE_REASON_REQUIRED),
    ],
)
def test_snooze_is_refused_with_a_reason(sev2_incident, people, who, minutes, reason, field, message):
    with pytest.raises(ValidationError) as excinfo:
        services.incident_update_snooze(incident=sev2_incident, actor=people[who], minutes=minutes, reason=reason)
    assert excinfo.value.message_dict[field] == [message]
    sev2_incident.refresh_from_db()
    assert sev2_incident.next_update_due_at == T0 + timedelta(minutes=30)


def test_reminder_message_names_the_incident_and_carries_the_update_template(sev2_incident):
    sweep_at(T0 + timedelta(minutes=30))
    delivery = Delivery.objects.filter(channel=Channel.IN_APP, message__subject__contains="due").first()
    message = delivery.message
    assert message.subject == f"[SEV2] {sev2_incident.reference} status update due: {sev2_incident.title}"
    assert "No update yet; declared 30 min ago." in message.body_text
    assert message.link.endswith(f"/incidents/{sev2_incident.reference}/#update-form")
    for line in ("Status: Investigating", "Progress: ", "Next Steps: ", "ETA: "):
        assert line in message.body_text


@pytest.mark.postgres  # SQLite splits bulk inserts into batches of 999 parameters
def test_sweep_query_count_does_not_grow_with_incidents(people, django_assert_max_num_queries):
    def make(n: int, at: datetime):
        with time_machine.travel(at, tick=False):
            for _ in range(n):
                declare_incident(
                    severity="SEV1",
                    declared_by=people["lead"],
                    comms_lead=people["comms"],
                    responders=[people["responder"]],
                )

    make(3, T0)
    with CaptureQueriesContext(connection) as few:
        assert sweep_at(T0 + timedelta(hours=1)) == 9
    make(40, T0 + timedelta(hours=2))
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert sweep_at(T0 + timedelta(hours=3)) == 120


# --- stakeholders ------------------------------------------------------------------------------


def test_declaring_a_sev1_tells_executives_and_leadership_in_the_seeds_template(people):
    executive = UserFactory(email="ceo@example.com")
    executive.groups.add(Group.objects.get(name="executives"))
    manager = UserFactory(email="vp@example.com")
    manager.groups.add(Group.objects.get(name="leadership"))
    with time_machine.travel(T0, tick=False):
        incident = declare_incident(severity="SEV1", declared_by=people["lead"], business_impact="Cannot take orders")
    inbox = Delivery.objects.filter(channel=Channel.IN_APP, message__subject__contains="declared")
    assert set(inbox.values_list("recipient", flat=True)) == {executive.pk, manager.pk}
    text = inbox.first().message.body_text
    for line in (
        "🚨 INCIDENT NOTIFICATION",
        "Severity: SEV1 Critical",
        "Status: Investigating",
        "Impact: Cannot take orders",
        "Started: 2026-03-02 14:00 UTC",
        "Updates will be provided every 15 min. Next update by 2026-03-02 14:15 UTC.",
    ):
        assert line in text
    event = incident.timeline.get(kind=EventKind.STAKEHOLDERS_NOTIFIED)
    assert event.text.startswith("Stakeholders told (executives, leadership, team): 2 people")


def test_the_notice_names_the_affected_services_instead_of_being_assessed(people):
    manager = UserFactory(email="vp@example.com")
    manager.groups.add(Group.objects.get(name="leadership"))
    checkout = Service.objects.create(name="Checkout", slug="checkout")
    payments = Service.objects.create(name="Payments", slug="payments")
    declare_incident(severity="SEV1", declared_by=people["lead"], affected_services=[payments, checkout])
    text = Delivery.objects.get(channel=Channel.IN_APP, recipient=manager).message.body_text
    assert "Affected: Checkout, Payments" in text
    assert "Being assessed" not in text.split("Affected:")[1].splitlines()[0]


def test_the_role_notice_names_the_affected_services_too(people):
    checkout = Service.objects.create(name="Checkout", slug="checkout")
    incident = declare_incident(
        severity="SEV2", declared_by=people["responder"], lead=people["lead"], affected_services=[checkout]
    )
    body = Delivery.objects.get(recipient=people["lead"], channel=Channel.IN_APP).message.body_text
    assert f"You are now the incident lead on {incident.reference}" in body
    assert "Affected: Checkout" in body


def test_severity_raise_and_resolution_tell_stakeholders_but_lowering_does_not(people):
    manager = UserFactory(email="vp@example.com")
    manager.groups.add(Group.objects.get(name="leadership"))
    incident = declare_incident(severity="SEV3", declared_by=people["lead"])
    services.incident_severity_change(
        incident=incident, severity=SeverityPolicy.objects.get(key="SEV2"), actor=people["lead"]
    )
    services.incident_severity_change(
        incident=incident, severity=SeverityPolicy.objects.get(key="SEV3"), actor=people["lead"]
    )
    services.incident_severity_change(
        incident=incident, severity=SeverityPolicy.objects.get(key="SEV2"), actor=people["lead"]
    )
    services.incident_status_change(incident=incident, status=IncidentStatus.RESOLVED, actor=people["lead"])
    subjects = list(
        Delivery.objects.filter(recipient=manager, channel=Channel.IN_APP)
        .order_by("id")
        .values_list("message__subject", flat=True)
    )
    assert [s.split(":")[0] for s in subjects] == [
        f"[SEV2] {incident.reference} raised",
        f"[SEV2] {incident.reference} raised",
        f"[SEV2] {incident.reference} resolved",
    ]


# --- delivery ---------------------------------------------------------------------------------


@pytest.fixture
def eager_celery():
    """Run queued tasks in-process, for the tests that ask for it."""
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = False


class Receiver(BaseHTTPRequestHandler):
    received: list = []
    status = 200

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append({"body": json.loads(body), "headers": dict(self.headers)})
        self.send_response(type(self).status)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def webhook_server():
    handler = type("Handler", (Receiver,), {"received": [], "status": 200})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield handler, f"http://127.0.0.1:{server.server_port}/hook"
    server.shutdown()


def test_reminders_go_out_by_email_and_webhook_after_commit(
    sev2_incident, people, eager_celery, webhook_server, django_capture_on_commit_callbacks
):
    handler, url = webhook_server
    SeverityPolicy.objects.filter(key="SEV2").update(webhook_url=url, webhook_format="slack")
    sev2_incident.refresh_from_db()
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        sweep_at(T0 + timedelta(minutes=45))
    assert sorted(m.to[0] for m in mail.outbox if "update due:" in m.subject) == [
        "comms@example.com",
        "lead@example.com",
    ]
    overdue = sorted(m.to[0] for m in mail.outbox if "overdue" in m.subject)
    assert overdue == ["comms@example.com", "lead@example.com", "responder@example.com"]
    assert len(handler.received) == 1
    assert handler.received[0]["body"]["text"].startswith(f"*[SEV2] {sev2_incident.reference} status update overdue")
    assert handler.received[0]["headers"]["Idempotency-Key"].startswith("incident-desk-delivery-")
    reminders = Delivery.objects.filter(message__payload__event="incident.update_reminder")
    assert reminders.count() == 11  # 2 due + 3 overdue, each in-app and by email, and the webhook
    assert reminders.filter(status=DeliveryStatus.PENDING).count() == 0
    # Running every task again sends nothing twice.
    for delivery in reminders:
        assert notification_services.delivery_attempt(delivery_id=delivery.pk).outcome == "already"
    assert len(handler.received) == 1


@pytest.mark.parametrize("backend", ["locmem", "console"])
def test_reminders_go_out_through_the_email_backend_the_settings_name(
    sev2_incident, people, eager_celery, settings, capsys, django_capture_on_commit_callbacks, backend
):
    settings.EMAIL_BACKEND = f"django.core.mail.backends.{backend}.EmailBackend"
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        sweep_at(T0 + timedelta(minutes=30))
    deliveries = Delivery.objects.filter(channel=Channel.EMAIL)
    assert sorted(deliveries.values_list("target", "status")) == [
        ("comms@example.com", DeliveryStatus.SENT),
        ("lead@example.com", DeliveryStatus.SENT),
    ]
    message_ids = {f"<delivery-{d.pk}.{d.message_id}@incident-desk>" for d in deliveries}
    printed = capsys.readouterr().out
    if backend == "locmem":
        assert sorted(m.to[0] for m in mail.outbox) == ["comms@example.com", "lead@example.com"]
        assert {m.message()["Message-ID"] for m in mail.outbox} == message_ids
        assert all("update due" in m.subject for m in mail.outbox)
    else:
        assert mail.outbox == []
        assert all(f"Message-ID: {message_id}" in printed for message_id in message_ids)


def test_user_who_turned_email_off_is_told_in_the_app_only(sev2_incident, people):
    notification_services.channel_preference_set(user=people["comms"], email=False)
    sweep_at(T0 + timedelta(minutes=30))
    channels = set(Delivery.objects.filter(recipient=people["comms"]).values_list("channel", flat=True))
    assert channels == {Channel.IN_APP}


def test_a_delivery_that_keeps_failing_lands_on_the_timeline(sev2_incident, people, webhook_server):
    handler, url = webhook_server
    handler.status = 500
    SeverityPolicy.objects.filter(key="SEV2").update(webhook_url=url)
    sev2_incident.refresh_from_db()
    sweep_at(T0 + timedelta(minutes=45))
    delivery = Delivery.objects.get(channel=Channel.WEBHOOK)
    outcomes = [notification_services.delivery_attempt(delivery_id=delivery.pk).outcome for _ in range(5)]
    assert outcomes == ["retry", "retry", "retry", "retry", "failed"]
    failure = sev2_incident.timeline.get(kind=EventKind.NOTIFICATION_FAILED)
    assert failure.text == "Webhook to 127.0.0.1 failed after 5 attempts"  # the host: the URL is a credential
    assert failure.body == WEBHOOK_NOT_ACCEPTED
    assert len(handler.received) == 5


def test_lost_broker_messages_are_queued_again(sev2_incident, people):
    sweep_at(T0 + timedelta(minutes=30))
    pending = Delivery.objects.filter(status=DeliveryStatus.PENDING)
    assert pending.count() == 2
    assert notification_services.deliveries_requeue_stale(now=T0 + timedelta(minutes=30, seconds=15)) == 0
    assert notification_services.deliveries_requeue_stale(now=T0 + timedelta(minutes=30, seconds=25)) == 2
    # Queued again just now: not stale again until another 20 s have passed.
    assert notification_services.deliveries_requeue_stale(now=T0 + timedelta(minutes=30, seconds=30)) == 0


def test_a_retry_is_not_mistaken_for_a_lost_message(sev2_incident, people, webhook_server):
    handler, url = webhook_server
    handler.status = 503
    SeverityPolicy.objects.filter(key="SEV2").update(webhook_url=url)
    sev2_incident.refresh_from_db()
    sweep_at(T0 + timedelta(minutes=45))
    delivery = Delivery.objects.get(channel=Channel.WEBHOOK)
    with time_machine.travel(T0 + timedelta(minutes=45, seconds=1), tick=False):
        attempt = notification_services.delivery_attempt(delivery_id=delivery.pk)
    assert (attempt.outcome, attempt.retry_in) == ("retry", 5)
    delivery.refresh_from_db()
    assert delivery.queued_at == T0 + timedelta(minutes=45, seconds=6)
    stale = Delivery.objects.filter(pk=delivery.pk)
    assert notification_services.deliveries_requeue_stale(now=T0 + timedelta(minutes=45, seconds=20)) == 0
    assert stale.get().queued_at == T0 + timedelta(minutes=45, seconds=6)


def test_the_sweep_records_a_step_and_a_worker_tells_its_people_once(sev2_incident, people):
    due = T0 + timedelta(minutes=30)
    with time_machine.travel(due, tick=False):
        assert reminders_sweep() == 1
    # Recorded, so no later sweep records it again; nobody told yet.
    assert steps(sev2_incident) == [(due, ReminderStep.DUE)]
    assert not Delivery.objects.exists()
    assert not sev2_incident.timeline.filter(kind=EventKind.REMINDER).exists()

    with time_machine.travel(due + timedelta(seconds=2), tick=False):
        assert reminders_fan_out() == 1
        assert reminders_fan_out() == 0
    assert told(sev2_incident, ReminderStep.DUE) == {people["lead"].id, people["comms"].id}
    event = sev2_incident.timeline.get(kind=EventKind.REMINDER)
    assert event.recorded_at == due + timedelta(seconds=2)  # when they were told
    assert sorted(Delivery.objects.values_list("channel", flat=True)) == ["email", "email", "in_app", "in_app"]


def test_a_step_whose_hand_over_was_lost_is_handed_over_again(
    sev2_incident, people, eager_celery, django_capture_on_commit_callbacks
):
    due = T0 + timedelta(minutes=30)
    with time_machine.travel(due, tick=False):
        # Recorded, but its task never reaches a worker (the callback queueing it is dropped).
        assert reminders_sweep() == 1
    with time_machine.travel(due + timedelta(seconds=10), tick=False), django_capture_on_commit_callbacks(execute=True):
        reminders_sweep()
    assert not Delivery.objects.exists()  # too early to call it lost
    mail.outbox.clear()
    with time_machine.travel(due + timedelta(seconds=25), tick=False), django_capture_on_commit_callbacks(execute=True):
        assert reminders_sweep() == 0
    assert told(sev2_incident, ReminderStep.DUE) == {people["lead"].id, people["comms"].id}
    assert sorted(m.to[0] for m in mail.outbox) == ["comms@example.com", "lead@example.com"]


def test_reminder_rows_are_unique_per_due_time_and_step(sev2_incident):
    from django.db import IntegrityError, transaction

    due = T0 + timedelta(minutes=30)
    sweep_at(due)
    with pytest.raises(IntegrityError), transaction.atomic():
        Reminder.objects.create(incident=sev2_incident, due_at=due, step=ReminderStep.DUE, sent_at=due)


# --- people given a role -----------------------------------------------------------------------


def inbox_subjects(user) -> list[str]:
    return list(
        Delivery.objects.filter(recipient=user, channel=Channel.IN_APP)
        .order_by("id")
        .values_list("message__subject", flat=True)
    )


def test_people_given_a_role_by_someone_else_are_told_so(people):
    newcomer = UserFactory(role="responder", email="ana@example.com")
    incident = declare_incident(severity="SEV1", declared_by=people["responder"], lead=people["lead"])
    assert inbox_subjects(people["lead"]) == [f"[SEV1] {incident.reference}: you are now the incident lead"]

    services.incident_roles_assign(
        incident=incident, actor=people["lead"], comms_lead=people["comms"], responders=[newcomer]
    )
    assert inbox_subjects(people["comms"]) == [f"[SEV1] {incident.reference}: you are now the comms lead"]
    assert inbox_subjects(newcomer) == [f"[SEV1] {incident.reference}: you are now a responder"]
    body = Delivery.objects.get(recipient=newcomer, channel=Channel.EMAIL).message.body_text
    assert f"You are now a responder on {incident.reference}, assigned by" in body
    assert incident.get_absolute_url() in body

    # Saving the same roles again tells nobody anything new; nor does taking a role yourself.
    services.incident_roles_assign(incident=incident, actor=people["lead"], responders=[newcomer])
    services.incident_roles_assign(incident=incident, actor=people["boss"], lead=people["boss"])
    assert len(inbox_subjects(newcomer)) == 1
    assert inbox_subjects(people["boss"]) == []


def test_whoever_declares_and_leads_is_not_told_of_their_own_role(people):
    declare_incident(severity="SEV2", declared_by=people["lead"])
    assert not [s for s in inbox_subjects(people["lead"]) if "you are now" in s]
