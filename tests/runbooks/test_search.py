"""Search that finds, on SQLite (FTS5) and PostgreSQL (tsvector) alike: the test suite runs on
PostgreSQL when DATABASE_URL is set and on SQLite otherwise; these tests run both ways."""

from importlib import import_module

import pytest
from django.apps import apps
from django.contrib.admin.sites import site
from django.core.exceptions import ValidationError
from django.db import connection
from django.urls import reverse

from runbooks import errors, search, selectors, services
from runbooks.demo import load_demo_runbooks
from runbooks.markdown_format import RunbookData, StepData
from runbooks.models import Runbook, SearchSynonym
from tests import factories
from tests.runbooks.conftest import make_runbook

pytestmark = pytest.mark.django_db
SYNONYMS_MIGRATION = import_module("runbooks.migrations.0004_search_synonyms_and_sqlite_fts")


@pytest.fixture(autouse=True)
def seeded_synonyms(db):
    """Transactional tests empty every table afterwards, the seeded synonyms too; the seed uses
    get_or_create, so running it again restores them."""
    SYNONYMS_MIGRATION.seed_synonyms(apps, None)


def titles(query: str) -> list[str]:
    return [runbook.title for runbook in selectors.runbook_search(query=query)]


@pytest.fixture
def demo_runbooks():
    for slug in ["api", "checkout", "database", "search"]:
        factories.ServiceFactory(name=slug.title(), slug=slug)
    assert load_demo_runbooks() == 4


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("payments failing", "Checkout error rate high"),  # stems ("failed") and owner/category
        ("customers cannot pay", "Checkout error rate high"),
        ("Payment failed", "Checkout error rate high"),
        ("checkout", "Checkout error rate high"),
        ("too many connections", "Database connection pool exhausted"),
        ("connection", "Database connection pool exhausted"),
        ("latency", "Search latency high"),
        ("search is slow", "Search latency high"),  # synonym: slow ~ latency
        ("replication lag", "PostgreSQL replication lag"),
        ("checkout broken after the deploy", "Checkout error rate high"),  # no runbook has "broken"
    ],
)
def test_the_issues_queries_find_the_demo_runbooks(demo_runbooks, query, expected):
    assert titles(query)[0] == expected


def test_payments_also_finds_what_only_says_checkout():
    make_runbook(title="Cart broken", symptoms="- checkout answers 500")
    make_runbook(title="Disk full")
    assert titles("payments") == ["Cart broken"]


def test_a_synonym_the_team_adds_widens_the_next_search():
    make_runbook(title="Widget stuck", symptoms="- the widget spins")
    assert titles("gizmo") == []
    services.search_synonym_save(synonym=SearchSynonym(), terms="Widget ~ gizmo ~ doohickey")
    assert SearchSynonym.objects.get(terms__startswith="widget").terms == "widget ~ gizmo ~ doohickey"
    assert titles("gizmo") == ["Widget stuck"]
    assert titles("gizmos") == ["Widget stuck"]


def test_a_phrase_synonym_matches_the_phrase():
    pool = make_runbook(title="Pool exhausted", symptoms="- the connection pool is full")
    make_runbook(title="Pool heater", symptoms="- the swimming pool is cold; connection to the grid is fine")
    assert selectors.runbook_search(query="connections")[0] == pool


@pytest.mark.parametrize(("terms", "message"), [("payments", errors.SYNONYM_TOO_FEW), ("~ ~", errors.SYNONYM_TOO_FEW)])
def test_a_synonym_line_needs_two_terms(terms, message):
    with pytest.raises(ValidationError) as caught:
        services.search_synonym_save(synonym=SearchSynonym(), terms=terms)
    assert caught.value.message_dict == {"terms": [message]}


def test_the_same_synonyms_twice_are_refused():
    with pytest.raises(ValidationError) as caught:
        services.search_synonym_save(synonym=SearchSynonym(), terms="Payments~checkout ~ PAY")
    assert caught.value.message_dict == {"terms": [errors.SYNONYM_EXISTS]}


def test_the_migration_seeds_a_handful_of_synonyms_as_the_service_writes_them():
    lines = set(SearchSynonym.objects.values_list("terms", flat=True))
    assert {"payments ~ checkout ~ pay", "slow ~ latency ~ response time", "connections ~ connection pool"} <= lines
    assert all(services.synonym_line(line) == line for line in SYNONYMS_MIGRATION.SYNONYMS)


def test_synonyms_are_edited_in_the_admin(admin_client):
    assert SearchSynonym in site._registry
    response = admin_client.post(reverse("admin:runbooks_searchsynonym_add"), {"terms": "Queue ~ backlog"})
    assert response.status_code == 302
    assert SearchSynonym.objects.filter(terms="queue ~ backlog").exists()
    response = admin_client.post(reverse("admin:runbooks_searchsynonym_add"), {"terms": "only-one"})
    assert errors.SYNONYM_TOO_FEW in response.content.decode()


def test_symptoms_and_alert_names_rank_above_the_steps():
    in_steps = services.runbook_create(
        data=RunbookData(title="Cache flush", steps=[StepData(title="Check for a deadlock in the logs")]), actor=None
    )[0]
    in_symptoms = make_runbook(title="Orders stuck", symptoms="- a deadlock between two workers")
    in_alerts = make_runbook(title="Payments slow", alert_names=["PaymentsDeadlockDetected"])
    assert selectors.runbook_search(query="deadlock") == [in_alerts, in_symptoms, in_steps]


def test_the_index_follows_every_write():
    runbook = make_runbook(title="Disk full", symptoms="- no space left on device")
    assert titles("device") == ["Disk full"]
    data = services.runbook_to_data(runbook)
    data.symptoms = "- inodes exhausted"
    services.runbook_update(runbook=runbook, data=data, actor=None)
    assert titles("device") == []
    assert titles("inodes") == ["Disk full"]
    Runbook.objects.all().delete()
    assert titles("inodes") == []


def test_prefixes_follow_the_typing():
    make_runbook(title="Certificate expired")
    assert titles("cert") == titles("certif") == titles("certificates") == ["Certificate expired"]


HOSTILE = [
    '"',
    '"unbalanced',
    "pool*",
    "*",
    "NEAR(pool connection)",
    "pool NEAR connection",
    "pool AND",
    "AND OR NOT",
    "pool OR",
    "- ^ : ( ) { }",
    "title:pool",
    "col:* & ! |",
    "ünïcödé straße 東京 😀",
    "_",
    "a" * 1000,
    "pool " * 200,
    "'; DROP TABLE runbooks_runbook; --",
]


@pytest.mark.parametrize("query", HOSTILE)
def test_hostile_queries_answer_without_error(runbook, query, viewer_client):
    selectors.runbook_search(query=query)
    response = viewer_client.get(reverse("runbooks:index"), {"q": query})
    assert response.status_code == 200
    assert Runbook.objects.filter(pk=runbook.pk).exists()


def test_operator_words_are_only_words(runbook):
    make_runbook(title="Near the edge", symptoms="- the CDN edge is near capacity")
    assert titles("near") == ["Near the edge"]
    assert titles("NEAR edge") == ["Near the edge"]


def test_queries_are_quoted_for_fts5():
    groups = search.parse('Connection pool" NEAR title:*', ["connections ~ connection pool"])
    assert search.fts_query(groups) == (
        '(("Connection"* AND "pool"*) OR ("connections")) AND (("NEAR"*)) AND (("title"*))'
    )
    assert search.tsquery(groups) == "((Connection:* & pool:*) | (connections)) & ((NEAR:*)) & ((title:*))"


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's FTS5 table")
def test_sqlite_keeps_an_fts5_table_that_postgresql_does_not_need():
    with connection.cursor() as cursor:
        cursor.execute("SELECT sql FROM sqlite_master WHERE name = %s", [search.FTS_TABLE])
        assert "fts5" in cursor.fetchone()[0]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's tsvector")
def test_postgresql_has_no_fts5_table():
    assert search.FTS_TABLE not in connection.introspection.table_names()


class _Editor:
    """What the migration's function uses of a schema editor (SQLite's refuses to open inside a
    test's transaction)."""

    connection = connection

    def execute(self, sql, params=()):
        with connection.cursor() as cursor:
            cursor.execute(sql, params)


def test_the_migration_indexes_the_runbooks_already_there():
    make_runbook(title="Cart broken", alert_names=["CheckoutHighErrorRate"])
    if connection.vendor == "sqlite":
        _Editor().execute("DELETE FROM runbooks_runbook_fts")
    else:
        Runbook.objects.update(search_vector=None)
    assert titles("cart") == []
    SYNONYMS_MIGRATION.create_and_fill_index(apps, _Editor())
    assert titles("cart") == ["Cart broken"]
    assert titles("checkout high error") == ["Cart broken"]  # the alert name split at its capitals
