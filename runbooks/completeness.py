"""What seed 004's closing rules find missing in a runbook, and a score from 0 to 100.

004 says a runbook must include commands that work, specific thresholds, every common failure
scenario, rollback, all dependencies, an escalation path and disaster-recovery steps. Each rule is
a named finding with a weight (the weights add up to 100); the score is 100 less the weights of
what is missing. Pure functions over RunbookData, so a Markdown file in git is checked the same
way as a stored runbook (`manage.py check_runbooks`)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta

from runbooks.generator import PLACEHOLDER
from runbooks.markdown_format import RunbookData

# code → (weight, message). The order is the order findings are listed in.
RULES: dict[str, tuple[int, str]] = {
    "no_steps": (15, "No steps: write the procedure as numbered steps with commands."),
    "step_incomplete": (15, "Steps without a command or expected output: {steps}."),
    "no_thresholds": (10, "No specific thresholds (e.g. “error rate > 1 % for 5 min”)."),
    "no_failure_scenarios": (5, "No common failure scenarios (troubleshooting or failure modes)."),
    "no_rollback": (15, "No rollback procedure."),
    "no_dependencies": (10, "No dependencies listed."),
    "no_escalation": (15, "No escalation path."),
    "no_disaster_recovery": (10, "No disaster-recovery steps."),
    "placeholders_left": (10, "Placeholders left to fill: {count}."),
    "never_drilled": (5, "Commands never exercised in a drill: {steps}."),
    "review_overdue": (5, "Review overdue since {date}."),
}
# "no_steps" and "step_incomplete" are one rule (steps with commands); only one of them is found.
REVIEW_OVERDUE = "review_overdue"

_THRESHOLD = re.compile(
    r"(?:[<>≥≤]=?|\b(?:above|below|over|under|exceeds?|more than|less than)\b)\s*~?\d", re.IGNORECASE
)
# A seed's template placeholder: [Service Name], [Link], [YYYY-MM-DD]; not a checkbox, a link, an
# index such as items[0] or a PromQL range [5m].
_BRACKETED = re.compile(r"(?<![\w\]\[])\[(?!x\]|\s)([A-Za-z][^\]\n]{0,60})\](?![(\[:])")
_DATE_PLACEHOLDER = re.compile(r"\bYYYY-MM-DD\b")
# A subsection heading, or a bold label such as "**Rollback:**" (seed 001 writes parts that way).
_LABEL = re.compile(r"^(?:#{3,6}\s+(.*)|\s*(?:[-*]\s+)?\*\*([^*\n]+)\*\*)", re.MULTILINE)


@dataclass(frozen=True)
class Finding:
    code: str
    message: str
    weight: int


@dataclass
class Completeness:
    score: int
    findings: list[Finding] = field(default_factory=list)

    @property
    def missing(self) -> list[dict[str, str]]:
        return [{"code": finding.code, "message": finding.message} for finding in self.findings]

    @property
    def codes(self) -> list[str]:
        return [finding.code for finding in self.findings]


def _finding(code: str, **values) -> Finding:
    weight, message = RULES[code]
    return Finding(code=code, message=message.format(**values), weight=weight)


def _sections(data: RunbookData) -> list[tuple[str, str]]:
    """(heading, text) of every section, subsections' headings included in the text."""
    named = [
        ("summary", data.summary), ("symptoms", data.symptoms), ("impact", data.impact),
        ("prerequisites", data.prerequisites), ("assessment", data.assessment), ("steps", data.steps_intro),
        ("verification", data.verification), ("communication", data.communication), ("rollback", data.rollback),
        ("escalation", data.escalation), ("root cause", data.root_cause), ("post-incident", data.post_incident),
        ("assumptions", data.assumptions), ("failure modes", data.failure_modes), ("how to test", data.how_to_test),
        ("automation", data.automation), ("related", data.related_links), ("notes", data.notes),
    ]  # fmt: skip
    return [*named, *((heading, body) for heading, body in data.extra_sections)]


def _all_text(data: RunbookData) -> str:
    parts = [data.title, *(value for _label, value in data.extra_metadata)]
    parts += [f"{heading}\n{body}" for heading, body in _sections(data)]
    for step in data.steps:
        parts += [step.title, step.goal, step.details, step.commands, step.expected_output]
        parts += [step.success_criteria, step.if_fails]
    return "\n".join(parts)


def _has_section(data: RunbookData, field_value: str, pattern: str) -> bool:
    """The field holds text, or a section or subsection headed like `pattern` has a body."""
    if field_value.strip():
        return True
    heading = re.compile(pattern, re.IGNORECASE)
    for name, body in _sections(data):
        if heading.search(name) and body.strip():
            return True
        for match in _LABEL.finditer(body):
            if heading.search(match.group(1) or match.group(2)):
                return True
    return False


def placeholder_count(text: str) -> int:
    return (
        len(PLACEHOLDER.findall(text))
        + len([m for m in _BRACKETED.findall(text) if m.strip().lower() != "x"])
        + len(_DATE_PLACEHOLDER.findall(text))
    )


def runbook_completeness(
    data: RunbookData,
    *,
    drilled_titles: set[str] | None = None,
    review_interval_days: int | None = None,
    review_due_on: date | None = None,
    today: date | None = None,
) -> Completeness:
    """The findings for `data`. `drilled_titles` are the titles of steps marked done in finished
    drills (None: unknown, as for a file, where the Last Tested line stands in). The review is
    overdue when `review_due_on` (or last tested + the interval) is past `today`."""
    today = today or date.today()
    findings: list[Finding] = []
    if not data.steps:
        findings.append(_finding("no_steps"))
    else:
        incomplete = [
            str(number)
            for number, step in enumerate(data.steps, start=1)
            if not step.commands.strip() or not step.expected_output.strip()
        ]
        if incomplete:
            findings.append(_finding("step_incomplete", steps=", ".join(incomplete)))
    text = _all_text(data)
    if not _THRESHOLD.search(text):
        findings.append(_finding("no_thresholds"))
    if not _has_section(data, data.failure_modes, r"troubleshoot|common issues|failure|if this doesn"):
        findings.append(_finding("no_failure_scenarios"))
    if not (
        _has_section(data, data.rollback, r"roll\s*-?back")
        or any(re.search(r"roll\s*-?back", step.title, re.IGNORECASE) for step in data.steps)
    ):
        findings.append(_finding("no_rollback"))
    if not _has_section(data, "", r"dependenc"):
        findings.append(_finding("no_dependencies"))
    if not _has_section(data, data.escalation, r"escalat"):
        findings.append(_finding("no_escalation"))
    if not _has_section(data, "", r"disaster|recovery|\bRTO\b"):
        findings.append(_finding("no_disaster_recovery"))
    count = placeholder_count(text)
    if count:
        findings.append(_finding("placeholders_left", count=count))
    with_commands = [(number, step) for number, step in enumerate(data.steps, start=1) if step.commands.strip()]
    if with_commands:
        if drilled_titles is None:
            never = [] if data.last_tested else [str(number) for number, _step in with_commands]
        else:
            never = [str(number) for number, step in with_commands if step.title not in drilled_titles]
        if never:
            findings.append(_finding("never_drilled", steps=", ".join(never)))
    if review_due_on is None and data.last_tested and review_interval_days:
        review_due_on = data.last_tested + timedelta(days=review_interval_days)
    if review_due_on is not None and review_due_on < today:
        findings.append(_finding(REVIEW_OVERDUE, date=review_due_on.isoformat()))
    return Completeness(score=max(0, 100 - sum(finding.weight for finding in findings)), findings=findings)
