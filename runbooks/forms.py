from django import forms

from core.forms import Form
from incidents.models import Service, Team
from runbooks import errors
from runbooks.markdown_format import RunbookData, parse_sections, parse_steps, render_sections, render_steps
from runbooks.models import ReviewInterval, RunbookKind, RunbookSeverity, StepOutcome

MARKDOWN_HELP = "Markdown."


def _markdown(label: str, rows: int = 4, help_text: str = MARKDOWN_HELP) -> forms.CharField:
    return forms.CharField(
        label=label, required=False, help_text=help_text, widget=forms.Textarea(attrs={"rows": rows})
    )


class RunbookForm(Form):
    """The whole runbook on one page. Steps and any further sections are edited as Markdown in
    the same format as import and export ("### Step 1: …", "## Heading"), so writing a runbook
    here and in a file is the same skill."""

    title = forms.CharField(max_length=200, error_messages={"required": errors.TITLE_REQUIRED})
    kind = forms.ChoiceField(choices=RunbookKind.choices)
    category = forms.CharField(max_length=100, required=False, help_text="Groups the index, e.g. Database.")
    services = forms.ModelMultipleChoiceField(
        queryset=Service.objects.order_by("name"), required=False, widget=forms.CheckboxSelectMultiple
    )
    severity = forms.ChoiceField(choices=[("", "—"), *RunbookSeverity.choices], required=False)
    owner_team = forms.ModelChoiceField(
        queryset=Team.objects.order_by("name"),
        to_field_name="slug",
        required=False,
        empty_label="—",
        label="Owner team",
    )
    owner = forms.CharField(max_length=200, required=False, help_text="A person, or a team not in the catalog.")
    response_time = forms.CharField(max_length=100, required=False, help_text="e.g. Immediate, < 30 min.")
    alert_names = forms.CharField(
        required=False, help_text="Comma-separated alert names, e.g. db-connection-pool-exhausted."
    )
    review_interval_days = forms.TypedChoiceField(
        label="Review", choices=ReviewInterval.choices, coerce=int, initial=ReviewInterval.QUARTERLY
    )
    summary = _markdown("Plain English summary", 3)
    symptoms = _markdown("Symptoms")
    impact = _markdown("Impact")
    prerequisites = _markdown("Prerequisites", help_text="Access, tools with versions, permissions. Markdown.")
    assessment = _markdown("Initial assessment")
    steps = _markdown(
        "Resolution steps",
        14,
        help_text="### Step 1: Title, then **Goal:** …, #### Commands with a ```bash block, #### Expected output, "
        "#### Success Criteria, #### If this doesn't work.",
    )
    verification = _markdown("Verification")
    communication = _markdown("Communication")
    rollback = _markdown("Rollback procedure")
    escalation = _markdown("Escalation")
    root_cause = _markdown("Root cause investigation")
    post_incident = _markdown("Post-incident actions")
    assumptions = _markdown("Assumptions")
    failure_modes = _markdown("Failure modes")
    how_to_test = _markdown("How to test this runbook")
    automation = _markdown("Automation candidates")
    related_links = _markdown("Related links")
    notes = _markdown("Notes")
    other_sections = _markdown("Other sections", 6, help_text="Further sections, each starting with ## Heading.")
    change_note = forms.CharField(max_length=300, required=False, help_text="What changed, for the history.")
    base_version = forms.IntegerField(required=False, widget=forms.HiddenInput)

    TEXT_FIELDS = [
        "summary", "symptoms", "impact", "prerequisites", "assessment", "verification", "communication",
        "rollback", "escalation", "root_cause", "post_incident", "assumptions", "failure_modes",
        "how_to_test", "automation", "related_links", "notes",
    ]  # fmt: skip

    @classmethod
    def initial_from(cls, data: RunbookData, *, services: list[Service], review_interval_days: int) -> dict:
        return {
            "title": data.title,
            "kind": data.kind,
            "category": data.category,
            "services": services,
            "severity": next((c.value for c in RunbookSeverity if c.label == data.severity), ""),
            "owner": data.owner,
            "owner_team": data.owner_team,
            "response_time": data.response_time,
            "alert_names": ", ".join(data.alert_names),
            "review_interval_days": review_interval_days,
            **{name: getattr(data, name) for name in cls.TEXT_FIELDS},
            "steps": render_steps(data.steps_intro, data.steps),
            "other_sections": render_sections(data.extra_sections),
        }

    def to_data(self, *, last_tested=None, extra_metadata=None) -> RunbookData:
        cleaned = self.cleaned_data
        intro, steps = parse_steps(cleaned["steps"])
        return RunbookData(
            title=cleaned["title"],
            kind=cleaned["kind"],
            category=cleaned["category"],
            severity=cleaned["severity"],
            owner=cleaned["owner"],
            owner_team=cleaned["owner_team"].slug if cleaned["owner_team"] else "",
            response_time=cleaned["response_time"],
            last_tested=last_tested,
            review_interval=str(cleaned["review_interval_days"]),
            services=[service.slug for service in cleaned["services"]],
            alert_names=[name.strip().strip("`") for name in cleaned["alert_names"].split(",") if name.strip()],
            extra_metadata=extra_metadata or [],
            **{name: cleaned[name].replace("\r\n", "\n").strip() for name in self.TEXT_FIELDS},
            steps_intro=intro,
            steps=steps,
            extra_sections=parse_sections(cleaned["other_sections"]),
        )


class ImportForm(Form):
    file = forms.FileField(required=False, label="Markdown file", help_text="runbook-<name>.md in the seeds' format.")
    text = forms.CharField(required=False, label="…or paste Markdown", widget=forms.Textarea(attrs={"rows": 12}))

    def clean(self) -> dict:
        cleaned = super().clean()
        upload = cleaned.get("file")
        if upload:
            cleaned["markdown"] = upload.read().decode("utf-8", errors="replace")
        else:
            cleaned["markdown"] = cleaned.get("text", "")
        if not cleaned["markdown"].strip():
            raise forms.ValidationError(errors.IMPORT_EMPTY)
        return cleaned


class StepRecordForm(Form):
    outcome = forms.ChoiceField(
        choices=[(c.value, c.label) for c in StepOutcome if c != StepOutcome.PENDING],
        error_messages={"required": errors.UNKNOWN_OUTCOME, "invalid_choice": errors.UNKNOWN_OUTCOME},
    )
    note = forms.CharField(required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))
    output = forms.CharField(
        required=False, max_length=20000, label="Command output", widget=forms.Textarea(attrs={"rows": 3})
    )


class AttachForm(Form):
    runbook = forms.SlugField()


def _with_other(options: dict[str, dict]) -> list[tuple[str, str]]:
    from runbooks.generator import OTHER, choices

    listed = [(key, label) for key, label in choices(options) if key != OTHER]
    return [*listed, (OTHER, "Other (name it)")] if OTHER in options else listed


class GenerateForm(Form):
    """Seed 004's five questions, and what the service catalog cannot know. Choices come from the
    generator's template files, so a team's own environment file appears here by itself."""

    service = forms.ModelChoiceField(
        queryset=Service.objects.order_by("name"),
        required=False,
        empty_label="— a new service —",
        help_text="Its name, owner team and description come from the catalog.",
    )
    new_name = forms.CharField(max_length=100, required=False, label="…or a new service's name")
    owner_team = forms.CharField(
        max_length=100, required=False, help_text="Empty: the catalog's owner team (else a placeholder)."
    )
    service_type = forms.ChoiceField(label="1. Service type")
    service_type_other = forms.CharField(max_length=60, required=False, label="Other service type")
    environment = forms.ChoiceField(label="2. Deployment environment")
    environment_other = forms.CharField(max_length=60, required=False, label="Other environment")
    criticality = forms.ChoiceField(label="3. Criticality")
    monitoring = forms.ChoiceField(label="4. Monitoring")
    monitoring_other = forms.CharField(max_length=60, required=False, label="Other monitoring tool")
    oncall = forms.ChoiceField(label="5. On-call rotation")
    datastore = forms.ChoiceField(label="Datastore")
    datastore_other = forms.CharField(max_length=60, required=False, label="Other datastore")
    namespace = forms.CharField(
        max_length=100,
        required=False,
        help_text="Kubernetes namespace, Compose project directory, install directory or cloud region.",
    )
    hosts = forms.CharField(
        max_length=200, required=False, help_text="kubectl context, host name(s), AWS profile or GCP project."
    )
    # A text box that asks for a URL: styled like the form's other boxes.
    dashboard_url = forms.URLField(
        required=False,
        max_length=500,
        assume_scheme="https",
        label="Dashboard URL",
        widget=forms.TextInput(attrs={"inputmode": "url", "placeholder": "https://grafana.example.com/d/…"}),
    )
    logs_url = forms.URLField(
        required=False,
        max_length=500,
        assume_scheme="https",
        label="Logs URL",
        widget=forms.TextInput(attrs={"inputmode": "url"}),
    )
    availability = forms.DecimalField(
        required=False,
        min_value=0,
        max_value=99.9999,
        decimal_places=4,
        label="Availability SLO (%)",
        help_text="Empty: from the criticality.",
    )
    latency_ms = forms.IntegerField(required=False, min_value=1, max_value=600_000, label="p95 latency SLO (ms)")
    error_rate_percent = forms.DecimalField(
        required=False, min_value=0.001, max_value=100, decimal_places=3, label="Error rate SLO (%)"
    )

    def __init__(self, *args, **kwargs) -> None:
        from runbooks import generator

        super().__init__(*args, **kwargs)
        self.fields["service_type"].choices = _with_other(generator.service_types())
        self.fields["environment"].choices = _with_other(generator.environments())
        self.fields["criticality"].choices = [
            (key, f"{entry['label']} ({entry['meaning']})") for key, entry in generator.criticalities().items()
        ]
        self.fields["monitoring"].choices = _with_other(generator.monitoring_tools())
        self.fields["oncall"].choices = generator.choices(generator.oncall_rotations())
        self.fields["datastore"].choices = _with_other(generator.datastores())
        self.fields["criticality"].initial = "high"

    def clean(self) -> dict:
        cleaned = super().clean()
        if not cleaned.get("service") and not " ".join(cleaned.get("new_name", "").split()):
            self.add_error("new_name", errors.GENERATE_NAME_REQUIRED)
        return cleaned

    def to_answers(self):
        from runbooks import generator

        cleaned = self.cleaned_data
        values = {
            "service_type": cleaned["service_type"],
            "environment": cleaned["environment"],
            "criticality": cleaned["criticality"],
            "monitoring": cleaned["monitoring"],
            "oncall": cleaned["oncall"],
            "datastore": cleaned["datastore"],
            "namespace": cleaned["namespace"],
            "hosts": cleaned["hosts"],
            "dashboard_url": cleaned["dashboard_url"],
            "logs_url": cleaned["logs_url"],
            "availability": str(cleaned["availability"] or ""),
            "latency_ms": str(cleaned["latency_ms"] or ""),
            "error_rate_percent": str(cleaned["error_rate_percent"] or ""),
            "other": {
                name: cleaned[f"{name}_other"] for name in ("service_type", "environment", "monitoring", "datastore")
            },
        }
        if cleaned["owner_team"].strip():
            values["owner_team"] = cleaned["owner_team"]
        if cleaned["service"]:
            return generator.answers_for_service(cleaned["service"], **values)
        return generator.Answers(name=cleaned["new_name"], **values)
