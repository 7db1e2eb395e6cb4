"""Test settings: the project's settings, served over plain HTTP as the test client speaks it."""

import os

os.environ.setdefault("HTTPS", "false")

from config.settings import *  # noqa: F403

# A per-process cache that each test empties (tests/conftest.py); Redis stays the broker.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# No beat runs beside the tests: reminders are not watched unless a test turns it on.
REMINDERS_STALLED_AFTER_SECONDS = None
