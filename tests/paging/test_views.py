"""The acknowledge link from a phone without logging in, the incident page's Acknowledge button,
and POST /api/v1/incidents/{ref}/acknowledge/."""

from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.utils import timezone

from incidents import errors as incident_errors
from incidents.models import EventKind, Service, Team
from paging import errors, links
from tests.factories import UserFactory, declare_incident
from tests.incidents.test_api import call, token_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def incident(alerts_account, checkout, policy):
    return declare_incident(declared_by=alerts_account, severity="SEV1", affected_services=[checkout])


def link_path(page) -> str:
    return links.acknowledge_url(page).removeprefix(settings.SITE_URL)


def test_the_link_shows_a_button_and_acknowledges_only_when_it_is_pressed(client, incident, alice):
    path = link_path(incident.pages.get(user=alice))

    shown = client.get(path)  # what a mail scanner fetching every link does
    assert shown.status_code == 200
    body = shown.content.decode()
    assert incident.reference in body and "button-acknowledge" in body
    assert "The escalation stops and you lead the incident." in body
    incident.refresh_from_db()
    assert incident.acknowledged_at is None

    answer = client.post(path)
    assert answer.status_code == 302 and answer.url == path
    incident.refresh_from_db()
    assert incident.lead == alice
    assert incident.acknowledged_at is not None
    after = client.get(path).content.decode()
    assert "Acknowledged: the escalation stops." in after
    assert "button-acknowledge" not in after  # works once

    client.post(path)
    assert errors.LINK_USED in client.get(path).content.decode()
    assert incident.timeline.filter(kind=EventKind.MILESTONE_SET).count() == 1


def test_a_second_persons_link_after_the_first_acknowledgement_changes_nothing(client, incident, alice, bob):
    from paging.services import escalations_sweep

    escalations_sweep(now=timezone.now() + timedelta(minutes=5))
    client.post(link_path(incident.pages.get(user=bob)))
    client.post(link_path(incident.pages.get(user=alice)))
    assert (
        incident_errors.ALREADY_ACKNOWLEDGED in client.get(link_path(incident.pages.get(user=alice))).content.decode()
    )
    incident.refresh_from_db()
    assert incident.lead == bob


@pytest.mark.parametrize("token", ["nonsense", "eyJwYWdlIjoxfQ:1vQ:forged", "%00", "a" * 500])
def test_a_forged_link_is_refused(client, incident, token):
    answer = client.get(f"/paging/acknowledge/{token}/")
    assert answer.status_code == 404
    assert errors.LINK_INVALID in answer.content.decode()
    assert client.post(f"/paging/acknowledge/{token}/").status_code == 404


def test_an_expired_link_is_refused(client, incident, alice):
    path = link_path(incident.pages.get(user=alice))
    later = timezone.now() + timedelta(seconds=settings.PAGING_LINK_MAX_AGE_SECONDS + 60)
    with time_machine.travel(later):
        answer = client.post(path)
    assert answer.status_code == 404
    assert errors.LINK_EXPIRED in answer.content.decode()
    incident.refresh_from_db()
    assert incident.acknowledged_at is None


def test_the_incident_page_offers_responders_an_acknowledge_button(client, incident, bob):
    client.force_login(bob)
    page = client.get(incident.get_absolute_url()).content.decode()
    assert "button-acknowledge" in page
    answer = client.post(f"{incident.get_absolute_url()}acknowledge/")
    assert answer.status_code == 302
    incident.refresh_from_db()
    assert incident.lead == bob
    assert "button-acknowledge" not in client.get(incident.get_absolute_url()).content.decode()


def test_the_button_answers_htmx_with_the_incident_body(client, incident, bob):
    client.force_login(bob)
    answer = client.post(f"{incident.get_absolute_url()}acknowledge/", headers={"HX-Request": "true"})
    assert answer.status_code == 200
    assert "Acknowledged: the escalation stops." in answer.content.decode()


def test_viewers_get_no_button_and_cannot_acknowledge(client, incident):
    viewer = UserFactory(role="viewer")
    client.force_login(viewer)
    assert "button-acknowledge" not in client.get(incident.get_absolute_url()).content.decode()
    assert client.post(f"{incident.get_absolute_url()}acknowledge/").status_code == 403


def test_the_api_acknowledges(client, incident, bob):
    path = f"/api/v1/incidents/{incident.reference}/acknowledge/"
    answer = call(client, "POST", path, token=token_for(bob))
    assert answer.status_code == 200
    assert answer.json()["lead"] == "bob"
    assert answer.json()["acknowledged_at"] is not None
    again = call(client, "POST", path, token=token_for(bob))
    assert again.status_code == 400
    assert again.json() == {"errors": {"__all__": [incident_errors.ALREADY_ACKNOWLEDGED]}}
    assert call(client, "POST", "/api/v1/incidents/INC-9999/acknowledge/", token=token_for(bob)).status_code == 404
    viewer = UserFactory(role="viewer")
    assert call(client, "POST", path, token=token_for(viewer)).status_code == 403


def test_the_incident_page_shows_who_was_paged(client, incident, bob):
    from paging.services import pages_fan_out

    pages_fan_out()
    client.force_login(bob)
    page = client.get(incident.get_absolute_url()).content.decode()
    assert 'id="paging-panel"' in page
    assert "Payments escalation: next level" in page
    assert "Alice Able — paged" in page
    client.post(f"{incident.get_absolute_url()}acknowledge/")
    page = client.get(incident.get_absolute_url()).content.decode()
    assert "stopped (acknowledged)" in page


def test_an_incident_that_paged_nobody_has_no_paging_panel(client, bob):
    client.force_login(bob)
    incident = declare_incident(declared_by=bob)
    assert 'id="paging-panel"' not in client.get(incident.get_absolute_url()).content.decode()


def test_the_paging_panel_and_the_policy_list_cost_the_same_queries_with_more_pages(
    client, incident, alerts_account, checkout, django_assert_max_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from paging.models import EscalationLevel, EscalationPolicy
    from paging.selectors import incident_paging

    with CaptureQueriesContext(connection) as few:
        assert len(incident_paging(incident_id=incident.pk).pages) == 1
    client.force_login(UserFactory(role="admin", is_staff=True, is_superuser=True))
    with CaptureQueriesContext(connection) as one_policy:
        assert client.get("/admin/paging/escalationpolicy/").status_code == 200
    for n in range(4):
        team = Team.objects.create(name=f"Team {n}", slug=f"team-{n}")
        policy = EscalationPolicy.objects.create(team=team, name=f"Policy {n}")
        EscalationLevel.objects.create(policy=policy, position=1).users.set([UserFactory(role="responder")])
        Service.objects.create(name=f"Service {n}", slug=f"service-{n}", owner_team=team)
    crowded = declare_incident(
        declared_by=alerts_account, affected_services=[checkout, *Service.objects.exclude(pk=checkout.pk)]
    )
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert len(incident_paging(incident_id=crowded.pk).pages) == 5
    with django_assert_max_num_queries(len(one_policy.captured_queries)):
        assert client.get("/admin/paging/escalationpolicy/").status_code == 200
