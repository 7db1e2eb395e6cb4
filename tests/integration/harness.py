"""Real services for the integration tests and the delivery benchmarks: an SMTP sink, an HTTP
webhook receiver and a Celery worker with its embedded beat, run as a subprocess.

Everything listens on, or talks to, 127.0.0.1 only. The sinks record what arrived and when, keyed
by the delivery id the app puts in every message (the X-Incident-Desk-Delivery header of an email,
the Idempotency-Key header of a webhook), so a caller can count how often each delivery arrived;
they also keep each email's Message-ID and each webhook's Idempotency-Key, by which a receiver
drops a repeat.

bench/fault.py and bench/sweep.py import this module too, so the tests and the benchmarks start
the worker the same way.
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote

BASE_DIR = Path(__file__).resolve().parents[2]
CELERY = BASE_DIR / ".venv" / "bin" / "celery"
HOST = "127.0.0.1"
DELIVERY_HEADER = "X-Incident-Desk-Delivery"
IDEMPOTENCY_PREFIX = "incident-desk-delivery-"
# The Redis keys that hold Celery's queued and unacknowledged messages (kombu's Redis transport).
BROKER_KEYS = ("celery", "sweeps", "unacked", "unacked_index", "unacked_mutex")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def wait_for(predicate: Callable[[], object], *, timeout: float, interval: float = 0.2, what: str = "") -> object:
    """Poll until `predicate()` is truthy; return its value, or raise TimeoutError naming `what`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(f"gave up after {timeout:.0f} s waiting for {what or predicate}")
        time.sleep(interval)


def database_url(settings_dict: dict) -> str:
    """A DATABASE_URL for another process, from a Django connection's settings (the test database)."""
    user = quote(settings_dict.get("USER") or "", safe="")
    password = quote(settings_dict.get("PASSWORD") or "", safe="")
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = settings_dict.get("HOST") or HOST
    port = settings_dict.get("PORT") or 5432
    return f"postgres://{auth}{host}:{port}/{quote(settings_dict['NAME'], safe='')}"


def broker_purge(redis_url: str) -> None:
    """Drop the Celery messages queued in this Redis database, and nothing else in it."""
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        client.delete(*BROKER_KEYS)
    finally:
        client.close()


# --- SMTP ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReceivedEmail:
    to: tuple[str, ...]
    subject: str
    delivery_id: int | None
    received_at: float  # time.time() when the server accepted it
    message_id: str = ""
    body: str = ""  # the plain-text part


def _plain_text(message: email.message.EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    return part.get_content() if part is not None else ""


class SmtpSink:
    """An aiosmtpd server in a thread of this process, collecting every message it accepts.
    `delay` makes each message take that long to accept, like a real mail server; `message_read`
    is set when a message's end-of-data line has been read, before that delay."""

    def __init__(self, *, delay: float = 0.0) -> None:
        self.delay = delay
        self.port = free_port()
        self.messages: list[ReceivedEmail] = []
        self.message_read = threading.Event()
        self._lock = threading.Lock()
        self._controller = None

    @property
    def url(self) -> str:
        return f"smtp://{HOST}:{self.port}"

    async def handle_DATA(self, server, session, envelope) -> str:  # aiosmtpd's handler hook
        import asyncio

        self.message_read.set()
        if self.delay:
            await asyncio.sleep(self.delay)
        parsed = email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
        header = parsed.get(DELIVERY_HEADER)
        received = ReceivedEmail(
            to=tuple(envelope.rcpt_tos),
            subject=str(parsed.get("Subject", "")),
            delivery_id=int(header) if header and str(header).strip().isdigit() else None,
            received_at=time.time(),
            message_id=str(parsed.get("Message-ID", "")),
            body=_plain_text(parsed),
        )
        with self._lock:
            self.messages.append(received)
        return "250 Message accepted for delivery"

    def start(self) -> SmtpSink:
        import logging

        from aiosmtpd.controller import Controller

        # aiosmtpd logs every connection at INFO on "mail.log".
        logging.getLogger("mail.log").setLevel(logging.WARNING)

        self._controller = Controller(self, hostname=HOST, port=self.port, ready_timeout=10)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def snapshot(self) -> list[ReceivedEmail]:
        with self._lock:
            return list(self.messages)

    def counts(self) -> Counter:
        """How many times each delivery id arrived."""
        return Counter(message.delivery_id for message in self.snapshot() if message.delivery_id is not None)


# --- Webhooks --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReceivedWebhook:
    path: str
    body: dict
    headers: dict
    delivery_id: int | None
    received_at: float
    raw: bytes = b""  # the body as sent, for checking a signature over it
    idempotency_key: str = ""


@dataclass
class WebhookReceiver:
    """A threaded HTTP server on 127.0.0.1 recording every POST. `status` is what it answers;
    `delay` makes each request take that long to record and answer; `message_read` is set when a
    request's whole body has been read, before that delay."""

    status: int = 200
    delay: float = 0.0
    received: list[ReceivedWebhook] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self.message_read = threading.Event()

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://{HOST}:{self._server.server_port}/hook"

    def start(self) -> WebhookReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                if len(raw) < length:
                    # The sender went away before the whole body came: like any HTTP server,
                    # this is no request, and nothing was received.
                    self.close_connection = True
                    return
                receiver.message_read.set()
                if receiver.delay:
                    time.sleep(receiver.delay)
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    body = {"raw": raw.decode(errors="replace")}
                key = self.headers.get("Idempotency-Key") or ""
                match = re.fullmatch(re.escape(IDEMPOTENCY_PREFIX) + r"(\d+)", key)
                with receiver._lock:
                    receiver.received.append(
                        ReceivedWebhook(
                            path=self.path,
                            body=body,
                            headers=dict(self.headers),
                            delivery_id=int(match.group(1)) if match else None,
                            received_at=time.time(),
                            raw=raw,
                            idempotency_key=key,
                        )
                    )
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self._server = ThreadingHTTPServer((HOST, 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name="webhook-receiver", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def snapshot(self) -> list[ReceivedWebhook]:
        with self._lock:
            return list(self.received)

    def counts(self) -> Counter:
        return Counter(hook.delivery_id for hook in self.snapshot() if hook.delivery_id is not None)


# --- The Celery worker -----------------------------------------------------------------------


class WorkerFailed(RuntimeError):
    pass


class CeleryWorker:
    """`celery -A config worker --beat` (the default queue only, as anyone types it) as a
    subprocess in its own process group, logging to a file.

    `start()` returns once the worker says it is ready and the embedded beat has started; `kill()`
    is SIGKILL to the whole group (worker, pool children and beat); `stop()` is a warm shutdown
    (SIGTERM), then SIGKILL after `timeout`. A worker can be started again after either."""

    READY = re.compile(r"celery@\S+ ready\.")

    def __init__(self, *, env: dict[str, str], workdir: Path, app: str = "config", concurrency: int = 2) -> None:
        self.env = env
        self.workdir = Path(workdir)
        self.app = app
        self.concurrency = concurrency
        self.log_path = self.workdir / "celery-worker.log"
        self.schedule_path = self.workdir / "celerybeat-schedule"
        self.process: subprocess.Popen | None = None
        self.starts = 0
        self._log_offset = 0

    def command(self) -> list[str]:
        return [
            str(CELERY),
            "-A",
            self.app,
            "worker",
            "--beat",
            "--loglevel=INFO",
            f"--concurrency={self.concurrency}",
            "-s",
            str(self.schedule_path),
            # No gossip or mingle: nothing to learn from other workers, and a second less to start.
            "--without-gossip",
            "--without-mingle",
        ]

    def start(self, *, timeout: float = 40) -> CeleryWorker:
        if self.process is not None and self.process.poll() is None:
            raise WorkerFailed("the worker is already running")
        self.workdir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("a") as log:
            log.write(f"\n===== start {self.starts + 1} at {time.strftime('%H:%M:%S')} =====\n")
            self._log_offset = log.tell()
            self.process = subprocess.Popen(
                self.command(),
                cwd=BASE_DIR,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.starts += 1
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.log_since_start()
            if self.READY.search(text) and "beat: Starting" in text:
                return self
            if self.process.poll() is not None:
                raise WorkerFailed(f"the worker exited with {self.process.returncode}:\n{self.log()}")
            time.sleep(0.1)
        self.stop()
        raise WorkerFailed(f"the worker was not ready after {timeout:.0f} s:\n{self.log()}")

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def _signal_group(self, signum: int) -> None:
        assert self.process is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signum)

    def kill(self) -> None:
        """SIGKILL the whole process group, as a crashed machine or the OOM killer would."""
        if self.process is None:
            return
        self._signal_group(signal.SIGKILL)
        self.process.wait()
        self.process = None

    def stop(self, *, timeout: float = 15) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self._signal_group(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self._signal_group(signal.SIGKILL)
                self.process.wait()
        # Pool children or beat outliving the main process would keep the database busy.
        self._signal_group(signal.SIGKILL)
        self.process = None

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_since_start(self) -> str:
        try:
            with self.log_path.open(errors="replace") as log:
                log.seek(self._log_offset)
                return log.read()
        except FileNotFoundError:
            return ""

    def tasks_succeeded(self, task_name: str) -> int:
        """How many runs of a task this worker has logged as succeeded, over all its starts."""
        return len(re.findall(re.escape(f"Task {task_name}[") + r"[^\]]+\] succeeded", self.log()))


def worker_env(
    *,
    database_url: str,
    redis_url: str,
    email_url: str,
    workdir: Path,
    sweep_seconds: float | str = 1,
    settings_module: str = "config.settings",
    extra: dict[str, str] | None = None,
) -> dict[str, str]:
    """The environment of a worker: this process's, with the services named explicitly."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTEST_", "DJANGO_"))}
    env.update(
        DJANGO_SETTINGS_MODULE=settings_module,
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        EMAIL_URL=email_url,
        REMINDER_SWEEP_SECONDS=str(sweep_seconds),
        SITE_URL="http://testserver",
        HTTPS="false",
        VAR_DIR=str(workdir),
        LOG_LEVEL="INFO",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra or {})
    return env


def counts_by(items: Iterable, key: Callable) -> Counter:
    return Counter(key(item) for item in items)
