"""Seed 004's generator: every environment and monitoring combination has 004's sections, its
environment's commands, no template syntax left, and survives the importer whole."""

import re

import pytest
from django.core.management import call_command
from django.utils.html import escape

from runbooks import errors, generator, services
from runbooks.markdown_format import parse, render
from runbooks.models import Runbook
from tests import factories

SECTIONS_004 = [
    "Service Overview", "Architecture", "Dependencies", "Deployment", "Monitoring & Alerts", "Troubleshooting",
    "Emergency Procedures", "Maintenance", "Disaster Recovery", "Contacts", "Appendix", "Revision History",
]  # fmt: skip
SUBSECTIONS_004 = [
    "### SLA/SLO", "### Key Metrics", "### Components", "### Upstream Dependencies", "### Downstream Dependencies",
    "### Pre-deployment Checks", "### Deployment Commands", "### Post-deployment Verification",
    "### Rollback Procedure", "### Key Alerts", "### Log Queries", "### Common Issues", "### Service is Down",
    "### Backup Strategy", "#### RTO:", "### Escalation Path", "### Useful Commands Cheatsheet",
]  # fmt: skip
ENVIRONMENT_COMMANDS = {
    "kubernetes": ["kubectl ", "helm "],
    "docker-compose": ["docker compose "],
    "vm": ["systemctl ", "journalctl "],
    "bare-metal": ["systemctl ", "journalctl "],
    "aws-lambda": ["aws lambda "],
    "gcloud-functions": ["gcloud functions "],
}
MONITORING_QUERIES = {
    "prometheus": "histogram_quantile(0.95",
    "datadog": "p95:trace.http.request.duration{service:",
    "cloudwatch": "| filter @message like /ERROR/",
    "newrelic": "SELECT percentile(duration, 95) FROM Transaction",
}
VARIABLES = ["name", "slug", "team", "namespace", "hosts", "env", "mon", "crit", "type", "datastore", "oncall"]


@pytest.mark.parametrize("monitoring", list(MONITORING_QUERIES))
@pytest.mark.parametrize("environment", list(ENVIRONMENT_COMMANDS))
def test_every_combination_is_complete_and_imports_whole(environment, monitoring):
    answers = generator.Answers(name="Checkout API", environment=environment, monitoring=monitoring)
    raw = generator.generate_raw(answers)
    for section in SECTIONS_004:
        assert f"\n## {section}\n" in raw, section
    for heading in SUBSECTIONS_004:
        assert f"\n{heading}" in raw, heading
    for command in ENVIRONMENT_COMMANDS[environment]:
        assert command in raw, command
    assert MONITORING_QUERIES[monitoring] in raw
    assert "{{" not in raw and "{%" not in raw and "{#" not in raw and generator.UNDEFINED not in raw
    assert not re.search(r"\$\{?(" + "|".join(VARIABLES) + r")\b", raw)
    # Round trip: the importer reads it whole (its export is the very same text).
    data = parse(raw)
    assert render(data) == raw
    assert [heading for heading, _body in data.extra_sections] == SECTIONS_004
    assert len(data.steps) == 7 and all(step.commands and step.expected_output for step in data.steps)
    assert data.severity == "High" and data.review_interval == "Quarterly"
    assert generator.generate(answers) == raw


def test_placeholders_are_marked_and_listed_at_the_top():
    markdown = generator.generate(generator.Answers(name="Ledger", environment="kubernetes"))
    summary = parse(markdown).summary
    assert "### Placeholders to fill" in summary
    assert "- Kubernetes namespace (" in summary
    assert "<<FILL: Kubernetes namespace>>" in markdown
    # Answered values leave no placeholder.
    answered = generator.generate(
        generator.Answers(
            name="Ledger", owner_team="Payments", namespace="payments", hosts="prod-eu",
            dashboard_url="https://grafana.example.com/d/ledger", logs_url="https://grafana.example.com/explore",
        )
    )  # fmt: skip
    assert "<<FILL: Kubernetes namespace>>" not in answered and "<<FILL: owner team>>" not in answered
    assert "kubectl get pods -n payments -l app=ledger" in answered
    assert "[Dashboard](https://grafana.example.com/d/ledger)" in answered


@pytest.mark.parametrize(
    ("criticality", "severity", "review", "rto"),
    [("critical", "Critical", "Monthly", "1 hour"), ("low", "Low", "Yearly", "72 hours")],
)
def test_criticality_sets_severity_review_interval_and_recovery_targets(criticality, severity, review, rto):
    markdown = generator.generate(generator.Answers(name="Ledger", criticality=criticality))
    data = parse(markdown)
    assert (data.severity, data.review_interval) == (severity, review)
    assert f"#### RTO: {rto}" in markdown


def test_escalation_comes_from_the_owner_team_and_the_oncall_rotation(db):
    service = factories.ServiceFactory(
        name="Payments API", slug="payments-api", owner_team=factories.TeamFactory(name="Payments", slug="payments")
    )
    answers = generator.answers_for_service(service, oncall="business-hours", criticality="critical")
    markdown = generator.generate(answers)
    assert "**Owner:** Payments" in markdown
    assert "| L1 | Payments engineer on duty | Team channel, then phone | First response |" in markdown
    assert "| L2 | Payments team lead | Phone | After 5 min |" in markdown
    assert generator.service_owner_team(service) == "Payments"


def test_a_catalog_service_keeps_its_slug_in_commands_and_the_file_name(db):
    service = factories.ServiceFactory(
        name="Payments API", slug="payments", owner_team=factories.TeamFactory(name="Payments", slug="payments")
    )
    answers = generator.answers_for_service(service)
    assert "kubectl rollout restart deployment/payments" in generator.generate(answers)
    runbook, _unknown = services.runbook_generate(answers=answers, actor=None)
    assert runbook.slug == "payments" and generator.file_name(answers) == "runbook-payments.md"


def test_other_answers_name_themselves_and_leave_placeholders():
    markdown = generator.generate(
        generator.Answers(name="Batch", environment="other", monitoring="other", other={"environment": "Nomad"})
    )
    assert "**Environment:** Nomad" in markdown
    assert "<<FILL: restart command>>" in markdown


def test_typed_answers_are_text_never_template_syntax():
    hostile = "{% include '/etc/passwd' %}{{ settings.SECRET_KEY }}"
    markdown = generator.generate(
        generator.Answers(
            name=hostile, owner_team=hostile, description=hostile, environment="other", other={"environment": hostile}
        )
    )
    assert f"**Environment:** {hostile}" in markdown and f"**Owner:** {hostile}" in markdown
    assert "root:" not in markdown


def test_unknown_answers_are_refused_by_name():
    with pytest.raises(generator.GeneratorError) as refused:
        generator.generate(generator.Answers(name="X", environment="mainframe", criticality="meh"))
    assert set(refused.value.messages) == {"environment", "criticality"}
    assert "kubernetes" in refused.value.messages["environment"]


def test_a_teams_own_environment_file_is_a_choice(tmp_path, settings):
    (tmp_path / "environments").mkdir()
    own = (
        (generator.BUILTIN_DIR / "environments" / "vm.toml")
        .read_text()
        .replace('label = "VMs (systemd)"', 'label = "Nomad"')
    )
    (tmp_path / "environments" / "nomad.toml").write_text(own.replace("systemctl", "nomad-ctl"))
    settings.RUNBOOK_GENERATOR_TEMPLATE_DIRS = [str(tmp_path)]
    assert ("nomad", "Nomad") in generator.choices(generator.environments())
    assert "nomad-ctl" in generator.generate(generator.Answers(name="Jobs", environment="nomad"))


def test_the_command_writes_the_same_markdown_as_the_page(admin_client, db, tmp_path, capsys):
    service = factories.ServiceFactory(
        name="Checkout API", slug="checkout-api", owner_team=factories.TeamFactory(name="Payments", slug="payments")
    )
    form = {
        "service": service.pk, "new_name": "", "owner_team": "", "service_type": "api", "environment": "kubernetes",
        "criticality": "critical", "monitoring": "prometheus", "oncall": "24x7", "datastore": "postgresql",
    }  # fmt: skip
    response = admin_client.post("/runbooks/generate/", form, secure=True)
    runbook = Runbook.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/runbooks/{runbook.slug}/edit/"
    assert runbook.version == 1 and runbook.kind == "operational"
    assert [s.slug for s in runbook.services.all()] == ["checkout-api"]
    export = admin_client.get(f"/runbooks/{runbook.slug}/export.md", secure=True)
    assert export["Content-Disposition"] == 'attachment; filename="runbook-checkout-api.md"'

    output = tmp_path / "runbook-checkout-api.md"
    call_command(
        "generate_runbook", "checkout-api", "--type", "api", "--environment", "kubernetes", "--criticality",
        "critical", "--monitoring", "prometheus", "--oncall", "24x7", "--output", str(output),
    )  # fmt: skip
    assert output.read_text() == export.content.decode()
    call_command("generate_runbook", "Checkout API", "--criticality", "critical", "--save")
    assert capsys.readouterr().out == export.content.decode()
    assert Runbook.objects.filter(slug="checkout-api-2", version=1).exists()


def test_the_generator_page_asks_the_five_questions_and_refuses_a_missing_name(admin_client, db):
    page = admin_client.get("/runbooks/generate/", secure=True)
    assert page.status_code == 200
    for question in ("1. Service type", "2. Deployment environment", "3. Criticality", "4. Monitoring", "5. On-call"):
        assert question in page.content.decode()
    refused = admin_client.post("/runbooks/generate/", {"service_type": "api"}, secure=True)
    assert refused.status_code == 422
    assert escape(errors.GENERATE_NAME_REQUIRED) in refused.content.decode()
    assert not Runbook.objects.exists()


def test_viewers_cannot_generate(client, db):
    client.force_login(factories.UserFactory(role="viewer"))
    assert client.get("/runbooks/generate/", secure=True).status_code == 403
