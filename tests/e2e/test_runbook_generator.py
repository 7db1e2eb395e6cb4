"""Seed 004's generator in a real browser: answer the five questions for a catalog service, get the
draft in the editor as version 1, fill two of its placeholders, save, and read the runbook with its
completeness findings; both pages fit a 1280 px desktop and a 360 px phone. Then attach it to an
incident from its own page, open a step and copy its command."""

import importlib
import re

import pytest
from django.apps import apps

from runbooks.models import Runbook
from tests import factories
from tests.e2e.conftest import SHOTS

pytestmark = pytest.mark.browser

WIDTH = "[document.documentElement.scrollWidth, window.innerWidth]"


@pytest.fixture
def runbook_roles(committed_db):
    """Transactional tests empty every table; put the runbooks app's permission grants back."""
    importlib.import_module("runbooks.migrations.0002_search_index_and_permissions").seed(apps, None)


def fits(page) -> bool:
    scroll_width, inner_width = page.evaluate(WIDTH)
    return scroll_width <= inner_width


def test_generate_a_runbook_fill_two_placeholders_save_attach_and_copy_a_command(
    new_page, expect, log_in, screenshot, e2e_db, runbook_roles
):
    page = new_page(permissions=["clipboard-read", "clipboard-write"])
    responder = log_in(page)
    factories.ServiceFactory(
        name="Checkout API", slug="checkout-api", owner_team=factories.TeamFactory(name="Payments", slug="payments")
    )

    page.goto(f"{e2e_db}/runbooks/")
    page.get_by_role("link", name="New runbook for a service").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("New runbook for a service")
    page.get_by_label("Service", exact=True).select_option(label="Checkout API")
    page.get_by_label("1. Service type").select_option("api")
    page.get_by_label("2. Deployment environment").select_option("kubernetes")
    page.get_by_label("3. Criticality").select_option("critical")
    page.get_by_label("4. Monitoring").select_option("prometheus")
    page.get_by_label("5. On-call rotation").select_option("24x7")
    page.get_by_label("Dashboard URL").fill("https://grafana.example.com/d/checkout")
    screenshot(page, "form-1280")
    page.set_viewport_size({"width": 360, "height": 740})
    assert fits(page), "the generator form scrolls sideways on a phone"
    screenshot(page, "form-360")
    page.set_viewport_size({"width": 1280, "height": 900})
    page.get_by_role("button", name="Generate runbook").click()

    # The draft opens in the editor as version 1.
    page.wait_for_url(f"{e2e_db}/runbooks/checkout-api/edit/")
    expect(page.locator("#page-messages .message")).to_contain_text("generated as version 1")
    runbook = Runbook.objects.get(slug="checkout-api")
    assert runbook.version == 1 and runbook.owner == "Payments"
    assert runbook.owner_team.slug == "payments"  # the service's team, chosen in the editor
    expect(page.get_by_label("Owner team")).to_have_value("payments")
    steps = page.get_by_label("Resolution steps")
    assert "<<FILL: Kubernetes namespace>>" in steps.input_value()

    # Fill two placeholders wherever they stand, as a person would with find-and-replace.
    filled = {"<<FILL: Kubernetes namespace>>": "payments", "<<FILL: kubectl context of the cluster>>": "prod-eu"}
    for area in page.locator("form.runbook-form textarea").all():
        text = area.input_value()
        if any(placeholder in text for placeholder in filled):
            for placeholder, value in filled.items():
                text = text.replace(placeholder, value)
            area.fill(text)
    page.get_by_label("Change note").fill("Namespace and cluster context")
    page.get_by_role("button", name="Save new version").click()

    page.wait_for_url(f"{e2e_db}/runbooks/checkout-api/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Checkout API")
    expect(page.locator("#step-1 code")).to_contain_text("kubectl config use-context prod-eu")
    expect(page.locator("#step-1 code")).to_contain_text("kubectl get deployment/checkout-api -n payments")
    completeness = page.locator("#completeness")
    expect(completeness.locator(".completeness-score")).to_have_text(re.compile(r"^\d+/100$"))
    expect(completeness.locator("[data-finding=placeholders_left]")).to_contain_text("Placeholders left to fill")
    expect(completeness.locator("[data-finding=never_drilled]")).to_be_visible()
    expect(page.locator(".runbook-meta")).to_contain_text("Owner team Payments")
    runbook.refresh_from_db()
    assert runbook.version == 2 and runbook.owner_team.slug == "payments"
    assert "<<FILL: Kubernetes namespace>>" not in runbook.steps.get(position=1).commands
    screenshot(page, "runbook-1280")
    views(page, "1280")
    page.set_viewport_size({"width": 360, "height": 740})
    assert fits(page), "the generated runbook scrolls sideways on a phone"
    screenshot(page, "runbook-360")
    views(page, "360")

    # The index lists the least complete first, with each one's score.
    page.goto(f"{e2e_db}/runbooks/")
    page.get_by_role("link", name="Least complete first").click()
    expect(page.locator("#runbook-results .completeness-score")).to_have_text(re.compile(r"^\d+/100$"))
    assert fits(page), "the least-complete list scrolls sideways on a phone"
    screenshot(page, "index-360")

    # At hand in an incident: attach it from its own page, open its first step, copy its command.
    page.set_viewport_size({"width": 1280, "height": 900})
    incident = factories.declare_incident(declared_by=responder, title="Checkout API answers 500s")
    page.goto(f"{e2e_db}{runbook.get_absolute_url()}")
    menu = page.locator("details.attach-menu")
    menu.get_by_text("Attach to incident…").click()
    menu.get_by_role("button", name=f"Attach to {incident.reference}: Checkout API answers 500s").click()
    page.wait_for_url(f"{e2e_db}{incident.get_absolute_url()}")
    step = page.locator("section.checklist-card .checklist > li").first
    step.locator("summary").click()
    copy = step.get_by_role("button", name="Copy the commands of step 1")
    copy.click()
    expect(copy).to_have_text("Copied")
    command = runbook.steps.get(position=1).commands
    assert "kubectl config use-context prod-eu" in command
    assert page.evaluate("navigator.clipboard.readText()") == command


def views(page, width: str) -> None:
    """What a reader sees first, and the tables of seed 004, one screen each (the full page is ten
    metres long)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(SHOTS / f"generated-runbook-{width}-top.png"))
    for anchor in ("#completeness", "#steps", "h2:text('Service Overview')", "h2:text('Contacts')"):
        page.locator(anchor).first.scroll_into_view_if_needed()
        page.evaluate("window.scrollBy(0, -10)")
        name = re.sub(r"\W+", "-", anchor).strip("-").lower()
        page.screenshot(path=str(SHOTS / f"generated-runbook-{width}-{name}.png"))
