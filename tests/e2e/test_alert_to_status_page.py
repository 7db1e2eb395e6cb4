"""Issue 6's whole flow in a real browser, across the apps: an Alertmanager alert opens an incident
(with the runbook written for it attached), a responder posts a public update, the public status
page shows the component's outage and the update; resolving brings it back to operational."""

import pytest

from incidents.models import Service, SeverityPolicy
from integrations.alerts import alert_source_create
from integrations.models import AlertRule
from statuspage.models import Component, ComponentGroup
from tests.e2e.test_alerts import post_alert
from tests.runbooks.conftest import make_runbook
from tests.statuspage.conftest import seed_status_page

pytestmark = pytest.mark.browser


def test_an_alert_opens_an_incident_that_the_status_page_follows_until_it_is_resolved(
    new_page, expect, log_in, screenshot, e2e_db, settings
):
    settings.STATUS_PAGE_LOCAL_CHECK_SECONDS = 0
    seed_status_page()
    checkout = Service.objects.create(name="Checkout", slug="checkout")
    Component.objects.create(name="Checkout", service=checkout, group=ComponentGroup.objects.create(name="Shop"))
    AlertRule.objects.create(
        name="Checkout critical",
        matchers={"service": "checkout", "severity": "critical"},
        severity=SeverityPolicy.objects.get(key="SEV1"),
        service=checkout,
    )
    make_runbook(title="Checkout error rate", alert_names=["CheckoutHighErrorRate"], steps=2)
    _, token = alert_source_create(name="prometheus")

    public = new_page(java_script_enabled=False)
    public.goto(f"{e2e_db}/status/")
    expect(public.locator(".sp-component[data-component='Checkout'] .sp-status")).to_have_text("Operational")

    [reference] = post_alert(e2e_db, token)["declared"]

    page = new_page()
    log_in(page)
    page.goto(f"{e2e_db}/incidents/{reference}/")
    expect(page.locator("#timeline .event-alert")).to_contain_text("Alert firing: CheckoutHighErrorRate")
    expect(page.locator("#timeline")).to_contain_text("Runbook attached: Checkout error rate")
    # Nothing is public until someone publishes: the alert's words are internal.
    expect(page.locator("#status-page-slot")).to_contain_text("Not yet on the status page")
    expect(page.locator("#status-page-slot")).to_contain_text("Major outage — Checkout")

    form = page.locator("#update-form")
    form.get_by_label("What we know / progress").fill("Rolling back the 16:50 checkout deploy.")
    form.get_by_role("radio", name="Public").check()
    form.get_by_role("button", name="Post update").click()
    expect(page.locator("#timeline")).to_contain_text("Public status update")

    public.reload()
    expect(public.locator(".sp-component[data-component='Checkout'] .sp-status")).to_have_text("Major outage")
    incident_card = public.locator(".sp-incident")
    expect(incident_card).to_contain_text("Major outage — Checkout")
    expect(public.locator("body")).not_to_contain_text("Checkout API error rate above 2%")
    expect(incident_card).to_contain_text("Rolling back the 16:50 checkout deploy.")
    # A reader with JavaScript sees the times in their own zone (the browser runs in Europe/Berlin).
    reader = new_page()
    reader.goto(f"{e2e_db}/status/")
    posted = reader.locator(".sp-incident .sp-update time")
    expect(posted).to_contain_text("GMT+1")
    expect(posted).not_to_contain_text("UTC")
    screenshot(reader, "status-page-during")
    screenshot(page, "incident")

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Resolve").click()
    expect(page.locator("#incident-live .badge.status")).to_have_text("Resolved")

    public.reload()
    expect(public.locator(".sp-banner")).to_contain_text("All systems operational")
    expect(public.locator(".sp-component[data-component='Checkout'] .sp-status")).to_have_text("Operational")
    screenshot(public, "status-page-after")
