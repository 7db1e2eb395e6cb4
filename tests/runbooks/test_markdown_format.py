"""The Markdown format as pure functions: the seeds import, and import(export(r)) == r."""

from datetime import date

import pytest

from runbooks.markdown_format import (
    NO_TITLE,
    RunbookData,
    RunbookFormatError,
    StepData,
    parse,
    parse_steps,
    render,
    render_steps,
)
from tests.runbooks.conftest import incident_template, operational_template


def full_runbook() -> RunbookData:
    return RunbookData(
        title="Database connection pool exhausted",
        kind="incident",
        category="Database",
        severity="High",
        owner="Platform team",
        response_time="< 30 min",
        last_tested=date(2026, 10, 1),
        review_interval="Quarterly",
        services=["Database", "API"],
        alert_names=["db-connection-pool-exhausted", "api-5xx"],
        extra_metadata=[["On-Call", "https://oncall.example.com"]],
        summary="The API cannot get connections.",
        symptoms="- 503s\n\n### Monitoring/Alerting\n\n- **Alert Name:** `db-connection-pool-exhausted`",
        impact="### User Impact\n\n- Cannot log in",
        prerequisites="- [ ] VPN\n\n```bash\npsql >= 14.0\n```",
        assessment="### Step 1: Verify the Issue\n\n```bash\ncurl https://example.com/health\n```",
        steps_intro="Follow these steps in order.",
        steps=[
            StepData(
                title="Confirm the pool is exhausted",
                goal="Know it is the pool",
                details="Look at the gauge first.",
                commands='psql -c "SELECT 1"\n\n# a second block\nkubectl get pods',
                commands_language="bash",
                expected_output=" state  | count\n active |   100\n```inner fence```",
                success_criteria="- [ ] Connections at the limit",
                if_fails="- Go to Step 3",
            ),
            StepData(title="Restart", if_fails="- Escalate"),
            StepData(title="Only a title"),
        ],
        verification="Watch for 10 minutes.",
        communication="Post in #incidents",
        rollback="```bash\nkubectl rollout undo deployment/api\n```",
        escalation="- **Primary:** Ada",
        root_cause="1. Recent deployment",
        post_incident="1. Create postmortem",
        assumptions="- **Assumption 1:** x",
        failure_modes="### Failure Mode 1: y",
        how_to_test="Run pgbench.",
        automation="### Manual Steps That Could Be Automated",
        related_links="- [Ops](https://example.com)",
        notes="Gotcha.",
        extra_sections=[["References", "- [Link](https://example.com)"], ["Contacts", "**Team:** Platform"]],
    )


def test_export_then_import_gives_the_same_runbook():
    data = full_runbook()
    assert parse(render(data)) == data


def test_export_is_stable_after_a_round_trip():
    text = render(full_runbook())
    assert render(parse(text)) == text


@pytest.mark.parametrize("kind", ["incident", "operational"])
def test_kind_survives_the_title_line(kind):
    data = RunbookData(title="Checkout", kind=kind)
    assert parse(render(data)).kind == kind


def test_incident_template_imports_with_its_sections_and_steps():
    data = parse(incident_template())
    assert data.kind == "incident"
    assert data.title == "[Incident/Task Name]"
    assert [step.title for step in data.steps] == ["[First Action]", "[Second Action]", "[Third Action]"]
    first = data.steps[0]
    assert first.goal == "[What this step accomplishes]"
    assert first.commands.startswith("# Command 1 with explanation\nkubectl get pods -n production")
    assert first.commands_language == "bash"
    assert first.success_criteria == "- [ ] [Measurable outcome 1]\n- [ ] [Measurable outcome 2]"
    assert first.if_fails.startswith("- Go to Step [alternative step number]")
    # Step 2's "## Success Criteria" (a level-2 heading in the seed) stays with step 2 …
    assert data.steps[1].success_criteria == "- [ ] [Measurable outcome]"
    assert data.steps[1].if_fails == "- [Alternative approach]"
    # … and the sections after it are still sections.
    assert data.verification.startswith("After completing resolution steps, verify the fix:")
    assert data.steps_intro == "Follow these steps in order. Don't skip ahead."
    for name in (
        "summary", "symptoms", "impact", "prerequisites", "assessment", "communication", "rollback", "escalation",
        "root_cause", "post_incident", "assumptions", "failure_modes", "how_to_test", "automation",
        "related_links", "notes",
    ):  # fmt: skip
        assert getattr(data, name), name
    assert data.extra_sections[0][0] == "References"
    # Placeholders are not values.
    assert data.severity == "" and data.last_tested is None and data.alert_names == []


def test_seed_closing_fences_written_as_text_close_the_block():
    data = parse(incident_template())
    # Otherwise "```text" would open a block that swallows the rest of the section.
    assert data.prerequisites.count("```") % 2 == 0
    assert "### Required Permissions" in data.prerequisites
    assert "```text" not in data.prerequisites


def test_operational_template_imports_its_sections_in_order():
    data = parse(operational_template())
    assert data.kind == "operational"
    assert data.title == "[Service/System Name]"
    headings = [heading for heading, _body in data.extra_sections]
    assert headings[:3] == ["Service Overview", "Architecture", "Health Checks"]
    assert headings[-1] == "Contacts"
    assert ["On-Call", "[Rotation schedule link]"] in data.extra_metadata
    # Section rules and the HTML comments for a text generator are dropped.
    assert all(not body.endswith("---") for _heading, body in data.extra_sections)
    assert "LLM:" not in render(data)


@pytest.mark.parametrize("template", [incident_template, operational_template])
def test_seed_templates_round_trip(template):
    data = parse(template())
    assert parse(render(data)) == data


def test_metadata_lines_fill_fields():
    data = parse(
        "# Runbook: Disk full\n\n**Severity:** Critical\n**Last Tested:** 2026-11-01\n**Owner:** Storage\n"
        "**Services:** Database, `search`\n**Alerts:** `disk-full`, `disk-90`\n**Review Interval:** Monthly\n"
    )
    assert (data.severity, data.last_tested, data.owner) == ("Critical", date(2026, 11, 1), "Storage")
    assert data.services == ["Database", "search"]
    assert data.alert_names == ["disk-full", "disk-90"]
    assert data.review_interval == "Monthly"


def test_alert_names_are_found_in_the_monitoring_section():
    data = parse("# Runbook: X\n\n## Symptoms\n\n- **Alert Name:** `queue-backlog`\n")
    assert data.alert_names == ["queue-backlog"]


def test_a_file_without_a_title_is_refused():
    with pytest.raises(RunbookFormatError, match=NO_TITLE):
        parse("## Symptoms\n\n- nothing\n")


def test_expected_output_and_commands_with_fences_inside_survive():
    step = StepData(title="Tricky", commands="echo '```'", expected_output="````\nfour\n````")
    data = RunbookData(title="T", steps=[step])
    assert parse(render(data)).steps == [step]


def test_steps_text_for_the_editor_round_trips():
    data = full_runbook()
    text = render_steps(data.steps_intro, data.steps)
    assert text.startswith("Follow these steps in order.\n\n### Step 1: Confirm the pool is exhausted")
    assert parse_steps(text) == (data.steps_intro, data.steps)
    assert parse_steps("") == ("", [])
