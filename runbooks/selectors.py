"""Reads for the runbook pages and the incident page's slots, each in a fixed number of queries."""

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.contrib.postgres.search import SearchQuery, SearchRank
from django.db import connection
from django.db.models import Case, Count, Exists, F, IntegerField, OuterRef, Prefetch, Q, QuerySet, Value, When, Window
from django.db.models.functions import Greatest, RowNumber
from django.http import Http404
from django.utils import timezone

from incidents import selectors as incident_selectors
from incidents.models import ACTIVE_STATUSES, EventKind, Incident, Service, TimelineEvent
from runbooks import search
from runbooks.completeness import REVIEW_OVERDUE, RULES, Completeness, runbook_completeness
from runbooks.markdown_format import RunbookData, StepData, render
from runbooks.models import (
    Runbook,
    RunbookKind,
    RunbookRevision,
    RunbookRun,
    RunStep,
    SearchSynonym,
    StepOutcome,
)

SEARCH_LIMIT = 25  # a search-as-you-type answer: the best few, not a report
SUGGESTION_LIMIT = 5


LISTING_FIELDS = [
    "pk",
    "title",
    "slug",
    "kind",
    "category",
    "severity",
    "summary",
    "review_due_on",
    "completeness_score",
]


def _listing(runbooks: QuerySet[Runbook]) -> QuerySet[Runbook]:
    """Only what a row of the index shows: a runbook's long Markdown sections stay in the table."""
    return runbooks.only(*LISTING_FIELDS).prefetch_related(
        Prefetch("services", queryset=Service.objects.only("pk", "name").order_by("name"))
    )


def runbooks_in_index_order() -> QuerySet[Runbook]:
    """Every runbook as an index row, in the index's order (the API pages through it)."""
    return _listing(Runbook.objects.order_by("kind", "category", "title", "pk"))


def search_words(query: str) -> list[str]:
    return search.query_words(query)


INDEX_PER_CATEGORY = 10


@dataclass(frozen=True)
class CategoryGroup:
    kind: str
    name: str
    total: int
    runbooks: list[Runbook]


@dataclass(frozen=True)
class KindGroup:
    kind: str
    label: str
    total: int
    categories: list[CategoryGroup]


def runbook_index(
    *, kind: str = "", category: str | None = None, per_category: int = INDEX_PER_CATEGORY
) -> list[KindGroup]:
    """The index like the seeds' one: by kind, then category, each category's first runbooks by
    title and its count (a category link lists them all). Three queries however many runbooks:
    the counts, the rows (a window function keeps the first few per category), their services."""
    counts = Runbook.objects.values("kind", "category").annotate(total=Count("pk")).order_by("kind", "category")
    rows = Runbook.objects.all()
    if category is not None:
        counts = counts.filter(kind=kind, category=category)
        rows = rows.filter(kind=kind, category=category).order_by("title", "pk")
    else:
        rows = (
            rows.annotate(
                row=Window(
                    RowNumber(), partition_by=[F("kind"), F("category")], order_by=[F("title").asc(), F("pk").asc()]
                )
            )
            .filter(row__lte=per_category)
            .order_by("kind", "category", "title", "pk")
        )
    by_group: dict[tuple[str, str], list[Runbook]] = {}
    for runbook in _listing(rows):
        by_group.setdefault((runbook.kind, runbook.category), []).append(runbook)
    kinds: dict[str, list[CategoryGroup]] = {}
    for count in counts:
        group = CategoryGroup(
            kind=count["kind"],
            name=count["category"],
            total=count["total"],
            runbooks=by_group.get((count["kind"], count["category"]), []),
        )
        kinds.setdefault(count["kind"], []).append(group)
    return [
        KindGroup(
            kind=value,
            label=RunbookKind(value).label,
            total=sum(group.total for group in groups),
            categories=groups,
        )
        for value, groups in kinds.items()
    ]


def runbook_search(*, query: str = "", limit: int = SEARCH_LIMIT) -> list[Runbook]:
    """Runbooks in index order, or the best matches for `query` first (runbooks.search says how
    words, stems, synonyms and weights are matched on each database). When no runbook has every
    word, those with any of them: a responder who typed "checkout broken after deploy" still
    finds the checkout runbook."""
    words = search_words(query)
    if not words:
        return list(_listing(Runbook.objects.order_by("kind", "category", "title")))
    groups = search.parse(query, SearchSynonym.objects.values_list("terms", flat=True))
    found = _matches(groups, limit=limit, every=True)
    if not found and len(groups) > 1:
        found = _matches(groups, limit=limit, every=False)
    return found


def _matches(groups: list[search.Group], *, limit: int, every: bool) -> list[Runbook]:
    if connection.vendor == "postgresql":
        tsquery = SearchQuery(search.tsquery(groups, every=every), search_type="raw", config=search.SEARCH_CONFIG)
        runbooks = (
            Runbook.objects.filter(search_vector=tsquery)
            .annotate(rank=SearchRank(F("search_vector"), tsquery))
            .order_by("-rank", "title")
        )
        return list(_listing(runbooks)[:limit])
    ids = search.fts_matching_ids(groups, limit=limit, every=every)
    order = {pk: position for position, pk in enumerate(ids)}
    return sorted(_listing(Runbook.objects.filter(pk__in=ids)), key=lambda runbook: order[runbook.pk])


def stale_runbooks(*, today: date | None = None) -> list[Runbook]:
    """Runbooks whose review is overdue, the longest overdue first."""
    today = today or timezone.localdate()
    return list(_listing(Runbook.objects.filter(review_due_on__lt=today).order_by("review_due_on", "title")))


def runbook_get(*, slug: str) -> Runbook:
    try:
        return (
            Runbook.objects.select_related("updated_by", "owner_team")
            .prefetch_related("services", "steps")
            .get(slug=slug)
        )
    except Runbook.DoesNotExist:
        raise Http404("No runbook at this address.") from None


def runbook_revisions(*, runbook: Runbook) -> list[RunbookRevision]:
    return list(runbook.revisions.select_related("author").defer("snapshot").order_by("-version"))


def revision_get(*, runbook: Runbook, version: int) -> RunbookRevision:
    try:
        return runbook.revisions.select_related("author").get(version=version)
    except RunbookRevision.DoesNotExist:
        raise Http404("No such version.") from None


@dataclass(frozen=True)
class RevisionDiff:
    older: RunbookRevision | None
    newer: RunbookRevision
    lines: list[tuple[str, str]]  # (css class, line)


def revision_diff(*, runbook: Runbook, version: int, against: int | None = None) -> RevisionDiff:
    """What `version` changed, as a line diff of the two versions' Markdown."""
    newer = revision_get(runbook=runbook, version=version)
    older_version = against if against is not None else version - 1
    older = runbook.revisions.filter(version=older_version).first() if older_version >= 1 else None
    before = render(RunbookData.from_dict(older.snapshot)).splitlines() if older else []
    after = render(RunbookData.from_dict(newer.snapshot)).splitlines()
    lines = []
    for line in difflib.unified_diff(
        before, after, f"v{older.version}" if older else "empty", f"v{newer.version}", lineterm="", n=3
    ):
        css = "ctx"
        if line.startswith(("+++", "---")):
            css = "file"
        elif line.startswith("@@"):
            css = "hunk"
        elif line.startswith("+"):
            css = "add"
        elif line.startswith("-"):
            css = "del"
        lines.append((css, line))
    return RevisionDiff(older=older, newer=newer, lines=lines)


ATTACH_INCIDENT_LIMIT = 20  # a responder attaches to an incident in progress, not to one of a hundred


def incidents_to_attach(
    *, runbook: Runbook, user: AbstractBaseUser | AnonymousUser, limit: int = ATTACH_INCIDENT_LIMIT
) -> list[Incident]:
    """Active incidents the user may see, the most recently declared first, each marked
    `attached` when this runbook is already its checklist. One query."""
    incidents = (
        incident_selectors.visible_incidents(user)
        .filter(status__in=ACTIVE_STATUSES)
        .annotate(attached=Exists(RunbookRun.objects.filter(runbook=runbook, incident=OuterRef("pk"))))
        .select_related("severity")
        .only("pk", "title", "status", "declared_at", "severity__key", "severity__name", "severity__rank")
        .order_by("-declared_at", "-pk")
    )
    return list(incidents[:limit])


def _runs(runs: QuerySet[RunbookRun]) -> list[RunbookRun]:
    """Runs with their checklist and who recorded each step; progress counted in Python from
    the prefetched steps."""
    runs = runs.select_related("runbook", "started_by").prefetch_related(
        Prefetch("steps", queryset=RunStep.objects.select_related("recorded_by", "step").order_by("position"))
    )
    result = list(runs)
    details = _step_details(result)
    for run in result:
        steps = list(run.steps.all())
        for item in steps:
            item.detail = details.get((run.runbook_id, run.runbook_version, item.position))
        run.total = len(steps)
        run.recorded = sum(1 for step in steps if step.outcome != StepOutcome.PENDING)
        run.failed = sum(1 for step in steps if step.outcome == StepOutcome.FAILED)
        run.percent = round(100 * run.recorded / run.total) if run.total else 0
    return result


def _step_details(runs: list[RunbookRun]) -> dict[tuple[int, int, int], StepData]:
    """What each checklist step says to do — commands, expected output, success criteria — as the
    runbook said it in the version that was attached (the revision's snapshot: an edit since
    replaces the runbook's steps, not what the team is working through). One query."""
    versions = {(run.runbook_id, run.runbook_version) for run in runs}
    if not versions:
        return {}
    query = Q()
    for runbook_id, version in versions:
        query |= Q(runbook_id=runbook_id, version=version)
    details = {}
    for runbook_id, version, steps in RunbookRevision.objects.filter(query).values_list(
        "runbook_id", "version", "snapshot__steps"
    ):
        for position, step in enumerate(steps or [], start=1):
            if isinstance(step, dict):
                details[(runbook_id, version, position)] = StepData(
                    **{key: value for key, value in step.items() if key in StepData.__dataclass_fields__}
                )
    return details


def runs_visible(user: AbstractBaseUser | AnonymousUser) -> QuerySet[RunbookRun]:
    """Drills, and the runs of incidents the user may see (a restricted incident's checklist notes
    are its own)."""
    return RunbookRun.objects.filter(
        Q(incident__isnull=True) | Q(incident__in=incident_selectors.visible_incidents(user))
    )


def run_get(*, pk: int, user: AbstractBaseUser | AnonymousUser) -> RunbookRun:
    runs = _runs(runs_visible(user).filter(pk=pk).select_related("incident"))
    if not runs:
        raise Http404("No such runbook run.")
    return runs[0]


def incident_runs(*, incident: Incident) -> list[RunbookRun]:
    return _runs(RunbookRun.objects.filter(incident=incident).order_by("started_at", "id"))


def _names_alert(name: str) -> Q:
    # JSON containment on PostgreSQL; SQLite has no such lookup, a substring match stands in.
    return Q(alert_names__contains=[name]) if connection.vendor == "postgresql" else Q(alert_names__icontains=name)


def incident_alert_names(*, incident: Incident) -> list[str]:
    """The names of the alerts that opened or joined the incident, as their ALERT timeline events
    record them (one query; integrations writes them, this app only reads the timeline). Each set of
    names once: an alert that fires again and again joins a long incident thousands of times."""
    names: set[str] = set()
    for recorded in (
        TimelineEvent.objects.filter(incident=incident, kind=EventKind.ALERT)
        .values_list("data__alert_names", flat=True)
        .order_by()
        .distinct()
    ):
        names.update(name for name in recorded or [] if isinstance(name, str))
    return sorted(names)


def runbooks_for_alert_names(*, alert_names: Iterable[str]) -> list[Runbook]:
    """Runbooks that name one of these alerts, the most recently tested first."""
    query = Q()
    for name in {name for name in alert_names if name}:
        query |= _names_alert(name)
    if not query:
        return []
    return list(Runbook.objects.filter(query).order_by(F("last_tested").desc(nulls_last=True), "title"))


def suggestions_for_incident(
    *, incident: Incident, alert_names: Iterable[str] = (), exclude: Iterable[int] = (), limit: int = SUGGESTION_LIMIT
) -> list[Runbook]:
    """Runbooks for the incident's affected services or its alerts, the most matching first.
    Reads the incident's prefetched services."""
    service_ids = [service.pk for service in incident.affected_services.all()]
    alert_names = [name for name in alert_names if name]
    if not service_ids and not alert_names:
        return []
    query = Q(services__in=service_ids) if service_ids else Q()
    for name in alert_names:
        query |= _names_alert(name)
    matches = (
        Runbook.objects.filter(query)
        .exclude(pk__in=list(exclude))
        .annotate(matched=Count("services", filter=Q(services__in=service_ids)))
        .order_by("-matched", "title")
        .only("pk", "title", "slug", "kind", "severity", "review_due_on")
    )
    return list(matches[:limit])


def runbook_completeness_get(*, runbook: Runbook, today: date | None = None) -> Completeness:
    """The runbook's seed-004 findings now: its content, the steps its finished drills exercised
    (drills only: no incident's checklist is read) and whether its review is overdue."""
    from runbooks.services import drilled_step_titles, runbook_to_data

    return runbook_completeness(
        runbook_to_data(runbook),
        drilled_titles=drilled_step_titles(runbook),
        review_due_on=runbook.review_due_on,
        today=today or timezone.localdate(),
    )


def with_completeness(runbooks: QuerySet[Runbook], *, today: date | None = None) -> QuerySet[Runbook]:
    """`completeness`: the stored score, less the review finding's weight when the review is due."""
    today = today or timezone.localdate()
    overdue = RULES[REVIEW_OVERDUE][0]
    return runbooks.annotate(
        completeness=Case(
            When(review_due_on__lt=today, then=Greatest(F("completeness_score") - overdue, Value(0))),
            default=F("completeness_score"),
            output_field=IntegerField(),
        )
    )


COMPLETENESS_LIMIT = 50


def runbooks_by_completeness(
    *, below: int | None = None, today: date | None = None, limit: int = COMPLETENESS_LIMIT
) -> tuple[list[Runbook], int]:
    """The least complete runbooks first (optionally only those scoring below `below`), at most
    `limit`, and how many there are in all. Reads the stored score's index."""
    rows = with_completeness(Runbook.objects.all(), today=today)
    if below is not None:
        rows = rows.filter(completeness__lt=below)
    total = rows.count()
    return list(_listing(rows.order_by("completeness", "title", "pk"))[:limit]), total
