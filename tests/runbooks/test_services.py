import re
from datetime import date, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command

from incidents.models import EventKind
from runbooks import errors, services
from runbooks.markdown_format import RunbookData, StepData, parse, render
from runbooks.models import ReviewInterval, Runbook, RunbookRevision, RunbookRun, StepOutcome
from tests import factories
from tests.runbooks.conftest import FIXTURES, incident_template, make_runbook, operational_template

pytestmark = pytest.mark.django_db


def test_create_writes_steps_in_order_version_one_and_a_revision(responder):
    runbook = make_runbook(actor=responder)
    assert runbook.version == 1
    assert [step.position for step in runbook.steps.all()] == [1, 2, 3]
    revision = runbook.revisions.get()
    assert (revision.version, revision.author, revision.change_note) == (1, responder, "Created")
    assert RunbookData.from_dict(revision.snapshot) == services.runbook_to_data(runbook)


def test_title_is_required():
    with pytest.raises(ValidationError) as caught:
        services.runbook_create(data=RunbookData(title="  "), actor=None)
    assert caught.value.message_dict == {"title": [errors.TITLE_REQUIRED]}


def test_slugs_are_unique_and_never_a_fixed_word():
    first = make_runbook(title="Disk full")
    second = make_runbook(title="Disk full")
    reserved = make_runbook(title="Import")
    assert (first.slug, second.slug) == ("disk-full", "disk-full-2")
    assert reserved.slug == "import-2"


def test_update_bumps_the_version_keeps_the_slug_and_records_who(runbook, responder):
    data = services.runbook_to_data(runbook)
    data.title = "Pool exhausted (renamed)"
    data.steps = data.steps[:1]
    updated, _unknown = services.runbook_update(runbook=runbook, data=data, actor=responder, change_note="Shorter")
    assert (updated.version, updated.slug, updated.updated_by) == (2, runbook.slug, responder)
    assert updated.steps.count() == 1
    assert list(updated.revisions.values_list("version", "change_note")) == [(2, "Shorter"), (1, "Created")]


def test_restore_writes_the_old_content_as_the_next_version(runbook, responder):
    original = services.runbook_to_data(runbook)
    changed = services.runbook_to_data(runbook)
    changed.symptoms = "- Something else entirely"
    changed.steps = []
    services.runbook_update(runbook=runbook, data=changed, actor=responder)
    restored = services.runbook_restore(
        runbook=runbook, revision=RunbookRevision.objects.get(runbook=runbook, version=1), actor=responder
    )
    assert restored.version == 3
    assert services.runbook_to_data(Runbook.objects.get(pk=runbook.pk)) == original
    assert restored.revisions.get(version=3).change_note == "Restored version 1"


def test_restore_keeps_the_last_tested_date(runbook, responder):
    run = services.drill_start(runbook=runbook, actor=responder)
    for step in run.steps.all():
        services.run_step_record(run_step=step, outcome=StepOutcome.DONE, actor=responder)
    services.drill_finish(run=run, actor=responder, today=date(2026, 11, 20))
    restored = services.runbook_restore(runbook=runbook, revision=runbook.revisions.get(version=1), actor=responder)
    assert restored.last_tested == date(2026, 11, 20)


def test_services_are_matched_by_name_or_slug_and_unknown_ones_reported():
    factories.ServiceFactory(name="Search", slug="search")
    factories.ServiceFactory(name="Payments API", slug="payments")
    runbook, unknown = services.runbook_create(
        data=RunbookData(title="X", services=["search", "PAYMENTS API", "Mainframe"]), actor=None
    )
    assert sorted(runbook.services.values_list("slug", flat=True)) == ["payments", "search"]
    assert unknown == ["Mainframe"]


def test_import_then_export_then_import_gives_the_same_runbook():
    factories.ServiceFactory(name="Database", slug="database")
    first, _ = services.runbook_import(text=services.DEMO_SERVICE_RUNBOOK, actor=None)
    exported = render(services.runbook_to_data(first))
    second, _ = services.runbook_import(text=exported, actor=None)
    assert services.runbook_to_data(second) == services.runbook_to_data(first)
    assert second.severity == "high" and second.review_interval_days == ReviewInterval.QUARTERLY
    assert second.alert_names == ["db-connection-pool-exhausted", "api-5xx-rate-high"]


@pytest.mark.parametrize("template", [incident_template, operational_template])
def test_seed_templates_import_and_round_trip_through_the_database(template):
    runbook, _ = services.runbook_import(text=template(), actor=None)
    again, _ = services.runbook_import(text=render(services.runbook_to_data(runbook)), actor=None)
    assert services.runbook_to_data(again) == services.runbook_to_data(runbook)
    assert services.runbook_to_data(runbook).steps == parse(template()).steps


def test_incident_template_becomes_a_three_step_runbook():
    runbook, _ = services.runbook_import(text=incident_template(), actor=None)
    assert runbook.kind == "incident"
    assert list(runbook.steps.values_list("title", flat=True)) == [
        "[First Action]",
        "[Second Action]",
        "[Third Action]",
    ]


def test_review_is_due_an_interval_after_the_last_test():
    runbook = make_runbook(last_tested=date(2026, 1, 1), review_interval="Monthly")
    assert runbook.review_due_on == date(2026, 1, 31)
    assert runbook.is_review_overdue(date(2026, 2, 1))
    assert not runbook.is_review_overdue(date(2026, 1, 31))


def test_attach_makes_a_checklist_and_a_timeline_event(runbook, responder):
    incident = factories.declare_incident(declared_by=responder)
    run = services.runbook_attach(runbook=runbook, incident=incident, actor=responder)
    assert [step.title for step in run.steps.all()] == ["Step number 1", "Step number 2", "Step number 3"]
    event = incident.timeline.get(kind=EventKind.RUNBOOK_ATTACHED)
    assert event.text == f"Runbook attached: {runbook.title} (v1, 3 steps)"
    assert event.data == {"runbook": runbook.slug, "run": run.pk, "version": 1}
    assert event.actor == responder


def test_a_runbook_is_attached_to_an_incident_once(runbook, responder):
    incident = factories.declare_incident(declared_by=responder)
    services.runbook_attach(runbook=runbook, incident=incident, actor=responder)
    with pytest.raises(ValidationError, match=errors.ALREADY_ATTACHED):
        services.runbook_attach(runbook=runbook, incident=incident, actor=responder)


def test_a_runbook_without_steps_is_not_attached(responder):
    incident = factories.declare_incident(declared_by=responder)
    with pytest.raises(ValidationError, match=errors.NO_STEPS):
        services.runbook_attach(runbook=make_runbook(steps=0), incident=incident, actor=responder)


def test_every_recorded_step_lands_on_the_timeline_with_note_and_output(runbook, responder):
    incident = factories.declare_incident(declared_by=responder)
    run = services.runbook_attach(runbook=runbook, incident=incident, actor=responder)
    first, second, _third = run.steps.all()
    services.run_step_record(run_step=first, outcome=StepOutcome.DONE, actor=responder, note="Pool at 100")
    recorded = services.run_step_record(
        run_step=second, outcome=StepOutcome.FAILED, actor=responder, output="ERROR: permission denied\n"
    )
    assert (recorded.outcome, recorded.recorded_by, recorded.output) == (
        "failed",
        responder,
        "ERROR: permission denied",
    )
    assert recorded.recorded_at is not None
    events = list(incident.timeline.filter(kind=EventKind.RUNBOOK_STEP).order_by("id"))
    assert [event.text for event in events] == [
        f"Step 1 done: Step number 1 — {runbook.title}",
        f"Step 2 failed: Step number 2 — {runbook.title}",
    ]
    assert events[0].body == "Pool at 100"
    assert events[1].body == "Output:\nERROR: permission denied"
    assert events[1].data["outcome"] == "failed"


def test_an_unknown_outcome_is_refused(runbook, responder):
    run = services.drill_start(runbook=runbook, actor=responder)
    with pytest.raises(ValidationError) as caught:
        services.run_step_record(run_step=run.steps.first(), outcome=StepOutcome.PENDING, actor=responder)
    assert caught.value.message_dict == {"outcome": [errors.UNKNOWN_OUTCOME]}


def test_a_drill_records_no_timeline_and_finishing_it_sets_last_tested(runbook, responder):
    run = services.drill_start(runbook=runbook, actor=responder)
    assert run.is_drill
    with pytest.raises(ValidationError, match=re.escape(errors.DRILL_NOT_COMPLETE)):
        services.drill_finish(run=run, actor=responder)
    for step in run.steps.all():
        services.run_step_record(run_step=step, outcome=StepOutcome.SKIPPED, actor=responder)
    services.drill_finish(run=run, actor=responder, today=date(2026, 11, 25))
    runbook.refresh_from_db()
    assert runbook.last_tested == date(2026, 11, 25)
    assert runbook.review_due_on == date(2026, 11, 25) + timedelta(days=runbook.review_interval_days)
    with pytest.raises(ValidationError, match=errors.RUN_FINISHED):
        services.run_step_record(run_step=run.steps.first(), outcome=StepOutcome.DONE, actor=responder)


def test_an_incident_run_is_not_finished_as_a_drill(runbook, responder):
    run = services.runbook_attach(runbook=runbook, incident=factories.declare_incident(), actor=responder)
    with pytest.raises(ValidationError, match=errors.NOT_A_DRILL):
        services.drill_finish(run=run, actor=responder)


def test_import_runbook_command_imports_each_file(tmp_path, capsys):
    good = tmp_path / "runbook-a.md"
    good.write_text(services.DEMO_SERVICE_RUNBOOK)
    call_command("import_runbook", str(FIXTURES / "incident_runbook_template.md"), str(good))
    assert Runbook.objects.count() == 2
    assert "imported 'Database connection pool exhausted'" in capsys.readouterr().out


def test_import_runbook_command_fails_on_a_file_without_a_title(tmp_path):
    from django.core.management.base import CommandError

    bad = tmp_path / "bad.md"
    bad.write_text("no title here\n")
    with pytest.raises(CommandError):
        call_command("import_runbook", str(bad))
    assert not Runbook.objects.exists()


def test_demo_runbooks_load_once():
    from runbooks.demo import load_demo_runbooks

    assert load_demo_runbooks() == 4  # the three in runbooks/demo/ and the database one
    assert load_demo_runbooks() == 0
    assert not Runbook.objects.filter(title__contains="[").exists()  # no template placeholders
    assert RunbookRun.objects.count() == 0


def test_steps_with_a_blank_title_are_refused():
    with pytest.raises(ValidationError) as caught:
        services.runbook_create(data=RunbookData(title="X", steps=[StepData(title=" ")]), actor=None)
    assert caught.value.message_dict == {"steps": [errors.STEP_TITLE_REQUIRED]}
