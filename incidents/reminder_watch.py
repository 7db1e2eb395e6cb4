"""Whether the reminder engine (Celery beat and a worker) is running.

Every reminder sweep records when it ran; /health reports the age of the last one, and when none
has run for REMINDERS_STALLED_AFTER_SECONDS (three sweep intervals) responders and admins see a
banner on every page until one runs. The database is the truth; the cache spares every page its
query for one sweep interval."""

from datetime import UTC, datetime

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from incidents.models import ReminderSweep

CACHE_KEY = "reminders:last-sweep"
# With no sweep recorded at all (beat never started), reminders are watched from when this
# process started.
WATCHED_SINCE = timezone.now()


def sweep_record(*, now: datetime | None = None) -> None:
    """One upsert: beats running side by side just move the time forward."""
    ReminderSweep.objects.bulk_create(
        [ReminderSweep(pk=1, ran_at=now or timezone.now())],
        update_conflicts=True,
        unique_fields=["id"],
        update_fields=["ran_at"],
    )


def last_sweep() -> datetime | None:
    return ReminderSweep.objects.filter(pk=1).values_list("ran_at", flat=True).first()


def _last_sweep_cached() -> datetime | None:
    stamp = cache.get(CACHE_KEY)
    if stamp is None:
        ran_at = last_sweep()
        stamp = ran_at.timestamp() if ran_at else 0.0
        cache.set(CACHE_KEY, stamp, timeout=settings.REMINDER_SWEEP_SECONDS)
    return datetime.fromtimestamp(stamp, UTC) if stamp else None


def stalled_since(last: datetime | None = None, *, cached: bool = True) -> datetime | None:
    """Since when no sweep has run, once that is longer than REMINDERS_STALLED_AFTER_SECONDS;
    None while reminders are running (or when the setting is None: not watched)."""
    stalled_after = settings.REMINDERS_STALLED_AFTER_SECONDS
    if stalled_after is None:
        return None
    if last is None:
        last = _last_sweep_cached() if cached else last_sweep()
    since = last or WATCHED_SINCE
    return since if (timezone.now() - since).total_seconds() > stalled_after else None
