from celery import shared_task

from incidents import services


@shared_task(acks_late=True, ignore_result=True)
def sweep_reminders() -> int:
    """Beat runs this every REMINDER_SWEEP_SECONDS; the database, not the broker, knows what is due."""
    return services.reminders_sweep()
