import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("incident_desk")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Every periodic task is declared here, and exactly one beat process runs (`make run` starts the
# worker with an embedded beat). Issue-specific schedules join this dict.
app.conf.beat_schedule = {}
