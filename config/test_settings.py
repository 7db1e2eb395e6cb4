"""Test settings: the project's settings, served over plain HTTP as the test client speaks it."""

import os

os.environ.setdefault("HTTPS", "false")

from config.settings import *  # noqa: F403
