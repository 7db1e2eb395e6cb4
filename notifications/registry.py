"""How other apps plug into delivery without notifications knowing them: each registers from its
own AppConfig.ready()."""

from collections.abc import Callable

FailureHandler = Callable[..., None]
WebhookHeaders = Callable[..., dict[str, str]]

_failure_handlers: list[FailureHandler] = []
_webhook_headers: list[WebhookHeaders] = []


def register_failure_handler(handler: FailureHandler) -> None:
    """`handler(delivery=Delivery)` runs when a delivery has failed for the last time, so the app
    that asked for it can say so where people look (the incident's timeline)."""
    if handler not in _failure_handlers:
        _failure_handlers.append(handler)


def failure_report(*, delivery) -> None:
    for handler in _failure_handlers:
        handler(delivery=delivery)


def register_webhook_headers(make_headers: WebhookHeaders) -> None:
    """`make_headers(delivery=Delivery, body=bytes) → headers` adds headers to every outbound
    webhook, e.g. a signature made with a secret that only the app which asked for it knows."""
    if make_headers not in _webhook_headers:
        _webhook_headers.append(make_headers)


def webhook_headers(*, delivery, body: bytes) -> dict[str, str]:
    headers: dict[str, str] = {}
    for make_headers in _webhook_headers:
        headers.update(make_headers(delivery=delivery, body=body))
    return headers
