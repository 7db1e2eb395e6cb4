import logging

from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from config.celery import app as celery_app
from incidents import reminder_watch

logger = logging.getLogger(__name__)


def _database_reachable() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception:
        logger.exception("health: database unreachable")
        return False
    return True


def _broker_reachable() -> bool:
    try:
        with celery_app.connection_for_write() as broker:
            broker.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=2)
    except Exception:
        logger.exception("health: broker unreachable")
        return False
    return True


@never_cache
@require_GET
def health(request: HttpRequest) -> JsonResponse:
    """Liveness for load balancers and the runbooks' `curl …/health`; no login needed."""
    checks = {
        "database": "connected" if _database_reachable() else "unreachable",
        "broker": "connected" if _broker_reachable() else "unreachable",
    }
    healthy = all(state == "connected" for state in checks.values())
    return JsonResponse(
        {
            "status": "ok" if healthy else "unavailable",
            **checks,
            **(_reminders() if checks["database"] == "connected" else {}),
        },
        status=200 if healthy else 503,
    )


def _reminders() -> dict[str, object]:
    """The age of the last reminder sweep, and whether reminders are running. Reported, not
    counted against the status: the web keeps serving while beat or the workers are down, and a
    load balancer must not take it out for that; monitoring reads `reminders`."""
    last = reminder_watch.last_sweep()
    since = reminder_watch.stalled_since(last, cached=False)
    return {
        "reminders": "running" if since is None else f"not running since {since.isoformat(timespec='seconds')}",
        "last_reminder_sweep_seconds_ago": None if last is None else round((timezone.now() - last).total_seconds(), 1),
    }
