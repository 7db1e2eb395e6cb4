"""Test settings: the project's settings, served over plain HTTP as the test client speaks it."""

import os

os.environ.setdefault("HTTPS", "false")
# The tests' webhook receivers listen on 127.0.0.1 (workers started by tests inherit this too);
# tests of refused addresses set OUTBOUND_ALLOWED_NETWORKS themselves.
os.environ.setdefault("OUTBOUND_ALLOWED_NETWORKS", "127.0.0.1/32")

# Each pytest-xdist worker (gw0, gw1, …) gets the Redis database after the previous worker's, so
# broker queues, cache keys and flushes never meet; pytest-django already suffixes the test
# database. Redis has 16 databases: REDIS_URL's number plus the workers must stay below 16.
_worker = os.environ.get("PYTEST_XDIST_WORKER", "")
if os.environ.get("REDIS_URL") and _worker.startswith("gw"):
    from urllib.parse import urlsplit

    _url = urlsplit(os.environ["REDIS_URL"])
    _db = int(_url.path.lstrip("/") or 0) + int(_worker[2:])
    if _db > 15:
        raise RuntimeError(f"REDIS_URL's database plus worker {_worker} is {_db}: Redis has 0-15")
    os.environ["REDIS_URL"] = _url._replace(path=f"/{_db}").geturl()

from config.settings import *  # noqa: E402, F403

# A per-process cache that each test empties (tests/conftest.py); Redis stays the broker.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# No beat runs beside the tests: reminders are not watched unless a test turns it on.
REMINDERS_STALLED_AFTER_SECONDS = None

# Tests make hundreds of users; the default PBKDF2 hasher spends about a second of CPU on each
# (Django's own advice for test suites). Logging in through the real form still checks passwords.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # A file, not Django's in-memory test database: the browser tests' live server then serves
    # each request on a connection of its own, as in production, instead of sharing the test's one
    # connection between threads (SQLite refuses a write there while a poll reads: "database table
    # is locked"). Durability is no concern in a test database.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-incident-desk.sqlite3")}  # noqa: F405
    DATABASES["default"]["OPTIONS"]["init_command"] += " PRAGMA synchronous=OFF;"  # noqa: F405

if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":  # noqa: F405
    # Django's backend with a flush that deletes rows instead of truncating tables: the same empty
    # tables after each transactional test, in milliseconds instead of seconds (tests/postgresql).
    DATABASES["default"]["ENGINE"] = "tests.postgresql"  # noqa: F405
