"""Fill a benchmark database with a realistic incident history.

    DJANGO_SETTINGS_MODULE=bench.settings DATABASE_URL=postgres://…/incident_bench \\
        .venv/bin/python -m bench.generate --incidents 10000 --events 1000000

Wipes every incident first (TRUNCATE … CASCADE on PostgreSQL), so it can be re-run; it refuses to
touch a database whose name does not contain "bench" unless given --force.

This writes rows directly (PostgreSQL COPY, or bulk_create elsewhere) and so bypasses the service
layer that every other write goes through. That is acceptable only because this is a benchmark
fixture: a million timeline events through `incident_note_add` would take hours, and the rows
written here satisfy the same invariants (the CheckConstraints on Incident, one timeline event per
status update, detected ≤ declared ≤ acknowledged ≤ mitigated ≤ resolved).

Shape of the data (deterministic for a given --seed):
- a few services, two dozen responders plus the user `bench` (password `bench`, group responder);
- incidents over three years across the severity policies, most of them minor; about 25 active
  (spread over the severities, with an update due per their cadence), the rest resolved;
- one to five status updates per incident, each with its timeline event;
- timeline events skewed like real incidents: a handful of long incidents with thousands of
  events, most with a few tens.
"""

import argparse
import json
import math
import os
import random
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

import django

BENCH_USERNAME = "bench"
BENCH_PASSWORD = "bench"
ACTIVE_INCIDENTS = 25
# Share of all incidents per severity rank (1 is the most severe); ranks beyond the list get the last.
SEVERITY_WEIGHTS = [3, 12, 35, 50]
# Share of the events that go to the handful of very long incidents, and how many there are.
HEAVY_SHARE = 0.08
HEAVY_PER_INCIDENTS = 1000

SERVICES = [
    ("Checkout API", "payments"),
    ("Payments", "payments"),
    ("Search", "discovery"),
    ("Authentication", "identity"),
    ("Notifications", "messaging"),
    ("Mobile API", "mobile"),
    ("Web frontend", "web"),
    ("Data pipeline", "data"),
    ("Billing", "payments"),
    ("Inventory", "fulfilment"),
    ("Email delivery", "messaging"),
    ("Status page", "sre"),
]
SYMPTOMS = [
    "elevated 5xx error rate",
    "latency above SLO",
    "partial outage in eu-west",
    "timeouts talking to the database",
    "requests failing after deploy",
    "queue backlog growing",
    "stale data served from cache",
    "intermittent login failures",
    "certificate expiry warnings",
    "disk filling up on primary",
    "degraded performance for some customers",
    "webhooks delivered late",
]
FIRST_NAMES = ["Ada", "Bilal", "Chen", "Dana", "Emeka", "Fatima", "Grace", "Hiro", "Ines", "Jonas", "Kofi", "Lena"]
LAST_NAMES = ["Okafor", "Schmidt", "Tanaka", "Silva", "Novak", "Haddad"]
NOTES = [
    "Rolled back the last deploy",
    "Paged the database on-call",
    "Error rate back under 1%",
    "Customer support reports more tickets",
    "Scaled the worker pool from 8 to 16",
    "Found a slow query in the checkout path",
    "Failover to the replica started",
    "Cache hit ratio dropped to 40%",
    "Vendor confirms an issue on their side",
    "Added a feature flag to disable the new flow",
    "Graphs attached to the ticket",
    "Still seeing retries from the mobile clients",
]
PROGRESS = [
    "We have identified elevated errors and are investigating.",
    "The cause is a configuration change; a rollback is in progress.",
    "The fix is deployed and we are monitoring error rates.",
    "Error rates are back to normal; we keep monitoring for an hour.",
]
NEXT_STEPS = ["Confirm recovery on the dashboards.", "Post the next update within the cadence.", ""]
ACTIVE_STATUSES = ["investigating", "identified", "monitoring"]


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.generate", description=__doc__.split("\n\n")[0])
    parser.add_argument("--incidents", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=1_000_000, help="timeline events in total")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--if-missing",
        action="store_true",
        help="do nothing when the database already holds exactly this many incidents and events",
    )
    parser.add_argument(
        "--setup",
        action="store_true",
        help="first create the PostgreSQL database if it does not exist, and apply migrations",
    )
    parser.add_argument("--force", action="store_true", help="allow a database whose name lacks 'bench'")
    args = parser.parse_args(argv)
    if args.incidents < 1:
        parser.error("--incidents must be at least 1")
    if args.events < 3 * args.incidents:
        parser.error("--events must be at least 3 per incident (declared, one update, resolved)")
    return args


@dataclass
class IncidentPlan:
    pk: int
    severity_id: int
    cadence: timedelta | None
    status: str
    declared_at: datetime
    detected_at: datetime
    ends_at: datetime  # resolved_at, or now for an active incident
    event_count: int
    update_times: list[datetime] = field(default_factory=list)
    update_statuses: list[str] = field(default_factory=list)
    update_visibilities: list[str] = field(default_factory=list)
    first_update_id: int = 0


def event_counts(rng: random.Random, incidents: int, total: int, eligible_heavy: list[int]) -> list[int]:
    """Split `total` events over incidents: a few heavy ones share HEAVY_SHARE with shares falling
    off like 1/rank; the rest follow a log-normal (median a few tens). At least 3 each."""
    minimum = 3
    heavy_count = min(len(eligible_heavy), max(1, incidents // HEAVY_PER_INCIDENTS)) if incidents > 20 else 0
    heavy = rng.sample(eligible_heavy, heavy_count)
    weights = [rng.lognormvariate(0, 0.8) for _ in range(incidents)]
    spare = total - minimum * incidents
    heavy_total = int(spare * HEAVY_SHARE) if heavy else 0
    harmonic = sum(1 / rank for rank in range(1, heavy_count + 1))
    counts = [minimum] * incidents
    for rank, index in enumerate(heavy, start=1):
        counts[index] += int(heavy_total / harmonic / rank)
        weights[index] = 0
    rest = spare - (sum(counts) - minimum * incidents)
    weight_sum = sum(weights)
    shares = [rest * weight / weight_sum for weight in weights]
    for index, share in enumerate(shares):
        counts[index] += int(share)
    # Largest remainders take the events lost to rounding, so the total is exact.
    leftover = total - sum(counts)
    by_remainder = sorted(range(incidents), key=lambda i: shares[i] - int(shares[i]), reverse=True)
    for index in by_remainder[:leftover]:
        counts[index] += 1
    return counts


def spread(rng: random.Random, start: datetime, end: datetime, count: int) -> list[datetime]:
    span = max((end - start).total_seconds(), 0.0)
    return sorted(start + timedelta(seconds=rng.random() * span) for _ in range(count))


def plan_incidents(rng: random.Random, count: int, severities: list, now: datetime) -> list[IncidentPlan]:
    weights = [SEVERITY_WEIGHTS[min(s.rank, len(SEVERITY_WEIGHTS)) - 1] for s in severities]
    active = min(ACTIVE_INCIDENTS, count)
    resolved = count - active
    # Oldest first, so references grow with time like the real sequence; active ones come last.
    # Resolved incidents end at least a day before now (the longest lasts five days).
    declared = sorted(now - timedelta(days=3 * 365 * rng.random() + 6) for _ in range(resolved))
    declared += sorted(now - timedelta(minutes=rng.uniform(10, 36 * 60)) for _ in range(active))
    plans = []
    for index, declared_at in enumerate(declared):
        is_active = index >= resolved
        # Active incidents are spread over every severity in turn; history follows the weights.
        severity = severities[index % len(severities)] if is_active else rng.choices(severities, weights)[0]
        cadence = severity.update_cadence
        if is_active:
            status = ACTIVE_STATUSES[index % len(ACTIVE_STATUSES)]
            ends_at = now
        else:
            status = "resolved"
            ends_at = declared_at + timedelta(minutes=min(rng.lognormvariate(math.log(180), 1.0), 5 * 24 * 60))
        plans.append(
            IncidentPlan(
                pk=index + 1,
                severity_id=severity.pk,
                cadence=cadence,
                status=status,
                declared_at=declared_at,
                detected_at=declared_at - timedelta(minutes=rng.uniform(0, 30)),
                ends_at=ends_at,
                event_count=0,
            )
        )
    return plans


def plan_updates(rng: random.Random, plans: list[IncidentPlan], now: datetime) -> None:
    next_id = 1
    for plan in plans:
        # Structural events: declared, one per update, resolved (for resolved incidents).
        room = plan.event_count - 1 - (plan.status == "resolved")
        updates = max(1, min(rng.randint(1, 5), room))
        start = min(plan.declared_at + timedelta(minutes=rng.uniform(1, 20)), plan.ends_at)
        if plan.status == "resolved":
            times = [*spread(rng, start, plan.ends_at, updates - 1), plan.ends_at]
            statuses = [ACTIVE_STATUSES[min(i * 3 // updates, 2)] for i in range(updates - 1)] + ["resolved"]
        else:
            # The latest update lands within about one cadence of now, so some are overdue.
            window = plan.cadence * 1.3 if plan.cadence else timedelta(hours=6)
            last = max(now - window * rng.random(), start)
            times = [*spread(rng, start, last, updates - 1), last]
            final = ACTIVE_STATUSES.index(plan.status)
            statuses = [ACTIVE_STATUSES[min(i * (final + 1) // updates, final)] for i in range(updates - 1)]
            statuses.append(plan.status)
        plan.update_times = times
        plan.update_statuses = statuses
        plan.update_visibilities = ["public" if rng.random() < 0.4 else "internal" for _ in range(updates)]
        plan.first_update_id = next_id
        next_id += updates


def incident_rows(rng: random.Random, plans: list[IncidentPlan], user_ids: list[int]) -> Iterator[tuple]:
    for plan in plans:
        service = rng.choice(SERVICES)[0]
        title = f"{service}: {rng.choice(SYMPTOMS)}"
        resolved = plan.status == "resolved"
        acknowledged_at = plan.update_times[0]
        mitigated_at = None
        if resolved or plan.status == "monitoring":
            mitigated_at = max(acknowledged_at, plan.update_times[-1] - timedelta(minutes=rng.uniform(0, 30)))
        last_update_at = plan.update_times[-1]
        next_due = None if resolved or plan.cadence is None else last_update_at + plan.cadence
        has_impact = rng.random() < 0.6
        yield (
            plan.pk,
            title,
            f"{service} is affected: {rng.choice(SYMPTOMS)}. Reported by monitoring.",
            plan.severity_id,
            plan.status,
            rng.randint(10, 250_000) if has_impact else None,
            Decimal(rng.randint(1, 10_000)) / 100 if has_impact else None,
            "Customers cannot complete purchases." if rng.random() < 0.3 else "",
            rng.random() < 0.05,
            rng.random() < 0.03,
            plan.detected_at,
            plan.declared_at,
            acknowledged_at,
            mitigated_at,
            plan.ends_at if resolved else None,
            rng.choice(user_ids),
            rng.choice(user_ids) if rng.random() < 0.5 else None,
            rng.choice(user_ids),
            next_due,
            last_update_at,
            last_update_at,  # cadence_anchor_at: the cadence counts from the latest update
            next_due,  # next_reminder_at: the first ladder step is the due time itself
        )


def update_rows(rng: random.Random, plans: list[IncidentPlan], user_ids: list[int]) -> Iterator[tuple]:
    for plan in plans:
        updates = zip(plan.update_times, plan.update_statuses, plan.update_visibilities, strict=True)
        for offset, (posted_at, status, visibility) in enumerate(updates):
            progress = PROGRESS[min(offset, len(PROGRESS) - 1)] if status != "resolved" else "Resolved."
            eta = "" if status == "resolved" else rng.choice(["", "Within the hour", "Unknown"])
            yield (
                plan.first_update_id + offset,
                plan.pk,
                rng.choice(user_ids),
                posted_at,
                status,
                progress,
                rng.choice(NEXT_STEPS),
                eta,
                visibility,
            )


def due_rows(plans: list[IncidentPlan]) -> Iterator[tuple]:
    """The due times of each incident's updates as the services record them (UpdateDue): one per
    cadence from the declaration, then from each update, met by the next update; an active
    incident's last one still open."""
    for plan in plans:
        if plan.cadence is None:
            continue
        minutes = int(plan.cadence.total_seconds() // 60)
        anchor = plan.declared_at
        for offset, posted_at in enumerate(plan.update_times):
            yield (
                plan.pk,
                plan.severity_id,
                anchor + plan.cadence,
                minutes,
                anchor,
                posted_at,
                "met",
                plan.first_update_id + offset,
            )
            anchor = posted_at
        if plan.status != "resolved":
            yield (plan.pk, plan.severity_id, anchor + plan.cadence, minutes, anchor, None, "open", None)


def event_rows(
    rng: random.Random, plans: list[IncidentPlan], users: dict[int, str], severity_labels: dict[int, str]
) -> Iterator[tuple]:
    """Rows of (incident, kind, actor, recorded_at, occurred_at, text, body, data, status_update,
    starred) in time order within each incident. `data` is JSON text for COPY."""
    user_ids = list(users)
    for plan in plans:
        actor = rng.choice(user_ids)
        label = severity_labels[plan.severity_id]
        events = [
            (
                plan.declared_at,
                "declared",
                actor,
                f"Declared as {label} by {users[actor]}",
                "",
                json.dumps({"severity": label.split()[0], "lead": actor}),
                None,
            )
        ]
        updates = zip(plan.update_times, plan.update_statuses, plan.update_visibilities, strict=True)
        for offset, (posted_at, status, visibility) in enumerate(updates):
            data = json.dumps({"status": status, "visibility": visibility})
            text = f"{visibility.capitalize()} status update by {users[actor]}"
            events.append((posted_at, "status_update", actor, text, "", data, plan.first_update_id + offset))
        if plan.status == "resolved":
            data = '{"from": "monitoring", "to": "resolved", "reopened": false}'
            events.append((plan.ends_at, "status_changed", actor, "Resolved", "", data, None))
        filler = plan.event_count - len(events)
        for occurred_at in spread(rng, plan.declared_at, plan.ends_at, filler):
            roll = rng.random()
            if roll < 0.75:
                note = rng.choice(NOTES)
                body = f"{note}.\nDetails in the channel; graphs attached." if roll < 0.25 else note
                events.append((occurred_at, "note", rng.choice(user_ids), note, body, '{"backdated": false}', None))
            elif roll < 0.9:
                data = '{"role": "responders", "added": [], "removed": []}'
                events.append((occurred_at, "role_assigned", actor, "Responders updated", "", data, None))
            else:
                data = '{"fields": ["business_impact"]}'
                events.append((occurred_at, "impact_changed", actor, "Updated business impact", "", data, None))
        events.sort(key=lambda event: event[0])
        for occurred_at, kind, actor_id, text, body, data, update_id in events:
            yield (plan.pk, kind, actor_id, occurred_at, occurred_at, text, body, data, update_id, False)


class Writer:
    """COPY on PostgreSQL; bulk_create in large batches elsewhere (SQLite for a quick local try)."""

    def __init__(self, connection) -> None:
        self.connection = connection
        self.copy = connection.vendor == "postgresql"

    def write(self, model, columns: list[str], rows: Iterable[tuple]) -> int:
        # The models are still moving: a column this script knows but the model no longer has is
        # left out rather than failing the run.
        known = {f.column for f in model._meta.concrete_fields}
        if missing := [column for column in columns if column not in known]:
            print(f"  ({model._meta.db_table} has no {', '.join(missing)}; left out)")
            keep = [index for index, column in enumerate(columns) if column in known]
            columns = [columns[index] for index in keep]
            rows = (tuple(row[index] for index in keep) for row in rows)
        # …and a column the model gained since is written with its default (Django's defaults live
        # in Python, so COPY would otherwise put NULL in a NOT NULL column).
        given = set(columns)
        added = [
            f
            for f in model._meta.concrete_fields
            if f.column not in given
            and not f.primary_key
            and not f.generated
            and (f.has_default() or not f.null)
            and not f.has_db_default()
        ]
        if added:
            defaults = tuple(
                json.dumps(f.get_default()) if f.get_internal_type() == "JSONField" else f.get_default() for f in added
            )
            columns = [*columns, *(f.column for f in added)]
            rows = (row + defaults for row in rows)
        written = 0
        if self.copy:
            names = ", ".join(self.connection.ops.quote_name(column) for column in columns)
            sql = f"COPY {self.connection.ops.quote_name(model._meta.db_table)} ({names}) FROM STDIN"
            with self.connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
                for row in rows:
                    copy.write_row(row)
                    written += 1
            return written
        json_columns = {f.column for f in model._meta.concrete_fields if f.get_internal_type() == "JSONField"}
        attnames = {f.column: f.attname for f in model._meta.concrete_fields}
        batch = []
        for row in rows:
            values = {
                attnames[column]: json.loads(value) if column in json_columns else value
                for column, value in zip(columns, row, strict=True)
            }
            batch.append(model(**values))
            if len(batch) == 10_000:
                model.objects.bulk_create(batch)
                written += len(batch)
                batch = []
        model.objects.bulk_create(batch)
        return written + len(batch)


def wipe(connection, models: list) -> None:
    """Empty the tables, dependents first. On PostgreSQL, CASCADE also empties any other app's
    tables that point at incidents."""
    tables = [model._meta.db_table for model in models]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
        else:
            for table in tables:
                cursor.execute(f"DELETE FROM {connection.ops.quote_name(table)}")


def report(label: str, started: float, rows: int | None = None) -> None:
    suffix = f"{rows:>10,} rows" if rows is not None else " " * 15
    print(f"  {label:<28}{suffix}  {time.perf_counter() - started:6.1f} s", flush=True)


def timed(label: str, action: Callable[[], int | None]) -> int | None:
    started = time.perf_counter()
    result = action()
    report(label, started, result)
    return result


def vacuum_analyze(connection, models: list) -> None:
    with connection.cursor() as cursor:
        for model in models:
            cursor.execute(f"VACUUM ANALYZE {connection.ops.quote_name(model._meta.db_table)}")


def ensure_users() -> dict[int, str]:
    """The user `bench` and two dozen responders, by id with their display names."""
    from django.contrib.auth.models import Group, User

    from core.permissions import RESPONDER_GROUP

    responders = Group.objects.get(name=RESPONDER_GROUP)
    bench, _ = User.objects.get_or_create(
        username=BENCH_USERNAME, defaults={"first_name": "Bench", "last_name": "User"}
    )
    bench.set_password(BENCH_PASSWORD)
    bench.save()
    users = [bench]
    for index in range(24):
        first, last = FIRST_NAMES[index % len(FIRST_NAMES)], LAST_NAMES[index % len(LAST_NAMES)]
        user, created = User.objects.get_or_create(
            username=f"responder{index + 1:02d}", defaults={"first_name": first, "last_name": last}
        )
        if created:
            user.set_unusable_password()
            user.save()
        users.append(user)
    responders.user_set.add(*users)
    return {user.pk: user.get_full_name() or user.username for user in users}


def setup_database(connection) -> None:
    """Create the database if missing (PostgreSQL) and migrate it, so `make bench` works on a fresh
    server and keeps up with migrations other engineers add."""
    from django.core.management import call_command

    if connection.vendor == "postgresql":
        import psycopg
        from psycopg import sql

        config = connection.settings_dict
        server = {
            "host": config["HOST"] or None,
            "port": config["PORT"] or None,
            "user": config["USER"] or None,
            "password": config["PASSWORD"] or None,
        }
        with psycopg.connect(dbname="postgres", autocommit=True, **server) as maintenance:
            name = config["NAME"]
            if maintenance.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None:
                maintenance.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
                print(f"Created database {name}")
    call_command("migrate", interactive=False, verbosity=0)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    django.setup()

    from django.contrib.auth.models import User
    from django.core.management.color import no_style
    from django.db import connection, transaction
    from django.utils import timezone

    from incidents.models import Incident, Service, SeverityPolicy, StatusUpdate, Team, TimelineEvent, UpdateDue

    database = str(connection.settings_dict["NAME"])
    if "bench" not in database and not args.force:
        print(f"Refusing to wipe incidents in '{database}': its name lacks 'bench' (use --force).", file=sys.stderr)
        return 2
    if args.setup:
        setup_database(connection)
    if (
        args.if_missing
        and Incident.objects.count() == args.incidents
        and TimelineEvent.objects.count() == args.events
        and User.objects.filter(username=BENCH_USERNAME).exists()
    ):
        print(f"{database} already holds {args.incidents:,} incidents and {args.events:,} events; nothing to do.")
        return 0

    started = time.perf_counter()
    print(f"Generating {args.incidents:,} incidents and {args.events:,} timeline events in {database}")
    rng = random.Random(args.seed)
    now = timezone.now()
    severities = list(SeverityPolicy.objects.order_by("rank"))
    if not severities:
        print("No severity policies: run `manage.py migrate` first.", file=sys.stderr)
        return 2
    severity_labels = {severity.pk: f"{severity.key} {severity.name}" for severity in severities}
    writer = Writer(connection)
    through_services = Incident.affected_services.through
    through_responders = Incident.responders.through

    with transaction.atomic():
        users = ensure_users()
        user_ids = list(users)
        wiped = [UpdateDue, TimelineEvent, StatusUpdate, through_services, through_responders, Incident, Service]
        timed("wipe incidents", lambda: wipe(connection, wiped))
        teams = {}
        for team in sorted({team for _, team in SERVICES}):
            teams[team], _ = Team.objects.get_or_create(slug=team, defaults={"name": team.title()})
        services = Service.objects.bulk_create(
            Service(name=name, slug=name.lower().replace(" ", "-"), owner_team=teams[team]) for name, team in SERVICES
        )
        plans = plan_incidents(rng, args.incidents, severities, now)
        resolved = [index for index, plan in enumerate(plans) if plan.status == "resolved"]
        for plan, count in zip(plans, event_counts(rng, len(plans), args.events, resolved), strict=True):
            plan.event_count = count
        plan_updates(rng, plans, now)

        incident_columns = [
            "id", "title", "summary", "severity_id", "status", "affected_users_count", "affected_users_percent",
            "business_impact", "data_integrity_concern", "security_concern", "detected_at", "declared_at",
            "acknowledged_at", "mitigated_at", "resolved_at", "lead_id", "comms_lead_id", "declared_by_id",
            "next_update_due_at", "last_update_at", "cadence_anchor_at", "next_reminder_at",
        ]  # fmt: skip
        timed("incidents", lambda: writer.write(Incident, incident_columns, incident_rows(rng, plans, user_ids)))
        service_ids = [service.pk for service in services]
        timed(
            "affected services",
            lambda: writer.write(
                through_services,
                ["incident_id", "service_id"],
                ((plan.pk, pk) for plan in plans for pk in rng.sample(service_ids, rng.randint(1, 3))),
            ),
        )
        timed(
            "responders",
            lambda: writer.write(
                through_responders,
                ["incident_id", "user_id"],
                ((plan.pk, pk) for plan in plans for pk in rng.sample(user_ids, rng.randint(0, 4))),
            ),
        )
        update_columns = [
            "id", "incident_id", "author_id", "posted_at", "status", "progress", "next_steps", "eta", "visibility",
        ]  # fmt: skip
        timed("status updates", lambda: writer.write(StatusUpdate, update_columns, update_rows(rng, plans, user_ids)))
        event_columns = [
            "incident_id", "kind", "actor_id", "recorded_at", "occurred_at", "text", "body", "data",
            "status_update_id", "starred",
        ]  # fmt: skip
        timed(
            "timeline events",
            lambda: writer.write(TimelineEvent, event_columns, event_rows(rng, plans, users, severity_labels)),
        )
        due_columns = [
            "incident_id", "severity_id", "due_at", "cadence_minutes", "set_at", "closed_at", "outcome", "met_by_id",
        ]  # fmt: skip
        timed("update due times", lambda: writer.write(UpdateDue, due_columns, due_rows(plans)))
        # Ids were given explicitly; move the sequences past them so the app can insert again.
        with connection.cursor() as cursor:
            for statement in connection.ops.sequence_reset_sql(no_style(), [Incident, StatusUpdate]):
                cursor.execute(statement)
        commit_started = time.perf_counter()
    report("commit (deferred FK checks)", commit_started)

    if connection.vendor == "postgresql":
        # Freshly copied pages have no hint bits and no visibility map: the first reads would write
        # them. VACUUM ANALYZE gives the steady state a live database has, and fresh statistics.
        loaded = [Incident, through_services, through_responders, StatusUpdate, TimelineEvent, UpdateDue]
        timed("vacuum analyze", lambda: vacuum_analyze(connection, loaded))

    counts = {
        "incidents": Incident.objects.count(),
        "active incidents": Incident.objects.exclude(status="resolved").count(),
        "status updates": StatusUpdate.objects.count(),
        "timeline events": TimelineEvent.objects.count(),
        "update due times": UpdateDue.objects.count(),
        "services": Service.objects.count(),
    }
    heaviest = sorted((plan.event_count for plan in plans), reverse=True)
    median = heaviest[len(heaviest) // 2]
    print("Counts: " + ", ".join(f"{name} {value:,}" for name, value in counts.items()))
    print(f"Events per incident: max {heaviest[0]:,}, top five {heaviest[:5]}, median {median}")
    print(f"Done in {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
