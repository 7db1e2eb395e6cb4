"""An incident's life in a real browser: declared from the keyboard, updated, escalated and
resolved, with the countdowns responders watch, and the same journey without JavaScript."""

import re
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from incidents import errors, services
from incidents.models import SeverityPolicy
from incidents.reminders import reminders_fan_out, reminders_sweep
from tests import factories
from tests.e2e.conftest import wait_until

pytestmark = pytest.mark.browser

INCIDENT_URL = re.compile(r"/incidents/INC-\d+/$")
# Durations read as durations, never as a clock reading such as "29:52".
DUE_IN_ABOUT_30_MIN = re.compile(r"^Update due in (29|30) min$")
DUE_IN_ABOUT_15_MIN = re.compile(r"^Update due in (14|15) min$")


def _mark(page) -> None:
    """Leave a mark in the window: it survives htmx swaps and vanishes on any navigation."""
    page.evaluate("window.__marker = 1")


def _still_marked(page) -> bool:
    return page.evaluate("window.__marker") == 1


def _requests(page, wanted) -> list[str]:
    """The URLs of the page's requests from now on that `wanted` picks out."""
    urls: list[str] = []
    page.on("request", lambda request: wanted(request) and urls.append(request.url))
    return urls


def _htmx_requests(page) -> list[str]:
    return _requests(page, lambda request: "hx-request" in request.headers)


def _row(page, incident_reference: str):
    return page.locator(f"#incident-table tr[data-reference='{incident_reference}']")


def test_declare_update_escalate_resolve(page, expect, log_in, screenshot, e2e_db):
    log_in(page)

    page.keyboard.press("n")
    page.wait_for_url(f"{e2e_db}/incidents/new/")
    title = page.get_by_label("Title")
    expect(title).to_be_focused()
    title.fill("Checkout API returns 500s")
    page.get_by_role("radio", name=re.compile(r"^SEV2\b")).check()
    screenshot(page, "declare-form")
    page.get_by_role("button", name="Declare incident").click()

    page.wait_for_url(INCIDENT_URL)
    reference = page.locator(".incident-title .ref").inner_text()
    expect(page.get_by_role("heading", level=1)).to_have_text("Checkout API returns 500s")
    expect(page.locator(".messages")).to_contain_text(f"{reference} declared")

    page.get_by_role("link", name="Dashboard", exact=True).click()
    row = _row(page, reference)
    expect(row.locator(".countdown")).to_have_text(DUE_IN_ABOUT_30_MIN)
    # The browser's zone reached the server (app.js's tz cookie): times render in Berlin time.
    expect(row.locator(".countdown")).to_have_attribute("title", re.compile(r" CES?T$"))
    expect(row).not_to_have_class(re.compile(r"\brow-overdue\b"))
    screenshot(page, "dashboard")

    row.get_by_role("link").click()
    page.wait_for_url(INCIDENT_URL)
    page.keyboard.press("u")
    progress = page.locator("#update-form textarea[name='progress']")
    expect(progress).to_be_focused()
    page.keyboard.type("Rolled back deploy 4711; the error rate is falling.")
    expect(progress).to_have_value("Rolled back deploy 4711; the error rate is falling.")
    _mark(page)
    page.get_by_role("button", name="Post update").click()

    timeline = page.locator("#timeline")
    expect(timeline.locator(".status-update").first).to_contain_text("Rolled back deploy 4711")
    expect(page.locator("#page-messages .messages")).to_contain_text("Status update posted.")
    expect(page.locator("#update-form textarea[name='progress']")).to_have_value("")
    assert _still_marked(page), "posting the update reloaded the page"

    page.locator(".controls select[name='severity']").select_option(label="SEV1 · Critical")
    page.get_by_role("button", name="Change severity").click()
    live = page.locator("#incident-live")
    expect(live.locator(".badge.sev")).to_have_text("SEV1")
    expect(live.locator(".countdown")).to_have_text(DUE_IN_ABOUT_15_MIN)
    expect(timeline).to_contain_text("Raised severity from SEV2 to SEV1")

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Resolve").click()
    expect(live.locator(".badge.status")).to_have_text("Resolved")
    expect(live).to_contain_text("Resolved")
    expect(live.locator(".countdown")).to_have_count(0)
    expect(timeline).to_contain_text("Resolved")
    assert _still_marked(page), "an htmx action reloaded the page"
    screenshot(page)

    page.get_by_role("link", name="Dashboard", exact=True).click()
    resolved = page.locator("section.card", has=page.get_by_role("heading", name="Recently resolved"))
    expect(resolved.locator(f"tr[data-reference='{reference}']")).to_contain_text("Checkout API returns 500s")
    active = page.locator("section.card", has=page.get_by_role("heading", name=re.compile(r"^Active")))
    expect(active.locator(f"tr[data-reference='{reference}']")).to_have_count(0)
    screenshot(page, "resolved")


def test_overdue_turns_red_without_reload(page, expect, log_in, screenshot, e2e_db):
    responder = factories.UserFactory(role="responder")
    cadence = SeverityPolicy.objects.get(key="SEV2").update_cadence
    # Arranging state through the service: the incident was declared one cadence ago, less a
    # minute, so its first update falls due while the dashboard is open. Only this process's clock
    # travels (the live server runs in it too, but serves nothing meanwhile: no page is open yet).
    with time_machine.travel(timezone.now() - cadence + timedelta(minutes=1), tick=True):
        incident = factories.declare_incident(severity="SEV2", declared_by=responder, title="Search is slow")
    # The browser's clock is Playwright's: that minute is skipped, not waited for.
    page.clock.install()
    log_in(page, responder)

    row = _row(page, incident.reference)
    countdown = row.locator(".countdown")
    expect(countdown).to_have_text(re.compile(r"^Update due in ([1-5]?\d s|1 min)$"))
    expect(row).not_to_have_class(re.compile(r"\brow-overdue\b"))
    _mark(page)

    page.clock.fast_forward("01:05")
    expect(row).to_have_class(re.compile(r"\brow-overdue\b"))
    expect(countdown).to_have_text(re.compile(r"^Update overdue by \d+ s$"))
    expect(countdown).to_have_class(re.compile(r"\boverdue\b"))
    # Screen readers are told once, politely.
    announcer = page.locator("#live-announcer[aria-live=polite]")
    expect(announcer).to_have_text(f"{incident.reference}: status update overdue")
    assert _still_marked(page), "the dashboard reloaded"

    # The reminder sweep and its fan-out run at the browser's time (beat's and the worker's job;
    # here the test calls the same services) and the bell in the header, which polls, shows the
    # reminder — still without a reload.
    bell = page.locator("#bell")
    expect(bell.locator(".bell-count")).to_have_count(0)
    browser_now = timezone.now() + timedelta(seconds=65)
    assert reminders_sweep(now=browser_now) == 1
    assert reminders_fan_out(now=browser_now) == 1
    expect(bell.locator(".bell-count")).to_have_text("1")
    assert _still_marked(page), "the dashboard reloaded"
    screenshot(page)
    bell.click()
    expect(page.locator(".inbox li.unread")).to_contain_text(f"{incident.reference} status update due")


def test_refused_input_keeps_text(page, expect, log_in, screenshot, e2e_db):
    responder = log_in(page)
    incident = factories.declare_incident(severity="SEV2", declared_by=responder)
    page.goto(f"{e2e_db}{incident.get_absolute_url()}")
    posts = _requests(page, lambda request: request.method == "POST")

    form = page.locator("#update-form")
    form.get_by_label("Next steps").fill("Analyzing slow query logs")
    _mark(page)
    form.get_by_role("button", name="Post update").click()
    # The server refuses the empty progress with its own message, keeps what was typed elsewhere
    # and puts the cursor in the field to fix — without a reload.
    form = page.locator("#update-form")
    expect(form).to_contain_text(errors.UPDATE_PROGRESS_REQUIRED)
    expect(form.get_by_label("Next steps")).to_have_value("Analyzing slow query logs")
    expect(form.get_by_label("What we know / progress")).to_be_focused()
    expect(page.locator("#timeline .status-update")).to_have_count(0)
    assert len(posts) == 1
    assert _still_marked(page)
    screenshot(page)


def test_live_check_on_declare_form_never_steals_typing(page, expect, log_in, screenshot, e2e_db):
    log_in(page)
    page.goto(f"{e2e_db}/incidents/new/")
    page.get_by_label("Affected users (%)").fill("250")
    page.get_by_label("Title").click()
    # The live check answers while the user is already typing the title.
    page.keyboard.type("Checkout API returns 500s", delay=40)
    expect(page.locator("#id_affected_users_percent_errors")).to_contain_text(errors.PERCENT_OUT_OF_RANGE)
    page.get_by_label("Summary").click()
    page.keyboard.type("Customers cannot pay since the 14:00 deploy", delay=25)
    expect(page.get_by_label("Title")).to_have_value("Checkout API returns 500s")
    expect(page.get_by_label("Summary")).to_have_value("Customers cannot pay since the 14:00 deploy")
    expect(page.get_by_label("Summary")).to_be_focused()
    screenshot(page)


def test_dashboard_filter_survives_refresh(page, expect, log_in, screenshot, e2e_db):
    responder = factories.UserFactory(role="responder")
    sev1 = factories.declare_incident(severity="SEV1", declared_by=responder, title="Payments are down")
    sev3 = factories.declare_incident(severity="SEV3", declared_by=responder, title="Admin search is slow")
    log_in(page, responder)
    expect(_row(page, sev1.reference)).to_be_visible()
    expect(_row(page, sev3.reference)).to_be_visible()

    _mark(page)
    page.get_by_role("checkbox", name="SEV1").check()
    expect(page).to_have_url(f"{e2e_db}/?severity=SEV1")
    expect(_row(page, sev3.reference)).to_have_count(0)

    # The table refreshes itself every poll: count the refreshes it makes from now on (not the
    # filter's own swap), wait for one and look again.
    page.evaluate(
        """() => {
            window.__tableRefreshes = 0;
            document.addEventListener("htmx:afterSettle", (event) => {
                if (event.detail.requestConfig?.elt?.id === "incident-table") window.__tableRefreshes += 1;
            });
        }"""
    )
    # The table's own requests name it as their trigger (the bell's poll is another).
    refreshes = _requests(page, lambda request: request.headers.get("hx-trigger") == "incident-table")
    wait_until(page, "window.__tableRefreshes >= 1")
    expect(_row(page, sev1.reference)).to_be_visible()
    expect(_row(page, sev3.reference)).to_have_count(0)
    expect(page).to_have_url(f"{e2e_db}/?severity=SEV1")
    expect(page.get_by_role("checkbox", name="SEV1")).to_be_checked()
    assert refreshes
    assert set(refreshes) == {f"{e2e_db}/?severity=SEV1"}
    assert _still_marked(page)
    screenshot(page)

    page.reload()
    expect(page.get_by_role("checkbox", name="SEV1")).to_be_checked()
    expect(_row(page, sev1.reference)).to_be_visible()
    expect(_row(page, sev3.reference)).to_have_count(0)


def test_works_without_javascript(new_page, expect, log_in, screenshot, e2e_db):
    page = new_page(java_script_enabled=False)
    htmx_requests = _htmx_requests(page)
    log_in(page)

    page.get_by_role("link", name=re.compile(r"^Declare incident")).click()
    page.wait_for_url(f"{e2e_db}/incidents/new/")
    page.get_by_label("Title").fill("Status page is stale")
    page.get_by_role("radio", name=re.compile(r"^SEV3\b")).check()
    page.get_by_role("button", name="Declare incident").click()

    page.wait_for_url(INCIDENT_URL)
    reference = page.locator(".incident-title .ref").inner_text()
    expect(page.locator(".messages")).to_contain_text(f"{reference} declared")
    expect(page.locator("#incident-live .badge.sev")).to_have_text("SEV3")
    expect(page.locator("#incident-live .countdown")).to_contain_text("Update due in")

    form = page.locator("#update-form")
    form.get_by_label("What we know / progress").fill("The status page cache is not purged on publish.")
    form.get_by_label("Next steps").fill("Purge it by hand")
    form.get_by_role("button", name="Post update").click()

    page.wait_for_url(INCIDENT_URL)
    expect(page.locator(".messages")).to_contain_text("Status update posted.")
    update = page.locator("#timeline .status-update").first
    expect(update).to_contain_text("The status page cache is not purged on publish.")
    expect(update).to_contain_text("Purge it by hand")
    assert htmx_requests == []
    screenshot(page)


def test_someone_elses_change_redraws_the_panels_unless_the_reader_is_busy(page, expect, log_in, screenshot, e2e_db):
    lead = log_in(page)
    incident = factories.declare_incident(declared_by=lead, severity="SEV2")
    page.goto(f"{e2e_db}{incident.get_absolute_url()}")
    _mark(page)
    roles = page.locator("section.card", has=page.get_by_role("heading", name="Roles"))
    impact = page.locator("section.card", has=page.get_by_role("heading", name="Impact"))

    # The reader's own change leaves its message at the top of the page.
    note = page.locator(f"form[action='{incident.get_absolute_url()}notes/']")
    note.get_by_label("Note").fill("Paged the payments team")
    note.get_by_role("button", name="Add note").click()
    expect(page.locator("#page-messages")).to_have_text("Note added to the timeline.")

    # A colleague joins and writes down the impact: the panels show it at the next poll, and
    # the reader's earlier message, now about an older page, goes.
    colleague = factories.UserFactory(role="responder", first_name="Ana", last_name="Ruiz")
    services.incident_roles_assign(incident=incident, actor=colleague, responders=[colleague])
    services.incident_impact_update(incident=incident, actor=colleague, business_impact="Card payments fail")
    expect(roles).to_contain_text("Ana Ruiz")
    expect(impact).to_contain_text("Card payments fail")
    expect(page.locator("#page-messages")).to_have_text("")
    expect(page.locator("#update-form select[name='status']")).to_have_value("investigating")
    screenshot(page, "redrawn")

    # Halfway through an update, the reader's form is left alone when the status moves on.
    progress = page.locator("#update-form textarea[name='progress']")
    progress.fill("Rolled back the deploy")
    page.locator("h1").click()  # focus leaves the field; the form is still changed
    page.evaluate(
        """() => {
            window.__liveRefreshes = 0;
            document.addEventListener("htmx:afterSettle", (event) => {
                if (event.detail.elt?.id === "incident-live") window.__liveRefreshes += 1;
            });
        }"""
    )
    services.incident_status_change(incident=incident, status="identified", actor=colleague)
    expect(page.locator("#incident-live")).to_contain_text("Identified")
    # Two more polls bring the change again: the panels are still left alone.
    seen = page.evaluate("window.__liveRefreshes")
    wait_until(page, f"window.__liveRefreshes >= {seen + 2}")
    expect(progress).to_have_value("Rolled back the deploy")
    expect(page.locator("#update-form select[name='status']")).to_have_value("investigating")
    assert _still_marked(page)
