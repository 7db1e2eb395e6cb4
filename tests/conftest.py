"""Shared fixtures, and the rule for tests that need a real service.

A test marked `postgres`, `redis` or `browser` skips with the reason when the service is missing,
so `make test` passes on a bare laptop. CI sets REQUIRE_SERVICES=1, which turns each such skip into
a failure: CI never skips them silently.
"""

import os
import shutil
from functools import cache

import pytest
from django.conf import settings
from django.db import connection

from tests import factories

CHROMIUM = "/usr/bin/chromium"


@cache
def _redis_reachable() -> bool:
    if not settings.REDIS_URL:
        return False
    import redis

    try:
        return bool(redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2).ping())
    except redis.RedisError:
        return False


@cache
def _browser_available() -> bool:
    if not shutil.which(CHROMIUM):
        return False
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return False
    return True


def _missing(marker: str) -> str | None:
    # config/test_settings.py names its own subclass of Django's PostgreSQL backend (tests/postgresql).
    if marker == "postgres" and connection.vendor != "postgresql":
        return "needs PostgreSQL: set DATABASE_URL=postgres://…"
    if marker == "redis" and not _redis_reachable():
        return "needs Redis: set REDIS_URL=redis://… to a running server"
    if marker == "browser" and not _browser_available():
        return f"needs {CHROMIUM} (apt-get install chromium) and Python Playwright"
    return None


# Tests that take seconds: a browser, a Celery worker or a redis-server of their own, or marked `slow`
# (crawls of every page). They start first, so that no worker is left alone with a long one at the
# end while the others wait. pytest-django then sorts them into its groups (tests in a rolled-back
# transaction, then transactional ones, then those without a database) and keeps this order in each.
LONG_FIXTURES = {"start_worker", "own_redis", "live_server"}


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def takes_seconds(item: pytest.Item) -> bool:
        return bool(
            item.get_closest_marker("slow")
            or item.get_closest_marker("browser")
            or LONG_FIXTURES.intersection(getattr(item, "fixturenames", ()))
        )

    items.sort(key=lambda item: not takes_seconds(item))


def pytest_runtest_setup(item: pytest.Item) -> None:
    for marker in ("postgres", "redis", "browser"):
        if item.get_closest_marker(marker) is None:
            continue
        reason = _missing(marker)
        if reason is None:
            continue
        if os.environ.get("REQUIRE_SERVICES") == "1":
            pytest.fail(f"REQUIRE_SERVICES=1 but this test {reason}", pytrace=False)
        pytest.skip(reason)


@pytest.fixture(autouse=True)
def _empty_cache():
    """Cached pages are keyed on row ids, which a rolled-back test may hand out again."""
    from django.core.cache import cache

    from incidents import pages

    cache.clear()
    # And what each process keeps in front of it: a version may come round again.
    pages.forget_local()


def seed_policy_and_roles() -> None:
    """Transactional tests empty every table afterwards, the data migration's severity policy and
    role groups included; its seed uses get_or_create, so running it again restores them."""
    import importlib

    from django.apps import apps

    importlib.import_module("incidents.migrations.0002_seed_policy_and_roles").seed(apps, None)


@pytest.fixture
def committed_db(transactional_db):
    """A database whose writes are committed (other threads and processes see them), with the
    seeded severity policy and role groups in place."""
    seed_policy_and_roles()


@pytest.fixture
def responder(db):
    return factories.UserFactory(role="responder")


@pytest.fixture
def viewer(db):
    return factories.UserFactory(role="viewer")


@pytest.fixture
def admin_user(db):
    return factories.UserFactory(role="admin", is_staff=True, is_superuser=True)


@pytest.fixture
def severities(db):
    from incidents.models import SeverityPolicy

    return {policy.key: policy for policy in SeverityPolicy.objects.all()}


@pytest.fixture
def responder_client(client, responder):
    client.force_login(responder)
    return client


@pytest.fixture
def viewer_client(client, viewer):
    client.force_login(viewer)
    return client
