from incidents.models import TimelineEvent


def incident_event_handle(*, event: TimelineEvent) -> None:
    """Reacts to a new incident timeline event (settings.INCIDENT_EVENT_HANDLERS)."""
