"""Who is on call: 100 services owned by 10 teams, each team with one schedule (10 schedules) of
two layers — a weekly primary and a daily or 12-hour secondary, six people each, in five time
zones — and a year of past and future overrides (about 100 per schedule).

    DJANGO_SETTINGS_MODULE=bench.settings DATABASE_URL=postgres://…/oncall_bench \\
        .venv/bin/python -m bench.oncall --setup

Its own database (default name oncall_bench; it refuses a name without "bench"); the data is
written through oncall.services each run (a few seconds). Measured in-process:
- selector: oncall.selectors.on_call_for_service for one service at a random moment within a
  year either side of now (two queries: the rotation members with their rotations, schedules and users; the overrides),
- batch: on_call_for_services for all 100 services at once (the same two queries),
- you: current_shift_for_user for a random person (the header's line).
Each runs --repeat times after a warm-up; p50/p95/p99. Target: selector p95 ≤ 5 ms.
Results: bench/results/oncall.json.
"""

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from datetime import time as clock
from pathlib import Path

import django

TARGET_P95_MS = 5.0
TEAMS = 10
SERVICES_PER_TEAM = 10
PEOPLE_PER_LAYER = 6
OVERRIDES_PER_SCHEDULE = 100
ZONES = ["Europe/London", "America/New_York", "Asia/Tokyo", "Australia/Sydney", "Europe/Berlin"]


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=2000, help="timed calls of the selector")
    parser.add_argument("--setup", action="store_true", help="create the database if missing and migrate it")
    parser.add_argument("--seed", type=int, default=18)
    parser.add_argument("--force", action="store_true", help="allow a database whose name lacks 'bench'")
    return parser.parse_args(argv)


def generate(rng: random.Random, now: datetime) -> list:
    from django.contrib.auth import get_user_model
    from django.db import transaction

    from incidents.models import Service, Team
    from oncall import services
    from oncall.models import Schedule

    User = get_user_model()
    with transaction.atomic():
        Schedule.objects.all().delete()
        Service.objects.filter(slug__startswith="oncall-bench-").delete()
        Team.objects.filter(slug__startswith="oncall-bench-").delete()
        people = [
            User.objects.get_or_create(username=f"oncall-bench-{n}", defaults={"first_name": f"Person {n}"})[0]
            for n in range(TEAMS * PEOPLE_PER_LAYER)
        ]
        for t in range(TEAMS):
            team = Team.objects.create(name=f"Bench team {t}", slug=f"oncall-bench-{t}")
            Service.objects.bulk_create(
                Service(name=f"Bench service {t}-{s}", slug=f"oncall-bench-{t}-{s}", owner_team=team)
                for s in range(SERVICES_PER_TEAM)
            )
            members = rng.sample(people, PEOPLE_PER_LAYER)
            start = (now - timedelta(days=rng.randint(30, 400))).date()
            schedule = services.schedule_create(
                team=team,
                name="Primary",
                time_zone=ZONES[t % len(ZONES)],
                rotations=[
                    {"name": "Weekly", "start_date": start, "members": members, "shift_length": 7},
                    {
                        "name": "Secondary",
                        "start_date": start,
                        "members": list(reversed(members)),
                        "shift_length": rng.choice([1, 12]),
                        "shift_unit": rng.choice(["days", "hours"]),
                        "handoff_time": clock(rng.randint(0, 23)),
                    },
                ],
            )
            rotations = list(schedule.rotations.all())
            for _ in range(OVERRIDES_PER_SCHEDULE):
                starts = now + timedelta(hours=rng.randint(-24 * 365, 24 * 365))
                services.override_add(
                    schedule=schedule,
                    user=rng.choice(people),
                    starts_at=starts,
                    ends_at=starts + timedelta(hours=rng.randint(1, 48)),
                    rotation=rng.choice([None, *rotations]),
                )
    with django.db.connection.cursor() as cursor:
        cursor.execute("ANALYZE oncall_override; ANALYZE oncall_rotationmember; ANALYZE incidents_service")
    return people


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def figures(values: list[float]) -> dict:
    return {
        "p50": statistics.median(values),
        "p95": percentile(values, 0.95),
        "p99": percentile(values, 0.99),
        "runs": len(values),
    }


def timed(call, repeat: int) -> list[float]:
    for _ in range(min(50, repeat)):
        call()
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        runs.append((time.perf_counter() - started) * 1000)
    return runs


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/oncall_bench")
    django.setup()
    from django.db import connection

    from bench.generate import setup_database
    from incidents.models import Service
    from oncall import selectors

    if connection.vendor != "postgresql":
        print("The on-call benchmark measures PostgreSQL: set DATABASE_URL.", file=sys.stderr)
        return 2
    database = str(connection.settings_dict["NAME"])
    if "bench" not in database and not args.force:
        print(f"Refusing to replace schedules in '{database}': its name lacks 'bench' (use --force).", file=sys.stderr)
        return 2
    if args.setup:
        setup_database(connection)
    rng = random.Random(args.seed)
    now = datetime.now(UTC)
    started = time.perf_counter()
    people = generate(rng, now)
    generated = time.perf_counter() - started
    services = list(Service.objects.filter(slug__startswith="oncall-bench-"))
    print(f"{len(services)} services, {TEAMS} schedules written in {generated:.1f} s")

    def moment() -> datetime:
        return now + timedelta(seconds=rng.randint(-365 * 86400, 365 * 86400))

    results = {
        "selector": figures(
            timed(lambda: selectors.on_call_for_service(service=rng.choice(services), at=moment()), args.repeat)
        ),
        "batch": figures(
            timed(lambda: selectors.on_call_for_services(services=services, at=moment()), args.repeat // 10)
        ),
        "you": figures(
            timed(lambda: selectors.current_shift_for_user(user=rng.choice(people), at=moment()), args.repeat // 4)
        ),
    }
    # Where a call's time goes: the database's share, measured apart (capturing adds a little).
    from django.test.utils import CaptureQueriesContext

    sample = 200
    with CaptureQueriesContext(connection) as captured:
        started = time.perf_counter()
        for _ in range(sample):
            selectors.on_call_for_service(service=rng.choice(services), at=moment())
        whole_ms = (time.perf_counter() - started) * 1000 / sample
    sql_ms = sum(float(query["time"]) for query in captured.captured_queries) * 1000 / sample
    results["selector"] |= {
        "queries_per_call": len(captured.captured_queries) / sample,
        "mean_ms": whole_ms,
        "mean_sql_ms": sql_ms,
    }
    load = os.getloadavg()
    print(
        f"selector: {len(captured.captured_queries) / sample:.0f} queries a call; mean {whole_ms:.2f} ms, "
        f"of which {sql_ms:.2f} ms waiting for PostgreSQL"
    )
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    for name, values in results.items():
        print(f"{name:9} p50 {values['p50']:.2f} ms, p95 {values['p95']:.2f} ms, p99 {values['p99']:.2f} ms")
    verdict = "meets" if results["selector"]["p95"] <= TARGET_P95_MS else "MISSES"
    print(f"on_call_for_service {verdict} the p95 ≤ {TARGET_P95_MS:.0f} ms target")

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "oncall.json").write_text(
        json.dumps(
            {
                "services": len(services),
                "schedules": TEAMS,
                "overrides_per_schedule": OVERRIDES_PER_SCHEDULE,
                "target_p95_ms": TARGET_P95_MS,
                "results": results,
                "load_average": load,
                "generated_seconds": generated,
                "commit": commit,
            },
            indent=2,
        )
    )
    return 0 if verdict == "meets" else 1


if __name__ == "__main__":
    sys.exit(main())
