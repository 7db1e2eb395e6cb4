"""Fault test for reminder delivery: kill the worker and restart Redis while reminders go out, then
count, for every delivery the app planned, how often it arrived.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379/9 \\
        .venv/bin/python -m bench.fault [--incidents 200] [--kills 4] [--seed 1]

Both variables default to those servers; only their server is used: the run makes a fresh
database (`--database`, default `incident_fault`, dropped and created again, then migrated) and
uses the Redis database of REDIS_URL. Everything talks to 127.0.0.1 only; other hosts are refused.

1. Fixture, through the services: users, SEV2 with a 1-minute cadence, its webhook channel pointing
   at a local receiver and the admin group as escalation contacts; then `--incidents` incidents
   declared 125 s in the past (time-machine, this process only), so all three ladder steps are due.
   Each incident owes 10 emails (on declaration: its comms lead and responder are told their roles;
   step 1: lead and comms lead; step 2: those two and the responder; step 3: the escalation
   contact; and two pages: it affects a service of a team its lead is not in, whose escalation
   policy pages one person at level 1 on declaration and another at level 2 a minute later) and 2
   webhook posts (the declaration, step 2).
2. A Celery worker with embedded beat (sweep every second) delivering to an aiosmtpd SMTP server
   and an HTTP webhook receiver, each taking `--receiver-delay` to accept a message, so delivery
   is still going on while the faults come. Each receiver runs in a process of its own
   (bench/receivers.py): sharing this process's interpreter lock, they would decide when the
   killing thread runs, and the kills would land right after a receiver answered.
3. Faults: `--kills` times, 2 to 4 s after the worker is ready and while deliveries are going out
   (after the Redis restart that means once the requeue has found the lost ones), SIGKILL its
   whole process group (worker, pool and beat) and start it again; once, between the kills
   (`--redis-restart-after`), restart the Redis of REDIS_URL (`shutdown nosave`, then
   `redis-server --daemonize yes --bind 127.0.0.1 --port <its port> --save "" --appendonly no`),
   so point REDIS_URL at a Redis of its own when others use yours. That Redis keeps nothing, so
   every queued task message is lost (other users of that Redis lose theirs too: it happens at
   most once a run); the app's periodic requeue of deliveries still pending after 20 s (run every 30 s) must
   recover them. A whole run takes about 3 to 4 minutes.
4. Settle: wait (up to `--settle-timeout`) until every ladder step is recorded and its people
   told, no delivery is pending and nothing new has arrived for `--quiet` seconds; stop the worker.
5. Count, by the delivery id each message carries (X-Incident-Desk-Delivery on email, the body's
   delivery_id on webhooks): lost (planned, never arrived), duplicated (arrived more than once)
   and the raw excess (messages received minus distinct deliveries received): what a receiver
   without deduplication sees. Then by key, as a mailbox dropping repeated Message-IDs or a
   receiver dropping repeated Idempotency-Keys sees them: a delivery that arrived under two keys,
   or a message without one, counts there. Delivery is at least once, so raw repeats are a figure
   of the run; each is shown with whether a SIGKILL fell between its arrivals (the receiver took
   the message, the worker died before its database commit).

Prints a summary and PASS (settled, nothing lost, no repeat by key) or FAIL; exits 0 either way,
and non-zero only when the run itself could not be done. Every process it starts is stopped on
exit, Ctrl-C or error, and Redis is started again if it was left down.
"""

import argparse
import contextlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlparse, urlunparse

from bench.receivers import ReceiverProcess
from tests.integration.harness import (
    HOST,
    CeleryWorker,
    broker_purge,
    worker_env,
)

BASE_DIR = Path(__file__).resolve().parent.parent
RESULTS_DIR = BASE_DIR / "bench" / "results"
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/9"
BENCH_ENV_FLAG = "INCIDENT_DESK_BENCH_ENV"
# 8 for the reminders and role notices, 2 pages (level 1, then level 2 a minute later).
EMAILS_PER_INCIDENT = 10
PAGES_PER_INCIDENT = 2
WEBHOOKS_PER_INCIDENT = 2


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.fault", description=__doc__.split("\n\n")[0])
    parser.add_argument("--incidents", type=int, default=200)
    parser.add_argument("--kills", type=int, default=4, help="SIGKILLs of the worker's process group")
    parser.add_argument("--redis-restart-after", type=int, default=2, help="restart Redis after this many kills")
    parser.add_argument(
        "--redis-restart", action=argparse.BooleanOptionalAction, default=True, help="restart Redis once (default)"
    )
    parser.add_argument("--database", default="incident_fault", help="dropped and created again; must hold 'fault'")
    parser.add_argument("--receiver-delay", type=float, default=0.02, help="seconds the sinks take per message")
    parser.add_argument("--settle-timeout", type=float, default=240, help="seconds to wait after the last fault")
    parser.add_argument("--quiet", type=float, default=10, help="seconds without arrivals that mean settled")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--output", type=Path, default=RESULTS_DIR / "fault.json")
    return parser.parse_args(argv)


# --- Servers on 127.0.0.1 -----------------------------------------------------------------------


def local_url(url: str, what: str) -> str:
    host = urlparse(url).hostname
    if host != HOST:
        raise SystemExit(f"{what} must point at {HOST}, not {host!r}: {url}")
    return url


def with_database(url: str, name: str) -> str:
    return urlunparse(urlparse(url)._replace(path=f"/{name}"))


def database_recreate(url: str, name: str, *, marker: str) -> str:
    """Drop and create database `name` on the server of `url`; return its URL."""
    import psycopg
    from psycopg import sql

    if marker not in name:
        raise SystemExit(f"refusing to drop database {name!r}: its name lacks {marker!r}")
    with psycopg.connect(with_database(url, "postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return with_database(url, name)


def bench_process(*, module: str, database_url: str, redis_url: str, argv: list[str]) -> Path:
    """Point this process's Django at `database_url` and `redis_url`, re-executing it once to do so.

    Settings are built from the environment when first read, and `python -m bench.…` imports the
    `bench` package (which imports `config`) before this code runs: whatever reads them early gets
    the caller's environment (without DATABASE_URL, the developer's SQLite file and filesystem
    broker). So the environment is set and the interpreter started again, and the settings are
    checked before anything is written. Returns the run's scratch folder (VAR_DIR)."""
    wanted = f"{database_url} {redis_url}"
    if os.environ.get(BENCH_ENV_FLAG) != wanted:
        os.environ.update(
            {
                BENCH_ENV_FLAG: wanted,
                "DJANGO_SETTINGS_MODULE": "bench.settings",
                "DATABASE_URL": database_url,
                "REDIS_URL": redis_url,
                "VAR_DIR": tempfile.mkdtemp(prefix=f"{module.rsplit('.', 1)[-1]}-"),
                "SITE_URL": "http://testserver",
                "LOG_LEVEL": "WARNING",
                "EMAIL_URL": "console://",
                # The webhook receiver listens on 127.0.0.1, which webhooks may not reach otherwise.
                "OUTBOUND_ALLOWED_NETWORKS": "127.0.0.1/32",
            }
        )
        sys.stdout.flush()
        os.execv(sys.executable, [sys.executable, "-m", module, *argv])  # noqa: S606 - this same program
    import django
    from django.conf import settings

    database = settings.DATABASES["default"]
    name = urlparse(database_url).path.lstrip("/")
    pointed_at = (database["ENGINE"], database["NAME"], database["HOST"], settings.CELERY_BROKER_URL)
    if pointed_at != ("django.db.backends.postgresql", name, HOST, redis_url):
        raise SystemExit(f"settings do not point at {database_url} and {redis_url}; refusing to run")
    django.setup()
    return Path(os.environ["VAR_DIR"])


def migrate() -> None:
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def redis_ping(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def redis_start(port: int) -> None:
    subprocess.run(
        [
            "redis-server",
            "--daemonize",
            "yes",
            "--bind",
            HOST,
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
        timeout=10,
    )
    deadline = time.monotonic() + 10
    while not redis_ping(port):
        if time.monotonic() > deadline:
            raise RuntimeError(f"Redis did not come back on {HOST}:{port}")
        time.sleep(0.05)


def redis_restart(port: int) -> float:
    """Shut Redis down without saving and start it again; returns the seconds it was away."""
    started = time.monotonic()
    subprocess.run(["redis-cli", "-h", HOST, "-p", str(port), "shutdown", "nosave"], check=False, timeout=10)
    deadline = time.monotonic() + 10
    while redis_ping(port):
        if time.monotonic() > deadline:
            raise RuntimeError("Redis did not shut down")
        time.sleep(0.05)
    redis_start(port)
    return time.monotonic() - started


# --- Fixture -------------------------------------------------------------------------------------


def fixture_create(*, incidents: int, webhook_url: str) -> dict:
    import time_machine
    from django.contrib.auth.models import Group, User
    from django.utils import timezone

    from incidents import services
    from incidents.models import Service, SeverityPolicy, Team
    from paging.models import EscalationLevel, EscalationPolicy

    def users(prefix: str, count: int, group: str) -> list[User]:
        made = []
        for n in range(count):
            user = User.objects.create_user(f"{prefix}{n}", email=f"{prefix}{n}@example.com", password=None)
            user.groups.add(Group.objects.get(name=group))
            made.append(user)
        return made

    leads, comms, responders = (
        users("lead", 10, "responder"),
        users("comms", 10, "responder"),
        users("resp", 10, "responder"),
    )
    users("boss", 1, "admin")
    pagers = users("pager", 2, "responder")
    team = Team.objects.create(name="Fault drill", slug="fault-drill")
    team.members.set(pagers)
    service = Service.objects.create(name="Drill", slug="drill", owner_team=team)
    escalation = EscalationPolicy.objects.create(team=team, name="Fault drill escalation")
    for position, pager in enumerate(pagers, start=1):
        EscalationLevel.objects.create(policy=escalation, position=position, delay_minutes=1).users.set([pager])
    policy = SeverityPolicy.objects.get(key="SEV2")
    policy.update_cadence_minutes = 1
    policy.webhook_url = webhook_url
    policy.save(update_fields=["update_cadence_minutes", "webhook_url"])
    policy.escalation_groups.set([Group.objects.get(name="admin")])
    # Nobody is in the groups SEV2 tells on declaration: its only declaration notice is the webhook.
    assert not User.objects.filter(groups__in=policy.notified_groups.all()).exists()

    with time_machine.travel(timezone.now() - timedelta(seconds=125), tick=False):
        for n in range(incidents):
            services.incident_declare(
                declared_by=leads[n % 10],
                title=f"Fault drill {n}",
                severity=policy,
                comms_lead=comms[n % 10],
                responders=[responders[n % 10]],
                affected_services=[service],
            )
    return {"emails": incidents * EMAILS_PER_INCIDENT, "webhooks": incidents * WEBHOOKS_PER_INCIDENT}


def progress() -> dict:
    from incidents.models import Reminder
    from notifications.models import Channel, Delivery
    from paging.models import Page

    statuses = Counter(
        Delivery.objects.exclude(channel=Channel.IN_APP).values_list("status", flat=True).iterator(chunk_size=5000)
    )
    return {"reminders": Reminder.objects.count(), "pages": Page.objects.count(), **statuses}


def sent_count() -> int:
    from notifications.models import Channel, Delivery, DeliveryStatus

    return Delivery.objects.exclude(channel=Channel.IN_APP).filter(status=DeliveryStatus.SENT).count()


# Deliveries sent per second that count as "going out" (not a straggler or two).
FLOWING = 5


def delivering(*, within: float = 1.0) -> bool:
    """Whether deliveries are going out: at least FLOWING sent in the next `within` seconds."""
    before = sent_count()
    time.sleep(within)
    return sent_count() - before >= FLOWING * within


def wait_delivering(*, timeout: float) -> bool:
    from notifications.models import Channel, Delivery, DeliveryStatus

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if delivering():
            return True
        if not Delivery.objects.exclude(channel=Channel.IN_APP).filter(status=DeliveryStatus.PENDING).exists():
            return False
    return False


# --- Counting ------------------------------------------------------------------------------------


def nearest_ms(kills: list[float], moment: float) -> float | None:
    """Milliseconds from `moment` to the SIGKILL nearest it (negative: the kill came first)."""
    if not kills:
        return None
    return round((min(kills, key=lambda kill: abs(kill - moment)) - moment) * 1000, 1)


def tally(expected_ids: set[int], received: list, kills: list[float]) -> dict:
    """Per channel: how many planned deliveries arrived 0, 1 or more times, counted two ways. Raw:
    every message received. By key: as a mailbox or a webhook receiver that drops a repeated
    Message-ID or Idempotency-Key sees them, where a delivery that arrived under two keys, or a
    message without a key, would show twice."""
    identified = [item for item in received if item.delivery_id is not None]
    counts = Counter(item.delivery_id for item in identified)
    arrivals: dict[int, list[float]] = {}
    keys: dict[int, set[str]] = {}
    for item in identified:
        arrivals.setdefault(item.delivery_id, []).append(item.received_at)
        keys.setdefault(item.delivery_id, set()).add(getattr(item, "key", "") or "")
    duplicated = sorted(pk for pk in expected_ids if counts[pk] > 1)
    # Beyond the first of each delivery, what a receiver dropping repeats by key still sees.
    by_key_excess = sum(len(found) - 1 for found in keys.values()) + sum(1 for found in keys.values() if "" in found)
    return {
        "expected": len(expected_ids),
        "delivered_once": sum(1 for pk in expected_ids if counts[pk] == 1),
        "lost": sorted(pk for pk in expected_ids if counts[pk] == 0),
        "duplicated": duplicated,
        "raw_received": len(received),
        # Messages beyond the first of each delivery: what a receiver without deduplication sees twice.
        "raw_excess": len(identified) - len(counts),
        "by_key_excess": by_key_excess,
        "unknown_ids": sorted(pk for pk in counts if pk not in expected_ids),
        "without_id": len(received) - len(identified),
        "duplicate_detail": [
            {
                "delivery": pk,
                "times": counts[pk],
                "keys": sorted(keys[pk]),
                "gap_seconds": round(max(arrivals[pk]) - min(arrivals[pk]), 2),
                "sigkill_between": any(min(arrivals[pk]) <= k <= max(arrivals[pk]) for k in kills),
                # A receiver busy with a message when its sender dies may still record it after
                # the SIGKILL: the kill then falls just before the first arrival.
                "nearest_sigkill_ms": nearest_ms(kills, min(arrivals[pk])),
            }
            for pk in duplicated
        ],
    }


# --- Run -----------------------------------------------------------------------------------------


class Run:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.t0 = time.monotonic()
        self.kills: list[float] = []  # time.time() of each SIGKILL
        self.timeline: list[str] = []
        self.redis_port = 6379

    def note(self, text: str) -> None:
        line = f"[{time.monotonic() - self.t0:6.1f}s] {text}"
        self.timeline.append(line)
        print(line, flush=True)

    def status(self) -> str:
        state = progress()
        return (
            f"reminder steps {state['reminders']}, deliveries sent {state.get('sent', 0)}, "
            f"pending {state.get('pending', 0)}, failed {state.get('failed', 0)}"
        )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    rng = random.Random(args.seed)
    database_url = with_database(
        local_url(os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL, "DATABASE_URL"), args.database
    )
    redis_url = local_url(os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL, "REDIS_URL")
    workdir = bench_process(
        module="bench.fault",
        database_url=database_url,
        redis_url=redis_url,
        argv=sys.argv[1:] if argv is None else argv,
    )
    run = Run(args)
    run.redis_port = urlparse(redis_url).port or 6379
    smtp = ReceiverProcess("smtp", delay=args.receiver_delay, workdir=workdir)
    hooks = ReceiverProcess("webhook", delay=args.receiver_delay, workdir=workdir)
    worker: CeleryWorker | None = None

    def terminate(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    # Explicitly, as a shell's background job starts with SIGINT ignored.
    signal.signal(signal.SIGTERM, terminate)
    signal.signal(signal.SIGINT, terminate)
    try:
        database_recreate(database_url, args.database, marker="fault")
        migrate()
        broker_purge(redis_url)
        smtp.start()
        hooks.start()
        run.note(f"database {args.database} migrated; SMTP {smtp.url}, webhooks {hooks.url}; logs in {workdir}")
        planned = fixture_create(incidents=args.incidents, webhook_url=hooks.url)
        run.note(f"{args.incidents} incidents declared 125 s ago; planned {planned}")

        worker = CeleryWorker(
            env=worker_env(database_url=database_url, redis_url=redis_url, email_url=smtp.url, workdir=workdir),
            workdir=workdir,
        )
        worker.start()
        run.note("worker started")
        for kill in range(1, args.kills + 1):
            time.sleep(rng.uniform(2, 4))
            if args.redis_restart and kill == args.redis_restart_after + 1:
                away = redis_restart(run.redis_port)
                run.note(f"Redis restarted (away {away:.2f} s): every queued message lost; {run.status()}")
                time.sleep(rng.uniform(1, 2))
            if not delivering(within=1.0):
                # After the Redis restart nothing is queued until the requeue finds the lost
                # deliveries (20 to 50 s); a kill is only a fault while deliveries are going out.
                run.note(f"waiting for deliveries to flow again before SIGKILL {kill}; {run.status()}")
                if not wait_delivering(timeout=args.settle_timeout):
                    run.note("nothing left to deliver; killing anyway")
                time.sleep(rng.uniform(1, 3))
            # The moment of the signal, not of the reaped process: waiting for the group to die
            # takes milliseconds, and the duplicates' distances to the kill are measured from here.
            run.kills.append(time.time())
            worker.kill()
            run.note(f"SIGKILL {kill}/{args.kills} to the worker's process group; {run.status()}")
            worker.start()
            run.note(f"worker started again ({worker.starts})")
        if args.redis_restart and args.redis_restart_after >= args.kills:
            away = redis_restart(run.redis_port)
            run.note(f"Redis restarted (away {away:.2f} s); {run.status()}")

        settled = settle(run, smtp, hooks, planned)
        worker.stop()
        worker_log = worker.log()
        run.note(f"worker stopped; {run.status()}")
        return report(run, smtp, hooks, planned, settled, worker_log, workdir)
    except KeyboardInterrupt:
        print("interrupted; cleaning up", file=sys.stderr)
        return 130
    finally:
        if worker is not None:
            worker.stop(timeout=10)
        smtp.stop()
        hooks.stop()
        if not redis_ping(run.redis_port):
            print(f"Redis is down on {HOST}:{run.redis_port}; starting it again", file=sys.stderr)
            redis_start(run.redis_port)
        with contextlib.suppress(Exception):
            broker_purge(redis_url)


def settle(run: Run, smtp: ReceiverProcess, hooks: ReceiverProcess, planned: dict) -> bool:
    from incidents.models import Reminder
    from notifications.models import Channel, Delivery, DeliveryStatus
    from paging.models import Page

    steps_planned = run.args.incidents * 3
    deadline = time.monotonic() + run.args.settle_timeout
    last_arrivals, last_change, last_print = -1, time.monotonic(), 0.0
    while time.monotonic() < deadline:
        arrivals = len(smtp.snapshot()) + len(hooks.snapshot())
        if arrivals != last_arrivals:
            last_arrivals, last_change = arrivals, time.monotonic()
        done = (
            Reminder.objects.count() >= steps_planned
            and not Reminder.objects.filter(told_at__isnull=True).exists()
            and Page.objects.count() >= run.args.incidents * PAGES_PER_INCIDENT
            and not Page.objects.filter(told_at__isnull=True).exists()
            and not Delivery.objects.exclude(channel=Channel.IN_APP).filter(status=DeliveryStatus.PENDING).exists()
        )
        quiet = time.monotonic() - last_change
        if done and quiet >= run.args.quiet:
            run.note(f"settled: {run.status()}")
            return True
        if time.monotonic() - last_print >= 10:
            last_print = time.monotonic()
            run.note(f"settling: {run.status()}; {arrivals} messages received, quiet {quiet:.0f} s")
        time.sleep(0.5)
    run.note(f"NOT settled after {run.args.settle_timeout:.0f} s: {run.status()}")
    return False


def report(
    run: Run,
    smtp: ReceiverProcess,
    hooks: ReceiverProcess,
    planned: dict,
    settled: bool,
    worker_log: str,
    workdir: Path,
) -> int:
    from incidents.models import Reminder
    from notifications.models import Channel, Delivery
    from paging.models import Page

    rows = Delivery.objects.exclude(channel=Channel.IN_APP).values_list("pk", "channel", "status")
    by_channel: dict[str, set[int]] = {Channel.EMAIL: set(), Channel.WEBHOOK: set()}
    statuses: Counter = Counter()
    for pk, channel, status in rows:
        by_channel[channel].add(pk)
        statuses[status] += 1
    results = {
        "email": tally(by_channel[Channel.EMAIL], smtp.snapshot(), run.kills),
        "webhook": tally(by_channel[Channel.WEBHOOK], hooks.snapshot(), run.kills),
    }
    # Deliveries never even planned (a ladder step lost) count as lost too.
    for channel, result in results.items():
        result["planned"] = planned[f"{channel}s"]
        result["never_planned"] = max(0, result["planned"] - result["expected"])
    reminder_steps = Reminder.objects.count()
    lost = sum(len(r["lost"]) + r["never_planned"] for r in results.values())
    duplicated = sum(len(r["duplicated"]) for r in results.values())
    raw_excess = sum(r["raw_excess"] for r in results.values())
    by_key_excess = sum(r["by_key_excess"] for r in results.values())
    tracebacks = worker_log.count("Traceback")
    # Delivery tasks that found their delivery already sent: harmless, but work done twice.
    redundant = worker_log.count("'already'")

    print()
    restarts = 1 if run.args.redis_restart else 0
    print(f"Fault test: {run.args.incidents} incidents, {len(run.kills)} SIGKILLs, {restarts} Redis restart")
    print(
        f"ladder steps recorded: {reminder_steps}/{run.args.incidents * 3}; delivery rows by status: {dict(statuses)}"
    )
    pages = Page.objects.count()
    untold = Page.objects.filter(told_at__isnull=True).count()
    print(f"pages recorded: {pages}/{run.args.incidents * PAGES_PER_INCIDENT}, told: {pages - untold}")
    columns = ["planned", "rows", "once", "lost(0)", "dup(>1)", "raw rcvd", "raw excess", "by key(0)"]
    header = f"{'channel':8} " + " ".join(f"{name:>10}" for name in columns)
    print(header)
    print("-" * len(header))
    for channel, r in results.items():
        values = [
            r["planned"],
            r["expected"],
            r["delivered_once"],
            len(r["lost"]) + r["never_planned"],
            len(r["duplicated"]),
            r["raw_received"],
            r["raw_excess"],
            r["by_key_excess"],
        ]
        print(f"{channel:8} " + " ".join(f"{value:>10}" for value in values))
        for item in r["duplicate_detail"]:
            why = "a SIGKILL fell between the arrivals" if item["sigkill_between"] else "no SIGKILL between them"
            nearest = item["nearest_sigkill_ms"]
            if nearest is not None:
                why += f"; the nearest SIGKILL {abs(nearest):.1f} ms {'before' if nearest < 0 else 'after'} the first"
            same = "same key" if len(item["keys"]) == 1 and item["keys"][0] else f"keys {item['keys']}"
            print(
                f"    duplicate: delivery {item['delivery']} x{item['times']} ({same}), "
                f"{item['gap_seconds']} s apart, {why}"
            )
        if r["lost"]:
            print(f"    lost delivery ids: {r['lost'][:20]}{' …' if len(r['lost']) > 20 else ''}")
        if r["unknown_ids"] or r["without_id"]:
            print(f"    received with an unknown delivery id: {r['unknown_ids'][:20]}; without one: {r['without_id']}")
    print(
        f"worker log: {workdir / 'celery-worker.log'} ({tracebacks} tracebacks; "
        f"{redundant} delivery attempts found their delivery already sent)"
    )
    # At least once: a raw repeat is a figure to watch, not a failure; a repeat that a receiver
    # dropping repeated Message-IDs / Idempotency-Keys would still see is one.
    verdicts = {
        "settled": settled,
        "nothing lost": lost == 0,
        "no repeat by Message-ID / Idempotency-Key": by_key_excess == 0,
    }
    for name, ok in verdicts.items():
        print(f"  {'ok  ' if ok else 'FAIL'} {name}")
    verdict = "PASS" if all(verdicts.values()) else "FAIL"
    print(
        f"{verdict}: lost {lost}; repeats raw: {duplicated} deliveries, {raw_excess} excess messages; "
        f"repeats by Message-ID / Idempotency-Key: {by_key_excess}"
    )

    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    run.args.output.write_text(
        json.dumps(
            {
                "verdict": verdict,
                "verdicts": verdicts,
                "lost": lost,
                "duplicated": duplicated,
                "raw_excess": raw_excess,
                "by_key_excess": by_key_excess,
                "reminder_steps": reminder_steps,
                "delivery_status": dict(statuses),
                "channels": results,
                "timeline": run.timeline,
                "worker_tracebacks": tracebacks,
                "attempts_already_sent": redundant,
                "args": {k: str(v) for k, v in vars(run.args).items()},
            },
            indent=2,
        )
    )
    print(f"written {run.args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
