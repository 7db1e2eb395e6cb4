"""Read API of runbooks: GET /api/v1/runbooks/ (the index, or a search with ?q= through the same
selector as the search box) and GET /api/v1/runbooks/{slug}/ (sections, steps, metadata and seed
004's completeness). Runs are not exposed, so no incident's checklist can leak through here."""

from datetime import date, datetime
from typing import Annotated, Any, Literal

from django.conf import settings
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from ninja import Field, Query, Router, Schema
from ninja.errors import HttpError
from pydantic import AfterValidator, StringConstraints

from core.api import Answer, BearerToken, Error, InvalidInput, storable, with_message
from core.permissions import can_respond
from incidents import errors as incident_errors
from runbooks import selectors
from runbooks.completeness import REVIEW_OVERDUE, RULES
from runbooks.markdown_format import SECTIONS, SECTIONS_BEFORE_STEPS
from runbooks.models import Runbook, RunbookKind
from runbooks.services import STEP_FIELDS, runbook_to_data

PAGE_SIZE = 50
MAX_PAGE_SIZE = 100
SEARCH_MAX = 500  # a search answers the best matches, not the whole library
UNKNOWN_RUNBOOK = "No runbook at this address."

router = Router(auth=BearerToken(may_write=can_respond, refusal=incident_errors.NOT_PERMITTED), tags=["runbooks"])


class RunbookFilters(Schema):
    q: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200), AfterValidator(storable)] = Field(
        "", description="Search: symptoms, alert names, services, step text; best matches first."
    )
    limit: Annotated[
        int,
        Field(ge=1, description=f"Rows per page; larger values are cut to {MAX_PAGE_SIZE}."),
        with_message(incident_errors.BAD_LIMIT.format(high=MAX_PAGE_SIZE)),
    ] = PAGE_SIZE
    offset: Annotated[
        int, Field(ge=0, le=2_147_483_647, description="Rows to skip."), with_message(incident_errors.BAD_OFFSET)
    ] = 0


class Missing(Answer):
    code: Literal[tuple(RULES)]
    message: str


class Completeness(Answer):
    score: int = Field(description="0 to 100, by seed 004's rules.")
    missing: list[Missing] = Field(description="What the rules find missing, most weighty first.")


class RunbookSummary(Answer):
    slug: str
    url: str = Field(description="The runbook's page for people.")
    title: str
    kind: Literal[tuple(RunbookKind.values)]
    category: str
    severity: str
    services: list[str] = Field(description="Service names.")
    review_due_on: date
    completeness_score: int = Field(description="0 to 100; the detail lists what is missing.")


class RunbookPage(Answer):
    count: int = Field(description="All matching runbooks (a search counts its best matches, at most 500).")
    results: list[RunbookSummary]


class Section(Answer):
    heading: str
    body: str = Field(description="Markdown.")


class Step(Answer):
    position: int
    title: str
    goal: str
    details: str
    commands: str
    commands_language: str
    expected_output: str
    success_criteria: str
    if_fails: str


class Metadata(Answer):
    label: str
    value: str


class RunbookDetail(RunbookSummary):
    owner: str
    owner_team: str | None = Field(None, description="The owner team's slug.")
    response_time: str
    alert_names: list[str]
    last_tested: date | None
    review_interval_days: int
    version: int
    updated_at: datetime
    markdown_url: str = Field(description="The runbook as Markdown (runbook-<slug>.md).")
    metadata: list[Metadata] = Field(description="Further metadata lines, e.g. On-Call, Environment.")
    sections: list[Section] = Field(description="In the order of the Markdown export; steps apart.")
    steps: list[Step]
    completeness: Completeness


def _score(runbook: Runbook, today: date) -> int:
    if runbook.review_due_on < today:
        return max(0, runbook.completeness_score - RULES[REVIEW_OVERDUE][0])
    return runbook.completeness_score


def _summary(runbook: Runbook, today: date) -> dict[str, Any]:
    return {
        "slug": runbook.slug,
        "url": settings.SITE_URL + runbook.get_absolute_url(),
        "title": runbook.title,
        "kind": runbook.kind,
        "category": runbook.category,
        "severity": runbook.severity,
        "services": [service.name for service in runbook.services.all()],
        "review_due_on": runbook.review_due_on,
        "completeness_score": _score(runbook, today),
    }


@router.get(
    "runbooks/",
    response={200: RunbookPage, 400: InvalidInput, 401: Error, 405: Error},
    operation_id="listRunbooks",
    url_name="runbooks",
)
def list_runbooks(request: HttpRequest, filters: Query[RunbookFilters]) -> dict[str, Any]:
    """Runbooks in index order (kind, category, title), or the best matches for `q` first."""
    today = timezone.localdate()
    limit = min(filters.limit, MAX_PAGE_SIZE)
    if selectors.search_words(filters.q):
        found = selectors.runbook_search(query=filters.q, limit=SEARCH_MAX)
        count, rows = len(found), found[filters.offset : filters.offset + limit]
    else:
        ordered = selectors.runbooks_in_index_order()
        count = ordered.count()
        rows = list(ordered[filters.offset : filters.offset + limit]) if filters.offset < count else []
    return {"count": count, "results": [_summary(runbook, today) for runbook in rows]}


@router.get(
    "runbooks/{slug}/",
    response={200: RunbookDetail, 401: Error, 404: Error, 405: Error},
    operation_id="getRunbook",
    url_name="runbook",
)
def get_runbook(request: HttpRequest, slug: str) -> dict[str, Any]:
    """One runbook: metadata, sections, steps, and what seed 004's rules find missing."""
    runbook = Runbook.objects.prefetch_related("services", "steps").filter(slug=slug[:200]).first()
    if runbook is None:
        raise HttpError(404, UNKNOWN_RUNBOOK)
    today = timezone.localdate()
    data = runbook_to_data(runbook)
    completeness = selectors.runbook_completeness_get(runbook=runbook, today=today)
    sections = [
        {"heading": SECTIONS[name][0], "body": getattr(data, name)}
        for name in [*SECTIONS_BEFORE_STEPS, *(name for name in SECTIONS if name not in SECTIONS_BEFORE_STEPS)]
        if getattr(data, name)
    ]
    sections += [{"heading": heading, "body": body} for heading, body in data.extra_sections]
    return {
        **_summary(runbook, today),
        "completeness_score": completeness.score,
        "owner": runbook.owner,
        "owner_team": runbook.owner_team.slug if runbook.owner_team_id else None,
        "response_time": runbook.response_time,
        "alert_names": list(runbook.alert_names),
        "last_tested": runbook.last_tested,
        "review_interval_days": runbook.review_interval_days,
        "version": runbook.version,
        "updated_at": runbook.updated_at,
        "markdown_url": settings.SITE_URL + reverse("runbooks:export", args=[runbook.slug]),
        "metadata": [{"label": label, "value": value} for label, value in data.extra_metadata],
        "sections": sections,
        "steps": [
            {"position": step.position, **{name: getattr(step, name) for name in STEP_FIELDS}}
            for step in runbook.steps.all()
        ],
        "completeness": {"score": completeness.score, "missing": completeness.missing},
    }
