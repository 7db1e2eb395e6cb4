from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from incidents import errors as incident_errors
from incidents import services
from incidents.models import IncidentStatus
from insights import errors
from tests.factories import UserFactory, declare_incident

pytestmark = pytest.mark.django_db

URL = "/api/v1/insights/"
T0 = datetime(2026, 3, 3, 10, 0, tzinfo=UTC)


def get(client, path, token):
    return client.get(path, headers={"Authorization": f"Bearer {token}"}, secure=True)


def post(client, path, body, token):
    return client.post(
        path, body, content_type="application/json", headers={"Authorization": f"Bearer {token}"}, secure=True
    )


def token_for(user) -> str:
    return services.api_token_create(user=user, name="tests")[1]


@pytest.fixture
def responder_token():
    return token_for(UserFactory(role="responder"))


def test_figures_as_json_with_durations_in_seconds(client, responder_token):
    with time_machine.travel(T0, tick=False):
        incident = declare_incident(severity="SEV1", detected_at=T0 - timedelta(minutes=10))
    with time_machine.travel(T0 + timedelta(minutes=5), tick=False):
        services.incident_update_post(incident=incident, author=incident.lead, progress="On it")
    with time_machine.travel(datetime(2026, 3, 20, tzinfo=UTC), tick=False):
        response = get(client, URL + "?from=2026-03-01&to=2026-03-14&severity=SEV1", responder_token)
    assert response.status_code == 200
    body = response.json()
    assert (body["from"], body["to"]) == ("2026-03-01", "2026-03-14")
    sev1 = body["by_severity"]["SEV1"]
    assert sev1["incidents"] == 1
    assert sev1["time_to_acknowledge"] == {"mean": 900, "median": 900, "p90": 900}
    assert sev1["time_to_resolve"] == {"mean": None, "median": None, "p90": None}
    assert sev1["updates_on_time"] == 0.5  # +15 met at +5; +20 missed: no update since
    assert body["previous"]["from"] == "2026-02-15"
    assert {"weekly", "postmortems_on_time", "action_items", "top_services", "cadence_by_lead"} <= set(body)


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("from=yesterday", "from", errors.BAD_DATE),
        ("from=2026-03-10&to=2026-03-01", "from", errors.RANGE_REVERSED),
        ("severity=SEV9", "severity", errors.UNKNOWN_SEVERITY.format(values="SEV1, SEV2, SEV3, SEV4")),
        ("service=%F0%9F%92%A5", "service", errors.UNKNOWN_SERVICE),
    ],
)
def test_bad_parameters_are_a_clear_400(client, responder_token, query, field, message):
    response = get(client, f"{URL}?{query}", responder_token)
    assert response.status_code == 400
    assert response.json() == {"errors": {field: [message]}}


def test_viewers_may_not_read_insights(client):
    response = get(client, URL, token_for(UserFactory(role="viewer")))
    assert response.status_code == 403
    assert response.json() == {"error": errors.NOT_PERMITTED}


def test_documented_in_openapi(client):
    document = client.get("/api/v1/openapi.json", secure=True).json()
    operation = document["paths"]["/insights/"]["get"]
    assert {param["name"] for param in operation["parameters"]} >= {"from", "to", "severity", "service", "team"}
    assert "/incidents/{reference}/milestones/" in document["paths"]


def test_milestones_are_set_and_checked_against_the_other_times(client, responder_token):
    with time_machine.travel(T0, tick=False):
        incident = declare_incident(severity="SEV2")
    with time_machine.travel(T0 + timedelta(hours=2), tick=False):
        services.incident_status_change(incident=incident, status=IncidentStatus.RESOLVED, actor=incident.lead)
    path = f"/api/v1/incidents/{incident.reference}/milestones/"
    response = post(client, path, {"milestone": "acknowledged", "at": "2026-03-03T10:07:00+00:00"}, responder_token)
    assert response.status_code == 200
    assert response.json()["acknowledged_at"] == "2026-03-03T10:07:00Z"
    refused = {
        "2026-03-03T09:00:00+00:00": incident_errors.MILESTONE_BEFORE_DETECTED,
        "2026-03-03T13:00:00+00:00": incident_errors.MILESTONE_AFTER_RESOLVED,
    }
    for at, message in refused.items():
        response = post(client, path, {"milestone": "mitigated", "at": at}, responder_token)
        assert response.json() == {"errors": {"at": [message]}}
    # Mitigated before acknowledged is allowed: a failover can mitigate before anyone acknowledges.
    response = post(client, path, {"milestone": "mitigated", "at": "2026-03-03T10:05:00+00:00"}, responder_token)
    assert response.json()["mitigated_at"] == "2026-03-03T10:05:00Z"
    response = post(client, path, {"milestone": "resolved", "at": "2026-03-03T10:05:00+00:00"}, responder_token)
    assert response.json() == {"errors": {"milestone": [errors.MILESTONE_UNKNOWN]}}
    response = post(
        client,
        "/api/v1/incidents/INC-99999/milestones/",
        {"milestone": "mitigated", "at": "2026-03-03T10:05:00+00:00"},
        responder_token,
    )
    assert response.status_code == 404


def test_restricted_incident_milestones_are_404_for_others(client, responder_token):
    incident = declare_incident(severity="SEV2", restricted=True)
    path = f"/api/v1/incidents/{incident.reference}/milestones/"
    response = post(
        client, path, {"milestone": "acknowledged", "at": incident.detected_at.isoformat()}, responder_token
    )
    assert response.status_code == 404
