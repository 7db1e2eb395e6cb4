"""The dashboard and the incident page, whole, from the cache.

Both pages are reloaded every few seconds by everyone watching an incident, and rendering them
costs ten to a hundred times a bare Django view. So each is rendered once for all the readers who
would get the same bytes, and kept under everything its rendering depends on:

- the versions of the data it shows (config.versions: every service write bumps its app's),
- the minute (ages and countdowns are rendered to the minute; static/js/app.js keeps them exact),
  which also bounds how long a change made outside the services (the admin) can go unseen,
- the reader's time zone, role (can_respond) and is_staff (the Admin link),
- the path, query string and htmx fragment, and a page's own variant (views.incident_detail's
  "may this reader push the next update").

What differs per reader is rendered as a placeholder and swapped in on every serve: the CSRF
token, the reader's name and the reader slots ({% reader_slot %}, such as "my action items"),
which are cached per reader under the same key. A request with flash messages to show, or when
the cache cannot answer or settings.PAGE_CACHE is off, renders the page from the database and
caches nothing."""

import hashlib
import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

from django.conf import settings
from django.contrib.messages import get_messages
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from config.versions import versions_get
from core.permissions import can_respond
from incidents import registry

logger = logging.getLogger(__name__)

PAGE_CACHE_SECONDS = 120
# HTML comments: escaped text can never contain one, and Markdown is sanitized without them.
CSRF_PLACEHOLDER = mark_safe("<!--reader:csrf-token-->")
NAME_PLACEHOLDER = mark_safe("<!--reader:name-->")
SLOT_PLACEHOLDER = "<!--reader:slot:{}-->"
_PLACEHOLDER = re.compile(r"(<!--reader:(?:csrf-token|name|slot:\d+)-->)")
# What a rendering for the cache must never hold: a CSRF token that is not the placeholder.
_PERSONAL = re.compile(r'csrfmiddlewaretoken" value="(?!<!--reader)|"X-CSRFToken": "(?!<!--reader)')


class _Recent:
    """The newest `size` values, kept in this process in front of the cache, so a warm request
    moves no HTML over the network. Locked: a threaded worker serves requests side by side."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.values: OrderedDict[str, Any] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: str) -> Any:
        with self.lock:
            value = self.values.get(key)
            if value is not None:
                self.values.move_to_end(key)
        return value

    def set(self, key: str, value: Any) -> None:
        with self.lock:
            self.values[key] = value
            self.values.move_to_end(key)
            while len(self.values) > self.size:
                self.values.popitem(last=False)

    def clear(self) -> None:
        with self.lock:
            self.values.clear()


# Pages: a few megabytes at most. Reader slots are small and one per reader, so they have their
# own room and never push the pages out.
_local_pages = _Recent(64)
_local_slots = _Recent(2048)

Render = Callable[[dict[str, Any]], tuple[str, Hashable]]


def forget_local() -> None:
    """Empty this process's copies (tests: a version may come round again)."""
    _local_pages.clear()
    _local_slots.clear()


def _shared_get(local: _Recent, key: str) -> Any:
    value = local.get(key)
    if value is None:
        try:
            value = cache.get(key)
        except Exception:
            logger.warning("Page cache unavailable", exc_info=True)
            return None
        if value is not None:
            local.set(key, value)
    return value


def _shared_set(local: _Recent, key: str, value: Any) -> None:
    local.set(key, value)
    try:
        cache.set(key, value, PAGE_CACHE_SECONDS)
    except Exception:
        logger.warning("Page cache unavailable", exc_info=True)


def _hash(parts: tuple) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()


def _has_messages(request: HttpRequest) -> bool:
    # len() reads the pending messages without marking them shown.
    return len(get_messages(request)) > 0


def cached_page(
    request: HttpRequest,
    *,
    page: str,
    parts: tuple,
    render: Render,
    variant: Callable[[Hashable], Hashable] = lambda meta: None,
    cacheable: Callable[[Hashable], bool] = lambda meta: True,
) -> HttpResponse:
    """The page `render` draws for this reader, from the cache when it holds it.

    `render(extra)` renders the page with `extra` added to its context and returns the HTML and
    whatever `variant` needs (such as the incident's lead). `parts` are the page's own inputs
    (the incident, the fragment); the reader's zone, role and the versions are added here.
    `variant(meta)` tells the readers apart who share a key but not the page; a page whose
    `cacheable(meta)` is false is served but not kept (the page met a parameter it does not know)."""
    cache_off = not settings.PAGE_CACHE or _has_messages(request)
    versions = None if cache_off else versions_get(registry.page_data())
    if versions is None:
        html, _meta = render({})
        return HttpResponse(html)
    user = request.user
    key = "page:" + _hash(
        (
            page,
            parts,
            tuple(versions.values()),
            timezone.now().strftime("%Y%m%d%H%M"),
            timezone.get_current_timezone_name(),
            can_respond(user),
            user.is_staff,
        )
    )
    entry = _shared_get(_local_pages, key)
    stored = None
    if entry is not None:
        stored = entry["pages"].get(variant(entry["meta"]))
    if stored is None:
        slots: list[str] = []
        html, meta = render({"csrf_token": CSRF_PLACEHOLDER, "reader_name": NAME_PLACEHOLDER, "reader_slots": slots})
        stored = (_split(html), slots)
        if not cacheable(meta):
            return HttpResponse(_personalize(request, None, *stored))
        if _PERSONAL.search(html):
            logger.error("%s rendered a reader's CSRF token into the shared page; not cached", page)
            return HttpResponse(_personalize(request, None, *stored))
        pages = dict(entry["pages"]) if entry is not None and entry["meta"] == meta else {}
        pages[variant(meta)] = stored
        _shared_set(_local_pages, key, {"meta": meta, "pages": pages})
    return HttpResponse(_personalize(request, key, *stored))


def _split(html: str) -> list[bytes | str]:
    """The page as text and placeholders by turns, the text encoded once for every serve."""
    pieces = _PLACEHOLDER.split(html)
    return [piece.encode() if index % 2 == 0 else piece for index, piece in enumerate(pieces)]


def _personalize(request: HttpRequest, key: str | None, pieces: list[bytes | str], slots: list[str]) -> bytes:
    # Django masks the reader's secret afresh for every call, so no two serves repeat it (BREACH).
    token = get_token(request)
    user = request.user
    values = {
        CSRF_PLACEHOLDER: token.encode(),
        NAME_PLACEHOLDER: escape(user.get_full_name() or user.get_username()).encode(),
    }
    for index, template_name in enumerate(slots):
        slot = reader_slot(request, key, template_name)
        values[SLOT_PLACEHOLDER.format(index)] = slot.replace(CSRF_PLACEHOLDER, token).encode()
    return b"".join(piece if index % 2 == 0 else values[piece] for index, piece in enumerate(pieces))


def reader_slot(request: HttpRequest, page_key: str | None, template_name: str) -> SafeString:
    """A part of a cached page that differs per reader (their action items), rendered from the
    request's context alone and cached for this reader under the page's key (if the page is kept)."""
    key = f"slot:{page_key}:{template_name}:{request.user.pk}"
    html = None if page_key is None else _shared_get(_local_slots, key)
    if html is None:
        html = render_to_string(template_name, {"csrf_token": CSRF_PLACEHOLDER}, request)
        if page_key is not None:
            _shared_set(_local_slots, key, html)
    return mark_safe(html)  # noqa: S308 - our own render
