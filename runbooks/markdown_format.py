"""The runbook Markdown format of the seeds (000 incident runbook, 001 operational runbook), in and
out, as pure functions over plain data: no database, so import(export(r)) == r is a unit test.

    # Runbook: Title                 (# Operational Runbook: Title → an operational runbook)
    **Severity:** High               metadata lines: Severity, Owner, Response Time, Last Tested,
    **Owner:** Platform              Services, Alerts, Category, Review Interval; any other
                                     "**Label:** value" line is kept as it is
    ## Plain English Summary         known headings → their field (see SECTIONS)
    ## Resolution Steps
    ### Step 1: Restart the pods     → a step; inside it **Goal:**, Commands (fenced code),
                                       Expected output, Success Criteria, If this doesn't work
    ## Anything else                 → kept in order as an extra section

Import is lenient where the seeds are loose: a closing fence written as ```text closes the block,
headings may carry a "(2)" suffix, a step's "## Success Criteria" stays in the step, HTML
comments and section rules (---) are dropped. Export writes the strict form, so a second import
gives exactly the same data.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import date

KIND_INCIDENT = "incident"
KIND_OPERATIONAL = "operational"
TITLE_PREFIX = {KIND_INCIDENT: "Runbook", KIND_OPERATIONAL: "Operational Runbook"}

# field name → the heading written on export, then other headings accepted on import.
SECTIONS: dict[str, tuple[str, ...]] = {
    "summary": ("Plain English Summary", "Summary"),
    "symptoms": ("Symptoms",),
    "impact": ("Impact",),
    "prerequisites": ("Prerequisites",),
    "assessment": ("Initial Assessment", "Assessment"),
    "verification": ("Verification",),
    "communication": ("Communication",),
    "rollback": ("Rollback Procedure", "Rollback"),
    "escalation": ("Escalation",),
    "root_cause": ("Root Cause Investigation", "Root Cause"),
    "post_incident": ("Post-Incident Actions", "Post-Incident"),
    "assumptions": ("Assumptions",),
    "failure_modes": ("Failure Modes",),
    "how_to_test": ("How to Test This Runbook", "How to Test"),
    "automation": ("Automation Candidate", "Automation Candidates", "Automation"),
    "related_links": ("Related Documentation", "Related Links"),
    "notes": ("Notes",),
}
SECTIONS_BEFORE_STEPS = ["summary", "symptoms", "impact", "prerequisites", "assessment"]
STEPS_HEADINGS = ("Resolution Steps", "Steps")
STEP_PARTS: dict[str, tuple[str, ...]] = {
    "commands": ("Commands", "Command"),
    "expected_output": ("Expected output", "Expected Output"),
    "success_criteria": ("Success Criteria",),
    "if_fails": ("If this doesn't work", "If this does not work", "If this doesn\u2019t work"),
}
STEP_PART_HEADING = {
    "commands": "Commands",
    "expected_output": "Expected output",
    "success_criteria": "Success Criteria",
    "if_fails": "If this doesn't work",
}
METADATA: dict[str, tuple[str, ...]] = {
    "severity": ("Severity", "Criticality"),
    "owner": ("Owner", "Service Owner"),
    "response_time": ("Response Time",),
    "last_tested": ("Last Tested",),
    "services": ("Services", "Service"),
    "alert_names": ("Alerts", "Alert Names"),
    "category": ("Category",),
    "review_interval": ("Review Interval",),
}
METADATA_LABEL = {
    "severity": "Severity",
    "owner": "Owner",
    "response_time": "Response Time",
    "last_tested": "Last Tested",
    "services": "Services",
    "alert_names": "Alerts",
    "category": "Category",
    "review_interval": "Review Interval",
}


@dataclass
class StepData:
    title: str
    goal: str = ""
    details: str = ""
    commands: str = ""
    commands_language: str = ""
    expected_output: str = ""
    success_criteria: str = ""
    if_fails: str = ""


@dataclass
class RunbookData:
    title: str
    kind: str = KIND_INCIDENT
    category: str = ""
    severity: str = ""
    owner: str = ""
    owner_team: str = ""  # a Team's slug; not part of the Markdown (its owner line is the text)
    response_time: str = ""
    last_tested: date | None = None
    review_interval: str = ""
    services: list[str] = field(default_factory=list)
    alert_names: list[str] = field(default_factory=list)
    extra_metadata: list[list[str]] = field(default_factory=list)
    summary: str = ""
    symptoms: str = ""
    impact: str = ""
    prerequisites: str = ""
    assessment: str = ""
    steps_intro: str = ""
    steps: list[StepData] = field(default_factory=list)
    verification: str = ""
    communication: str = ""
    rollback: str = ""
    escalation: str = ""
    root_cause: str = ""
    post_incident: str = ""
    assumptions: str = ""
    failure_modes: str = ""
    how_to_test: str = ""
    automation: str = ""
    related_links: str = ""
    notes: str = ""
    extra_sections: list[list[str]] = field(default_factory=list)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["last_tested"] = self.last_tested.isoformat() if self.last_tested else None
        return data

    @classmethod
    def from_dict(cls, data: dict) -> RunbookData:
        values = dict(data)
        values["steps"] = [StepData(**step) for step in values.get("steps", [])]
        tested = values.get("last_tested")
        values["last_tested"] = date.fromisoformat(tested) if tested else None
        known = set(cls.__dataclass_fields__)
        return cls(**{key: value for key, value in values.items() if key in known})


class RunbookFormatError(ValueError):
    pass


NO_TITLE = "The file has no '# Runbook: …' title line."

# ---------------------------------------------------------------------------------------------
# Parsing helpers

_FENCE = re.compile(r"^(\s{0,3})(`{3,}|~{3,})\s*([\w+-]*)")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_METADATA_LINE = re.compile(r"^\s*\*\*([^*]+?):\*\*\s*(.*?)\s*$")
_STEP_HEADING = re.compile(r"^Step\s+(\d+)\s*[:.\-\u2013\u2014]\s*(.*)$", re.IGNORECASE)
_NUMBER_SUFFIX = re.compile(r"\s*\(\d+\)\s*$")
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_ALERT_NAME = re.compile(r"\*\*Alert Name:\*\*\s*`([^`]+)`", re.IGNORECASE)
_PLACEHOLDER = re.compile(r"^\[.*\]$|^YYYY-MM-DD$")


def _fence_open(line: str) -> re.Match | None:
    """An opening fence; as in CommonMark, a backtick fence's info string has no backtick."""
    match = _FENCE.match(line)
    if match and match.group(2)[0] == "`" and "`" in line.strip()[len(match.group(2)) :]:
        return None
    return match


def _fence_closes(line: str, fence: str, *, lenient: bool = False) -> bool:
    match = _FENCE.match(line)
    if not match or match.group(2)[0] != fence[0] or len(match.group(2)) < len(fence):
        return False
    rest = line.strip()[len(match.group(2)) :].strip()
    return not rest or (lenient and re.fullmatch(r"[\w+-]+", rest) is not None)


def _fenced(lines: list[str]):
    """(line, inside_code) for each line; fence lines count as inside."""
    fence: str | None = None
    for line in lines:
        if fence is None:
            match = _fence_open(line)
            if match:
                fence = match.group(2)
                yield line, True
            else:
                yield line, False
        else:
            if _fence_closes(line, fence):
                fence = None
            yield line, True


def _normalize_fences(lines: list[str]) -> list[str]:
    """The seeds close code blocks with ```text, which CommonMark reads as an opening fence; a
    fence line inside an open block closes it here, written as a bare fence."""
    out: list[str] = []
    fence: str | None = None
    for line in lines:
        if fence is None:
            match = _fence_open(line)
            if match:
                fence = match.group(2)
            out.append(line)
        elif _fence_closes(line, fence, lenient=True):
            out.append(_FENCE.match(line).group(1) + fence)
            fence = None
        else:
            out.append(line)
    return out


def _blocks(lines: list[str], level: int) -> tuple[list[str], list[tuple[str, list[str]]]]:
    """Split at headings of exactly `level` outside code fences: (lines before, [(heading, lines)])."""
    before: list[str] = []
    parts: list[tuple[str, list[str]]] = []
    for line, in_fence in _fenced(lines):
        heading = None if in_fence else _HEADING.match(line)
        if heading and len(heading.group(1)) == level:
            parts.append((heading.group(2), []))
        elif parts:
            parts[-1][1].append(line)
        else:
            before.append(line)
    return before, parts


def _clean(lines: list[str]) -> str:
    """Section text: trimmed, without the --- rules the seeds put between sections."""
    while lines and not lines[-1].strip():
        lines = lines[:-1]
    while lines and lines[-1].strip() in {"---", "***", "___"}:
        lines = lines[:-1]
        while lines and not lines[-1].strip():
            lines = lines[:-1]
    while lines and not lines[0].strip():
        lines = lines[1:]
    return "\n".join(line.rstrip() for line in lines)


def _bare(heading: str) -> str:
    return _NUMBER_SUFFIX.sub("", heading).strip().rstrip(":").strip().casefold()


def _match(heading: str, table: dict[str, tuple[str, ...]]) -> str | None:
    bare = _bare(heading)
    for name, names in table.items():
        if bare in (candidate.casefold() for candidate in names):
            return name
    return None


def _value(value: str) -> str:
    return "" if _PLACEHOLDER.match(value.strip()) else value.strip()


def _split_list(value: str) -> list[str]:
    items = [item.strip().strip("`").strip() for item in value.split(",")]
    return [item for item in items if item and not _PLACEHOLDER.match(item)]


def _unique(items: list[str]) -> list[str]:
    seen: dict[str, None] = {}
    for item in items:
        seen.setdefault(item, None)
    return list(seen)


def _code_and_text(lines: list[str]) -> tuple[str, str, str]:
    """(code inside fences, the first fence's language, the text outside fences)."""
    code: list[list[str]] = []
    text: list[str] = []
    language = ""
    fence: str | None = None
    for line in lines:
        match = _fence_open(line) if fence is None else None
        if match:
            fence = match.group(2)
            if not code:
                language = match.group(3)
            code.append([])
        elif fence is not None and _fence_closes(line, fence):
            fence = None
        elif fence is not None:
            code[-1].append(line)
        else:
            text.append(line)
    return "\n\n".join("\n".join(block).strip("\n") for block in code), language, _clean(text)


def _parse_step(title: str, lines: list[str]) -> StepData:
    step = StepData(title=title.strip())
    # Step parts are headed ##, ### or ####; whatever comes before the first part is the step's
    # own text: its **Goal:** line, its description and commands written without a heading.
    own: list[str] = []
    parts: list[tuple[str, list[str]]] = []
    for line, in_fence in _fenced(lines):
        heading = None if in_fence else _HEADING.match(line)
        name = _match(heading.group(2), STEP_PARTS) if heading and len(heading.group(1)) >= 2 else None
        if name:
            parts.append((name, []))
        elif parts:
            parts[-1][1].append(line)
        else:
            own.append(line)
    details: list[str] = []
    for line in own:
        goal = re.match(r"^\s*\*\*Goal:\*\*\s*(.*)$", line)
        if goal and not step.goal:
            step.goal = goal.group(1).strip()
        else:
            details.append(line)
    code, language, text = _code_and_text(details)
    step.details = text
    commands = [code] if code else []
    step.commands_language = language
    for name, part_lines in parts:
        if name == "commands":
            code, language, text = _code_and_text(part_lines)
            if code:
                commands.append(code)
                step.commands_language = step.commands_language or language
            if text:
                step.details = "\n\n".join(filter(None, [step.details, text]))
        elif name == "expected_output":
            code, _language, text = _code_and_text(part_lines)
            step.expected_output = code if code and not text else _clean(part_lines)
        else:
            existing = getattr(step, name)
            setattr(step, name, "\n\n".join(filter(None, [existing, _clean(part_lines)])))
    step.commands = "\n\n".join(commands)
    return step


def parse(text: str) -> RunbookData:
    """A runbook from Markdown in the seeds' format. Raises RunbookFormatError without a title."""
    text = _COMMENT.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    lines = _normalize_fences(text.split("\n"))
    _before_title, titled = _blocks(lines, 1)
    if not titled:
        raise RunbookFormatError(NO_TITLE)
    heading, body = titled[0]
    kind = KIND_INCIDENT
    title = heading
    prefix = re.match(r"^(Operational\s+Runbook|Runbook)\s*:\s*(.*)$", heading, re.IGNORECASE)
    if prefix:
        kind = KIND_OPERATIONAL if prefix.group(1).lower().startswith("operational") else KIND_INCIDENT
        title = prefix.group(2)
    data = RunbookData(title=title.strip(), kind=kind)
    for _heading, more in titled[1:]:  # a second "# " heading belongs to the body
        body += [f"# {_heading}", *more]
    head, sections = _blocks(body, 2)

    loose: list[str] = []
    alert_names: list[str] = []
    for line in head:
        match = _METADATA_LINE.match(line)
        if not match:
            loose.append(line)
            continue
        label, value = match.group(1).strip(), match.group(2)
        name = _match(label, METADATA)
        if name == "last_tested":
            try:
                data.last_tested = date.fromisoformat(_value(value))
            except ValueError:
                data.last_tested = None
        elif name == "services":
            data.services = _split_list(value)
        elif name == "alert_names":
            alert_names += _split_list(value)
        elif name:
            setattr(data, name, _value(value))
        else:
            data.extra_metadata.append([label, value])
    preamble_text = _clean([line for line in loose if line.strip() not in {"---", "***", "___"}])

    in_steps = False
    for heading, section_lines in sections:
        name = _match(heading, SECTIONS)
        if _bare(heading) in (h.casefold() for h in STEPS_HEADINGS):
            in_steps = True
            data.steps_intro = _consume_steps(data, section_lines)
            continue
        if in_steps and _match(heading, STEP_PARTS) and data.steps:
            # Seed 000 heads a step's success criteria with "##"; it and the steps after it
            # still belong to the resolution steps.
            _consume_steps(data, [f"### {heading}", *section_lines])
            continue
        in_steps = False
        body_text = _clean(section_lines)
        alert_names += _ALERT_NAME.findall(body_text)
        if name and not getattr(data, name):
            setattr(data, name, body_text)
        else:
            data.extra_sections.append([heading.strip(), body_text])
    if preamble_text:
        data.summary = "\n\n".join(filter(None, [preamble_text, data.summary]))
    data.alert_names = _unique([name for name in alert_names if not _PLACEHOLDER.match(name)])
    data.services = _unique(data.services)
    return data


def _consume_steps(data: RunbookData, lines: list[str]) -> str:
    """Add the "### Step N:" blocks in `lines` to data.steps; returns the text before them."""
    intro, step_blocks = _blocks(lines, 3)
    intro_lines = list(intro)
    for step_heading, step_lines in step_blocks:
        step_match = _STEP_HEADING.match(step_heading)
        if step_match:
            data.steps.append(_parse_step(step_match.group(2), step_lines))
        elif data.steps:
            data.steps[-1] = _parse_step_more(data.steps[-1], step_heading, step_lines)
        else:
            intro_lines += [f"### {step_heading}", *step_lines]
    return _clean(intro_lines)


def _parse_step_more(step: StepData, heading: str, lines: list[str]) -> StepData:
    """A step part that the document put outside the step's own block."""
    more = _parse_step(step.title, [f"#### {heading}", *lines])
    for name in ("success_criteria", "if_fails", "expected_output"):
        if getattr(more, name):
            setattr(step, name, "\n\n".join(filter(None, [getattr(step, name), getattr(more, name)])))
    if more.commands:
        step.commands = "\n\n".join(filter(None, [step.commands, more.commands]))
        step.commands_language = step.commands_language or more.commands_language
    if more.details:
        step.details = "\n\n".join(filter(None, [step.details, more.details]))
    return step


# ---------------------------------------------------------------------------------------------
# Export


def _fence(code: str, language: str = "") -> str:
    longest = max((len(run) for run in re.findall(r"`{3,}", code)), default=2)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}{language}\n{code}\n{ticks}"


def render(data: RunbookData) -> str:
    """Markdown in the seeds' format; parse(render(data)) == data."""
    out: list[str] = [f"# {TITLE_PREFIX.get(data.kind, 'Runbook')}: {data.title}", ""]
    meta = {
        "severity": data.severity,
        "owner": data.owner,
        "response_time": data.response_time,
        "last_tested": data.last_tested.isoformat() if data.last_tested else "",
        "services": ", ".join(data.services),
        "alert_names": ", ".join(f"`{name}`" for name in data.alert_names),
        "category": data.category,
        "review_interval": data.review_interval,
    }
    for name, value in meta.items():
        if value:
            out.append(f"**{METADATA_LABEL[name]}:** {value}")
    for label, value in data.extra_metadata:
        out.append(f"**{label}:** {value}")
    out.append("")

    def section(name: str) -> None:
        value = getattr(data, name)
        if value:
            out.extend([f"## {SECTIONS[name][0]}", "", value, ""])

    for name in SECTIONS_BEFORE_STEPS:
        section(name)
    if data.steps or data.steps_intro:
        out.extend([f"## {STEPS_HEADINGS[0]}", ""])
        if data.steps_intro:
            out.extend([data.steps_intro, ""])
        for number, step in enumerate(data.steps, start=1):
            out.extend([f"### Step {number}: {step.title}", ""])
            if step.goal:
                out.extend([f"**Goal:** {step.goal}", ""])
            if step.details:
                out.extend([step.details, ""])
            if step.commands:
                out.extend(
                    [f"#### {STEP_PART_HEADING['commands']}", "", _fence(step.commands, step.commands_language), ""]
                )
            if step.expected_output:
                out.extend(
                    [f"#### {STEP_PART_HEADING['expected_output']}", "", _fence(step.expected_output, "text"), ""]
                )
            for name in ("success_criteria", "if_fails"):
                if getattr(step, name):
                    out.extend([f"#### {STEP_PART_HEADING[name]}", "", getattr(step, name), ""])
    for name in SECTIONS:
        if name not in SECTIONS_BEFORE_STEPS:
            section(name)
    for heading, body in data.extra_sections:
        out.extend([f"## {heading}", ""])
        if body:
            out.extend([body, ""])
    return "\n".join(out).rstrip("\n") + "\n"


def parse_sections(text: str) -> list[list[str]]:
    """'## Heading' blocks typed into one text box (the editor's "other sections") as a list."""
    lines = _normalize_fences(text.replace("\r\n", "\n").split("\n"))
    before, parts = _blocks(lines, 2)
    sections = [[heading.strip(), _clean(body)] for heading, body in parts]
    lead = _clean(before)
    if lead:
        sections.insert(0, ["Notes (continued)", lead])
    return sections


def render_sections(sections: list[list[str]]) -> str:
    return "\n\n".join(f"## {heading}\n\n{body}".rstrip() for heading, body in sections)


def render_steps(intro: str, steps: list[StepData]) -> str:
    """The "Resolution Steps" section's body, as the editor shows it."""
    if not intro and not steps:
        return ""
    text = render(RunbookData(title="-", steps_intro=intro, steps=steps))
    return text.split(f"## {STEPS_HEADINGS[0]}\n\n", 1)[1].rstrip("\n")


def parse_steps(text: str) -> tuple[str, list[StepData]]:
    """(text before the steps, the steps) from a "### Step N: …" list typed into the editor."""
    if not text.strip():
        return "", []
    data = parse(f"# Runbook: -\n\n## {STEPS_HEADINGS[0]}\n\n{text}")
    return data.steps_intro, data.steps
