"""A runbook's way from a Markdown file to an incident's timeline, in a real browser: import the
seed template, find it by a symptom as you type, attach it to an incident, work the checklist
(two steps done, one failed) while a second responder watches it move, and read the three steps on
the timeline."""

import importlib
import re
from pathlib import Path

import pytest
from django.apps import apps

from incidents.models import EventKind
from runbooks.models import Runbook
from tests import factories

pytestmark = pytest.mark.browser

TEMPLATE = Path(__file__).parent.parent / "runbooks" / "fixtures" / "incident_runbook_template.md"


@pytest.fixture
def runbook_roles(committed_db):
    """Transactional tests empty every table; put the runbooks app's permission grants back."""
    importlib.import_module("runbooks.migrations.0002_search_index_and_permissions").seed(apps, None)


def test_import_find_attach_and_work_a_runbook(page, new_page, expect, log_in, screenshot, e2e_db, runbook_roles):
    responder = log_in(page)
    incident = factories.declare_incident(declared_by=responder, title="Login API returns 500s")

    # Import the seed template through the UI, as a file.
    page.goto(f"{e2e_db}/runbooks/")
    page.get_by_role("link", name="Import Markdown").click()
    page.get_by_label("Markdown file").set_input_files(str(TEMPLATE))
    page.get_by_role("button", name="Import").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("[Incident/Task Name]")
    expect(page.locator("#step-3 h3")).to_have_text("Step 3: [Third Action]")
    runbook = Runbook.objects.get()

    # From the incident, find it by a symptom: results follow the typing without a page load.
    page.goto(f"{e2e_db}{incident.get_absolute_url()}")
    page.get_by_role("link", name="Find a runbook to attach…").click()
    page.evaluate("window.__marker = 1")
    page.get_by_label("Search runbooks").press_sequentially("users cannot log", delay=30)
    results = page.locator("#runbook-results")
    expect(results.locator("h2")).to_have_text(re.compile(r"^1 match for"))
    expect(results.get_by_role("link", name="[Incident/Task Name]")).to_be_visible()
    assert page.evaluate("window.__marker") == 1, "the search reloaded the page"
    screenshot(page, "search")

    results.get_by_role("button", name=f"Attach [Incident/Task Name] to {incident.reference}").click()
    page.wait_for_url(f"{e2e_db}{incident.get_absolute_url()}")
    messages = page.locator("#page-messages .message")
    expect(messages).to_have_text(["Runbook '[Incident/Task Name]' attached; its steps are the checklist."])
    # The next change made on the page says what it did, and only that.
    note = page.locator(f"form[action='{incident.get_absolute_url()}notes/']")
    note.get_by_label("Note").fill("Checking the pods first")
    note.get_by_role("button", name="Add note").click()
    expect(messages).to_have_text(["Note added to the timeline."])
    checklist = page.locator("section.checklist-card")
    expect(checklist.locator("[data-progress]")).to_have_text("0 of 3 steps recorded")

    # A second responder has the same incident open.
    watcher_page = new_page()
    log_in(watcher_page)
    watcher_page.goto(f"{e2e_db}{incident.get_absolute_url()}")
    watched = watcher_page.locator("section.checklist-card [data-progress]")
    expect(watched).to_have_text("0 of 3 steps recorded")

    def record(position: int, outcome: str, note: str = "", output: str = "") -> None:
        step = page.locator("section.checklist-card .checklist > li").nth(position - 1)
        step.locator("summary").click()
        if note:
            step.get_by_label("Note").fill(note)
        if output:
            step.get_by_label("Command output").fill(output)
        step.get_by_role("button", name=outcome, exact=True).click()
        expect(step.locator(".outcome")).to_have_text(outcome)

    record(1, "Done", note="Pods are running")
    record(2, "Done")
    record(3, "Failed", output="Error from server (Forbidden): pods is forbidden")
    expect(checklist.locator("[data-progress]")).to_have_text("3 of 3 steps recorded · 1 failed")
    expect(checklist.locator("progress.progress")).to_have_attribute("value", "3")
    expect(checklist.locator("progress.progress")).to_have_attribute("max", "3")
    screenshot(page, "checklist")

    # The other responder sees it without reloading (the checklist polls).
    expect(watched).to_have_text("3 of 3 steps recorded · 1 failed")

    page.reload()
    timeline = page.locator("#timeline")
    expect(timeline.locator(".event-runbook_step")).to_have_count(3)
    expect(timeline.locator(".event-runbook_attached")).to_have_count(1)
    expect(timeline).to_contain_text("Step 1 done: [First Action]")
    expect(timeline).to_contain_text("Step 2 done: [Second Action]")
    expect(timeline).to_contain_text("Step 3 failed: [Third Action]")
    expect(timeline).to_contain_text("Error from server (Forbidden): pods is forbidden")
    screenshot(page)

    assert incident.timeline.filter(kind=EventKind.RUNBOOK_STEP, data__run__isnull=False).count() == 3
    assert runbook.runs.get().steps.filter(recorded_by=responder).count() == 3
