import json

import pytest

from incidents import services as incident_services
from incidents.models import IncidentStatus
from postmortems import errors
from postmortems.models import SECTIONS
from tests.factories import UserFactory, declare_incident

pytestmark = pytest.mark.django_db


def url(incident) -> str:
    return f"/api/v1/incidents/{incident.reference}/postmortem/"


@pytest.fixture
def incident():
    incident = declare_incident(severity="SEV1")
    incident_services.incident_status_change(incident=incident, status=IncidentStatus.RESOLVED, actor=incident.lead)
    return incident


def auth(role: str = "responder") -> dict:
    _token, raw = incident_services.api_token_create(user=UserFactory(role=role), name="sync")
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


def patch(client, incident, body, headers):
    return client.patch(url(incident), data=json.dumps(body), content_type="application/json", **headers)


def test_get_returns_sections_and_version(client, incident):
    response = client.get(url(incident), **auth("viewer"))
    assert response.status_code == 200
    body = response.json()
    assert body["version"] == 1
    assert set(body["sections"]) == set(SECTIONS)
    assert body["status"] == "draft" and body["required"] is True and body["due_on"]


def test_patch_merges_different_sections_and_refuses_a_stale_one(client, incident):
    headers = auth()
    first = patch(client, incident, {"version": 1, "sections": {"root_cause": "Pool"}}, headers)
    assert first.status_code == 200 and first.json()["version"] == 2
    other = patch(client, incident, {"version": 1, "sections": {"resolution": "Restart"}}, headers)
    assert other.status_code == 200 and other.json()["version"] == 3
    assert other.json()["sections"]["root_cause"] == "Pool"
    stale = patch(client, incident, {"version": 1, "sections": {"root_cause": "Network"}}, headers)
    assert stale.status_code == 409
    assert stale.json()["current"] == {"root_cause": "Pool"}
    assert stale.json()["version"] == 3 and stale.json()["conflicts"] == ["root_cause"]
    assert client.get(url(incident), **headers).json()["sections"]["root_cause"] == "Pool"


def test_patch_is_refused_without_a_token_for_viewers_and_with_bad_input(client, incident):
    assert client.get(url(incident)).status_code == 401
    assert patch(client, incident, {"version": 1, "sections": {"summary": "x"}}, auth("viewer")).status_code == 403
    headers = auth()
    bad = patch(client, incident, {"sections": {"title": "x", "summary": 3}, "extra": 1}, headers)
    assert bad.status_code == 400
    assert set(bad.json()["errors"]) == {"version", "extra"}
    bad = patch(client, incident, {"version": "1", "sections": {"title": "x", "summary": 3}}, headers)
    assert bad.status_code == 400
    assert set(bad.json()["errors"]) == {"version", "sections", "sections.summary"}
    assert errors.UNKNOWN_SECTIONS.format(names="title") in bad.json()["errors"]["sections"]
    assert patch(client, incident, {"version": 99, "sections": {"summary": "x"}}, headers).status_code == 400


def test_an_incident_without_a_postmortem_is_404(client):
    incident = declare_incident(severity="SEV4")
    response = client.get(url(incident), **auth())
    assert response.status_code == 404
    assert response.json()["error"] == errors.NO_POSTMORTEM
    assert client.get("/api/v1/incidents/INC-9999/postmortem/", **auth()).status_code == 404
