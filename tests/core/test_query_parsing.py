"""A query parameter no page can use is refused (400) or ignored, never a 500: NUL characters,
numbers too big for the database, digits that are not ASCII, on every list page and API read."""

import re

import pytest
from django.contrib import admin
from django.contrib.auth.models import User
from django.urls import reverse

from core.errors import QUERY_NOT_USABLE
from incidents import services as incident_services
from postmortems import services as postmortem_services
from runbooks.models import Runbook
from tests.factories import declare_incident

pytestmark = pytest.mark.django_db

# Whatever a view does with a parameter, these must not make it fail.
ODD_VALUES = ["\x00", "a\x00b", "9" * 30, "²", "-1", "0", "abc", "\ufffd", "me", "1" * 300]


@pytest.fixture
def world(db):
    """A superuser (who sees every page and filter) and an incident with a postmortem and a
    runbook, so every page has rows to filter."""
    user = User.objects.create_superuser("root", "root@example.com", "pw")
    incident = declare_incident(declared_by=user)
    postmortem_services.postmortem_start(incident=incident, actor=user)
    runbook = Runbook.objects.first()
    return user, incident, runbook


def html_pages(incident, runbook) -> dict[str, list[str]]:
    """Every list page and the query parameters it reads (and one it does not)."""
    ref = incident.reference
    pages = {
        "/": ["severity", "status"],
        f"/incidents/{ref}/": ["kind", "before", "edit"],
        "/postmortems/": ["status", "overdue"],
        "/action-items/": ["owner", "status", "priority", "overdue"],
        f"/incidents/{ref}/postmortem/revisions/": ["diff"],
        "/runbooks/": ["q", "incident", "category", "kind"],
        "/runbooks/stale/": [],
        "/notifications/": [],
        "/status/manage/": [],
        "/account/api-tokens/": [],
    }
    if runbook is not None:
        pages[f"/runbooks/{runbook.slug}/history/"] = []
        pages[f"/runbooks/{runbook.slug}/history/1/"] = ["against"]
    for model in admin.site._registry:
        changelist = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        pages[changelist] = ["q", "o", "p"]
    return {page: [*params, "unknown"] for page, params in pages.items()}


def api_reads(client, incident) -> dict[str, list[str]]:
    """Every GET of the API document with its query parameters."""
    document = client.get("/api/v1/openapi.json", secure=True).json()
    runbook = Runbook.objects.first()
    values = {"reference": incident.reference, "key": "SEV1", "slug": runbook.slug if runbook else "none"}
    reads = {}
    for path, operations in document["paths"].items():
        if "get" not in operations:
            continue
        filled = "/api/v1" + re.sub(r"\{(\w+)\}", lambda match: values[match.group(1)], path)
        params = [p["name"] for p in operations["get"].get("parameters", []) if p["in"] == "query"]
        reads[filled] = [*params, "unknown"]
    return reads


# One test per odd value, so that pytest-xdist's workers share the thousand requests.
@pytest.mark.slow
@pytest.mark.parametrize("value", ODD_VALUES)
def test_no_query_parameter_of_any_list_page_makes_a_500(client, world, value):
    user, incident, runbook = world
    client.force_login(user)
    answered = []
    for page, params in html_pages(incident, runbook).items():
        for param in params:
            response = client.get(page, {param: value})
            assert response.status_code in (200, 302, 400), (page, param, value, response.status_code)
            answered.append(response.status_code)
    assert len(answered) > 50


@pytest.mark.slow
@pytest.mark.parametrize("value", ODD_VALUES)
def test_no_query_parameter_of_any_api_read_makes_a_500(client, world, value):
    user, incident, _ = world
    headers = {"Authorization": f"Bearer {incident_services.api_token_create(user=user, name='t')[1]}"}
    for path, params in api_reads(client, incident).items():
        for param in params:
            response = client.get(path, {param: value}, headers=headers, secure=True)
            assert response.status_code in (200, 400, 404), (path, param, value, response.status_code)


@pytest.mark.parametrize(
    "path", ["/?severity=%00", "/action-items/?status=%00", "/action-items/?priority=%00", "/runbooks/?category=%00"]
)
def test_a_nul_in_the_query_is_a_400_that_says_why(client, world, path):
    client.force_login(world[0])
    response = client.get(path)
    assert response.status_code == 400
    assert QUERY_NOT_USABLE in response.content.decode()


def test_a_nul_in_an_api_query_is_a_400_in_the_apis_shape(client, world):
    user = world[0]
    headers = {"Authorization": f"Bearer {incident_services.api_token_create(user=user, name='t')[1]}"}
    response = client.get("/api/v1/incidents/?status=%00", headers=headers, secure=True)
    assert (response.status_code, response.json()) == (400, {"errors": {"status": [QUERY_NOT_USABLE]}})
