"""Status-update reminders through a real worker and beat, PostgreSQL, Redis, an SMTP server and
a webhook receiver: every ladder step reaches every channel exactly once per due time.

Time is arranged, not waited for: the incident is declared in the past (time-machine, in this
process only), so when the worker starts, with a sweep every second, all three steps of a
1-minute cadence are already due. The worker runs on the real clock.
"""

from collections import Counter
from datetime import datetime, timedelta

import pytest
import time_machine
from django.conf import settings
from django.contrib.auth.models import Group
from django.utils import timezone

from core.errors import WEBHOOK_NOT_ACCEPTED
from incidents import services
from incidents.models import EventKind, SeverityPolicy
from notifications.models import Channel, Delivery, DeliveryStatus
from notifications.services import MAX_ATTEMPTS
from tests.factories import UserFactory, declare_incident
from tests.integration.harness import SmtpSink, WebhookReceiver, wait_for

# Committed data (the worker is another process) with the seeded policy and groups restored:
# committed_db. Not serialized_rollback: after the suite's other transactional tests have flushed
# the database, restoring its snapshot collides with the content types post_migrate made again.
pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("committed_db"),
]

SWEEP_TASK = "incidents.tasks.sweep_reminders"
REMINDER = "incident.update_reminder"
DECLARED = "incident.declared"
ROLE_ASSIGNED = "incident.role_assigned"
RETRY_BACKOFF = settings.NOTIFICATIONS_RETRY_BACKOFF_SECONDS
# Seconds from the first failed attempt to the last, with the configured retry backoff.
REAL_RETRY_WAIT = sum(RETRY_BACKOFF[: MAX_ATTEMPTS - 1])
RETRY_WAIT_LIMIT = 60
SHORT_BACKOFF = [1] * (MAX_ATTEMPTS - 1)


@pytest.fixture
def people():
    return {
        "lead": UserFactory(role="responder", email="lead@example.com"),
        "comms": UserFactory(role="responder", email="comms@example.com"),
        "responder": UserFactory(role="responder", email="responder@example.com"),
        "boss": UserFactory(role="admin", email="boss@example.com"),
    }


@pytest.fixture
def sev2() -> SeverityPolicy:
    """SEV2 with a 1-minute cadence and the admin group as its escalation contacts (policy is
    data an admin edits)."""
    policy = SeverityPolicy.objects.get(key="SEV2")
    policy.update_cadence_minutes = 1
    policy.save(update_fields=["update_cadence_minutes"])
    policy.escalation_groups.set([Group.objects.get(name="admin")])
    return policy


def channel_set(policy: SeverityPolicy, url: str) -> None:
    policy.webhook_url = url
    policy.save(update_fields=["webhook_url"])


def ladder_emails(people, due) -> set[tuple]:
    """The six reminder emails of one due time's ladder: leads, then responders, then the boss."""
    lead, comms, responder, boss = (people[k].email for k in ("lead", "comms", "responder", "boss"))
    return {
        (lead, REMINDER, 1, due),
        (comms, REMINDER, 1, due),
        (lead, REMINDER, 2, due),
        (comms, REMINDER, 2, due),
        (responder, REMINDER, 2, due),
        (boss, REMINDER, 3, due),
    }


def declare_in_the_past(people, seconds_ago: int):
    with time_machine.travel(timezone.now() - timedelta(seconds=seconds_ago), tick=False):
        return declare_incident(
            severity="SEV2",
            declared_by=people["lead"],
            comms_lead=people["comms"],
            responders=[people["responder"]],
        )


def _payloads(delivery_ids) -> dict[int, dict]:
    return {
        pk: payload
        for pk, payload in Delivery.objects.filter(pk__in=set(delivery_ids)).values_list("pk", "message__payload")
    }


def _key(payload: dict) -> tuple:
    """(event, step, due time) of a message; the stakeholder notices have no step or due time."""
    due = payload.get("due_at")
    return payload.get("event"), payload.get("step"), datetime.fromisoformat(due) if due else None


def emails_received(smtp_sink: SmtpSink) -> Counter:
    """(recipient, event, step, due time) → how many emails arrived."""
    received = smtp_sink.snapshot()
    payloads = _payloads(m.delivery_id for m in received)
    return Counter((m.to[0], *_key(payloads.get(m.delivery_id, {}))) for m in received)


def webhooks_received(receiver: WebhookReceiver) -> Counter:
    """(event, step, due time) → how many webhook POSTs arrived (JSON format: the payload is `data`)."""
    return Counter(_key(hook.body.get("data", {})) for hook in receiver.snapshot())


def in_app_deliveries() -> Counter:
    rows = Delivery.objects.filter(channel=Channel.IN_APP).values_list("recipient__email", "message__payload")
    return Counter((email, *_key(payload)) for email, payload in rows)


def let_sweeps_run(worker, sweeps: int = 5, min_seconds: float = 6) -> None:
    """Wait until `sweeps` more sweeps have finished (and at least `min_seconds`), then until every
    delivery they may have queued has been attempted."""
    started = timezone.now()
    done = worker.tasks_succeeded(SWEEP_TASK)
    wait_for(
        lambda: (
            worker.tasks_succeeded(SWEEP_TASK) >= done + sweeps
            and (timezone.now() - started).total_seconds() >= min_seconds
        ),
        timeout=min_seconds + 20,
        what=f"{sweeps} more reminder sweeps",
    )
    wait_for(
        lambda: not Delivery.objects.filter(status=DeliveryStatus.PENDING).exists(),
        timeout=20,
        what="every queued delivery to be attempted",
    )


def test_each_ladder_step_reaches_each_channel_exactly_once_per_due_time(
    people, sev2, smtp_sink, webhook_receiver, start_worker
):
    channel_set(sev2, webhook_receiver.url)
    incident = declare_in_the_past(people, seconds_ago=125)
    due = incident.next_update_due_at
    cadence = sev2.update_cadence
    last_step_at = due + cadence * sev2.escalate_contacts_after_percent / 100
    assert last_step_at <= timezone.now(), "all three ladder steps must be due when the worker starts"

    lead, comms, responder = (people[k].email for k in ("lead", "comms", "responder"))
    expected_emails = ladder_emails(people, due) | {
        # The declaration told the comms lead and the responder of their roles.
        (comms, ROLE_ASSIGNED, None, None),
        (responder, ROLE_ASSIGNED, None, None),
    }
    worker = start_worker()
    wait_for(
        lambda: (
            expected_emails <= set(emails_received(smtp_sink))
            and webhooks_received(webhook_receiver)[(REMINDER, 2, due)] >= 1
            and webhooks_received(webhook_receiver)[(DECLARED, None, None)] >= 1
        ),
        timeout=30,
        what="every ladder step by email and the step-2 webhook",
    )
    let_sweeps_run(worker)

    # Nobody in the groups SEV2 notifies, so the only emails are the reminders and the two role
    # notices, each sent once.
    assert emails_received(smtp_sink) == Counter(dict.fromkeys(expected_emails, 1))
    assert in_app_deliveries() == Counter(dict.fromkeys(expected_emails, 1))
    # The severity's webhook hears step 2 once; it also hears the declaration, once.
    assert webhooks_received(webhook_receiver) == Counter({(REMINDER, 2, due): 1, (DECLARED, None, None): 1})
    assert list(incident.reminders.values_list("due_at", "step")) == [(due, 1), (due, 2), (due, 3)]
    assert incident.timeline.filter(kind=EventKind.REMINDER).count() == 3
    assert not Delivery.objects.exclude(status=DeliveryStatus.SENT).exists()

    # A status update posted 61 s ago makes the next update due 1 s ago: step 1 again, once.
    with time_machine.travel(timezone.now() - timedelta(seconds=61)):
        services.incident_update_post(incident=incident, author=people["lead"], progress="Rolled back the deploy")
    incident.refresh_from_db()
    next_due = incident.next_update_due_at
    assert next_due <= timezone.now() < next_due + cadence * sev2.escalate_responders_after_percent / 100
    wait_for(
        lambda: {(lead, REMINDER, 1, next_due), (comms, REMINDER, 1, next_due)} <= set(emails_received(smtp_sink)),
        timeout=30,
        what="the step-1 reminder for the next due time",
    )
    let_sweeps_run(worker)
    assert timezone.now() < next_due + cadence * sev2.escalate_responders_after_percent / 100, (
        "too slow: step 2 of the next due time may have come due while the sweeps ran"
    )

    expected_emails |= {(lead, REMINDER, 1, next_due), (comms, REMINDER, 1, next_due)}
    assert emails_received(smtp_sink) == Counter(dict.fromkeys(expected_emails, 1))
    assert in_app_deliveries() == Counter(dict.fromkeys(expected_emails, 1))
    assert webhooks_received(webhook_receiver) == Counter({(REMINDER, 2, due): 1, (DECLARED, None, None): 1})
    assert list(incident.reminders.values_list("due_at", "step")) == [(due, 1), (due, 2), (due, 3), (next_due, 1)]
    assert incident.timeline.filter(kind=EventKind.REMINDER).count() == 4
    assert "Traceback" not in worker.log()


def test_a_webhook_that_keeps_failing_lands_on_the_timeline(people, sev2, webhook_receiver, start_worker):
    # The configured backoff (5, 15, 45, 120 s) would make this test wait minutes; the worker gets
    # a short one through the setting's environment variable, as production would get its own.
    backoff = SHORT_BACKOFF
    incident = declare_in_the_past(people, seconds_ago=125)
    # The channel is set after the declaration, so the step-2 reminder is the only webhook.
    channel_set(sev2, webhook_receiver.url)
    webhook_receiver.status = 500

    worker = start_worker(extra_env={"NOTIFICATIONS_RETRY_BACKOFF_SECONDS": ",".join(map(str, backoff))})
    failures = incident.timeline.filter(kind=EventKind.NOTIFICATION_FAILED)
    retry_wait = sum(backoff[: MAX_ATTEMPTS - 1])
    wait_for(failures.exists, timeout=retry_wait + 30, what="the notification_failed timeline event")
    let_sweeps_run(worker, sweeps=2, min_seconds=2)

    delivery = Delivery.objects.get(channel=Channel.WEBHOOK, message__payload__event=REMINDER)
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.FAILED, MAX_ATTEMPTS)
    assert delivery.last_error == WEBHOOK_NOT_ACCEPTED
    failure = failures.get()
    assert failure.text == f"Webhook to 127.0.0.1 failed after {MAX_ATTEMPTS} attempts"
    assert failure.body == WEBHOOK_NOT_ACCEPTED
    assert failure.data["delivery"] == delivery.pk
    # Every attempt reached the receiver under the same idempotency key.
    assert webhook_receiver.counts() == Counter({delivery.pk: MAX_ATTEMPTS})
