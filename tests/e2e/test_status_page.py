"""The public status page follows an incident in a real browser: a responder declares an incident
of a public severity affecting a service; nothing shows until the lead publishes it under a public
title, then the page shows the component's outage without a reload; a public update shows there
(an internal one never does, nor the internal title); resolving brings the component back."""

import re

import pytest

from incidents.models import Service
from statuspage.models import Component, ComponentGroup
from tests.statuspage.conftest import seed_status_page

pytestmark = pytest.mark.browser


@pytest.fixture
def status_components(e2e_db, settings):
    settings.STATUS_PAGE_LOCAL_CHECK_SECONDS = 0
    seed_status_page()
    group = ComponentGroup.objects.create(name="Customer-facing")
    checkout = Service.objects.create(name="Checkout", slug="checkout")
    search = Service.objects.create(name="Search", slug="search")
    Component.objects.create(name="Checkout", service=checkout, group=group, position=1)
    Component.objects.create(name="Search", service=search, group=group, position=2)


def _component(page, name: str):
    return page.locator(f".sp-component[data-component='{name}']")


def test_public_incident_moves_the_status_page_and_resolving_restores_it(
    new_page, expect, log_in, screenshot, e2e_db, status_components
):
    public = new_page(java_script_enabled=False)
    public.goto(f"{e2e_db}/status/")
    expect(public.locator(".sp-banner")).to_contain_text("All systems operational")
    expect(_component(public, "Checkout").locator(".sp-status")).to_have_text("Operational")

    reader = new_page()  # with JavaScript: the page follows changes by itself
    reader.goto(f"{e2e_db}/status/")

    page = new_page()
    log_in(page)
    page.goto(f"{e2e_db}/incidents/new/")
    page.get_by_label("Title", exact=True).fill("Internal: Okta SCIM sync OOMKilled on ip-10-2-3-4")
    page.get_by_role("radio", name=re.compile(r"^SEV2\b")).check()
    page.get_by_role("checkbox", name="Checkout").check()
    expect(page.locator("#public-voice-hint")).to_contain_text("never appear on the public status page")
    page.get_by_role("button", name="Declare incident").click()
    page.wait_for_url(re.compile(r"/incidents/INC-\d+/$"))
    slot = page.locator("#status-page-slot")
    expect(slot).to_contain_text("Not yet on the status page")
    public.reload()
    expect(public.locator(".sp-banner")).to_contain_text("All systems operational")
    expect(public.locator("body")).not_to_contain_text("ip-10-2-3-4")

    slot.get_by_label("Name on the status page").fill("Card payments fail at checkout")
    slot.get_by_role("button", name="Publish to the status page").click()
    expect(slot).to_contain_text("This incident shows as Partial outage")
    expect(slot).to_contain_text("Checkout — Partial outage")
    expect(page.locator("#timeline")).to_contain_text("Published to the status page by")
    expect(page.locator("#timeline")).to_contain_text("Status page: Checkout partial outage")
    # The open page polls; a browser may keep its last answer for the page's max-age (1 s here).
    expect(reader.locator(".sp-incident")).to_contain_text("Card payments fail at checkout", timeout=10_000)
    expect(reader.locator("body")).not_to_contain_text("ip-10-2-3-4")

    public.reload()
    expect(public.locator(".sp-banner")).to_contain_text("Some systems are down")
    expect(_component(public, "Checkout").locator(".sp-status")).to_have_text("Partial outage")
    expect(_component(public, "Search").locator(".sp-status")).to_have_text("Operational")
    expect(public.locator(".sp-incident")).to_contain_text("Card payments fail at checkout")
    expect(public.locator("body")).not_to_contain_text("ip-10-2-3-4")

    form = page.locator("#update-form")
    form.get_by_label("What we know / progress").fill("Payments provider is timing out; retrying.")
    form.get_by_role("radio", name="Public").check()
    form.get_by_role("button", name="Post update").click()
    expect(page.locator("#timeline")).to_contain_text("Public status update")
    form = page.locator("#update-form")
    form.get_by_label("What we know / progress").fill("INTERNAL: the provider's API key expired.")
    form.get_by_role("radio", name="Internal").check()
    form.get_by_role("button", name="Post update").click()
    expect(page.locator("#timeline")).to_contain_text("Internal status update")

    public.reload()
    expect(public.locator(".sp-incident")).to_contain_text("Payments provider is timing out; retrying.")
    expect(public.locator("body")).not_to_contain_text("API key expired")
    screenshot(public, "degraded")

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Resolve").click()
    expect(page.locator("#incident-live .badge.status")).to_have_text("Resolved")

    public.reload()
    expect(public.locator(".sp-banner")).to_contain_text("All systems operational")
    expect(_component(public, "Checkout").locator(".sp-status")).to_have_text("Operational")
    expect(public.locator(".sp-incident")).to_have_count(0)
    expect(public.locator(".sp-past")).to_contain_text("Card payments fail at checkout")
    screenshot(public)


def test_responder_sets_a_component_status_without_javascript(new_page, expect, log_in, e2e_db, status_components):
    page = new_page(java_script_enabled=False)
    log_in(page)
    page.goto(f"{e2e_db}/status/manage/")
    row = page.locator("tr[data-component='Search']")
    row.get_by_label("Status of Search").select_option(label="Under maintenance")
    row.get_by_role("button", name="Set").click()
    expect(page.locator("tr[data-component='Search']")).to_contain_text("Under maintenance")
    page.goto(f"{e2e_db}/status/")
    expect(_component(page, "Search").locator(".sp-status")).to_have_text("Under maintenance")
