"""Django's Redis cache backend, keeping its redis.Redis clients, with a near cache for reads.

Django builds a new redis.Redis for every cache operation, and building one copies the client's
table of some 170 response callbacks: about 0.3 ms, more than the Redis round trip itself, paid
by every session load and every cached page. A client is safe to share (it takes a connection
from its pool per command), so one is kept per connection pool.

`get_many_near` answers from this process's copy of the keys it read before, which Redis keeps
exact (config.near_cache); the session and page versions every page reads come that way."""

import logging

from django.core.cache.backends import redis

from config.near_cache import NearCache, NearCacheUnavailable, near_cache

logger = logging.getLogger(__name__)


class RedisCacheClient(redis.RedisCacheClient):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, object] = {}

    def get_client(self, key=None, *, write=False):
        index = self._get_connection_pool_index(write)
        client = self._clients.get(index)
        if client is None:
            client = self._clients[index] = super().get_client(key, write=write)
        return client


class RedisCache(redis.RedisCache):
    def __init__(self, server, params) -> None:
        super().__init__(server, params)
        self._class = RedisCacheClient
        # One plain redis:// server: replicas would answer reads the primary's notices do not cover.
        single = len(self._servers) == 1 and self._servers[0].startswith("redis://")
        self._near: NearCache | None = near_cache(self._servers[0]) if single else None

    def get_many_near(self, keys: list[str]) -> dict:
        """`get_many`, from this process's near cache where Redis says nothing changed."""
        if self._near is None:
            return self.get_many(keys)
        made = {self.make_key(key).encode(): key for key in keys}
        try:
            found = self._near.get_many(list(made))
        except NearCacheUnavailable:
            logger.warning("Near cache unavailable; reading from Redis", exc_info=True)
            return self.get_many(keys)
        loads = self._cache._serializer.loads
        return {made[key]: loads(value) for key, value in found.items()}
