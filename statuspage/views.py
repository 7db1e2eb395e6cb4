"""The public status page (no login), its JSON and Atom feed, subscriptions, and the responders'
page that sets component status.

The public page is the same for every reader, so it is rendered once per version (services bump
the version after every relevant commit) and served from the cache: no database, no session, no
CSRF cookie on a warm request. Conditional GETs get 304 on the ETag or Last-Modified."""

import gzip
import hashlib
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import get_conditional_response
from django.utils.http import http_date
from django.views.decorators.http import require_GET, require_http_methods, require_POST, require_safe
from django_htmx.middleware import HtmxDetails

from core.permissions import can_respond
from statuspage import errors, selectors, services
from statuspage.forms import ComponentStatusForm, SubscribeForm
from statuspage.models import Component

# A cached rendering is also dropped after this long, so time-driven changes (a maintenance window
# starting, the day bars rolling over) show within a minute without any write.
PAGE_CACHE_SECONDS = 60
# Browsers and proxies may keep the page this long without asking.
INVALID = 422


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


def _page_key(name: str) -> str:
    return f"statuspage:rendered:{name}"


# Each worker keeps the last rendering it served and asks the shared cache whether the version
# moved at most this often: a warm request then needs no network round trip at all. A write shows
# within this many seconds (plus the browsers' max-age).
LOCAL_CHECK_SECONDS = 1.0
_local: dict[str, tuple[float, dict]] = {}


def _entry(name: str, render_body: Callable[[], str]) -> dict:
    """The rendering of `name` at the current version: from this worker's memory when it checked
    the version less than LOCAL_CHECK_SECONDS ago, else from the shared cache (one round trip),
    else rendered now."""
    now = time.monotonic()
    local = _local.get(name)
    check_every = getattr(settings, "STATUS_PAGE_LOCAL_CHECK_SECONDS", LOCAL_CHECK_SECONDS)
    if local is not None and now - local[0] < check_every:
        return local[1]
    key = _page_key(name)
    found = cache.get_many([services.VERSION_KEY, key])
    version = found.get(services.VERSION_KEY) or services.page_version()
    entry = found.get(key)
    if entry is None or entry["version"] != version:
        # Public pages render in UTC: the cached copy is shared by every reader, whatever the
        # time zone cookie of the one who happened to miss.
        with timezone.override(UTC):
            body = render_body()
        entry = {
            "version": version,
            "body": body.encode(),
            # Most readers accept gzip: compressed once here, not once per request.
            "gzip": gzip.compress(body.encode(), compresslevel=6, mtime=0),
            "etag": '"' + hashlib.sha256(body.encode()).hexdigest()[:32] + '"',
            "last_modified": int(datetime.now(UTC).timestamp()),
        }
        cache.set(key, entry, PAGE_CACHE_SECONDS)
    _local[name] = (now, entry)
    return entry


def _cached_response(
    request: HttpRequest, name: str, content_type: str, render_body: Callable[[], str]
) -> HttpResponse:
    entry = _entry(name, render_body)
    compressed = "gzip" in request.headers.get("Accept-Encoding", "")
    # Each representation has its own entity tag.
    etag = entry["etag"][:-1] + '-gz"' if compressed else entry["etag"]
    response = get_conditional_response(request, etag=etag, last_modified=entry["last_modified"])
    if response is None:
        response = HttpResponse(entry["gzip"] if compressed else entry["body"], content_type=content_type)
        if compressed:
            response["Content-Encoding"] = "gzip"
    response["ETag"] = etag
    response["Last-Modified"] = http_date(entry["last_modified"])
    response["Cache-Control"] = f"public, max-age={settings.STATUS_PAGE_MAX_AGE_SECONDS}"
    response["Vary"] = "Accept-Encoding, HX-Request"
    return response


@require_safe
def page(request: HtmxHttpRequest) -> HttpResponse:
    template_name = "statuspage/page.html"
    name = "page"
    if request.htmx:
        template_name += "#status-body"
        name += "#status-body"
    return _cached_response(
        request,
        name,
        "text/html; charset=utf-8",
        lambda: render_to_string(template_name, selectors.page_data()),
    )


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value else None


def _json_body() -> str:
    data = selectors.page_data()

    def incident(item) -> dict[str, Any]:
        return {
            "id": item.public_id,
            "title": item.public_name,
            "summary": item.public_summary,
            "status": item.status,
            "impact": item.impact,
            "started_at": _iso(item.declared_at),
            "resolved_at": _iso(item.resolved_at),
            "components": [component.name for component in item.components],
            # Newest first, as on the page, the resolution included.
            "updates": (
                [{"status": "resolved", "posted_at": _iso(item.resolved_at), "text": item.resolution_note}]
                if item.resolution_note
                else []
            )
            + [
                {"status": update.status, "posted_at": _iso(update.posted_at), "text": update.progress}
                for update in item.public_updates
            ],
        }

    def window(item) -> dict[str, Any]:
        return {
            "title": item.title,
            "description": item.description,
            "starts_at": _iso(item.starts_at),
            "ends_at": _iso(item.ends_at),
            "components": [component.name for component in item.component_list],
        }

    return json.dumps(
        {
            "page": {
                "title": data["settings"].title,
                "url": settings.SITE_URL + reverse("statuspage:page"),
                "updated_at": _iso(data["now"]),
            },
            "status": {"indicator": data["overall"], "description": data["overall_label"]},
            "components": [
                {
                    "name": item.name,
                    "group": item.component.group.name if item.component.group else None,
                    "status": item.status,
                }
                for item in data["components"]
            ],
            "incidents": [incident(item) for item in data["active_incidents"]],
            "maintenance": [window(item) for item in data["maintenance_now"] + data["maintenance_upcoming"]],
            "history": [incident(item) for item in data["resolved_incidents"]],
        },
        indent=1,
    )


@require_safe
def brand_css(request: HttpRequest) -> HttpResponse:
    """The status page settings' colours as a style sheet, cached like the page: the
    Content-Security-Policy allows no inline style."""
    return _cached_response(
        request,
        "brand.css",
        "text/css; charset=utf-8",
        lambda: render_to_string("statuspage/brand.css", {"settings": selectors.settings_get()}),
    )


@require_safe
def summary_json(request: HttpRequest) -> HttpResponse:
    response = _cached_response(request, "json", "application/json", _json_body)
    response["Access-Control-Allow-Origin"] = "*"
    return response


@require_safe
def feed(request: HttpRequest) -> HttpResponse:
    def body() -> str:
        data = selectors.page_data()
        data["feed_incidents"] = data["active_incidents"] + data["resolved_incidents"]
        # SITE_URL, not the request's host: the cached feed is shared by every reader.
        data["page_url"] = settings.SITE_URL + reverse("statuspage:page")
        data["feed_url"] = settings.SITE_URL + reverse("statuspage:feed")
        return render_to_string("statuspage/feed.atom", data)

    return _cached_response(request, "feed", "application/atom+xml; charset=utf-8", body)


# --- Subscribing -------------------------------------------------------------------------------


@require_GET
def subscribe_form(request: HttpRequest) -> HttpResponse:
    return render(request, "statuspage/subscribe.html", {"form": SubscribeForm(), "settings": selectors.settings_get()})


@require_POST
def subscribe(request: HttpRequest) -> HttpResponse:
    form = SubscribeForm(request.POST)
    status = INVALID
    if form.is_valid():
        try:
            # REMOTE_ADDR, as django-axes reads it: behind a proxy every reader shares its address.
            services.subscriber_subscribe(email=form.cleaned_data["email"], client_ip=request.META["REMOTE_ADDR"])
        except ValidationError as error:
            form.add_error("email", error.message_dict.get("email", error.messages))
            if errors.TOO_MANY_SUBSCRIPTIONS in error.messages:
                status = 429
        else:
            return redirect(reverse("statuspage:notice", kwargs={"what": "sent"}))
    return render(
        request,
        "statuspage/subscribe.html",
        {"form": form, "settings": selectors.settings_get()},
        status=status,
    )


NOTICES = {"sent": errors.SUBSCRIBE_SENT, "confirmed": errors.CONFIRMED, "unsubscribed": errors.UNSUBSCRIBED}


@require_GET
def notice(request: HttpRequest, what: str) -> HttpResponse:
    if what not in NOTICES:
        raise Http404
    return render(request, "statuspage/notice.html", {"message": NOTICES[what], "settings": selectors.settings_get()})


def _token_page(
    request: HttpRequest, token: str, *, action: Callable[..., object], done: str, button: str
) -> HttpResponse:
    """GET shows a button, POST acts: mail scanners that fetch every link must not confirm or
    unsubscribe anyone."""
    context = {"settings": selectors.settings_get(), "button": button}
    if request.method == "POST":
        try:
            action(token=token)
        except ValidationError:
            return render(request, "statuspage/notice.html", {**context, "message": errors.INVALID_LINK}, status=404)
        return redirect(reverse("statuspage:notice", kwargs={"what": done}))
    return render(request, "statuspage/token.html", context)


@require_http_methods(["GET", "POST"])
def confirm(request: HttpRequest, token: str) -> HttpResponse:
    return _token_page(
        request, token, action=services.subscriber_confirm, done="confirmed", button="Confirm subscription"
    )


@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    return _token_page(
        request, token, action=services.subscriber_unsubscribe, done="unsubscribed", button="Unsubscribe"
    )


# --- Responders set component status --------------------------------------------------------


def _require_responder(request: HttpRequest) -> None:
    if not can_respond(request.user):
        raise PermissionDenied("Only responders can set component status.")


@login_required
@require_GET
def manage(request: HtmxHttpRequest) -> HttpResponse:
    _require_responder(request)
    template_name = "statuspage/manage.html"
    if request.htmx:
        template_name += "#components"
    return render(request, template_name, _manage_context())


def _manage_context(**extra: Any) -> dict[str, Any]:
    components = selectors.components_for_manage()
    forms = {component.pk: ComponentStatusForm(initial={"status": component.manual_status}) for component in components}
    forms.update(extra.pop("forms", {}))
    return {"rows": [(component, forms[component.pk]) for component in components], **extra}


@login_required
@require_POST
def component_status_set(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    _require_responder(request)
    component = get_object_or_404(Component, pk=pk)
    form = ComponentStatusForm(request.POST)
    status = 200
    flash = ""
    if form.is_valid():
        try:
            services.component_status_set(component=component, status=form.cleaned_data["status"], actor=request.user)
        except ValidationError as error:
            form.add_error("status", error.messages)
        else:
            if not request.htmx:
                return redirect(reverse("statuspage:manage"))
            flash = f"{component.name}: status set."
    if form.errors:
        status = INVALID
    template_name = "statuspage/manage.html"
    if request.htmx:
        template_name += "#components"
    context = _manage_context(forms={component.pk: form} if form.errors else {}, flash=flash)
    context["replace_messages"] = bool(request.htmx)
    return render(request, template_name, context, status=status)
