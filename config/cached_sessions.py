"""django.contrib.sessions' cached_db sessions, read together with the page versions.

Every logged-in page reads its session from the cache, and the cached dashboard and incident page
(incidents.pages) then ask the cache for the page versions (config.versions): two Redis round
trips where one will do. On a loaded machine each round trip also waits for Redis to be
scheduled, so a cached page paid for two of them what a bare view never pays. This store reads
the session and the versions in one MGET and keeps the versions on the session, for the request
that loaded it; a session missing from the cache is read from the database as cached_db does.
Where the cache can (config.cache), the MGET is answered from this process's near cache, which
Redis keeps exact: most requests then read both without a round trip."""

from django.conf import settings
from django.contrib.sessions.backends import cached_db

from config.versions import version_key, versions_found


class SessionStore(cached_db.SessionStore):
    def __init__(self, session_key: str | None = None) -> None:
        super().__init__(session_key)
        self.page_versions: dict[str, str] | None = None

    def load(self) -> dict:
        names = settings.PAGE_VERSIONS
        try:
            keys = [self.cache_key, *(version_key(name) for name in names)]
            read = getattr(self._cache, "get_many_near", self._cache.get_many)
            found = read(keys)
        except Exception:
            return super().load()
        self.page_versions = versions_found(names, found)
        data = found.get(self.cache_key)
        return super().load() if data is None else data
