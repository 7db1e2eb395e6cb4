"""How durations and times read to responders, in pages and in messages alike."""

from datetime import UTC, datetime, timedelta

from django.utils import timezone


def humanize_delta(delta: timedelta) -> str:
    """'45 s', '12 min', '3 h 5 min', '2 d 4 h' — the way responders say durations."""
    seconds = int(abs(delta.total_seconds()))
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def utc_clock(value: datetime) -> str:
    """'2026-03-02 14:30 UTC': messages go to many people in many zones, so they say UTC."""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def local_clock(value: datetime) -> str:
    """'14:30' today, 'Tue 1 Dec 14:30' another day, in the viewer's zone: for text that cannot
    carry a <time> element, such as a form's message."""
    local = timezone.localtime(value)
    return f"{local:%H:%M}" if local.date() == timezone.localdate() else f"{local:%a} {local.day} {local:%b %H:%M}"
