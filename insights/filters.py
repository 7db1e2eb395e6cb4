"""The filters every insights answer shares (page, drill-down, CSV and API): a period of whole
days in the team's time zone, severities, services and a team. Read from a query string by one
function, so hostile input gets the same clear refusal everywhere and never a 500."""

from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from urllib.parse import urlencode

from django.http import QueryDict

from incidents.models import Service, SeverityPolicy, Team
from insights import errors
from postmortems.dates import team_today, team_zone

PRESETS = {"7": "Last 7 days", "30": "Last 30 days", "90": "Last 90 days", "quarter": "This quarter"}
DEFAULT_PRESET = "30"
CUSTOM = "custom"
MAX_DAYS = 731


@dataclass(frozen=True)
class Filters:
    start: date
    end: date  # inclusive
    severities: tuple[str, ...] = ()
    services: tuple[str, ...] = ()
    team: str = ""  # a team's slug: incidents of the services it owns
    preset: str = ""

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def start_at(self) -> datetime:
        return datetime.combine(self.start, time(), tzinfo=team_zone())

    @property
    def end_at(self) -> datetime:
        """The first moment after the period."""
        return datetime.combine(self.end + timedelta(days=1), time(), tzinfo=team_zone())

    def previous(self) -> "Filters":
        """The period of equal length just before this one, with the same other filters."""
        return replace(self, start=self.start - timedelta(days=self.days), end=self.start - timedelta(days=1))

    def params(self, **extra: str) -> list[tuple[str, str]]:
        pairs = [("from", self.start.isoformat()), ("to", self.end.isoformat())]
        pairs += [("severity", key) for key in self.severities]
        pairs += [("service", slug) for slug in self.services]
        if self.team:
            pairs.append(("team", self.team))
        pairs += [(name, value) for name, value in extra.items() if value not in (None, "")]
        return pairs

    def query(self, **extra: str) -> str:
        return urlencode(self.params(**extra))


def _date(value: str) -> date | None:
    try:
        return date.fromisoformat(value) if len(value) == 10 else None
    except ValueError:
        return None


def preset_period(preset: str, today: date) -> tuple[date, date]:
    if preset == "quarter":
        first_month = 3 * ((today.month - 1) // 3) + 1
        return date(today.year, first_month, 1), today
    return today - timedelta(days=int(preset) - 1), today


def filters_parse(query: QueryDict, *, today: date | None = None) -> tuple[Filters | None, dict[str, list[str]]]:
    """The filters asked for, or None and every problem by parameter name. No dates and no
    preset: the last 30 days. Dates win over a preset."""
    today = today or team_today()
    problems: dict[str, list[str]] = {}
    preset = query.get("range", "")
    raw_from, raw_to = query.get("from", "").strip(), query.get("to", "").strip()
    # The page's form sends a preset and the custom dates together: a preset wins unless it is
    # "custom". The API sends dates alone.
    if preset == CUSTOM or (not preset and (raw_from or raw_to)):
        start, end = _date(raw_from) if raw_from else None, _date(raw_to) if raw_to else today
        if raw_from and start is None:
            problems["from"] = [errors.BAD_DATE]
        if end is None:
            problems["to"] = [errors.BAD_DATE]
        if start is None and not raw_from and end is not None:
            start = end - timedelta(days=int(DEFAULT_PRESET) - 1)
        preset = CUSTOM
    else:
        if preset and preset not in PRESETS:
            problems["range"] = [errors.UNKNOWN_PRESET.format(values=", ".join([*PRESETS, CUSTOM]))]
        preset = preset if preset in PRESETS else DEFAULT_PRESET
        start, end = preset_period(preset, today)
    if not problems:
        if start > end:
            problems["from"] = [errors.RANGE_REVERSED]
        elif (end - start).days + 1 > MAX_DAYS:
            problems["from"] = [errors.RANGE_TOO_LONG.format(days=MAX_DAYS)]
        elif start.year < 1970 or end.year > 9000:
            problems["from"] = [errors.BAD_DATE]
    severities = tuple(dict.fromkeys(value for value in query.getlist("severity") if value))
    known = set(SeverityPolicy.objects.values_list("key", flat=True)) if severities else set()
    if set(severities) - known:
        values = ", ".join(SeverityPolicy.objects.order_by("rank").values_list("key", flat=True))
        problems["severity"] = [errors.UNKNOWN_SEVERITY.format(values=values)]
    services = tuple(dict.fromkeys(value for value in query.getlist("service") if value))
    if services and Service.objects.filter(slug__in=services).count() != len(services):
        problems["service"] = [errors.UNKNOWN_SERVICE]
    team = query.get("team", "").strip()
    if team and not team_exists(team):
        problems["team"] = [errors.UNKNOWN_TEAM]
    if problems:
        return None, problems
    return Filters(start=start, end=end, severities=severities, services=services, team=team, preset=preset), {}


def team_exists(team: str) -> bool:
    return Team.objects.filter(slug=team).exists()


def teams() -> list[tuple[str, str]]:
    """(slug, name) of every team, for the filter."""
    return list(Team.objects.order_by("name").values_list("slug", "name"))
