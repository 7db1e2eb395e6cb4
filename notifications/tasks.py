"""Thin tasks: take ids, call one service. A task killed halfway is delivered again (acks_late,
reject_on_worker_lost) and skips what was already sent; the database counts attempts, so retries
stay bounded; the periodic requeue finds anything the broker lost."""

from celery import shared_task

from notifications import services


def _attempt(delivery_id: int) -> str:
    attempt = services.delivery_attempt(delivery_id=delivery_id)
    if attempt.outcome == "retry":
        deliver.apply_async((delivery_id,), countdown=attempt.retry_in)
    return attempt.outcome


@shared_task(acks_late=True, reject_on_worker_lost=True)
def deliver(delivery_id: int) -> str:
    return _attempt(delivery_id)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def deliver_batch(delivery_ids: list[int]) -> list[str]:
    return [_attempt(delivery_id) for delivery_id in delivery_ids]


@shared_task(acks_late=True)
def requeue_stale_deliveries() -> int:
    return services.deliveries_requeue_stale()
