from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import IntegrityError

from incidents import errors, services
from incidents.models import EventKind, Incident, IncidentStatus, SeverityPolicy
from tests.factories import ServiceFactory, UserFactory, declare_incident

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)


def kinds(incident: Incident) -> list[str]:
    return list(incident.timeline.order_by("occurred_at", "id").values_list("kind", flat=True))


@pytest.mark.parametrize(("severity", "minutes"), [("SEV1", 15), ("SEV2", 30), ("SEV3", 120)])
def test_declaring_plans_the_first_update_one_cadence_ahead(severity, minutes):
    with time_machine.travel(T0, tick=False):
        incident = declare_incident(severity=severity)
    assert incident.status == IncidentStatus.INVESTIGATING
    assert incident.next_update_due_at == T0 + timedelta(minutes=minutes)
    assert kinds(incident) == [EventKind.DECLARED]


def test_sev4_has_no_scheduled_updates():
    incident = declare_incident(severity="SEV4")
    assert incident.next_update_due_at is None
    services.incident_update_post(incident=incident, author=incident.lead, progress="Still looking")
    incident.refresh_from_db()
    assert incident.next_update_due_at is None


def test_cadence_is_read_from_the_policy_not_the_name():
    SeverityPolicy.objects.filter(key="SEV2").update(update_cadence_minutes=7)
    with time_machine.travel(T0, tick=False):
        incident = declare_incident(severity="SEV2")
    assert incident.next_update_due_at == T0 + timedelta(minutes=7)


def test_declarer_leads_unless_another_lead_is_named():
    declarer = UserFactory(role="responder")
    other = UserFactory(role="responder")
    assert declare_incident(declared_by=declarer).lead == declarer
    assert declare_incident(declared_by=declarer, lead=other).lead == other


def test_backdated_detection_is_kept_and_put_on_the_timeline():
    with time_machine.travel(T0, tick=False):
        incident = declare_incident(detected_at=T0 - timedelta(minutes=20))
    assert incident.detected_at == T0 - timedelta(minutes=20)
    assert incident.declared_at == T0
    assert kinds(incident) == [EventKind.MILESTONE_SET, EventKind.DECLARED]


def test_declaring_refuses_a_blank_title_and_a_future_detection():
    with pytest.raises(ValidationError) as blank:
        declare_incident(title="   ")
    assert blank.value.message_dict["title"] == [errors.TITLE_REQUIRED]
    with pytest.raises(ValidationError) as future:
        declare_incident(detected_at=datetime.now(UTC) + timedelta(hours=1))
    assert future.value.message_dict["detected_at"] == [errors.DETECTED_IN_FUTURE]
    assert Incident.objects.count() == 0


def test_percent_of_users_must_be_a_percentage():
    with pytest.raises(ValidationError) as excinfo:
        declare_incident(affected_users_percent=Decimal("140"))
    assert excinfo.value.message_dict["affected_users_percent"] == [errors.PERCENT_OUT_OF_RANGE]


def test_posting_an_update_replans_from_now():
    with time_machine.travel(T0, tick=False):
        incident = declare_incident(severity="SEV2")
    with time_machine.travel(T0 + timedelta(minutes=12), tick=False):
        update = services.incident_update_post(
            incident=incident, author=incident.lead, progress="DB latency high", next_steps="Add index", eta="30 min"
        )
    incident.refresh_from_db()
    assert incident.next_update_due_at == T0 + timedelta(minutes=42)
    assert incident.last_update_at == T0 + timedelta(minutes=12)
    assert incident.acknowledged_at == T0 + timedelta(minutes=12)
    assert update.timeline_event.kind == EventKind.STATUS_UPDATE


def test_an_update_can_move_the_status():
    incident = declare_incident()
    services.incident_update_post(
        incident=incident, author=incident.lead, progress="Found the bad deploy", status=IncidentStatus.IDENTIFIED
    )
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.IDENTIFIED
    assert kinds(incident)[-2:] == [EventKind.STATUS_CHANGED, EventKind.STATUS_UPDATE]


def test_empty_update_is_refused_and_nothing_changes():
    incident = declare_incident()
    due = incident.next_update_due_at
    with pytest.raises(ValidationError) as excinfo:
        services.incident_update_post(incident=incident, author=incident.lead, progress="  ")
    assert excinfo.value.message_dict["progress"] == [errors.UPDATE_PROGRESS_REQUIRED]
    incident.refresh_from_db()
    assert incident.next_update_due_at == due
    assert incident.status_updates.count() == 0


def test_raising_severity_replans_from_the_last_update_and_can_make_it_due_at_once():
    with time_machine.travel(T0, tick=False):
        incident = declare_incident(severity="SEV2")
    with time_machine.travel(T0 + timedelta(minutes=5), tick=False):
        services.incident_update_post(incident=incident, author=incident.lead, progress="Looking")
    with time_machine.travel(T0 + timedelta(minutes=25), tick=False):
        services.incident_severity_change(
            incident=incident, severity=SeverityPolicy.objects.get(key="SEV1"), actor=incident.lead
        )
        incident.refresh_from_db()
        # Last update at +5, new cadence 15 → due at +20: already overdue at +25.
        assert incident.next_update_due_at == T0 + timedelta(minutes=20)
        assert incident.is_update_overdue
    event = incident.timeline.get(kind=EventKind.SEVERITY_CHANGED)
    assert event.data == {"from": "SEV2", "to": "SEV1"}
    assert event.text == "Raised severity from SEV2 to SEV1"


def test_lowering_severity_replans_from_the_declaration_when_no_update_was_posted():
    with time_machine.travel(T0, tick=False):
        incident = declare_incident(severity="SEV1")
    services.incident_severity_change(
        incident=incident, severity=SeverityPolicy.objects.get(key="SEV3"), actor=incident.lead
    )
    incident.refresh_from_db()
    assert incident.next_update_due_at == T0 + timedelta(hours=2)


def test_lowering_to_as_needed_clears_the_due_time():
    incident = declare_incident(severity="SEV3")
    services.incident_severity_change(
        incident=incident, severity=SeverityPolicy.objects.get(key="SEV4"), actor=incident.lead
    )
    incident.refresh_from_db()
    assert incident.next_update_due_at is None


def test_same_severity_is_refused():
    incident = declare_incident(severity="SEV2")
    with pytest.raises(ValidationError) as excinfo:
        services.incident_severity_change(
            incident=incident, severity=SeverityPolicy.objects.get(key="SEV2"), actor=incident.lead
        )
    assert excinfo.value.message_dict["severity"] == [errors.SAME_SEVERITY]


def test_resolving_clears_the_due_time_and_reopening_restarts_the_cadence():
    with time_machine.travel(T0, tick=False):
        incident = declare_incident(severity="SEV2")
    with time_machine.travel(T0 + timedelta(minutes=40), tick=False):
        services.incident_status_change(incident=incident, status=IncidentStatus.RESOLVED, actor=incident.lead)
    incident.refresh_from_db()
    assert incident.resolved_at == T0 + timedelta(minutes=40)
    assert incident.mitigated_at == T0 + timedelta(minutes=40)
    assert incident.next_update_due_at is None
    assert not incident.is_active

    with time_machine.travel(T0 + timedelta(hours=2), tick=False):
        services.incident_status_change(incident=incident, status=IncidentStatus.INVESTIGATING, actor=incident.lead)
    incident.refresh_from_db()
    assert incident.resolved_at is None
    assert incident.next_update_due_at == T0 + timedelta(hours=2, minutes=30)
    reopened = incident.timeline.filter(kind=EventKind.STATUS_CHANGED).first()
    assert reopened.text == "Reopened as Investigating"
    assert reopened.data["reopened"] is True


def test_an_update_from_a_page_left_open_never_reopens_a_resolved_incident():
    incident = declare_incident(severity="SEV2")
    services.incident_status_change(incident=incident, status=IncidentStatus.RESOLVED, actor=incident.lead)
    with pytest.raises(ValidationError) as refused:
        services.incident_update_post(
            incident=incident, author=incident.lead, progress="Error rate back to baseline", status="investigating"
        )
    assert refused.value.message_dict == {"status": [errors.UPDATE_WOULD_REOPEN.format(reference=incident.reference)]}
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.RESOLVED
    assert not incident.status_updates.exists()

    # Said as Resolved, the update is posted and the incident stays resolved.
    services.incident_update_post(
        incident=incident, author=incident.lead, progress="Root cause: a bad deploy", status="resolved"
    )
    incident.refresh_from_db()
    assert (incident.status, incident.next_update_due_at) == (IncidentStatus.RESOLVED, None)


def test_monitoring_records_mitigation():
    incident = declare_incident()
    services.incident_status_change(incident=incident, status=IncidentStatus.MONITORING, actor=incident.lead)
    incident.refresh_from_db()
    assert incident.mitigated_at is not None
    assert incident.acknowledged_at is not None


def test_database_refuses_a_resolved_incident_without_resolution_time():
    incident = declare_incident()
    with pytest.raises(IntegrityError):
        Incident.objects.filter(pk=incident.pk).update(status=IncidentStatus.RESOLVED)


def test_roles_are_assigned_with_one_event_each():
    incident = declare_incident()
    comms = UserFactory(role="responder", first_name="Casey", last_name="Comms")
    helpers = [UserFactory(role="responder"), UserFactory(role="responder")]
    services.incident_roles_assign(incident=incident, actor=incident.lead, comms_lead=comms, responders=helpers)
    incident.refresh_from_db()
    assert incident.comms_lead == comms
    assert set(incident.responders.all()) == set(helpers)
    texts = list(incident.timeline.filter(kind=EventKind.ROLE_ASSIGNED).values_list("text", flat=True))
    assert "Comms lead: Casey Comms" in texts
    assert any(text.startswith("Responders added") for text in texts)
    # Assigning the same people again records nothing new.
    services.incident_roles_assign(incident=incident, actor=incident.lead, comms_lead=comms, responders=helpers)
    assert incident.timeline.filter(kind=EventKind.ROLE_ASSIGNED).count() == 2


def test_backdated_note_sorts_by_when_it_happened():
    with time_machine.travel(T0, tick=False):
        incident = declare_incident()
    with time_machine.travel(T0 + timedelta(minutes=30), tick=False):
        note = services.incident_note_add(
            incident=incident,
            author=incident.lead,
            text="Deploy 4521 went out\nby the release train",
            occurred_at=T0 - timedelta(minutes=10),
        )
    assert note.occurred_at == T0 - timedelta(minutes=10)
    assert note.recorded_at == T0 + timedelta(minutes=30)
    assert note.text == "Deploy 4521 went out"
    assert incident.timeline.order_by("occurred_at").first() == note


def test_note_in_the_future_is_refused():
    incident = declare_incident()
    with pytest.raises(ValidationError) as excinfo:
        services.incident_note_add(
            incident=incident, author=incident.lead, text="x", occurred_at=datetime.now(UTC) + timedelta(hours=1)
        )
    assert excinfo.value.message_dict["occurred_at"] == [errors.NOTE_IN_FUTURE]


def test_milestones_are_validated_and_recorded():
    with time_machine.travel(T0, tick=False):
        incident = declare_incident()
    with time_machine.travel(T0 + timedelta(minutes=30), tick=False):
        services.incident_milestone_set(
            incident=incident, actor=incident.lead, milestone="detected_at", at=T0 - timedelta(minutes=15)
        )
        services.incident_milestone_set(
            incident=incident, actor=incident.lead, milestone="acknowledged_at", at=T0 + timedelta(minutes=3)
        )
        with pytest.raises(ValidationError) as excinfo:
            services.incident_milestone_set(
                incident=incident, actor=incident.lead, milestone="mitigated_at", at=T0 - timedelta(hours=1)
            )
    assert excinfo.value.message_dict["at"] == [errors.MILESTONE_BEFORE_DETECTED]
    incident.refresh_from_db()
    assert incident.detected_at == T0 - timedelta(minutes=15)
    assert incident.acknowledged_at == T0 + timedelta(minutes=3)
    assert incident.mitigated_at is None


def test_impact_update_records_only_what_changed():
    api = ServiceFactory(name="API", slug="api")
    incident = declare_incident(business_impact="Cannot process orders")
    services.incident_impact_update(
        incident=incident,
        actor=incident.lead,
        business_impact="Cannot process orders",
        affected_users_count=1000,
        affected_services=[api],
    )
    event = incident.timeline.get(kind=EventKind.IMPACT_CHANGED)
    assert event.text == "Updated affected users, affected services"
    assert list(incident.affected_services.all()) == [api]


def test_starring_is_the_only_change_an_event_allows():
    incident = declare_incident()
    event = incident.timeline.get()
    services.timeline_event_star(event=event, starred=True)
    event.refresh_from_db()
    assert event.starred


def test_api_token_is_stored_as_a_digest_only():
    user = UserFactory()
    token, raw = services.api_token_create(user=user, name="alertmanager")
    assert raw.startswith("idk_")
    assert raw not in token.digest
    assert token.digest == token.digest_of(raw)


def test_text_longer_than_its_column_is_refused_with_a_message():
    with pytest.raises(ValidationError) as excinfo:
        declare_incident(title="x" * 201)
    assert excinfo.value.message_dict["title"] == [errors.TOO_LONG.format(limit=200)]


@pytest.mark.parametrize("percent", [Decimal("NaN"), Decimal("-1"), Decimal("Infinity")])
def test_percent_that_is_not_a_percentage_is_refused(percent):
    with pytest.raises(ValidationError) as excinfo:
        declare_incident(affected_users_percent=percent)
    assert excinfo.value.message_dict["affected_users_percent"] == [errors.PERCENT_OUT_OF_RANGE]


def test_negative_user_count_is_refused():
    with pytest.raises(ValidationError) as excinfo:
        declare_incident(affected_users_count=-5)
    assert excinfo.value.message_dict["affected_users_count"] == [errors.COUNT_OUT_OF_RANGE]
