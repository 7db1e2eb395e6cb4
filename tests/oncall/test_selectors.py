"""Who is on call, with controlled times: hand-offs at wall-clock time across daylight-saving
changes in Europe/London and America/New_York, exact hours, overrides, layers and gaps."""

from datetime import UTC, date, datetime, time, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError

from incidents.models import Team
from oncall import selectors
from oncall.models import UNKNOWN_TIME_ZONE, Override, Schedule
from tests.factories import ServiceFactory, UserFactory, on_call_schedule

pytestmark = pytest.mark.django_db


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.fixture
def alice():
    return UserFactory(username="alice")


@pytest.fixture
def bob():
    return UserFactory(username="bob")


@pytest.fixture
def carol():
    return UserFactory(username="carol")


def names(users) -> list[str]:
    return [user.username for user in users]


def daily(members, *, start: date, at: time = time(9), length: int = 1, unit: str = "days") -> dict:
    return {"members": members, "start_date": start, "handoff_time": at, "shift_length": length, "shift_unit": unit}


def test_london_spring_forward_day_shift_lasts_23_hours_and_hands_off_at_nine_local(alice, bob):
    # 29 March 2026: clocks go from 01:00 GMT to 02:00 BST.
    schedule = on_call_schedule(time_zone="Europe/London", layers=[daily([alice, bob], start=date(2026, 3, 27))])
    found = selectors.shifts(schedule=schedule, start=utc(2026, 3, 28, 12), end=utc(2026, 3, 29, 12))
    assert [(s.user.username, s.starts_at, s.ends_at) for s in found] == [
        ("bob", utc(2026, 3, 28, 9), utc(2026, 3, 29, 8)),  # 09:00 GMT → 09:00 BST
        ("alice", utc(2026, 3, 29, 8), utc(2026, 3, 30, 8)),
    ]
    assert found[0].duration == timedelta(hours=23)
    assert names(selectors.on_call_at(schedule=schedule, at=utc(2026, 3, 29, 7, 59))) == ["bob"]
    assert names(selectors.on_call_at(schedule=schedule, at=utc(2026, 3, 29, 8))) == ["alice"]


def test_london_autumn_day_shift_lasts_25_hours(alice, bob):
    # 25 October 2026: clocks go from 02:00 BST back to 01:00 GMT.
    schedule = on_call_schedule(time_zone="Europe/London", layers=[daily([alice, bob], start=date(2026, 10, 24))])
    found = selectors.shifts(schedule=schedule, start=utc(2026, 10, 24, 12), end=utc(2026, 10, 25, 12))
    assert [(s.user.username, s.starts_at, s.ends_at) for s in found] == [
        ("alice", utc(2026, 10, 24, 8), utc(2026, 10, 25, 9)),
        ("bob", utc(2026, 10, 25, 9), utc(2026, 10, 26, 9)),
    ]
    assert found[0].duration == timedelta(hours=25)
    # 08:30 UTC on the 25th is 08:30 GMT: Alice still has half an hour to go.
    assert names(selectors.on_call_at(schedule=schedule, at=utc(2026, 10, 25, 8, 30))) == ["alice"]


def test_new_york_weekly_rotation_keeps_monday_nine_local_across_both_changes(alice, bob):
    # 8 March 2026 EST → EDT, 1 November 2026 EDT → EST; weekly shifts from Monday 2 March.
    schedule = on_call_schedule(
        time_zone="America/New_York", layers=[daily([alice, bob], start=date(2026, 3, 2), length=7)]
    )
    march = selectors.shifts(schedule=schedule, start=utc(2026, 3, 3), end=utc(2026, 3, 10))
    assert [(s.user.username, s.starts_at, s.ends_at) for s in march] == [
        ("alice", utc(2026, 3, 2, 14), utc(2026, 3, 9, 13)),  # 09:00 EST → 09:00 EDT: 167 hours
        ("bob", utc(2026, 3, 9, 13), utc(2026, 3, 16, 13)),
    ]
    november = selectors.shifts(schedule=schedule, start=utc(2026, 10, 31), end=utc(2026, 11, 3))
    assert [(s.starts_at, s.ends_at, s.duration) for s in november] == [
        (utc(2026, 10, 26, 13), utc(2026, 11, 2, 14), timedelta(hours=169)),
        (utc(2026, 11, 2, 14), utc(2026, 11, 9, 14), timedelta(days=7)),
    ]
    for shift in [*march, *november]:
        assert shift.starts_at.astimezone(schedule.zone).time() == time(9)


def test_hours_shifts_are_exact_elapsed_hours_across_a_change(alice, bob):
    # 12-hour shifts from 08:00 EST on 7 March: after the change they hand off at 09:00 and 21:00 EDT.
    schedule = on_call_schedule(
        time_zone="America/New_York",
        layers=[daily([alice, bob], start=date(2026, 3, 7), at=time(8), length=12, unit="hours")],
    )
    found = selectors.shifts(schedule=schedule, start=utc(2026, 3, 7, 13), end=utc(2026, 3, 9, 1))
    assert [s.starts_at for s in found] == [utc(2026, 3, 7, 13), utc(2026, 3, 8, 1), utc(2026, 3, 8, 13)]
    assert {s.duration for s in found} == {timedelta(hours=12)}
    assert found[2].starts_at.astimezone(schedule.zone).hour == 9
    assert names(selectors.on_call_at(schedule=schedule, at=utc(2026, 3, 8, 12, 59))) == ["bob"]


def test_a_hand_off_time_the_clocks_skip_or_repeat_still_hands_off_once(alice, bob):
    # 02:30 does not exist in New York on 8 March; 01:30 happens twice on 1 November.
    spring = on_call_schedule(
        name="Spring",
        time_zone="America/New_York",
        layers=[daily([alice, bob], start=date(2026, 3, 7), at=time(2, 30))],
    )
    found = selectors.shifts(schedule=spring, start=utc(2026, 3, 7, 12), end=utc(2026, 3, 9, 12))
    assert [s.starts_at for s in found] == [utc(2026, 3, 7, 7, 30), utc(2026, 3, 8, 7, 30), utc(2026, 3, 9, 6, 30)]
    autumn = on_call_schedule(
        name="Autumn",
        time_zone="America/New_York",
        layers=[daily([alice, bob], start=date(2026, 10, 31), at=time(1, 30))],
    )
    found = selectors.shifts(schedule=autumn, start=utc(2026, 10, 31, 12), end=utc(2026, 11, 2, 12))
    # The first 01:30 (EDT) on 1 November; then 01:30 EST: a 25-hour shift.
    assert [s.starts_at for s in found] == [utc(2026, 10, 31, 5, 30), utc(2026, 11, 1, 5, 30), utc(2026, 11, 2, 6, 30)]
    assert found[1].duration == timedelta(hours=25)


def test_an_override_replaces_the_rotations_person_for_its_span(alice, bob, carol):
    schedule = on_call_schedule(layers=[daily([alice, bob], start=date(2026, 6, 1), length=7)])
    Override.objects.create(
        schedule=schedule, user=carol, starts_at=utc(2026, 6, 2, 18), ends_at=utc(2026, 6, 3, 6), note="Dentist"
    )
    found = selectors.shifts(schedule=schedule, start=utc(2026, 6, 1, 9), end=utc(2026, 6, 8, 9))
    assert [(s.user.username, s.starts_at, s.ends_at) for s in found] == [
        ("alice", utc(2026, 6, 1, 9), utc(2026, 6, 2, 18)),
        ("carol", utc(2026, 6, 2, 18), utc(2026, 6, 3, 6)),
        ("alice", utc(2026, 6, 3, 6), utc(2026, 6, 8, 9)),
    ]
    assert found[1].override.note == "Dentist"
    assert names(selectors.on_call_at(schedule=schedule, at=utc(2026, 6, 2, 20))) == ["carol"]
    assert names(selectors.on_call_at(schedule=schedule, at=utc(2026, 6, 3, 6))) == ["alice"]


def test_rotations_are_layers_on_call_together_and_an_override_can_replace_one(alice, bob, carol):
    schedule = on_call_schedule(
        layers=[daily([alice], start=date(2026, 6, 1)), daily([bob], start=date(2026, 6, 1), at=time(0))]
    )
    primary, secondary = schedule.rotations.all()
    at = utc(2026, 6, 5, 12)
    assert names(selectors.on_call_at(schedule=schedule, at=at)) == ["alice", "bob"]
    Override.objects.create(
        schedule=schedule, rotation=secondary, user=carol, starts_at=utc(2026, 6, 5), ends_at=utc(2026, 6, 6)
    )
    assert names(selectors.on_call_at(schedule=schedule, at=at)) == ["alice", "carol"]
    Override.objects.create(schedule=schedule, user=bob, starts_at=utc(2026, 6, 5, 11), ends_at=utc(2026, 6, 5, 13))
    # An override of no rotation replaces both layers (the other override stays on as well).
    assert set(names(selectors.on_call_at(schedule=schedule, at=at))) == {"bob", "carol"}
    assert primary.position == 0


def test_gaps_before_the_start_without_members_and_between_overrides(alice, bob):
    schedule = on_call_schedule(layers=[daily([alice], start=date(2026, 6, 10)), daily([], start=date(2026, 6, 1))])
    assert selectors.on_call_at(schedule=schedule, at=utc(2026, 6, 9)) == []
    assert selectors.gaps(schedule=schedule, start=utc(2026, 6, 9), end=utc(2026, 6, 12)) == [
        (utc(2026, 6, 9), utc(2026, 6, 10, 9))
    ]
    empty = on_call_schedule(name="Empty")
    Override.objects.create(schedule=empty, user=bob, starts_at=utc(2026, 6, 9, 8), ends_at=utc(2026, 6, 9, 10))
    assert selectors.gaps(schedule=empty, start=utc(2026, 6, 9), end=utc(2026, 6, 10)) == [
        (utc(2026, 6, 9), utc(2026, 6, 9, 8)),
        (utc(2026, 6, 9, 10), utc(2026, 6, 10)),
    ]
    assert names(selectors.on_call_at(schedule=empty, at=utc(2026, 6, 9, 9))) == ["bob"]


def test_on_call_for_service_asks_the_owner_teams_schedules(alice, bob, carol):
    platform = Team.objects.create(name="Platform", slug="platform")
    storefront = Team.objects.create(name="Storefront", slug="storefront")
    on_call_schedule(team=platform, layers=[daily([alice], start=date(2026, 1, 1))])
    on_call_schedule(team=platform, name="Database", layers=[daily([bob], start=date(2026, 1, 1))])
    on_call_schedule(team=storefront, layers=[daily([carol], start=date(2026, 1, 1))])
    api = ServiceFactory(name="API", slug="api", owner_team=platform)
    orphan = ServiceFactory(name="Orphan", slug="orphan", owner_team=None)
    at = utc(2026, 6, 1)
    assert set(names(selectors.on_call_for_service(service=api, at=at))) == {"alice", "bob"}
    assert selectors.on_call_for_service(service=orphan, at=at) == []
    assert {k: set(names(v)) for k, v in selectors.on_call_for_services(services=[api, orphan], at=at).items()} == {
        api.pk: {"alice", "bob"},
        orphan.pk: set(),
    }


def test_many_services_and_schedules_cost_the_same_few_queries(django_assert_max_num_queries, alice, bob):
    teams = [Team.objects.create(name=f"Team {n}", slug=f"team-{n}") for n in range(6)]
    for team in teams:
        on_call_schedule(team=team, layers=[daily([alice, bob], start=date(2026, 1, 1))])
        Override.objects.create(
            schedule=team.schedules.get(), user=bob, starts_at=utc(2026, 5, 31), ends_at=utc(2026, 6, 2)
        )
    services = [ServiceFactory(owner_team=team) for team in teams for _ in range(3)]
    with django_assert_max_num_queries(2):  # the rotation members, the overrides
        answer = selectors.on_call_for_services(services=services, at=utc(2026, 6, 1))
    assert all(names(users) == ["bob"] for users in answer.values())
    with django_assert_max_num_queries(2):
        assert names(selectors.on_call_for_service(service=services[0], at=utc(2026, 6, 1))) == ["bob"]


def test_current_shift_for_user_says_until_when_in_one_query_for_others(django_assert_num_queries, alice, bob, carol):
    schedule = on_call_schedule(layers=[daily([alice, bob], start=date(2026, 6, 1), length=7)])
    # Alice's week, then she covers Bob's first day too: on call until Tuesday 09:00.
    Override.objects.create(schedule=schedule, user=alice, starts_at=utc(2026, 6, 8, 9), ends_at=utc(2026, 6, 9, 9))
    shift = selectors.current_shift_for_user(user=alice, at=utc(2026, 6, 3))
    assert (shift.schedule, shift.starts_at, shift.ends_at) == (schedule, utc(2026, 6, 1, 9), utc(2026, 6, 9, 9))
    assert selectors.current_shift_for_user(user=bob, at=utc(2026, 6, 3)) is None
    with django_assert_num_queries(1):
        assert selectors.current_shift_for_user(user=carol, at=utc(2026, 6, 3)) is None


def test_a_one_person_rotation_is_one_long_shift(alice):
    schedule = on_call_schedule(layers=[daily([alice], start=date(2026, 6, 1))])
    found = selectors.shifts(schedule=schedule, start=utc(2026, 6, 2), end=utc(2026, 6, 5))
    assert [(s.starts_at, s.ends_at) for s in found] == [(utc(2026, 6, 1, 9), utc(2026, 6, 5, 9))]


def test_time_zones_are_iana_names_and_overrides_end_after_they_start(alice):
    schedule = Schedule(team=Team.objects.create(name="T", slug="t"), name="S", slug="s", time_zone="../etc/passwd")
    with pytest.raises(ValidationError) as error:
        schedule.full_clean()
    assert error.value.message_dict["time_zone"] == [UNKNOWN_TIME_ZONE]
    schedule.time_zone = "Europe/London"
    schedule.full_clean()
    schedule.save()
    with pytest.raises(IntegrityError):
        Override.objects.create(schedule=schedule, user=alice, starts_at=utc(2026, 1, 2), ends_at=utc(2026, 1, 1))
