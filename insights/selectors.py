"""The figures of the insights page, its CSV files and its API, from one set of filters.

Every figure counts every incident, restricted ones included (a count names no incident); the
lists of incidents behind a figure show only those the reader may see, plus how many others.
The number of queries is fixed whatever the data, and the database does the arithmetic: each
query groups (by period, by week, by lead, by service) and returns a handful of rows of counts,
means and percentiles (PostgreSQL's percentile_cont; on SQLite the same formula as a Python
aggregate, see `Percentile`). Reading thousands of rows into Python cost several times more."""

import math
from collections import Counter, defaultdict
from dataclasses import replace
from datetime import date, datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import (
    Aggregate,
    Avg,
    Case,
    Count,
    F,
    FloatField,
    Func,
    IntegerField,
    Max,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, Greatest, Least, TruncWeek
from django.utils import timezone

from incidents.models import DueOutcome, Incident, SeverityPolicy, UpdateDue
from incidents.selectors import visible_incidents
from insights.filters import Filters
from postmortems.dates import team_zone
from postmortems.models import OPEN_ACTION_STATUSES, ActionItem, Postmortem, PostmortemStatus

DRILL_LIMIT = 200
TOP_SERVICES = 10


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    rank = (len(ordered) - 1) * fraction
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def share(part: int, whole: int) -> float | None:
    return None if not whole else round(part / whole, 4)


def _whole(value: float | None) -> int | None:
    return None if value is None else round(value)


class _SqlitePercentile:
    """percentile_cont for SQLite, registered on the connection as Django registers its own
    functions there (django/db/backends/sqlite3/_functions.py)."""

    def __init__(self):
        self.values: list[float] = []
        self.fraction = 0.5

    def step(self, value, fraction):
        if value is not None:
            self.values.append(value)
            self.fraction = fraction

    def finalize(self):
        return _percentile(self.values, self.fraction) if self.values else None


class Percentile(Aggregate):
    """The continuous percentile of an expression (NULLs skipped), as PostgreSQL's
    `percentile_cont(fraction) WITHIN GROUP (ORDER BY expression)`."""

    function = "PERCENTILE_CONT"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()
    allow_distinct = False

    def __init__(self, expression, fraction: float, **extra):
        super().__init__(expression, fraction=float(fraction), **extra)

    def as_sqlite(self, compiler, connection, **extra_context):
        connection.ensure_connection()
        connection.connection.create_aggregate("insights_percentile", 2, _SqlitePercentile)
        template = "insights_percentile(%(expressions)s, %(fraction)s)"
        return self.as_sql(compiler, connection, template=template, **extra_context)


class Epoch(Func):
    """A time as seconds since 1970 (a float), so durations are subtractions. date_part, not
    EXTRACT: since PostgreSQL 14 EXTRACT returns numeric, several times slower to compute with."""

    output_field = FloatField()
    template = "date_part('epoch', %(expressions)s)"

    sqlite_template = "ROUND((julianday(%(expressions)s) - 2440587.5) * 86400.0, 3)"

    def as_sqlite(self, compiler, connection, **extra_context):
        return self.as_sql(compiler, connection, template=self.sqlite_template, **extra_context)


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


def _in_scope(rows: QuerySet, filters: Filters, path: str) -> QuerySet:
    """Rows of incidents within the severity, service and team filters; with none, no join at
    all (a semi-join over every incident would cost more than the rows it reads)."""
    if not (filters.severities or filters.services or filters.team):
        return rows
    return rows.filter(**{f"{path}__in": _scoped(Incident.objects.all(), filters)})


def weeks_of(filters: Filters) -> list[date]:
    first = filters.start - timedelta(days=filters.start.weekday())
    return [first + timedelta(weeks=n) for n in range((filters.end - first).days // 7 + 1)]


def _week_of(moment: datetime) -> str:
    return moment.astimezone(team_zone()).date().isoformat()


# Each measure and the incident's column holding it in seconds (a generated column).
MEASURES = {
    "time_to_acknowledge": "seconds_to_acknowledge",
    "time_to_mitigate": "seconds_to_mitigate",
    "time_to_resolve": "seconds_to_resolve",
    "declaration_lag": "seconds_to_declare",
}
# The severity policy's target for each measure: its field, and the figure its share goes by.
TARGETS = {
    "response": ("time_to_acknowledge", "acknowledged_at"),
    "mitigate": ("time_to_mitigate", "mitigated_at"),
    "resolve": ("time_to_resolve", "resolved_at"),
}
TARGET_FIGURES = {
    "response": ("acknowledged_within_response_time", "response_time_minutes"),
    "mitigate": ("mitigated_within_target", "mitigate_target_minutes"),
    "resolve": ("resolved_within_target", "resolve_target_minutes"),
}
TRENDS = ("time_to_acknowledge", "time_to_mitigate", "time_to_resolve")
CURRENT, PREVIOUS = 1, 0


def _period_of(field: str, filters: Filters) -> Case:
    """1 for a row of the period, 0 for one of the period before (the query reads both)."""
    return Case(
        When(**{f"{field}__gte": filters.start_at}, then=Value(CURRENT)),
        default=Value(PREVIOUS),
        output_field=IntegerField(),
    )


def _incidents(filters: Filters, *, since: datetime, now: float) -> QuerySet[Incident]:
    """Incidents detected from `since` to the period's end, with their durations in seconds
    (`s_<measure>`), their response target and age for the response-time share."""
    return (
        _scoped(Incident.objects.all(), filters)
        .filter(detected_at__gte=since, detected_at__lt=filters.end_at)
        .alias(
            **{f"s_{name}": F(column) for name, column in MEASURES.items()},
            **{f"target_{name}": F(f"severity__{field}") * 60.0 for name, (_, field) in TARGET_FIGURES.items()},
            age=Value(now) - Epoch("detected_at"),
        )
        .order_by()
    )


def _time_aggregates() -> dict:
    aggregates = {"incidents": Count("pk")}
    for name in MEASURES:
        value = F(f"s_{name}")
        aggregates[f"{name}__mean"] = Avg(value)
        aggregates[f"{name}__median"] = Percentile(value, 0.5)
        aggregates[f"{name}__p90"] = Percentile(value, 0.9)
    # Reached within the severity's target (response time, mitigation, resolution); those whose
    # severity sets none and those still inside it unreached do not count.
    for name, (measure, milestone) in TARGETS.items():
        target = f"target_{name}"
        counted = Q(**{f"{target}__isnull": False}) & (Q(**{f"{milestone}__isnull": False}) | Q(age__gte=F(target)))
        aggregates[f"{name}_counted"] = Count("pk", filter=counted)
        aggregates[f"{name}_kept"] = Count("pk", filter=Q(**{f"s_{measure}__lte": F(target)}))
    return aggregates


def _time_figures(row: dict) -> dict:
    figures = {"incidents": row.get("incidents", 0)}
    for name in MEASURES:
        figures[name] = {stat: _whole(row.get(f"{name}__{stat}")) for stat in ("mean", "median", "p90")}
    for name, (label, _) in TARGET_FIGURES.items():
        figures[label] = share(row.get(f"{name}_kept", 0), row.get(f"{name}_counted", 0))
    return figures


def _dues(filters: Filters, *, since: datetime, now: datetime) -> QuerySet[UpdateDue]:
    """Due times that came from `since` to the period's end, with whether each counts (`counts`:
    not when it was replaced or cleared before it came, as then nothing was promised any more)
    and how late it was in seconds (`late_s`; NULL when on time or not counted; closed_at is set
    exactly when the due time is no longer open). A due time counts under the severity the
    incident had when it was set, so only the service and team filters apply through the incident.
    Each is a flat expression of the row's own columns: nesting one in another made PostgreSQL
    compute the lateness several times per row."""
    dues = _in_scope(UpdateDue.objects.all(), replace(filters, severities=()), "incident").filter(
        due_at__gte=since, due_at__lt=filters.end_at, due_at__lte=now
    )
    if filters.severities:
        dues = dues.filter(severity__key__in=filters.severities)
    late = Case(
        When(closed_at__gt=F("due_at"), then=Epoch("closed_at") - Epoch("due_at")),
        When(closed_at__isnull=True, due_at__lt=now, then=Value(now.timestamp()) - Epoch("due_at")),
        default=None,
        output_field=FloatField(),
    )
    counts = Q(outcome=DueOutcome.MET) | Q(closed_at__gt=F("due_at")) | Q(closed_at__isnull=True, due_at__lt=now)
    return dues.alias(late_s=late, counts=Case(When(counts, then=Value(1)), default=None)).order_by()


def _cadence_aggregates() -> dict:
    return {
        "rows": Count("pk"),
        "due": Count("counts"),
        "late": Count("late_s"),
        "median_late": Percentile("late_s", 0.5),
        "worst_late": Max("late_s"),
    }


def _cadence_figures(row: dict) -> dict:
    due, late = row.get("due", 0), row.get("late", 0)
    return {
        "updates_due": due,
        "updates_on_time": due - late,
        "updates_late": late,
        "on_time_share": share(due - late, due),
        "median_lateness": _whole(row.get("median_late")),
        "worst_lateness": _whole(row.get("worst_late")),
    }


ALL = 0  # the severity key of a row for all severities (no SeverityPolicy has pk 0)


def _per_period_and_severity(rows: QuerySet, field: str, filters: Filters, aggregates: dict) -> dict[tuple, dict]:
    """`aggregates` per severity in the period and for all severities in it and the period
    before, keyed (period, severity or ALL), from one query (a UNION ALL:
    a percentile over all severities cannot be made from the severities' own)."""
    rows = rows.annotate(period=_period_of(field, filters))
    per_severity = (
        rows.filter(**{f"{field}__gte": filters.start_at})
        .annotate(of=F("severity_id"))
        .values("period", "of")
        .annotate(**aggregates)
    )
    overall = rows.annotate(of=Value(ALL)).values("period", "of").annotate(**aggregates)
    return {(row["period"], row["of"]): row for row in per_severity.union(overall, all=True)}


def _summary(times: dict, dues: dict) -> dict:
    figures = _time_figures(times)
    cadence = _cadence_figures(dues)
    figures["updates_on_time"] = cadence["on_time_share"]
    figures["cadence"] = cadence
    return figures


def _postmortem_figures(filters: Filters, *, today: date) -> tuple[dict, dict]:
    """Postmortems due in the period and in the one before (required ones): published by their
    due date, late, still open past it, open and not yet due. One query for both periods."""
    previous = filters.previous()
    rows = (
        _in_scope(Postmortem.objects.all(), filters, "incident")
        .filter(required=True, due_on__gte=previous.start, due_on__lte=filters.end)
        .exclude(status=PostmortemStatus.NOT_REQUIRED)
        .order_by()
        .values_list("due_on", "published_at")
    )
    counts = {CURRENT: Counter(), PREVIOUS: Counter()}
    zone = team_zone()
    for due_on, published_at in rows:
        tally = counts[CURRENT if due_on >= filters.start else PREVIOUS]
        tally["due"] += 1
        if published_at is not None:
            tally["on_time" if published_at.astimezone(zone).date() <= due_on else "late"] += 1
        elif due_on < today:
            tally["overdue"] += 1
        else:
            tally["open"] += 1

    def figures(tally: Counter) -> dict:
        return {
            "due": tally["due"],
            "published_on_time": tally["on_time"],
            "published_late": tally["late"],
            "overdue": tally["overdue"],
            "open": tally["open"],
            "on_time_share": share(tally["on_time"], tally["on_time"] + tally["late"] + tally["overdue"]),
        }

    return figures(counts[CURRENT]), figures(counts[PREVIOUS])


NO_TEAM = "No team"
NO_TEAM_SLUG = "~"  # in a drill-down link: items with no owner or an owner in no team (never a slug)


def _full_name(first: str | None, last: str | None, username: str | None) -> str:
    return f"{first or ''} {last or ''}".strip() or username or ""


def _action_item_figures(filters: Filters, *, weeks: list[date], now: datetime) -> dict:
    """Opened and closed in the period and per week, and the burn-down: open and overdue at the
    end of each week; by owner and by the owner's team: opened and closed in the period, open and
    overdue now. An owner in two teams counts under both; an item with no owner, or an owner in
    no team, under "No team". One query (a row per item and owner's team)."""
    items = (
        _in_scope(ActionItem.objects.all(), filters, "postmortem__incident").filter(created_at__lt=filters.end_at)
    ).filter(Q(completed_at__isnull=True) | Q(completed_at__gte=filters.start_at))
    fetched = items.order_by().values_list(
        "pk",
        "created_at",
        "completed_at",
        "due_on",
        "status",
        "owner_id",
        "owner__first_name",
        "owner__last_name",
        "owner__username",
        "owner__teams__slug",
        "owner__teams__name",
    )
    rows: dict[int, tuple] = {}
    owner_names: dict[int | None, str] = {None: "Unassigned"}
    team_names: dict[str, str] = {}
    teams_of: dict[int, set[str]] = defaultdict(set)
    for pk, created, completed, due_on, status, owner, first, last, username, team, team_name in fetched:
        rows[pk] = (created, completed, due_on, status, owner)
        if owner is not None:
            owner_names[owner] = _full_name(first, last, username)
        if team is not None:
            teams_of[pk].add(team)
            team_names[team] = team_name
    zone = team_zone()
    start_at, end_at = filters.start_at, filters.end_at
    weekly = []
    for week in weeks:
        start = max(datetime.combine(week, datetime.min.time(), tzinfo=zone), start_at)
        end = min(datetime.combine(week + timedelta(days=7), datetime.min.time(), tzinfo=zone), end_at)
        last_day = (end - timedelta(microseconds=1)).astimezone(zone).date()
        open_at_end = [row for row in rows.values() if row[0] < end and (row[1] is None or row[1] >= end)]
        weekly.append(
            {
                "week": week.isoformat(),
                "opened": sum(start <= row[0] < end for row in rows.values()),
                "closed": sum(row[1] is not None and start <= row[1] < end for row in rows.values()),
                "open": len(open_at_end),
                "overdue": sum(row[2] < last_day for row in open_at_end),
            }
        )
    today = now.astimezone(zone).date()
    owners: dict[int | None, Counter] = defaultdict(Counter)
    teams: dict[str, Counter] = defaultdict(Counter)
    for pk, (created, completed, due_on, status, owner) in rows.items():
        tally = Counter(
            opened=start_at <= created < end_at,
            closed=completed is not None and start_at <= completed < end_at,
            open=status in OPEN_ACTION_STATUSES,
            overdue=status in OPEN_ACTION_STATUSES and due_on < today,
        )
        owners[owner].update(tally)
        for team in teams_of[pk] or {""}:
            teams[team].update(tally)

    def entry(name: str, tally: Counter, **extra) -> dict:
        return {name: extra.pop(name), **extra, **{k: tally[k] for k in ("opened", "closed", "open", "overdue")}}

    def ranked(entries: list[dict], name: str) -> list[dict]:
        return sorted(entries, key=lambda entry: (-entry["overdue"], -entry["open"], entry[name]))

    by_owner = ranked([entry("owner", tally, owner=owner_names[owner]) for owner, tally in owners.items()], "owner")
    by_owner = [e for e in by_owner if e["open"] or e["opened"] or e["closed"]]
    by_team = ranked(
        [entry("team", tally, team=team_names.get(slug, NO_TEAM), slug=slug) for slug, tally in teams.items()],
        "team",
    )
    return {
        "opened": sum(start_at <= row[0] < end_at for row in rows.values()),
        "closed": sum(row[1] is not None and start_at <= row[1] < end_at for row in rows.values()),
        "open": sum(row[3] in OPEN_ACTION_STATUSES for row in rows.values()),
        "overdue": sum(row[3] in OPEN_ACTION_STATUSES and row[2] < today for row in rows.values()),
        "weekly": weekly,
        "by_owner": by_owner,
        "by_team": by_team,
    }


def _top_services(filters: Filters, *, now: datetime) -> list[dict]:
    """Services by incidents detected in the period and by time in incident within it (an
    incident spanning an edge counts only its part inside). One grouped query."""
    through = (
        _in_scope(Incident.affected_services.through.objects.all(), filters, "incident").filter(
            incident__detected_at__lt=filters.end_at
        )
    ).filter(Q(incident__resolved_at__isnull=True) | Q(incident__resolved_at__gt=filters.start_at))
    if filters.services:
        through = through.filter(service__slug__in=filters.services)
    if filters.team:
        through = through.filter(service__owner_team__slug=filters.team)
    start, end, clock = filters.start_at.timestamp(), filters.end_at.timestamp(), now.timestamp()
    inside = Least(
        Coalesce(Epoch("incident__resolved_at"), Value(clock)), Value(min(end, clock)), output_field=FloatField()
    ) - Greatest(Epoch("incident__detected_at"), Value(start), output_field=FloatField())
    rows = (
        through.order_by()
        .values("service__slug", "service__name")
        .annotate(
            incidents=Count("pk", filter=Q(incident__detected_at__gte=filters.start_at)),
            seconds=Sum(Greatest(inside, Value(0.0), output_field=FloatField())),
        )
    )
    ranked = sorted(rows, key=lambda row: (-row["incidents"], -(row["seconds"] or 0), row["service__name"]))
    services = [
        {
            "service": row["service__slug"],
            "name": row["service__name"],
            "incidents": row["incidents"],
            "seconds": round(row["seconds"] or 0),
        }
        for row in ranked
    ]
    return [entry for entry in services if entry["incidents"] or entry["seconds"]][:TOP_SERVICES]


def insights(filters: Filters, *, now: datetime | None = None) -> dict:
    """Every figure of the page and the API for `filters`, with the previous period of equal
    length for comparison. Nine queries whatever the data."""
    now = now or timezone.now()
    clock = now.timestamp()
    ordered = list(SeverityPolicy.objects.order_by("rank"))
    shown = [policy for policy in ordered if not filters.severities or policy.key in filters.severities]
    previous_filters = filters.previous()
    weeks = weeks_of(filters)

    # Times and due times of both periods, per severity and for all.
    times = _per_period_and_severity(
        _incidents(filters, since=previous_filters.start_at, now=clock), "detected_at", filters, _time_aggregates()
    )
    dues = _per_period_and_severity(
        _dues(filters, since=previous_filters.start_at, now=now), "due_at", filters, _cadence_aggregates()
    )
    by_severity = {}
    for policy in shown:
        figures = _summary(times.get((CURRENT, policy.pk), {}), dues.get((CURRENT, policy.pk), {}))
        figures["rank"] = policy.rank
        figures["has_cadence"] = bool(dues.get((CURRENT, policy.pk), {}).get("rows"))
        by_severity[policy.key] = figures

    # Per week of this period: counts by severity, median times, updates on time.
    week_incidents = {
        _week_of(row["week"]): row
        for row in _incidents(filters, since=filters.start_at, now=clock)
        .annotate(week=TruncWeek("detected_at", tzinfo=team_zone()))
        .values("week")
        .annotate(
            incidents=Count("pk"),
            **{f"sev{policy.pk}": Count("pk", filter=Q(severity_id=policy.pk)) for policy in shown},
            **{name: Percentile(f"s_{name}", 0.5) for name in TRENDS},
        )
    }
    week_dues = {
        _week_of(row["week"]): row
        for row in _dues(filters, since=filters.start_at, now=now)
        .annotate(week=TruncWeek("due_at", tzinfo=team_zone()))
        .values("week")
        .annotate(**_cadence_aggregates())
    }
    weekly = []
    for week in weeks:
        key = week.isoformat()
        counts, cadence = week_incidents.get(key, {}), week_dues.get(key, {})
        weekly.append(
            {
                "week": key,
                "incidents": counts.get("incidents", 0),
                "by_severity": {policy.key: counts.get(f"sev{policy.pk}", 0) for policy in shown},
                **{name: _whole(counts.get(name)) for name in TRENDS},
                "updates_on_time": _cadence_figures(cadence)["on_time_share"],
            }
        )

    lead_rows = (
        _dues(filters, since=filters.start_at, now=now)
        .values(
            "incident__lead_id", "incident__lead__first_name", "incident__lead__last_name", "incident__lead__username"
        )
        .annotate(**_cadence_aggregates())
    )
    by_lead = sorted(
        (
            {
                "lead_id": row["incident__lead_id"],
                "lead": _full_name(
                    row["incident__lead__first_name"], row["incident__lead__last_name"], row["incident__lead__username"]
                )
                or "?",
                **_cadence_figures(row),
            }
            for row in lead_rows
        ),
        key=lambda entry: (
            entry["on_time_share"] if entry["on_time_share"] is not None else 2,
            entry["lead"],
            entry["lead_id"],
        ),
    )
    by_lead = [entry for entry in by_lead if entry["updates_due"]]

    today = now.astimezone(team_zone()).date()
    postmortems, previous_postmortems = _postmortem_figures(filters, today=today)
    return {
        "from": filters.start.isoformat(),
        "to": filters.end.isoformat(),
        "overall": _summary(times.get((CURRENT, ALL), {}), dues.get((CURRENT, ALL), {})),
        "previous": {
            "from": previous_filters.start.isoformat(),
            "to": previous_filters.end.isoformat(),
            **_summary(times.get((PREVIOUS, ALL), {}), dues.get((PREVIOUS, ALL), {})),
            "postmortems_on_time": previous_postmortems["on_time_share"],
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
    items_team: str = "",
) -> tuple[list[Incident], int]:
    """The incidents behind a bar or a row: detected in the period (or the week), of a
    severity, service or lead; with `late`, those with a due time in the period that was missed;
    with `items_team`, those whose postmortem has action items of the period (as the action-item
    figures count them) owned by a member of that team (NO_TEAM_SLUG: by nobody, or by someone in
    no team).
    Returns those the user may see (at most DRILL_LIMIT) and how many more there are that the
    user may not see."""
    incidents = _scoped(Incident.objects.all(), filters)
    start, end = filters.start_at, filters.end_at
    if week is not None:
        zone = team_zone()
        start = max(start, datetime.combine(week, datetime.min.time(), tzinfo=zone))
        end = min(end, datetime.combine(week + timedelta(days=7), datetime.min.time(), tzinfo=zone))
    if items_team:
        items = ActionItem.objects.filter(created_at__lt=end).filter(
            Q(completed_at__isnull=True) | Q(completed_at__gte=start)
        )
        if items_team == NO_TEAM_SLUG:
            items = items.filter(Q(owner__isnull=True) | Q(owner__teams__isnull=True))
        else:
            items = items.filter(owner__teams__slug=items_team)
        incidents = incidents.filter(pk__in=items.values("postmortem__incident_id"))
    elif lead is not None or late:
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
