import importlib

import pytest
from django.apps import apps

from incidents.models import Service
from statuspage.models import Component, ComponentGroup


def seed_status_page() -> None:
    """The data migration's impact mapping; transactional tests flush it with every table."""
    importlib.import_module("statuspage.migrations.0002_seed_impact_and_permissions").seed(apps, None)


@pytest.fixture
def catalog(db) -> dict[str, Service]:
    return {
        slug: Service.objects.get_or_create(slug=slug, defaults={"name": slug.title()})[0]
        for slug in ("api", "checkout", "search")
    }


@pytest.fixture
def components(catalog) -> dict[str, Component]:
    group = ComponentGroup.objects.create(name="Customer-facing")
    return {
        slug: Component.objects.create(name=service.name, service=service, group=group, position=index)
        for index, (slug, service) in enumerate(catalog.items())
    }


@pytest.fixture(autouse=True)
def _status_page_always_checks_the_version(settings):
    """Workers normally trust their own copy of the page for a second; tests read right after a
    write."""
    settings.STATUS_PAGE_LOCAL_CHECK_SECONDS = 0
