"""Seed 004's completeness check on the seed templates (000, 001), a thin runbook and a generated
one; the score on the runbook page and index; check_runbooks as a CI gate."""

from datetime import date

import pytest
from django.core.management import call_command

from runbooks import generator, services
from runbooks.completeness import runbook_completeness
from runbooks.markdown_format import RunbookData, StepData, parse
from runbooks.models import Runbook
from tests import factories
from tests.runbooks.conftest import FIXTURES, incident_template, make_runbook, operational_template

THIN = """# Runbook: Restart the thing

## Resolution Steps

### Step 1: Restart it

Restart the service.
"""


def codes(data, **kwargs):
    return runbook_completeness(data, **kwargs).codes


def test_the_incident_template_000_misses_dependencies_recovery_and_its_placeholders():
    result = runbook_completeness(parse(incident_template()))
    assert result.codes == [
        "step_incomplete", "no_dependencies", "no_disaster_recovery", "placeholders_left", "never_drilled",
    ]  # fmt: skip
    assert result.score == 50


def test_the_operational_template_001_has_no_steps_and_its_placeholders():
    result = runbook_completeness(parse(operational_template()))
    assert result.codes == ["no_steps", "placeholders_left"]
    assert result.score == 75


def test_a_thin_runbook_misses_everything_and_each_finding_is_named():
    result = runbook_completeness(parse(THIN), review_due_on=date(2020, 1, 1), today=date(2026, 1, 1))
    assert result.codes == [
        "step_incomplete", "no_thresholds", "no_failure_scenarios", "no_rollback", "no_dependencies",
        "no_escalation", "no_disaster_recovery", "review_overdue",
    ]  # fmt: skip
    assert result.findings[0].message == "Steps without a command or expected output: 1."
    assert result.score == 100 - 15 - 10 - 5 - 15 - 10 - 15 - 10 - 5


def test_a_generated_runbook_misses_only_its_placeholders_and_a_drill():
    data = parse(generator.generate(generator.Answers(name="Ledger")))
    assert codes(data) == ["placeholders_left", "never_drilled"]
    filled = parse(
        generator.generate(generator.Answers(name="Ledger")).replace("<<FILL:", "(filled").replace(">>", ")")
    )
    assert codes(filled, drilled_titles={step.title for step in filled.steps}) == []


def test_a_step_exercised_in_a_finished_drill_counts_as_drilled(db):
    user = factories.UserFactory(role="responder")
    runbook = make_runbook(steps=2)
    run = services.drill_start(runbook=runbook, actor=user)
    for run_step in run.steps.all():
        services.run_step_record(run_step=run_step, outcome="done", actor=user)
    services.drill_finish(run=run, actor=user)
    from runbooks import selectors

    result = selectors.runbook_completeness_get(runbook=Runbook.objects.get(pk=runbook.pk))
    assert "never_drilled" not in result.codes
    assert Runbook.objects.get(pk=runbook.pk).completeness_score == result.score


def test_the_score_is_stored_on_every_save_and_shown_on_the_page(editor_client, db):
    runbook, _unknown = services.runbook_import(text=THIN, actor=None)
    assert runbook.completeness_score == 100 - 15 - 10 - 5 - 15 - 10 - 15 - 10
    page = editor_client.get(runbook.get_absolute_url(), secure=True).content.decode()
    assert 'data-finding="no_rollback"' in page and "No rollback procedure." in page
    data = services.runbook_to_data(runbook)
    data.rollback = "Revert the last deploy: `git revert HEAD` and deploy it."
    runbook, _unknown = services.runbook_update(runbook=runbook, data=data, actor=None)
    assert runbook.completeness_score == 100 - 15 - 10 - 5 - 10 - 15 - 10


def test_the_index_sorts_and_filters_by_completeness(editor_client, db):
    services.runbook_import(text=THIN, actor=None)
    services.runbook_create(data=parse(generator.generate(generator.Answers(name="Ledger"))), actor=None)
    least = editor_client.get("/runbooks/?sort=completeness", secure=True).content.decode()
    assert least.index("Restart the thing") < least.index("Ledger")
    fragment = editor_client.get(
        "/runbooks/?sort=completeness", secure=True, headers={"HX-Request": "true", "HX-Target": "runbook-results"}
    ).content.decode()
    assert fragment.lstrip().startswith('<div id="runbook-results">') and "Restart the thing" in fragment
    below = editor_client.get("/runbooks/?below=60", secure=True).content.decode()
    assert "Restart the thing" in below and "Ledger" not in below
    for hostile in ("-1", "abc", "9" * 40, "1e3"):
        assert editor_client.get(f"/runbooks/?below={hostile}", secure=True).status_code == 200


def test_check_runbooks_prints_scores_and_fails_below_the_minimum(tmp_path, capsys, db):
    thin = tmp_path / "runbook-thin.md"
    thin.write_text(THIN)
    call_command("check_runbooks", str(FIXTURES / "operational_runbook_template.md"), "--min-score", "70")
    out = capsys.readouterr().out
    assert " 75  " in out and "placeholders_left" in out
    with pytest.raises(SystemExit) as failed:
        call_command(
            "check_runbooks", str(thin), str(FIXTURES / "operational_runbook_template.md"), "--min-score", "70"
        )
    assert failed.value.code == 1
    assert "no_rollback: No rollback procedure." in capsys.readouterr().out
    make_runbook(title="Stored")
    call_command("check_runbooks", "--all")
    assert "/runbooks/stored/" in capsys.readouterr().out


def test_completeness_of_plain_data_without_a_title_section():
    data = RunbookData(title="x", steps=[StepData(title="a", commands="ls", expected_output="file")], rollback="r")
    assert "no_rollback" not in codes(data)


def test_the_least_complete_list_reads_in_a_fixed_number_of_queries(db, django_assert_max_num_queries):
    from runbooks import selectors

    factories.ServiceFactory(name="Database", slug="database")
    for n in range(3):
        make_runbook(title=f"Runbook {n}", services=["database"])
    with django_assert_max_num_queries(3):
        few, total = selectors.runbooks_by_completeness()
        [list(runbook.services.all()) for runbook in few]
    for n in range(3, 12):
        make_runbook(title=f"Runbook {n}", services=["database"])
    with django_assert_max_num_queries(3):
        many, total = selectors.runbooks_by_completeness()
        [list(runbook.services.all()) for runbook in many]
    assert total == 12 and len(many) == 12
