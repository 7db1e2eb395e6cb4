"""Versions of the data that cached pages show, one per app, kept in the cache (Redis in
production, the per-process cache on the embedded default).

A page rendered from an app's data is cached under the versions it read, so a reader asks the
cache one MGET instead of the database. Each app's service module decorates its writes with
`atomic_bumping(name)` instead of `transaction.atomic`, so every write bumps its app's version:
once as the transaction starts and again after it commits. A reader who renders between the two
caches the old data under a version the second bump replaces; the first bump makes a write
visible inside a transaction that never commits (a test's)."""

import functools
import logging
import secrets
from collections.abc import Callable, Sequence
from typing import ParamSpec, TypeVar

from django.core.cache import cache
from django.db import transaction

logger = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

INCIDENTS = "incidents"
RUNBOOKS = "runbooks"
POSTMORTEMS = "postmortems"
STATUS_PAGE = "statuspage"
ONCALL = "oncall"


def version_key(name: str) -> str:
    return f"version:{name}"


def versions_get(names: Sequence[str]) -> dict[str, str] | None:
    """Each name's current version, in one cache round trip. None when the cache cannot answer:
    the caller then renders from the database and caches nothing."""
    keys = [version_key(name) for name in names]
    try:
        found = cache.get_many(keys)
        missing = [key for key in keys if key not in found]
        if missing:
            # A fresh or flushed cache: any new value will do, as long as every reader agrees on it.
            for key in missing:
                cache.add(key, secrets.token_hex(8), timeout=None)
            found.update(cache.get_many(missing))
    except Exception:
        logger.warning("Page versions unavailable; rendering without the page cache", exc_info=True)
        return None
    if len(found) != len(keys):
        return None
    return {name: found[key] for name, key in zip(names, keys, strict=True)}


def _set(name: str) -> None:
    # The cache fails open (config/settings.py): with Redis down this is dropped, and the pages
    # cached before it expire with their minute (see incidents.pages).
    cache.set(version_key(name), secrets.token_hex(8), timeout=None)


def version_bump(name: str) -> None:
    """Now, and again once the surrounding transaction commits (at once outside one)."""
    _set(name)
    transaction.on_commit(functools.partial(_set, name))


def atomic_bumping(name: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """A decorator for the services of an app whose data a cached page shows: the service runs in
    `transaction.atomic` and bumps `name`'s version as it starts and after it commits."""

    def decorator(service: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(service)
        def bumping(*args: P.args, **kwargs: P.kwargs) -> R:
            with transaction.atomic():
                version_bump(name)
                return service(*args, **kwargs)

        return bumping

    return decorator


class BumpsPageVersion:
    """For a ModelAdmin whose model the cached pages show (a severity's name, a service, a due-date
    policy): each save or delete bumps `page_version`, so the change shows on the next read
    rather than when the minute in the page cache's key runs out. List-editable saves come
    through save_related too."""

    page_version: str

    def save_related(self, request, form, formsets, change) -> None:
        super().save_related(request, form, formsets, change)
        version_bump(self.page_version)

    def delete_model(self, request, obj) -> None:
        super().delete_model(request, obj)
        version_bump(self.page_version)

    def delete_queryset(self, request, queryset) -> None:
        super().delete_queryset(request, queryset)
        version_bump(self.page_version)
