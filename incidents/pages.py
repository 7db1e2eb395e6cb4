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
the cache cannot answer, renders the page from the database as before and caches nothing."""

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
from incidents.permissions import can_respond

logger = logging.getLogger(__name__)

PAGE_CACHE_SECONDS = 120
# HTML comments: escaped text can never contain one, and Markdown is sanitized without them.
CSRF_PLACEHOLDER = mark_safe("<!--reader:csrf-token-->")
NAME_PLACEHOLDER = mark_safe("<!--reader:name-->")
SLOT_PLACEHOLDER = "<!--reader:slot:{}-->"
# What a rendering for the cache must never hold: a CSRF token that is not the placeholder.
_PERSONAL = re.compile(r'csrfmiddlewaretoken" value="(?!<!--reader)|"X-CSRFToken": "(?!<!--reader)')
# Rendered pages kept in this process in front of the cache, so a warm request moves no HTML
# over the network: the newest of them, a few megabytes at most.
LOCAL_PAGES = 64

_local: OrderedDict[str, Any] = OrderedDict()
# A threaded worker serves several requests at once.
_local_lock = threading.Lock()

Render = Callable[[dict[str, Any]], tuple[str, Hashable]]


def _local_get(key: str) -> Any:
    with _local_lock:
        value = _local.get(key)
        if value is not None:
            _local.move_to_end(key)
    return value


def _local_set(key: str, value: Any) -> None:
    with _local_lock:
        _local[key] = value
        _local.move_to_end(key)
        while len(_local) > LOCAL_PAGES:
            _local.popitem(last=False)


def _shared_get(key: str) -> Any:
    value = _local_get(key)
    if value is None:
        try:
            value = cache.get(key)
        except Exception:
            logger.warning("Page cache unavailable", exc_info=True)
            return None
        if value is not None:
            _local_set(key, value)
    return value


def _shared_set(key: str, value: Any) -> None:
    _local_set(key, value)
    try:
        cache.set(key, value, PAGE_CACHE_SECONDS)
    except Exception:
        logger.warning("Page cache unavailable", exc_info=True)


def _hash(parts: tuple) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()


def _has_messages(request: HttpRequest) -> bool:
    # len() reads the pending messages without marking them shown.
    return len(get_messages(request)) > 0


def _versions(request: HttpRequest) -> dict[str, str] | None:
    # Read with the session when its store does (config.cached_sessions): the same request, one round trip.
    versions = getattr(request.session, "page_versions", None)
    return versions if versions is not None else versions_get(settings.PAGE_VERSIONS)


def cached_page(
    request: HttpRequest,
    *,
    page: str,
    parts: tuple,
    render: Render,
    variant: Callable[[Hashable], Hashable] = lambda meta: None,
) -> HttpResponse:
    """The page `render` draws for this reader, from the cache when it holds it.

    `render(extra)` renders the page with `extra` added to its context and returns the HTML and
    whatever `variant` needs (such as the incident's lead). `parts` are the page's own inputs
    (the incident, the fragment); the reader's zone, role and the versions are added here.
    `variant(meta)` tells the readers apart who share a key but not the page."""
    versions = None if _has_messages(request) else _versions(request)
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
    entry = _shared_get(key)
    html = None
    if entry is not None:
        html = entry["pages"].get(variant(entry["meta"]))
    if html is None:
        slots: list[str] = []
        html, meta = render({"csrf_token": CSRF_PLACEHOLDER, "reader_name": NAME_PLACEHOLDER, "reader_slots": slots})
        if _PERSONAL.search(html):
            logger.error("%s rendered a reader's CSRF token into the shared page; not cached", page)
            return HttpResponse(_personalize(request, key, html, slots))
        pages = dict(entry["pages"]) if entry is not None and entry["meta"] == meta else {}
        pages[variant(meta)] = (html, slots)
        _shared_set(key, {"meta": meta, "pages": pages})
    else:
        html, slots = html
    return HttpResponse(_personalize(request, key, html, slots))


def _personalize(request: HttpRequest, key: str, html: str, slots: list[str]) -> str:
    user = request.user
    for index, template_name in enumerate(slots):
        html = html.replace(SLOT_PLACEHOLDER.format(index), reader_slot(request, key, template_name))
    name = user.get_full_name() or user.get_username()
    return html.replace(CSRF_PLACEHOLDER, get_token(request)).replace(NAME_PLACEHOLDER, escape(name))


def reader_slot(request: HttpRequest, page_key: str, template_name: str) -> SafeString:
    """A part of a cached page that differs per reader (their action items), rendered from the
    request's context alone and cached for this reader under the page's key."""
    key = f"slot:{page_key}:{template_name}:{request.user.pk}"
    html = _shared_get(key)
    if html is None:
        html = render_to_string(template_name, {"csrf_token": CSRF_PLACEHOLDER}, request)
        _shared_set(key, html)
    return mark_safe(html)  # noqa: S308 - our own render
