"""Status page benchmark: the public page with a warm cache against a static file served by the
same server.

    DJANGO_SETTINGS_MODULE=bench.settings DATABASE_URL=postgres://…/incident_bench \\
        REDIS_URL=redis://127.0.0.1:6379/1 .venv/bin/python -m bench.status_page

Uses bench.load's server and clients (gunicorn, two sync workers; wrk if installed). Anonymous
requests, as the public sends them: no cookie. Each page is measured right after its own run of
the static file, and judged by the ratio to it and by absolute throughput. Prints a table and
writes bench/results/status_page.json; exits non-zero only when the server failed.
"""

import argparse
import json
import os
import shutil
import sys
from datetime import UTC, datetime

import django

from bench import load

MIN_RPS = 1000.0
MIN_RATIO_TO_STATIC = 0.8
# The baseline: a static file of about the page's size, served by WhiteNoise in the same server
# (a 11 kB stylesheet is also measured, for reference).
STATIC_PATH = "/static/vendor/htmx-2.0.11.min.js"
SMALL_STATIC_PATH = "/static/css/app.css"
GZIP = {"Accept-Encoding": "gzip"}
# name, path, request headers
PAGES = [
    ("status page", "/status/", {}),
    ("status page, gzip", "/status/", GZIP),
    ("status.json", "/status.json", {}),
    ("Atom feed", "/status/feed.atom", {}),
]


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.status_page", description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=5000, help="measured requests per target")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--max-seconds", type=int, default=120)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--worker-class", default="sync", choices=["sync", "gthread"])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--client", default="auto", choices=["auto", "wrk", "python"])
    parser.add_argument("--output", type=load.Path, default=load.RESULTS_DIR / "status_page.json")
    return parser.parse_args(argv)


def ensure_components() -> int:
    """The page needs components: one per service of the generated catalog, if there are none
    (written directly, as bench.generate writes its rows: a fixture, not the product's path)."""
    from incidents.models import Service
    from statuspage import services
    from statuspage.models import Component, ComponentGroup

    if not Component.objects.exists():
        group, _ = ComponentGroup.objects.get_or_create(name="Services")
        for position, service in enumerate(Service.objects.order_by("name")[:12]):
            Component.objects.get_or_create(
                name=service.name[:100], defaults={"service": service, "group": group, "position": position}
            )
    services.status_page_configuration_changed()
    return Component.objects.count()


def queries_per_request() -> dict[str, int]:
    """Warm and cold SQL counts of each page, rendered in-process anonymously."""
    from django.core.cache import cache
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from statuspage import views

    client = Client()
    counts = {}
    for name, path, headers in PAGES:
        cache.delete_many([f"statuspage:rendered:{key}" for key in ("page", "json", "feed")])
        views._local.clear()
        with CaptureQueriesContext(connection) as cold:
            client.get(path, headers=headers)
        with CaptureQueriesContext(connection) as warm:
            client.get(path, headers=headers)
        counts[name] = (len(warm.captured_queries), len(cold.captured_queries))
    return counts


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
    django.setup()
    from django.db import connection

    client = args.client
    if client == "auto":
        client = "wrk" if shutil.which("wrk") else "python"
    measure = load.run_wrk if client == "wrk" else load.run_python
    if unapplied := load.unapplied_migrations(connection):
        print(f"{len(unapplied)} unapplied migrations; run `python -m bench.generate --setup` first.", file=sys.stderr)
        return 2
    component_count = ensure_components()
    queries = queries_per_request()
    connection.close()

    meta = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "client": client,
        "requests_per_target": args.requests,
        "concurrency": args.concurrency,
        "server": f"{args.workers} {args.worker_class} workers",
        "cpus": os.cpu_count(),
        "load_before": " ".join(f"{value:.2f}" for value in os.getloadavg()),
        "components": component_count,
        "commit": load.git_commit(),
    }
    rows = []
    server_failed = None
    server = None
    port = load.free_port()
    load.RESULTS_DIR.mkdir(exist_ok=True)
    try:
        server = load.start_server(args, port, load.RESULTS_DIR / "gunicorn-status.log")
        baselines = [
            ("static file", STATIC_PATH, {}),
            ("small static file", SMALL_STATIC_PATH, {}),
            ("bare view", load.BARE_PATH, {}),
        ]
        for name, path, headers in [*baselines, *PAGES]:
            row = {"name": name, "path": path, "headers": headers}
            if name in queries:
                row["static_rps_alongside"] = measure(port, STATIC_PATH, "", args.requests, args)["rps"]
                row["queries_warm"], row["queries_cold"] = queries[name]
            status, response_headers, body = load.fetch(port, path, headers=headers)
            row["status"] = status
            row["bytes"] = len(body)
            row["set_cookie"] = bool(response_headers.get_all("Set-Cookie"))
            measure(port, path, "", args.warmup, args, headers=headers)
            row.update(measure(port, path, "", args.requests, args, headers=headers))
            if server.poll() is not None:
                raise load.ServerFailedError(f"gunicorn exited with {server.returncode} during {path}")
            print(f"  measured {name} {path}: {row['rps']:.0f} req/s", flush=True)
            rows.append(row)
    except load.ServerFailedError as problem:
        server_failed = str(problem)
    finally:
        if server is not None:
            load.stop_server(server)

    static_rps = next((row["rps"] for row in rows if row["name"] == "static file"), None)
    print()
    print(
        f"{meta['client']} · {args.requests} requests per target at concurrency {args.concurrency} · "
        f"gunicorn {meta['server']} · {meta['cpus']} CPUs, load {meta['load_before']}"
    )
    print(
        f"{'target':<22}{'path':<22}{'bytes':>7}{'req/s':>8}{'p50 ms':>8}{'p95 ms':>8}{'xstatic':>9}"
        f"{'SQL':>5}{'cold':>5}  verdict"
    )
    for row in rows:
        baseline = row.get("static_rps_alongside") or static_rps
        row["ratio_to_static"] = row["rps"] / baseline if baseline else None
        verdict = ""
        if "queries_warm" in row:
            failures = []
            if row["rps"] < MIN_RPS:
                failures.append(f"< {MIN_RPS:g} req/s")
            if (row["ratio_to_static"] or 0) < MIN_RATIO_TO_STATIC:
                failures.append(f"< {MIN_RATIO_TO_STATIC:g}x static")
            if row["non_200"] or row["errors"] or row["status"] != 200:
                failures.append("errors")
            if row["set_cookie"]:
                failures.append("sets a cookie")
            row["failures"] = failures
            verdict = "FAIL (" + ", ".join(failures) + ")" if failures else "PASS"
        row["verdict"] = verdict
        print(
            f"{row['name']:<22}{row['path'][:21]:<22}{row['bytes']:>7}{row['rps']:>8.0f}{row['p50_ms']:>8.1f}{row['p95_ms']:>8.1f}"
            f"{(row['ratio_to_static'] or 0):>9.3f}"
            f"{row.get('queries_warm', '-')!s:>5}{row.get('queries_cold', '-')!s:>5}"
            f"  {verdict}"
        )
    print(
        f"targets: ≥ {MIN_RPS:g} req/s and ≥ {MIN_RATIO_TO_STATIC:g}x {STATIC_PATH} (measured right before each "
        "page), warm cache, no cookie set"
    )
    report = {
        "meta": meta,
        "targets": {"min_rps": MIN_RPS, "min_ratio_to_static": MIN_RATIO_TO_STATIC},
        "results": rows,
        "server_failed": server_failed,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2, default=str) + "\n")
    print(f"\nwrote {args.output}")
    if server_failed:
        print(f"server failed: {server_failed}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
