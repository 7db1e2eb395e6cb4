"""Two responders acting at once on one incident must not lose each other's work."""

import threading
from datetime import timedelta

import pytest
from django.db import connection

from incidents import services
from incidents.models import EventKind, IncidentStatus, SeverityPolicy
from tests.factories import UserFactory, declare_incident

pytestmark = [pytest.mark.postgres, pytest.mark.usefixtures("committed_db")]


def run_concurrently(*jobs) -> list[BaseException]:
    failures: list[BaseException] = []
    start = threading.Barrier(len(jobs))

    def wrapped(job):
        try:
            start.wait()
            job()
        except BaseException as error:
            failures.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=wrapped, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return failures


def test_simultaneous_updates_are_all_kept_and_the_due_time_follows_the_last():
    incident = declare_incident(severity="SEV2")
    alice, bob = UserFactory(role="responder"), UserFactory(role="responder")

    def post_updates(author):
        def job():
            for n in range(10):
                services.incident_update_post(incident=incident, author=author, progress=f"{author.username} {n}")

        return job

    assert run_concurrently(post_updates(alice), post_updates(bob)) == []
    incident.refresh_from_db()
    latest = incident.status_updates.order_by("-posted_at").first()
    assert incident.status_updates.count() == 20
    assert incident.timeline.filter(kind=EventKind.STATUS_UPDATE).count() == 20
    assert incident.last_update_at == latest.posted_at
    assert incident.next_update_due_at == latest.posted_at + timedelta(minutes=30)


def test_severity_raise_racing_an_update_leaves_a_consistent_due_time():
    incident = declare_incident(severity="SEV3")
    sev1 = SeverityPolicy.objects.get(key="SEV1")
    lead = incident.lead

    failures = run_concurrently(
        lambda: services.incident_severity_change(incident=incident, severity=sev1, actor=lead),
        lambda: services.incident_update_post(incident=incident, author=lead, progress="racing"),
    )
    assert failures == []
    incident.refresh_from_db()
    # Whichever ran second saw the other's write: the due time is one SEV1 cadence after the update.
    assert incident.severity == sev1
    assert incident.next_update_due_at == incident.last_update_at + timedelta(minutes=15)


def test_resolving_twice_at_once_resolves_once():
    incident = declare_incident()
    lead = incident.lead

    def resolve():
        services.incident_status_change(incident=incident, status=IncidentStatus.RESOLVED, actor=lead)

    failures = run_concurrently(resolve, resolve)
    assert len(failures) == 1  # the second is told the incident already has this status
    assert incident.timeline.filter(kind=EventKind.STATUS_CHANGED).count() == 1
