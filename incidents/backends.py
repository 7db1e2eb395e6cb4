"""Who is asking, without a query on every page view.

Every page view needs the logged-in user and their role; read from the database that is two
queries, as much as a cached page costs otherwise. A safe request (GET, HEAD, OPTIONS) gets the
user this process loaded at most USER_CACHE_SECONDS ago, with can_respond remembered on it; a
copy, so nothing one request sets on it leaks into another. Any other method (a write) loads the
user afresh, so every write is allowed or refused on current data.

The price is bounded staleness for reading: a user whose role is removed, or who is deactivated,
keeps reading pages as before for up to USER_CACHE_SECONDS in each worker process. Logging out is
immediate (the session is deleted on the server), and so is a password change made through the
session, which rotates the session's hash."""

import contextvars
import copy
import time

from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import AbstractBaseUser

from core.permissions import can_respond

USER_CACHE_SECONDS = 5.0
# A bound, not a working size: the users seen in the last few seconds.
USER_CACHE_MAX = 1000

# Set by incidents.middleware.SafeMethodMiddleware for the length of a safe request.
reading = contextvars.ContextVar("reading", default=False)

_users: dict[object, tuple[float, AbstractBaseUser]] = {}


class CachedReaderBackend(ModelBackend):
    """ModelBackend whose get_user remembers users for a few seconds, for safe requests only."""

    def get_user(self, user_id):
        if not reading.get():
            return super().get_user(user_id)
        now = time.monotonic()
        cached = _users.get(user_id)
        if cached is not None and cached[0] > now:
            return copy.copy(cached[1])
        user = super().get_user(user_id)
        if user is None:
            _users.pop(user_id, None)
            return None
        can_respond(user)
        if len(_users) >= USER_CACHE_MAX:
            _users.clear()
        _users[user_id] = (now + USER_CACHE_SECONDS, user)
        return copy.copy(user)
