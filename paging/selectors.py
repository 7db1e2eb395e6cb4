"""Reads of paging: what an incident page shows of its escalations and pages."""

from dataclasses import dataclass

from paging.models import Escalation, Page


@dataclass(frozen=True)
class IncidentPaging:
    escalations: list[Escalation]
    pages: list[Page]

    @property
    def running(self) -> list[Escalation]:
        return [escalation for escalation in self.escalations if escalation.stopped_at is None]


def incident_paging(*, incident_id: int) -> IncidentPaging:
    """The incident's escalations and pages, in two queries."""
    escalations = list(Escalation.objects.filter(incident_id=incident_id).select_related("policy").order_by("pk"))
    if not escalations:
        return IncidentPaging([], [])
    pages = list(Page.objects.filter(incident_id=incident_id).select_related("user").order_by("recorded_at", "pk"))
    return IncidentPaging(escalations, pages)
