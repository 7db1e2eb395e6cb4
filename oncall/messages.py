"""What the hand-off message says. Pure functions; the sweep sends what these return."""

from core.formatting import utc_clock
from incidents.messages import incident_url, user_label
from oncall.models import ShiftHandoff
from oncall.selectors import HandoffSummary


def handoff_text(handoff: ShiftHandoff, summary: HandoffSummary, *, note_url: str) -> tuple[str, str]:
    schedule = handoff.schedule
    taker = user_label(handoff.incoming) if handoff.incoming else "nobody (a gap in the schedule)"
    reader = user_label(handoff.incoming) if handoff.incoming else "the next person"
    subject = f"Hand-off: your shift on {schedule.name} ended, over to {taker}"
    lines = [
        f"Your shift on {schedule.name} ended at {utc_clock(handoff.shift_ends_at)}; {taker} took over.",
        "",
        "Open incidents you were part of:",
        *(
            [f"- {i.reference} [{i.severity.key}] {i.title}: {incident_url(i)}" for i in summary.open_incidents]
            or ["- none"]
        ),
        "",
        "Declared or resolved during your shift:",
        *(
            [f"- {i.reference} {i.title} ({i.get_status_display()})" for i in summary.changed_incidents]
            or ["- nothing"]
        ),
        "",
        "Overdue action items:",
        *(
            [
                f"- {item.title} (due {item.due_on.isoformat()}, {item.postmortem.incident.reference}, "
                f"owner {user_label(item.owner) if item.owner else 'nobody'})"
                for item in summary.overdue_action_items
            ]
            or ["- none"]
        ),
        "",
        f"Add a note for {reader}: {note_url}",
    ]
    return subject, "\n".join(lines)
