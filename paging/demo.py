"""The paging demo data: each demo team gets a two-level escalation policy."""

from django.contrib.auth import get_user_model
from django.db import transaction

from incidents.models import Team
from oncall.models import Schedule
from paging.models import EscalationLevel, EscalationPolicy

# Level 1: whoever the team's schedule puts on call (without a schedule: the demo's "oncall"); after
# 5 minutes without an acknowledgement, level 2: the demo's "lead"; the admin is the fallback contact.
LEVEL_DELAYS = (5, 10)


@transaction.atomic
def demo_data_load() -> str | None:
    """Idempotent demo step (load_demo_data): a policy for every team without one."""
    admin = get_user_model().objects.filter(username="admin").first()
    for team in Team.objects.filter(escalation_policy__isnull=True).prefetch_related("members"):
        policy = EscalationPolicy.objects.create(
            team=team, name=f"{team.name} escalation", repeat=1, fallback_contact=admin
        )
        members = sorted(team.members.all(), key=lambda user: user.username)
        schedule = Schedule.objects.filter(team=team).order_by("pk").first()
        first = EscalationLevel.objects.create(
            policy=policy, position=1, delay_minutes=LEVEL_DELAYS[0], schedule=schedule
        )
        if schedule is None and members:
            first.users.set([user for user in members if user.username == "oncall"] or members[:1])
        second = EscalationLevel.objects.create(policy=policy, position=2, delay_minutes=LEVEL_DELAYS[1])
        second.users.set([user for user in members if user.username == "lead"] or members[-1:])
    return None
