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


@register.simple_tag
def shift_time(value: datetime) -> str:
    """A shift's start or end: the viewer's clock ("Mon 09:00"), the full date and age on hover."""
    delta = value - timezone.now()
    age = f"in {humanize_delta(delta)}" if delta > timedelta(0) else f"{humanize_delta(delta)} ago"
    local = timezone.localtime(value)
    return format_html(
        '<time datetime="{}" title="{} · {}">{}</time>',
        value.isoformat(),
        f"{local:%Y-%m-%d %H:%M} {local.tzname()}",
        age,
        _near_clock(value),
    )


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
