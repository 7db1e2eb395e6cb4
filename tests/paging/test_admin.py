"""Escalation policies and their levels are edited in the admin."""

import pytest

from paging import errors
from paging.models import EscalationPolicy
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    client.force_login(UserFactory(role="admin", is_staff=True, is_superuser=True))
    return client


def level_form(prefix: str, **fields) -> dict:
    return {f"levels-{prefix}-{name}": value for name, value in fields.items()}


def formset(*levels: dict) -> dict:
    data = {
        "levels-TOTAL_FORMS": str(len(levels)),
        "levels-INITIAL_FORMS": "0",
        "levels-MIN_NUM_FORMS": "0",
        "levels-MAX_NUM_FORMS": "1000",
    }
    for level in levels:
        data.update(level)
    return data


def test_a_policy_with_two_levels_is_made_in_the_admin(admin_client, team, schedule, bob):
    answer = admin_client.post(
        "/admin/paging/escalationpolicy/add/",
        {
            "team": team.pk,
            "name": "Payments escalation",
            "repeat": "1",
            "webhook_format": "slack",
            **formset(
                level_form("0", position="1", delay_minutes="5", schedule=schedule.pk),
                level_form("1", position="2", delay_minutes="10", users=[bob.pk]),
            ),
        },
    )
    assert answer.status_code == 302, answer.content.decode()[:2000]
    policy = EscalationPolicy.objects.get()
    assert [(level.position, level.schedule_id, list(level.users.all())) for level in policy.levels.all()] == [
        (1, schedule.pk, []),
        (2, None, [bob]),
    ]
    assert admin_client.get("/admin/paging/escalationpolicy/").status_code == 200
    assert admin_client.get(f"/admin/paging/escalationpolicy/{policy.pk}/change/").status_code == 200
    assert admin_client.get("/admin/paging/page/").status_code == 200
    assert admin_client.get("/admin/paging/escalation/").status_code == 200


def test_a_level_that_pages_nobody_is_refused(admin_client, team):
    answer = admin_client.post(
        "/admin/paging/escalationpolicy/add/",
        {
            "team": team.pk,
            "name": "Empty",
            "repeat": "0",
            "webhook_format": "slack",
            **formset(level_form("0", position="1", delay_minutes="5")),
        },
    )
    assert answer.status_code == 200
    assert errors.LEVEL_WITHOUT_TARGET in answer.content.decode()
    assert not EscalationPolicy.objects.exists()


def test_the_demo_gives_each_team_a_two_level_policy_once(db):
    import io

    from django.core.management import call_command

    call_command("load_demo_data", stdout=io.StringIO())
    call_command("load_demo_data", stdout=io.StringIO())
    policies = list(EscalationPolicy.objects.prefetch_related("levels"))
    assert len(policies) == 2
    for policy in policies:
        first, second = policy.levels.all()
        assert first.schedule is not None and first.schedule.team_id == policy.team_id
        assert [user.username for user in second.users.all()] == ["lead"]


def test_the_admin_role_keeps_policies_and_reads_pages(client):
    client.force_login(UserFactory(role="admin", is_staff=True))
    assert client.get("/admin/paging/escalationpolicy/add/").status_code == 200
    assert client.get("/admin/paging/page/").status_code == 200
    assert client.get("/admin/paging/escalation/").status_code == 200
