"""Every list and selector reads in a fixed number of queries, however many runbooks there are."""

from datetime import date

import pytest
from django.urls import reverse

from runbooks import selectors, services
from runbooks.markdown_format import RunbookData, StepData
from runbooks.models import Runbook
from tests import factories
from tests.runbooks.conftest import make_runbook

pytestmark = pytest.mark.django_db


def grow(count: int, start: int = 0) -> None:
    database = factories.ServiceFactory(name="Database", slug="database")
    for n in range(start, start + count):
        make_runbook(
            title=f"Runbook {n} connection pool",
            category=f"Category {n % 3}",
            services=[database.slug],
            last_tested=date(2020, 1, 1),
            steps=2,
        )


@pytest.mark.parametrize(
    ("params", "shown"),
    [
        ({}, 28),  # three categories of at most 10: all shown
        ({"q": "connection pool"}, selectors.SEARCH_LIMIT),
        ({"kind": "incident", "category": "Category 1"}, 9),
    ],
)
def test_index_search_and_category_queries_stay_flat(viewer_client, django_assert_max_num_queries, params, shown):
    grow(3)
    with django_assert_max_num_queries(9) as small:
        viewer_client.get(reverse("runbooks:index"), params)
    grow(25, start=3)
    with django_assert_max_num_queries(len(small)):
        response = viewer_client.get(reverse("runbooks:index"), params)
    assert response.content.decode().count('class="runbook-title"') == shown


def test_search_fragment_queries_stay_flat(viewer_client, django_assert_max_num_queries):
    grow(3)
    headers = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "runbook-results"}
    with django_assert_max_num_queries(8) as small:
        viewer_client.get(reverse("runbooks:index"), {"q": "pool"}, **headers)
    grow(20, start=3)
    with django_assert_max_num_queries(len(small)):
        viewer_client.get(reverse("runbooks:index"), {"q": "pool"}, **headers)


def test_stale_list_queries_stay_flat(viewer_client, django_assert_max_num_queries):
    grow(2)
    with django_assert_max_num_queries(8) as small:
        viewer_client.get(reverse("runbooks:stale"))
    grow(15, start=2)
    with django_assert_max_num_queries(len(small)):
        response = viewer_client.get(reverse("runbooks:stale"))
    assert response.content.decode().count("Review overdue</span>") == 17


def test_incident_page_stays_flat_with_more_runbooks_runs_and_steps(
    responder_client, responder, django_assert_max_num_queries
):
    grow(2)
    database = factories.ServiceFactory(name="Database", slug="database")
    incident = factories.declare_incident(declared_by=responder, affected_services=[database])
    first = make_runbook(title="Attached one", services=["database"], steps=2)
    services.runbook_attach(runbook=first, incident=incident, actor=responder)
    with django_assert_max_num_queries(40) as small:
        responder_client.get(incident.get_absolute_url())
    grow(10, start=2)
    for n in range(3):
        extra = make_runbook(title=f"Attached {n}", services=["database"], steps=6)
        run = services.runbook_attach(runbook=extra, incident=incident, actor=responder)
        services.run_step_record(run_step=run.steps.first(), outcome="done", actor=responder)
    with django_assert_max_num_queries(len(small)):
        response = responder_client.get(incident.get_absolute_url())
    assert response.content.decode().count("checklist-card") == 4


def test_history_queries_stay_flat(viewer_client, django_assert_max_num_queries):
    runbook = make_runbook()
    with django_assert_max_num_queries(10) as small:
        viewer_client.get(reverse("runbooks:history", args=[runbook.slug]))
    for _ in range(5):
        services.runbook_update(runbook=runbook, data=services.runbook_to_data(runbook), actor=None)
    with django_assert_max_num_queries(len(small)):
        viewer_client.get(reverse("runbooks:history", args=[runbook.slug]))


def test_suggestions_match_services_or_alert_names_and_skip_attached(responder):
    database = factories.ServiceFactory(name="Database", slug="database")
    search = factories.ServiceFactory(name="Search", slug="search")
    by_service = make_runbook(title="By service", services=["database"])
    by_alert = make_runbook(title="By alert", alert_names=["search-latency-high"])
    make_runbook(title="Other", services=["search"])
    incident = factories.declare_incident(declared_by=responder, affected_services=[database])
    incident = type(incident).objects.prefetch_related("affected_services").get(pk=incident.pk)
    assert selectors.suggestions_for_incident(incident=incident) == [by_service]
    assert selectors.suggestions_for_incident(incident=incident, alert_names=["search-latency-high"]) == [
        by_service,
        by_alert,
    ]
    assert selectors.suggestions_for_incident(incident=incident, exclude=[by_service.pk]) == []
    assert search  # the search service's runbook is not suggested for a database incident


def test_search_ranks_title_matches_first():
    make_runbook(title="Queue backlog", symptoms="- the disk is full")
    disk = make_runbook(title="Disk full", symptoms="- writes fail")
    assert selectors.runbook_search(query="disk")[0] == disk


def test_search_finds_a_runbook_by_a_command_in_its_steps_or_by_its_owner():
    data = RunbookData(
        title="Bad deploy",
        owner="Payments platform team",
        steps=[StepData(title="Roll back", commands="kubectl rollout undo deployment/checkout -n prod")],
    )
    rollback, _unknown = services.runbook_create(data=data, actor=None)
    make_runbook(title="Disk full")
    assert selectors.runbook_search(query="kubectl rollout undo") == [rollback]
    assert selectors.runbook_search(query="payments platform") == [rollback]


def test_search_finds_dotted_words_of_a_command():
    data = RunbookData(
        title="Replica lagging",
        steps=[StepData(title="Take it out", commands="kubectl annotate pod db-2 replicas.exclude=pg-replica-1")],
    )
    replica, _unknown = services.runbook_create(data=data, actor=None)
    make_runbook(title="Disk full")
    assert selectors.runbook_search(query="replicas.exclude") == [replica]
    assert selectors.runbook_search(query="replicas.exclude=pg-replica-1") == [replica]


@pytest.mark.postgres
def test_the_migration_puts_commands_and_owner_into_existing_search_vectors():
    from importlib import import_module

    from django.apps import apps
    from django.db import connection

    rollback, _unknown = services.runbook_create(
        data=RunbookData(
            title="Bad deploy", owner="Payments", steps=[StepData(title="Roll back", commands="helm rollback")]
        ),
        actor=None,
    )
    Runbook.objects.filter(pk=rollback.pk).update(search_vector=None)  # as stored before 0003
    assert selectors.runbook_search(query="helm") == []
    with connection.schema_editor() as schema_editor:
        import_module("runbooks.migrations.0003_search_commands_and_owner").rebuild(apps, schema_editor)
    assert selectors.runbook_search(query="helm") == [rollback]
    assert selectors.runbook_search(query="payments") == [rollback]
