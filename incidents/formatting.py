"""How durations and times read to responders, in pages and in messages alike."""

from datetime import UTC, datetime, timedelta


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
