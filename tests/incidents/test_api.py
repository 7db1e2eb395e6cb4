import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.conf import settings
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from core.errors import QUERY_NOT_USABLE
from incidents import errors, services
from incidents.models import (
    ApiToken,
    EventKind,
    Incident,
    IncidentStatus,
    SeverityPolicy,
    StatusUpdate,
    TimelineEvent,
)
from incidents.policy import LADDER_PERCENT_MAX, POLICY_FIELDS, POLICY_MINUTES_MAX, severity_policy_update
from tests.factories import ServiceFactory, UserFactory, declare_incident

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)
LIST = "/api/v1/incidents/"
SEVERITY_KEYS = "SEV1, SEV2, SEV3, SEV4"
STATUS_VALUES = "investigating, identified, monitoring, resolved"
NOT_AN_INTEGER = errors.NOT_AN_INTEGER.format(low=0, high=2_147_483_647)


def detail(incident: Incident) -> str:
    return f"/api/v1/incidents/{incident.reference}/"


def call(
    client: Client,
    method: str,
    path: str,
    body: Any = None,
    *,
    token: str | None = None,
    raw: str | bytes | None = None,
):
    """A request as a script sends it: JSON body, bearer token, over HTTPS."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    data = raw if raw is not None else ("" if body is None else json.dumps(body))
    return client.generic(method, path, data, content_type="application/json", headers=headers, secure=True)


def token_for(user) -> str:
    return services.api_token_create(user=user, name="tests")[1]


@pytest.fixture
def api(client):
    def request(method: str, path: str, body: Any = None, *, token: str | None, raw: str | bytes | None = None):
        return call(client, method, path, body, token=token, raw=raw)

    return request


@pytest.fixture
def responder_token(responder) -> str:
    return token_for(responder)


@pytest.fixture
def viewer_token(viewer) -> str:
    return token_for(viewer)


@pytest.fixture
def incident(responder) -> Incident:
    return declare_incident(declared_by=responder, severity="SEV2")


def references(response) -> list[str]:
    return [row["reference"] for row in response.json()["results"]]


def events_of(incident: Incident) -> list[str]:
    return list(incident.timeline.order_by("occurred_at", "id").values_list("kind", flat=True))


# Tokens.


@pytest.mark.parametrize(
    "authorization",
    ["", "Bearer", "Bearer ", "Bearer idk_not-a-real-token", "Token {token}", "Basic {token}", "{token}"],
)
def test_requests_without_a_valid_bearer_token_are_refused_with_a_challenge(client, responder_token, authorization):
    headers = {"Authorization": authorization.format(token=responder_token)} if authorization else {}
    response = client.get(LIST, headers=headers, secure=True)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"
    assert response.json() == {"error": errors.INVALID_TOKEN}


def test_a_valid_token_opens_the_api(api, responder_token):
    response = api("GET", LIST, token=responder_token)
    assert response.status_code == 200
    assert response.json() == {"count": 0, "next_cursor": None, "results": []}


def test_a_logged_in_browser_session_is_not_accepted(responder_client):
    assert call(responder_client, "GET", LIST).status_code == 401
    response = call(responder_client, "POST", LIST, {"title": "Checkout down", "severity": "SEV2"})
    assert response.status_code == 401
    assert not Incident.objects.exists()


def test_tokens_of_deactivated_users_and_revoked_tokens_are_refused(api, responder):
    kept, revoked = token_for(responder), token_for(UserFactory(role="responder"))
    responder.is_active = False
    responder.save()
    services.api_token_revoke(token=ApiToken.objects.get(digest=ApiToken.digest_of(revoked)))
    assert api("GET", LIST, token=kept).status_code == 401
    assert api("GET", LIST, token=revoked).status_code == 401


def test_the_api_needs_no_csrf_token():
    responder = UserFactory(role="responder")
    client = Client(enforce_csrf_checks=True)
    response = call(client, "POST", LIST, {"title": "Checkout down", "severity": "SEV2"}, token=token_for(responder))
    assert response.status_code == 201


def test_last_use_is_recorded_at_most_once_a_minute(api, responder):
    token = token_for(responder)
    stored = ApiToken.objects.get(user=responder)
    assert stored.last_used_at is None
    for offset, expected in [(0, T0), (timedelta(seconds=50), T0), (timedelta(seconds=61), T0 + timedelta(seconds=61))]:
        with time_machine.travel(T0 + (offset or timedelta()), tick=False):
            assert api("GET", LIST, token=token).status_code == 200
        stored.refresh_from_db()
        assert stored.last_used_at == expected


# Roles.


@pytest.mark.parametrize("role", ["viewer", "responder", "admin"])
def test_every_role_can_read(api, incident, role):
    token = token_for(UserFactory(role=role))
    assert references(api("GET", LIST, token=token)) == [incident.reference]
    assert api("GET", detail(incident), token=token).json()["reference"] == incident.reference
    assert api("GET", detail(incident) + "timeline/", token=token).json()["count"] == 1


def test_a_viewer_can_change_nothing(api, incident, viewer_token):
    writes = [
        ("POST", LIST, {"title": "Checkout down", "severity": "SEV1"}),
        ("PATCH", detail(incident), {"severity": "SEV1", "status": "resolved"}),
        ("POST", detail(incident) + "updates/", {"progress": "Rolled back"}),
    ]
    for method, path, body in writes:
        response = api(method, path, body, token=viewer_token)
        assert response.status_code == 403, path
        assert response.json() == {"error": errors.NOT_PERMITTED}
    incident.refresh_from_db()
    assert (incident.severity.key, incident.status) == ("SEV2", IncidentStatus.INVESTIGATING)
    assert Incident.objects.count() == 1
    assert not StatusUpdate.objects.exists()


@pytest.mark.parametrize("role", ["responder", "admin"])
def test_responders_and_admins_can_write(api, role):
    token = token_for(UserFactory(role=role))
    response = api("POST", LIST, {"title": "Checkout down", "severity": "SEV2"}, token=token)
    assert response.status_code == 201
    path = f"/api/v1/incidents/{response.json()['reference']}/"
    assert api("PATCH", path, {"status": "identified"}, token=token).json()["status"] == "identified"
    assert api("POST", path + "updates/", {"progress": "Found it"}, token=token).status_code == 201


def test_a_user_without_a_role_can_read_but_not_write(api, incident):
    token = token_for(UserFactory())
    assert api("GET", LIST, token=token).status_code == 200
    assert api("PATCH", detail(incident), {"status": "resolved"}, token=token).status_code == 403


# Declaring.


def test_declaring_answers_the_new_incident_and_where_it_lives(api, responder, responder_token):
    lead, comms, helper = (UserFactory(role="responder", username=name) for name in ("lead", "comms", "helper"))
    ServiceFactory(slug="checkout", name="Checkout")
    ServiceFactory(slug="payments", name="Payments")
    body = {
        "title": "  Checkout API returns 500s ",
        "severity": "SEV1",
        "summary": "Card payments fail",
        "detected_at": "2026-03-02T16:10:00+02:00",
        "lead": "lead",
        "comms_lead": "comms",
        "responders": ["helper", "lead", "helper"],
        "affected_services": ["payments", "checkout"],
        "affected_users_count": 1200,
        "affected_users_percent": 12.5,
        "business_impact": "No orders",
        "data_integrity_concern": False,
        "security_concern": True,
        "public_title": " Some payments fail ",
        "public_summary": "Card payments may be declined.",
    }
    with time_machine.travel(T0, tick=False):
        response = api("POST", LIST, body, token=responder_token)
    assert response.status_code == 201
    created = Incident.objects.get()
    assert response["Location"] == f"{settings.SITE_URL}/api/v1/incidents/{created.reference}/"
    assert response.json() == {
        "reference": created.reference,
        "url": f"{settings.SITE_URL}/incidents/{created.reference}/",
        "title": "Checkout API returns 500s",
        "summary": "Card payments fail",
        "public_title": "Some payments fail",
        "public_summary": "Card payments may be declined.",
        "published_at": None,
        # A security concern restricts it (RESTRICT_SECURITY_INCIDENTS).
        "restricted": True,
        "severity": "SEV1",
        "status": "investigating",
        "impact": {
            "affected_users_count": 1200,
            "affected_users_percent": "12.50",
            "affected_services": ["checkout", "payments"],
            "business_impact": "No orders",
            "data_integrity_concern": False,
            "security_concern": True,
        },
        "lead": "lead",
        "comms_lead": "comms",
        "responders": ["helper", "lead"],
        "detected_at": "2026-03-02T14:10:00Z",
        "declared_at": "2026-03-02T14:30:00Z",
        "acknowledged_at": None,
        "mitigated_at": None,
        "resolved_at": None,
        "next_update_due_at": "2026-03-02T14:45:00Z",
        "last_update_at": None,
    }
    assert created.declared_by == responder
    assert {user.username for user in created.responders.all()} == {helper.username, lead.username}
    assert comms == created.comms_lead
    assert api("GET", response["Location"], token=responder_token).json() == response.json()


def test_a_minimal_declaration_is_led_by_the_token_user(api, responder, responder_token):
    response = api("POST", LIST, {"title": "Search is slow", "severity": "SEV3"}, token=responder_token)
    assert response.status_code == 201
    body = response.json()
    assert (body["lead"], body["comms_lead"], body["responders"]) == (responder.username, None, [])
    assert body["impact"]["affected_users_percent"] is None
    assert body["reference"] == Incident.objects.get().reference


HOSTILE_BODIES = [
    ("null", "__all__", errors.BODY_NOT_OBJECT),
    ("[]", "__all__", errors.BODY_NOT_OBJECT),
    ('[{"title": "x", "severity": "SEV2"}]', "__all__", errors.BODY_NOT_OBJECT),
    ('"Checkout down"', "__all__", errors.BODY_NOT_OBJECT),
    ("42", "__all__", errors.BODY_NOT_OBJECT),
    ("", "__all__", errors.MALFORMED_JSON),
    ("{", "__all__", errors.MALFORMED_JSON),
    ("{'title': 'x'}", "__all__", errors.MALFORMED_JSON),
    (b"\xff\xfe\x00garbage", "__all__", errors.MALFORMED_JSON),
    ("[" * 100_000, "__all__", errors.MALFORMED_JSON),
    ('{"affected_users_count": 1' + "0" * 5000 + "}", "__all__", errors.MALFORMED_JSON),
]


@pytest.mark.parametrize(("raw", "field", "message"), HOSTILE_BODIES)
def test_bodies_that_are_not_a_json_object_are_refused(api, incident, responder_token, raw, field, message):
    for method, path in [("POST", LIST), ("PATCH", detail(incident)), ("POST", detail(incident) + "updates/")]:
        response = api(method, path, raw=raw, token=responder_token)
        assert response.status_code == 400, (method, path)
        assert response.json() == {"errors": {field: [message]}}
    assert Incident.objects.count() == 1
    assert events_of(incident) == [EventKind.DECLARED]


BAD_DECLARATIONS = [
    ({"title": None}, "title", errors.NOT_A_STRING),
    ({"title": 42}, "title", errors.NOT_A_STRING),
    ({"title": {"text": "x"}}, "title", errors.NOT_A_STRING),
    ({"title": "   "}, "title", errors.TITLE_REQUIRED),
    ({"title": "x" * 201}, "title", errors.TOO_LONG.format(limit=200)),
    ({"title": "Checkout\x00down"}, "title", errors.INVALID_CHARACTERS),
    ({"title": "Checkout \ud800"}, "title", errors.INVALID_CHARACTERS),
    ({"severity": "SEV9"}, "severity", errors.UNKNOWN_SEVERITY.format(keys=SEVERITY_KEYS)),
    ({"severity": "sev\x001"}, "severity", errors.INVALID_CHARACTERS),
    ({"severity": ["SEV1"]}, "severity", errors.NOT_A_STRING),
    ({"severity": 1}, "severity", errors.NOT_A_STRING),
    ({"summary": None}, "summary", errors.NOT_A_STRING),
    ({"sevrity": "SEV1"}, "sevrity", errors.UNKNOWN_FIELD),
    ({"status": "resolved"}, "status", errors.UNKNOWN_FIELD),
    ({"affected_users_count": "many"}, "affected_users_count", NOT_AN_INTEGER),
    ({"affected_users_count": "12"}, "affected_users_count", NOT_AN_INTEGER),
    ({"affected_users_count": -1}, "affected_users_count", NOT_AN_INTEGER),
    ({"affected_users_count": 10**30}, "affected_users_count", NOT_AN_INTEGER),
    ({"affected_users_count": 2**31}, "affected_users_count", NOT_AN_INTEGER),
    ({"affected_users_count": True}, "affected_users_count", NOT_AN_INTEGER),
    ({"affected_users_count": 1.5}, "affected_users_count", NOT_AN_INTEGER),
    ({"affected_users_count": [1]}, "affected_users_count", NOT_AN_INTEGER),
    ({"affected_users_percent": "abc"}, "affected_users_percent", errors.NOT_A_PERCENT),
    ({"affected_users_percent": "NaN"}, "affected_users_percent", errors.NOT_A_PERCENT),
    ({"affected_users_percent": float("inf")}, "affected_users_percent", errors.NOT_A_PERCENT),
    ({"affected_users_percent": 12.345}, "affected_users_percent", errors.NOT_A_PERCENT),
    ({"affected_users_percent": True}, "affected_users_percent", errors.NOT_A_PERCENT),
    ({"affected_users_percent": {"value": 1}}, "affected_users_percent", errors.NOT_A_PERCENT),
    ({"affected_users_percent": 140}, "affected_users_percent", errors.PERCENT_OUT_OF_RANGE),
    ({"affected_users_percent": "1e999999"}, "affected_users_percent", errors.PERCENT_OUT_OF_RANGE),
    ({"affected_users_percent": "1e9999999"}, "affected_users_percent", errors.PERCENT_OUT_OF_RANGE),
    ({"affected_users_percent": "-0.5"}, "affected_users_percent", errors.PERCENT_OUT_OF_RANGE),
    ({"detected_at": "yesterday"}, "detected_at", errors.BAD_DATETIME),
    ({"detected_at": "2026-03-02T14:00:00"}, "detected_at", errors.BAD_DATETIME),
    ({"detected_at": "2026-03-02"}, "detected_at", errors.BAD_DATETIME),
    ({"detected_at": "2026-02-30T14:00:00Z"}, "detected_at", errors.BAD_DATETIME),
    ({"detected_at": "0001-01-01T00:00:00+05:00"}, "detected_at", errors.BAD_DATETIME),
    ({"detected_at": 1772461800}, "detected_at", errors.BAD_DATETIME),
    ({"detected_at": "2099-01-01T00:00:00Z"}, "detected_at", errors.DETECTED_IN_FUTURE),
    ({"lead": "ghost"}, "lead", errors.UNKNOWN_USERS.format(names="ghost")),
    ({"lead": ["ghost"]}, "lead", errors.NOT_A_STRING),
    ({"lead": {"username": "ghost"}}, "lead", errors.NOT_A_STRING),
    ({"comms_lead": "ghost\x00"}, "comms_lead", errors.INVALID_CHARACTERS),
    ({"responders": "ghost"}, "responders", errors.NOT_A_LIST),
    ({"responders": [1, 2]}, "responders", errors.NOT_A_LIST),
    ({"responders": [None]}, "responders", errors.NOT_A_LIST),
    ({"responders": None}, "responders", errors.NOT_A_LIST),
    ({"responders": ["ghost", "casper"]}, "responders", errors.UNKNOWN_USERS.format(names="ghost, casper")),
    ({"affected_services": ["nowhere"]}, "affected_services", errors.UNKNOWN_SERVICES.format(slugs="nowhere")),
    ({"affected_services": {"slug": "x"}}, "affected_services", errors.NOT_A_LIST),
    ({"data_integrity_concern": "yes"}, "data_integrity_concern", errors.NOT_A_BOOLEAN),
    ({"security_concern": 1}, "security_concern", errors.NOT_A_BOOLEAN),
    ({"security_concern": None}, "security_concern", errors.NOT_A_BOOLEAN),
]


@pytest.mark.parametrize(("change", "field", "message"), BAD_DECLARATIONS)
def test_a_bad_declaration_is_refused_field_by_field(api, responder_token, change, field, message):
    response = api("POST", LIST, {"title": "Checkout down", "severity": "SEV2", **change}, token=responder_token)
    assert response.status_code == 400
    assert response.json() == {"errors": {field: [message]}}
    assert not Incident.objects.exists()


def test_a_declaration_reports_every_bad_field_at_once(api, responder_token):
    response = api("POST", LIST, {"summary": 3, "lead": "ghost"}, token=responder_token)
    assert response.status_code == 400
    assert response.json()["errors"] == {
        "title": [errors.FIELD_REQUIRED],
        "severity": [errors.FIELD_REQUIRED],
        "summary": [errors.NOT_A_STRING],
        "lead": [errors.UNKNOWN_USERS.format(names="ghost")],
    }


def test_a_deactivated_user_cannot_be_named_lead(api, responder_token):
    UserFactory(role="responder", username="gone", is_active=False)
    response = api("POST", LIST, {"title": "Checkout down", "severity": "SEV2", "lead": "gone"}, token=responder_token)
    assert response.json() == {"errors": {"lead": [errors.UNKNOWN_USERS.format(names="gone")]}}


# Listing.


def test_the_list_is_newest_first_and_filters_by_status_and_severity(api, responder, viewer_token):
    made = {}
    for minutes, (name, severity, status) in enumerate(
        [
            ("old-resolved", "SEV1", IncidentStatus.RESOLVED),
            ("monitoring", "SEV2", IncidentStatus.MONITORING),
            ("new-sev1", "SEV1", None),
        ]
    ):
        with time_machine.travel(T0 + timedelta(minutes=minutes), tick=False):
            made[name] = declare_incident(declared_by=responder, severity=severity, title=name)
            if status:
                services.incident_status_change(incident=made[name], status=status, actor=responder)
    ref = {name: incident.reference for name, incident in made.items()}

    def listed(query: str) -> list[str]:
        response = api("GET", LIST + query, token=viewer_token)
        assert response.status_code == 200, response.content
        assert response.json()["count"] == len(response.json()["results"])
        return references(response)

    assert listed("") == [ref["new-sev1"], ref["monitoring"], ref["old-resolved"]]
    assert listed("?status=active") == [ref["new-sev1"], ref["monitoring"]]
    assert listed("?status=resolved") == [ref["old-resolved"]]
    assert listed("?status=monitoring") == [ref["monitoring"]]
    assert listed("?status=identified") == []
    assert listed("?severity=SEV1") == [ref["new-sev1"], ref["old-resolved"]]
    assert listed("?status=active&severity=SEV1") == [ref["new-sev1"]]


def test_the_list_is_paginated(api, responder, viewer_token):
    made = []
    for minutes in range(5):
        with time_machine.travel(T0 + timedelta(minutes=minutes), tick=False):
            made.append(declare_incident(declared_by=responder).reference)
    newest_first = made[::-1]
    page = api("GET", LIST + "?limit=2&offset=1", token=viewer_token)
    assert page.json()["count"] == 5
    assert references(page) == newest_first[1:3]
    assert references(api("GET", LIST + "?offset=4", token=viewer_token)) == newest_first[4:]
    past_the_end = api("GET", LIST + f"?offset={10**30}", token=viewer_token)
    assert past_the_end.json() == {"count": 5, "next_cursor": None, "results": []}


def test_paging_by_cursor_walks_the_list_once_while_incidents_are_declared(api, responder, viewer_token):
    made = []
    for minutes in range(5):
        with time_machine.travel(T0 + timedelta(minutes=minutes), tick=False):
            made.append(declare_incident(declared_by=responder).reference)
    # Two in the same second: the id breaks the tie, so neither is skipped nor repeated.
    with time_machine.travel(T0 + timedelta(minutes=4), tick=False):
        made.append(declare_incident(declared_by=responder).reference)
    newest_first = [made[5], made[4], made[3], made[2], made[1], made[0]]

    first = api("GET", LIST + "?limit=2", token=viewer_token).json()
    seen = [row["reference"] for row in first["results"]]
    cursor = first["next_cursor"]
    # A new incident between pages would shift an offset by one; a cursor does not see it.
    with time_machine.travel(T0 + timedelta(minutes=10), tick=False):
        declare_incident(declared_by=responder)
    while cursor:
        page = api("GET", LIST + f"?limit=2&cursor={cursor}", token=viewer_token).json()
        assert page["count"] is None
        seen += [row["reference"] for row in page["results"]]
        cursor = page["next_cursor"]
    assert seen == newest_first


def made_cursor(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode()


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("cursor=nonsense", errors.BAD_CURSOR),
        ("cursor=", errors.BAD_CURSOR),
        # A cursor must carry a zone-aware time and a whole id that PostgreSQL can compare.
        (f"cursor={made_cursor(['2026-03-02T14:30:00', 1])}", errors.BAD_CURSOR),
        (f"cursor={made_cursor(['2026-03-02T14:30:00+00:00', 'x'])}", errors.BAD_CURSOR),
        (f"cursor={made_cursor(['2026-03-02T14:30:00+00:00', 10**30])}", errors.BAD_CURSOR),
        (f"cursor={made_cursor({'a': 1})}", errors.BAD_CURSOR),
        (f"cursor={made_cursor(['2026-03-02T14:30:00+00:00', 1])}&offset=2", errors.CURSOR_WITH_OFFSET),
    ],
)
def test_a_cursor_the_api_did_not_give_is_refused(api, viewer_token, query, message):
    response = api("GET", f"{LIST}?{query}", token=viewer_token)
    assert response.status_code == 400
    assert response.json() == {"errors": {"cursor": [message]}}


def test_a_cursor_page_costs_the_same_queries_deep_in_the_list(api, responder, viewer_token, django_assert_num_queries):
    for minutes in range(12):
        with time_machine.travel(T0 + timedelta(minutes=minutes), tick=False):
            declare_incident(declared_by=responder)
    api("GET", LIST, token=viewer_token)  # Stamps the token's last use, once.
    cursor = api("GET", LIST + "?limit=2", token=viewer_token).json()["next_cursor"]
    for _ in range(4):
        # The token, the page, and its responders with its services: no count, no rows before it.
        with django_assert_num_queries(3):
            page = api("GET", LIST + f"?limit=2&cursor={cursor}", token=viewer_token).json()
        cursor = page["next_cursor"]


@pytest.mark.slow
def test_a_page_holds_at_most_100_incidents(api, responder, viewer_token):
    for _ in range(101):
        declare_incident(declared_by=responder)
    assert len(api("GET", LIST, token=viewer_token).json()["results"]) == 50
    page = api("GET", LIST + "?limit=1000", token=viewer_token).json()
    assert (page["count"], len(page["results"])) == (101, 100)


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("status=open", "status", errors.UNKNOWN_LIST_STATUS.format(values=STATUS_VALUES)),
        ("status=", "status", errors.UNKNOWN_LIST_STATUS.format(values=STATUS_VALUES)),
        ("severity=SEV9", "severity", errors.UNKNOWN_SEVERITY.format(keys=SEVERITY_KEYS)),
        # Refused before any view, for the whole site (core/middleware.py).
        ("severity=SEV1%00", "severity", QUERY_NOT_USABLE),
        ("limit=0", "limit", errors.BAD_LIMIT.format(high=100)),
        ("limit=ten", "limit", errors.BAD_LIMIT.format(high=100)),
        ("limit=1e3", "limit", errors.BAD_LIMIT.format(high=100)),
        ("offset=-1", "offset", errors.BAD_OFFSET),
        ("offset=" + "9" * 5000, "offset", errors.BAD_OFFSET),
    ],
)
def test_bad_list_parameters_are_refused(api, incident, viewer_token, query, field, message):
    response = api("GET", f"{LIST}?{query}", token=viewer_token)
    assert response.status_code == 400
    assert response.json() == {"errors": {field: [message]}}


def test_the_list_costs_the_same_queries_for_3_or_30_incidents(
    api, responder, viewer_token, django_assert_max_num_queries
):
    team = [UserFactory(role="responder") for _ in range(3)]
    services_ = [ServiceFactory() for _ in range(2)]
    for total in (3, 30):
        while Incident.objects.count() < total:
            declare_incident(declared_by=responder, comms_lead=team[0], responders=team, affected_services=services_)
        # The token lookup, its last-use stamp, the count, the page, its responders with its services.
        with django_assert_max_num_queries(5):
            response = api("GET", LIST, token=viewer_token)
        assert len(response.json()["results"]) == total
        assert all(len(row["responders"]) == 3 for row in response.json()["results"])


# One incident.


def test_an_incident_is_found_by_its_reference_in_any_case(api, incident, viewer_token):
    response = api("GET", f"/api/v1/incidents/inc-{incident.pk}/", token=viewer_token)
    assert response.status_code == 200
    assert response.json()["reference"] == incident.reference
    assert response.json()["lead"] == incident.lead.username


@pytest.mark.parametrize(
    "reference", ["INC-9999", "INC-0", "INC-", "nonsense", "INC-%C2%B2", "INC-99999999999999999999999", "INC-%00"]
)
def test_unknown_references_are_404_on_every_endpoint(api, incident, responder_token, reference):
    path = f"/api/v1/incidents/{reference}/"
    for method, suffix, body in [
        ("GET", "", None),
        ("PATCH", "", {"status": "resolved"}),
        ("POST", "updates/", {"progress": "Looking"}),
        ("GET", "timeline/", None),
    ]:
        response = api(method, path + suffix, body, token=responder_token)
        assert response.status_code == 404, (method, suffix)
        assert response.json() == {"error": errors.UNKNOWN_INCIDENT}


# Changing an incident.


def test_raising_severity_replans_the_next_update_with_the_faster_cadence(api, responder, responder_token):
    with time_machine.travel(T0, tick=False):
        incident = declare_incident(declared_by=responder, severity="SEV2")
    assert incident.next_update_due_at == T0 + timedelta(minutes=30)
    with time_machine.travel(T0 + timedelta(minutes=5), tick=False):
        response = api("PATCH", detail(incident), {"severity": "SEV1"}, token=responder_token)
    assert response.status_code == 200
    assert response.json()["severity"] == "SEV1"
    assert response.json()["next_update_due_at"] == "2026-03-02T14:45:00Z"
    assert events_of(incident) == [EventKind.DECLARED, EventKind.SEVERITY_CHANGED]


def test_reopening_with_a_new_severity_owes_an_update_one_new_cadence_from_now(api, responder, responder_token):
    with time_machine.travel(T0, tick=False):
        incident = declare_incident(declared_by=responder, severity="SEV2")
        services.incident_status_change(incident=incident, status=IncidentStatus.RESOLVED, actor=responder)
    with time_machine.travel(T0 + timedelta(hours=3), tick=False):
        response = api(
            "PATCH", detail(incident), {"status": "investigating", "severity": "SEV1"}, token=responder_token
        )
    body = response.json()
    assert (body["status"], body["severity"], body["resolved_at"]) == ("investigating", "SEV1", None)
    assert body["next_update_due_at"] == "2026-03-02T17:45:00Z"


def test_resolving_stops_the_update_clock(api, incident, responder_token):
    response = api("PATCH", detail(incident), {"status": "resolved"}, token=responder_token)
    body = response.json()
    assert body["status"] == "resolved"
    assert body["resolved_at"] is not None
    assert body["next_update_due_at"] is None


def test_roles_are_assigned_and_the_comms_lead_cleared_with_null(api, incident, responder_token):
    for name in ("ada", "bo", "cy"):
        UserFactory(role="responder", username=name)
    change = {"lead": "ada", "comms_lead": "bo", "responders": ["cy", "bo"]}
    body = api("PATCH", detail(incident), change, token=responder_token).json()
    assert (body["lead"], body["comms_lead"], body["responders"]) == ("ada", "bo", ["bo", "cy"])
    body = api("PATCH", detail(incident), {"comms_lead": None, "responders": []}, token=responder_token).json()
    assert (body["lead"], body["comms_lead"], body["responders"]) == ("ada", None, [])


def test_title_summary_and_impact_are_updated(api, incident, responder_token):
    ServiceFactory(slug="search")
    change = {
        "title": "Search is down",
        "summary": "Index corrupt",
        "affected_users_count": 40,
        "affected_users_percent": "3.5",
        "affected_services": ["search"],
        "business_impact": "No search",
        "data_integrity_concern": True,
        "security_concern": False,
    }
    body = api("PATCH", detail(incident), change, token=responder_token).json()
    assert (body["title"], body["summary"]) == ("Search is down", "Index corrupt")
    assert body["impact"] == {
        "affected_users_count": 40,
        "affected_users_percent": "3.50",
        "affected_services": ["search"],
        "business_impact": "No search",
        "data_integrity_concern": True,
        "security_concern": False,
    }
    assert events_of(incident)[-1] == EventKind.IMPACT_CHANGED
    cleared = api("PATCH", detail(incident), {"affected_users_percent": None}, token=responder_token).json()
    assert cleared["impact"]["affected_users_percent"] is None


def test_several_changes_in_one_patch_are_each_recorded(api, incident, responder_token):
    UserFactory(role="responder", username="ada")
    change = {"severity": "SEV1", "status": "identified", "lead": "ada", "title": "Checkout is down"}
    body = api("PATCH", detail(incident), change, token=responder_token).json()
    assert (body["severity"], body["status"], body["lead"], body["title"]) == (
        "SEV1",
        "identified",
        "ada",
        "Checkout is down",
    )
    assert body["acknowledged_at"] is not None
    assert events_of(incident) == [
        EventKind.DECLARED,
        EventKind.SEVERITY_CHANGED,
        EventKind.STATUS_CHANGED,
        EventKind.ROLE_ASSIGNED,
        EventKind.IMPACT_CHANGED,
        # The former lead, now without a role, changed the title: they stay on it as a responder.
        EventKind.ROLE_ASSIGNED,
    ]
    assert body["responders"] == [incident.lead.username]


def test_patch_sets_the_public_title_and_summary_and_keeps_the_internal_title(api, incident, responder_token):
    change = {"public_title": "Checkout is slow", "public_summary": "Some orders take minutes."}
    body = api("PATCH", detail(incident), change, token=responder_token).json()
    assert (body["title"], body["public_title"], body["public_summary"]) == (
        incident.title,
        "Checkout is slow",
        "Some orders take minutes.",
    )
    assert body["published_at"] is None
    assert api("GET", detail(incident), token=responder_token).json()["public_title"] == "Checkout is slow"


def test_patching_with_the_current_values_changes_nothing(api, incident, responder_token):
    unchanged = {
        "severity": "SEV2",
        "status": "investigating",
        "lead": incident.lead.username,
        "comms_lead": None,
        "responders": [],
        "title": incident.title,
        "data_integrity_concern": False,
    }
    before = api("GET", detail(incident), token=responder_token).json()
    response = api("PATCH", detail(incident), unchanged, token=responder_token)
    assert response.status_code == 200
    assert response.json() == before
    assert api("PATCH", detail(incident), {}, token=responder_token).json() == before
    assert events_of(incident) == [EventKind.DECLARED]


def test_a_refused_patch_changes_nothing_even_what_came_before_the_refusal(api, incident, responder_token):
    UserFactory(role="responder", username="ada")
    change = {"severity": "SEV1", "status": "resolved", "lead": "ada", "title": "   "}
    response = api("PATCH", detail(incident), change, token=responder_token)
    assert response.status_code == 400
    assert response.json() == {"errors": {"title": [errors.TITLE_REQUIRED]}}
    incident.refresh_from_db()
    assert incident.severity.key == "SEV2"
    assert incident.status == IncidentStatus.INVESTIGATING
    assert incident.resolved_at is None
    assert events_of(incident) == [EventKind.DECLARED]


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"lead": None}, "lead", errors.LEAD_REQUIRED),
        ({"lead": "ghost"}, "lead", errors.UNKNOWN_USERS.format(names="ghost")),
        ({"status": "closed"}, "status", errors.UNKNOWN_STATUS.format(values=STATUS_VALUES)),
        ({"status": None}, "status", errors.NOT_A_STRING),
        ({"severity": None}, "severity", errors.NOT_A_STRING),
        ({"severity": "SEV0"}, "severity", errors.UNKNOWN_SEVERITY.format(keys=SEVERITY_KEYS)),
        ({"responders": "ada"}, "responders", errors.NOT_A_LIST),
        ({"affected_users_count": 10**30}, "affected_users_count", NOT_AN_INTEGER),
        ({"affected_users_percent": 101}, "affected_users_percent", errors.PERCENT_OUT_OF_RANGE),
        ({"title": ""}, "title", errors.TITLE_REQUIRED),
        ({"title": "x" * 201}, "title", errors.TOO_LONG.format(limit=200)),
        ({"summary": ["a"]}, "summary", errors.NOT_A_STRING),
        ({"detected_at": "2026-03-02T14:00:00Z"}, "detected_at", errors.UNKNOWN_FIELD),
        ({"declared_by": "ada"}, "declared_by", errors.UNKNOWN_FIELD),
    ],
)
def test_a_bad_patch_is_refused_field_by_field(api, incident, responder_token, change, field, message):
    response = api("PATCH", detail(incident), {"severity": "SEV1", **change}, token=responder_token)
    assert response.status_code == 400
    assert response.json() == {"errors": {field: [message]}}
    incident.refresh_from_db()
    assert incident.severity.key == "SEV2"
    assert events_of(incident) == [EventKind.DECLARED]


# Status updates.


def test_posting_a_status_update(api, responder, responder_token):
    with time_machine.travel(T0, tick=False):
        incident = declare_incident(declared_by=responder, severity="SEV2")
    body = {"progress": "Rolled back the deploy", "next_steps": "Watch errors", "eta": "15 min", "visibility": "public"}
    with time_machine.travel(T0 + timedelta(minutes=10), tick=False):
        response = api("POST", detail(incident) + "updates/", body, token=responder_token)
    assert response.status_code == 201
    update = StatusUpdate.objects.get()
    assert response.json() == {
        "id": update.pk,
        "incident": incident.reference,
        "author": responder.username,
        "posted_at": "2026-03-02T14:40:00Z",
        "status": "investigating",
        "progress": "Rolled back the deploy",
        "next_steps": "Watch errors",
        "eta": "15 min",
        "visibility": "public",
    }
    after = api("GET", detail(incident), token=responder_token).json()
    assert after["last_update_at"] == "2026-03-02T14:40:00Z"
    assert after["next_update_due_at"] == "2026-03-02T15:10:00Z"


def test_an_update_can_resolve_the_incident(api, incident, responder_token):
    body = {"progress": "Fixed", "status": "resolved"}
    response = api("POST", detail(incident) + "updates/", body, token=responder_token)
    assert (response.status_code, response.json()["status"], response.json()["visibility"]) == (
        201,
        "resolved",
        "internal",
    )
    after = api("GET", detail(incident), token=responder_token).json()
    assert (after["status"], after["next_update_due_at"]) == ("resolved", None)


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({}, "progress", errors.FIELD_REQUIRED),
        ({"progress": "  "}, "progress", errors.UPDATE_PROGRESS_REQUIRED),
        ({"progress": None}, "progress", errors.NOT_A_STRING),
        ({"progress": 12}, "progress", errors.NOT_A_STRING),
        ({"progress": "x", "status": "fixed"}, "status", errors.UNKNOWN_STATUS.format(values=STATUS_VALUES)),
        (
            {"progress": "x", "visibility": "everyone"},
            "visibility",
            errors.UNKNOWN_VISIBILITY.format(values="public, internal"),
        ),
        ({"progress": "x", "eta": "x" * 201}, "eta", errors.TOO_LONG.format(limit=200)),
        ({"progress": "x", "next_steps": {"a": 1}}, "next_steps", errors.NOT_A_STRING),
        ({"progress": "x", "author": "ada"}, "author", errors.UNKNOWN_FIELD),
    ],
)
def test_a_bad_status_update_is_refused(api, incident, responder_token, body, field, message):
    response = api("POST", detail(incident) + "updates/", body, token=responder_token)
    assert response.status_code == 400
    assert response.json() == {"errors": {field: [message]}}
    assert not StatusUpdate.objects.exists()


# The timeline.


def test_the_timeline_is_oldest_first(api, responder, viewer_token):
    with time_machine.travel(T0, tick=False):
        incident = declare_incident(declared_by=responder, detected_at=T0 - timedelta(minutes=20))
    with time_machine.travel(T0 + timedelta(minutes=5), tick=False):
        services.incident_update_post(incident=incident, author=responder, progress="Rolled back")
    response = api("GET", detail(incident) + "timeline/", token=viewer_token)
    assert response.status_code == 200
    page = response.json()
    assert page["count"] == 3
    assert [event["kind"] for event in page["results"]] == ["milestone_set", "declared", "status_update"]
    first, _, update = page["results"]
    assert first["occurred_at"] == "2026-03-02T14:10:00Z"
    assert first["recorded_at"] == "2026-03-02T14:30:00Z"
    stored = TimelineEvent.objects.get(kind=EventKind.STATUS_UPDATE)
    assert update == {
        "id": stored.pk,
        "kind": "status_update",
        "text": stored.text,
        "body": "Rolled back",
        "actor": responder.username,
        "occurred_at": "2026-03-02T14:35:00Z",
        "recorded_at": "2026-03-02T14:35:00Z",
        "starred": False,
        "data": {"status": "investigating", "visibility": "internal"},
    }
    second_page = api("GET", detail(incident) + "timeline/?limit=1&offset=1", token=viewer_token).json()
    assert [event["kind"] for event in second_page["results"]] == ["declared"]
    by_cursor = api("GET", detail(incident) + "timeline/?limit=2", token=viewer_token).json()
    rest = api("GET", detail(incident) + f"timeline/?limit=2&cursor={by_cursor['next_cursor']}", token=viewer_token)
    assert [event["kind"] for event in rest.json()["results"]] == ["status_update"]
    assert rest.json()["next_cursor"] is None
    assert api("GET", detail(incident) + "timeline/?limit=-5", token=viewer_token).status_code == 400


def test_a_timeline_page_costs_the_same_queries_for_a_short_or_a_long_timeline(
    api, responder, viewer_token, django_assert_num_queries
):
    incident = declare_incident(declared_by=responder)
    api("GET", detail(incident), token=viewer_token)  # Stamps the token's last use, once.
    for notes in (5, 60):
        while incident.timeline.count() < notes:
            services.incident_note_add(incident=incident, author=responder, text="Still looking")
        # The token, the incident, the count and the page; by cursor the same less the count.
        with django_assert_num_queries(4):
            first = api("GET", detail(incident) + "timeline/?limit=2", token=viewer_token).json()
        with django_assert_num_queries(3):
            cursor = first["next_cursor"]
            later = api("GET", detail(incident) + f"timeline/?limit=2&cursor={cursor}", token=viewer_token)
        assert len(later.json()["results"]) == 2


def test_the_draft_list_costs_the_same_queries_for_1_or_6_drafts(api, responder, viewer_token):
    SeverityPolicy.objects.filter(key="SEV2").update(public_updates_need_approval=True)
    incident = declare_incident(declared_by=responder)
    authors = [UserFactory(role="responder") for _ in range(3)]
    api("GET", detail(incident), token=viewer_token)  # Stamps the token's last use, once.
    counts = {}
    for total in (1, 6):
        while incident.update_drafts.count() < total:
            author = authors[incident.update_drafts.count() % len(authors)]
            services.update_draft_create(incident=incident, author=author, progress="Card payments fail")
        with CaptureQueriesContext(connection) as queries:
            listed = api("GET", detail(incident) + "drafts/", token=viewer_token).json()
        assert listed["count"] == total and {draft["drafted_by"] for draft in listed["results"]} <= {
            author.username for author in authors
        }
        counts[total] = len(queries)
    assert counts[1] == counts[6], counts


# Methods.


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("DELETE", LIST, "GET, POST"),
        ("PUT", "/api/v1/incidents/INC-0001/", "GET, PATCH"),
        ("DELETE", "/api/v1/incidents/INC-0001/", "GET, PATCH"),
        ("GET", "/api/v1/incidents/INC-0001/updates/", "POST"),
        ("POST", "/api/v1/incidents/INC-0001/timeline/", "GET"),
        ("POST", "/api/v1/openapi.json", "GET"),
        ("POST", "/api/v1/severity-policies/", "GET"),
        ("PUT", "/api/v1/severity-policies/SEV1/", "GET, PATCH"),
        ("DELETE", "/api/v1/severity-policies/SEV1/", "GET, PATCH"),
    ],
)
def test_other_methods_are_refused_in_json(api, responder_token, method, path, allowed):
    response = api(method, path, {}, token=responder_token)
    assert response.status_code == 405
    assert response["Allow"] == allowed
    assert response.json() == {"error": errors.METHOD_NOT_ALLOWED.format(allowed=allowed)}


# The OpenAPI document.


# Every path the hand-written document listed; the generated one must keep them all.
DOCUMENTED_PATHS = {
    "/incidents/",
    "/incidents/{reference}/",
    "/incidents/{reference}/updates/",
    "/incidents/{reference}/acknowledge/",
    "/incidents/{reference}/timeline/",
    "/incidents/{reference}/postmortem/",
    "/incidents/{reference}/drafts/",
    "/incidents/{reference}/drafts/{draft_id}/approve/",
    "/incidents/{reference}/drafts/{draft_id}/discard/",
    "/severity-policies/",
    "/severity-policies/{key}/",
    "/teams/",
    "/schedules/",
    "/oncall/",
    "/insights/",
    "/incidents/{reference}/milestones/",
    "/runbooks/",
    "/runbooks/{slug}/",
    "/openapi.json",
}


def test_the_openapi_document_needs_no_token(client):
    response = client.get("/api/v1/openapi.json", secure=True)
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.1.")
    assert document["servers"] == [{"url": f"{settings.SITE_URL}/api/v1"}]
    assert document["components"]["securitySchemes"]["BearerToken"] == {"type": "http", "scheme": "bearer"}
    assert document["security"] == [{"BearerToken": []}]
    assert document["paths"]["/openapi.json"]["get"]["security"] == []


def test_the_openapi_document_describes_every_path_and_method(client, api, responder_token):
    document = client.get("/api/v1/openapi.json", secure=True).json()
    assert set(document["paths"]) == DOCUMENTED_PATHS
    http_methods = {"get", "post", "patch", "put", "delete"}
    for path, item in document["paths"].items():
        documented = ", ".join(sorted(method.upper() for method in item if method in http_methods))
        # The view's own answer to a method no path takes lists the methods it does take.
        concrete = path.replace("{reference}", "INC-0001").replace("{key}", "SEV1").replace("{draft_id}", "1")
        probe = api("DELETE", "/api/v1" + concrete, token=responder_token)
        assert ", ".join(sorted(probe["Allow"].split(", "))) == documented, path


def test_every_reference_in_the_openapi_document_resolves(client):
    document = client.get("/api/v1/openapi.json", secure=True).json()

    def refs(node: Any) -> list[str]:
        if isinstance(node, list):
            return [ref for value in node for ref in refs(value)]
        if not isinstance(node, dict):
            return []
        own = [node["$ref"]] if "$ref" in node else []
        return own + [ref for value in node.values() for ref in refs(value)]

    found = refs(document)
    assert "#/components/schemas/Incident" in found
    for ref in found:
        target = document
        for part in ref.removeprefix("#/").split("/"):
            target = target[part]
        assert isinstance(target, dict), ref


def test_the_documented_error_responses_match_what_the_api_sends(client, api, incident, viewer_token):
    document = client.get("/api/v1/openapi.json", secure=True).json()
    patch = document["paths"]["/incidents/{reference}/"]["patch"]["responses"]
    assert set(patch) == {"200", "400", "401", "403", "404", "405", "412"}
    error_shape = document["components"]["schemas"]["Error"]["required"]
    invalid_shape = document["components"]["schemas"]["InvalidInput"]["required"]
    assert list(api("PATCH", detail(incident), {}, token=viewer_token).json()) == error_shape
    assert list(api("PATCH", detail(incident), {}, token=None).json()) == error_shape
    responder = token_for(UserFactory(role="responder"))
    assert list(api("PATCH", detail(incident), {"status": 1}, token=responder).json()) == invalid_shape


# The severity policy.

POLICIES = "/api/v1/severity-policies/"
MAX_MINUTES = POLICY_MINUTES_MAX
LADDER_PERCENT = errors.LADDER_PERCENT_OUT_OF_RANGE.format(high=LADDER_PERCENT_MAX)


def policy_path(key: str) -> str:
    return f"{POLICIES}{key}/"


@pytest.fixture
def policy_admin_token() -> str:
    """An admin by role, not a superuser: the admin group's permission is what lets them in."""
    return token_for(UserFactory(role="admin"))


def plan_of(incident: Incident) -> tuple:
    incident.refresh_from_db()
    return incident.cadence_anchor_at, incident.next_update_due_at, incident.next_reminder_at


@pytest.mark.parametrize("role", ["viewer", "responder", "admin"])
def test_every_role_reads_the_severity_policy_most_severe_first(api, role):
    token = token_for(UserFactory(role=role))
    response = api("GET", POLICIES, token=token)
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 4
    assert [row["key"] for row in body["results"]] == ["SEV1", "SEV2", "SEV3", "SEV4"]
    assert body["results"][0] == {
        "key": "SEV1",
        "name": "Critical",
        "rank": 1,
        "description": "Complete outage",
        "response_time_minutes": 15,
        "response_time_label": "Immediate (< 15 min)",
        "mitigate_target_minutes": None,  # seed 002 names no mitigation or resolution targets
        "resolve_target_minutes": None,
        "update_cadence_minutes": 15,
        "escalate_responders_after_percent": 50,
        "escalate_contacts_after_percent": 100,
        "escalation_groups": ["admin"],
        "escalation_users": [],
        "notified_groups": ["executives", "leadership", "team"],
        "stakeholders_label": "Executives + status page",
        "show_on_status_page": True,
        "webhook_url": "",
        "webhook_format": "json",
    }
    assert body["results"][3]["update_cadence_minutes"] is None
    one = api("GET", policy_path("SEV1"), token=token)
    assert (one.status_code, one.json()) == (200, body["results"][0])


@pytest.mark.parametrize("role", ["viewer", "responder", None])
def test_only_policy_admins_can_change_the_policy(api, role):
    token = token_for(UserFactory(role=role))
    before = api("GET", policy_path("SEV1"), token=token).json()
    response = api("PATCH", policy_path("SEV1"), {"update_cadence_minutes": 5}, token=token)
    assert response.status_code == 403
    assert response.json() == {"error": errors.POLICY_NOT_PERMITTED}
    assert api("GET", policy_path("SEV1"), token=token).json() == before


def test_the_permission_not_the_responder_role_opens_the_policy(api, incident):
    editor = UserFactory()
    editor.user_permissions.add(Permission.objects.get(codename="change_severitypolicy"))
    token = token_for(editor)
    assert api("PATCH", policy_path("SEV3"), {"name": "Moderate"}, token=token).json()["name"] == "Moderate"
    assert api("PATCH", detail(incident), {"status": "resolved"}, token=token).status_code == 403


def test_an_admin_changes_every_editable_field(api, policy_admin_token):
    UserFactory(role="responder", username="zoe")
    UserFactory(role="responder", username="amir")
    Group.objects.create(name="sre")
    change = {
        "name": "Major",
        "description": "Big trouble",
        "response_time_minutes": 20,
        "response_time_label": "20 minutes",
        "mitigate_target_minutes": 60,
        "resolve_target_minutes": 240,
        "update_cadence_minutes": 25,
        "escalate_responders_after_percent": 40,
        "escalate_contacts_after_percent": 80,
        "escalation_groups": ["sre", "leadership"],
        "escalation_users": ["zoe", "amir"],
        "notified_groups": ["team"],
        "stakeholders_label": "Leadership",
        "show_on_status_page": False,
        "webhook_url": "https://hooks.example.com/sev2",
        "webhook_format": "slack",
    }
    response = api("PATCH", policy_path("SEV2"), change, token=policy_admin_token)
    assert response.status_code == 200, response.content
    assert response.json() == {
        "key": "SEV2",
        "rank": 2,
        **change,
        "escalation_groups": ["leadership", "sre"],
        "escalation_users": ["amir", "zoe"],
        "webhook_url": "https://hooks.example.com/…/••••",  # write-only: answered masked
    }
    assert SeverityPolicy.objects.get(key="SEV2").webhook_url == "https://hooks.example.com/sev2"
    assert api("GET", policy_path("SEV2"), token=policy_admin_token).json() == response.json()
    cleared = {
        "escalation_groups": [],
        "escalation_users": [],
        "webhook_url": "",
        "response_time_minutes": None,
        "resolve_target_minutes": None,
    }
    body = api("PATCH", policy_path("SEV2"), cleared, token=policy_admin_token).json()
    assert {field: body[field] for field in cleared} == cleared


def test_a_superuser_can_change_the_policy(api, admin_user):
    response = api("PATCH", policy_path("SEV4"), {"show_on_status_page": True}, token=token_for(admin_user))
    assert (response.status_code, response.json()["show_on_status_page"]) == (200, True)


def test_a_faster_cadence_replans_active_incidents_of_that_severity(api, responder, policy_admin_token):
    with time_machine.travel(T0, tick=False):
        updated = declare_incident(declared_by=responder, severity="SEV1", title="updated")
        reopened = declare_incident(declared_by=responder, severity="SEV1", title="reopened")
        resolved = declare_incident(declared_by=responder, severity="SEV1", title="resolved")
        other = declare_incident(declared_by=responder, severity="SEV2", title="other severity")
        for closing in (reopened, resolved):
            services.incident_status_change(incident=closing, status=IncidentStatus.RESOLVED, actor=responder)
    with time_machine.travel(T0 + timedelta(minutes=4), tick=False):
        services.incident_update_post(incident=updated, author=responder, progress="Rolled back")
    with time_machine.travel(T0 + timedelta(minutes=6), tick=False):
        services.incident_status_change(incident=reopened, status=IncidentStatus.IDENTIFIED, actor=responder)
    with time_machine.travel(T0 + timedelta(minutes=10), tick=False):
        fresh = declare_incident(declared_by=responder, severity="SEV1", title="fresh")
    assert plan_of(updated)[1] == T0 + timedelta(minutes=19)
    untouched = {incident.pk: plan_of(incident) for incident in (resolved, other)}
    events = TimelineEvent.objects.count()

    with time_machine.travel(T0 + timedelta(minutes=12), tick=False):
        response = api("PATCH", policy_path("SEV1"), {"update_cadence_minutes": 5}, token=policy_admin_token)
    assert response.status_code == 200
    assert response.json()["update_cadence_minutes"] == 5

    # Counted from each incident's anchor, so an update can fall due at once.
    for incident, anchor in [(updated, 4), (reopened, 6), (fresh, 10)]:
        due = T0 + timedelta(minutes=anchor + 5)
        assert plan_of(incident) == (T0 + timedelta(minutes=anchor), due, due), incident.title
    assert api("GET", detail(updated), token=policy_admin_token).json()["next_update_due_at"] == "2026-03-02T14:39:00Z"
    assert {incident.pk: plan_of(incident) for incident in (resolved, other)} == untouched
    assert plan_of(resolved)[1:] == (None, None)
    # A policy edit is not an incident event.
    assert TimelineEvent.objects.count() == events


def test_updates_as_needed_clear_the_due_times_and_a_cadence_brings_them_back(api, responder, policy_admin_token):
    with time_machine.travel(T0, tick=False):
        active = declare_incident(declared_by=responder, severity="SEV2")
        resolved = declare_incident(declared_by=responder, severity="SEV2")
        services.incident_status_change(incident=resolved, status=IncidentStatus.RESOLVED, actor=responder)
    with time_machine.travel(T0 + timedelta(minutes=20), tick=False):
        response = api("PATCH", policy_path("SEV2"), {"update_cadence_minutes": None}, token=policy_admin_token)
        assert (response.status_code, response.json()["update_cadence_minutes"]) == (200, None)
        assert plan_of(active) == (T0, None, None)
        assert api("GET", detail(active), token=policy_admin_token).json()["next_update_due_at"] is None
        api("PATCH", policy_path("SEV2"), {"update_cadence_minutes": 45}, token=policy_admin_token)
    due = T0 + timedelta(minutes=45)
    assert plan_of(active) == (T0, due, due)
    assert plan_of(resolved)[1:] == (None, None)


def test_a_patch_that_keeps_the_cadence_leaves_incidents_alone(api, responder, policy_admin_token, caplog):
    with time_machine.travel(T0, tick=False):
        incident = declare_incident(declared_by=responder, severity="SEV1")
        services.incident_update_snooze(incident=incident, actor=responder, minutes=10, reason="Waiting on vendor")
    snoozed = plan_of(incident)
    assert snoozed[1] == T0 + timedelta(minutes=25)
    change = {"update_cadence_minutes": 15, "stakeholders_label": "Everyone"}
    assert api("PATCH", policy_path("SEV1"), change, token=policy_admin_token).status_code == 200
    assert plan_of(incident) == snoozed
    caplog.clear()
    with caplog.at_level("INFO", logger="incidents.policy"):
        assert api("PATCH", policy_path("SEV1"), change, token=policy_admin_token).status_code == 200
    assert caplog.records == []


def test_a_policy_change_is_logged(api, responder, policy_admin_token, caplog):
    declare_incident(declared_by=responder, severity="SEV1")
    admin = ApiToken.objects.get(digest=ApiToken.digest_of(policy_admin_token)).user
    with caplog.at_level("INFO", logger="incidents.policy"):
        api("PATCH", policy_path("SEV1"), {"update_cadence_minutes": 5, "name": "Sev one"}, token=policy_admin_token)
    (record,) = [record for record in caplog.records if record.name == "incidents.policy"]
    assert record.levelname == "INFO"
    assert record.getMessage() == (
        f"Severity policy SEV1 changed by {admin.username}: name, update_cadence_minutes; 1 active incidents re-planned"
    )


@pytest.mark.parametrize(
    ("change", "refused"),
    [
        ({"escalate_responders_after_percent": 150}, ["escalate_responders_after_percent"]),
        ({"escalate_contacts_after_percent": 40}, ["escalate_contacts_after_percent"]),
        (
            {"escalate_responders_after_percent": 200, "escalate_contacts_after_percent": 100},
            ["escalate_responders_after_percent", "escalate_contacts_after_percent"],
        ),
    ],
)
def test_a_ladder_out_of_order_is_refused_and_changes_nothing(api, responder, policy_admin_token, change, refused):
    incident = declare_incident(declared_by=responder, severity="SEV1")
    plan = plan_of(incident)
    before = api("GET", policy_path("SEV1"), token=policy_admin_token).json()
    body = {**change, "update_cadence_minutes": 5, "notified_groups": ["team"], "name": "Renamed"}
    response = api("PATCH", policy_path("SEV1"), body, token=policy_admin_token)
    assert response.status_code == 400
    assert response.json() == {"errors": {field: [errors.LADDER_OUT_OF_ORDER] for field in refused}}
    assert api("GET", policy_path("SEV1"), token=policy_admin_token).json() == before
    assert plan_of(incident) == plan


def test_both_ladder_steps_move_together_past_the_old_values(api, policy_admin_token):
    change = {"escalate_responders_after_percent": 150, "escalate_contacts_after_percent": 200}
    body = api("PATCH", policy_path("SEV1"), change, token=policy_admin_token).json()
    assert (body["escalate_responders_after_percent"], body["escalate_contacts_after_percent"]) == (150, 200)
    same = {"escalate_contacts_after_percent": 150}
    assert api("PATCH", policy_path("SEV1"), same, token=policy_admin_token).status_code == 200


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"notified_groups": ["team", "board", "press"]}, "notified_groups", "No group named: board, press."),
        ({"escalation_groups": ["sre"]}, "escalation_groups", errors.UNKNOWN_GROUPS.format(names="sre")),
        ({"escalation_users": ["ghost"]}, "escalation_users", errors.UNKNOWN_USERS.format(names="ghost")),
    ],
)
def test_unknown_groups_and_users_are_listed(api, policy_admin_token, change, field, message):
    before = api("GET", policy_path("SEV1"), token=policy_admin_token).json()
    response = api("PATCH", policy_path("SEV1"), {**change, "name": "Renamed"}, token=policy_admin_token)
    assert response.status_code == 400
    assert response.json() == {"errors": {field: [message]}}
    assert api("GET", policy_path("SEV1"), token=policy_admin_token).json() == before


BAD_POLICY_CHANGES = [
    ({"key": "SEV0"}, "key", errors.UNKNOWN_FIELD),
    ({"rank": 9}, "rank", errors.UNKNOWN_FIELD),
    ({"examples": "Everything"}, "examples", errors.UNKNOWN_FIELD),
    ({"name": None}, "name", errors.NOT_A_STRING),
    ({"name": "   "}, "name", errors.VALUE_REQUIRED),
    ({"name": "x" * 65}, "name", errors.TOO_LONG.format(limit=64)),
    ({"name": "Critical\x00"}, "name", errors.INVALID_CHARACTERS),
    ({"name": "Critical \udc00"}, "name", errors.INVALID_CHARACTERS),
    ({"response_time_label": ""}, "response_time_label", errors.VALUE_REQUIRED),
    ({"description": "x" * 256}, "description", errors.TOO_LONG.format(limit=255)),
    ({"stakeholders_label": ["Executives"]}, "stakeholders_label", errors.NOT_A_STRING),
    ({"update_cadence_minutes": 0}, "update_cadence_minutes", errors.CADENCE_OUT_OF_RANGE.format(high=MAX_MINUTES)),
    ({"update_cadence_minutes": 10081}, "update_cadence_minutes", errors.CADENCE_OUT_OF_RANGE.format(high=10080)),
    ({"update_cadence_minutes": -5}, "update_cadence_minutes", NOT_AN_INTEGER),
    ({"update_cadence_minutes": "15"}, "update_cadence_minutes", NOT_AN_INTEGER),
    ({"update_cadence_minutes": 7.5}, "update_cadence_minutes", NOT_AN_INTEGER),
    ({"update_cadence_minutes": True}, "update_cadence_minutes", NOT_AN_INTEGER),
    ({"update_cadence_minutes": 10**30}, "update_cadence_minutes", NOT_AN_INTEGER),
    ({"update_cadence_minutes": [15]}, "update_cadence_minutes", NOT_AN_INTEGER),
    (
        {"response_time_minutes": 0},
        "response_time_minutes",
        errors.RESPONSE_TIME_OUT_OF_RANGE.format(high=MAX_MINUTES),
    ),
    ({"mitigate_target_minutes": 0}, "mitigate_target_minutes", errors.TARGET_OUT_OF_RANGE.format(high=MAX_MINUTES)),
    ({"resolve_target_minutes": 10081}, "resolve_target_minutes", errors.TARGET_OUT_OF_RANGE.format(high=MAX_MINUTES)),
    ({"resolve_target_minutes": "60"}, "resolve_target_minutes", NOT_AN_INTEGER),
    ({"escalate_responders_after_percent": None}, "escalate_responders_after_percent", LADDER_PERCENT),
    ({"escalate_contacts_after_percent": 1001}, "escalate_contacts_after_percent", LADDER_PERCENT),
    ({"escalate_contacts_after_percent": 40000}, "escalate_contacts_after_percent", LADDER_PERCENT),
    ({"escalate_contacts_after_percent": "100"}, "escalate_contacts_after_percent", NOT_AN_INTEGER),
    ({"escalate_contacts_after_percent": 100.5}, "escalate_contacts_after_percent", NOT_AN_INTEGER),
    ({"escalation_groups": "team"}, "escalation_groups", errors.NOT_A_LIST),
    ({"escalation_groups": None}, "escalation_groups", errors.NOT_A_LIST),
    ({"notified_groups": [1]}, "notified_groups", errors.NOT_A_LIST),
    ({"notified_groups": ["team\x00"]}, "notified_groups", errors.INVALID_CHARACTERS),
    ({"escalation_users": [{"username": "ada"}]}, "escalation_users", errors.NOT_A_LIST),
    ({"show_on_status_page": "yes"}, "show_on_status_page", errors.NOT_A_BOOLEAN),
    ({"show_on_status_page": None}, "show_on_status_page", errors.NOT_A_BOOLEAN),
    ({"webhook_url": None}, "webhook_url", errors.NOT_A_STRING),
    ({"webhook_url": "ftp://hooks.example.com/x"}, "webhook_url", errors.BAD_WEBHOOK_URL),
    ({"webhook_url": "javascript:alert(1)"}, "webhook_url", errors.BAD_WEBHOOK_URL),
    ({"webhook_url": "hooks.example.com/x"}, "webhook_url", errors.BAD_WEBHOOK_URL),
    ({"webhook_url": "http://[::1"}, "webhook_url", errors.BAD_WEBHOOK_URL),
    ({"webhook_url": "https://"}, "webhook_url", errors.BAD_WEBHOOK_URL),
    ({"webhook_url": "https://x.example.com/" + "a" * 480}, "webhook_url", errors.TOO_LONG.format(limit=500)),
    ({"webhook_format": "xml"}, "webhook_format", errors.UNKNOWN_WEBHOOK_FORMAT.format(values="json, slack")),
    ({"webhook_format": None}, "webhook_format", errors.NOT_A_STRING),
]


@pytest.mark.parametrize(("change", "field", "message"), BAD_POLICY_CHANGES)
def test_a_bad_policy_change_is_refused_field_by_field(api, policy_admin_token, change, field, message):
    before = api("GET", policy_path("SEV1"), token=policy_admin_token).json()
    response = api("PATCH", policy_path("SEV1"), {"name": "Renamed", **change}, token=policy_admin_token)
    assert response.status_code == 400
    assert response.json() == {"errors": {field: [message]}}
    assert api("GET", policy_path("SEV1"), token=policy_admin_token).json() == before


def test_a_policy_change_reports_every_bad_field_at_once(api, policy_admin_token):
    body = {"name": 1, "webhook_format": "xml", "notified_groups": ["board"], "rank": 1}
    response = api("PATCH", policy_path("SEV1"), body, token=policy_admin_token)
    assert response.json() == {
        "errors": {
            "rank": [errors.UNKNOWN_FIELD],
            "name": [errors.NOT_A_STRING],
            "notified_groups": [errors.UNKNOWN_GROUPS.format(names="board")],
            "webhook_format": [errors.UNKNOWN_WEBHOOK_FORMAT.format(values="json, slack")],
        }
    }


@pytest.mark.parametrize(("raw", "field", "message"), HOSTILE_BODIES)
def test_hostile_policy_bodies_are_refused(api, policy_admin_token, raw, field, message):
    before = api("GET", policy_path("SEV1"), token=policy_admin_token).json()
    response = api("PATCH", policy_path("SEV1"), raw=raw, token=policy_admin_token)
    assert response.status_code == 400
    assert response.json() == {"errors": {field: [message]}}
    assert api("GET", policy_path("SEV1"), token=policy_admin_token).json() == before


@pytest.mark.parametrize("key", ["SEV9", "sev1", "SEV1%00", "%00", "%C2%B2", "SEV1%20", "x" * 5000])
def test_unknown_severity_keys_are_404(api, policy_admin_token, key):
    for method, body in [("GET", None), ("PATCH", {"name": "Renamed"})]:
        response = api(method, policy_path(key), body, token=policy_admin_token)
        assert response.status_code == 404, method
        assert response.json() == {"error": errors.UNKNOWN_SEVERITY_POLICY}
    assert not SeverityPolicy.objects.filter(name="Renamed").exists()


def test_the_policy_list_costs_the_same_queries_for_4_or_12_severities(
    api, viewer_token, django_assert_max_num_queries
):
    people = [UserFactory(role="responder") for _ in range(3)]
    groups = [Group.objects.create(name=f"rota-{n}") for n in range(2)]
    wiring = {"escalation_users": people, "escalation_groups": groups, "notified_groups": groups}
    for total in (4, 12):
        while (count := SeverityPolicy.objects.count()) < total:
            # The API and admin edit severities; none creates one, so the test does.
            SeverityPolicy.objects.create(key=f"SEV{count + 1}", name="Trivia", rank=count + 1, response_time_label="-")
        for policy in SeverityPolicy.objects.all():
            severity_policy_update(policy=policy, actor=people[0], **wiring)
        # The token lookup, its last-use stamp, the policies and their three lists of names.
        with django_assert_max_num_queries(6):
            response = api("GET", POLICIES, token=viewer_token)
        rows = response.json()["results"]
        assert len(rows) == total
        assert all(len(row["escalation_users"]) == 3 and len(row["notified_groups"]) == 2 for row in rows)


def test_the_documented_policy_errors_match_what_the_api_sends(client, api, viewer_token, policy_admin_token):
    document = client.get("/api/v1/openapi.json", secure=True).json()
    patch = document["paths"]["/severity-policies/{key}/"]["patch"]
    assert set(patch["responses"]) == {"200", "400", "401", "403", "404", "405", "412"}
    schemas = document["components"]["schemas"]
    assert set(schemas["ChangeSeverityPolicy"]["properties"]) == POLICY_FIELDS
    shown = api("GET", policy_path("SEV1"), token=viewer_token).json()
    assert set(schemas["SeverityPolicy"]["required"]) == set(shown)
    error_shape = schemas["Error"]["required"]
    assert list(api("PATCH", policy_path("SEV1"), {}, token=viewer_token).json()) == error_shape
    assert list(api("GET", policy_path("SEV9"), token=viewer_token).json()) == error_shape
    invalid = api("PATCH", policy_path("SEV1"), {"rank": 1}, token=policy_admin_token).json()
    assert list(invalid) == schemas["InvalidInput"]["required"]


def test_replanning_costs_the_same_queries_for_1_or_10_incidents(responder, policy_admin_token):
    admin = ApiToken.objects.get(digest=ApiToken.digest_of(policy_admin_token)).user
    sev1 = SeverityPolicy.objects.get(key="SEV1")
    counts = []
    for total, cadence in [(1, 5), (10, 6)]:
        while Incident.objects.count() < total:
            declare_incident(declared_by=responder, severity="SEV1")
        with CaptureQueriesContext(connection) as queries:
            severity_policy_update(policy=sev1, actor=admin, update_cadence_minutes=cadence)
        counts.append(len(queries))
        assert set(Incident.objects.values_list("next_update_due_at", flat=True)) == {
            incident.cadence_anchor_at + timedelta(minutes=cadence) for incident in Incident.objects.all()
        }
    assert counts[0] == counts[1]


def test_an_incident_without_an_anchor_counts_from_its_last_update_or_declaration(api, responder, policy_admin_token):
    with time_machine.travel(T0, tick=False):
        declared = declare_incident(declared_by=responder, severity="SEV1")
        updated = declare_incident(declared_by=responder, severity="SEV1")
    with time_machine.travel(T0 + timedelta(minutes=3), tick=False):
        services.incident_update_post(incident=updated, author=responder, progress="Looking")
    # Rows from before the anchor was recorded.
    Incident.objects.update(cadence_anchor_at=None)
    api("PATCH", policy_path("SEV1"), {"update_cadence_minutes": 5}, token=policy_admin_token)
    assert plan_of(declared)[:2] == (T0, T0 + timedelta(minutes=5))
    assert plan_of(updated)[:2] == (T0 + timedelta(minutes=3), T0 + timedelta(minutes=8))


# ETag and If-Match: two clients that PATCH the same object do not overwrite each other silently.


def patch_if_match(client, path: str, body: dict, *, token: str, etag: str):
    headers = {"Authorization": f"Bearer {token}", "If-Match": etag}
    return client.patch(path, json.dumps(body), content_type="application/json", headers=headers, secure=True)


def test_a_patch_from_a_stale_incident_answers_412_and_changes_nothing(client, api, incident, responder_token):
    read = api("GET", detail(incident), token=responder_token)
    etag = read["ETag"]
    assert etag.startswith('"') and etag.endswith('"')
    # Another client changes the incident after this one read it.
    first = patch_if_match(client, detail(incident), {"status": "identified"}, token=responder_token, etag=etag)
    assert first.status_code == 200
    assert first["ETag"] not in ("", etag)
    assert api("GET", detail(incident), token=responder_token)["ETag"] == first["ETag"]

    stale = patch_if_match(
        client, detail(incident), {"severity": "SEV1", "title": "Mine"}, token=responder_token, etag=etag
    )
    assert stale.status_code == 412
    assert stale.json() == first.json()
    assert stale["ETag"] == first["ETag"]
    incident.refresh_from_db()
    assert (incident.severity.key, incident.status, incident.title) == (
        "SEV2",
        IncidentStatus.IDENTIFIED,
        read.json()["title"],
    )
    assert events_of(incident) == [EventKind.DECLARED, EventKind.STATUS_CHANGED]

    fresh = patch_if_match(client, detail(incident), {"severity": "SEV1"}, token=responder_token, etag=first["ETag"])
    assert (fresh.status_code, fresh.json()["severity"]) == (200, "SEV1")
    anyone = patch_if_match(client, detail(incident), {"title": "Checkout down"}, token=responder_token, etag="*")
    assert (anyone.status_code, anyone.json()["title"]) == (200, "Checkout down")


def test_a_patch_from_a_stale_severity_answers_412_and_changes_nothing(client, api, responder):
    token = token_for(UserFactory(role="admin"))
    incident = declare_incident(declared_by=responder, severity="SEV1")
    plan = plan_of(incident)
    etag = api("GET", policy_path("SEV1"), token=token)["ETag"]
    first = patch_if_match(client, policy_path("SEV1"), {"name": "Sev one"}, token=token, etag=etag)
    assert first.status_code == 200

    stale = patch_if_match(client, policy_path("SEV1"), {"update_cadence_minutes": 5}, token=token, etag=etag)
    assert stale.status_code == 412
    assert stale.json() == first.json() == api("GET", policy_path("SEV1"), token=token).json()
    assert stale["ETag"] == first["ETag"]
    assert SeverityPolicy.objects.get(key="SEV1").update_cadence_minutes == 15
    assert plan_of(incident) == plan


def test_the_api_documents_if_match_on_every_patch(client):
    document = client.get("/api/v1/openapi.json", secure=True).json()
    for path in ("/incidents/{reference}/", "/severity-policies/{key}/"):
        patch = document["paths"][path]["patch"]
        assert {"name": "If-Match", "in": "header"}.items() <= patch["parameters"][-1].items(), path
        assert (
            patch["responses"]["412"]["content"]["application/json"]["schema"]
            == patch["responses"]["200"]["content"]["application/json"]["schema"]
        )
