"""Runbook search over 5,000 runbooks on PostgreSQL: p95 per query against the 30 ms target.

    DJANGO_SETTINGS_MODULE=bench.settings DATABASE_URL=postgres://…/runbook_bench \\
        .venv/bin/python -m bench.runbook_search --setup --if-missing

Its own database (default name runbook_bench; it refuses a name without "bench"). The runbooks
are written through runbooks.services.runbook_create, as in the product, so the stored search
vector, the steps, the services and the revisions are what real writes produce (about a minute
for 5,000 on two cores; --if-missing skips it when they are there).

Measured, for a fixed set of queries typed by responders (whole words, alert names, and the
prefixes search-as-you-type sends while someone is still typing):
- selector: runbooks.selectors.runbook_search in-process (SQL + ORM + the services prefetch),
- page: the htmx fragment the search box asks for (GET /runbooks/?q=… with HX-Target), rendered by
  Django's test client in-process: view, selector and template, no network.
Each query runs --repeat times after one warm-up; p50/p95/p99 over all runs, and per query.
Results: bench/results/runbook_search.json.
"""

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

import django

TARGET_P95_MS = 30.0
RUNBOOKS = 5000
QUERIES = [
    "connection pool",
    "500 errors",
    "disk full",
    "latency",
    "certificate expired",
    "consumer lag",
    "out of memory",
    "db-connection-pool-exhausted",
    "checkout",
    "restart pods",
    "rollback deploy",
    "dns resolution",
    "replication lag",
    "queue backlog",
    "login",
    # What the search box sends while someone is still typing.
    "c",
    "co",
    "conn",
    "cert",
    "repl",
    "pay",
    "kube",
]
SERVICES = [
    "Checkout API", "Payments", "Search", "Authentication", "Notifications", "Mobile API", "Web frontend",
    "Data pipeline", "Billing", "Inventory", "Email delivery", "Database", "Kafka", "Redis", "Kubernetes",
]  # fmt: skip
PROBLEMS = [
    ("Connection pool exhausted", "connections at the pool limit, requests wait for a connection"),
    ("Disk full", "writes fail with no space left on device"),
    ("High latency", "p95 latency above 2 s"),
    ("Certificate expired", "TLS handshake failures, browsers warn"),
    ("Consumer lag", "Kafka consumer lag grows without bound"),
    ("Out of memory", "pods restarted with OOMKilled"),
    ("Elevated 500 errors", "API returning 500 errors on most endpoints"),
    ("Replication lag", "replica behind the primary by minutes"),
    ("Queue backlog", "jobs wait for minutes before a worker takes them"),
    ("DNS resolution failures", "intermittent NXDOMAIN for internal names"),
    ("Login failures", "users cannot log in, token validation fails"),
    ("Bad deploy", "errors started right after a deploy; rollback candidate"),
    ("Cache stampede", "cache hit rate drops, database CPU at 100 %"),
    ("Rate limited by provider", "third-party API returns 429"),
]
STEP_TITLES = [
    "Confirm the alert is real", "Check recent deploys", "Look at the dashboard", "Restart the pods",
    "Scale out", "Roll back the deploy", "Fail over to the replica", "Free disk space", "Renew the certificate",
    "Drain the queue", "Flush the cache", "Page the database on-call", "Tell the status page", "Verify recovery",
]  # fmt: skip
COMMANDS = [
    "kubectl get pods -n production",
    "kubectl rollout undo deployment/api-server -n production",
    "psql \"$DATABASE_URL\" -c 'SELECT count(*) FROM pg_stat_activity;'",
    "df -h /var/lib/postgresql",
    "kafka-consumer-groups --describe --group orders",
]


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runbooks", type=int, default=RUNBOOKS)
    parser.add_argument("--repeat", type=int, default=30, help="timed runs per query (after one warm-up)")
    parser.add_argument("--setup", action="store_true", help="create the database if missing and migrate it")
    parser.add_argument("--if-missing", action="store_true", help="keep the runbooks when there are --runbooks")
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument("--force", action="store_true", help="allow a database whose name lacks 'bench'")
    return parser.parse_args(argv)


def runbook_markdown(rng: random.Random, n: int) -> str:
    """A plausible runbook in the seeds' format: one problem, two or three services, a few alerts,
    three to eight steps."""
    problem, symptom = rng.choice(PROBLEMS)
    services = rng.sample(SERVICES, rng.randint(1, 3))
    alerts = [f"{services[0].lower().replace(' ', '-')}-{problem.lower().replace(' ', '-')}-{n}"]
    if problem == "Connection pool exhausted" and rng.random() < 0.3:
        alerts.append("db-connection-pool-exhausted")
    steps = []
    for number, title in enumerate(rng.sample(STEP_TITLES, rng.randint(3, 8)), start=1):
        steps.append(
            f"### Step {number}: {title}\n\n**Goal:** {title.lower()} for {services[0]}\n\n"
            f"#### Commands\n\n```bash\n{rng.choice(COMMANDS)}\n```\n\n"
            "#### Success Criteria\n\n- Error rate under 1 %\n"
        )
    return (
        f"# Runbook: {services[0]} {problem.lower()} #{n}\n\n"
        f"**Severity:** {rng.choice(['Critical', 'High', 'Medium', 'Low'])}\n"
        f"**Owner:** Team {rng.randint(1, 30)}\n"
        f"**Services:** {', '.join(services)}\n"
        f"**Alerts:** {', '.join(f'`{alert}`' for alert in alerts)}\n"
        f"**Category:** {services[0]}\n\n"
        f"## Plain English Summary\n\nWhat to do when {services[0]} shows {problem.lower()}.\n\n"
        f"## Symptoms\n\n- {symptom}\n- alert {alerts[0]} fires\n\n"
        f"## Resolution Steps\n\n{''.join(steps)}\n"
        f"## Verification\n\nWatch the {services[0]} dashboard for 10 minutes.\n"
    )


def generate(count: int, seed: int) -> float:
    from django.db import transaction

    from incidents.models import Service
    from runbooks import services
    from runbooks.markdown_format import parse
    from runbooks.models import Runbook

    started = time.perf_counter()
    rng = random.Random(seed)
    Runbook.objects.all().delete()
    for name in SERVICES:
        Service.objects.get_or_create(slug=name.lower().replace(" ", "-"), defaults={"name": name})
    batch = 250
    for start in range(0, count, batch):
        with transaction.atomic():
            for n in range(start, min(count, start + batch)):
                services.runbook_create(data=parse(runbook_markdown(rng, n)), actor=None, change_note="bench")
        print(f"  {min(count, start + batch):,} runbooks", end="\r", flush=True)
    with django.db.connection.cursor() as cursor:
        cursor.execute("ANALYZE runbooks_runbook")
    return time.perf_counter() - started


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def measure(repeat: int) -> dict:
    from django.contrib.auth import get_user_model
    from django.test import Client

    from runbooks import selectors

    user, _ = get_user_model().objects.get_or_create(username="runbook-bench")
    client = Client()
    client.force_login(user)
    headers = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "runbook-results"}
    results: dict = {"selector": {}, "page": {}}
    for query in QUERIES:
        hits = len(selectors.runbook_search(query=query))
        client.get("/runbooks/", {"q": query}, **headers)
        selector_ms, page_ms = [], []
        for _ in range(repeat):
            started = time.perf_counter()
            selectors.runbook_search(query=query)
            selector_ms.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            response = client.get("/runbooks/", {"q": query}, **headers)
            page_ms.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, response.status_code
        results["selector"][query] = {
            "hits": hits,
            "p50": statistics.median(selector_ms),
            "p95": percentile(selector_ms, 0.95),
        }
        results["page"][query] = {"p50": statistics.median(page_ms), "p95": percentile(page_ms, 0.95)}
        results.setdefault("_all_selector", []).extend(selector_ms)
        results.setdefault("_all_page", []).extend(page_ms)
    return results


def explain(query: str) -> str:
    from django.db import connection

    from runbooks.selectors import SEARCH_LIMIT

    terms = " & ".join(f"{word}:*" for word in query.split())
    with connection.cursor() as cursor:
        cursor.execute(
            "EXPLAIN ANALYZE SELECT id, ts_rank(search_vector, q) AS rank FROM runbooks_runbook, "
            "to_tsquery('english', %s) q WHERE search_vector @@ q ORDER BY rank DESC, title LIMIT %s",
            [terms, SEARCH_LIMIT],
        )
        return "\n".join(row[0] for row in cursor.fetchall())


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/runbook_bench")
    django.setup()
    from django.db import connection

    from bench.generate import setup_database
    from runbooks.models import Runbook

    if connection.vendor != "postgresql":
        print("The runbook search benchmark measures PostgreSQL full-text search: set DATABASE_URL.", file=sys.stderr)
        return 2
    database = str(connection.settings_dict["NAME"])
    if "bench" not in database and not args.force:
        print(f"Refusing to replace runbooks in '{database}': its name lacks 'bench' (use --force).", file=sys.stderr)
        return 2
    if args.setup:
        setup_database(connection)
    generated = None
    if args.if_missing and Runbook.objects.count() == args.runbooks:
        print(f"{database} already holds {args.runbooks:,} runbooks.")
    else:
        print(f"Writing {args.runbooks:,} runbooks through runbooks.services into {database}")
        generated = generate(args.runbooks, args.seed)
        print(f"\n  done in {generated:.1f} s")

    load = os.getloadavg()
    results = measure(args.repeat)
    all_selector, all_page = results.pop("_all_selector"), results.pop("_all_page")
    summary = {
        "selector": {
            "p50": statistics.median(all_selector),
            "p95": percentile(all_selector, 0.95),
            "p99": percentile(all_selector, 0.99),
        },
        "page": {
            "p50": statistics.median(all_page),
            "p95": percentile(all_page, 0.95),
            "p99": percentile(all_page, 0.99),
        },
    }
    print(f"\nLoad average before measuring: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} ({os.cpu_count()} cores)")
    print(f"{'query':34} {'hits':>5} {'selector p50':>13} {'p95':>8} {'page p50':>10} {'p95':>8}")
    for query in QUERIES:
        s, p = results["selector"][query], results["page"][query]
        print(
            f"{query:34} {s['hits']:>5} {s['p50']:>10.1f} ms {s['p95']:>5.1f} ms "
            f"{p['p50']:>7.1f} ms {p['p95']:>5.1f} ms"
        )
    for name, figures in summary.items():
        verdict = "meets" if figures["p95"] <= TARGET_P95_MS else "MISSES"
        print(
            f"{name:8} all queries: p50 {figures['p50']:.1f} ms, p95 {figures['p95']:.1f} ms, "
            f"p99 {figures['p99']:.1f} ms — {verdict} the p95 ≤ {TARGET_P95_MS:.0f} ms target"
        )
    plan = explain("connection pool")
    print("\nPlan for 'connection pool':\n" + plan)

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "runbook_search.json").write_text(
        json.dumps(
            {
                "runbooks": Runbook.objects.count(),
                "repeat": args.repeat,
                "target_p95_ms": TARGET_P95_MS,
                "summary": summary,
                "per_query": results,
                "load_average": load,
                "generated_seconds": generated,
                "plan": plan,
                "commit": commit,
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
