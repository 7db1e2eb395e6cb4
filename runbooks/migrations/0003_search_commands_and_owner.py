"""Runbook search also finds step commands (their dotted words too) and the owner: rebuild every
stored search vector.

A copy of services._search_refresh as it is now (a migration keeps the rule of its day)."""

import re

from django.contrib.postgres.search import SearchVector
from django.db import migrations
from django.db.models import Value

CONFIG = "english"
JOINERS = re.compile(r"[^\w\s]+")


def rebuild(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    Runbook = apps.get_model("runbooks", "Runbook")

    def vector(text: str, weight: str) -> SearchVector:
        return SearchVector(Value(text), weight=weight, config=CONFIG)

    for runbook in Runbook.objects.prefetch_related("steps", "services"):
        services = [f"{service.name} {service.slug}" for service in runbook.services.all()]
        steps = [f"{step.title} {step.goal} {step.details} {step.commands}" for step in runbook.steps.all()]
        text = " ".join([runbook.summary, *steps])
        text += " " + JOINERS.sub(" ", text)
        Runbook.objects.filter(pk=runbook.pk).update(
            search_vector=vector(" ".join([runbook.title, *runbook.alert_names]), "A")
            + vector(" ".join([runbook.symptoms, *services, runbook.category, runbook.owner]), "B")
            + vector(text, "C")
        )


class Migration(migrations.Migration):
    dependencies = [("runbooks", "0002_search_index_and_permissions")]

    operations = [migrations.RunPython(rebuild, migrations.RunPython.noop)]
