"""Every write to a runbook or a run goes through here. A runbook is written whole, from
RunbookData (the Markdown format's plain data), so the editor, the importer and a restore share
one path: validate, write fields and steps, bump the version, keep a revision, refresh the
search vector."""

from dataclasses import dataclass, field
from datetime import date

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils import timezone
from django.utils.text import slugify

from config.versions import RUNBOOKS, atomic_bumping
from core.text import single_line
from incidents.models import EventKind, Incident, Service, Team
from incidents.services import incident_event_record
from runbooks import errors, generator
from runbooks.completeness import runbook_completeness
from runbooks.markdown_format import RunbookData, StepData, parse
from runbooks.models import (
    ReviewInterval,
    Runbook,
    RunbookRevision,
    RunbookRun,
    RunbookSeverity,
    RunbookStep,
    RunStep,
    SearchSynonym,
    StepOutcome,
)
from runbooks.search import SYNONYM_SEPARATOR, search_index_write, synonym_terms

TEXT_FIELDS = [
    "summary", "symptoms", "impact", "prerequisites", "assessment", "steps_intro", "verification",
    "communication", "rollback", "escalation", "root_cause", "post_incident", "assumptions",
    "failure_modes", "how_to_test", "automation", "related_links", "notes",
]  # fmt: skip
STEP_FIELDS = [
    "title", "goal", "details", "commands", "commands_language", "expected_output", "success_criteria", "if_fails",
]  # fmt: skip
# Every write's transaction: it also tells the cached incident pages that runbooks changed.
writes = atomic_bumping(RUNBOOKS)


# ---------------------------------------------------------------------------------------------
# Runbook ⇄ RunbookData


def runbook_to_data(runbook: Runbook) -> RunbookData:
    """The runbook as plain data (what export writes and a revision stores). Reads the
    prefetched services and steps when the caller prefetched them."""
    return RunbookData(
        title=runbook.title,
        kind=runbook.kind,
        category=runbook.category,
        severity=runbook.get_severity_display() if runbook.severity else "",
        owner=runbook.owner,
        owner_team=runbook.owner_team.slug if runbook.owner_team_id else "",
        response_time=runbook.response_time,
        last_tested=runbook.last_tested,
        review_interval=runbook.get_review_interval_days_display(),
        services=[service.name for service in runbook.services.all()],
        alert_names=list(runbook.alert_names),
        extra_metadata=[list(pair) for pair in runbook.extra_metadata],
        **{name: getattr(runbook, name) for name in TEXT_FIELDS},
        steps=[StepData(**{name: getattr(step, name) for name in STEP_FIELDS}) for step in runbook.steps.all()],
        extra_sections=[list(pair) for pair in runbook.extra_sections],
    )


def _severity(value: str) -> str:
    wanted = value.strip().casefold()
    for choice in RunbookSeverity:
        if wanted in (choice.value, choice.label.casefold()):
            return choice.value
    return ""


def _review_interval(value: str, default: int) -> int:
    wanted = value.strip().casefold()
    for choice in ReviewInterval:
        if wanted in (str(choice.value), choice.label.casefold()):
            return choice.value
    return default


def _catalog(names: list[str]) -> tuple[list[Service], list[str]]:
    """Catalog services named by name or slug (any case), and the names that match none."""
    if not names:
        return [], []
    query = Q()
    for name in names:
        query |= Q(name__iexact=name) | Q(slug__iexact=name)
    found = list(Service.objects.filter(query))
    unknown = [
        name
        for name in names
        if not any(name.casefold() in (service.name.casefold(), service.slug.casefold()) for service in found)
    ]
    return found, unknown


RESERVED_SLUGS = {"new", "import", "stale", "runs", "attach", "generate"}  # runbooks/urls.py's fixed words


def _unique_slug(title: str, *, exclude_pk: int | None = None) -> str:
    base = slugify(title)[:180] or "runbook"
    taken = RESERVED_SLUGS | set(
        Runbook.objects.filter(slug__startswith=base).exclude(pk=exclude_pk).values_list("slug", flat=True)
    )
    slug, number = base, 2
    while slug in taken:
        slug, number = f"{base}-{number}", number + 1
    return slug


def _validate(data: RunbookData) -> None:
    problems: dict[str, list[str]] = {}
    if not single_line(data.title):
        problems["title"] = [errors.TITLE_REQUIRED]
    if any(not step.title.strip() for step in data.steps):
        problems["steps"] = [errors.STEP_TITLE_REQUIRED]
    if problems:
        raise ValidationError(problems)


def _search_refresh(runbook: Runbook, services: list[Service]) -> None:
    """The runbook's search index entry (runbooks.search: PostgreSQL's tsvector or SQLite's FTS5
    row), in the write's transaction."""
    search_index_write(runbook=runbook, services=services, steps=runbook.steps.all())


def _write(
    *,
    runbook: Runbook,
    data: RunbookData,
    actor: AbstractBaseUser | None,
    change_note: str,
    keep_last_tested: bool = False,
) -> tuple[Runbook, list[str]]:
    _validate(data)
    now = timezone.now()
    services, unknown = _catalog(data.services)
    runbook.title = single_line(data.title)[:200]
    runbook.kind = data.kind if data.kind in ("incident", "operational") else "incident"
    runbook.category = data.category[:100]
    runbook.severity = _severity(data.severity)
    runbook.owner = data.owner[:200]
    runbook.owner_team = Team.objects.filter(slug=data.owner_team).first() if data.owner_team else None
    runbook.response_time = data.response_time[:100]
    runbook.alert_names = list(data.alert_names)
    runbook.extra_metadata = [list(pair) for pair in data.extra_metadata]
    runbook.extra_sections = [list(pair) for pair in data.extra_sections]
    for name in TEXT_FIELDS:
        setattr(runbook, name, getattr(data, name))
    if not keep_last_tested:
        runbook.last_tested = data.last_tested
    runbook.review_interval_days = _review_interval(data.review_interval, runbook.review_interval_days)
    runbook.updated_at = now
    runbook.updated_by = actor if actor is not None and actor.is_authenticated else None
    if runbook.pk is None:
        runbook.created_at = now
        runbook.version = 1
    else:
        runbook.version += 1
    runbook.review_due_on = runbook.compute_review_due()
    runbook.save()
    runbook.services.set(services)
    runbook.steps.all().delete()
    RunbookStep.objects.bulk_create(
        RunbookStep(runbook=runbook, position=position, **{name: getattr(step, name) for name in STEP_FIELDS})
        for position, step in enumerate(data.steps, start=1)
    )
    saved = runbook_to_data(runbook)
    RunbookRevision.objects.create(
        runbook=runbook,
        version=runbook.version,
        created_at=now,
        author=runbook.updated_by,
        change_note=change_note[:300],
        snapshot=saved.to_dict(),
    )
    _search_refresh(runbook, services)
    _completeness_refresh(runbook, saved)
    return runbook, unknown


def drilled_step_titles(runbook: Runbook) -> set[str]:
    """Titles of the steps marked done in the runbook's finished drills: the commands someone has
    exercised. Titles, because every save writes the steps anew."""
    return set(
        RunStep.objects.filter(
            run__runbook=runbook, run__incident__isnull=True, run__finished_at__isnull=False, outcome=StepOutcome.DONE
        ).values_list("title", flat=True)
    )


def _completeness_refresh(runbook: Runbook, data: RunbookData | None = None) -> None:
    # Without the review date: the index subtracts that finding's weight when the review is due.
    result = runbook_completeness(data or runbook_to_data(runbook), drilled_titles=drilled_step_titles(runbook))
    Runbook.objects.filter(pk=runbook.pk).update(completeness_score=result.score)
    runbook.completeness_score = result.score


@writes
def runbook_create(
    *, data: RunbookData, actor: AbstractBaseUser | None, change_note: str = "Created", slug: str = ""
) -> tuple[Runbook, list[str]]:
    """A new runbook at version 1; returns it and the service names not in the catalog. `slug` is
    the address wanted instead of one made from the title (a number is added if it is taken)."""
    _validate(data)
    runbook = Runbook(slug=_unique_slug(slug or data.title))
    return _write(runbook=runbook, data=data, actor=actor, change_note=change_note)


@writes
def runbook_update(
    *,
    runbook: Runbook,
    data: RunbookData,
    actor: AbstractBaseUser | None,
    change_note: str = "",
    base_version: int | None = None,
) -> tuple[Runbook, list[str]]:
    """The runbook's next version. Its slug stays: people paste /runbooks/<slug>/ into alerts.
    `base_version` is the version the editor started from: when someone saved in between, the
    save is refused instead of silently undoing their change."""
    runbook = Runbook.objects.select_for_update().get(pk=runbook.pk)
    if base_version is not None and base_version != runbook.version:
        raise ValidationError(errors.STALE_EDIT.format(version=runbook.version))
    return _write(runbook=runbook, data=data, actor=actor, change_note=change_note or "Edited")


@writes
def runbook_import(*, text: str, actor: AbstractBaseUser | None) -> tuple[Runbook, list[str]]:
    """A runbook from Markdown in the seeds' format (RunbookFormatError if it has no title)."""
    return runbook_create(data=parse(text), actor=actor, change_note="Imported from Markdown")


@writes
def runbook_generate(*, answers: generator.Answers, actor: AbstractBaseUser | None) -> tuple[Runbook, list[str]]:
    """A runbook from seed 004's questions (runbooks.generator), saved as version 1. The stored
    runbook exports exactly the Markdown the generator wrote."""
    data = parse(generator.generate(answers))
    # The service's team (the catalog's owner team, or the one typed) when it is a team of ours.
    team = Team.objects.filter(name=" ".join(answers.owner_team.split())).first()
    data.owner_team = team.slug if team else ""
    return runbook_create(
        data=data,
        actor=actor,
        change_note="Generated from seed 004's questions",
        slug=generator.slug_of(answers),  # so it exports as runbook-<service>.md
    )


@writes
def runbook_restore(*, runbook: Runbook, revision: RunbookRevision, actor: AbstractBaseUser) -> Runbook:
    """Restoring is writing the old content as the newest version, so history only grows. The
    last-tested date is not content: it stays."""
    data = RunbookData.from_dict(revision.snapshot)
    runbook, _unknown = _write(
        runbook=Runbook.objects.select_for_update().get(pk=runbook.pk),
        data=data,
        actor=actor,
        change_note=f"Restored version {revision.version}",
        keep_last_tested=True,
    )
    return runbook


# ---------------------------------------------------------------------------------------------
# Running a runbook


def _new_run(*, runbook: Runbook, incident: Incident | None, actor: AbstractBaseUser) -> RunbookRun:
    steps = list(runbook.steps.all())
    if not steps:
        raise ValidationError(errors.NO_STEPS)
    run = RunbookRun.objects.create(
        runbook=runbook, incident=incident, runbook_version=runbook.version, started_by=actor, started_at=timezone.now()
    )
    RunStep.objects.bulk_create(RunStep(run=run, step=step, position=step.position, title=step.title) for step in steps)
    return run


@writes
def runbook_attach(*, runbook: Runbook, incident: Incident, actor: AbstractBaseUser) -> RunbookRun:
    """The runbook becomes the incident's checklist; the timeline says so."""
    if RunbookRun.objects.filter(runbook=runbook, incident=incident).exists():
        raise ValidationError(errors.ALREADY_ATTACHED)
    run = _new_run(runbook=runbook, incident=incident, actor=actor)
    incident_event_record(
        incident=incident,
        kind=EventKind.RUNBOOK_ATTACHED,
        actor=actor,
        text=f"Runbook attached: {runbook.title} (v{runbook.version}, {run.steps.count()} steps)",
        data={"runbook": runbook.slug, "run": run.pk, "version": runbook.version},
    )
    return run


@writes
def run_step_record(
    *, run_step: RunStep, outcome: str, actor: AbstractBaseUser, note: str = "", output: str = ""
) -> RunStep:
    """Mark a checklist step done, skipped or failed (again, if the team changes its mind); on an
    incident every such mark is a timeline event."""
    if outcome not in (StepOutcome.DONE, StepOutcome.SKIPPED, StepOutcome.FAILED):
        raise ValidationError({"outcome": [errors.UNKNOWN_OUTCOME]})
    run_step = RunStep.objects.select_for_update().select_related("run__runbook").get(pk=run_step.pk)
    run = run_step.run
    if run.finished_at is not None:
        raise ValidationError(errors.RUN_FINISHED)
    run_step.outcome = outcome
    run_step.note = note.strip()
    run_step.output = output.rstrip()
    run_step.recorded_by = actor
    run_step.recorded_at = timezone.now()
    run_step.save()
    if run.incident_id is not None:
        body_parts = [run_step.note]
        if run_step.output:
            body_parts.append(f"Output:\n{run_step.output}")
        outcome_label = StepOutcome(outcome).label.lower()
        incident_event_record(
            incident=Incident(pk=run.incident_id),
            kind=EventKind.RUNBOOK_STEP,
            actor=actor,
            text=f"Step {run_step.position} {outcome_label}: {run_step.title} — {run.runbook.title}",
            body="\n\n".join(part for part in body_parts if part),
            # The note and the pasted output apart, so the timeline shows the output as it was
            # pasted (monospace, columns kept).
            data={
                "runbook": run.runbook.slug,
                "run": run.pk,
                "step": run_step.position,
                "outcome": outcome,
                "note": run_step.note,
                "output": run_step.output,
            },
        )
    return run_step


@writes
def drill_start(*, runbook: Runbook, actor: AbstractBaseUser) -> RunbookRun:
    """Run the runbook without an incident (seed 000: "How to test this runbook")."""
    return _new_run(runbook=runbook, incident=None, actor=actor)


@writes
def drill_finish(*, run: RunbookRun, actor: AbstractBaseUser, today: date | None = None) -> RunbookRun:
    """A finished drill is a test of the runbook: it sets last tested and the next review."""
    run = RunbookRun.objects.select_for_update().get(pk=run.pk)
    if run.incident_id is not None:
        raise ValidationError(errors.NOT_A_DRILL)
    if run.finished_at is not None:
        raise ValidationError(errors.RUN_FINISHED)
    if run.steps.filter(outcome=StepOutcome.PENDING).exists():
        raise ValidationError(errors.DRILL_NOT_COMPLETE)
    run.finished_at = timezone.now()
    run.save(update_fields=["finished_at"])
    runbook = Runbook.objects.select_for_update().get(pk=run.runbook_id)
    runbook.last_tested = today or timezone.localdate()
    runbook.review_due_on = runbook.compute_review_due()
    runbook.save(update_fields=["last_tested", "review_due_on"])
    _completeness_refresh(runbook)
    return run


# ---------------------------------------------------------------------------------------------
# Demo data


DEMO_SERVICE_RUNBOOK = """# Runbook: Database connection pool exhausted

**Severity:** High
**Owner:** Platform team
**Response Time:** < 30 min
**Services:** database, api
**Alerts:** `db-connection-pool-exhausted`, `api-5xx-rate-high`
**Category:** Database
**Review Interval:** Quarterly

## Plain English Summary

The API cannot get a database connection, so requests fail with 503s. Use this when the pool
alert fires or the API's error rate jumps together with database wait times.

## Symptoms

- API returning 503 errors on most endpoints
- "Database connection pool exhausted" alert
- Slow queries piling up in `pg_stat_activity`

## Resolution Steps

Follow these steps in order. Don't skip ahead.

### Step 1: Confirm the pool is exhausted

**Goal:** Know that connections, not the database itself, are the problem.

#### Commands

```bash
psql "$DATABASE_URL" -c "SELECT state, count(*) FROM pg_stat_activity GROUP BY state;"
```

#### Expected output

```text
 state  | count
--------+-------
 active |   100
```

#### Success Criteria

- Active connections at the pool limit

#### If this doesn't work

- The database is down, not the pool: go to the database outage runbook.

### Step 2: Cancel long-running queries

**Goal:** Free connections held by runaway queries.

#### Commands

```bash
psql "$DATABASE_URL" -c "SELECT pg_cancel_backend(pid) FROM pg_stat_activity
  WHERE state = 'active' AND now() - query_start > interval '5 minutes';"
```

#### Success Criteria

- Active connections fall below 80 % of the pool

#### If this doesn't work

- Go to Step 3

### Step 3: Restart the API pods

**Goal:** Reset leaked connections.

#### Commands

```bash
kubectl rollout restart deployment/api-server -n production
kubectl rollout status deployment/api-server -n production
```

#### Success Criteria

- Error rate back under 1 % for 10 minutes

#### If this doesn't work

- Escalate to the database on-call

## Verification

Watch the API error rate and the pool gauge for 10 minutes.

## How to Test This Runbook

Run `pgbench` against staging with 200 clients until the pool alert fires, then follow the steps.
"""


@dataclass
class DemoResult:
    created: list[Runbook] = field(default_factory=list)


@writes
def runbooks_demo_load(*, actor: AbstractBaseUser | None, templates: list[str]) -> DemoResult:
    """Demo runbooks: the given seed templates and one for the demo database service. Idempotent:
    a runbook whose title exists is left alone."""
    result = DemoResult()
    for text in [*templates, DEMO_SERVICE_RUNBOOK]:
        data = parse(text)
        if Runbook.objects.filter(title=data.title).exists():
            continue
        runbook, _unknown = runbook_create(data=data, actor=actor, change_note="Demo data")
        result.created.append(runbook)
    return result


# ---------------------------------------------------------------------------------------------
# Search synonyms


def synonym_line(terms: str) -> str:
    """A line of synonyms as the search reads it: "Payments~checkout ~ PAY" is "payments ~ checkout ~ pay"."""
    words = synonym_terms(terms)
    if len(words) < 2:
        raise ValidationError({"terms": [errors.SYNONYM_TOO_FEW]})
    return f" {SYNONYM_SEPARATOR} ".join(" ".join(term) for term in words)


@writes  # the search results on cached runbook pages change with the synonyms
def search_synonym_save(*, synonym: SearchSynonym, terms: str) -> SearchSynonym:
    """Words the team uses for the same thing; the next search reads them."""
    synonym.terms = synonym_line(terms)
    if len(synonym.terms) > SearchSynonym._meta.get_field("terms").max_length:
        raise ValidationError({"terms": [errors.SYNONYM_TOO_LONG]})
    if SearchSynonym.objects.exclude(pk=synonym.pk).filter(terms=synonym.terms).exists():
        raise ValidationError({"terms": [errors.SYNONYM_EXISTS]})
    synonym.save()
    return synonym
