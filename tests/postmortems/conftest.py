import importlib

import pytest
from django.apps import apps


def seed_postmortem_policies() -> None:
    """Transactional tests flush every table; the data migration's seed is idempotent."""
    importlib.import_module("postmortems.migrations.0002_seed_policies_and_permissions").seed(apps, None)


@pytest.fixture
def pm_committed_db(committed_db):
    seed_postmortem_policies()
