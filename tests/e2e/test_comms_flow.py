"""The comms flow in a real browser (issue 17): the SEV2 policy wants public updates approved. A
responder drafts a public update; a /status/ page already open in another browser shows nothing of
it; the comms lead sees it waiting on the incident page, edits it and approves it; the open status
page then shows the approved words by itself, without a reload (it polls its own fragment every
POLL_SECONDS["status_page"], one second here, and the page's max-age is one second too). And who
sees what: the security group restricts from the incident page, the lead lets someone in."""

import re

import pytest
from django.contrib.auth.models import Group

from incidents import services
from incidents.models import Service, SeverityPolicy
from statuspage.models import Component, ComponentGroup
from tests import factories
from tests.e2e.test_phone import _axe_violations
from tests.statuspage.conftest import seed_status_page

pytestmark = pytest.mark.browser

DRAFTED = "Some card payments fail at checkout; we are looking into it. DRAFT-7f3a"
APPROVED = "Some card payments fail at checkout. A fix is being rolled out."


@pytest.fixture
def comms_world(e2e_db, settings):
    settings.STATUS_PAGE_LOCAL_CHECK_SECONDS = 0
    seed_status_page()
    SeverityPolicy.objects.filter(key="SEV2").update(public_updates_need_approval=True)
    group = ComponentGroup.objects.create(name="Customer-facing")
    checkout = Service.objects.create(name="Checkout", slug="checkout")
    Component.objects.create(name="Checkout", service=checkout, group=group, position=1)
    people = {
        "lead": factories.UserFactory(role="responder", first_name="Lena", last_name="Lead"),
        "comms": factories.UserFactory(role="responder", first_name="Chris", last_name="Comms"),
        "oncall": factories.UserFactory(role="responder", first_name="Omar", last_name="Oncall"),
    }
    incident = services.incident_declare(
        declared_by=people["lead"],
        title="Internal: PSP token expired on pay-gw-3",
        severity=SeverityPolicy.objects.get(key="SEV2"),
        comms_lead=people["comms"],
        responders=[people["oncall"]],
        affected_services=[checkout],
        public_title="Card payments fail at checkout",
    )
    return {**people, "incident": incident}


def test_a_drafted_public_update_is_approved_by_the_comms_lead_and_shows_on_an_open_status_page(
    new_page, expect, log_in, screenshot, e2e_db, comms_world, browser
):
    incident_url = f"{e2e_db}{comms_world['incident'].get_absolute_url()}"
    reader = new_page()  # a customer's status page, open all along: never reloaded below
    reader.goto(f"{e2e_db}/status/")
    expect(reader.locator(".sp-banner")).to_contain_text("All systems operational")

    oncall = new_page()
    log_in(oncall, comms_world["oncall"])
    oncall.goto(incident_url)
    form = oncall.locator("#update-form")
    expect(form.locator("#update-approval-hint")).to_contain_text("saved as a draft")
    form.get_by_label("What we know / progress").fill(DRAFTED)
    form.get_by_role("radio", name="Public").check()
    form.get_by_role("button", name="Post update").click()
    expect(oncall.locator("#page-messages")).to_contain_text("Drafted: the incident lead or comms lead publishes it")
    drafts = oncall.locator("#update-drafts")
    expect(drafts).to_contain_text("Public update waiting for approval")
    expect(drafts).to_contain_text(DRAFTED)
    expect(drafts.get_by_role("button", name="Approve and publish")).to_have_count(0)
    expect(oncall.locator("#timeline")).to_contain_text("Drafted a public update for approval")
    screenshot(oncall, "drafted")
    expect(oncall.locator("#status-page-slot")).to_contain_text("publishes it too, once one of them approves it")

    comms = new_page()
    log_in(comms, comms_world["comms"])
    comms.goto(incident_url)
    drafts = comms.locator("#update-drafts")
    expect(drafts).to_contain_text("Public update waiting for your approval")
    expect(drafts).to_contain_text("Drafted by Omar Oncall")
    expect(drafts.get_by_label("What we know / progress")).to_have_value(DRAFTED)
    expect(drafts.get_by_role("button", name="Discard")).to_be_visible()
    from axe_playwright_python.sync_playwright import Axe

    axe = Axe()
    for scheme in ("light", "dark"):
        comms.emulate_media(color_scheme=scheme)
        for width, height in ((1280, 900), (360, 740)):
            comms.set_viewport_size({"width": width, "height": height})
            screenshot(comms, f"pending-draft-{scheme}-{width}")
            assert comms.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), (scheme, width)
            assert _axe_violations(comms, axe) == [], (scheme, width)
    comms.emulate_media(color_scheme="light")
    comms.set_viewport_size({"width": 1280, "height": 900})

    # All this while, the open status page has shown nothing of the draft.
    reader.wait_for_timeout(1500)  # more than one poll of the status page
    expect(reader.locator("body")).not_to_contain_text("DRAFT-7f3a")
    expect(reader.locator(".sp-incident")).to_have_count(0)

    drafts.get_by_label("What we know / progress").fill(APPROVED)
    drafts.get_by_role("button", name="Approve and publish").click()
    expect(comms.locator("#page-messages")).to_contain_text("Approved and published")
    expect(comms.locator("#update-drafts")).to_have_count(0)
    expect(comms.locator("#timeline")).to_contain_text(
        "Public status update drafted by Omar Oncall, approved with edits"
    )

    # The open page follows by itself: the public title and the approved words, nothing internal.
    incident_card = reader.locator(".sp-incident")
    expect(incident_card).to_contain_text("Card payments fail at checkout", timeout=10_000)
    expect(incident_card).to_contain_text(APPROVED, timeout=10_000)
    expect(reader.locator("body")).not_to_contain_text("DRAFT-7f3a")
    expect(reader.locator("body")).not_to_contain_text("pay-gw-3")
    expect(reader.locator("body")).not_to_contain_text(re.compile(r"INC-\d+"))
    screenshot(reader, "status-page-after-approval")

    # The drafter's open page drops the draft by itself too (its live header's state changed).
    expect(oncall.locator("#update-drafts")).to_have_count(0, timeout=10_000)


def test_the_security_group_restricts_from_the_page_and_the_lead_lets_someone_see_it(
    new_page, expect, log_in, e2e_db, comms_world
):
    """Restricting is the lead's or the security group's (here a viewer in it) from the incident
    page itself; adding someone to a restricted incident is on the timeline."""
    security = factories.UserFactory(role="viewer", first_name="Sam", last_name="Security")
    security.groups.add(Group.objects.get_or_create(name="security")[0])
    guest = factories.UserFactory(role="viewer", first_name="Vera", last_name="Viewer")
    incident_url = f"{e2e_db}{comms_world['incident'].get_absolute_url()}"

    page = new_page()
    log_in(page, security)
    page.goto(incident_url)
    page.get_by_role("button", name="Restrict", exact=True).click()
    expect(page.locator("#page-messages")).to_contain_text("Restricted to its participants and the security group.")
    expect(page.locator("#incident-visibility")).to_contain_text("Restricted")
    expect(page.locator("#timeline")).to_contain_text("Restricted to its participants and the security group")
    expect(page.locator("#timeline")).to_contain_text("Sam Security")

    other = new_page()
    log_in(other, guest)
    assert other.goto(incident_url).status == 404

    lead = new_page()
    log_in(lead, comms_world["lead"])
    lead.goto(incident_url)
    lead.get_by_label("Let see it").select_option(label="Vera Viewer")
    lead.locator(".participants-form").get_by_role("button", name="Add").click()
    expect(lead.locator("#page-messages")).to_contain_text("Added: they can see the incident.")
    expect(lead.locator("#timeline")).to_contain_text("Added to the incident: Vera Viewer")
    assert other.goto(incident_url).status == 200

    page.reload()
    page.get_by_role("button", name="Open to every reader").click()
    expect(page.locator("#page-messages")).to_contain_text("Opened to every reader.")
    expect(page.locator("#incident-visibility")).to_contain_text("Every reader")
