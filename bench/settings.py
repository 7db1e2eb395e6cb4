"""Settings for benchmarks: the project's settings, served over plain HTTP on 127.0.0.1, with a
bare view added as the baseline (see bench/urls.py)."""

import warnings

from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
DEBUG = False
ALLOWED_HOSTS = ["*"]

# The load generator speaks plain HTTP to 127.0.0.1; with the production defaults every request
# would be redirected to HTTPS and the session cookie never sent back.
HTTPS = False
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
SECURE_SSL_REDIRECT = False
SECURE_HSTS_SECONDS = 0

# WhiteNoise warns in every worker when STATIC_ROOT was never collected; static files are not
# measured here (WHITENOISE_USE_FINDERS serves them from the source folders anyway).
warnings.filterwarnings("ignore", message="No directory at", category=UserWarning)
