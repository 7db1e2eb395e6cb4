"""Test settings: the project's settings, served over plain HTTP as the test client speaks it."""

import os

os.environ.setdefault("HTTPS", "false")

from config.settings import *  # noqa: F403

# A per-process cache that each test empties (tests/conftest.py); Redis stays the broker.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Tests make hundreds of users; the default PBKDF2 hasher spends about a second of CPU on each
# (Django's own advice for test suites). Logging in through the real form still checks passwords.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
