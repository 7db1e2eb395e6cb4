"""A person answers for an incident: acknowledging it, and joining it by acting on it."""

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError

from core.permissions import is_person
from incidents import errors, services
from incidents.models import EventKind, IncidentStatus
from tests.factories import UserFactory, declare_incident

pytestmark = pytest.mark.django_db


def alerts_account() -> User:
    """Like the account alert sources declare incidents as: it cannot log in."""
    user, created = User.objects.get_or_create(username="alerts", defaults={"first_name": "Alerts"})
    if created:
        user.set_unusable_password()
        user.save()
    return user


def test_people_are_told_apart_from_system_accounts():
    assert is_person(UserFactory(role="responder"))
    assert not is_person(alerts_account())
    assert not is_person(UserFactory(role="viewer"))  # may not act on incidents
    assert not is_person(UserFactory(role="responder", is_active=False))


@pytest.mark.parametrize(
    "act",
    [
        lambda incident, user: services.incident_update_post(incident=incident, author=user, progress="Looking"),
        lambda incident, user: services.incident_note_add(incident=incident, author=user, text="Restarted web-3"),
        lambda incident, user: services.incident_status_change(
            incident=incident, status=IncidentStatus.IDENTIFIED, actor=user
        ),
        lambda incident, user: services.incident_impact_update(incident=incident, actor=user, title="Checkout down"),
    ],
    ids=["update", "note", "status", "impact"],
)
def test_a_person_who_acts_without_a_role_becomes_a_responder(act):
    incident = declare_incident()
    helper = UserFactory(role="responder", first_name="Grace", last_name="Hopper")
    act(incident, helper)
    assert list(incident.responders.all()) == [helper]
    joined = incident.timeline.filter(kind=EventKind.ROLE_ASSIGNED).get()
    assert joined.text == "Joined as a responder: Grace Hopper"
    assert joined.actor == helper

    services.incident_note_add(incident=incident, author=helper, text="Again")
    assert incident.timeline.filter(kind=EventKind.ROLE_ASSIGNED).count() == 1  # once


def test_the_lead_and_system_accounts_do_not_join_as_responders():
    incident = declare_incident()
    services.incident_update_post(incident=incident, author=incident.lead, progress="Looking")
    services.incident_event_record(incident=incident, kind=EventKind.ALERT, actor=alerts_account(), text="Alert")
    services.incident_note_add(incident=incident, author=alerts_account(), text="Alert note")
    assert not incident.responders.exists()


def test_acknowledging_an_alert_incident_sets_the_milestone_and_hands_the_lead_to_the_person():
    bot = alerts_account()
    incident = declare_incident(declared_by=bot)
    bob = UserFactory(role="responder", first_name="Bob", last_name="Builder")

    incident = services.incident_acknowledge(incident=incident, actor=bob)

    incident.refresh_from_db()
    assert incident.lead == bob
    assert incident.acknowledged_at is not None
    event = incident.timeline.filter(kind=EventKind.MILESTONE_SET).get()
    assert event.text == "Acknowledged by Bob Builder, who now leads"
    assert event.data["milestone"] == "acknowledged_at"
    with pytest.raises(ValidationError) as refused:
        services.incident_acknowledge(incident=incident, actor=UserFactory(role="responder"))
    assert refused.value.messages == [errors.ALREADY_ACKNOWLEDGED]


def test_acknowledging_keeps_a_person_lead_and_the_acknowledger_joins():
    incident = declare_incident()
    lead = incident.lead
    other = UserFactory(role="responder")
    services.incident_acknowledge(incident=incident, actor=other)
    incident.refresh_from_db()
    assert incident.lead == lead
    assert incident.acknowledged_at is not None
    assert list(incident.responders.all()) == [other]


@pytest.mark.parametrize("who", ["bot", "viewer"])
def test_only_people_acknowledge(who):
    incident = declare_incident(declared_by=alerts_account())
    actor = User.objects.get(username="alerts") if who == "bot" else UserFactory(role="viewer")
    with pytest.raises(ValidationError) as refused:
        services.incident_acknowledge(incident=incident, actor=actor)
    assert refused.value.messages == [errors.ACKNOWLEDGE_PEOPLE_ONLY]


def test_a_resolved_incident_cannot_be_acknowledged():
    incident = declare_incident()
    services.incident_status_change(incident=incident, status=IncidentStatus.RESOLVED, actor=incident.lead)
    with pytest.raises(ValidationError) as refused:
        services.incident_acknowledge(incident=incident, actor=UserFactory(role="responder"))
    assert refused.value.messages == [errors.ACKNOWLEDGE_RESOLVED]
