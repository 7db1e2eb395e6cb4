"""Benchmarks; see README.md.

config/celery.py reads Django settings when it is imported, and config/__init__.py imports it. So
`from config.settings import *` in bench/settings.py would make Django load bench.settings while it
is still half-imported (and fail). Importing the config package here, before bench.settings runs,
lets that first settings access load bench.settings whole; config.test_settings gets the same for
free by living inside config. Harmless once settings are read lazily there.
"""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")

import config  # noqa: F401
