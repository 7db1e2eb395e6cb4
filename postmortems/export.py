"""The postmortem as Markdown, in the seeds' postmortem format (seed 003's template, with seed 002's
impact fields and five whys)."""

from core.formatting import humanize_delta
from incidents.selectors import incident_cadence_kept
from postmortems.dates import team_zone
from postmortems.models import SECTIONS, ActionStatus, Postmortem


def _person(user) -> str:
    if user is None:
        return "unassigned"
    return user.get_full_name() or user.get_username()


def postmortem_markdown(postmortem: Postmortem) -> str:
    incident = postmortem.incident
    severity = incident.severity
    # The document outlives the download: its times are the team's (settings.TIME_ZONE), dated,
    # with their offset, and the zone is named, whoever downloads it from wherever.
    zone = team_zone()
    started = incident.detected_at.astimezone(zone)
    lines = [
        f"# Postmortem: {incident.title}",
        "",
        f"**Incident**: {incident.reference}",
        f"**Date**: {started:%Y-%m-%d}",
        f"**Duration**: {humanize_delta(incident.duration)}",
        f"**Severity**: {severity.key} {severity.name}",
        f"**Impact**: {incident.business_impact or incident.summary or 'See Impact'}",
        f"**Status**: {postmortem.get_status_display()} (version {postmortem.version})",
        f"**Owner**: {_person(postmortem.owner)}",
        f"**Time zone**: {zone.key} (times below are ISO 8601 with their UTC offset)",
        "",
    ]

    def section(name: str) -> None:
        text = getattr(postmortem, name).strip()
        lines.extend([f"## {SECTIONS[name]}", "", text or "_Not written yet._", ""])

    section("summary")
    section("impact")
    lines.extend(["## Timeline", ""])
    for row in postmortem.timeline_rows.all():
        lines.append(f"- {row.occurred_at.astimezone(zone).isoformat(timespec='minutes')} - {row.text}")
    lines.append("")
    _cadence_kept(lines, incident, zone)
    section("root_cause")
    whys = list(postmortem.five_whys.all())
    if whys:
        lines.extend(["### Five whys", ""])
        for number, why in enumerate(whys, start=1):
            lines.append(f"{number}. {why.why} → {why.because}")
        lines.append("")
    section("resolution")
    lines.extend(["## Action Items", ""])
    for item in postmortem.action_items.all():
        done = "x" if item.status == ActionStatus.DONE else " "
        lines.append(
            f"- [{done}] {item.title} ({item.get_kind_display()}, {item.get_priority_display()}, "
            f"{_person(item.owner)}, due {item.due_on:%Y-%m-%d}, {item.get_status_display()})"
        )
    lines.append("")
    section("went_well")
    section("could_improve")
    section("lessons_learned")
    return "\n".join(lines).rstrip() + "\n"


def _cadence_kept(lines: list[str], incident, zone) -> None:
    """The incident's times from detection against its severity's targets, and each due time of
    its status updates with when the update came."""
    kept = incident_cadence_kept(incident=incident)
    lines.extend(["## Response and cadence kept", ""])
    for milestone in kept.milestones:
        if milestone.took is None:
            lines.append(f"- {milestone.label}: not recorded")
            continue
        text = f"- {milestone.label}: {humanize_delta(milestone.took)} after detection"
        if milestone.target is not None:
            text += f" (target {humanize_delta(milestone.target)}: {'kept' if milestone.kept else 'missed'})"
        lines.append(text)
    lines.append("")
    if kept.dues:
        lines.append(f"Status updates on time: {kept.on_time} of {kept.counted}.")
        lines.append("")
        for due in kept.dues:
            at = due.due_at.astimezone(zone).isoformat(timespec="minutes")
            came = (
                f"update {due.answered_at.astimezone(zone).isoformat(timespec='minutes')}, "
                if due.outcome == "met"
                else ""
            )
            lines.append(f"- Due {at} ({due.severity_key}, every {due.cadence_minutes} min): {came}{due.text}")
        lines.append("")
