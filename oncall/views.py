from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods
from django_htmx.middleware import HtmxDetails

from core.query import whole_number
from incidents.models import Service
from oncall import ics, selectors, services
from oncall.models import CalendarFeed, HandoffNote, Schedule

DEFAULT_WEEKS = 2
MAX_WEEKS = 8
HANDOFF_SAVED = "Hand-off note saved: the next person sees it when they take over."
FEED_REVOKED = "Your calendar address is revoked: calendars subscribed to it get nothing more."


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


@dataclass
class Week:
    starts_at: datetime
    ends_at: datetime
    shifts: list = field(default_factory=list)


def _weeks(found: list[selectors.Shift], start: datetime, count: int) -> list[Week]:
    """The span cut into the viewer's calendar weeks (Monday to Monday in their zone); each shift
    shows once, in the week it starts (the first week for those already running)."""
    local = timezone.localtime(start)
    monday = (local - timedelta(days=local.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)
    weeks = []
    for n in range(count + 1):
        # Wall-clock Mondays: re-localize each, so a DST change inside a week does not shift midnight.
        begins = timezone.make_aware(monday.replace(tzinfo=None) + timedelta(days=7 * n))
        ends = timezone.make_aware(monday.replace(tzinfo=None) + timedelta(days=7 * (n + 1)))
        week = Week(begins, ends, [s for s in found if begins <= max(s.starts_at, start) < ends])
        if week.shifts or n < count:
            weeks.append(week)
    return weeks


@login_required
@require_GET
def index(request: HtmxHttpRequest) -> HttpResponse:
    """Every schedule with who is on call now and until when, and the services each team owns."""
    now = timezone.now()
    schedules = list(selectors.schedules_for_span(start=now, end=now + selectors.INSTANT))
    services = list(Service.objects.select_related("owner_team").order_by("name"))
    by_team: dict[int, list[Service]] = {}
    for service in services:
        by_team.setdefault(service.owner_team_id, []).append(service)
    rows = []
    for schedule in schedules:
        current = [s for s in selectors.shifts(schedule=schedule, start=now, end=now + selectors.INSTANT)]
        rows.append({"schedule": schedule, "shifts": current, "services": by_team.get(schedule.team_id, [])})
    covered = {schedule.team_id for schedule in schedules}
    uncovered = [service for service in services if service.owner_team_id not in covered]
    return render(request, "oncall/index.html", {"rows": rows, "uncovered": uncovered})


@require_GET
def you(request: HtmxHttpRequest) -> HttpResponse:
    """The header's line for the viewer, fetched by htmx so that cached pages stay the same for
    everyone: one indexed query for whoever is in no schedule. Signed out (a session that ended
    while the page polled): 204, which htmx leaves unswapped, rather than the login page."""
    if not request.user.is_authenticated:
        return HttpResponse(status=204)
    shift = selectors.current_shift_for_user(user=request.user, at=timezone.now())
    # Without the request: the context processors' permission checks would cost a query each poll.
    return HttpResponse(render_to_string("oncall/_you.html", {"shift": shift}))


def _schedule(key: str) -> Schedule:
    number = whole_number(key)
    found = Schedule.objects.select_related("team").filter(slug=key).first()
    if found is None and number is not None:
        found = Schedule.objects.select_related("team").filter(pk=number).first()
    if found is None:
        raise Http404("No such schedule.")
    return found


@login_required
@require_GET
def schedule_detail(request: HtmxHttpRequest, key: str) -> HttpResponse:
    """The next weeks of a schedule, in the viewer's zone, with the spans nobody is on call."""
    schedule = _schedule(key)
    weeks = whole_number(request.GET.get("weeks"))
    weeks = DEFAULT_WEEKS if weeks is None or not 1 <= weeks <= MAX_WEEKS else weeks
    now = timezone.now()
    end = now + timedelta(weeks=weeks)
    schedule = selectors.schedules_for_span(start=now, end=end).get(pk=schedule.pk)
    found = selectors.shifts(schedule=schedule, start=now, end=end)
    template_name = "oncall/schedule_detail.html"
    if request.htmx:
        template_name += "#calendar"
    context = {
        "schedule": schedule,
        "now_on": [s for s in found if s.covers(now)],
        "weeks": _weeks(found, now, weeks),
        "gaps": selectors.gaps(schedule=schedule, start=now, end=end, found=found),
        "shown_weeks": weeks,
        "more_weeks": min(weeks * 2, MAX_WEEKS) if weeks < MAX_WEEKS else None,
        "services": Service.objects.filter(owner_team_id=schedule.team_id).order_by("name"),
        "rotations": schedule.rotations.all(),
        "viewer_zone": timezone.get_current_timezone_name(),
    }
    return render(request, template_name, context)


FEED_PAST = timedelta(days=30)
FEED_AHEAD = timedelta(days=120)


@login_required
@require_http_methods(["GET", "POST"])
def calendar_feed(request: HtmxHttpRequest) -> HttpResponse:
    """The viewer's secret iCalendar address: made (or made anew) and shown once, or revoked."""
    new_url = None
    if request.method == "POST":
        if request.POST.get("action") == "revoke":
            services.calendar_feed_revoke(user=request.user)
            messages.success(request, FEED_REVOKED)
            return redirect("oncall:calendar_feed")
        token = services.calendar_feed_create(user=request.user)
        new_url = settings.SITE_URL + reverse("oncall:calendar_ics", args=[token])
    feed = CalendarFeed.objects.filter(user=request.user).first()
    return render(request, "oncall/calendar_feed.html", {"feed": feed, "new_url": new_url})


@require_GET
def calendar_ics(request: HttpRequest, token: str) -> HttpResponse:
    """The shifts of the feed's owner, 30 days back and 120 ahead. No login: the address is the
    secret. An unknown or revoked address is a plain 404."""
    feed = CalendarFeed.objects.select_related("user").filter(digest=CalendarFeed.digest_of(token[:200])).first()
    if feed is None or not feed.user.is_active:
        raise Http404("No such calendar.")
    now = timezone.now()
    services.calendar_feed_fetched(feed=feed, at=now)
    events = [
        ics.Event(
            uid=f"{shift.uid}@incident-desk",
            starts_at=shift.starts_at,
            ends_at=shift.ends_at,
            summary=f"On call: {shift.schedule.name}",
            description=(
                f"{shift.schedule.team.name} · "
                + (f"override: {shift.override.note or 'covering'}" if shift.override else shift.rotation.name)
            ),
            url=settings.SITE_URL + shift.schedule.get_absolute_url(),
        )
        for shift in selectors.user_shifts(user=feed.user, start=now - FEED_PAST, end=now + FEED_AHEAD)
    ]
    name = f"On call · {feed.user.get_full_name() or feed.user.get_username()}"
    response = HttpResponse(
        ics.calendar(name=name, events=events, now=now), content_type="text/calendar; charset=utf-8"
    )
    response["Content-Disposition"] = 'inline; filename="oncall.ics"'
    response["Cache-Control"] = "private, max-age=300"
    response["X-Robots-Tag"] = "noindex"
    return response


@login_required
@require_http_methods(["GET", "POST"])
def handoff(request: HtmxHttpRequest) -> HttpResponse:
    """The hand-off: for whoever came on call in the last day, what the outgoing person left them
    (on the dashboard too, fetched by htmx); for whoever is on call, a note for the next person."""
    now = timezone.now()
    if request.method == "POST":
        schedule = _schedule(request.POST.get("schedule", ""))
        try:
            services.handoff_note_write(
                user=request.user, schedule=schedule, text=request.POST.get("text", ""), now=now
            )
        except ValidationError as error:
            for message in error.messages:
                messages.error(request, message)
        else:
            messages.success(request, HANDOFF_SAVED)
        return redirect("oncall:handoff")
    mine = selectors.current_shift_for_user(user=request.user, at=now)
    # Just off call: the shift that ended in the last day can still get its note (the hand-off
    # message links here).
    ended = None if mine else selectors.handoff_just_ended(user=request.user, now=now)
    note_for = (mine.schedule, mine.ends_at) if mine else (ended.schedule, ended.shift_ends_at) if ended else None
    context = {
        "handoff": selectors.handoff_for_user(user=request.user, at=now),
        "mine": mine,
        "ended": ended,
        "my_note": (
            HandoffNote.objects.filter(schedule=note_for[0], author=request.user, shift_ends_at=note_for[1]).first()
            if note_for
            else None
        ),
    }
    template_name = "oncall/handoff.html"
    if request.htmx:
        template_name += "#handoff-panel"
    return render(request, template_name, context)
