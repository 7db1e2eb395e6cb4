"""Reads for the status page. What the public sees is decided here: published incidents whose
severity the policy shows on the status page, under their public title (or a neutral one derived
from their components) and public summary, and of their status updates only the public ones.
Nothing here reads internal titles, references, notes, summaries, impact or internal updates."""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from django.db.models import Prefetch
from django.utils import timezone
from django.utils.crypto import salted_hmac

from incidents.models import (
    ACTIVE_STATUSES,
    EventKind,
    Incident,
    IncidentStatus,
    StatusUpdate,
    TimelineEvent,
    UpdateVisibility,
)
from statuspage.models import (
    STATUS_RANK,
    Component,
    ComponentGroup,
    ComponentStatus,
    ComponentStatusChange,
    MaintenanceWindow,
    SeverityImpact,
    StatusPageSettings,
    worst_status,
)

HISTORY_DAYS = 90
RESOLUTION_NOTE = "This incident has been resolved."
INCIDENT_HISTORY_LIMIT = 25
# Maintenance shows from when it is announced until it ends.
MAINTENANCE_LOOKAHEAD = timedelta(days=30)


@dataclass
class Day:
    day: date
    status: str

    @property
    def label(self) -> str:
        return ComponentStatus(self.status).label


@dataclass
class PublicComponent:
    component: Component
    status: str
    days: list[Day] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.component.name

    @property
    def status_label(self) -> str:
        return ComponentStatus(self.status).label


def settings_get() -> StatusPageSettings:
    return StatusPageSettings.objects.get_or_create(pk=1)[0]


def public_id(incident: Incident) -> str:
    """The incident's name on the public page (anchors, feed ids, JSON): stable, but not its
    internal reference, which never goes public."""
    return "incident-" + salted_hmac("statuspage.public_id", str(incident.pk)).hexdigest()[:12]


def public_name(*, public_title: str, impact_label: str, components: list[Component]) -> str:
    """The public title, else a neutral one from what customers see: "Degraded performance —
    Checkout". Never the internal title."""
    if public_title:
        return public_title
    names = ", ".join(component.name for component in components)
    return f"{impact_label} — {names}" if names else impact_label


def _public_incidents():
    return (
        Incident.objects.filter(severity__show_on_status_page=True, published_at__isnull=False)
        .select_related("severity")
        .prefetch_related(
            Prefetch(
                "status_updates",
                queryset=StatusUpdate.objects.filter(visibility=UpdateVisibility.PUBLIC).order_by("-posted_at"),
                to_attr="public_updates",
            ),
            Prefetch("affected_services", to_attr="services"),
        )
    )


def _days_of(
    component: Component,
    changes: list[ComponentStatusChange],
    windows: list[MaintenanceWindow],
    start: datetime,
    now: datetime,
) -> list[Day]:
    """The worst status of each of the last HISTORY_DAYS days (UTC), from the change history
    (newest first) walked back from the current status, with maintenance windows."""
    segments: list[tuple[datetime, datetime, str]] = []
    end, before = now, component.status
    for change in changes:
        segments.append((change.changed_at, end, change.status))
        end, before = change.changed_at, change.previous_status
    segments.append((start, end, before))
    segments += [(w.starts_at, min(w.ends_at, now), ComponentStatus.UNDER_MAINTENANCE) for w in windows]
    days = []
    first = start.date()
    for offset in range(HISTORY_DAYS):
        day = first + timedelta(days=offset)
        day_start = datetime.combine(day, datetime.min.time(), tzinfo=now.tzinfo)
        day_end = day_start + timedelta(days=1)
        statuses = [status for seg_start, seg_end, status in segments if seg_start < day_end and seg_end > day_start]
        days.append(Day(day, worst_status(*statuses)))
    return days


def page_data(*, now: datetime | None = None) -> dict:
    """Everything the page, its JSON and its feed show, in a fixed number of queries whatever the
    number of incidents, updates and changes."""
    now = (now or timezone.now()).astimezone(UTC)
    history_start = datetime.combine(
        now.date() - timedelta(days=HISTORY_DAYS - 1), datetime.min.time(), tzinfo=now.tzinfo
    )
    components = list(Component.objects.select_related("group").order_by("position", "name"))
    changes: dict[int, list[ComponentStatusChange]] = defaultdict(list)
    for change in ComponentStatusChange.objects.filter(changed_at__gte=history_start).order_by("-changed_at", "-id"):
        changes[change.component_id].append(change)
    windows = list(
        MaintenanceWindow.objects.filter(ends_at__gt=history_start, starts_at__lte=now + MAINTENANCE_LOOKAHEAD)
        .prefetch_related(Prefetch("components", to_attr="component_list"))
        .order_by("starts_at")
    )
    window_components: dict[int, list[MaintenanceWindow]] = defaultdict(list)
    for window in windows:
        for component in window.component_list:
            window_components[component.pk].append(window)

    public: dict[int, PublicComponent] = {}
    for component in components:
        in_maintenance = any(w.starts_at <= now < w.ends_at for w in window_components[component.pk])
        status = worst_status(component.status, ComponentStatus.UNDER_MAINTENANCE if in_maintenance else "operational")
        past = [w for w in window_components[component.pk] if w.starts_at <= now]
        public[component.pk] = PublicComponent(
            component, status, _days_of(component, changes[component.pk], past, history_start, now)
        )

    groups: list[tuple[ComponentGroup | None, list[PublicComponent]]] = []
    by_group: dict[int | None, list[PublicComponent]] = defaultdict(list)
    for item in public.values():
        by_group[item.component.group_id].append(item)
    group_rows = sorted(
        {c.group.pk: c.group for c in components if c.group is not None}.values(), key=lambda g: (g.position, g.name)
    )
    groups = [(group, by_group[group.pk]) for group in group_rows]
    if by_group[None]:
        groups.append((None, by_group[None]))

    by_service: dict[int, list[Component]] = defaultdict(list)
    for component in components:
        by_service[component.service_id].append(component)
    impacts = list(SeverityImpact.objects.values_list("severity_id", "severity__key", "component_status"))
    impact = {severity_id: status for severity_id, _key, status in impacts}
    impact_of_key = {key: status for _id, key, status in impacts}
    active = list(_public_incidents().filter(status__in=ACTIVE_STATUSES).order_by("severity__rank", "-declared_at"))
    resolved = list(
        _public_incidents()
        .filter(status=IncidentStatus.RESOLVED, resolved_at__gte=history_start)
        .order_by("-resolved_at")[:INCIDENT_HISTORY_LIMIT]
    )
    # A past incident's impact is the worst its severity ever implied: a major outage lowered to
    # partial after two minutes was a major outage. An active one shows what it is now.
    severities_held: dict[int, set[str]] = defaultdict(set)
    for incident_id, data in TimelineEvent.objects.filter(
        incident_id__in=[incident.pk for incident in resolved], kind=EventKind.SEVERITY_CHANGED
    ).values_list("incident_id", "data"):
        severities_held[incident_id].update(data.get(side) for side in ("from", "to"))
    for incident in active + resolved:
        incident.components = [c for s in incident.services for c in by_service[s.pk]]
        incident.impact = worst_status(
            impact.get(incident.severity_id, ComponentStatus.DEGRADED_PERFORMANCE),
            *(impact_of_key[key] for key in severities_held[incident.pk] if key in impact_of_key),
        )
        incident.impact_label = ComponentStatus(incident.impact).label
        incident.public_name = public_name(
            public_title=incident.public_title, impact_label=incident.impact_label, components=incident.components
        )
        incident.public_id = public_id(incident)
        # A resolved incident whose last public word was not "resolved" still says it ended.
        last = incident.public_updates[0] if incident.public_updates else None
        incident.resolution_note = (
            RESOLUTION_NOTE if incident.resolved_at and (last is None or last.status != IncidentStatus.RESOLVED) else ""
        )

    statuses = [item.status for item in public.values()] + [i.impact for i in active]
    overall = worst_status(*statuses) if statuses else ComponentStatus.OPERATIONAL
    return {
        "settings": settings_get(),
        "now": now,
        "overall": overall,
        "overall_label": _overall_label(overall, active),
        "groups": groups,
        "components": list(public.values()),
        "active_incidents": active,
        "resolved_incidents": resolved,
        "maintenance_now": [w for w in windows if w.starts_at <= now < w.ends_at],
        "maintenance_upcoming": [w for w in windows if w.starts_at > now],
        "history_start": history_start,
    }


def _overall_label(overall: str, active: list[Incident]) -> str:
    if overall == ComponentStatus.OPERATIONAL:
        return "All systems operational"
    if overall == ComponentStatus.UNDER_MAINTENANCE:
        return "Scheduled maintenance in progress"
    if STATUS_RANK[ComponentStatus(overall)] >= STATUS_RANK[ComponentStatus.PARTIAL_OUTAGE]:
        return "Some systems are down" if overall == ComponentStatus.PARTIAL_OUTAGE else "Major outage"
    return "Some systems are degraded"


def components_for_incident(*, incident: Incident) -> tuple[list[Component], str | None]:
    """The components an incident's affected services map to, and the status it moves them to
    (None when its severity is not shown on the status page). Two queries."""
    components = list(Component.objects.filter(service__incidents=incident).distinct().order_by("position", "name"))
    impact = None
    if incident.severity.show_on_status_page and incident.is_active:
        impact = (
            SeverityImpact.objects.filter(severity_id=incident.severity_id)
            .values_list("component_status", flat=True)
            .first()
        )
    return components, impact


def severity_impact(*, severity_id: int) -> str:
    """The component status a public incident of this severity shows as."""
    return (
        SeverityImpact.objects.filter(severity_id=severity_id).values_list("component_status", flat=True).first()
        or ComponentStatus.DEGRADED_PERFORMANCE
    )


def incident_public_name(*, incident: Incident) -> str:
    """What the status page calls the incident (subscriber mail)."""
    components = list(Component.objects.filter(service__incidents=incident).distinct().order_by("position", "name"))
    status = severity_impact(severity_id=incident.severity_id)
    return public_name(
        public_title=incident.public_title, impact_label=ComponentStatus(status).label, components=components
    )


def components_for_manage() -> list[Component]:
    return list(Component.objects.select_related("group", "service").order_by("group__position", "position", "name"))
