import zoneinfo
from collections.abc import Callable
from functools import cache, lru_cache
from urllib.parse import unquote

from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone

from incidents.backends import reading

TIME_ZONE_COOKIE = "tz"


@lru_cache(maxsize=512)
def _zone(name: str) -> zoneinfo.ZoneInfo | None:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None


class ViewerTimezoneMiddleware:
    """Render times in the viewer's time zone. The browser reports it in the `tz` cookie
    (static/js/app.js sets it); without one, the server's TIME_ZONE applies."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        zone = _zone(unquote(request.COOKIES.get(TIME_ZONE_COOKIE, ""))[:64])
        if zone is None:
            timezone.deactivate()
        else:
            timezone.activate(zone)
        return self.get_response(request)


@cache
def _admin_prefix() -> str:
    return reverse("admin:index")


class SafeMethodMiddleware:
    """Tells incidents.backends.CachedReaderBackend that this request only reads (GET, HEAD,
    OPTIONS), so the user may come from its few-seconds cache; a write loads the user afresh. So
    does the admin, even to read: who may see users, tokens and policy follows a change at once."""

    SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        reads = request.method in self.SAFE_METHODS and not request.path_info.startswith(_admin_prefix())
        token = reading.set(reads)
        try:
            return self.get_response(request)
        finally:
            reading.reset(token)
