"""Due dates in the team's time zone (settings.TIME_ZONE): a postmortem due "2 business days
after resolution" counts from the day the team was in when the incident was resolved."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone

SATURDAY = 5


def team_zone() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def team_today(now: datetime | None = None) -> date:
    return (now or timezone.now()).astimezone(team_zone()).date()


def add_business_days(start: date, days: int) -> date:
    """`days` weekdays after `start`, skipping Saturdays and Sundays. A start on a weekend counts
    from the next Monday's morning, so Friday night and Saturday both give Tuesday for 2 days."""
    current = start
    added = 0
    while added < days:
        current += timedelta(days=1)
        if current.weekday() < SATURDAY:
            added += 1
    return current


def business_days_after(moment: datetime, days: int) -> date:
    return add_business_days(team_today(moment), days)
