"""Test settings: the project's settings, served over plain HTTP as the test client speaks it."""

import os

os.environ.setdefault("HTTPS", "false")

from config.settings import *  # noqa: F403

# A per-process cache that each test empties (tests/conftest.py); Redis stays the broker.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

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
