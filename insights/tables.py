"""Each chart's numbers as a table: the page shows these rows under the chart and the CSV
download writes the very same rows, so the two always agree."""

from collections.abc import Callable
from dataclasses import dataclass, field

from incidents.models import SeverityPolicy
from insights.selectors import NO_TEAM_SLUG


@dataclass
class Table:
    key: str
    title: str
    headers: list[str]
    rows: list[tuple[list[str], str]] = field(default_factory=list)  # (cells, link to the incidents)


def minutes(seconds: int | None) -> str:
    return "" if seconds is None else f"{seconds / 60:.1f}"


def percent(value: float | None) -> str:
    return "" if value is None else f"{value * 100:.1f}"


def hours(seconds: int) -> str:
    return f"{seconds / 3600:.1f}"


Link = Callable[..., str]


def tables(figures: dict, policies: list[SeverityPolicy], link: Link) -> dict[str, Table]:
    keys = list(figures["by_severity"])
    weekly = Table("weekly", "Incidents per week by severity", ["Week of", *keys, "Total"])
    for week in figures["weekly"]:
        cells = [week["week"], *(str(week["by_severity"][key]) for key in keys), str(week["incidents"])]
        weekly.rows.append((cells, link(week=week["week"])))

    times = Table(
        "times",
        "Times from detection by severity (minutes)",
        [
            "Severity",
            "Incidents",
            "Acknowledge mean",
            "Acknowledge median",
            "Acknowledge p90",
            "Mitigate median",
            "Mitigate p90",
            "Resolve mean",
            "Resolve median",
            "Resolve p90",
            "Declaration lag median",
            "Acknowledged within response time (%)",
            "Mitigated within target (%)",
            "Resolved within target (%)",
        ],
    )
    for key, entry in [*figures["by_severity"].items(), ("All", figures["overall"])]:
        ack, mit, res = entry["time_to_acknowledge"], entry["time_to_mitigate"], entry["time_to_resolve"]
        times.rows.append(
            (
                [
                    key,
                    str(entry["incidents"]),
                    minutes(ack["mean"]),
                    minutes(ack["median"]),
                    minutes(ack["p90"]),
                    minutes(mit["median"]),
                    minutes(mit["p90"]),
                    minutes(res["mean"]),
                    minutes(res["median"]),
                    minutes(res["p90"]),
                    minutes(entry["declaration_lag"]["median"]),
                    percent(entry["acknowledged_within_response_time"]),
                    percent(entry["mitigated_within_target"]),
                    percent(entry["resolved_within_target"]),
                ],
                link(severity=key if key != "All" else ""),
            )
        )

    trend = Table(
        "trend",
        "Median times per week (minutes)",
        ["Week of", "Acknowledge", "Mitigate", "Resolve", "Updates on time (%)"],
    )
    for week in figures["weekly"]:
        trend.rows.append(
            (
                [
                    week["week"],
                    minutes(week["time_to_acknowledge"]),
                    minutes(week["time_to_mitigate"]),
                    minutes(week["time_to_resolve"]),
                    percent(week["updates_on_time"]),
                ],
                link(week=week["week"]),
            )
        )

    cadence_headers = ["Due times", "On time", "Late", "On time (%)", "Median lateness (min)", "Worst lateness (min)"]

    def cadence_cells(entry: dict) -> list[str]:
        return [
            str(entry["updates_due"]),
            str(entry["updates_on_time"]),
            str(entry["updates_late"]),
            percent(entry["on_time_share"]),
            minutes(entry["median_lateness"]),
            minutes(entry["worst_lateness"]),
        ]

    with_cadence = {policy.key for policy in policies if policy.update_cadence_minutes is not None}
    cadence = Table("cadence", "Update cadence kept by severity", ["Severity", *cadence_headers])
    for key, entry in figures["by_severity"].items():
        if key in with_cadence or entry["has_cadence"]:
            cadence.rows.append(([key, *cadence_cells(entry["cadence"])], link(severity=key, late="1")))
    cadence.rows.append((["All", *cadence_cells(figures["overall"]["cadence"])], link(late="1")))

    leads = Table("leads", "Update cadence kept by incident lead", ["Incident lead", *cadence_headers])
    for entry in figures["cadence_by_lead"]:
        leads.rows.append(([entry["lead"], *cadence_cells(entry)], link(lead=str(entry["lead_id"]), late="1")))

    pm = figures["postmortems"]
    postmortems = Table(
        "postmortems",
        "Postmortems due in the period",
        ["Due", "Published on time", "Published late", "Overdue", "Open, not yet due", "On time (%)"],
        [
            (
                [
                    str(pm["due"]),
                    str(pm["published_on_time"]),
                    str(pm["published_late"]),
                    str(pm["overdue"]),
                    str(pm["open"]),
                    percent(pm["on_time_share"]),
                ],
                "",
            )
        ],
    )

    actions = Table(
        "actions", "Action items per week", ["Week of", "Opened", "Closed", "Open at the end", "Overdue at the end"]
    )
    for week in figures["action_items"]["weekly"]:
        actions.rows.append(
            ([week["week"], str(week["opened"]), str(week["closed"]), str(week["open"]), str(week["overdue"])], "")
        )
    item_headers = ["Opened", "Closed", "Open now", "Overdue now"]

    def item_cells(entry: dict) -> list[str]:
        return [str(entry["opened"]), str(entry["closed"]), str(entry["open"]), str(entry["overdue"])]

    owners = Table("owners", "Action items by owner", ["Owner", *item_headers])
    for entry in figures["action_items"]["by_owner"]:
        owners.rows.append(([entry["owner"], *item_cells(entry)], ""))
    teams = Table("teams", "Action items by the owner's team", ["Team", *item_headers])
    for entry in figures["action_items"]["by_team"]:
        teams.rows.append(([entry["team"], *item_cells(entry)], link(items_team=entry["slug"] or NO_TEAM_SLUG)))

    services = Table("services", "Top services", ["Service", "Incidents", "Time in incident (h)"])
    for entry in figures["top_services"]:
        services.rows.append(
            ([entry["name"], str(entry["incidents"]), hours(entry["seconds"])], link(service=entry["service"]))
        )
    return {
        table.key: table
        for table in (weekly, times, trend, cadence, leads, postmortems, actions, owners, teams, services)
    }
