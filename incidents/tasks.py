import logging

from celery import shared_task

from incidents import registry, reminder_watch, reminders

logger = logging.getLogger(__name__)


@shared_task(acks_late=True, ignore_result=True)
def sweep_reminders() -> int:
    """Beat runs this every REMINDER_SWEEP_SECONDS; the database, not the broker, knows what is due."""
    recorded = reminders.reminders_sweep()
    reminder_watch.sweep_record()
    for sweep in registry.sweeps():
        # One app's failure must not stop the reminders of the next beat: each sweep is its own
        # transaction and finds its due work again next time.
        try:
            sweep()
        except Exception:
            logger.exception("sweep %s failed", getattr(sweep, "__qualname__", sweep))
    return recorded


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def fan_out_reminders(reminder_ids: list[int]) -> int:
    """Tell the people of ladder steps the sweep recorded; a step already told is skipped."""
    return reminders.reminders_fan_out(reminder_ids=reminder_ids)
