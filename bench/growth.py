"""The JSON API as the incident table grows: the same requests at 1,000, 10,000 and 100,000
incidents, so a cost that grows with the table shows as a rising column.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/incident_bench_growth \\
        .venv/bin/python -m bench.growth

For each size it refills the database with `bench.generate` (ten events per incident; the name
must contain "bench"), then, in a fresh process, serves each request through Django's WSGI
handler — the same stack as gunicorn, without the network — in rounds that alternate with the
bare view, and reports the median time per request and its ratio to the bare view. Requests:
the first page of 100 (offset paging, with the total count), a page of 100 by cursor from the
middle of the list, a page of 10, and one incident. Writes bench/results/growth.json.
"""

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
RESULTS = BENCH_DIR / "results" / "growth.json"
SIZES = (1_000, 10_000, 100_000)
EVENTS_PER_INCIDENT = 10
# Within this share of the smallest size's time, a request counts as flat.
FLAT_WITHIN = 0.20


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.growth", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--rounds", type=int, default=5, help="bare-then-request rounds per request")
    parser.add_argument("--calls", type=int, default=40, help="calls per request and round")
    parser.add_argument("--measure-only", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def request(application, path: str, token: str) -> tuple[int, bytes]:
    """One GET through the WSGI handler, as gunicorn would make it."""
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path.split("?")[0],
        "QUERY_STRING": path.partition("?")[2],
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "HTTP_HOST": "127.0.0.1",
        "HTTP_AUTHORIZATION": f"Bearer {token}",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
    }
    statuses = []
    body = application(environ, lambda status, headers, exc_info=None: statuses.append(status))
    content = b"".join(body)
    body.close()
    return int(statuses[0].split()[0]), content


def measure(args: argparse.Namespace) -> dict:
    """In the process that measures: the requests' medians at the database's current size."""
    import django

    django.setup()
    from django.contrib.auth.models import User
    from django.core.wsgi import get_wsgi_application

    from incidents.models import Incident
    from incidents.services import api_token_create, api_token_revoke

    application = get_wsgi_application()
    made, token = api_token_create(user=User.objects.get(username="bench"), name="bench.growth")
    try:
        # The page in the middle of the list, by offset, gives the cursor of the one after it.
        middle = f"/api/v1/incidents/?limit=100&offset={Incident.objects.count() // 2}"
        cursor_path = (
            "/api/v1/incidents/?limit=100&cursor=" + json.loads(request(application, middle, token)[1])["next_cursor"]
        )
        newest = Incident.objects.order_by("-declared_at").first()
        requests = {
            "list of 100, first page": "/api/v1/incidents/?limit=100",
            "list of 100 by cursor, mid-list": cursor_path,
            "list of 10": "/api/v1/incidents/?limit=10",
            "one incident": f"/api/v1/incidents/{newest.reference}/",
        }
        figures = {}
        for name, path in requests.items():
            status, _ = request(application, path, token)
            if status != 200:
                raise RuntimeError(f"{path} answered {status}")
            bare, timed = [], []
            for _ in range(args.rounds):
                bare.append(_timed(application, "/bench/bare", token, args.calls))
                timed.append(_timed(application, path, token, args.calls))
            ratios = [b / t for b, t in zip(bare, timed, strict=True)]
            figures[name] = {"ms": statistics.median(timed), "ratio": statistics.median(ratios)}
        return {"incidents": Incident.objects.count(), "requests": figures}
    finally:
        api_token_revoke(token=made)


def _timed(application, path: str, token: str, calls: int) -> float:
    started = time.perf_counter()
    for _ in range(calls):
        request(application, path, token)
    return (time.perf_counter() - started) / calls * 1000


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
    if args.measure_only:
        print(json.dumps(measure(args)))
        return 0
    runs = []
    python = sys.executable
    for size in args.sizes:
        generate = [python, "-m", "bench.generate", "--setup", "--if-missing"]
        generate += ["--incidents", str(size), "--events", str(size * EVENTS_PER_INCIDENT)]
        subprocess.run(generate, cwd=BENCH_DIR.parent, check=True)
        measured = subprocess.run(
            [python, "-m", "bench.growth", "--measure-only", "--rounds", str(args.rounds), "--calls", str(args.calls)],
            cwd=BENCH_DIR.parent,
            check=True,
            capture_output=True,
            text=True,
        )
        runs.append(json.loads(measured.stdout.strip().splitlines()[-1]))
        print(f"  measured at {size:,} incidents", flush=True)
    print_table(runs)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps({"load_before": os.getloadavg(), "runs": runs}, indent=2) + "\n")
    print(f"\nwrote {RESULTS}")
    return 0


def print_table(runs: list[dict]) -> None:
    load = " ".join(f"{value:.2f}" for value in os.getloadavg())
    print(f"\nms per request (ratio to the bare view) as the table grows · load {load}")
    names = list(runs[0]["requests"])
    print(f"{'request':<34}" + "".join(f"{run['incidents']:>18,}" for run in runs) + "  flat?")
    for name in names:
        cells = [run["requests"][name] for run in runs]
        flat = max(cell["ms"] for cell in cells) <= cells[0]["ms"] * (1 + FLAT_WITHIN)
        row = "".join(f"{cell['ms']:>9.1f} ({cell['ratio']:.3f})" for cell in cells)
        print(f"{name:<34}{row}  {'yes' if flat else 'NO'}")


if __name__ == "__main__":
    sys.exit(main())
