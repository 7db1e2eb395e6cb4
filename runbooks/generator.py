"""Seed 004's runbook generator: a service and the answers to its five questions (service type,
environment, criticality, monitoring, on-call) plus what the catalog cannot know become a complete
operational runbook in the Markdown format runbooks import and export.

The words are data, in runbooks/generator_templates/: one TOML file per environment and per
monitoring tool (a team adds its own by dropping a file into a directory named in the setting
RUNBOOK_GENERATOR_TEMPLATE_DIRS, which is searched before the built-in one), tables for service
types, criticality, on-call and datastores, and runbook.md for the document. Every value is a
Django template. What needs a human is written <<FILL: what>> and listed at the top.

The result is the exporter's own form (render(parse(markdown)) == markdown), so a generated file,
the runbook saved from it and its export are the same text."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from functools import cache
from pathlib import Path

from django.conf import settings
from django.template import Context, Engine
from django.utils import timezone

from runbooks.markdown_format import parse, render

BUILTIN_DIR = Path(__file__).parent / "generator_templates"
PLACEHOLDER = re.compile(r"<<FILL:\s*([^<>\n]*?)\s*>>")
OTHER = "other"
UNDEFINED = "<<UNDEFINED>>"  # a template naming a value the generator does not have

UNKNOWN_CHOICE = "Unknown {question}: {value}. Use one of: {choices}."
NAME_REQUIRED = "Name the service: pick one from the catalog or type a new name."
BAD_NUMBER = "{label} must be a number, e.g. {example}."

CPU_THRESHOLD = 80
MEMORY_THRESHOLD = 90

_engine = Engine(autoescape=False, string_if_invalid=UNDEFINED)


def template_dirs() -> list[Path]:
    return [*(Path(path) for path in settings.RUNBOOK_GENERATOR_TEMPLATE_DIRS), BUILTIN_DIR]


@cache
def _load(path: Path, mtime: float) -> dict:
    with path.open("rb") as file:
        return tomllib.load(file)


def _read(path: Path) -> dict:
    return _load(path, path.stat().st_mtime)


def _files(folder: str) -> dict[str, dict]:
    """key (file stem) → data, the first directory's file winning, ordered by `order` then label."""
    found: dict[str, dict] = {}
    for directory in template_dirs():
        for path in sorted((directory / folder).glob("*.toml")):
            found.setdefault(path.stem, _read(path))
    return dict(sorted(found.items(), key=lambda item: (item[1].get("order", 50), item[1].get("label", item[0]))))


def _table(name: str) -> dict[str, dict]:
    """A table file's entries; a team's file adds entries or replaces whole ones."""
    merged: dict[str, dict] = {}
    for directory in reversed(template_dirs()):
        path = directory / f"{name}.toml"
        if path.exists():
            merged.update(_read(path))
    return dict(sorted(merged.items(), key=lambda item: item[1].get("order", 50)))


def environments() -> dict[str, dict]:
    return _files("environments")


def monitoring_tools() -> dict[str, dict]:
    return _files("monitoring")


def service_types() -> dict[str, dict]:
    return _table("service_types")


def criticalities() -> dict[str, dict]:
    return _table("criticality")


def oncall_rotations() -> dict[str, dict]:
    return _table("oncall")


def datastores() -> dict[str, dict]:
    return _table("datastores")


def choices(options: dict[str, dict]) -> list[tuple[str, str]]:
    return [(key, entry.get("label", key)) for key, entry in options.items()]


def service_owner_team(service) -> str:
    """The team that owns a catalog service (empty when unknown). The one place that reads it."""
    team = getattr(service, "owner_team", None)
    return team.name.strip() if team is not None else ""


@dataclass
class Answers:
    """Seed 004's five questions, and what the catalog cannot know. Empty means "ask a human":
    it becomes a <<FILL: …>> placeholder, except the SLO figures, which default by criticality."""

    name: str
    slug: str = ""  # the catalog's; empty: made from the name
    service_type: str = "api"
    environment: str = "kubernetes"
    criticality: str = "high"
    monitoring: str = "prometheus"
    oncall: str = "24x7"
    datastore: str = "postgresql"
    owner_team: str = ""
    description: str = ""
    namespace: str = ""
    hosts: str = ""
    dashboard_url: str = ""
    logs_url: str = ""
    availability: str = ""
    latency_ms: str = ""
    error_rate_percent: str = ""
    other: dict[str, str] = field(default_factory=dict)  # question → the name typed for "other"


def answers_for_service(service, **answers) -> Answers:
    """Answers for a catalog service: its name, owner team and description come from the catalog."""
    answers.setdefault("owner_team", service_owner_team(service))
    answers.setdefault("description", (service.description or "").strip())
    return Answers(name=service.name, slug=service.slug, **answers)


class GeneratorError(ValueError):
    def __init__(self, messages: dict[str, str]) -> None:
        super().__init__("; ".join(messages.values()))
        self.messages = messages


def _number(value: str, default: str, label: str, example: str, problems: dict[str, str], key: str) -> Decimal:
    try:
        number = Decimal(str(value or default).strip().rstrip("%").strip())
    except InvalidOperation:
        problems[key] = BAD_NUMBER.format(label=label, example=example)
        return Decimal(default)
    if not number.is_finite() or number <= 0 or number > 100_000:
        problems[key] = BAD_NUMBER.format(label=label, example=example)
        return Decimal(default)
    return number


def _plain(number: Decimal) -> str:
    text = format(number.normalize(), "f")
    return text


def _render(value, context: Context):
    if isinstance(value, str):
        return _engine.from_string(value).render(context)
    if isinstance(value, dict):
        return {key: _render(item, context) for key, item in value.items()}
    if isinstance(value, list):
        return [_render(item, context) for item in value]
    return value


# Other words for the built-in files' keys, as people type them on the command line.
ALIASES = {
    "containers": "docker-compose", "docker": "docker-compose", "compose": "docker-compose",
    "serverless": "aws-lambda", "lambda": "aws-lambda", "gcloud": "gcloud-functions",
    "cloud-functions": "gcloud-functions", "baremetal": "bare-metal", "grafana": "prometheus",
    "new-relic": "newrelic", "24/7": "24x7", "business": "business-hours", "k8s": "kubernetes",
}  # fmt: skip


def _pick(options: dict[str, dict], key: str, question: str, problems: dict[str, str]) -> dict:
    key = key if key in options else ALIASES.get(key.strip().lower(), key)
    if key not in options:
        problems[question] = UNKNOWN_CHOICE.format(question=question, value=key, choices=", ".join(options))
        return next(iter(options.values()))
    return options[key]


def _downtime(availability: Decimal) -> str:
    minutes = (Decimal(100) - availability) / 100 * 30 * 24 * 60
    if minutes >= 120:
        return f"{round(minutes / 60, 1).normalize():f} hours"
    return f"{round(minutes)} minutes"


def _fill(what: str) -> str:
    return f"<<FILL: {what}>>"


def context_for(answers: Answers, *, today: date | None = None) -> dict:
    """Everything runbook.md reads. Raises GeneratorError naming each bad answer."""
    problems: dict[str, str] = {}
    name = " ".join(answers.name.split())
    if not name:
        problems["name"] = NAME_REQUIRED
    slug = slug_of(answers)
    type_ = dict(_pick(service_types(), answers.service_type, "service type", problems))
    env = dict(_pick(environments(), answers.environment, "environment", problems))
    crit = dict(_pick(criticalities(), answers.criticality, "criticality", problems))
    mon = dict(_pick(monitoring_tools(), answers.monitoring, "monitoring", problems))
    oncall = dict(_pick(oncall_rotations(), answers.oncall, "on-call", problems))
    store = dict(_pick(datastores(), answers.datastore, "datastore", problems))
    availability = _number(answers.availability, crit["availability"], "Availability", "99.9", problems, "availability")
    if availability >= 100:
        problems["availability"] = BAD_NUMBER.format(label="Availability", example="99.9")
        availability = Decimal(crit["availability"])
    latency = _number(answers.latency_ms, str(crit["latency_ms"]), "p95 latency", "200", problems, "latency_ms")
    error = _number(answers.error_rate_percent, crit["error_rate_percent"], "Error rate", "0.1", problems, "error_rate")
    if problems:
        raise GeneratorError(problems)

    team = " ".join(answers.owner_team.split()) or _fill("owner team")
    latency_alert = latency * 2
    error_alert = min(max(error * 2, Decimal(1)), Decimal(10))
    values = {
        "name": name,
        "slug": slug,
        "team": team,
        "namespace": answers.namespace.strip() or _fill(env["namespace_placeholder"]),
        "hosts": answers.hosts.strip() or _fill(env["hosts_placeholder"]),
        "cpu_threshold": CPU_THRESHOLD,
        "memory_threshold": MEMORY_THRESHOLD,
        "latency_ms": _plain(latency),
        "latency_threshold_ms": _plain(latency_alert),
        "latency_threshold_s": _plain(latency_alert / 1000),
        "latency_threshold_ns": _plain(latency_alert * 1_000_000),
        "error_percent": _plain(error),
        "error_alert_percent": _plain(error_alert),
        "error_threshold": _plain(error_alert / 100),
    }
    base = Context(values, autoescape=False)
    env, mon, type_, store, oncall = (_render(part, base) for part in (env, mon, type_, store, oncall))
    # The name typed for "other" is text, never a template: set after rendering.
    for question, chosen, key in (
        ("service_type", type_, answers.service_type),
        ("environment", env, answers.environment),
        ("monitoring", mon, answers.monitoring),
        ("datastore", store, answers.datastore),
    ):
        typed = " ".join(answers.other.get(question, "").split())
        if key == OTHER and typed:
            chosen["label"] = typed
    escalate = crit["escalate_after_minutes"]
    alert_severity = crit["severity"]
    alerts = [
        {
            "name": f"{slug}-high-error-rate",
            "condition": mon["alert_error_rate"],
            "severity": alert_severity,
            "response": "Resolution steps 2 to 6; roll back if it began with a deployment",
        },
        {
            "name": f"{slug}-high-latency",
            "condition": mon["alert_latency"],
            "severity": "High" if alert_severity == "Critical" else alert_severity,
            "response": "Troubleshooting → High Response Times",
        },
        {
            "name": f"{slug}-down",
            "condition": mon["alert_down"],
            "severity": alert_severity,
            "response": "Emergency Procedures → Service is Down",
        },
        {
            "name": f"{slug}-high-cpu",
            "condition": mon["alert_cpu"],
            "severity": "Warning",
            "response": "Add capacity (Appendix), look for a hot loop",
        },
        {
            "name": f"{slug}-high-memory",
            "condition": mon["alert_memory"],
            "severity": "High" if alert_severity in ("Critical", "High") else "Warning",
            "response": "Troubleshooting → Memory Growth",
        },
    ]
    dashboard = answers.dashboard_url.strip()
    logs = answers.logs_url.strip()
    return {
        **values,
        "description": " ".join(answers.description.split()),
        "type": type_,
        "env": env,
        "mon": mon,
        "crit": crit,
        "oncall": oncall,
        "datastore": store,
        "has_datastore": any(store.get(key) for key in ("connections", "restore")),
        "entry": type_.get("entry", "callers"),
        "availability": _plain(availability),
        "downtime": _downtime(availability),
        "dashboard_link": f"[Dashboard]({dashboard})" if dashboard else _fill(mon["dashboard_placeholder"]),
        "logs_link": f"[Logs]({logs})" if logs else _fill(mon["logs_placeholder"]),
        "alerts": alerts,
        "escalate": escalate,
        "escalate_first": f"{team} team lead",
        "today": (today or timezone.localdate()).isoformat(),
    }


def _tidy(text: str) -> str:
    """Template tags on their own lines leave blank runs and trailing spaces: the exporter's form
    has neither."""
    lines = [line.rstrip() for line in text.split("\n")]
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines))
    return text.strip("\n") + "\n"


def placeholders(markdown: str) -> list[dict]:
    """Each distinct <<FILL: what>> in order of first appearance, with how often it appears."""
    counts: dict[str, int] = {}
    for match in PLACEHOLDER.finditer(markdown):
        counts[match.group(1)] = counts.get(match.group(1), 0) + 1
    return [{"what": what, "count": count} for what, count in counts.items()]


def _document() -> str:
    for directory in template_dirs():
        path = directory / "runbook.md"
        if path.exists():
            return path.read_text(encoding="utf-8")
    raise FileNotFoundError("runbook.md")


def generate_raw(answers: Answers, *, today: date | None = None) -> str:
    """The rendered template, tidied, before the exporter's normalisation (the round-trip tests
    compare the two)."""
    context = context_for(answers, today=today)
    template = _engine.from_string(_document())
    first = _tidy(template.render(Context({**context, "placeholders": []}, autoescape=False)))
    return _tidy(template.render(Context({**context, "placeholders": placeholders(first)}, autoescape=False)))


def generate(answers: Answers, *, today: date | None = None) -> str:
    """The runbook's Markdown, as `runbook-<service>.md` holds it."""
    return render(parse(generate_raw(answers, today=today)))


def slug_of(answers: Answers) -> str:
    """The service's slug: the catalog's, else made from the name (deployment, function and alert
    names in the commands use it)."""
    made = re.sub(r"[^a-z0-9]+", "-", (answers.slug or answers.name).lower()).strip("-")
    return made[:100] or "service"


def file_name(answers: Answers) -> str:
    return f"runbook-{slug_of(answers)}.md"
