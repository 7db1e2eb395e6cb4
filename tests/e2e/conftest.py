"""Fixtures for the browser tests: a headless Debian Chromium driven by Playwright's sync API
against pytest-django's live server.

The browser starts lazily, inside the session fixture, so a run without Chromium never touches
Playwright: the `browser` marker rule in tests/conftest.py has skipped (or, under
REQUIRE_SERVICES=1, failed) the test before any fixture is set up.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from django.contrib.auth.models import User

from tests import factories
from tests.conftest import CHROMIUM

if TYPE_CHECKING:  # Playwright is imported only when a browser test runs.
    from playwright.sync_api import Browser, BrowserContext, Expect, Page

PASSWORD = "correct horse battery staple"  # tests/factories.UserFactory's password
SHOTS = Path(os.environ.get("E2E_SHOTS_DIR") or Path(tempfile.gettempdir()) / "e2e-shots")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TIMEOUT_MS = 10_000


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    # Playwright's sync API keeps an asyncio event loop in the main thread; Django's ORM then
    # refuses to run there ("You cannot call this from an async context"). The test thread only
    # arranges data while the browser waits, so the guard protects nothing here.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        from playwright.sync_api import sync_playwright

        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            yield browser
            browser.close()


# Every part of a page that polls asks again each second: a test waits for the next poll, never
# for a production interval (10-60 s, settings.POLL_SECONDS).
POLL_SECONDS = 1


@pytest.fixture
def e2e_db(live_server, committed_db, settings) -> str:
    """The live server's URL, with the seeded severity policy and role groups in place, and pages
    that poll every POLL_SECONDS."""
    settings.POLL_SECONDS = dict.fromkeys(settings.POLL_SECONDS, POLL_SECONDS)
    settings.STATUS_PAGE_MAX_AGE_SECONDS = POLL_SECONDS
    return live_server.url


# Every page of every browser test reports what the Content-Security-Policy refused (an inline
# script or style, eval, a foreign source): the script runs before the page's own in each document.
CSP_MARK = "CSP violation:"
REPORT_CSP_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  const element = event.target && event.target.outerHTML ? " on " + event.target.outerHTML.slice(0, 160) : "";
  const source = event.sourceFile ? " from " + event.sourceFile + ":" + event.lineNumber : "";
  console.error("CSP_MARK " + event.effectiveDirective + " blocked " + (event.blockedURI || "inline")
    + " at " + event.documentURI + source + element + (event.sample ? " (" + event.sample + ")" : ""));
});
""".replace("CSP_MARK", CSP_MARK)


def _new_context(browser: Browser, **options) -> BrowserContext:
    # A test may name another zone (timezone_id=…) to see pages in it.
    options = {"viewport": {"width": 1280, "height": 900}, "timezone_id": "Europe/Berlin", **options}
    context = browser.new_context(**options)
    context.set_default_timeout(TIMEOUT_MS)
    return context


@pytest.fixture
def csp_violations() -> list[str]:
    """What the pages of this test's browser contexts reported (tests/e2e/test_csp.py reads it);
    any entry fails the test at teardown."""
    return []


@pytest.fixture
def new_page(browser: Browser, e2e_db: str, csp_violations: list[str]) -> Iterator[Callable[..., Page]]:
    """Open a page in a fresh browser context; keyword arguments go to new_context (e.g.
    java_script_enabled=False). Every context is closed after the test, and the test fails if any
    of its pages broke the Content-Security-Policy."""
    contexts: list[BrowserContext] = []

    def on_console(message) -> None:
        if message.text.startswith(CSP_MARK):
            csp_violations.append(message.text)

    def open_page(**options) -> Page:
        context = _new_context(browser, **options)
        context.add_init_script(REPORT_CSP_VIOLATIONS)
        context.on("console", on_console)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()
    assert not csp_violations, "the Content-Security-Policy refused:\n" + "\n".join(csp_violations)


@pytest.fixture
def page(new_page: Callable[..., Page]) -> Page:
    return new_page()


@pytest.fixture
def expect() -> Expect:
    """Playwright's `expect`, imported only once the test runs (see the module docstring)."""
    from playwright.sync_api import expect

    return expect


@pytest.fixture
def log_in(e2e_db: str) -> Callable[..., User]:
    """Log in through the real login form; returns the user. Pass a user, or a role to make one."""

    def log_in_(page: Page, user: User | None = None, *, role: str = "responder") -> User:
        user = user or factories.UserFactory(role=role)
        page.goto(f"{e2e_db}/accounts/login/")
        page.get_by_label("Username").fill(user.get_username())
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(f"{e2e_db}/")
        return user

    return log_in_


def wait_until(page: Page, expression: str, *, timeout_ms: int = TIMEOUT_MS) -> None:
    """Wait until a JavaScript expression is true in the page. Playwright's wait_for_function
    compiles its predicate with eval inside the page, which the Content-Security-Policy refuses;
    page.evaluate goes through the debugger protocol instead."""
    for _ in range(timeout_ms // 100):
        if page.evaluate(expression):
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"still false after {timeout_ms} ms: {expression}")


@pytest.fixture
def screenshot(request: pytest.FixtureRequest) -> Callable[..., Path]:
    """Save the page at the test's key moment to /tmp/e2e-shots/<test>.png (or $E2E_SHOTS_DIR); a
    step name saves an extra shot, <test>-<step>.png."""

    def take(page: Page, step: str = "") -> Path:
        SHOTS.mkdir(parents=True, exist_ok=True)
        path = SHOTS / f"{request.node.name}{'-' + step if step else ''}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take
