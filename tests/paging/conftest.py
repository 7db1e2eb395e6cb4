"""A team that owns the checkout service, a schedule that puts Alice on call, and a two-level
policy: level 1 the schedule (5 min), level 2 Bob (5 min)."""

from datetime import date, time

import pytest
from django.contrib.auth.models import User

from incidents.models import Service, Team
from paging.models import EscalationLevel, EscalationPolicy
from tests.factories import UserFactory, on_call_schedule


@pytest.fixture
def alice(db) -> User:
    return UserFactory(username="alice", first_name="Alice", last_name="Able", role="responder")


@pytest.fixture
def bob(db) -> User:
    return UserFactory(username="bob", first_name="Bob", last_name="Baker", role="responder")


@pytest.fixture
def boss(db) -> User:
    return UserFactory(username="boss", first_name="Bea", last_name="Boss", role="responder")


@pytest.fixture
def team(alice, bob) -> Team:
    team = Team.objects.create(name="Payments", slug="payments")
    team.members.set([alice, bob])
    return team


@pytest.fixture
def checkout(team) -> Service:
    return Service.objects.create(name="Checkout", slug="checkout", owner_team=team)


@pytest.fixture
def schedule(team, alice):
    """Alice on call around the clock: a weekly rotation of one."""
    layer = {
        "members": [alice],
        "start_date": date(2020, 1, 6),
        "handoff_time": time(9),
        "shift_length": 7,
        "shift_unit": "days",
    }
    return on_call_schedule(team=team, layers=[layer])


@pytest.fixture
def policy(team, schedule, bob, boss) -> EscalationPolicy:
    policy = EscalationPolicy.objects.create(team=team, name="Payments escalation", fallback_contact=boss)
    EscalationLevel.objects.create(policy=policy, position=1, delay_minutes=5, schedule=schedule)
    EscalationLevel.objects.create(policy=policy, position=2, delay_minutes=5).users.set([bob])
    return policy


@pytest.fixture
def alerts_account(db) -> User:
    """Like the account alert sources declare incidents as: it cannot log in."""
    user, created = User.objects.get_or_create(username="alerts", defaults={"first_name": "Alerts"})
    if created:
        user.set_unusable_password()
        user.save()
    return user
