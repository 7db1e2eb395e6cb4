"""Durations read as durations (core.formatting): a countdown says "overdue by 18 min" or "due in
4 min 10 s", never "18:52", which reads as the time of day next to the timeline's times."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from core.formatting import countdown_text
from incidents.templatetags.incident_tags import countdown


@pytest.mark.parametrize(
    ("delta", "expected"),
    [
        (timedelta(seconds=42), "42 s"),
        (timedelta(minutes=4, seconds=10), "4 min 10 s"),
        (timedelta(minutes=-4, seconds=-10), "4 min 10 s"),
        (timedelta(minutes=7), "7 min"),
        (timedelta(minutes=18, seconds=52), "18 min"),
        (timedelta(hours=1, minutes=42, seconds=3), "1 h 42 min"),
    ],
)
def test_countdown_text_reads_as_a_duration(delta, expected):
    assert countdown_text(delta) == expected


def test_countdown_says_overdue_by_minutes_and_due_in_minutes_and_seconds():
    now = timezone.now()
    with time_machine.travel(now, tick=False):
        assert ">Update overdue by 18 min<" in countdown(now - timedelta(minutes=18, seconds=52))
        assert ">Update due in 4 min 10 s<" in countdown(now + timedelta(minutes=4, seconds=10))
