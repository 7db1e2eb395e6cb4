"""What the reminders' and the pages' sweeps share: a row recorded under its unique constraint is
handed to the workers after commit to tell its people (told_at set when they are). When that
hand-over is lost (a restarted broker, a killed worker), the row stays untold; the next sweep
hands it over again. The row lock and told_at make a second hand-over harmless."""

from datetime import datetime, timedelta

from django.db.models import QuerySet

# How long a recorded row may stay untold before its hand-over is taken as lost.
REQUEUE_AFTER = timedelta(seconds=20)
# At most this many rows handed over again per sweep: the next sweep takes the rest.
REQUEUE_LIMIT = 10_000


def untold_ids(rows: QuerySet, *, recorded_field: str, now: datetime) -> list[int]:
    """The ids of `rows` recorded (at `recorded_field`) more than REQUEUE_AFTER before `now` and
    still not told."""
    stale = rows.filter(told_at__isnull=True, **{f"{recorded_field}__lt": now - REQUEUE_AFTER})
    return list(stale.values_list("pk", flat=True)[:REQUEUE_LIMIT])
