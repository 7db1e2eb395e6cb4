"""The status update form's visibility (issue 17): Public once an incident of a public severity is on
the status page, Internal otherwise, and after a post the reader's own choice."""

import re

import pytest

from incidents import services
from incidents.models import UpdateVisibility
from tests import factories

pytestmark = pytest.mark.django_db


def checked_visibility(html: str) -> str:
    [value] = re.findall(r'<input type="radio" name="visibility" value="(\w+)"[^>]*checked', html)
    return value


def test_internal_until_published_then_public(client):
    incident = factories.declare_incident(severity="SEV2")
    client.force_login(incident.lead)
    assert checked_visibility(client.get(incident.get_absolute_url()).content.decode()) == "internal"
    services.incident_publish(incident=incident, actor=incident.lead)
    assert checked_visibility(client.get(incident.get_absolute_url()).content.decode()) == "public"


def test_a_severity_the_status_page_does_not_show_stays_internal(client):
    incident = factories.declare_incident(severity="SEV3", published=True)
    client.force_login(incident.lead)
    assert checked_visibility(client.get(incident.get_absolute_url()).content.decode()) == "internal"


@pytest.mark.parametrize("htmx", [False, True])
def test_the_readers_choice_stays_after_a_post(client, htmx):
    incident = factories.declare_incident(severity="SEV2", published=True)
    client.force_login(incident.lead)
    headers = {"HX-Request": "true", "HX-Target": "incident-body"} if htmx else {}
    response = client.post(
        f"/incidents/{incident.reference}/updates/",
        {"status": "investigating", "progress": "Looking at the database", "visibility": "internal"},
        headers=headers,
        follow=not htmx,
    )
    assert response.status_code == 200
    assert "Status update posted." in response.content.decode()
    assert checked_visibility(response.content.decode()) == "internal"
    assert incident.status_updates.get().visibility == UpdateVisibility.INTERNAL
