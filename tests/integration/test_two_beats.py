"""A high-availability set-up: two workers, each with its own beat, so every sweep is sent twice.
The sweeps' row locks and unique rows, not the number of beats, make each reminder go out once."""

from collections import Counter

import pytest

from notifications.models import Delivery, DeliveryStatus
from tests.integration.harness import wait_for
from tests.integration.test_reminder_delivery import (  # noqa: F401 - fixtures
    REMINDER,
    ROLE_ASSIGNED,
    SWEEP_TASK,
    declare_in_the_past,
    emails_received,
    in_app_deliveries,
    ladder_emails,
    people,
    sev2,
)

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("committed_db"),
]


def test_two_beats_and_two_workers_send_each_reminder_once(people, sev2, smtp_sink, start_worker):  # noqa: F811
    workers = [start_worker(), start_worker()]
    # Declared once both beats are sweeping (every second): all three steps are due at once, and
    # both sweeps race for them.
    incident = declare_in_the_past(people, seconds_ago=125)
    due = incident.next_update_due_at
    comms, responder = people["comms"].email, people["responder"].email
    expected = ladder_emails(people, due) | {
        (comms, ROLE_ASSIGNED, None, None),
        (responder, ROLE_ASSIGNED, None, None),
    }
    wait_for(lambda: expected <= set(emails_received(smtp_sink)), timeout=60, what="every reminder by email")
    # Both beats keep sending sweeps; let several more run on each worker, then let the deliveries
    # they might have queued finish.
    done = [worker.tasks_succeeded(SWEEP_TASK) for worker in workers]
    wait_for(
        lambda: all(worker.tasks_succeeded(SWEEP_TASK) >= n + 3 for worker, n in zip(workers, done, strict=True)),
        timeout=40,
        what="three more sweeps on each worker",
    )
    wait_for(
        lambda: not Delivery.objects.filter(status=DeliveryStatus.PENDING).exists(),
        timeout=30,
        what="every queued delivery to be attempted",
    )

    assert all("Sending due task sweep-reminders" in worker.log() for worker in workers), "two beats ran"
    assert emails_received(smtp_sink) == Counter(dict.fromkeys(expected, 1))
    assert in_app_deliveries() == Counter(dict.fromkeys(expected, 1))
    assert list(incident.reminders.values_list("step", flat=True)) == [1, 2, 3]
