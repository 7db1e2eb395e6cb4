"""Load benchmark: serve the app with gunicorn and measure the main pages against a bare view.

    DATABASE_URL=postgres://…/incident_bench .venv/bin/python -m bench.load

Runs with bench.settings against data from `python -m bench.generate`. For each target it runs
rounds of two timed runs at a fixed concurrency against 127.0.0.1 (wrk if installed, else a
threaded Python client): the bare view, then the target, so each ratio compares runs made under
the same load; a target's figures are the medians over its rounds. It renders each page once
in-process to count its SQL queries. Prints a table,
writes bench/results/latest.json, and reports PASS/FAIL per target; it exits non-zero only when
the server itself failed (did not start, died, or could not serve the bare view).
"""

import argparse
import http.client
import json
import logging
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode

import django

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
LUA_SCRIPT = BENCH_DIR / "bounded.lua"
HOST = "127.0.0.1"
BENCH_USERNAME = "bench"
BENCH_PASSWORD = "bench"
BARE_PATH = "/bench/bare"

# The targets. Speed targets live here, never in timed tests. Ratios to the bare view rather than
# absolute figures, because the machine (shared, noisy, 2 cores) moves both alike.
DASHBOARD_MAX_P95_MS = 50.0
DASHBOARD_MIN_RATIO = 0.5
INCIDENT_MIN_RATIO = 0.25
# The same pages with their page cache off (issue 21): what a reader waits for right after a write.
DASHBOARD_COLD_MAX_P95_MS = 30.0
INCIDENT_COLD_MAX_P95_MS = 50.0
# The JSON API (issue 21), with every cache empty: it caches nothing.
API_LIST_100_MAX_P95_MS = 40.0
API_LIST_100_MIN_RATIO = 0.1
API_LIST_10_MIN_RATIO = 0.3
API_INCIDENT_MIN_RATIO = 0.3
API_TIMELINE_MIN_RATIO = 0.2
# Insights (issue 19): figures computed on every request, nothing cached.
INSIGHTS_MAX_P95_MS = 300.0


class ServerFailedError(RuntimeError):
    pass


@dataclass
class Target:
    name: str
    path: str
    # Pages in the same group must run the same number of queries whatever their data size.
    query_group: str | None = None
    max_p95_ms: float | None = None
    min_ratio: float | None = None
    note: str = ""
    # Sent with every request; an API target carries its bearer token here instead of the cookie.
    headers: dict[str, str] = field(default_factory=dict)
    # Served by a second server started with PAGE_CACHE=0: every request renders from the database.
    cold: bool = False


@dataclass
class Result:
    name: str
    path: str
    note: str = ""
    status: int | None = None
    queries: int | None = None
    queries_cold_cache: int | None = None
    error: str = ""
    requests: int = 0
    non_200: int = 0
    errors: int = 0
    rps: float | None = None
    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    ratio_to_bare: float | None = None
    ratio_min: float | None = None
    ratio_max: float | None = None
    bare_rps_alongside: float | None = None
    rounds: list[dict] = field(default_factory=list)
    target: str = ""
    verdict: str = ""
    failures: list[str] = field(default_factory=list)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10, help="length of each measured run")
    parser.add_argument("--rounds", type=int, default=3, help="bare-then-target rounds per target")
    parser.add_argument("--concurrency", type=int, default=4, help="connections kept busy at once")
    parser.add_argument("--warmup", type=int, default=100, help="unmeasured requests per target first")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--worker-class", default="sync", choices=["sync", "gthread"])
    parser.add_argument("--threads", type=int, default=1, help="threads per worker (gthread)")
    parser.add_argument("--client", default="auto", choices=["auto", "wrk", "python"])
    parser.add_argument(
        "--only", action="append", default=[], help="measure only targets whose name contains this (repeatable)"
    )
    parser.add_argument("--output", type=Path, default=RESULTS_DIR / "latest.json")
    return parser.parse_args(argv)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


# --- The server -------------------------------------------------------------------------------


def start_server(
    args: argparse.Namespace, port: int, log_path: Path, env_extra: dict[str, str] | None = None
) -> subprocess.Popen:
    """gunicorn with DJANGO_SETTINGS_MODULE=bench.settings.

    Default: 2 sync workers, one per core. A page here is CPU-bound Python (templates, ORM) plus
    short waits on a PostgreSQL that shares the same two cores, so extra threads mostly contend for
    the GIL and the database's CPU rather than overlap idle time. Sync workers also take each new
    connection from the shared socket only when free, so load stays balanced; gthread keeps
    keep-alive connections pinned to the worker that accepted them, and with few connections one
    worker can end up with most of the load while the other core idles. Measured here, 2 sync and
    2 gthread x 2 or x 4 came out within the machine's noise, sync with the steadiest tail latency
    (bench/README.md); `--worker-class gthread --threads 4` re-runs the comparison.
    """
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "config.wsgi:application",
        "--bind",
        f"{HOST}:{port}",
        "--workers",
        str(args.workers),
        "--worker-class",
        args.worker_class,
        "--threads",
        str(args.threads),
        "--log-level",
        "warning",
        "--error-logfile",
        str(log_path),
    ]
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "bench.settings", **(env_extra or {})}
    # Django logs errors to the workers' stderr: into the log too, or a failing page floods the table.
    with log_path.open("a") as log:
        server = subprocess.Popen(
            command, env=env, cwd=BENCH_DIR.parent, stdin=subprocess.DEVNULL, stdout=log, stderr=log
        )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise ServerFailedError(f"gunicorn exited with {server.returncode}; see {log_path}")
        try:
            status, _, _ = fetch(port, BARE_PATH)
        except OSError:
            time.sleep(0.2)
            continue
        if status == 200:
            return server
        stop_server(server)
        raise ServerFailedError(f"{BARE_PATH} answered HTTP {status}; see {log_path}")
    stop_server(server)
    raise ServerFailedError(f"gunicorn did not answer within 30 s; see {log_path}")


def stop_server(server: subprocess.Popen) -> None:
    if server.poll() is None:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def fetch(
    port: int, path: str, method: str = "GET", body: str | None = None, headers: dict | None = None
) -> tuple[int, http.client.HTTPMessage, bytes]:
    connection = http.client.HTTPConnection(HOST, port, timeout=30)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.headers, response.read()
    finally:
        connection.close()


def cookies_of(headers: http.client.HTTPMessage) -> SimpleCookie:
    jar: SimpleCookie = SimpleCookie()
    for header in headers.get_all("Set-Cookie") or []:
        jar.load(header)
    return jar


def login(port: int) -> str:
    """Log in as `bench` the way a browser does; returns the Cookie header value."""
    from django.conf import settings

    status, headers, _ = fetch(port, settings.LOGIN_URL)
    csrf = cookies_of(headers).get(settings.CSRF_COOKIE_NAME)
    if status != 200 or csrf is None:
        raise RuntimeError(f"GET {settings.LOGIN_URL} answered HTTP {status} without a CSRF cookie")
    # The unmasked cookie value is an accepted form token.
    form = {"username": BENCH_USERNAME, "password": BENCH_PASSWORD, "csrfmiddlewaretoken": csrf.value}
    status, headers, _ = fetch(
        port,
        settings.LOGIN_URL,
        method="POST",
        body=urlencode(form),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": f"{settings.CSRF_COOKIE_NAME}={csrf.value}",
        },
    )
    session = cookies_of(headers).get(settings.SESSION_COOKIE_NAME)
    if status != 302 or session is None:
        raise RuntimeError(f"POST {settings.LOGIN_URL} answered HTTP {status} without a session cookie")
    return f"{settings.SESSION_COOKIE_NAME}={session.value}; {settings.CSRF_COOKIE_NAME}={csrf.value}"


# --- The clients ------------------------------------------------------------------------------


def run_wrk(
    port: int,
    path: str,
    cookie: str,
    requests: int,
    args: argparse.Namespace,
    headers: dict | None = None,
    seconds: float = 120,
) -> dict:
    """One wrk thread (it needs little CPU; the server gets the cores), `concurrency` connections,
    for `seconds`, or until `requests` responses if that is not 0; the Lua script prints the
    figures as JSON."""
    command = [
        "wrk",
        "--threads",
        "1",
        "--connections",
        str(args.concurrency),
        "--duration",
        f"{max(1, round(seconds))}s",
        "--timeout",
        "30s",
        "--latency",
        "--script",
        str(LUA_SCRIPT),
        "--header",
        f"Cookie: {cookie}",
        *[part for name, value in (headers or {}).items() for part in ("--header", f"{name}: {value}")],
        f"http://{HOST}:{port}{path}",
        "--",
        str(requests),
    ]
    wrk = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = None
    assert wrk.stdout is not None
    for output in wrk.stdout:
        if output.startswith("limit reached"):
            wrk.send_signal(signal.SIGINT)
        elif output.startswith("{"):
            line = output
    stderr = wrk.stderr.read() if wrk.stderr else ""
    if wrk.wait(timeout=60) != 0 or line is None:
        raise RuntimeError(f"wrk failed ({wrk.returncode}): {stderr.strip()}")
    figures = json.loads(line)
    seconds = figures["duration_us"] / 1e6
    return {
        "requests": figures["requests"],
        "non_200": figures["non_200"],
        "errors": figures["socket_errors"] + figures["timeouts"],
        "rps": figures["requests"] / seconds if seconds else 0.0,
        "p50_ms": figures["p50_us"] / 1000,
        "p95_ms": figures["p95_us"] / 1000,
        "p99_ms": figures["p99_us"] / 1000,
    }


def run_python(
    port: int,
    path: str,
    cookie: str,
    requests: int,
    args: argparse.Namespace,
    headers: dict | None = None,
    seconds: float = 120,
) -> dict:
    """Fallback without wrk: one thread per connection, http.client with keep-alive, for `seconds`
    or `requests` responses (if not 0). It competes with the server for the two cores, so its
    figures are lower than wrk's."""
    latencies: list[float] = []
    counters = {"non_200": 0, "errors": 0}
    lock = threading.Lock()
    deadline = time.monotonic() + seconds
    unbounded = 10**12
    shares = [
        (requests // args.concurrency + (i < requests % args.concurrency)) if requests else unbounded
        for i in range(args.concurrency)
    ]

    def worker(count: int) -> None:
        connection = http.client.HTTPConnection(HOST, port, timeout=30)
        mine, non_200, errors = [], 0, 0
        for _ in range(count):
            if time.monotonic() > deadline:
                break
            started = time.perf_counter()
            try:
                connection.request("GET", path, headers={"Cookie": cookie, **(headers or {})})
                response = connection.getresponse()
                response.read()
            except (OSError, http.client.HTTPException):
                errors += 1
                connection.close()
                continue
            mine.append(time.perf_counter() - started)
            non_200 += response.status != 200
        connection.close()
        with lock:
            latencies.extend(mine)
            counters["non_200"] += non_200
            counters["errors"] += errors

    started = time.perf_counter()
    workers = [threading.Thread(target=worker, args=(share,)) for share in shares]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    seconds = time.perf_counter() - started
    cuts = statistics.quantiles(latencies, n=100, method="inclusive") if len(latencies) > 1 else latencies * 99
    return {
        "requests": len(latencies),
        **counters,
        "rps": len(latencies) / seconds,
        "p50_ms": cuts[49] * 1000,
        "p95_ms": cuts[94] * 1000,
        "p99_ms": cuts[98] * 1000,
    }


# --- The targets and their queries ------------------------------------------------------------


def incident_targets() -> tuple[list[Target], dict]:
    """The incident with the event count nearest 100, and the one with the most events."""
    from django.db.models import Count
    from django.urls import NoReverseMatch

    from incidents.models import Incident, TimelineEvent

    counts = dict(TimelineEvent.objects.values_list("incident").annotate(n=Count("id")).order_by())
    if not counts:
        return [], {}
    typical = min(counts, key=lambda pk: (abs(counts[pk] - 100), pk))
    heaviest = max(counts, key=lambda pk: (counts[pk], -pk))
    targets = []
    for label, pk in (("incident ~100 events", typical), ("incident most events", heaviest)):
        incident = Incident(pk=pk)
        try:
            path = incident.get_absolute_url()
        except NoReverseMatch:
            path = f"/incidents/{incident.reference}/"
        note = f"{incident.reference}, {counts[pk]:,} events"
        targets.append(Target(label, path, "incident page", min_ratio=INCIDENT_MIN_RATIO, note=note))
    return targets, {"typical": counts[typical], "most": counts[heaviest]}


def cold_targets(incident_targets: list[Target]) -> list[Target]:
    """The dashboard and the incident with the most events, with the page cache off."""
    note = "page cache off (PAGE_CACHE=0)"
    targets = [Target("dashboard cold", "/", "dashboard", DASHBOARD_COLD_MAX_P95_MS, note=note, cold=True)]
    for target in incident_targets:
        if target.name == "incident most events":
            targets.append(
                Target(
                    "incident most events cold",
                    target.path,
                    "incident page",
                    INCIDENT_COLD_MAX_P95_MS,
                    note=f"{target.note}, {note}",
                    cold=True,
                )
            )
    return targets


def count_queries(targets: list[Target], user) -> dict[str, tuple[int, int, int | None, str]]:
    """Render each page in-process as `bench` (force_login) and count its SQL queries. The first
    render warms the process (templates, content types); the next is counted with the page cache
    off (PAGE_CACHE: what a page costs when its cache misses, as right after every write) and the one
    after as the usual count (a warm cache, which the load test mostly hits). Returns path →
    (status, queries, queries with a cold cache, error)."""
    from django.db import connection
    from django.test import Client, override_settings
    from django.test.utils import CaptureQueriesContext

    def render(target: Target) -> tuple:
        with CaptureQueriesContext(connection) as captured:
            response = client.get(target.path, headers=target.headers)
        return response, len(captured.captured_queries)

    client = Client(raise_request_exception=False)
    client.force_login(user)
    # Not an empty cache: a second LocMemCache shares the first one's entries, and a session kept only
    # in the cache would be lost with it.
    page_cache_off = override_settings(PAGE_CACHE=False)
    found = {}
    request_log = logging.getLogger("django.request")
    level = request_log.level
    request_log.setLevel(logging.CRITICAL)  # A failing page is reported in the table, once.
    try:
        for target in targets:
            client.get(target.path, headers=target.headers)
            with page_cache_off:
                _, cold = render(target)
            response, warm = render(target)
            error = ""
            if getattr(response, "exc_info", None):
                exception = response.exc_info[1]
                error = f"{type(exception).__name__}: {str(exception).splitlines()[0][:100]}"
            found[target.path] = (response.status_code, warm, cold, error)
    finally:
        request_log.setLevel(level)
    return found


def summarise(result: Result, runs: list[dict]) -> None:
    """A target's figures over its rounds: the median of each, the ratios' range, every count."""
    if not runs:
        return
    for name in ("rps", "p50_ms", "p95_ms", "p99_ms"):
        setattr(result, name, statistics.median(run[name] for run in runs))
    result.requests = sum(run["requests"] for run in runs)
    result.non_200 = sum(run["non_200"] for run in runs)
    result.errors = sum(run["errors"] for run in runs)
    ratios = [run["rps"] / run["bare_rps"] for run in runs if run.get("bare_rps")]
    if ratios:
        result.ratio_to_bare = statistics.median(ratios)
        result.ratio_min, result.ratio_max = min(ratios), max(ratios)
        result.bare_rps_alongside = statistics.median(run["bare_rps"] for run in runs)


def judge(results: list[Result], targets: list[Target]) -> list[dict]:
    """Fill in ratios and verdicts; returns the query-constancy checks per group."""
    bare = next(result for result in results if result.path == BARE_PATH)
    for result, target in zip(results, targets, strict=True):
        if result is bare and result.rps is not None:
            result.ratio_to_bare = 1.0
        wanted = []
        if target.max_p95_ms is not None:
            wanted.append(f"p95 ≤ {target.max_p95_ms:g} ms")
        if target.min_ratio is not None:
            wanted.append(f"≥ {target.min_ratio:g}x bare")
        result.target = ", ".join(wanted)
        if result.rps is None:
            result.verdict = "n/a"
            continue
        if target.max_p95_ms is not None and result.p95_ms is not None and result.p95_ms > target.max_p95_ms:
            result.failures.append("p95")
        if target.min_ratio is not None and (result.ratio_to_bare or 0) < target.min_ratio:
            result.failures.append("throughput")
        if result.non_200 or result.errors:
            result.failures.append("errors")
        if wanted or result.failures:
            result.verdict = "FAIL" if result.failures else "PASS"
    checks = []
    groups = {target.query_group for target in targets if target.query_group}
    for group in sorted(groups):
        members = [r for r, t in zip(results, targets, strict=True) if t.query_group == group and r.status == 200]
        counts = {result.name: result.queries for result in members}
        cold_counts = {result.name: result.queries_cold_cache for result in members}
        check = {"group": group, "queries": counts, "queries_cold_cache": cold_counts}
        if len(members) < 2:
            checks.append({**check, "verdict": "n/a"})
            continue
        # Pages of a group are the same view with other data or filters: as served they must run
        # the same queries. Cold renders are shown, not compared: a filter may skip a section.
        constant = len(set(counts.values())) == 1
        checks.append({**check, "verdict": "PASS" if constant else "FAIL"})
    return checks


def print_table(results: list[Result], checks: list[dict], meta: dict) -> None:
    print()
    print(
        f"{meta['client']} · {meta['rounds']} rounds of bare then target, {meta['seconds_per_run']:g} s each, "
        f"medians · concurrency {meta['concurrency']} · gunicorn {meta['server']} · {meta['cpus']} CPUs, "
        f"load {meta['load_before']}"
    )
    header = f"{'target':<22}{'path':<27}{'req/s':>8}{'p50 ms':>8}{'p95 ms':>8}{'p99 ms':>8}"
    header += f"{'xbare':>7}{'min..max':>13}{'SQL':>5}{'cold':>5}"
    print(header + "  target                         verdict")
    print("-" * (len(header) + 40))

    def number(value: float | None, digits: int) -> str:
        return "-" if value is None else f"{value:.{digits}f}"

    def spread(r: Result) -> str:
        return "-" if r.ratio_min is None else f"{r.ratio_min:.2f}..{r.ratio_max:.2f}"

    for r in results:
        path = r.path if len(r.path) <= 26 else r.path[:25] + "…"
        queries = "-" if r.queries is None else str(r.queries)
        cold = "-" if r.queries_cold_cache is None else str(r.queries_cold_cache)
        verdict = r.verdict + (f" ({', '.join(r.failures)})" if r.failures else "")
        print(
            f"{r.name:<22}{path:<27}{number(r.rps, 0):>8}{number(r.p50_ms, 1):>8}{number(r.p95_ms, 1):>8}"
            f"{number(r.p99_ms, 1):>8}{number(r.ratio_to_bare, 3):>7}{spread(r):>13}{queries:>5}{cold:>5}"
            f"  {r.target:<31}{verdict}"
        )
        details = [r.note] if r.note else []
        if r.non_200 or r.errors:
            details.append(f"{r.non_200} non-200 responses, {r.errors} socket errors/timeouts")
        if r.status not in (None, 200):
            details.append(f"in-process render answered HTTP {r.status} {r.error}".rstrip())
        for detail in details:
            print(f"{'':<22}  {detail}")
    print("SQL: queries per request as served (warm cache); cold: the same page with an empty cache.")
    print()
    for check in checks:
        counts = (
            ", ".join(
                f"{name}: {count} ({check['queries_cold_cache'][name]} cold)"
                for name, count in check["queries"].items()
            )
            or "no page rendered"
        )
        print(f"queries per page constant — {check['group']}: {counts}  {check['verdict']}")


# --- Main -------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
    django.setup()

    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.db import connection

    from incidents.models import Incident, TimelineEvent

    if settings.ROOT_URLCONF != "bench.urls":
        print(f"Run with DJANGO_SETTINGS_MODULE=bench.settings, not {settings.SETTINGS_MODULE}.", file=sys.stderr)
        return 2
    client = args.client
    if client == "auto":
        client = "wrk" if shutil.which("wrk") else "python"
    measure = run_wrk if client == "wrk" else run_python
    if connection.vendor != "postgresql":
        print(f"warning: measuring against {connection.vendor}; the targets are meant for PostgreSQL")
    if unapplied := unapplied_migrations(connection):
        print(
            f"warning: {len(unapplied)} unapplied migrations ({', '.join(unapplied[:3])}…); pages will fail. "
            "Run `python -m bench.generate --setup --if-missing` (or `make bench`)."
        )

    targets = [
        Target("bare (baseline)", BARE_PATH, note="plain function view, same server and middleware"),
        Target("health", "/health"),
        Target("dashboard", "/", "dashboard", DASHBOARD_MAX_P95_MS, DASHBOARD_MIN_RATIO),
        Target("dashboard SEV1", "/?severity=SEV1", "dashboard", DASHBOARD_MAX_P95_MS, DASHBOARD_MIN_RATIO),
    ]
    user = get_user_model().objects.filter(username=BENCH_USERNAME).first()
    if user is None:
        print(
            f"No user '{BENCH_USERNAME}' in {settings.DATABASES['default']['NAME']}: point DATABASE_URL at the "
            "benchmark database and run `python -m bench.generate --setup` first (or `make bench`).",
            file=sys.stderr,
        )
        return 2
    more, event_counts = incident_targets()
    if not more:
        print("warning: no timeline events; run `python -m bench.generate` first for the incident pages")
    targets += more
    targets += cold_targets(more)
    api_token = made_api_token(user)
    targets += api_targets(api_token, more)
    targets += insights_targets(api_token)
    if args.only:
        # The bare view always runs: every other figure is read as a ratio of it.
        targets = [t for t in targets if t.path == BARE_PATH or any(word in t.name for word in args.only)]
    queries = count_queries(targets, user)
    results = [Result(t.name, t.path, t.note, *queries[t.path]) for t in targets]
    connection.close()  # Not needed while the server runs; frees a PostgreSQL backend.

    RESULTS_DIR.mkdir(exist_ok=True)
    port = free_port()
    server_desc = f"{args.workers} {args.worker_class} workers" + (
        f" x {args.threads} threads" if args.worker_class == "gthread" else ""
    )
    meta = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "client": client,
        "seconds_per_run": args.seconds,
        "rounds": args.rounds,
        "concurrency": args.concurrency,
        "server": server_desc,
        "cpus": os.cpu_count(),
        "load_before": " ".join(f"{value:.2f}" for value in os.getloadavg()),
        "python": platform.python_version(),
        "django": django.get_version(),
        "database": f"{connection.vendor} {settings.DATABASES['default']['NAME']}",
        "incidents": Incident.objects.count(),
        "timeline_events": TimelineEvent.objects.count(),
        "events_in_measured_incidents": event_counts,
        "commit": git_commit(),
    }
    connection.close()
    server_failed = None
    server = None
    cold_server = None
    cold_port = free_port()
    try:
        server = start_server(args, port, RESULTS_DIR / "gunicorn.log")
        try:
            cookie = login(port)
            meta["login"] = "POST /accounts/login/"
        except (RuntimeError, OSError) as problem:
            # A broken login page should not stop the measurements: use a session made in-process.
            cookie = forced_session_cookie(user)
            meta["login"] = f"force_login session ({problem})"
            print(f"warning: browser-style login failed, using a force_login session: {problem}")
        bare_runs = []
        for target, result in zip(targets, results, strict=True):
            if result.status != 200:
                print(f"skipping {target.path}: in-process render answered HTTP {result.status}")
                continue
            if target.path == BARE_PATH:
                continue  # Measured in every round of every other target.
            if target.cold and cold_server is None:
                # The session is in the shared database and cache, so the same cookie serves here.
                cold_server = start_server(args, cold_port, RESULTS_DIR / "gunicorn.log", {"PAGE_CACHE": "0"})
            target_port = cold_port if target.cold else port
            try:
                if args.warmup:
                    measure(target_port, target.path, cookie, args.warmup, args, target.headers)
                for _ in range(args.rounds):
                    # The machine's load drifts (other jobs share it): each round runs the bare
                    # view and then the page for the same time, and the ratio compares the two.
                    bare = measure(port, BARE_PATH, cookie, 0, args, seconds=args.seconds)
                    figures = measure(target_port, target.path, cookie, 0, args, target.headers, seconds=args.seconds)
                    bare_runs.append(bare)
                    result.rounds.append({**figures, "bare_rps": bare["rps"]})
            except (RuntimeError, subprocess.TimeoutExpired) as problem:
                if server.poll() is not None:
                    raise ServerFailedError(f"gunicorn exited with {server.returncode} during {target.path}") from None
                result.failures.append(f"client: {problem}")
                continue
            summarise(result, result.rounds)
            for running in (server, cold_server):
                if running is not None and running.poll() is not None:
                    raise ServerFailedError(f"gunicorn exited with {running.returncode} during {target.path}")
            print(
                f"  measured {target.path}: {result.rps:.0f} req/s, "
                f"{result.ratio_to_bare:.3f}x bare ({result.ratio_min:.3f}..{result.ratio_max:.3f})",
                flush=True,
            )
        if not bare_runs:
            bare_runs = [measure(port, BARE_PATH, cookie, 0, args, seconds=args.seconds)]
        summarise(results[0], bare_runs)
        if results[0].rps is None:
            raise ServerFailedError(f"{BARE_PATH} could not be measured")
    except ServerFailedError as problem:
        server_failed = str(problem)
    finally:
        for running in (server, cold_server):
            if running is not None:
                stop_server(running)
        from incidents.services import api_token_revoke

        api_token_revoke(token=api_token[0])

    checks = judge(results, targets)
    print_table(results, checks, meta)
    report = {
        "meta": meta,
        "targets": {
            "dashboard_p95_ms_max": DASHBOARD_MAX_P95_MS,
            "dashboard_ratio_min": DASHBOARD_MIN_RATIO,
            "incident_ratio_min": INCIDENT_MIN_RATIO,
            "dashboard_cold_p95_ms_max": DASHBOARD_COLD_MAX_P95_MS,
            "incident_cold_p95_ms_max": INCIDENT_COLD_MAX_P95_MS,
            "api_list_100_p95_ms_max": API_LIST_100_MAX_P95_MS,
            "api_list_100_ratio_min": API_LIST_100_MIN_RATIO,
            "api_list_10_ratio_min": API_LIST_10_MIN_RATIO,
            "api_incident_ratio_min": API_INCIDENT_MIN_RATIO,
            "api_timeline_ratio_min": API_TIMELINE_MIN_RATIO,
            "queries_per_page": "constant within a group",
        },
        "results": [asdict(result) for result in results],
        "query_checks": checks,
        "server_failed": server_failed,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(report, indent=2, ensure_ascii=False)
    args.output.write_text(text + "\n")
    stamp = meta["started_at"].replace(":", "").replace("-", "")
    (RESULTS_DIR / f"run-{stamp}.json").write_text(text + "\n")
    print(f"\nwrote {args.output}")
    if server_failed:
        print(f"server failed: {server_failed}", file=sys.stderr)
        return 1
    return 0


def unapplied_migrations(connection) -> list[str]:
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    return [f"{migration.app_label}.{migration.name}" for migration, _ in plan]


def made_api_token(user):
    """A fresh API token for the run (tokens are shown once); revoked when the run ends."""
    from incidents.services import api_token_create

    return api_token_create(user=user, name="bench.load")


def api_targets(made: tuple, incident_targets: list[Target]) -> list[Target]:
    """The JSON API's list at two page sizes, one incident, and a page of 100 timeline events of
    the incident with about 100, all with the bench user's token; and, first, an authenticated
    no-op (bench/urls.py), the floor under all of them."""
    headers = {"Authorization": f"Bearer {made[1]}"}
    targets = [
        # No target figure: what any authenticated API read costs before it reads anything (the
        # token and its user, django-ninja), so the others can be read against it.
        Target("API floor: no-op", "/bench/api/noop", headers=headers),
        Target(
            "API list of 100",
            "/api/v1/incidents/?limit=100",
            "api list",
            API_LIST_100_MAX_P95_MS,
            API_LIST_100_MIN_RATIO,
            headers=headers,
        ),
        Target(
            "API list of 10",
            "/api/v1/incidents/?limit=10",
            "api list",
            min_ratio=API_LIST_10_MIN_RATIO,
            headers=headers,
        ),
    ]
    if incident_targets:
        reference = incident_targets[0].note.split(",")[0]
        targets += [
            Target(
                "API incident",
                f"/api/v1/incidents/{reference}/",
                min_ratio=API_INCIDENT_MIN_RATIO,
                headers=headers,
            ),
            Target(
                "API timeline of 100",
                f"/api/v1/incidents/{reference}/timeline/?limit=100",
                min_ratio=API_TIMELINE_MIN_RATIO,
                headers=headers,
            ),
        ]
    return targets


def insights_targets(made: tuple) -> list[Target]:
    """The insights page and its API over 90 days (about 800 incidents of the generated history)
    and over two years (about 6,700), with nothing cached: the same queries for both."""
    from datetime import timedelta

    from django.utils import timezone

    today = timezone.localdate()
    two_years = f"from={(today - timedelta(days=730)).isoformat()}&to={today.isoformat()}"
    headers = {"Authorization": f"Bearer {made[1]}"}
    return [
        Target("insights 90 days", "/insights/?range=90", "insights", INSIGHTS_MAX_P95_MS),
        Target("insights 2 years", f"/insights/?range=custom&{two_years}", "insights", INSIGHTS_MAX_P95_MS),
        Target(
            "API insights 90 days",
            f"/api/v1/insights/?from={(today - timedelta(days=89)).isoformat()}&to={today.isoformat()}",
            "api insights",
            INSIGHTS_MAX_P95_MS,
            headers=headers,
        ),
        Target(
            "API insights 2 years",
            f"/api/v1/insights/?{two_years}",
            "api insights",
            INSIGHTS_MAX_P95_MS,
            headers=headers,
        ),
    ]


def forced_session_cookie(user) -> str:
    from django.conf import settings
    from django.test import Client

    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


def git_commit() -> str | None:
    try:
        done = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=BENCH_DIR, check=False
        )
    except OSError:
        return None
    return done.stdout.strip() or None


if __name__ == "__main__":
    sys.exit(main())
