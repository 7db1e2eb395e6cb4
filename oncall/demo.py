"""The on-call part of `load_demo_data`: each demo team gets a weekly rotation that began on last
week's Monday, and Platform's has one override (Cora covers tomorrow evening). Idempotent."""

from datetime import datetime, time, timedelta

from django.contrib.auth import get_user_model
from django.utils import timezone

from incidents.models import Team
from oncall import services
from oncall.models import Schedule

# team slug, schedule name, zone, members in turn order
SCHEDULES = [
    ("platform", "Platform primary", "Europe/London", ["oncall", "lead", "admin"]),
    ("storefront", "Storefront primary", "America/New_York", ["lead", "comms", "oncall"]),
]


def demo_data_load() -> str | None:
    """load_demo_data's step (registered in OncallConfig.ready)."""
    users = {user.username: user for user in get_user_model().objects.all()}
    created = 0
    for team_slug, name, zone, members in SCHEDULES:
        team = Team.objects.filter(slug=team_slug).first()
        if team is None or Schedule.objects.filter(team=team, name=name).exists():
            continue
        today = timezone.localdate()
        last_monday = today - timedelta(days=today.weekday() + 7)
        schedule = services.schedule_create(
            team=team,
            name=name,
            time_zone=zone,
            rotations=[
                {
                    "name": "Weekly",
                    "start_date": last_monday,
                    "members": [users[username] for username in members if username in users],
                    "shift_length": 7,
                    "shift_unit": "days",
                    "handoff_time": time(9),
                }
            ],
        )
        if team_slug == "platform" and "comms" in users:
            tomorrow = datetime.combine(today + timedelta(days=1), time(18), tzinfo=schedule.zone)
            services.override_add(
                schedule=schedule,
                user=users["comms"],
                starts_at=tomorrow,
                ends_at=tomorrow + timedelta(hours=4),
                note="Covering a dentist appointment",
            )
        created += 1
    return f"Demo on-call schedules added: {created}." if created else None
