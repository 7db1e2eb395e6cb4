from django.db import migrations, models


def score_existing(apps, schema_editor):
    """Every existing runbook's seed-004 score, as runbooks.services writes it on each save."""
    from runbooks.completeness import runbook_completeness
    from runbooks.markdown_format import RunbookData, StepData

    Runbook = apps.get_model("runbooks", "Runbook")
    RunStep = apps.get_model("runbooks", "RunStep")
    text_fields = [
        "summary", "symptoms", "impact", "prerequisites", "assessment", "steps_intro", "verification",
        "communication", "rollback", "escalation", "root_cause", "post_incident", "assumptions",
        "failure_modes", "how_to_test", "automation", "related_links", "notes",
    ]  # fmt: skip
    step_fields = [
        "title",
        "goal",
        "details",
        "commands",
        "commands_language",
        "expected_output",
        "success_criteria",
        "if_fails",
    ]
    for runbook in Runbook.objects.prefetch_related("steps").iterator(chunk_size=500):
        data = RunbookData(
            title=runbook.title,
            last_tested=runbook.last_tested,
            extra_metadata=[list(pair) for pair in runbook.extra_metadata],
            extra_sections=[list(pair) for pair in runbook.extra_sections],
            steps=[StepData(**{name: getattr(step, name) for name in step_fields}) for step in runbook.steps.all()],
            **{name: getattr(runbook, name) for name in text_fields},
        )
        drilled = set(
            RunStep.objects.filter(
                run__runbook=runbook, run__incident__isnull=True, run__finished_at__isnull=False, outcome="done"
            ).values_list("title", flat=True)
        )
        score = runbook_completeness(data, drilled_titles=drilled).score
        Runbook.objects.filter(pk=runbook.pk).update(completeness_score=score)


class Migration(migrations.Migration):
    dependencies = [
        ("runbooks", "0004_search_synonyms_and_sqlite_fts"),
    ]

    operations = [
        migrations.AddField(
            model_name="runbook",
            name="completeness_score",
            field=models.PositiveSmallIntegerField(db_index=True, default=0, editable=False),
        ),
        migrations.RunPython(score_existing, migrations.RunPython.noop),
    ]
