"""The near cache (config.near_cache) answers from this process only while Redis says nothing
changed: a logged-out session or a new page version is never served from the copy. Real Redis."""

import time

import pytest
import redis
from django.conf import settings
from django.core.cache import cache
from django.test import Client

from config.near_cache import NearCache, NearCacheUnavailable
from config.versions import INCIDENTS, version_bump, version_key, versions_get

pytestmark = pytest.mark.redis


@pytest.fixture
def server():
    client = redis.Redis.from_url(settings.REDIS_URL)
    yield client
    client.close()


@pytest.fixture
def near():
    near = NearCache(settings.REDIS_URL)
    yield near
    near.forget_all()


def mgets(server: redis.Redis) -> int:
    return int(server.info("commandstats").get("cmdstat_mget", {}).get("calls", 0))


def test_a_value_read_again_comes_from_this_process(server, near):
    server.set(b"near:a", b"1")
    assert near.get_many([b"near:a", b"near:missing"]) == {b"near:a": b"1"}
    before = mgets(server)
    assert near.get_many([b"near:a"]) == {b"near:a": b"1"}
    assert mgets(server) == before


def test_a_change_made_elsewhere_is_seen_on_the_next_read(server, near):
    server.set(b"near:a", b"1")
    server.set(b"near:b", b"2")
    near.get_many([b"near:a", b"near:b"])
    server.set(b"near:a", b"10")
    server.delete(b"near:b")
    assert near.get_many([b"near:a", b"near:b"]) == {b"near:a": b"10"}


def test_a_key_that_expires_is_gone_from_the_copy_too(server, near):
    server.set(b"near:a", b"1", px=200)
    assert near.get_many([b"near:a"]) == {b"near:a": b"1"}
    time.sleep(0.25)
    assert near.get_many([b"near:a"]) == {}


def test_a_flush_empties_the_copy(server, near):
    server.set(b"near:a", b"1")
    near.get_many([b"near:a"])
    server.flushdb()
    assert near.get_many([b"near:a"]) == {}


@pytest.mark.parametrize("closed", ["notices", "reads"])
def test_a_connection_redis_closed_is_noticed_and_nothing_stale_is_served(server, near, closed):
    """With either connection gone Redis would send no more notices for the keys read: CLIENT
    KILL, a restart, or its idle `timeout` (which spares only the subscribed connection)."""
    server.set(b"near:a", b"1")
    near.get_many([b"near:a"])
    flag = "P" if closed == "notices" else "t"
    victims = [client["id"] for client in server.client_list() if flag in client["flags"]]
    assert victims
    for client_id in victims:
        server.client_kill_filter(_id=client_id)
    server.set(b"near:a", b"2")
    assert near.get_many([b"near:a"]) == {b"near:a": b"2"}
    server.set(b"near:a", b"3")
    assert near.get_many([b"near:a"]) == {b"near:a": b"3"}


def test_an_unreachable_redis_is_reported_not_guessed():
    near = NearCache("redis://127.0.0.1:1/0")
    with pytest.raises(NearCacheUnavailable):
        near.get_many([b"near:a"])


@pytest.fixture
def redis_sessions(settings):
    """The cache and sessions as production has them (tests otherwise use a per-process cache)."""
    settings.CACHES = {
        "default": {"BACKEND": "config.cache.RedisCache", "LOCATION": settings.REDIS_URL, "KEY_PREFIX": "near-test"}
    }
    settings.SESSION_ENGINE = "config.cached_sessions"
    yield
    cache.clear()


@pytest.mark.django_db
def test_a_session_logged_out_in_another_process_is_refused_here(redis_sessions, django_user_model):
    user = django_user_model.objects.create_user("near-reader", password="secret-words-42")
    browser = Client()
    browser.force_login(user)
    assert browser.get("/").status_code == 200
    assert browser.get("/").status_code == 200  # now served with the session from the near cache
    # Another process logs the session out: its row and its cache entry go.
    session_key = browser.cookies[settings.SESSION_COOKIE_NAME].value
    server = redis.Redis.from_url(settings.REDIS_URL)
    server.delete(cache.make_key(f"django.contrib.sessions.cached_db{session_key}"))
    server.close()
    from django.contrib.sessions.models import Session

    Session.objects.filter(session_key=session_key).delete()
    response = browser.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith(settings.LOGIN_URL)


@pytest.mark.django_db
def test_a_page_version_bumped_elsewhere_is_read_afresh(redis_sessions):
    versions_get([INCIDENTS])
    near_read = cache.get_many_near([version_key(INCIDENTS)])
    version_bump(INCIDENTS)
    assert cache.get_many_near([version_key(INCIDENTS)]) != near_read
