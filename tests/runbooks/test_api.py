"""GET /api/v1/runbooks/ and /api/v1/runbooks/{slug}/: the index and search, one runbook with its
sections, steps and seed 004's completeness; bad parameters answered 400, never 500."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from incidents import errors as incident_errors
from incidents import services as incident_services
from runbooks import generator, services
from runbooks.api import UNKNOWN_RUNBOOK
from runbooks.markdown_format import parse
from runbooks.models import Runbook
from tests.factories import ServiceFactory, UserFactory
from tests.runbooks.conftest import make_runbook

pytestmark = pytest.mark.django_db
LIST = "/api/v1/runbooks/"


@pytest.fixture
def get(client):
    token = incident_services.api_token_create(user=UserFactory(role="viewer"), name="tests")[1]

    def request(path: str):
        return client.get(path, headers={"Authorization": f"Bearer {token}"}, secure=True)

    return request


def test_the_list_pages_through_the_index_with_a_count(get):
    for title in ("Alpha", "Bravo", "Charlie"):
        make_runbook(title=title)
    first = get(f"{LIST}?limit=2").json()
    assert first["count"] == 3
    assert [row["title"] for row in first["results"]] == ["Alpha", "Bravo"]
    assert [row["title"] for row in get(f"{LIST}?limit=2&offset=2").json()["results"]] == ["Charlie"]
    assert get(f"{LIST}?offset=99").json() == {"count": 3, "results": []}
    row = first["results"][0]
    assert row["slug"] == "alpha" and row["url"].endswith("/runbooks/alpha/")
    assert 0 <= row["completeness_score"] <= 100


def test_q_searches_with_the_search_box_selector(get):
    make_runbook(title="Database connection pool exhausted")
    make_runbook(title="Disk full on the log volume")
    found = get(f"{LIST}?q=connection+pool").json()
    assert [row["title"] for row in found["results"]] == ["Database connection pool exhausted"]
    assert found["count"] == 1


def test_one_runbook_has_sections_steps_metadata_and_completeness(get):
    runbook, _unknown = services.runbook_create(
        data=parse(generator.generate(generator.Answers(name="Ledger", owner_team="Payments"))), actor=None
    )
    answer = get(f"{LIST}{runbook.slug}/").json()
    assert answer["title"] == "Ledger" and answer["kind"] == "operational" and answer["owner"] == "Payments"
    assert [section["heading"] for section in answer["sections"]][:3] == [
        "Plain English Summary",
        "Service Overview",
        "Architecture",
    ]
    assert len(answer["steps"]) == 7 and answer["steps"][0]["commands"].startswith("kubectl")
    assert {"label": "Environment", "value": "Kubernetes"} in answer["metadata"]
    assert answer["markdown_url"].endswith(f"/runbooks/{runbook.slug}/export.md")
    completeness = answer["completeness"]
    assert [finding["code"] for finding in completeness["missing"]] == ["placeholders_left", "never_drilled"]
    assert completeness["score"] == 85 == answer["completeness_score"]


def test_unknown_runbooks_and_bad_parameters_are_refused(get):
    assert get(f"{LIST}no-such-runbook/").json() == {"error": UNKNOWN_RUNBOOK}
    assert get(f"{LIST}no-such-runbook/").status_code == 404
    for query, field, message in [
        ("limit=0", "limit", incident_errors.BAD_LIMIT.format(high=100)),
        ("limit=ten", "limit", incident_errors.BAD_LIMIT.format(high=100)),
        ("offset=-1", "offset", incident_errors.BAD_OFFSET),
        ("offset=" + "9" * 50, "offset", incident_errors.BAD_OFFSET),
    ]:
        response = get(f"{LIST}?{query}")
        assert response.status_code == 400, query
        assert response.json()["errors"][field] == [message]
    assert get(f"{LIST}?q=" + "x" * 300).status_code == 400


def test_a_token_is_required(client):
    assert client.get(LIST, secure=True).status_code == 401


def test_the_list_costs_the_same_queries_for_2_or_8_runbooks(get):
    ServiceFactory(name="Database", slug="database")
    ServiceFactory(name="Checkout", slug="checkout")
    get(LIST)  # Stamps the token's last use, once.
    counts = {}
    for total in (2, 8):
        while Runbook.objects.count() < total:
            make_runbook(title=f"Runbook {Runbook.objects.count()}", services=["database", "checkout"])
        for query in ("", "?q=runbook"):
            with CaptureQueriesContext(connection) as queries:
                listed = get(LIST + query).json()
            assert listed["count"] == total and all(len(row["services"]) == 2 for row in listed["results"])
            counts[total, query] = len(queries)
    assert counts[2, ""] == counts[8, ""] and counts[2, "?q=runbook"] == counts[8, "?q=runbook"], counts
