"""Django's Redis cache backend, keeping its redis.Redis clients.

Django builds a new redis.Redis for every cache operation, and building one copies the client's
table of some 170 response callbacks: about 0.3 ms, more than the Redis round trip itself, paid
by every session load and every cached page. A client is safe to share (it takes a connection
from its pool per command), so one is kept per connection pool."""

from django.core.cache.backends import redis


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
