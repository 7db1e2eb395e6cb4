"""Search that finds on both databases: the team's synonyms (seeded with a handful, edited in the
admin), SQLite's FTS5 table (SQLite only; PostgreSQL keeps its tsvector), and every runbook's
search entry rebuilt, alert names now also split at their capitals (`CheckoutHighErrorRate` is
found by "checkout").

The index rule is a copy of runbooks.search.index_texts as it is now (a migration keeps the rule
of its day)."""

import re

from django.contrib.postgres.search import SearchVector
from django.db import migrations, models

CONFIG = "english"
JOINERS = re.compile(r"[^\w\s]+")
CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
SYNONYMS = [
    "payments ~ checkout ~ pay",
    "slow ~ latency ~ response time",
    "connections ~ connection pool",
    "errors ~ 5xx ~ 500",
    "down ~ outage ~ unavailable",
    "login ~ log in ~ sign in ~ authentication",
    "database ~ db ~ postgres ~ postgresql",
    "out of memory ~ oom ~ oomkilled",
    "certificate ~ cert ~ tls ~ ssl",
    "kubernetes ~ k8s",
]
# Porter stemming over Unicode words (diacritics folded), as PostgreSQL's english configuration stems.
CREATE_FTS = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS runbooks_runbook_fts USING fts5("
    "heading, context, body, tokenize = 'porter unicode61 remove_diacritics 2')"
)


def seed_synonyms(apps, schema_editor):
    SearchSynonym = apps.get_model("runbooks", "SearchSynonym")
    for terms in SYNONYMS:
        SearchSynonym.objects.get_or_create(terms=terms)


def texts(runbook) -> tuple[str, str, str]:
    heading = " ".join([runbook.title, *(f"{name} {CAMEL.sub(' ', name)}" for name in runbook.alert_names)])
    services = [f"{service.name} {service.slug}" for service in runbook.services.all()]
    context = " ".join([runbook.symptoms, *services, runbook.category, runbook.owner])
    steps = [f"{step.title} {step.goal} {step.details} {step.commands}" for step in runbook.steps.all()]
    return heading, context, " ".join([runbook.summary, *steps])


def create_and_fill_index(apps, schema_editor):
    Runbook = apps.get_model("runbooks", "Runbook")
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        schema_editor.execute(CREATE_FTS)
    elif vendor != "postgresql":
        return

    def vector(text: str, weight: str) -> SearchVector:
        return SearchVector(models.Value(text), weight=weight, config=CONFIG)

    for runbook in Runbook.objects.prefetch_related("steps", "services"):
        heading, context, body = texts(runbook)
        if vendor == "postgresql":
            Runbook.objects.filter(pk=runbook.pk).update(
                search_vector=vector(heading, "A")
                + vector(context, "B")
                + vector(f"{body} {JOINERS.sub(' ', body)}", "C")
            )
        else:
            schema_editor.execute("DELETE FROM runbooks_runbook_fts WHERE rowid = %s", [runbook.pk])
            schema_editor.execute(
                "INSERT INTO runbooks_runbook_fts (rowid, heading, context, body) VALUES (%s, %s, %s, %s)",
                [runbook.pk, heading, context, body],
            )


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        schema_editor.execute("DROP TABLE IF EXISTS runbooks_runbook_fts")


class Migration(migrations.Migration):
    dependencies = [("runbooks", "0003_search_commands_and_owner")]

    operations = [
        migrations.CreateModel(
            name="SearchSynonym",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "terms",
                    models.CharField(
                        help_text="Two or more words or phrases separated by ~, e.g. slow ~ latency ~ response time.",
                        max_length=300,
                        unique=True,
                    ),
                ),
            ],
            options={"ordering": ["terms"]},
        ),
        migrations.RunPython(seed_synonyms, migrations.RunPython.noop),
        migrations.RunPython(create_and_fill_index, drop_index),
    ]
