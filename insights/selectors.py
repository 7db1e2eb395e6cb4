"""The figures of the insights page, its CSV files and its API, from one set of filters.

Every figure counts every incident, restricted ones included (a count names no incident); the
lists of incidents behind a figure show only those the reader may see, plus how many others.
The number of queries is fixed whatever the data: a few value lists read once, then arithmetic
in Python (percentiles too, which SQLite cannot compute and PostgreSQL would need once per
figure)."""

import math
import statistics
from bisect import bisect_right
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import F, FloatField, Func, Q, QuerySet
from django.utils import timezone

from incidents.models import DueOutcome, Incident, SeverityPolicy, UpdateDue
from incidents.selectors import visible_incidents
from insights.filters import Filters
from postmortems.dates import team_zone
from postmortems.models import OPEN_ACTION_STATUSES, ActionItem, Postmortem, PostmortemStatus

DRILL_LIMIT = 200
TOP_SERVICES = 10


def stats(values: list[float]) -> dict[str, int | None]:
    """Mean, median and 90th percentile in whole seconds (linear between ranks, as PostgreSQL's
    percentile_cont); None for each when there is nothing to measure."""
    if not values:
        return {"mean": None, "median": None, "p90": None}
    ordered = sorted(values)
    rank = (len(ordered) - 1) * 0.9
    low, high = math.floor(rank), math.ceil(rank)
    p90 = ordered[low] + (ordered[high] - ordered[low]) * (rank - low)
    return {"mean": round(statistics.fmean(ordered)), "median": round(statistics.median(ordered)), "p90": round(p90)}


def share(part: int, whole: int) -> float | None:
    return None if not whole else round(part / whole, 4)


def _scoped(incidents: QuerySet[Incident], filters: Filters) -> QuerySet[Incident]:
    """Severity, service and team filters on incidents (the period is each figure's own)."""
    if filters.severities:
        incidents = incidents.filter(severity__key__in=filters.severities)
    if filters.services or filters.team:
        by_service = Q()
        if filters.services:
            by_service &= Q(affected_services__slug__in=filters.services)
        if filters.team:
            by_service &= Q(affected_services__owner_team__slug=filters.team)
        incidents = incidents.filter(pk__in=Incident.objects.filter(by_service).values("pk"))
    return incidents


class Epoch(Func):
    """A time as seconds since 1970 (a float): thousands of rows load several times faster as
    numbers than as datetimes, and durations are then subtractions."""

    output_field = FloatField()
    template = "CAST(EXTRACT(EPOCH FROM %(expressions)s) AS double precision)"

    sqlite_template = "ROUND((julianday(%(expressions)s) - 2440587.5) * 86400.0, 3)"

    def as_sqlite(self, compiler, connection, **extra_context):
        return self.as_sql(compiler, connection, template=self.sqlite_template, **extra_context)


def _epoch(day: date) -> float:
    return datetime.combine(day, time(), tzinfo=team_zone()).timestamp()


def _in_scope(rows: QuerySet, filters: Filters, path: str) -> QuerySet:
    """Rows of incidents within the severity, service and team filters; with none, no join at
    all (a semi-join over every incident would cost more than the rows it reads)."""
    if not (filters.severities or filters.services or filters.team):
        return rows
    return rows.filter(**{f"{path}__in": _scoped(Incident.objects.all(), filters)})


def _week_bins(weeks: list[date]) -> list[float]:
    return [_epoch(week) for week in weeks]


def _week_at(epoch: float, bins: list[float], weeks: list[date]) -> date | None:
    index = bisect_right(bins, epoch) - 1
    return weeks[index] if index >= 0 else None


def weeks_of(filters: Filters) -> list[date]:
    first = filters.start - timedelta(days=filters.start.weekday())
    return [first + timedelta(weeks=n) for n in range((filters.end - first).days // 7 + 1)]


@dataclass
class IncidentRow:
    """An incident's times as epoch seconds."""

    pk: int
    severity_id: int
    lead_id: int
    detected_at: float
    declared_at: float
    acknowledged_at: float | None
    mitigated_at: float | None
    resolved_at: float | None

    def seconds(self, milestone: str) -> float | None:
        moment = getattr(self, milestone)
        return None if moment is None else max(0.0, moment - self.detected_at)


TIMES = ["detected_at", "declared_at", "acknowledged_at", "mitigated_at", "resolved_at"]
MEASURES = {
    "time_to_acknowledge": "acknowledged_at",
    "time_to_mitigate": "mitigated_at",
    "time_to_resolve": "resolved_at",
    "declaration_lag": "declared_at",
}


@dataclass
class DueRow:
    """A recorded due time, its times as epoch seconds."""

    incident_id: int
    severity_id: int
    lead_id: int
    due_at: float
    closed_at: float | None
    outcome: str

    def lateness(self, now: float) -> float | None:
        """Seconds late (≤ 0: on time); None when the due time does not count (replaced or
        cleared before it came, or not yet come)."""
        if self.outcome == DueOutcome.MET:
            return self.closed_at - self.due_at
        end = self.closed_at if self.closed_at is not None else now
        return None if end <= self.due_at else end - self.due_at


@dataclass
class Period:
    """The raw rows of one period, read once."""

    filters: Filters
    incidents: list[IncidentRow]
    dues: list[DueRow]
    now: float


def _read(filters: Filters, *, now: datetime, with_previous: bool) -> tuple[Period, Period | None]:
    """Two queries for both periods: incidents detected in them and due times falling in them."""
    earliest = filters.previous() if with_previous else filters
    incidents = _scoped(Incident.objects.all(), filters)
    rows = [
        IncidentRow(*values)
        for values in incidents.filter(detected_at__gte=earliest.start_at, detected_at__lt=filters.end_at)
        .annotate(**{f"{name}_epoch": Epoch(name) for name in TIMES})
        .order_by()  # no sort: the rows are bucketed in Python
        .values_list("pk", "severity_id", "lead_id", *(f"{name}_epoch" for name in TIMES))
    ]
    # A due time counts under the severity the incident had when it was set, so only the service
    # and team filters apply through the incident.
    dues = _in_scope(UpdateDue.objects.all(), replace(filters, severities=()), "incident").filter(
        due_at__gte=earliest.start_at, due_at__lt=filters.end_at, due_at__lte=now
    )
    if filters.severities:
        dues = dues.filter(severity__key__in=filters.severities)
    due_rows = [
        DueRow(*values)
        for values in dues.annotate(due_epoch=Epoch("due_at"), closed_epoch=Epoch("closed_at"))
        .order_by()
        .values_list("incident_id", "severity_id", "incident__lead_id", "due_epoch", "closed_epoch", "outcome")
    ]

    def period(of: Filters) -> Period:
        start, end = of.start_at.timestamp(), of.end_at.timestamp()
        return Period(
            filters=of,
            incidents=[row for row in rows if start <= row.detected_at < end],
            dues=[row for row in due_rows if start <= row.due_at < end],
            now=now.timestamp(),
        )

    return period(filters), (period(filters.previous()) if with_previous else None)


def _response_kept(rows: Iterable[IncidentRow], policies: dict[int, SeverityPolicy], now: float) -> float | None:
    """Share of incidents acknowledged within their severity's response time. Those with no
    response time (next business day) and those still inside it unacknowledged do not count."""
    kept = counted = 0
    for row in rows:
        minutes = policies[row.severity_id].response_time_minutes
        if minutes is None:
            continue
        target = row.detected_at + minutes * 60
        if row.acknowledged_at is None and now < target:
            continue
        counted += 1
        kept += row.acknowledged_at is not None and row.acknowledged_at <= target
    return share(kept, counted)


def cadence_figures(dues: Iterable[DueRow], now: float) -> dict:
    late = [lateness for row in dues if (lateness := row.lateness(now)) is not None]
    missed = [seconds for seconds in late if seconds > 0]
    return {
        "updates_due": len(late),
        "updates_on_time": len(late) - len(missed),
        "updates_late": len(missed),
        "on_time_share": share(len(late) - len(missed), len(late)),
        "median_lateness": round(statistics.median(missed)) if missed else None,
        "worst_lateness": round(max(missed)) if missed else None,
    }


def _figures(rows: list[IncidentRow], dues: list[DueRow], policies: dict[int, SeverityPolicy], now: float) -> dict:
    figures = {"incidents": len(rows)}
    for name, milestone in MEASURES.items():
        figures[name] = stats([s for row in rows if (s := row.seconds(milestone)) is not None])
    figures["acknowledged_within_response_time"] = _response_kept(rows, policies, now)
    cadence = cadence_figures(dues, now)
    figures["updates_on_time"] = cadence["on_time_share"]
    figures["cadence"] = cadence
    return figures


def _summary(period: Period, policies: dict[int, SeverityPolicy]) -> dict:
    return _figures(period.incidents, period.dues, policies, period.now)


def _postmortem_figures(filters: Filters, *, today: date) -> dict:
    """Postmortems due in the period (required ones): published by their due date, late, still
    open past it, open and not yet due."""
    rows = (
        _in_scope(Postmortem.objects.all(), filters, "incident")
        .filter(
            required=True,
            due_on__gte=filters.start,
            due_on__lte=filters.end,
        )
        .order_by()
        .values_list("due_on", "published_at", "status")
    )
    counts = Counter()
    zone = team_zone()
    for due_on, published_at, status in rows:
        if status == PostmortemStatus.NOT_REQUIRED:
            continue
        counts["due"] += 1
        if published_at is not None:
            counts["on_time" if published_at.astimezone(zone).date() <= due_on else "late"] += 1
        elif due_on < today:
            counts["overdue"] += 1
        else:
            counts["open"] += 1
    return {
        "due": counts["due"],
        "published_on_time": counts["on_time"],
        "published_late": counts["late"],
        "overdue": counts["overdue"],
        "open": counts["open"],
        "on_time_share": share(counts["on_time"], counts["on_time"] + counts["late"] + counts["overdue"]),
    }


def _action_item_figures(filters: Filters, *, weeks: list[date], now: datetime) -> dict:
    """Opened and closed in the period and per week, and the burn-down: open and overdue at the
    end of each week; open and overdue now by owner. One query."""
    items = (
        _in_scope(ActionItem.objects.all(), filters, "postmortem__incident").filter(created_at__lt=filters.end_at)
    ).filter(Q(completed_at__isnull=True) | Q(completed_at__gte=filters.start_at))
    rows = list(items.order_by().values_list("created_at", "completed_at", "due_on", "status", "owner_id"))
    zone = team_zone()
    weekly = []
    for week in weeks:
        start = max(datetime.combine(week, datetime.min.time(), tzinfo=zone), filters.start_at)
        end = min(datetime.combine(week + timedelta(days=7), datetime.min.time(), tzinfo=zone), filters.end_at)
        last_day = (end - timedelta(microseconds=1)).astimezone(zone).date()
        open_at_end = [row for row in rows if row[0] < end and (row[1] is None or row[1] >= end)]
        weekly.append(
            {
                "week": week.isoformat(),
                "opened": sum(start <= row[0] < end for row in rows),
                "closed": sum(row[1] is not None and start <= row[1] < end for row in rows),
                "open": len(open_at_end),
                "overdue": sum(row[2] < last_day for row in open_at_end),
            }
        )
    today = now.astimezone(zone).date()
    owners: dict[int | None, Counter] = defaultdict(Counter)
    for _created, _completed, due_on, status, owner_id in rows:
        if status in OPEN_ACTION_STATUSES:
            owners[owner_id]["open"] += 1
            owners[owner_id]["overdue"] += due_on < today
    names = _people({owner for owner in owners if owner is not None})
    by_owner = sorted(
        (
            {"owner": names.get(owner, "Unassigned"), "open": counts["open"], "overdue": counts["overdue"]}
            for owner, counts in owners.items()
        ),
        key=lambda entry: (-entry["overdue"], -entry["open"], entry["owner"]),
    )
    return {
        "opened": sum(filters.start_at <= row[0] < filters.end_at for row in rows),
        "closed": sum(row[1] is not None and filters.start_at <= row[1] < filters.end_at for row in rows),
        "open": sum(row[3] in OPEN_ACTION_STATUSES for row in rows),
        "overdue": sum(row[3] in OPEN_ACTION_STATUSES and row[2] < today for row in rows),
        "weekly": weekly,
        "by_owner": by_owner,
    }


def _people(ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return {
        user.pk: user.get_full_name() or user.get_username()
        for user in get_user_model().objects.filter(pk__in=ids).only("username", "first_name", "last_name")
    }


def _top_services(filters: Filters, *, now: datetime) -> list[dict]:
    """Services by incidents detected in the period and by time in incident within it (an
    incident spanning an edge counts only its part inside). One query."""
    through = (
        _in_scope(Incident.affected_services.through.objects.all(), filters, "incident").filter(
            incident__detected_at__lt=filters.end_at
        )
    ).filter(Q(incident__resolved_at__isnull=True) | Q(incident__resolved_at__gt=filters.start_at))
    if filters.services:
        through = through.filter(service__slug__in=filters.services)
    if filters.team:
        through = through.filter(service__owner_team__slug=filters.team)
    services: dict[str, dict] = {}
    start, end, clock = filters.start_at.timestamp(), filters.end_at.timestamp(), now.timestamp()
    rows = through.annotate(detected=Epoch("incident__detected_at"), resolved=Epoch("incident__resolved_at"))
    for slug, name, detected, resolved in rows.values_list("service__slug", "service__name", "detected", "resolved"):
        entry = services.setdefault(slug, {"service": slug, "name": name, "incidents": 0, "seconds": 0.0})
        entry["incidents"] += start <= detected < end
        inside = min(clock if resolved is None else resolved, end, clock) - max(detected, start)
        entry["seconds"] += max(0.0, inside)
    ranked = sorted(services.values(), key=lambda entry: (-entry["incidents"], -entry["seconds"], entry["name"]))
    for entry in ranked:
        entry["seconds"] = round(entry["seconds"])
    return [entry for entry in ranked if entry["incidents"] or entry["seconds"]][:TOP_SERVICES]


def insights(filters: Filters, *, now: datetime | None = None) -> dict:
    """Every figure of the page and the API for `filters`, with the previous period of equal
    length for comparison."""
    now = now or timezone.now()
    policies = SeverityPolicy.objects.in_bulk()
    ordered = sorted(policies.values(), key=lambda policy: policy.rank)
    current, previous = _read(filters, now=now, with_previous=True)
    weeks = weeks_of(filters)
    clock = current.now

    by_severity = {}
    for policy in ordered:
        if filters.severities and policy.key not in filters.severities:
            continue
        pk = policy.pk  # read once: the property costs a call per row
        dues = [row for row in current.dues if row.severity_id == pk]
        figures = _figures([row for row in current.incidents if row.severity_id == pk], dues, policies, clock)
        figures["rank"] = policy.rank
        figures["has_cadence"] = bool(dues)
        by_severity[policy.key] = figures

    bins = _week_bins(weeks)
    incidents_of: dict[date | None, list[IncidentRow]] = defaultdict(list)
    for row in current.incidents:
        incidents_of[_week_at(row.detected_at, bins, weeks)].append(row)
    dues_of: dict[date | None, list[DueRow]] = defaultdict(list)
    for row in current.dues:
        dues_of[_week_at(row.due_at, bins, weeks)].append(row)
    weekly = []
    for week in weeks:
        rows, dues = incidents_of[week], dues_of[week]
        counts = Counter(row.severity_id for row in rows)
        weekly.append(
            {
                "week": week.isoformat(),
                "incidents": len(rows),
                "by_severity": {
                    policy.key: counts.get(policy.pk, 0)
                    for policy in ordered
                    if not filters.severities or policy.key in filters.severities
                },
                **{
                    name: stats([s for row in rows if (s := row.seconds(MEASURES[name])) is not None])["median"]
                    for name in ("time_to_acknowledge", "time_to_mitigate", "time_to_resolve")
                },
                "updates_on_time": cadence_figures(dues, clock)["on_time_share"],
            }
        )

    leads: dict[int, list[DueRow]] = defaultdict(list)
    for row in current.dues:
        leads[row.lead_id].append(row)
    names = _people(set(leads))
    by_lead = sorted(
        (
            {"lead_id": lead, "lead": names.get(lead, "?"), **cadence_figures(rows, clock)}
            for lead, rows in leads.items()
        ),
        key=lambda entry: (entry["on_time_share"] if entry["on_time_share"] is not None else 2, entry["lead"]),
    )
    by_lead = [entry for entry in by_lead if entry["updates_due"]]

    today = now.astimezone(team_zone()).date()
    postmortems = _postmortem_figures(filters, today=today)
    return {
        "from": filters.start.isoformat(),
        "to": filters.end.isoformat(),
        "overall": _summary(current, policies),
        "previous": {
            "from": previous.filters.start.isoformat(),
            "to": previous.filters.end.isoformat(),
            **_summary(previous, policies),
            "postmortems_on_time": _postmortem_figures(previous.filters, today=today)["on_time_share"],
        },
        "by_severity": by_severity,
        "weekly": weekly,
        "cadence_by_lead": by_lead,
        "postmortems": postmortems,
        "postmortems_on_time": postmortems["on_time_share"],
        "action_items": _action_item_figures(filters, weeks=weeks, now=now),
        "top_services": _top_services(filters, now=now),
    }


def drill_down(
    filters: Filters,
    *,
    user: AbstractBaseUser | AnonymousUser,
    week: date | None = None,
    severity: str = "",
    service: str = "",
    lead: int | None = None,
    late: bool = False,
) -> tuple[list[Incident], int]:
    """The incidents behind a bar or a row: detected in the period (or the week), of a
    severity, service or lead; with `late`, those with a due time in the period that was missed.
    Returns those the user may see (at most DRILL_LIMIT) and how many more there are that the
    user may not see."""
    incidents = _scoped(Incident.objects.all(), filters)
    start, end = filters.start_at, filters.end_at
    if week is not None:
        zone = team_zone()
        start = max(start, datetime.combine(week, datetime.min.time(), tzinfo=zone))
        end = min(end, datetime.combine(week + timedelta(days=7), datetime.min.time(), tzinfo=zone))
    if lead is not None or late:
        dues = UpdateDue.objects.filter(due_at__gte=start, due_at__lt=end, due_at__lte=timezone.now())
        if late:
            dues = dues.filter(
                Q(outcome=DueOutcome.MET, closed_at__gt=F("due_at"))
                | (~Q(outcome=DueOutcome.MET) & (Q(closed_at__gt=F("due_at")) | Q(closed_at__isnull=True)))
            )
        incidents = incidents.filter(pk__in=dues.values("incident_id"))
        if lead is not None:
            incidents = incidents.filter(lead_id=lead)
    else:
        incidents = incidents.filter(detected_at__gte=start, detected_at__lt=end)
    if severity:
        incidents = incidents.filter(severity__key=severity)
    if service:
        incidents = incidents.filter(pk__in=Incident.objects.filter(affected_services__slug=service).values("pk"))
    visible = incidents.filter(pk__in=visible_incidents(user).values("pk"))
    shown = list(visible.select_related("severity", "lead").order_by("-detected_at")[:DRILL_LIMIT])
    total = incidents.count()
    hidden = total - visible.count()
    return shown, hidden
