"""The on-call part of the JSON API: teams, schedules (rotations and overrides nested) and who is
on call for a service at a moment. Writes go through the services; reading needs any token,
writing the admin's permission to add teams or schedules."""

from datetime import UTC, date, datetime, time
from typing import Annotated, Any

from django.contrib.auth.models import User
from django.core.exceptions import NON_FIELD_ERRORS
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Router, Schema, Status
from ninja.errors import HttpError
from pydantic import AfterValidator

from core import errors as api_errors
from core.api import (
    BearerToken,
    Body,
    Error,
    InputRefused,
    InvalidInput,
    Moment,
    parse_moment,
    refuse,
    text,
    with_message,
)
from incidents import services as incident_services
from incidents.models import Service, Team
from oncall import errors, selectors, services
from oncall.models import MAX_SHIFT_LENGTH, UNKNOWN_TIME_ZONE, Schedule, ShiftUnit
from oncall.models import validate_time_zone as _validate_time_zone

teams_token = BearerToken(
    may_write=lambda user: user.has_perm("incidents.add_team"), refusal=errors.NOT_PERMITTED_TEAMS
)
schedules_token = BearerToken(
    may_write=lambda user: user.has_perm("oncall.add_schedule"), refusal=errors.NOT_PERMITTED_SCHEDULES
)
router = Router(tags=["On call"])

ERRORS = {401: Error, 403: Error, 405: Error}


def _time_zone(value: str) -> str:
    try:
        _validate_time_zone(value)
    except Exception:
        raise refuse(UNKNOWN_TIME_ZONE) from None
    return value


def _day(value: Any) -> date:
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        raise refuse(errors.BAD_DATE) from None


def _time_of_day(value: Any) -> time:
    try:
        parsed = time.fromisoformat(value)
    except (TypeError, ValueError):
        raise refuse(errors.BAD_TIME_OF_DAY) from None
    if parsed.tzinfo is not None:
        raise refuse(errors.BAD_TIME_OF_DAY)
    return parsed


def _unit(value: Any) -> str:
    if value not in ShiftUnit.values:
        raise refuse(errors.BAD_SHIFT_UNIT)
    return value


Day = Annotated[str, Field(json_schema_extra={"format": "date"}, examples=["2026-03-02"]), AfterValidator(_day)]
TimeOfDay = Annotated[str, Field(examples=["09:00"]), AfterValidator(_time_of_day)]


# --- Answers ------------------------------------------------------------------------------------


class Person(Schema):
    username: str
    name: str


class TeamOut(Schema):
    slug: str
    name: str
    description: str
    members: list[str] = Field(description="Usernames.")
    services: list[str] = Field(description="Slugs of the services the team owns.")


class RotationOut(Schema):
    name: str
    position: int = Field(description="Layer order: 0 is the primary. All layers are on call together.")
    shift_length: int
    shift_unit: str = Field(examples=["days"])
    handoff_time: str = Field(examples=["09:00"], description="Wall-clock time in the schedule's time zone.")
    start_date: date
    members: list[str] = Field(description="Usernames in turn order.")


class OverrideOut(Schema):
    user: str
    starts_at: datetime
    ends_at: datetime
    note: str
    rotation: str | None = Field(description="The rotation whose person it replaces; null: everyone.")


class ScheduleOut(Schema):
    slug: str
    name: str
    team: str = Field(description="The team's slug.")
    time_zone: str = Field(examples=["Europe/London"])
    rotations: list[RotationOut]
    overrides: list[OverrideOut] = Field(description="Those not yet over.")
    on_call_now: list[Person]


class OnCallOut(Schema):
    service: str | None = Field(description="Null when the question named no service.")
    team: str | None
    at: datetime
    on_call: list[Person] = Field(description="Empty: nobody is on call (or the service has no team).")


def _person(user: User) -> dict[str, str]:
    return {"username": user.get_username(), "name": user.get_full_name() or user.get_username()}


def _team_json(team: Team) -> dict[str, Any]:
    return {
        "slug": team.slug,
        "name": team.name,
        "description": team.description,
        "members": [user.get_username() for user in team.members.all()],
        "services": [service.slug for service in team.services.all()],
    }


def _schedule_json(schedule: Schedule, now: datetime) -> dict[str, Any]:
    rotations = {rotation.pk: rotation for rotation in schedule.rotations.all()}
    return {
        "slug": schedule.slug,
        "name": schedule.name,
        "team": schedule.team.slug,
        "time_zone": schedule.time_zone,
        "rotations": [
            {
                "name": rotation.name,
                "position": rotation.position,
                "shift_length": rotation.shift_length,
                "shift_unit": rotation.shift_unit,
                "handoff_time": rotation.handoff_time.strftime("%H:%M"),
                "start_date": rotation.start_date,
                "members": [membership.user.get_username() for membership in rotation.memberships.all()],
            }
            for rotation in rotations.values()
        ],
        "overrides": [
            {
                "user": override.user.get_username(),
                "starts_at": override.starts_at,
                "ends_at": override.ends_at,
                "note": override.note,
                "rotation": rotations[override.rotation_id].name if override.rotation_id in rotations else None,
            }
            for override in schedule.span_overrides
        ],
        "on_call_now": [_person(user) for user in selectors.on_call_at(schedule=schedule, at=now)],
    }


# --- Bodies -------------------------------------------------------------------------------------


class NewTeam(Body):
    name: text(100)
    slug: text(100) = ""
    description: text(2000) = ""
    members: list[text(150)] = Field(default_factory=list, description="Usernames.")


class NewRotation(Body):
    name: text(100)
    start_date: Day
    shift_length: Annotated[
        int,
        Field(ge=1, le=MAX_SHIFT_LENGTH),
        with_message(api_errors.NOT_AN_INTEGER.format(low=1, high=MAX_SHIFT_LENGTH)),
    ] = 7
    shift_unit: Annotated[
        str, Field(examples=["days"], json_schema_extra={"enum": ShiftUnit.values}), AfterValidator(_unit)
    ] = "days"
    handoff_time: TimeOfDay = "09:00"
    members: list[text(150)] = Field(default_factory=list, description="Usernames in turn order.")


class NewOverride(Body):
    user: text(150)
    starts_at: Moment
    ends_at: Moment
    note: text(200) = ""
    rotation: text(100) | None = Field(default=None, description="A rotation's name in this schedule; null: everyone.")


class NewSchedule(Body):
    team: text(100) = Field(description="The team's slug.")
    name: text(100)
    slug: text(100) = ""
    time_zone: Annotated[str, Field(examples=["Europe/London"]), AfterValidator(_time_zone)]
    rotations: list[NewRotation] = Field(default_factory=list)
    overrides: list[NewOverride] = Field(default_factory=list)


def _users(names: list[str], field: str) -> list[User]:
    found = {user.get_username(): user for user in User.objects.filter(username__in=names)}
    unknown = [name for name in names if name not in found]
    if unknown:
        raise InputRefused({field: [errors.UNKNOWN_USERS.format(names=", ".join(sorted(set(unknown))))]})
    return [found[name] for name in names]


# --- Endpoints ----------------------------------------------------------------------------------


def _teams():
    return Team.objects.prefetch_related("members", "services").order_by("name")


@router.get("teams/", response={200: list[TeamOut], **ERRORS}, operation_id="listTeams", auth=teams_token)
def list_teams(request: HttpRequest) -> list[dict[str, Any]]:
    """Every team with its members and the services it owns."""
    return [_team_json(team) for team in _teams()]


@router.post(
    "teams/", response={201: TeamOut, 400: InvalidInput, **ERRORS}, operation_id="createTeam", auth=teams_token
)
def create_team(request: HttpRequest, payload: NewTeam) -> Any:
    """Make a team (needs the permission to add teams)."""
    members = _users(payload.members, "members")
    if Team.objects.filter(name__iexact=payload.name).exists() or (
        payload.slug and Team.objects.filter(slug=payload.slug).exists()
    ):
        raise InputRefused({NON_FIELD_ERRORS: [errors.TEAM_EXISTS]})
    team = incident_services.team_create(
        name=payload.name, slug=payload.slug, description=payload.description, members=members
    )
    return Status(201, _team_json(_teams().get(pk=team.pk)))


def _schedules(now: datetime):
    return selectors.schedules_for_span(start=now, end=datetime.max.replace(tzinfo=UTC)).order_by("team__name", "name")


@router.get(
    "schedules/", response={200: list[ScheduleOut], **ERRORS}, operation_id="listSchedules", auth=schedules_token
)
def list_schedules(request: HttpRequest) -> list[dict[str, Any]]:
    """Every schedule with its rotations, the overrides not yet over, and who is on call now."""
    now = timezone.now()
    return [_schedule_json(schedule, now) for schedule in _schedules(now)]


@router.post(
    "schedules/",
    response={201: ScheduleOut, 400: InvalidInput, **ERRORS},
    operation_id="createSchedule",
    auth=schedules_token,
)
def create_schedule(request: HttpRequest, payload: NewSchedule) -> Any:
    """Make a schedule with its rotations (in layer order) and overrides (needs the permission to
    add schedules). Hand-offs are wall-clock times in `time_zone`."""
    team = Team.objects.filter(slug=payload.team).first()
    if team is None:
        raise InputRefused({"team": [errors.UNKNOWN_TEAM]})
    if payload.slug and Schedule.objects.filter(slug=payload.slug).exists():
        raise InputRefused({"slug": [errors.SCHEDULE_EXISTS]})
    rotations = [
        {
            "name": rotation.name,
            "start_date": rotation.start_date,
            "shift_length": rotation.shift_length,
            "shift_unit": rotation.shift_unit,
            "handoff_time": rotation.handoff_time,
            "members": _users(rotation.members, f"rotations.{index}.members"),
        }
        for index, rotation in enumerate(payload.rotations)
    ]
    names = {rotation.name for rotation in payload.rotations}
    overrides = []
    for index, override in enumerate(payload.overrides):
        if override.rotation is not None and override.rotation not in names:
            raise InputRefused({f"overrides.{index}.rotation": [errors.UNKNOWN_ROTATION]})
        overrides.append((override, _users([override.user], f"overrides.{index}.user")[0]))
    # One transaction: a refused override leaves no half-made schedule behind.
    with transaction.atomic():
        schedule = services.schedule_create(
            team=team, name=payload.name, slug=payload.slug, time_zone=payload.time_zone, rotations=rotations
        )
        by_name = {rotation.name: rotation for rotation in schedule.rotations.all()}
        for override, user in overrides:
            services.override_add(
                schedule=schedule,
                user=user,
                starts_at=override.starts_at,
                ends_at=override.ends_at,
                note=override.note,
                rotation=by_name.get(override.rotation) if override.rotation else None,
            )
    now = timezone.now()
    return Status(201, _schedule_json(_schedules(now).get(pk=schedule.pk), now))


@router.get(
    "oncall/",
    response={200: OnCallOut, 400: InvalidInput, 404: Error, **ERRORS},
    operation_id="whoIsOnCall",
    auth=schedules_token,
)
def who_is_on_call(request: HttpRequest, service: str | None = None, at: str | None = None) -> Any:
    """The people on call for the service (its owner team's schedules) at `at` (ISO 8601 with an
    offset; default now), primary layer first. Without `service`: everyone on call for any
    schedule."""
    moment = timezone.now()
    if at is not None:
        try:
            moment = parse_moment(at)
        except (ValueError, TypeError):
            raise InputRefused({"at": [errors.BAD_MOMENT]}) from None
    if service is None:
        people = selectors.on_call_anywhere(at=moment)
        return {"service": None, "team": None, "at": moment, "on_call": [_person(user) for user in people]}
    found = Service.objects.select_related("owner_team").filter(slug=service[:100]).first()
    if found is None:
        raise HttpError(404, errors.UNKNOWN_SERVICE)
    people = selectors.on_call_for_service(service=found, at=moment)
    return {
        "service": found.slug,
        "team": found.owner_team.slug if found.owner_team else None,
        "at": moment,
        "on_call": [_person(user) for user in people],
    }
