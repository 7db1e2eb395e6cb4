"""A service added to an open incident (page form, API, alert) pages its team's policy when none
of the team is on the incident and it was not paged already; the timeline says so."""

import copy
import json
from pathlib import Path

import pytest

from incidents import services
from incidents.models import EventKind, Service, SeverityPolicy, Team
from integrations.alerts import alert_source_create
from integrations.models import AlertRule
from paging.models import Escalation
from tests.factories import UserFactory, declare_incident

pytestmark = pytest.mark.django_db

GROUPED = json.loads((Path(__file__).parents[1] / "integrations/fixtures/alertmanager_grouped.json").read_text())
ADDED = "Service added: paging Payments, not on the incident yet"


@pytest.fixture
def search(db) -> Service:
    """A service of another team, with no escalation policy."""
    team = Team.objects.create(name="Search", slug="search")
    return Service.objects.create(name="Search", slug="search", owner_team=team)


@pytest.fixture
def carol(db):
    return UserFactory(username="carol", first_name="Carol", last_name="", role="responder")


def paged(incident) -> list[tuple[str, int]]:
    return list(incident.pages.order_by("pk").values_list("user__username", "level"))


def test_adding_another_teams_service_pages_its_policy_once(carol, search, checkout, policy):
    incident = declare_incident(declared_by=carol, affected_services=[search])
    assert paged(incident) == []
    services.incident_impact_update(incident=incident, actor=carol, affected_services=[search, checkout])
    assert paged(incident) == [("alice", 1)]
    event = incident.timeline.filter(kind=EventKind.PAGE, data__services_added=True).get()
    assert event.text == ADDED
    # Taken off and added again: the escalation runs already, nobody is paged twice.
    services.incident_impact_update(incident=incident, actor=carol, affected_services=[search])
    services.incident_impact_update(incident=incident, actor=carol, affected_services=[search, checkout])
    assert paged(incident) == [("alice", 1)]
    assert Escalation.objects.filter(incident=incident).count() == 1


def test_a_team_member_adding_their_own_service_pages_nobody(bob, search, checkout, policy):
    incident = declare_incident(declared_by=UserFactory(role="responder"), affected_services=[search])
    services.incident_impact_update(incident=incident, actor=bob, affected_services=[search, checkout])
    assert paged(incident) == []
    assert not incident.timeline.filter(kind=EventKind.PAGE).exists()


def test_a_team_already_on_the_incident_is_not_paged(carol, alice, search, checkout, policy):
    incident = declare_incident(declared_by=carol, affected_services=[search])
    services.incident_roles_assign(incident=incident, actor=carol, responders=[alice])
    services.incident_impact_update(incident=incident, actor=carol, affected_services=[search, checkout])
    assert paged(incident) == []


def test_a_resolved_incident_pages_nobody(carol, search, checkout, policy):
    incident = declare_incident(declared_by=carol, affected_services=[search])
    services.incident_status_change(incident=incident, status="resolved", actor=carol)
    services.incident_impact_update(incident=incident, actor=carol, affected_services=[search, checkout])
    assert paged(incident) == []


def test_the_api_adding_a_service_pages_its_team(client, carol, search, checkout, policy):
    incident = declare_incident(declared_by=carol, affected_services=[search])
    token = services.api_token_create(user=carol, name="t")[1]
    answer = client.patch(
        f"/api/v1/incidents/{incident.reference}/",
        data={"affected_services": ["search", "checkout"]},
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
        secure=True,
    )
    assert answer.status_code == 200, answer.content
    assert paged(incident) == [("alice", 1)]


def test_an_alert_of_another_service_joining_an_open_incident_adds_it_and_pages_its_team(client, checkout, policy):
    database = Service.objects.create(name="Database", slug="database")
    sev2 = SeverityPolicy.objects.get(key="SEV2")
    AlertRule.objects.create(
        name="Lag", matchers={"alertname": "PostgresReplicationLag"}, service=database, severity=sev2, order=10
    )
    AlertRule.objects.create(
        name="Saturated",
        matchers={"alertname": "PostgresConnectionsSaturated"},
        service=checkout,
        severity=sev2,
        order=20,
    )
    _, token = alert_source_create(name="prometheus")
    first = copy.deepcopy(GROUPED)
    first["alerts"] = GROUPED["alerts"][:1]
    for payload in (first, GROUPED):
        answer = client.post(
            "/api/v1/alerts/alertmanager/",
            data=json.dumps(payload),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {token}",
        )
        assert answer.status_code == 200, answer.content
    incident = checkout.incidents.get()
    assert set(incident.affected_services.values_list("slug", flat=True)) == {"database", "checkout"}
    assert paged(incident) == [("alice", 1)]
    assert incident.timeline.filter(kind=EventKind.PAGE, text=ADDED).exists()
