"""Charts drawn on the server as SVG geometry for the templates: no chart library, nothing to
run in the browser, and the same picture in print. Colours come from CSS classes (severity
colours are app.css's), so light and dark schemes need nothing here. Every bar carries the link
to the incidents behind it and its numbers in a <title>."""

from dataclasses import dataclass, field
from datetime import timedelta

from django.utils.html import format_html
from django.utils.safestring import SafeString

from core.formatting import humanize_delta

WIDTH = 640
HEIGHT = 220
LEFT = 40  # room for the y axis labels
BOTTOM = 28  # room for the week labels
TOP = 10


@dataclass
class Bar:
    x: float
    y: float
    width: float
    height: float
    css: str
    title: str
    href: str = ""

    @property
    def svg(self) -> SafeString:
        """The bar's markup, its link around it if it has one. Built here rather than in the
        template: two years hold some 900 bars, and looking up and localizing each bar's eight
        values in the template cost about half of the page's rendering."""
        rect = format_html(
            '<rect class="bar {}" x="{}" y="{}" width="{}" height="{}"><title>{}</title></rect>',
            self.css,
            self.x,
            self.y,
            self.width,
            self.height,
            self.title,
        )
        return format_html('<a href="{}" class="bar-link">{}</a>', self.href, rect) if self.href else rect


@dataclass
class Chart:
    width: int = WIDTH
    height: int = HEIGHT
    bars: list[Bar] = field(default_factory=list)
    x_labels: list[tuple[float, str]] = field(default_factory=list)
    y_ticks: list[tuple[float, str]] = field(default_factory=list)
    lines: list[tuple[str, str]] = field(default_factory=list)  # (css class, SVG points)
    label: str = ""

    @property
    def plot_bottom(self) -> int:
        return self.height - BOTTOM

    @property
    def plot_right(self) -> int:
        return self.width - 4


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1
    for step in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10_000):
        if value <= step * 4:
            return step * 4
    return value


def _ticks(top: float, plot_height: float, label) -> list[tuple[float, str]]:
    return [(TOP + plot_height - plot_height * i / 4, label(top * i / 4)) for i in range(5)]


def _week_label(week: str) -> str:
    return f"{int(week[8:10])}/{int(week[5:7])}"


def _label_every(count: int) -> int:
    return max(1, -(-count // 10))


def stacked_weeks(weekly: list[dict], severities: list[tuple[str, int]], link) -> Chart:
    """Incidents per week, one stacked bar per week, most severe at the bottom."""
    chart = Chart(label="Incidents per week by severity")
    plot_height = chart.plot_bottom - TOP
    top = _nice_max(max((week["incidents"] for week in weekly), default=0))
    slot = (chart.plot_right - LEFT) / max(1, len(weekly))
    width = max(2.0, slot * 0.7)
    every = _label_every(len(weekly))
    for index, week in enumerate(weekly):
        x = LEFT + index * slot + (slot - width) / 2
        y = TOP + plot_height
        for key, rank in severities:
            count = week["by_severity"].get(key, 0)
            if not count:
                continue
            height = plot_height * count / top
            y -= height
            chart.bars.append(
                Bar(
                    x=round(x, 1),
                    y=round(y, 1),
                    width=round(width, 1),
                    height=round(height, 1),
                    css=f"fill-sev-{rank}",
                    title=f"Week of {week['week']}: {count} {key}",
                    href=link(week=week["week"], severity=key),
                )
            )
        if index % every == 0:
            chart.x_labels.append((round(x + width / 2, 1), _week_label(week["week"])))
    chart.y_ticks = _ticks(top, plot_height, lambda value: f"{value:g}")
    return chart


def weekly_lines(weekly: list[dict], series: list[tuple[str, str]]) -> Chart:
    """Weekly medians as lines (a gap where a week has no data)."""
    chart = Chart(label="Median times per week")
    plot_height = chart.plot_bottom - TOP
    values = [week[name] for week in weekly for name, _ in series if week[name] is not None]
    top_seconds = max(values, default=0)
    hours = top_seconds / 3600
    top = _nice_max(hours) if hours >= 1 else (_nice_max(top_seconds / 60) * 60 / 3600 if top_seconds else 1)
    slot = (chart.plot_right - LEFT) / max(1, len(weekly))
    every = _label_every(len(weekly))
    for name, css in series:
        points = []
        for index, week in enumerate(weekly):
            if week[name] is None:
                continue
            x = LEFT + index * slot + slot / 2
            y = TOP + plot_height - plot_height * (week[name] / 3600) / top
            points.append(f"{x:.1f},{y:.1f}")
            chart.bars.append(
                Bar(
                    x=round(x - 3, 1),
                    y=round(y - 3, 1),
                    width=6,
                    height=6,
                    css=css,
                    title=f"Week of {week['week']}: {humanize_delta(timedelta(seconds=week[name]))}",
                )
            )
        chart.lines.append((css, " ".join(points)))
    for index, week in enumerate(weekly):
        if index % every == 0:
            chart.x_labels.append((round(LEFT + index * slot + slot / 2, 1), _week_label(week["week"])))
    chart.y_ticks = _ticks(top, plot_height, lambda value: humanize_delta(timedelta(hours=value)) if value else "0")
    return chart


def share_bars(rows: list[tuple[str, float | None, str, str]]) -> Chart:
    """Horizontal bars of a share (0 to 1) per row: (label, share, css, href)."""
    row_height = 28
    chart = Chart(height=TOP + row_height * max(1, len(rows)) + BOTTOM, label="Share kept")
    left = 120
    span = chart.plot_right - left - 14  # room for the last tick label
    for index, (label, value, css, href) in enumerate(rows):
        y = TOP + index * row_height + 4
        chart.x_labels.append((y + row_height / 2, label))
        if value is None:
            continue
        chart.bars.append(
            Bar(
                x=left,
                y=y,
                width=round(max(1.0, span * value), 1),
                height=row_height - 10,
                css=css,
                title=f"{label}: {value:.0%}",
                href=href,
            )
        )
    chart.y_ticks = [(round(left + span * i / 4, 1), f"{25 * i}%") for i in range(5)]
    return chart


def count_bars(rows: list[tuple[str, int, str]], *, css: str = "fill-accent") -> Chart:
    """Horizontal bars of a count per row: (label, count, href)."""
    row_height = 28
    chart = Chart(height=TOP + row_height * max(1, len(rows)) + BOTTOM, label="Count")
    left = 160
    span = chart.plot_right - left - 14  # room for the last tick label
    top = _nice_max(max((count for _, count, _ in rows), default=0))
    for index, (label, count, href) in enumerate(rows):
        y = TOP + index * row_height + 4
        chart.x_labels.append((y + row_height / 2, label[:24]))
        chart.bars.append(
            Bar(
                x=left,
                y=y,
                width=round(max(1.0, span * count / top), 1),
                height=row_height - 10,
                css=css,
                title=f"{label}: {count}",
                href=href,
            )
        )
    chart.y_ticks = [(round(left + span * i / 4, 1), f"{top * i / 4:g}") for i in range(5)]
    return chart


def burn_down(weekly: list[dict]) -> Chart:
    """Action items open at the end of each week, the overdue part darker."""
    chart = Chart(label="Open action items at the end of each week")
    plot_height = chart.plot_bottom - TOP
    top = _nice_max(max((week["open"] for week in weekly), default=0))
    slot = (chart.plot_right - LEFT) / max(1, len(weekly))
    width = max(2.0, slot * 0.7)
    every = _label_every(len(weekly))
    for index, week in enumerate(weekly):
        x = LEFT + index * slot + (slot - width) / 2
        for count, css, what, base in (
            (week["open"] - week["overdue"], "fill-accent", "open, not overdue", week["overdue"]),
            (week["overdue"], "fill-danger", "overdue", 0),
        ):
            if not count:
                continue
            height = plot_height * count / top
            y = TOP + plot_height - plot_height * base / top - height
            chart.bars.append(
                Bar(
                    x=round(x, 1),
                    y=round(y, 1),
                    width=round(width, 1),
                    height=round(height, 1),
                    css=css,
                    title=f"Week of {week['week']}: {count} {what}",
                )
            )
        if index % every == 0:
            chart.x_labels.append((round(x + width / 2, 1), _week_label(week["week"])))
    chart.y_ticks = _ticks(top, plot_height, lambda value: f"{value:g}")
    return chart
