"""A runbook at hand in an incident, in a real browser: attach it from the runbook's own page
("Attach to incident…"), open its first step on the incident's checklist and copy the step's
command to the clipboard. Screenshots at 1280 and 360 px."""

import importlib

import pytest
from django.apps import apps

from runbooks import services
from runbooks.demo import RUNBOOKS
from runbooks.markdown_format import parse
from runbooks.models import RunbookRun
from tests import factories

pytestmark = pytest.mark.browser
PHONE = {"width": 360, "height": 780}
COMMANDS = "kubectl rollout history deployment/checkout -n production | tail -3"


@pytest.fixture
def runbook_roles(committed_db):
    """Transactional tests empty every table; put the runbooks app's permission grants back."""
    importlib.import_module("runbooks.migrations.0002_search_index_and_permissions").seed(apps, None)


def test_attach_from_the_runbook_page_then_open_a_step_and_copy_its_command(
    new_page, expect, log_in, screenshot, e2e_db, runbook_roles
):
    factories.ServiceFactory(name="Checkout", slug="checkout")
    text = (RUNBOOKS / "checkout-error-rate.md").read_text(encoding="utf-8")
    runbook, _unknown = services.runbook_create(data=parse(text), actor=None)
    assert runbook.steps.get(position=1).commands == COMMANDS
    page = new_page(permissions=["clipboard-read", "clipboard-write"])
    responder = log_in(page)
    factories.declare_incident(declared_by=responder, title="Search is slow in one region")
    incident = factories.declare_incident(declared_by=responder, title="Card payments fail after the deploy")
    restricted = factories.declare_incident(title="Suspicious logins", restricted=True)

    page.goto(f"{e2e_db}{runbook.get_absolute_url()}")
    menu = page.locator("details.attach-menu")
    menu.get_by_text("Attach to incident…").click()
    choices = menu.locator(".attach-list li")
    expect(choices).to_have_count(2)
    expect(choices.first).to_contain_text(f"{incident.reference} Card payments fail after the deploy")
    expect(menu).not_to_contain_text(restricted.title)
    screenshot(page, "runbook-attach-1280")
    page.set_viewport_size(PHONE)
    page.emulate_media(color_scheme="dark")  # the phone shots in the dark theme, the desktop ones light
    shot = screenshot(page, "runbook-attach-360")
    page.screenshot(path=str(shot.with_name(f"{shot.stem}-top.png")))  # what a phone shows first
    page.set_viewport_size({"width": 1280, "height": 900})
    page.emulate_media(color_scheme="light")

    menu.get_by_role("button", name=f"Attach to {incident.reference}: Card payments fail after the deploy").click()
    page.wait_for_url(f"{e2e_db}{incident.get_absolute_url()}")
    expect(page.locator("#page-messages .message")).to_have_text(
        ["Runbook 'Checkout error rate high' attached; its steps are the checklist."]
    )
    assert RunbookRun.objects.get().incident_id == incident.pk

    step = page.locator("section.checklist-card .checklist > li").first
    command = step.locator("pre code")
    expect(command).to_be_hidden()
    step.locator("summary").click()
    expect(command).to_have_text(COMMANDS)
    expect(step).to_contain_text("Success criteria")
    expect(step).to_contain_text("You know the last release and when it went out")
    second = page.locator("section.checklist-card .checklist > li").nth(1)
    second.locator("summary").click()
    expect(second.locator("pre.output")).to_have_text('deployment "checkout" successfully rolled out')

    step.get_by_role("button", name="Copy the commands of step 1").click()
    expect(step.get_by_role("button", name="Copy the commands of step 1")).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == COMMANDS
    screenshot(page, "checklist-step-1280")
    page.set_viewport_size(PHONE)
    page.emulate_media(color_scheme="dark")
    shot = screenshot(page, "checklist-step-360")
    page.locator("section.checklist-card").screenshot(path=str(shot.with_name(f"{shot.stem}-checklist.png")))

    # Recording the step still works from the opened step, and the checklist keeps polling after.
    step.get_by_role("button", name="Done", exact=True).click()
    expect(step.locator(".outcome")).to_have_text("Done")
