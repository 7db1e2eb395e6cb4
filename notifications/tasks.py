"""Thin tasks: take ids, call one service. Retries are bounded with exponential backoff, far
below the broker's visibility timeout; the periodic requeue finds anything the broker lost."""

from celery import shared_task

from notifications import services

RETRY_BACKOFF_SECONDS = [5, 15, 45, 120]


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=len(RETRY_BACKOFF_SECONDS))
def deliver(self, delivery_id: int) -> str:
    attempt = services.delivery_attempt(delivery_id=delivery_id)
    if attempt.outcome == "retry":
        countdown = RETRY_BACKOFF_SECONDS[min(attempt.attempts - 1, len(RETRY_BACKOFF_SECONDS) - 1)]
        raise self.retry(countdown=countdown)
    return attempt.outcome


@shared_task(acks_late=True)
def requeue_stale_deliveries() -> int:
    return services.deliveries_requeue_stale()
