"""Serve the public status page, its JSON and its feed before the rest of the middleware.

They are the same for every reader and need no session, user, CSRF token or time zone; under
load the per-request work of those middlewares (and URL resolution) costs more than the cached
page itself. Placed right after WhiteNoise, as static files are served, so the page keeps up with
a static file (bench/status_page.py). Everything else passes through untouched."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from statuspage import views

PUBLIC = {
    "/status/": views.page,
    "/status.json": views.summary_json,
    "/status/feed.atom": views.feed,
    "/status/brand.css": views.brand_css,
}


class PublicStatusPageMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        view = PUBLIC.get(request.path_info)
        if view is None or request.method not in ("GET", "HEAD"):
            return self.get_response(request)
        # HtmxMiddleware has not run yet; the page view reads request.htmx.
        request.htmx = request.headers.get("HX-Request") == "true"
        response = view(request)
        # What XFrameOptionsMiddleware would have added.
        response.setdefault("X-Frame-Options", "DENY")
        return response
