"""The fault test's SMTP server and webhook receiver, each in a process of its own.

In the process that times the SIGKILLs they would share its interpreter lock: the thread that
kills runs when a receiver's thread lets go of the lock, and a receiver lets go of it right after
it has answered a message. The kills would then fall, run after run, in the microseconds after a
receiver answered, instead of at moments that know nothing of the receivers, as a crash's do.

    python -m bench.receivers smtp|webhook --delay SECONDS --out FILE

prints the receiver's URL on the first line of stdout, then appends one JSON line per message it
accepted to FILE until SIGTERM: the delivery id, the arrival time and the key a receiver drops
repeats by (an email's Message-ID, a webhook's Idempotency-Key). A webhook's delivery id is read
from its JSON body, not from its key, so that the count by key is a check of its own.
"""

import argparse
import json
import signal
import subprocess
import sys
import threading
from pathlib import Path
from types import SimpleNamespace

from tests.integration.harness import SmtpSink, WebhookReceiver


class ReceiverProcess:
    """The parent's handle: `start()`, `url`, `snapshot()` (what arrived so far), `stop()`."""

    def __init__(self, kind: str, *, delay: float, workdir: Path) -> None:
        self.kind = kind
        self.delay = delay
        self.out = Path(workdir) / f"received-{kind}.jsonl"
        self.process: subprocess.Popen | None = None
        self.url = ""

    def start(self) -> "ReceiverProcess":
        self.out.write_text("")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.receivers", self.kind, "--delay", str(self.delay), "--out", str(self.out)],
            stdout=subprocess.PIPE,
            text=True,
        )
        self.url = self.process.stdout.readline().strip()
        if not self.url:
            raise RuntimeError(f"the {self.kind} receiver did not start")
        return self

    def snapshot(self) -> list[SimpleNamespace]:
        lines = self.out.read_text().splitlines(keepends=True)
        return [SimpleNamespace(**json.loads(line)) for line in lines if line.endswith("\n")]

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self.process = None


def arrival(kind: str, item) -> dict:
    if kind == "smtp":
        return {"delivery_id": item.delivery_id, "received_at": item.received_at, "key": item.message_id}
    delivery_id = item.body.get("delivery_id") if isinstance(item.body, dict) else None
    return {"delivery_id": delivery_id, "received_at": item.received_at, "key": item.idempotency_key}


def serve(kind: str, delay: float, out: Path) -> None:
    receiver = SmtpSink(delay=delay) if kind == "smtp" else WebhookReceiver(delay=delay)
    receiver.start()
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: stopping.set())
    print(receiver.url, flush=True)
    written = 0
    with out.open("a") as file:
        while True:
            stopped = stopping.wait(0.1)
            arrived = receiver.snapshot()
            for item in arrived[written:]:
                file.write(json.dumps(arrival(kind, item)) + "\n")
            file.flush()
            written = len(arrived)
            if stopped:
                break
    receiver.stop()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.receivers")
    parser.add_argument("kind", choices=["smtp", "webhook"])
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    serve(args.kind, args.delay, args.out)


if __name__ == "__main__":
    main()
