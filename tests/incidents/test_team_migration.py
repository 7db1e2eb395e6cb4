"""incidents 0014 turns each distinct owning_team text into one Team its services point at."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("incidents", "0013_restricted_index")]
AFTER = [("incidents", "0014_teams")]


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_owning_team_texts_become_teams():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    apps = executor.loader.project_state(BEFORE).apps
    Service = apps.get_model("incidents", "Service")
    Service.objects.create(name="API", slug="api", owning_team="Platform")
    Service.objects.create(name="Database", slug="database", owning_team=" platform ")
    Service.objects.create(name="Checkout", slug="checkout", owning_team="Payments")
    Service.objects.create(name="Orphan", slug="orphan", owning_team="")
    try:
        executor = MigrationExecutor(connection)
        executor.migrate(AFTER)
        apps = executor.loader.project_state(AFTER).apps
        Service = apps.get_model("incidents", "Service")
        Team = apps.get_model("incidents", "Team")
        owners = dict(Service.objects.values_list("slug", "owner_team__slug"))
        assert owners == {"api": "platform", "database": "platform", "checkout": "payments", "orphan": None}
        assert sorted(Team.objects.values_list("name", flat=True)) == ["Payments", "Platform"]
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
