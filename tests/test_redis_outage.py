"""With Redis down (cache, sessions' cache and Celery broker all on it), the site keeps serving from
PostgreSQL: every page and every write answers, nothing answers 500, and a write whose answer is
an error is not saved. When Redis comes back, pages are cached again and show what was written
during the outage.

Redis here is this test's own `redis-server` on a free port, stopped and started by the test;
the shared server is never touched. The writes commit for real (committed_db), so the Celery
tasks they queue after commit are really published, into a broker that is down."""

import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from django.test import Client

from config.celery import app as celery_app
from incidents import services
from incidents.models import Incident, IncidentStatus, SeverityPolicy
from integrations import alerts as integration_services
from integrations.models import AlertRule
from notifications.models import Channel, Delivery
from tests.factories import ServiceFactory, UserFactory
from tests.integration.harness import free_port, wait_for
from tests.integrations.conftest import ALERTMANAGER, fixture

REDIS_SERVER = shutil.which("redis-server")
PASSWORD = "a-long-enough-password-42"

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(REDIS_SERVER is None, reason="needs redis-server (apt-get install redis-server)"),
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("committed_db"),
]


class OwnRedis:
    """A redis-server of this test only: no persistence, so a restart starts empty as a lost
    Redis would."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            cwd=self.workdir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.2)
        wait_for(lambda: _pings(client), timeout=10, what="redis-server to answer")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


@pytest.fixture
def own_redis(tmp_path, settings, monkeypatch) -> Iterator[OwnRedis]:
    """Production's use of Redis, pointed at this test's own server: the cache (failing open),
    cached_db sessions and the Celery broker."""
    server = OwnRedis(tmp_path)
    server.start()
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": server.url,
            "OPTIONS": {"IGNORE_EXCEPTIONS": True, "SOCKET_CONNECT_TIMEOUT": 1, "SOCKET_TIMEOUT": 1},
        }
    }
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
    # Celery reads a Django-namespaced setting first (CELERY_BROKER_URL), then broker_url.
    monkeypatch.setitem(celery_app.conf, "CELERY_BROKER_URL", server.url)
    monkeypatch.setattr(celery_app.conf, "broker_url", server.url)
    assert celery_app.conf.broker_write_url == server.url
    # The app keeps its producer pool for the broker it first connected to.
    monkeypatch.setattr(celery_app, "_pool", None)
    monkeypatch.setattr(celery_app.amqp, "_producer_pool", None)
    yield server
    server.stop()


def _login(username: str) -> Client:
    client = Client()
    response = client.post("/accounts/login/", {"username": username, "password": PASSWORD})
    assert response.status_code == 302, "logged in"
    return client


def _get(client: Client, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, path
    return response.content.decode()


def test_every_page_and_write_works_while_redis_is_down_and_caching_resumes_after(own_redis):
    lead = UserFactory(role="responder", username="lead")
    lead.set_password(PASSWORD)
    lead.save()
    checkout = ServiceFactory(name="Checkout", slug="checkout")
    AlertRule.objects.create(
        name="Checkout critical",
        matchers={"service": "checkout", "severity": "critical"},
        severity=SeverityPolicy.objects.get(key="SEV1"),
        service=checkout,
    )
    # A webhook for SEV2, so declaring queues a delivery task (into the broker that will be down).
    SeverityPolicy.objects.filter(key="SEV2").update(webhook_url="http://127.0.0.1:9/incidents")
    _source, alert_token = integration_services.alert_source_create(name="prometheus")
    api_token = services.api_token_create(user=lead, name="script")[1]
    browser = _login("lead")
    _get(browser, "/")  # the session is now in Redis too

    own_redis.stop()

    # Logged in before the outage: the session comes from the database.
    for path in ("/", "/runbooks/", "/status/", "/status.json", "/notifications/"):
        _get(browser, path)
    # Logging in and out.
    other = _login("lead")
    assert other.post("/accounts/logout/").status_code == 302
    assert other.get("/").status_code == 302, "logged out"

    # Declaring in the browser queues its notifications into a broker that is down.
    severity = SeverityPolicy.objects.get(key="SEV2")
    response = browser.post("/incidents/new/", {"title": "Checkout down", "severity": severity.pk})
    assert response.status_code == 302
    incident = Incident.objects.get(title="Checkout down")
    assert Delivery.objects.filter(channel=Channel.WEBHOOK).exists(), "a delivery was queued"
    page = incident.get_absolute_url()
    assert "Checkout down" in _get(browser, page)
    update = {"status": "identified", "progress": "Bad deploy", "visibility": "internal"}
    assert browser.post(f"{page}updates/", update).status_code == 302
    assert browser.post(f"{page}status/", {"status": "resolved"}).status_code == 302
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.RESOLVED

    # The API declare that answers 201 saved exactly one incident.
    response = Client().post(
        "/api/v1/incidents/",
        json.dumps({"title": "Payments down", "severity": "SEV2"}),
        content_type="application/json",
        headers={"Authorization": f"Bearer {api_token}"},
        secure=True,
    )
    assert response.status_code == 201
    assert Incident.objects.filter(title="Payments down").count() == 1

    # An alert that fires during the outage opens an incident.
    response = Client().post(
        ALERTMANAGER,
        json.dumps(fixture("alertmanager_firing")),
        content_type="application/json",
        headers={"Authorization": f"Bearer {alert_token}"},
        secure=True,
    )
    assert response.status_code == 200
    assert len(response.json()["declared"]) == 1

    own_redis.start()

    # Pages are cached again, and show every write of the outage.
    for _ in range(2):
        dashboard = _get(browser, "/")
        assert "Payments down" in dashboard
        assert "Checkout API error rate above 2%" in dashboard
        assert 'status-resolved">Resolved' in _get(browser, page)
    client = redis.Redis.from_url(own_redis.url)
    assert any(b"page:" in key for key in client.scan_iter()), "the dashboard was cached"


def test_a_page_answers_within_seconds_when_redis_never_started(own_redis):
    """Redis stopped before the web process first used it, as on a machine where it never came up."""
    own_redis.stop()
    user = UserFactory(role="responder", username="early")
    user.set_password(PASSWORD)
    user.save()
    started = time.monotonic()
    browser = _login("early")
    _get(browser, "/")
    assert time.monotonic() - started < 10


def test_login_lockout_holds_while_redis_is_down(own_redis, settings):
    """django-axes records failed logins in PostgreSQL: an outage does not reset or lift a lock."""
    UserFactory(role="responder", username="target")
    own_redis.stop()
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        assert client.post("/accounts/login/", {"username": "target", "password": "guess"}).status_code in (200, 429)
    response = client.post("/accounts/login/", {"username": "target", "password": "correct horse battery staple"})
    assert response.status_code == 429
