"""Incident Desk settings, driven by environment variables.

Every variable has an embedded default that needs no server (a SQLite file, Celery's filesystem
broker, mail printed to the console), so a newcomer's first `make run` works on a bare laptop.
The README lists the variables.
"""

import ipaddress
import os
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)
SECRET_KEY = os.environ.get("SECRET_KEY") or "dev-only-insecure-key-set-SECRET_KEY-in-production"
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")
SITE_URL = os.environ.get("SITE_URL", "http://localhost:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.forms",
    "django_htmx",
    "csp",
    # Login throttling: failed logins are recorded in the database (its default handler), so
    # lockouts hold with Redis down.
    "axes",
    "template_partials",
    # Only for the API docs page's own templates and static files (no CDN).
    "ninja",
    "accounts",
    "notifications",
    "incidents",
    # The apps built on incidents plug in from their AppConfig.ready() (incidents.registry), in
    # this order: postmortems' panel heads the incident page's side column, a resolution starts
    # the postmortem before the status page moves, and the alerts' demo incident finds the demo
    # runbooks and is on the status page's demo components.
    "postmortems",
    "runbooks",
    "integrations",
    "statuspage",
    "oncall",
    # Figures over incidents and postmortems (response times, cadence kept); reads both.
    "insights",
    # Escalation policies and pages: builds on incidents and oncall.
    "paging",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Before the public status page's middleware, so its cached answers carry the policy too.
    "csp.middleware.CSPMiddleware",
    # The public status page is served from its cache here, before sessions and auth.
    "statuspage.middleware.PublicStatusPageMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "incidents.middleware.ViewerTimezoneMiddleware",
    # A query parameter no view could use (a NUL) is answered 400 here, once for every page.
    "core.middleware.UsableQueryMiddleware",
    # Last, as django-axes asks: turns a locked-out login into its lockout page.
    "axes.middleware.AxesMiddleware",
]

# Content-Security-Policy (django-csp): scripts and styles only from our own static files, never
# inline and never eval, so injected markup cannot run. htmx is told not to add its inline
# indicator style (the htmx-config meta tag in the base templates). Status-page logos may be
# linked from any https address (StatusPageSettings.logo_url).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:", "https:"],
        "connect-src": ["'self'"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "incidents.context_processors.reminders",
            ],
            "libraries": {"polling": "config.polling"},
        },
    },
]

# Databases: DATABASE_URL (postgres://… through psycopg 3) or a SQLite file.
# Connections are kept open between requests: opening a PostgreSQL connection per request
# costs far more than the page itself.
# An empty DATABASE_URL (a blank line in an env file) means the default too, not a crash.
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'incident-desk.sqlite3'}",
        conn_max_age=int(os.environ.get("CONN_MAX_AGE", "600")),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Form choice lists iterate their querysets; on PostgreSQL each would otherwise open a
    # server-side cursor, three round trips for a list of four severities.
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True
# The SQLite file, the embedded broker and beat's schedule live here: a fresh checkout has it too.
VAR_DIR.mkdir(parents=True, exist_ok=True)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA busy_timeout=5000;",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# How often an open page asks the server again, in seconds (htmx `every Ns`, config/polling.py).
# The browser tests shorten them so that they never wait for a real poll.
POLL_SECONDS = {
    "dashboard": 10,
    "incident": 15,  # an incident's live header and timeline
    "bell": 15,
    "checklist": 5,  # a runbook run's checklist, on the incident page and its own
    # The public page open in a customer's browser: it shows a published change within this.
    "status_page": int(os.environ.get("STATUS_PAGE_POLL_SECONDS", "60")),
    "oncall_you": 60,  # the header's "You are on call until …"
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# django-axes checks every login against its record of failures before Django's ModelBackend.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# After AXES_FAILURE_LIMIT wrong passwords for one username from one address, that username is
# locked for that address for AXES_COOLOFF_HOURS (each further try restarts the wait); an admin
# unlocks it sooner by deleting its access attempt (admin → Axes → Access attempts). A right
# password before the limit clears the count. The address is REMOTE_ADDR: behind a proxy every
# client shares the proxy's address, and the lock then holds for the username alone.
AXES_FAILURE_LIMIT = int(os.environ.get("AXES_FAILURE_LIMIT", "10"))
AXES_COOLOFF_TIME = float(os.environ.get("AXES_COOLOFF_HOURS", "1"))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "accounts.views.locked_out"
# Successful logins are in the sessions table already; keep only the failures' record.
AXES_DISABLE_ACCESS_LOG = True
# A password reset mail goes to one account at most this often, however often its address is typed.
PASSWORD_RESET_MAIL_EVERY_MINUTES = int(os.environ.get("PASSWORD_RESET_MAIL_EVERY_MINUTES", "15"))
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = False
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
# Static files are served by WhiteNoise from the source folders too, so `make run` needs no
# collectstatic; a production image may still collect them into STATIC_ROOT.
WHITENOISE_USE_FINDERS = True

# Uploads (the status page's logo): kept out of the source tree, in var/media/ unless MEDIA_ROOT
# says otherwise. `make run` (DEBUG) serves them at MEDIA_URL; in production the web server or a
# proxy serves MEDIA_ROOT at MEDIA_URL.
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT") or VAR_DIR / "media")
MEDIA_URL = os.environ.get("MEDIA_URL") or "/media/"

# Redis (broker and cache) or the embedded filesystem broker and a per-process cache.
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    # Sessions are read on every page: from Redis first, from the database (which always holds
    # them) when Redis lacks them or is down.
    SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
    CACHES = {
        "default": {
            # django-redis, failing open: with Redis down a read misses and a write is dropped, so
            # every page is rendered from PostgreSQL instead of answering 500. Short timeouts keep
            # an unreachable Redis from holding a request for long.
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "incident-desk",
            "OPTIONS": {"IGNORE_EXCEPTIONS": True, "SOCKET_CONNECT_TIMEOUT": 1, "SOCKET_TIMEOUT": 1},
        }
    }
    DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True
else:
    _broker_dir = VAR_DIR / "celery-broker"
    # The filesystem transport needs its folders to exist before the first message.
    for _folder in ("processed", "control"):
        (_broker_dir / _folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir),
        "data_folder_out": str(_broker_dir),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# The dashboard and the incident page are kept whole in the cache (incidents/pages.py). Off, every
# request renders them from the database: how bench.load measures its "cold" targets.
PAGE_CACHE = env_bool("PAGE_CACHE", True)

CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = "UTC"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Queueing a task from a request with the broker down gives up within about a second instead of
# holding the request; the sweeps catch up on what was not queued.
CELERY_BROKER_CONNECTION_TIMEOUT = 1
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")


def email_settings(url: str) -> dict[str, object]:
    """EMAIL_URL: smtp://user:password@host:port (smtp+tls://, smtp+ssl://), console://, or
    file:///path/to/dir (Django's file backend: one .log file per message; `make run` keeps the
    demo's mail there instead of printing it)."""
    if not url or url.startswith("console:"):
        return {"EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"}
    parsed = urlparse(url)
    if parsed.scheme == "file":
        return {"EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend", "EMAIL_FILE_PATH": parsed.path}
    query = parse_qs(parsed.query)
    return {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": parsed.hostname or "localhost",
        "EMAIL_PORT": parsed.port or 25,
        "EMAIL_HOST_USER": unquote(parsed.username or ""),
        "EMAIL_HOST_PASSWORD": unquote(parsed.password or ""),
        "EMAIL_USE_TLS": parsed.scheme == "smtp+tls" or "tls" in query,
        "EMAIL_USE_SSL": parsed.scheme == "smtp+ssl" or "ssl" in query,
        "EMAIL_TIMEOUT": 10,
    }


globals().update(email_settings(os.environ.get("EMAIL_URL", "")))
# Or any other Django mail backend by its path, e.g. django-anymail's
# anymail.backends.postmark.EmailBackend for an email API (SES, Postmark, Mailgun, SendGrid, …);
# anymail reads its credentials from ANYMAIL_<ESP>_<NAME> settings, taken from variables so named.
if os.environ.get("EMAIL_BACKEND"):
    EMAIL_BACKEND = os.environ["EMAIL_BACKEND"]
globals().update({name: value for name, value in os.environ.items() if name.startswith("ANYMAIL_")})
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Incident Desk <incidents@localhost>")

# HTTPS hardening; on by default outside DEBUG. Set HTTPS=false to serve plain HTTP (benchmarks,
# a laptop without TLS).
HTTPS = env_bool("HTTPS", not DEBUG)
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_SSL_REDIRECT = HTTPS and env_bool("SECURE_SSL_REDIRECT", True)
SECURE_REDIRECT_EXEMPT = [r"^health$"]
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000")) if HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
if env_bool("BEHIND_TLS_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    # django-axes logs every successful login and its start-up at INFO; lockouts are warnings.
    "loggers": {"axes": {"level": os.environ.get("AXES_LOG_LEVEL", "WARNING")}},
}

# Forms render through the project's templates, so one field template styles every form.
FORM_RENDERER = "core.forms.FormRenderer"

# Status-update reminders: how often the sweep looks for due ladder steps (seconds).
# Seed 001's security section: an incident with a security concern is declared restricted unless
# the declarer opens it (visible only to its participants and the `security` group).
RESTRICT_SECURITY_INCIDENTS = env_bool("RESTRICT_SECURITY_INCIDENTS", True)

REMINDER_SWEEP_SECONDS = float(os.environ.get("REMINDER_SWEEP_SECONDS", "10"))
# When no sweep has run for this long, /health says so and responders see a banner (None: not
# watched, as in the test settings, where no beat runs).
REMINDERS_STALLED_AFTER_SECONDS: float | None = 3 * REMINDER_SWEEP_SECONDS

# How long a page's one-click acknowledge link works (it also works only once).
PAGING_LINK_MAX_AGE_SECONDS = int(os.environ.get("PAGING_LINK_MAX_AGE_SECONDS", str(24 * 3600)))

# How long browsers and proxies may keep the public status page (Cache-Control max-age): its
# readers see a change within this plus a second.
STATUS_PAGE_MAX_AGE_SECONDS = int(os.environ.get("STATUS_PAGE_MAX_AGE_SECONDS", "15"))

# Status-page subscription confirmations one client address may cause in an hour (each address
# subscribed gets at most one an hour anyway).
STATUS_SUBSCRIBE_PER_IP_PER_HOUR = int(os.environ.get("STATUS_SUBSCRIBE_PER_IP_PER_HOUR", "10"))

# Every periodic task, in one place (`make run` embeds beat in the worker). A second beat (high
# availability) is harmless: the sweeps' row locks and unique rows make the work exactly-once.
# Nothing is scheduled far ahead on the broker: these sweeps read what is due from the database,
# so a restarted worker, beat or Redis loses nothing.
CELERY_BEAT_SCHEDULE = {
    # Status-update reminders and escalation: send every ladder step that has come due.
    "sweep-reminders": {
        "task": "incidents.tasks.sweep_reminders",
        "schedule": REMINDER_SWEEP_SECONDS,
        "options": {"expires": REMINDER_SWEEP_SECONDS * 3},
    },
    # Queue again the email and webhook deliveries whose broker message was lost.
    "requeue-stale-deliveries": {
        "task": "notifications.tasks.requeue_stale_deliveries",
        "schedule": 30.0,
        "options": {"expires": 90},
    },
    # Postmortems due tomorrow or overdue, overdue action items (to their owners), and on Mondays
    # the weekly digest of open action items. Hourly; dedup keys send each reminder once.
    "postmortem-reminders": {
        "task": "postmortems.tasks.send_postmortem_reminders",
        "schedule": 3600.0,
        "options": {"expires": 3000},
    },
}
# One queue (Celery's default), so the plain `celery -A config worker -B` runs everything. A backlog
# of deliveries can delay a sweep; each sweep finds all that is due, and expires after three
# intervals, so a late one is simply replaced by the next.
# Seconds before the 2nd, 3rd, 4th and 5th attempt of an email or webhook: bounded, far below the
# broker's visibility timeout. The fifth failure is final.
# Networks that outbound webhooks may reach although they are not public (loopback, private,
# link-local, …), as comma-separated CIDRs, e.g. "127.0.0.2/32,10.1.0.0/16" (core/outbound.py).
# Empty: only public addresses. Parsed here, so a typo stops the start instead of a delivery.
OUTBOUND_ALLOWED_NETWORKS = [
    str(ipaddress.ip_network(network, strict=False)) for network in env_list("OUTBOUND_ALLOWED_NETWORKS", "")
]

NOTIFICATIONS_RETRY_BACKOFF_SECONDS = [
    int(seconds) for seconds in os.environ.get("NOTIFICATIONS_RETRY_BACKOFF_SECONDS", "5,15,45,120").split(",")
]

# Directories of a team's own runbook generator templates (environments/*.toml, monitoring/*.toml,
# runbook.md, …), searched before the built-in runbooks/generator_templates/; comma-separated.
RUNBOOK_GENERATOR_TEMPLATE_DIRS = env_list("RUNBOOK_GENERATOR_TEMPLATE_DIRS", "")
