from celery import shared_task

from postmortems import services


@shared_task(acks_late=True, ignore_result=True)
def send_postmortem_reminders() -> int:
    """Beat runs this hourly; the database knows what is due, and dedup keys make a rerun harmless."""
    return services.postmortem_reminders_send()
