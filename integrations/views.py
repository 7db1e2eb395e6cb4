"""The alert endpoints: a source's bearer token in, JSON out. Every refusal answers with its reason
and is kept for the admin (RejectedPayload), except a missing or wrong token, which is only logged:
storing whatever an anonymous caller sends would let anyone fill the table."""

import logging
from collections.abc import Callable
from datetime import datetime

from django.core.exceptions import RequestDataTooBig, ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from integrations import errors, payloads
from integrations.alerts import (
    alert_batch_receive,
    alert_source_for_token,
    alert_source_rate_check,
    generic_batch_check,
    rejected_payload_record,
)
from integrations.models import AlertSource, SourceKind
from integrations.payloads import ParsedBatch, PayloadError

logger = logging.getLogger(__name__)


def _refuse(
    request: HttpRequest, *, source: AlertSource | None, endpoint: str, status: int, reason: str, **headers: str
) -> JsonResponse:
    try:
        body = request.body
    except RequestDataTooBig:  # still refused with its reason, without the body
        body = b""
    rejected_payload_record(source=source, endpoint=endpoint, status_code=status, reason=reason, body=body)
    return JsonResponse({"error": reason}, status=status, headers=headers or None)


def _receive(request: HttpRequest, *, kind: str, parse: Callable[[dict, datetime], ParsedBatch]) -> HttpResponse:
    source = alert_source_for_token(request.headers.get("Authorization", ""))
    if source is None:
        logger.warning("alert endpoint %s: missing or invalid token from %s", kind, request.META.get("REMOTE_ADDR"))
        return JsonResponse({"error": errors.INVALID_TOKEN}, status=401, headers={"WWW-Authenticate": "Bearer"})
    if source.kind != kind:
        path = reverse(f"integrations:{source.kind}")
        reason = errors.WRONG_SOURCE_KIND.format(kind=source.get_kind_display(), path=path)
        return _refuse(request, source=source, endpoint=kind, status=400, reason=reason)
    rate = alert_source_rate_check(source=source)
    if not rate.allowed:
        reason = errors.RATE_LIMITED.format(limit=source.rate_limit_per_minute, seconds=rate.retry_after)
        headers = {"Retry-After": str(rate.retry_after)}
        if rate.count == source.rate_limit_per_minute + 1:
            # Kept once a minute per source: a flood must not become a flood of rows.
            return _refuse(request, source=source, endpoint=kind, status=429, reason=reason, **headers)
        return JsonResponse({"error": reason}, status=429, headers=headers)
    now = timezone.now()
    try:
        data = payloads.read_json_object(lambda: request.body)
        batch = parse(data, now)
        if kind == SourceKind.GENERIC:
            generic_batch_check(batch)
    except PayloadError as refused:
        return _refuse(request, source=source, endpoint=kind, status=refused.status, reason=refused.reason)
    try:
        outcome = alert_batch_receive(source=source, batch=batch, now=now)
    except ValidationError as refused:
        # The incident services refused what the alert would make (nothing was written).
        return _refuse(request, source=source, endpoint=kind, status=400, reason=" ".join(refused.messages))
    return JsonResponse({"status": "ok", **outcome.as_json()})


def _alert_endpoint(view: Callable[[HttpRequest], HttpResponse]) -> Callable[[HttpRequest], HttpResponse]:
    # A source's token, not a cookie, authenticates these: no CSRF token, nothing cached.
    return csrf_exempt(never_cache(require_POST(view)))


@_alert_endpoint
def alertmanager(request: HttpRequest) -> HttpResponse:
    """Prometheus Alertmanager's webhook_config, version 4."""
    return _receive(request, kind=SourceKind.ALERTMANAGER, parse=lambda data, now: payloads.alertmanager_batch(data))


@_alert_endpoint
def generic(request: HttpRequest) -> HttpResponse:
    """{title, severity, service, dedup_key, status, description, url} from any other tool."""
    return _receive(request, kind=SourceKind.GENERIC, parse=lambda data, now: payloads.generic_batch(data))
