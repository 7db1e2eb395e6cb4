import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

from django.conf import settings

app = Celery("incident_desk")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Every periodic task is declared here, and exactly one beat process runs (`make run` starts the
# worker with an embedded beat). Nothing is scheduled far ahead on the broker: these sweeps read
# what is due from the database, so a restarted worker, beat or Redis loses nothing.
app.conf.beat_schedule = {
    # Status-update reminders and escalation: send every ladder step that has come due.
    "sweep-reminders": {
        "task": "incidents.tasks.sweep_reminders",
        "schedule": settings.REMINDER_SWEEP_SECONDS,
        "options": {"expires": settings.REMINDER_SWEEP_SECONDS * 3},
    },
    # Queue again email and webhook deliveries whose broker message was lost.
    "requeue-stale-deliveries": {
        "task": "notifications.tasks.requeue_stale_deliveries",
        "schedule": 30.0,
        "options": {"expires": 90},
    },
}
