"""Benchmarks; see README.md. Their settings are bench.settings unless the environment says otherwise."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
