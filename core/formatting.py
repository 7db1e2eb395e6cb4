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


# Below this a countdown names its seconds too: "4 min 10 s" is what a responder acts on.
COUNTDOWN_SECONDS_BELOW = timedelta(minutes=10)


def countdown_text(delta: timedelta) -> str:
    """'4 min 10 s' while under ten minutes, else as humanize_delta: a duration, never a clock
    reading such as '18:52' that looks like the time of day next to the timeline's times.
    static/js/app.js ticks the same wording."""
    if abs(delta) >= COUNTDOWN_SECONDS_BELOW:
        return humanize_delta(delta)
    minutes, seconds = divmod(int(abs(delta.total_seconds())), 60)
    if not minutes:
        return f"{seconds} s"
    return f"{minutes} min {seconds} s" if seconds else f"{minutes} min"


def utc_clock(value: datetime) -> str:
    """'2026-03-02 14:30 UTC': messages go to many people in many zones, so they say UTC."""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def local_clock(value: datetime) -> str:
    """'14:30' today, 'Tue 1 Dec 14:30' another day, in the viewer's zone: for text that cannot
    carry a <time> element, such as a form's message."""
    local = timezone.localtime(value)
    return f"{local:%H:%M}" if local.date() == timezone.localdate() else f"{local:%a} {local.day} {local:%b %H:%M}"
