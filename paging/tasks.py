"""Thin tasks: ids in, one service call. A page already told is skipped, so acks_late is safe."""

from celery import shared_task

from paging import services


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def fan_out_pages(page_ids: list[int]) -> int:
    """Tell the people of pages the sweep (or a declaration) recorded."""
    return services.pages_fan_out(page_ids=page_ids)
