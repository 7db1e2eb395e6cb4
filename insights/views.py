"""/insights/ for responders and admins: the figures for a period with the previous one, each
chart with its table, a CSV of that table and links to the incidents behind every bar and row.
The filter form is a plain GET form; htmx only swaps the results in without a reload."""

import csv
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET
from django_htmx.middleware import HtmxDetails

from core.formatting import humanize_delta
from core.permissions import can_respond
from core.query import whole_number
from incidents.models import Service
from incidents.selectors import severity_policies
from insights import charts, errors
from insights.filters import CUSTOM, PRESETS, Filters, filters_parse, teams
from insights.selectors import DRILL_LIMIT, drill_down, insights
from insights.tables import tables

BAD_REQUEST = 400
# The names a drill-down link carries, besides the filters.
DRILL_PARAMS = {
    "week": "week",
    "severity": "sev",
    "service": "svc",
    "lead": "lead",
    "late": "late",
    "items_team": "items",
}


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


def _require_responder(request: HttpRequest) -> None:
    if not can_respond(request.user):
        raise PermissionDenied(errors.NOT_PERMITTED)


def _linker(filters: Filters):
    # The filters' part is the same in every link (two years draw some 700 of them): encoded once.
    base = reverse("insights:incidents") + "?" + filters.query()

    def link(**drill: str) -> str:
        pairs = [(DRILL_PARAMS[name], value) for name, value in drill.items() if value not in (None, "")]
        return base + "&" + urlencode(pairs) if pairs else base

    return link


def _comparisons(figures: dict) -> list[dict[str, Any]]:
    """The headline figures beside the previous period's, and whether the change is better."""
    now, before = figures["overall"], figures["previous"]

    def duration(value: int | None) -> str:
        return "—" if value is None else humanize_delta(timedelta(seconds=value))

    def share(value: float | None) -> str:
        return "—" if value is None else f"{value:.0%}"

    rows = [
        ("Incidents", now["incidents"], before["incidents"], str, None),
        (
            "Median time to acknowledge",
            now["time_to_acknowledge"]["median"],
            before["time_to_acknowledge"]["median"],
            duration,
            "lower",
        ),
        (
            "Median time to mitigate",
            now["time_to_mitigate"]["median"],
            before["time_to_mitigate"]["median"],
            duration,
            "lower",
        ),
        (
            "Median time to resolve",
            now["time_to_resolve"]["median"],
            before["time_to_resolve"]["median"],
            duration,
            "lower",
        ),
        (
            "Acknowledged within response time",
            now["acknowledged_within_response_time"],
            before["acknowledged_within_response_time"],
            share,
            "higher",
        ),
        ("Updates on time", now["updates_on_time"], before["updates_on_time"], share, "higher"),
        ("Postmortems on time", figures["postmortems_on_time"], before["postmortems_on_time"], share, "higher"),
    ]
    result = []
    for label, current, previous, show, better in rows:
        trend = ""
        if current is not None and previous is not None and current != previous and better:
            trend = "better" if (current < previous) == (better == "lower") else "worse"
        result.append({"label": label, "value": show(current), "previous": show(previous), "trend": trend})
    return result


def _page_context(request: HttpRequest, filters: Filters) -> dict[str, Any]:
    figures = insights(filters)
    policies = severity_policies()
    link = _linker(filters)
    shown = [(policy.key, policy.rank) for policy in policies if policy.key in figures["by_severity"]]
    table_set = tables(figures, policies, link)
    cadence_rows = [
        (
            row[0][0],
            figures["by_severity"].get(row[0][0], figures["overall"])["cadence"]["on_time_share"],
            "fill-ok",
            row[1],
        )
        for row in table_set["cadence"].rows
    ]
    return {
        "filters": filters,
        "figures": figures,
        "tables": table_set,
        "comparisons": _comparisons(figures),
        "charts": {
            "weekly": charts.stacked_weeks(figures["weekly"], shown, link),
            "trend": charts.weekly_lines(
                figures["weekly"],
                [
                    ("time_to_acknowledge", "line-ack"),
                    ("time_to_mitigate", "line-mitigate"),
                    ("time_to_resolve", "line-resolve"),
                ],
            ),
            "cadence": charts.share_bars(cadence_rows),
            "services": charts.count_bars(
                [
                    (entry["name"], entry["incidents"], link(service=entry["service"]))
                    for entry in figures["top_services"]
                ]
            ),
            "actions": charts.burn_down(figures["action_items"]["weekly"]),
        },
        "csv_query": filters.query(),
    }


def _form_context(request: HttpRequest, filters: Filters | None) -> dict[str, Any]:
    return {
        "presets": [*PRESETS.items(), (CUSTOM, "Custom dates")],
        "severities": severity_policies(),
        "services": list(Service.objects.order_by("name").values_list("slug", "name")),
        "teams": teams(),
        "asked": request.GET,
        "selected_range": (filters.preset if filters else request.GET.get("range", "")) or "30",
    }


@login_required
@require_GET
def insights_page(request: HtmxHttpRequest) -> HttpResponse:
    _require_responder(request)
    filters, problems = filters_parse(request.GET)
    context = _form_context(request, filters)
    context["problems"] = problems
    status = BAD_REQUEST if problems else 200
    if filters is not None:
        context.update(_page_context(request, filters))
    template_name = "insights/insights.html"
    if request.htmx:
        template_name += "#insights-results"
    return render(request, template_name, context, status=status)


def _drill_args(request: HttpRequest) -> dict[str, Any]:
    """The drill-down's own parameters; what it cannot read it ignores."""
    week = None
    raw_week = request.GET.get("week", "")
    if len(raw_week) == 10:
        try:
            week = date.fromisoformat(raw_week)
        except ValueError:
            week = None
        if week is not None and not 1970 <= week.year <= 9000:
            week = None  # a week's end past year 9999 cannot be computed
    return {
        "week": week,
        "severity": request.GET.get("sev", "")[:16],
        "service": request.GET.get("svc", "")[:100],
        "lead": whole_number(request.GET.get("lead")),
        "late": request.GET.get("late") == "1",
        "items_team": request.GET.get("items", "")[:100],
    }


@login_required
@require_GET
def insights_incidents(request: HtmxHttpRequest) -> HttpResponse:
    """The incidents behind a bar or a row: those the reader may see, and how many others."""
    _require_responder(request)
    filters, problems = filters_parse(request.GET)
    context = _form_context(request, filters)
    context["problems"] = problems
    if problems:
        return render(request, "insights/incidents.html", context, status=BAD_REQUEST)
    drill = _drill_args(request)
    shown, hidden = drill_down(filters, user=request.user, **drill)
    context.update(
        filters=filters,
        drill=drill,
        incidents=shown,
        hidden=hidden,
        limit=DRILL_LIMIT,
        back=reverse("insights:page") + "?" + filters.query(range=filters.preset),
    )
    return render(request, "insights/incidents.html", context)


@login_required
@require_GET
def insights_csv(request: HttpRequest, chart: str) -> HttpResponse:
    """One chart's table as CSV, the same rows the page shows under the chart."""
    _require_responder(request)
    filters, problems = filters_parse(request.GET)
    if problems:
        return HttpResponse(
            "\n".join(f"{name}: {' '.join(texts)}" for name, texts in problems.items()),
            status=BAD_REQUEST,
            content_type="text/plain; charset=utf-8",
        )
    table_set = tables(insights(filters), severity_policies(), _linker(filters))
    if chart not in table_set:
        raise Http404(errors.UNKNOWN_CHART)
    table = table_set[chart]
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    name = f"insights-{chart}-{filters.start.isoformat()}-{filters.end.isoformat()}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    writer = csv.writer(response)
    writer.writerow(table.headers)
    for cells, _link in table.rows:
        # A cell starting with = + - @ is a formula to a spreadsheet: a lead's or service's name
        # must stay text.
        writer.writerow(["'" + cell if cell[:1] in ("=", "+", "-", "@") else cell for cell in cells])
    return response
