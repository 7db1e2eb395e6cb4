"""Who is on call, in templates: the header's line for the viewer and the incident page's panel."""

from datetime import datetime, timedelta

from django import template
from django.utils import timezone
from django.utils.html import format_html

from core.formatting import humanize_delta
from oncall import selectors

register = template.Library()


def _near_clock(value: datetime) -> str:
    """'Mon 09:00' within the coming week, 'Mon 14 Dec 09:00' further, in the viewer's zone."""
    local = timezone.localtime(value)
    if timedelta(0) <= value - timezone.now() < timedelta(days=6):
        return f"{local:%a %H:%M}"
    return f"{local:%a} {local.day} {local:%b %H:%M}"


def _age(value: datetime) -> str:
    delta = value - timezone.now()
    return f"in {humanize_delta(delta)}" if delta > timedelta(0) else f"{humanize_delta(delta)} ago"


@register.simple_tag
def shift_time(value: datetime, style: str = "near") -> str:
    """A shift's start or end in the viewer's zone: "Mon 09:00" within the week (style="near") or
    always with the date (style="date", for tables); the full time and the age on hover."""
    local = timezone.localtime(value)
    text = _near_clock(value) if style == "near" else f"{local:%a} {local.day} {local:%b %H:%M}"
    return format_html(
        '<time datetime="{}" title="{} {} · {}">{}</time>',
        value.isoformat(),
        f"{local:%Y-%m-%d %H:%M}",
        local.tzname(),
        _age(value),
        text,
    )


@register.simple_tag
def age(value: datetime) -> str:
    """'in 3 d 4 h' or '2 h ago', for a line that says it in words."""
    return _age(value)


@register.simple_tag
def until_text(value: datetime) -> str:
    return _near_clock(value)


@register.simple_tag
def on_call_for_services(services) -> list[tuple]:
    """[(service, people on call)] for the services, in four queries."""
    services = list(services)
    if not services:
        return []
    answer = selectors.on_call_for_services(services=services, at=timezone.now())
    return [(service, answer[service.pk]) for service in services]
