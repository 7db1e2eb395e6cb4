"""Paging through a real worker and beat, PostgreSQL, Redis and an SMTP server: an Alertmanager
alert while Alice is on call pages Alice once; without an acknowledgement within level 1's delay,
Bob (level 2) is paged once; Bob's acknowledge link makes him lead, sets the Acknowledged
milestone and stops the escalation; the next status-update reminder reaches Bob.

Time is arranged, not waited for: the alert arrives in the past (time-machine, in this process
only), so when the worker starts, level 2 and the first reminder step are already due; the worker
runs on the real clock."""

import json
import re
from collections import Counter
from datetime import date, time, timedelta
from pathlib import Path

import pytest
import time_machine
from django.conf import settings
from django.utils import timezone

from incidents.models import EventKind, Incident, Service, SeverityPolicy, Team
from integrations.alerts import alert_source_create
from integrations.models import AlertRule
from notifications.models import Delivery, DeliveryStatus
from notifications.services import channel_preference_set
from paging.models import Escalation, EscalationLevel, EscalationPolicy, Page
from tests.factories import UserFactory, on_call_schedule
from tests.integration.harness import wait_for
from tests.integration.test_reminder_delivery import REMINDER, SWEEP_TASK, emails_received

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("committed_db"),
]

PAGE = "incident.page"
FIRING = json.loads((Path(__file__).parents[1] / "integrations/fixtures/alertmanager_firing.json").read_text())
ACK_LINK = re.compile(r"(https?://\S+/paging/acknowledge/\S+/)")


@pytest.fixture
def people():
    return {
        "alice": UserFactory(username="alice", role="responder", email="alice@example.com"),
        "bob": UserFactory(username="bob", role="responder", email="bob@example.com"),
    }


@pytest.fixture
def paging_policy(people):
    """Alice is on call for the team that owns checkout; level 1 her schedule, level 2 Bob, one
    minute each. SEV1 asks for an update every minute."""
    team = Team.objects.create(name="Payments", slug="payments")
    team.members.set(people.values())
    checkout = Service.objects.create(name="Checkout", slug="checkout", owner_team=team)
    weekly = {"members": [people["alice"]], "start_date": date(2020, 1, 6), "handoff_time": time(9)}
    schedule = on_call_schedule(team=team, layers=[{**weekly, "shift_length": 7, "shift_unit": "days"}])
    policy = EscalationPolicy.objects.create(team=team, name="Payments escalation")
    EscalationLevel.objects.create(policy=policy, position=1, delay_minutes=1, schedule=schedule)
    EscalationLevel.objects.create(policy=policy, position=2, delay_minutes=1).users.set([people["bob"]])
    sev1 = SeverityPolicy.objects.get(key="SEV1")
    sev1.update_cadence_minutes = 1
    sev1.save(update_fields=["update_cadence_minutes"])
    AlertRule.objects.create(
        name="Checkout", matchers={"service": "checkout"}, service=checkout, severity=sev1, order=10
    )
    return policy


def pages_by_email(smtp_sink) -> Counter:
    return Counter(to for to, event, _, _ in emails_received(smtp_sink).elements() if event == PAGE)


def alert_post(client) -> None:
    """Alertmanager tells of the firing checkout alert."""
    _, token = alert_source_create(name="prometheus")
    answer = client.post(
        "/api/v1/alerts/alertmanager/",
        data=json.dumps(FIRING),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert answer.status_code == 200


def test_an_alert_pages_alice_then_bob_whose_link_acknowledges_and_stops_it(
    client, people, paging_policy, smtp_sink, start_worker
):
    with time_machine.travel(timezone.now() - timedelta(seconds=65), tick=False):
        alert_post(client)
    incident = Incident.objects.get()
    assert incident.lead.username == "alerts"

    worker = start_worker()
    wait_for(
        lambda: pages_by_email(smtp_sink) == Counter(["alice@example.com", "bob@example.com"]),
        timeout=40,
        what="Alice's and then Bob's page by email",
    )
    # No reminder goes to a bot: the first reminder step went to Alice, on call, not to 'alerts'.
    # (Its timeline entry is written by the reminders' fan-out, which may finish after Bob's page.)
    wait_for(
        lambda: incident.timeline.filter(kind=EventKind.REMINDER, data__step=1).exists(),
        timeout=20,
        what="the first reminder on the timeline",
    )
    first = incident.timeline.filter(kind=EventKind.REMINDER, data__step=1).get()
    assert first.data["recipients"] == [people["alice"].pk]

    bob_page = next(m for m in smtp_sink.snapshot() if m.to == ("bob@example.com",) and "Page:" in m.subject)
    link = ACK_LINK.search(bob_page.body).group(1).removeprefix(settings.SITE_URL)
    assert client.get(link).status_code == 200  # a mail scanner's fetch acknowledges nothing
    assert Incident.objects.get().acknowledged_at is None
    assert client.post(link).status_code == 302

    incident.refresh_from_db()
    assert incident.lead == people["bob"]
    assert incident.acknowledged_at is not None
    assert Escalation.objects.get().stop_reason == "acknowledged"
    # The next reminder (step 2, half a cadence past due) reaches Bob, who now leads.
    wait_for(
        lambda: ("bob@example.com", REMINDER, 2, incident.next_update_due_at) in emails_received(smtp_sink),
        timeout=60,
        what="the next reminder to reach Bob",
    )
    done = worker.tasks_succeeded(SWEEP_TASK)
    wait_for(lambda: worker.tasks_succeeded(SWEEP_TASK) >= done + 3, timeout=30, what="three more sweeps")
    wait_for(
        lambda: not Delivery.objects.filter(status=DeliveryStatus.PENDING).exists(),
        timeout=20,
        what="every queued delivery to be attempted",
    )

    assert pages_by_email(smtp_sink) == Counter(["alice@example.com", "bob@example.com"])  # each once
    pages = Page.objects.order_by("level")
    assert [(page.user.username, page.level, page.told_at is not None) for page in pages] == [
        ("alice", 1, True),
        ("bob", 2, True),
    ]
    assert Page.objects.get(user=people["bob"]).acknowledged_at is not None


def test_a_page_arrives_once_at_the_persons_own_webhook_with_its_acknowledge_link(
    client, people, paging_policy, webhook_receiver, start_worker
):
    """Alice's own webhook (a local receiver; the tests allow 127.0.0.1 as OUTBOUND_ALLOWED_NETWORKS)
    gets her page once, in the Slack format she chose, with the one-click link and a stable key."""
    channel_preference_set(user=people["alice"], email=False, webhook_url=webhook_receiver.url, webhook_format="slack")
    alert_post(client)
    worker = start_worker()
    wait_for(lambda: webhook_receiver.snapshot(), timeout=40, what="Alice's page at her webhook")
    done = worker.tasks_succeeded(SWEEP_TASK)
    wait_for(lambda: worker.tasks_succeeded(SWEEP_TASK) >= done + 3, timeout=30, what="three more sweeps")

    pages = [hook for hook in webhook_receiver.snapshot() if "Page:" in hook.body["text"]]
    assert len(pages) == 1
    [page] = pages
    assert page.idempotency_key.startswith("incident-desk-delivery-")
    link = ACK_LINK.search(page.body["text"]).group(1).removeprefix(settings.SITE_URL)
    assert client.post(link).status_code == 302
    assert Incident.objects.get().lead == people["alice"]
