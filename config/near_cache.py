"""Values of a few Redis keys kept in this process, as exact as Redis itself.

Every logged-in page reads its session and the page versions (config.cached_sessions) before
anything else. Asked of Redis each time, that read cost more than the whole cached page it
unlocks: a round trip, Django's cache layer and redis-py's around it, and Redis's own share of
the same two cores. Most of those reads find what the previous request of the same reader found.

So this process keeps what it read, and lets Redis say when a value changes: the connection that
reads asks for CLIENT TRACKING with its notices sent to a second connection of ours, subscribed to
`__redis__:invalidate`. From then on Redis names each key that changes, expires or is deleted
after we read it (and says "everything" on a flush). Before every lookup the notices waiting on
that second connection are read, without waiting, and their keys forgotten; only then are the
remaining values trusted. A notice is queued in the same Redis event-loop turn that answers the
command which caused it, so a change made by another process, whose author then answers a browser
that asks again, has its notice here long before the browser's next request.

Anything unexpected (the notice connection closed, say by a Redis restart, an error, a reply we
do not understand) drops every kept value and both connections; the next lookup connects again,
and one that cannot raises NearCacheUnavailable so that its caller takes the ordinary path.
Values are kept as the bytes Redis holds, until their own time to live runs out (read with them),
a notice names them, or `size` newer keys push them out."""

import contextlib
import os
import select
import socket
import threading
import time
from collections import OrderedDict
from urllib.parse import unquote, urlparse

import hiredis

INVALIDATE_CHANNEL = b"__redis__:invalidate"
CONNECT_TIMEOUT_SECONDS = 1.0
READ_TIMEOUT_SECONDS = 2.0


class NearCacheUnavailable(Exception):
    pass


def _command(*args: bytes | str | int) -> bytes:
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        value = arg if isinstance(arg, bytes) else str(arg).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(value), value))
    return b"".join(parts)


class _Connection:
    """One Redis connection speaking RESP2 through hiredis's parser."""

    def __init__(self, host: str, port: int) -> None:
        self.sock = socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_SECONDS)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.settimeout(READ_TIMEOUT_SECONDS)
        self.reader = hiredis.Reader()

    def call(self, *commands: bytes, replies: int = 1) -> list:
        self.sock.sendall(b"".join(commands))
        answers = []
        while len(answers) < replies:
            reply = self.reader.gets()
            if reply is False:
                data = self.sock.recv(65536)
                if not data:
                    raise ConnectionError("Redis closed the connection")
                self.reader.feed(data)
                continue
            if isinstance(reply, hiredis.ReplyError):
                raise ConnectionError(f"Redis answered {reply}")
            answers.append(reply)
        return answers

    def waiting(self) -> list:
        """The replies already here, without waiting for more."""
        while True:
            try:
                data = self.sock.recv(65536)
            except BlockingIOError:
                break
            if not data:
                raise ConnectionError("Redis closed the connection")
            self.reader.feed(data)
        replies = []
        while (reply := self.reader.gets()) is not False:
            replies.append(reply)
        return replies

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


class NearCache:
    def __init__(self, url: str, *, size: int = 10_000) -> None:
        parsed = urlparse(url)
        if parsed.scheme != "redis":
            raise ValueError(f"the near cache speaks plain redis:// only, not {parsed.scheme}://")
        self.host = parsed.hostname or "127.0.0.1"
        self.port = parsed.port or 6379
        self.password = unquote(parsed.password) if parsed.password else None
        self.username = unquote(parsed.username) if parsed.username else None
        self.db = int(parsed.path.strip("/") or 0)
        self.size = size
        self.values: OrderedDict[bytes, tuple[bytes, float]] = OrderedDict()
        self.lock = threading.Lock()
        self._reads: _Connection | None = None
        self._notices: _Connection | None = None
        self._pid = 0

    def get_many(self, keys: list[bytes]) -> dict[bytes, bytes]:
        """The values of those of `keys` that Redis holds. Raises NearCacheUnavailable when
        neither this process's copy nor Redis can answer."""
        with self.lock:
            # Twice: a connection Redis closed since the last lookup (a restart) is found out by
            # the first try, and the second starts afresh.
            for attempt in (1, 2):
                try:
                    self._connect_if_needed()
                    self._forget_changed()
                    return self._lookup(keys)
                except (OSError, ValueError, hiredis.ProtocolError) as error:
                    self._reset()
                    if attempt == 2:
                        raise NearCacheUnavailable(str(error)) from error
            raise AssertionError("unreachable")

    def forget_all(self) -> None:
        with self.lock:
            self._reset()

    def _lookup(self, keys: list[bytes]) -> dict[bytes, bytes]:
        now = time.monotonic()
        found: dict[bytes, bytes] = {}
        missing = []
        for key in keys:
            kept = self.values.get(key)
            if kept is not None and kept[1] > now:
                found[key] = kept[0]
                self.values.move_to_end(key)
            else:
                missing.append(key)
        if missing:
            assert self._reads is not None
            values, *ttls = self._reads.call(
                _command(b"MGET", *missing), *(_command(b"PTTL", key) for key in missing), replies=1 + len(missing)
            )
            for key, value, ttl in zip(missing, values, ttls, strict=True):
                if value is None:
                    continue
                found[key] = value
                # PTTL is -1 for a key that never expires; -2 if it went between the two reads.
                if ttl != -2:
                    self.values[key] = (value, now + ttl / 1000 if ttl >= 0 else float("inf"))
            while len(self.values) > self.size:
                self.values.popitem(last=False)
        return found

    def _forget_changed(self) -> None:
        assert self._notices is not None and self._reads is not None
        readable, _, _ = select.select([self._notices.sock, self._reads.sock], [], [], 0)
        if self._reads.sock in readable:
            # Nothing was asked: Redis closed it (CLIENT KILL, its idle `timeout`, which spares
            # the subscribed connection), and the keys it read are no longer tracked.
            raise ConnectionError("Redis closed the reading connection")
        if not readable:
            return
        for message in self._notices.waiting():
            if not (isinstance(message, list) and len(message) == 3 and message[0] == b"message"):
                raise ValueError(f"unexpected message on the invalidation channel: {message!r}")
            changed = message[2]
            if changed is None:  # FLUSHDB or FLUSHALL
                self.values.clear()
            else:
                for key in changed:
                    self.values.pop(key, None)

    def _connect_if_needed(self) -> None:
        if self._pid != os.getpid():
            # Forked: the sockets belong to the parent; this process needs its own.
            self._reads = self._notices = None
            self.values.clear()
            self._pid = os.getpid()
        if self._reads is not None:
            return
        notices = reads = None
        try:
            notices = self._open()
            (client_id,) = notices.call(_command(b"CLIENT", b"ID"))
            notices.call(_command(b"SUBSCRIBE", INVALIDATE_CHANNEL))
            # Read without ever waiting: a socket with a timeout would wait for data first.
            notices.sock.setblocking(False)
            reads = self._open()
            tracking = _command(b"CLIENT", b"TRACKING", b"ON", b"REDIRECT", client_id)
            reads.call(_command(b"SELECT", self.db), tracking, replies=2)
        except BaseException:
            for connection in (notices, reads):
                if connection is not None:
                    connection.close()
            raise
        # Whatever was kept was never tracked by these connections.
        self.values.clear()
        self._notices, self._reads = notices, reads

    def _open(self) -> _Connection:
        connection = _Connection(self.host, self.port)
        if self.password is not None:
            auth = (b"AUTH", self.username, self.password) if self.username else (b"AUTH", self.password)
            try:
                connection.call(_command(*auth))
            except BaseException:
                connection.close()
                raise
        return connection

    def _reset(self) -> None:
        self.values.clear()
        for connection in (self._reads, self._notices):
            if connection is not None:
                connection.close()
        self._reads = self._notices = None


_caches: dict[str, NearCache] = {}
_caches_lock = threading.Lock()


def near_cache(url: str) -> NearCache:
    """This process's near cache for the Redis at `url`."""
    with _caches_lock:
        cache = _caches.get(url)
        if cache is None:
            cache = _caches[url] = NearCache(url)
        return cache
