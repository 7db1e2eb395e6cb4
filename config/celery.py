import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("incident_desk")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# The beat schedule lives in config/settings.py (CELERY_BEAT_SCHEDULE), all in one place.
