"""Every due time an incident's next update had is recorded as it was set (UpdateDue), so the
update cadence kept can be measured later whatever the policy says by then."""

from datetime import UTC, datetime, timedelta
from importlib import import_module

import pytest
import time_machine
from django.apps import apps as django_apps

from incidents import policy, services
from incidents.models import DueOutcome, IncidentStatus, SeverityPolicy, UpdateDue
from tests.factories import UserFactory, declare_incident

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)


def dues(incident) -> list[tuple]:
    return list(
        UpdateDue.objects.filter(incident=incident)
        .order_by("set_at", "id")
        .values_list("due_at", "cadence_minutes", "outcome", "closed_at")
    )


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_declaring_records_the_first_due_time_and_an_update_meets_it():
    with time_machine.travel(T0, tick=False):
        incident = declare_incident(severity="SEV1")
    with time_machine.travel(at(20), tick=False):
        update = services.incident_update_post(incident=incident, author=incident.lead, progress="Looking")
    assert dues(incident) == [
        (at(15), 15, DueOutcome.MET, at(20)),
        (at(35), 15, DueOutcome.OPEN, None),
    ]
    assert UpdateDue.objects.get(outcome=DueOutcome.MET).met_by == update


def test_an_update_that_resolves_still_meets_the_due_time_and_leaves_none_open():
    with time_machine.travel(T0, tick=False):
        incident = declare_incident(severity="SEV2")
    with time_machine.travel(at(10), tick=False):
        services.incident_update_post(
            incident=incident, author=incident.lead, progress="Fixed", status=IncidentStatus.RESOLVED
        )
    assert dues(incident) == [(at(30), 30, DueOutcome.MET, at(10))]


def test_resolve_clears_reopen_sets_a_new_due_time():
    with time_machine.travel(T0, tick=False):
        incident = declare_incident(severity="SEV2")
    with time_machine.travel(at(40), tick=False):
        services.incident_status_change(incident=incident, status=IncidentStatus.RESOLVED, actor=incident.lead)
    with time_machine.travel(at(60), tick=False):
        services.incident_status_change(incident=incident, status=IncidentStatus.INVESTIGATING, actor=incident.lead)
    assert dues(incident) == [
        (at(30), 30, DueOutcome.CLEARED, at(40)),
        (at(90), 30, DueOutcome.OPEN, None),
    ]


def test_severity_change_and_snooze_replace_the_open_due_time():
    with time_machine.travel(T0, tick=False):
        incident = declare_incident(severity="SEV3")
    with time_machine.travel(at(5), tick=False):
        services.incident_severity_change(
            incident=incident, severity=SeverityPolicy.objects.get(key="SEV1"), actor=incident.lead
        )
    with time_machine.travel(at(10), tick=False):
        services.incident_update_snooze(incident=incident, actor=incident.lead, minutes=10, reason="Waiting on vendor")
    assert dues(incident) == [
        (at(120), 120, DueOutcome.SUPERSEDED, at(5)),
        (at(15), 15, DueOutcome.SUPERSEDED, at(10)),
        (at(25), 15, DueOutcome.OPEN, None),
    ]


def test_sev4_records_no_due_time():
    incident = declare_incident(severity="SEV4")
    services.incident_update_post(incident=incident, author=incident.lead, progress="Noted")
    assert dues(incident) == []


def test_a_policy_change_replaces_open_due_times_and_keeps_past_ones():
    with time_machine.travel(T0, tick=False):
        incident = declare_incident(severity="SEV2")
    with time_machine.travel(at(20), tick=False):
        services.incident_update_post(incident=incident, author=incident.lead, progress="Looking")
    admin = UserFactory(is_superuser=True)
    with time_machine.travel(at(25), tick=False):
        policy.severity_policy_update(
            policy=SeverityPolicy.objects.get(key="SEV2"), actor=admin, update_cadence_minutes=60
        )
    assert dues(incident) == [
        (at(30), 30, DueOutcome.MET, at(20)),
        (at(50), 30, DueOutcome.SUPERSEDED, at(25)),
        (at(80), 60, DueOutcome.OPEN, None),
    ]


def test_lateness_is_how_late_the_update_came_or_none_when_replaced_in_time():
    with time_machine.travel(T0, tick=False):
        incident = declare_incident(severity="SEV1")
    with time_machine.travel(at(22), tick=False):
        services.incident_update_post(incident=incident, author=incident.lead, progress="Looking")
    met, open_due = UpdateDue.objects.filter(incident=incident).order_by("due_at")
    assert met.lateness(at(22)) == timedelta(minutes=7)
    assert open_due.lateness(at(30)) is None
    assert open_due.lateness(at(40)) == timedelta(minutes=3)


def test_the_migration_backfills_due_times_from_the_timeline():
    with time_machine.travel(T0, tick=False):
        incident = declare_incident(severity="SEV1")
    with time_machine.travel(at(22), tick=False):
        services.incident_update_post(incident=incident, author=incident.lead, progress="Looking")
    with time_machine.travel(at(30), tick=False):
        services.incident_severity_change(
            incident=incident, severity=SeverityPolicy.objects.get(key="SEV2"), actor=incident.lead
        )
    with time_machine.travel(at(40), tick=False):
        services.incident_update_post(
            incident=incident, author=incident.lead, progress="Fixed", status=IncidentStatus.RESOLVED
        )
    recorded = dues(incident)
    UpdateDue.objects.all().delete()
    migration = import_module("incidents.migrations.0015_update_dues")
    migration.backfill(django_apps, None)
    assert dues(incident) == recorded
