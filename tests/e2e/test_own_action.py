"""Your own action shows at once: a note and a checklist mark reach the actor's own timeline in
the answer to their post, not at the next poll, and pasted command output keeps its columns."""

import importlib

import pytest
from django.apps import apps

from runbooks import services as runbook_services
from tests import factories
from tests.runbooks.conftest import make_runbook

pytestmark = pytest.mark.browser

COMMAND_OUTPUT = "NAME        READY   STATUS\napi-7d9f     1/1     Running\nworker-2c    0/1     CrashLoopBackOff"
# Far beyond the test's waits: anything that shows, shows without a poll.
NO_POLL_SECONDS = 600


@pytest.fixture
def slow_polls(e2e_db, settings):
    settings.POLL_SECONDS = dict.fromkeys(settings.POLL_SECONDS, NO_POLL_SECONDS)
    importlib.import_module("runbooks.migrations.0002_search_index_and_permissions").seed(apps, None)


def test_own_note_and_checklist_mark_show_at_once_with_output_in_monospace(page, expect, log_in, slow_polls, e2e_db):
    responder = log_in(page)
    incident = factories.declare_incident(declared_by=responder, title="Checkout API returns 500s")
    runbook_services.runbook_attach(runbook=make_runbook(actor=responder), incident=incident, actor=responder)
    page.goto(f"{e2e_db}{incident.get_absolute_url()}")
    timeline = page.locator("#timeline")

    page.locator("#id_text").fill("Restarted the api pods")
    page.get_by_role("button", name="Add note").click()
    expect(timeline.locator(".event-note").first).to_contain_text("Restarted the api pods", timeout=3_000)

    step = page.locator(".checklist > li").first
    step.get_by_text("Record this step").click()
    step.get_by_label("Note").fill("Pods crash-loop")
    step.get_by_label("Command output").fill(COMMAND_OUTPUT)
    step.get_by_role("button", name="Failed").click()
    expect(step.locator(".outcome")).to_have_text("Failed")

    event = timeline.locator(".event-runbook_step").first
    expect(event).to_contain_text("Step 1 failed", timeout=3_000)
    expect(event).to_contain_text("Pods crash-loop")
    output = event.locator("pre.output")
    # The columns survive: every space and line as pasted, in a monospace font.
    assert output.evaluate("element => element.textContent") == COMMAND_OUTPUT
    assert output.evaluate("element => getComputedStyle(element).whiteSpace") == "pre-wrap"
    assert "mono" in output.evaluate("element => getComputedStyle(element).fontFamily").lower()
    # Screen readers hear of it, politely.
    expect(page.locator("#live-announcer")).to_contain_text("New on the timeline: Runbook step Step 1 failed")
