"""Settings read from the environment: a blank variable means its default, not a crash."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def settings_with(**env: str) -> str:
    """The database engine the project's settings choose under these variables, read in a fresh
    interpreter (settings are read once per process)."""
    environ = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", **env}
    script = (
        "import django; django.setup(); from django.conf import settings; "
        "print(settings.DATABASES['default']['ENGINE'])"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=environ, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_a_blank_database_url_falls_back_to_the_embedded_sqlite_file():
    assert settings_with(DATABASE_URL="") == "django.db.backends.sqlite3"


def test_a_database_url_chooses_postgresql():
    assert settings_with(DATABASE_URL="postgres://postgres@127.0.0.1:5432/x") == "django.db.backends.postgresql"
