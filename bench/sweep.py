"""Reminder sweep benchmark: how long one sweep takes and how many queries it makes for 1,000 and
10,000 due incidents, and how late a reminder arrives with a real worker and beat.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379/9 \\
        .venv/bin/python -m bench.sweep [--sizes 1000 10000] [--repeat 3] [--latency-incidents 100] \\
            [--backlog-incidents 400 --smtp-delay 0.05]

Both variables default to those servers; only their server is used: the run works in the database
`incident_sweep_bench` (created if missing, migrated, its incidents and messages wiped before each
measurement) and the Redis database of REDIS_URL. Only 127.0.0.1 is accepted.

1. One sweep, in this process. The fixture is written with bulk_create (a benchmark fixture, not
   the product: 10,000 declarations through the service would take minutes): N active SEV2
   incidents declared 31 minutes ago, their cadence fields planned by services._plan_next_update,
   so step 1 of the ladder (lead and comms lead, from a pool of 50 users with email addresses) is
   due for every one of them, and one responder each. Then ONE `reminders.reminders_sweep()` is
   timed and its queries counted (CaptureQueriesContext). The sweep records the due ladder steps
   and hands them to the workers; the time includes queueing those fan-out tasks to Redis after
   the commit, as the sweep task does. What the workers then do (tell the people: timeline
   events, messages, deliveries) is done right after in this process, batch by batch as the
   queued tasks would, and reported beside the sweep (time per batch and in all, queries per
   batch); the queued messages are purged, no worker runs. The sweep is repeated `--repeat`
   times on a fresh fixture; the median is reported. Targets: ≤ 2 s at 10,000; the same number
   of queries at every size.
2. Latency. A worker with embedded beat (REMINDER_SWEEP_SECONDS=10, the default) delivers to an
   aiosmtpd SMTP server in this process. `--latency-incidents` incidents with a 1-minute cadence
   are declared through the service (time-machine puts each declaration 60 s before its due time)
   with due times spread over the next 40 s. For every step-1 email: arrival time minus due time.
   Target: p99 ≤ 15 s.
3. Optionally (`--backlog-incidents N`), the same latency measured again behind a delivery
   backlog: N more incidents with every ladder step already due, and an SMTP server that takes
   `--smtp-delay` per message, as a real relay does. Counts the sweeps that expired in the queue.

Prints a table; writes bench/results/sweep.json. Exits 0 (a missed target is a finding), non-zero
only when the run itself failed.
"""

import argparse
import contextlib
import json
import os
import re
import statistics
import sys
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlparse

from bench.fault import (
    DEFAULT_DATABASE_URL,
    DEFAULT_REDIS_URL,
    RESULTS_DIR,
    bench_process,
    local_url,
    migrate,
    with_database,
)
from tests.integration.harness import CeleryWorker, SmtpSink, broker_purge, wait_for, worker_env

DATABASE = "incident_sweep_bench"
USERS = 50
SWEEP_TARGET_SECONDS = 2.0
LATENCY_TARGET_P99 = 15.0
LATENCY_SPREAD_SECONDS = 40
SWEEP_SECONDS = 10


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.sweep", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--repeat", type=int, default=3, help="sweeps per size, each on a fresh fixture")
    parser.add_argument("--latency-incidents", type=int, default=100, help="0 skips the latency run")
    parser.add_argument(
        "--backlog-incidents",
        type=int,
        default=0,
        help="also measure latency behind the deliveries of this many incidents with every step due",
    )
    parser.add_argument("--smtp-delay", type=float, default=0.05, help="seconds the SMTP server takes per message")
    parser.add_argument("--output", type=Path, default=RESULTS_DIR / "sweep.json")
    return parser.parse_args(argv)


def database_ensure(url: str) -> None:
    import psycopg
    from psycopg import sql

    name = urlparse(url).path.lstrip("/")
    with psycopg.connect(with_database(url, "postgres"), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def wipe() -> None:
    """Empty the incidents and messages (the benchmark's own database only)."""
    from django.db import connection

    assert "bench" in connection.settings_dict["NAME"]
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE incidents_incident, incidents_reminder, incidents_timelineevent, incidents_statusupdate, "
            "notifications_message, notifications_delivery RESTART IDENTITY CASCADE"
        )


def users_pool() -> list:
    from django.contrib.auth.models import Group, User

    existing = list(User.objects.filter(username__startswith="sweep").order_by("pk"))
    if len(existing) >= USERS:
        return existing[:USERS]
    responder = Group.objects.get(name="responder")
    for n in range(len(existing), USERS):
        user = User.objects.create_user(f"sweep{n:02d}", email=f"sweep{n:02d}@example.com", password=None)
        user.groups.add(responder)
    return list(User.objects.filter(username__startswith="sweep").order_by("pk"))[:USERS]


def due_incidents_create(count: int, people: list) -> None:
    """`count` SEV2 incidents declared 31 minutes ago, planned as the service plans them: step 1 due."""
    from django.db import connection
    from django.utils import timezone

    from incidents import services
    from incidents.models import Incident, IncidentStatus, SeverityPolicy

    severity = SeverityPolicy.objects.get(key="SEV2")
    declared = timezone.now() - severity.update_cadence - timedelta(minutes=1)
    incidents = []
    for n in range(count):
        lead, comms = people[n % USERS], people[(n + 1) % USERS]
        incident = Incident(
            title=f"Sweep bench {n}",
            severity=severity,
            status=IncidentStatus.INVESTIGATING,
            detected_at=declared,
            declared_at=declared,
            lead=lead,
            comms_lead=comms,
            declared_by=lead,
        )
        services._plan_next_update(incident, anchor=declared)
        incidents.append(incident)
    Incident.objects.bulk_create(incidents, batch_size=2000)
    Responders = Incident.responders.through
    Responders.objects.bulk_create(
        [Responders(incident=incident, user=people[(n + 2) % USERS]) for n, incident in enumerate(incidents)],
        batch_size=5000,
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE incidents_incident, incidents_incident_responders")


def statement_kind(sql: str) -> str:
    """'INSERT incidents_reminder', 'SELECT incidents_incident', 'COMMIT': what a query does, to where."""
    verb = sql.split(None, 1)[0].upper() if sql.strip() else ""
    table = re.search(r'(?:FROM|INTO|UPDATE)\s+"(\w+)"', sql)
    return f"{verb} {table.group(1)}" if table else verb


# The tasks a sweep and its fan-out may queue after their commits: the fan-out of the recorded
# ladder steps, and the deliveries (one per delivery, or per batch).
QUEUEING_TASKS = (
    ("incidents.tasks", "fan_out_reminders"),
    ("notifications.tasks", "deliver"),
    ("notifications.tasks", "deliver_batch"),
)


class QueueingTimer:
    """Counts and times the tasks queued while it is installed; they are still queued for real."""

    def __init__(self) -> None:
        self.calls = 0
        self.seconds = 0.0

    @contextlib.contextmanager
    def installed(self):
        import importlib
        from unittest import mock

        with contextlib.ExitStack() as stack:
            for module_name, name in QUEUEING_TASKS:
                module = importlib.import_module(module_name)
                if hasattr(module, name):
                    stack.enter_context(mock.patch.object(module, name, _TimedTask(getattr(module, name), self)))
            yield self


class _TimedTask:
    def __init__(self, task, timer: QueueingTimer) -> None:
        self._task = task
        self._timer = timer

    def _timed(self, method: str, *args, **kwargs):
        started = time.perf_counter()
        try:
            return getattr(self._task, method)(*args, **kwargs)
        finally:
            self._timer.seconds += time.perf_counter() - started
            self._timer.calls += 1

    def delay(self, *args, **kwargs):
        return self._timed("delay", *args, **kwargs)

    def apply_async(self, *args, **kwargs):
        return self._timed("apply_async", *args, **kwargs)

    def __getattr__(self, name: str):
        return getattr(self._task, name)


def sweep_once(count: int, people: list, redis_url: str) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from incidents import reminders
    from notifications.models import Delivery

    wipe()
    due_incidents_create(count, people)
    queueing = QueueingTimer()
    with queueing.installed(), CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        steps = reminders.reminders_sweep()
        seconds = time.perf_counter() - started
    sql_seconds = sum(float(query["time"]) for query in queries.captured_queries)
    statements = Counter(statement_kind(query["sql"]) for query in queries.captured_queries)
    fan_out = fan_out_once()
    broker_purge(redis_url)
    return {
        "incidents": count,
        "steps_sent": steps,
        "seconds": round(seconds, 3),
        "sql_seconds": round(sql_seconds, 3),
        "queueing_seconds": round(queueing.seconds, 3),
        "tasks_queued": queueing.calls,
        "queries": len(queries.captured_queries),
        "fan_out": fan_out,
        "deliveries": Delivery.objects.count(),
        "statements": dict(statements),
    }


def fan_out_once() -> dict:
    """What the workers then do with the recorded steps, done here batch by batch as the queued
    fan-out tasks would (their queued copies are purged): time per batch and in all, queries per
    batch. Not part of the sweep's target, reported beside it so no work goes unseen."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from incidents import reminders
    from incidents.models import Reminder

    ids = list(Reminder.objects.filter(told_at__isnull=True).order_by("pk").values_list("pk", flat=True))
    batches, queries = [], set()
    for start in range(0, len(ids), reminders.FAN_OUT_BATCH):
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            reminders.reminders_fan_out(reminder_ids=ids[start : start + reminders.FAN_OUT_BATCH])
            batches.append(time.perf_counter() - started)
        queries.add(len(captured.captured_queries))
    return {
        "steps": len(ids),
        "batches": len(batches),
        "seconds_total": round(sum(batches), 3),
        "seconds_per_batch_median": round(statistics.median(batches), 4) if batches else 0,
        "seconds_per_batch_max": round(max(batches), 4) if batches else 0,
        "queries_per_batch": sorted(queries),
    }


def sweep_benchmark(args: argparse.Namespace, people: list, redis_url: str) -> list[dict]:
    results = []
    for count in args.sizes:
        runs = []
        for attempt in range(1, args.repeat + 1):
            run = sweep_once(count, people, redis_url)
            runs.append(run)
            print(
                f"  sweep of {count:>6} incidents, run {attempt}: {run['seconds']:.3f} s "
                f"(SQL {run['sql_seconds']:.3f} s, queueing {run['tasks_queued']} tasks "
                f"{run['queueing_seconds']:.3f} s), "
                f"{run['queries']} queries, {run['steps_sent']} steps",
                flush=True,
            )
            fan_out = run["fan_out"]
            print(
                f"    then told by the workers' fan-out: {fan_out['batches']} batches of up to "
                f"{fan_out['steps'] // max(fan_out['batches'], 1)} steps, {fan_out['seconds_total']:.3f} s in all, "
                f"{fan_out['seconds_per_batch_median']:.3f} s a batch (max {fan_out['seconds_per_batch_max']:.3f} s), "
                f"{'/'.join(map(str, fan_out['queries_per_batch']))} queries a batch",
                flush=True,
            )
        median = statistics.median(run["seconds"] for run in runs)
        results.append(
            {
                "incidents": count,
                "seconds_median": round(median, 3),
                "seconds_min": min(run["seconds"] for run in runs),
                "queries": sorted({run["queries"] for run in runs}),
                "runs": runs,
            }
        )
    return results


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def latency_benchmark(
    count: int,
    people: list,
    database_url: str,
    redis_url: str,
    workdir: Path,
    *,
    backlog: int = 0,
    smtp_delay: float = 0.0,
) -> dict:
    import time_machine
    from django.utils import timezone

    from incidents import services
    from incidents.models import SeverityPolicy
    from notifications.models import Delivery

    wipe()
    broker_purge(redis_url)
    severity = SeverityPolicy.objects.get(key="SEV2")
    severity.update_cadence_minutes = 1
    severity.webhook_url = ""
    severity.save(update_fields=["update_cadence_minutes", "webhook_url"])
    if backlog:
        # Incidents with every ladder step already due: their emails are queued by the first sweep,
        # ahead of everything beat queues after it.
        with time_machine.travel(timezone.now() - timedelta(seconds=125), tick=False):
            for n in range(backlog):
                services.incident_declare(
                    declared_by=people[n % USERS],
                    title=f"Backlog {n}",
                    severity=severity,
                    comms_lead=people[(n + 1) % USERS],
                )
    smtp = SmtpSink(delay=smtp_delay).start()
    worker = CeleryWorker(
        env=worker_env(
            database_url=database_url,
            redis_url=redis_url,
            email_url=smtp.url,
            workdir=workdir,
            sweep_seconds=SWEEP_SECONDS,
        ),
        workdir=workdir / "latency-worker",
    )
    try:
        worker.start()
        first_due = timezone.now() + timedelta(seconds=5)
        measured = set()
        for n in range(count):
            due = first_due + timedelta(seconds=LATENCY_SPREAD_SECONDS * n / max(1, count - 1))
            with time_machine.travel(due - severity.update_cadence, tick=False):
                incident = services.incident_declare(
                    declared_by=people[n % USERS],
                    title=f"Latency bench {n}",
                    severity=severity,
                    comms_lead=people[(n + 1) % USERS],
                )
            measured.add(incident.pk)
        print(f"  {count} incidents due between +5 s and +{5 + LATENCY_SPREAD_SECONDS} s; waiting for reminders")

        def step_one_emails() -> list[tuple]:
            received = smtp.snapshot()
            payloads = dict(
                Delivery.objects.filter(pk__in={m.delivery_id for m in received}).values_list("pk", "message__payload")
            )
            return [
                (message, payloads[message.delivery_id])
                for message in received
                if payloads.get(message.delivery_id, {}).get("event") == "incident.update_reminder"
                and payloads[message.delivery_id].get("step") == 1
                and payloads[message.delivery_id].get("incident_id") in measured
            ]

        wait_for(
            lambda: len(step_one_emails()) >= 2 * count,
            timeout=LATENCY_SPREAD_SECONDS + 5 + 3 * SWEEP_SECONDS + 30 + backlog * 6 * (smtp_delay + 0.05),
            interval=1,
            what=f"{2 * count} step-1 reminder emails",
        )
        latencies = []
        for message, payload in step_one_emails():
            due = datetime.fromisoformat(payload["due_at"]).timestamp()
            latencies.append(message.received_at - due)
    finally:
        worker.stop()
        smtp.stop()
        broker_purge(redis_url)
    # Beat's sweeps expire (after 3 intervals) when they wait in the queue behind deliveries.
    discarded = worker.log().count("Discarding revoked task: incidents.tasks.sweep_reminders")
    return {
        "incidents": count,
        "emails": len(latencies),
        "sweep_seconds": SWEEP_SECONDS,
        "backlog_incidents": backlog,
        "sweeps_discarded": discarded,
        "smtp_delay": smtp_delay,
        "p50": round(statistics.median(latencies), 2),
        "p95": round(percentile(latencies, 0.95), 2),
        "p99": round(percentile(latencies, 0.99), 2),
        "min": round(min(latencies), 2),
        "max": round(max(latencies), 2),
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    database_url = with_database(
        local_url(os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL, "DATABASE_URL"), DATABASE
    )
    redis_url = local_url(os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL, "REDIS_URL")
    database_ensure(database_url)
    workdir = bench_process(
        module="bench.sweep",
        database_url=database_url,
        redis_url=redis_url,
        argv=sys.argv[1:] if argv is None else argv,
    )
    migrate()
    load = os.getloadavg()
    print(f"database {DATABASE}, Redis {redis_url}; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    people = users_pool()
    from incidents.models import SeverityPolicy

    SeverityPolicy.objects.filter(key="SEV2").update(update_cadence_minutes=30, webhook_url="")

    print("One reminders_sweep() call, step 1 due for every incident:")
    sweeps = sweep_benchmark(args, people, redis_url)
    latency = latency_backlog = None
    if args.latency_incidents:
        print(f"Reminder latency with a worker and beat (sweep every {SWEEP_SECONDS} s):")
        latency = latency_benchmark(args.latency_incidents, people, database_url, redis_url, workdir)
        if args.backlog_incidents:
            print(
                f"Reminder latency behind a delivery backlog ({args.backlog_incidents} incidents with every step "
                f"due, SMTP taking {args.smtp_delay} s a message):"
            )
            latency_backlog = latency_benchmark(
                args.latency_incidents,
                people,
                database_url,
                redis_url,
                workdir / "backlog",
                backlog=args.backlog_incidents,
                smtp_delay=args.smtp_delay,
            )

    by_size = {row["incidents"]: row for row in sweeps}
    largest = by_size[max(by_size)]
    query_counts = {size: row["queries"] for size, row in by_size.items()}
    flat = len({count for counts in query_counts.values() for count in counts}) == 1
    checks = [
        {
            "target": f"one sweep of {max(by_size):,} incidents ≤ {SWEEP_TARGET_SECONDS} s",
            "figure": f"{largest['seconds_median']:.2f} s (median of {len(largest['runs'])})",
            "ok": largest["seconds_median"] <= SWEEP_TARGET_SECONDS,
        },
        {
            "target": "queries do not grow with incidents",
            "figure": ", ".join(f"{size:,}: {'/'.join(map(str, counts))}" for size, counts in query_counts.items()),
            "ok": flat,
        },
    ]
    if latency:
        checks.append(
            {
                "target": f"reminder latency p99 ≤ {LATENCY_TARGET_P99:.0f} s",
                "figure": f"p50 {latency['p50']:.1f} s, p95 {latency['p95']:.1f} s, p99 {latency['p99']:.1f} s "
                f"(max {latency['max']:.1f} s, {latency['emails']} emails)",
                "ok": latency["p99"] <= LATENCY_TARGET_P99,
            }
        )

    if latency_backlog:
        checks.append(
            {
                "target": f"reminder latency p99 ≤ {LATENCY_TARGET_P99:.0f} s behind a delivery backlog",
                "figure": f"p50 {latency_backlog['p50']:.1f} s, p99 {latency_backlog['p99']:.1f} s "
                f"(max {latency_backlog['max']:.1f} s; {latency_backlog['sweeps_discarded']} sweeps expired in the "
                "queue)",
                "ok": latency_backlog["p99"] <= LATENCY_TARGET_P99,
            }
        )

    print()
    print(f"{'incidents':>10} {'steps':>7} {'median s':>9} {'min s':>7} {'SQL s':>7} {'queue s':>8} {'queries':>8}")
    for row in sweeps:
        first = row["runs"][0]
        print(
            f"{row['incidents']:>10,} {first['steps_sent']:>7,} "
            f"{row['seconds_median']:>9.3f} {row['seconds_min']:>7.3f} "
            f"{statistics.median(r['sql_seconds'] for r in row['runs']):>7.3f} "
            f"{statistics.median(r['queueing_seconds'] for r in row['runs']):>8.3f} "
            f"{'/'.join(map(str, row['queries'])):>8}"
        )
    if not flat:
        smallest, largest_size = min(by_size), max(by_size)
        few = Counter(by_size[smallest]["runs"][0]["statements"])
        many = Counter(by_size[largest_size]["runs"][0]["statements"])
        grown = {kind: (few[kind], many[kind]) for kind in many | few if many[kind] != few[kind]}
        print(f"statements whose count differs between {smallest:,} and {largest_size:,} incidents:")
        for kind, (a, b) in sorted(grown.items()):
            print(f"  {kind}: {a} → {b}")
    print()
    for check in checks:
        print(f"  {'ok  ' if check['ok'] else 'MISS'} {check['target']}: {check['figure']}")

    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(
        json.dumps(
            {
                "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "load_average": load,
                "sweeps": sweeps,
                "latency": latency,
                "latency_behind_backlog": latency_backlog,
                "checks": checks,
            },
            indent=2,
        )
    )
    print(f"written {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
