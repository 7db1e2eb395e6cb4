"""Demo users for each role, a small service catalog and a few incidents across severities and
states. Idempotent: running it again changes nothing that is already there."""

import contextlib
from collections.abc import Iterator
from datetime import datetime, timedelta
from unittest import mock

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from incidents import registry, services
from incidents.models import Incident, IncidentStatus, Service, SeverityPolicy, Team, UpdateVisibility

DEMO_PASSWORD = "incident-desk-demo"  # noqa: S105 - the documented demo login

USERS = [
    # username, first, last, groups, staff/superuser
    ("admin", "Ada", "Admin", ["admin", "responder"], True),
    ("lead", "Lena", "Lead", ["responder", "team"], False),
    ("oncall", "Omar", "Oncall", ["responder", "team"], False),
    ("comms", "Cora", "Comms", ["responder", "team"], False),
    ("viewer", "Vic", "Viewer", ["viewer", "leadership"], False),
]

# Two teams own the catalog; the on-call app's demo step gives each a weekly rotation.
TEAMS = [
    # name, slug, members
    ("Platform", "platform", ["lead", "oncall", "admin"]),
    ("Storefront", "storefront", ["oncall", "comms", "lead"]),
]

SERVICES = [
    ("API", "api", "platform", "Public REST API"),
    ("Authentication", "authentication", "platform", "Login, sessions, tokens"),
    ("Checkout", "checkout", "storefront", "Cart and payment flow"),
    ("Database", "database", "platform", "Primary PostgreSQL cluster"),
    ("Search", "search", "storefront", "Product search"),
]


class Command(BaseCommand):
    help = "Load demo users, services and incidents (idempotent)."

    @transaction.atomic
    def handle(self, *args, **options) -> None:
        users = self._users()
        catalog = self._services()
        if Incident.objects.exists():
            self.stdout.write("Incidents already present; demo incidents not added again.")
        else:
            self._incidents(users, catalog)
        # The apps built on incidents add their own idempotent steps (incidents.registry); a step
        # may return a line to show, such as a token that is printed only once.
        for step in registry.demo_data_steps():
            if line := step():
                self.stdout.write(line)
        self.stdout.write(self.style.SUCCESS("Demo data ready."))
        self.stdout.write(f"Log in as admin, lead, oncall, comms or viewer with password '{DEMO_PASSWORD}'.")

    def _users(self) -> dict:
        User = get_user_model()
        users = {}
        for username, first, last, groups, staff in USERS:
            user, created = User.objects.get_or_create(
                username=username,
                defaults={
                    "first_name": first,
                    "last_name": last,
                    "email": f"{username}@example.com",
                    "is_staff": staff,
                    "is_superuser": staff,
                },
            )
            if created:
                user.set_password(DEMO_PASSWORD)
                user.save(update_fields=["password"])
                user.groups.set(Group.objects.filter(name__in=groups))
            users[username] = user
        return users

    def _services(self) -> dict:
        teams = {}
        for name, slug, members in TEAMS:
            teams[slug], created = Team.objects.get_or_create(slug=slug, defaults={"name": name})
            if created:
                teams[slug].members.set(get_user_model().objects.filter(username__in=members))
        catalog = {}
        for name, slug, team, description in SERVICES:
            catalog[slug], _ = Service.objects.get_or_create(
                slug=slug, defaults={"name": name, "owner_team": teams[team], "description": description}
            )
        return catalog

    def _incidents(self, users: dict, catalog: dict) -> None:
        """The story is played through the services at the moments it happened (the clock the
        services read is set back for each step), so ages, durations and due times look real: a
        SEV2 resolved two hours ago, a SEV3 under way for 50 minutes, and a SEV1 whose next
        update is already overdue."""
        severity = {policy.key: policy for policy in SeverityPolicy.objects.all()}
        now = timezone.now()

        with _clock(now - timedelta(hours=3, minutes=10)):
            database = services.incident_declare(
                declared_by=users["oncall"],
                title="Primary database connection pool exhausted",
                severity=severity["SEV2"],
                detected_at=now - timedelta(hours=3, minutes=16),
                affected_services=[catalog["database"], catalog["api"]],
                business_impact="Intermittent 503s on the API",
            )
        with _clock(now - timedelta(hours=2, minutes=40)):
            services.incident_update_post(
                incident=database,
                author=users["oncall"],
                progress="Raised the pool size and killed long-running queries; errors are back to normal.",
                status=IncidentStatus.MONITORING,
            )
        with _clock(now - timedelta(hours=2, minutes=10)):
            services.incident_status_change(incident=database, status=IncidentStatus.RESOLVED, actor=users["oncall"])

        with _clock(now - timedelta(hours=5)):
            services.incident_declare(
                declared_by=users["lead"],
                title="Typo in password reset email",
                severity=severity["SEV4"],
                affected_services=[catalog["authentication"]],
            )

        with _clock(now - timedelta(minutes=50)):
            search = services.incident_declare(
                declared_by=users["oncall"],
                title="Search latency above 2 s",
                severity=severity["SEV3"],
                summary="p95 latency on search is 2.4 s (normally 300 ms).",
                affected_services=[catalog["search"]],
                affected_users_count=1200,
            )
        with _clock(now - timedelta(minutes=35)):
            services.incident_note_add(
                incident=search, author=users["oncall"], text="Index rebuild started at 02:00 and is still running."
            )

        with _clock(now - timedelta(minutes=24)):
            checkout = services.incident_declare(
                declared_by=users["oncall"],
                title="Checkout API returns 500s for card payments",
                severity=severity["SEV1"],
                summary="Card payments fail with HTTP 500 since the 14:20 deploy.",
                detected_at=now - timedelta(minutes=31),
                lead=users["lead"],
                comms_lead=users["comms"],
                responders=[users["oncall"]],
                affected_services=[catalog["checkout"], catalog["api"]],
                affected_users_percent=35,
                business_impact="Cannot process card orders",
            )
        with _clock(now - timedelta(minutes=17)):
            services.incident_update_post(
                incident=checkout,
                author=users["lead"],
                progress="Error rate at 40% on /payments. Suspect the 14:20 deploy.",
                next_steps="Rolling back the deploy",
                eta="15 minutes",
                visibility=UpdateVisibility.PUBLIC,
                status=IncidentStatus.IDENTIFIED,
            )


@contextlib.contextmanager
def _clock(moment: datetime) -> Iterator[None]:
    """The services read timezone.now(); for the demo story it says `moment`."""
    with mock.patch("django.utils.timezone.now", return_value=moment):
        yield
