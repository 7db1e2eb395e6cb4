"""A page's acknowledge link from a 360 px phone, without logging in: the confirm page, the
button, the answer; and the incident page's Acknowledge button for a responder. Screenshots in
$E2E_SHOTS_DIR (or /tmp/e2e-shots)."""

from __future__ import annotations

from datetime import date, time

import pytest
from django.conf import settings

from incidents.models import Incident, Service, Team
from paging import links
from paging.models import EscalationLevel, EscalationPolicy
from paging.services import pages_fan_out
from tests import factories
from tests.e2e.test_phone import AXE_OPTIONS, DESKTOP, MEASURE, PHONE

pytestmark = pytest.mark.browser


@pytest.fixture
def paged(e2e_db) -> dict:
    alice = factories.UserFactory(username="alice", first_name="Alice", last_name="Able", role="responder")
    alerts = factories.UserFactory(username="alerts", first_name="Alerts")
    alerts.set_unusable_password()
    alerts.save()
    team = Team.objects.create(name="Payments", slug="payments")
    team.members.set([alice])
    checkout = Service.objects.create(name="Checkout", slug="checkout", owner_team=team)
    layer = {"members": [alice], "start_date": date(2020, 1, 6), "handoff_time": time(9)}
    schedule = factories.on_call_schedule(team=team, layers=[{**layer, "shift_length": 7, "shift_unit": "days"}])
    policy = EscalationPolicy.objects.create(team=team, name="Payments escalation")
    EscalationLevel.objects.create(policy=policy, position=1, delay_minutes=5, schedule=schedule)
    incident = factories.declare_incident(
        declared_by=alerts,
        severity="SEV1",
        title="Checkout error rate above 5% for 5 minutes on checkout-api",
        affected_services=[checkout],
    )
    pages_fan_out()  # what the worker does once the declaration commits
    link = links.acknowledge_url(incident.pages.get()).removeprefix(settings.SITE_URL)
    return {"alice": alice, "incident": incident, "link": link}


def _fits(page, selectors: list[str], min_target: int) -> list[str]:
    measured = page.evaluate(MEASURE, [selectors, min_target])
    problems = [f"{selector} out of view" for selector in measured["outOfView"]]
    problems += [f"{target} is smaller than {min_target} px" for target in measured["small"]]
    if measured["scrollWidth"] > measured["innerWidth"]:
        problems.append(f"{measured['scrollWidth']} px wide")
    return problems


def _axe(page) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page, options=AXE_OPTIONS)
    return [v["id"] for v in results.response["violations"] if v["impact"] in ("serious", "critical")]


def test_the_acknowledge_link_works_from_a_phone_without_logging_in(new_page, expect, paged, e2e_db, screenshot):
    page = new_page()
    page.set_viewport_size(PHONE)
    page.goto(f"{e2e_db}{paged['link']}")
    button = page.get_by_role("button", name=f"Acknowledge {paged['incident'].reference}")
    expect(button).to_be_visible()
    assert _fits(page, [".button-acknowledge"], 44) == []
    assert _axe(page) == []
    screenshot(page, "phone")
    page.set_viewport_size(DESKTOP)
    page.emulate_media(color_scheme="dark")
    assert _fits(page, [".button-acknowledge"], 0) == []
    assert _axe(page) == []
    screenshot(page, "desktop-dark")
    page.set_viewport_size(PHONE)
    page.emulate_media(color_scheme="light")

    button.click()
    expect(page.get_by_role("status")).to_have_text("Acknowledged: the escalation stops.")
    expect(button).to_have_count(0)
    screenshot(page, "acknowledged")
    incident = Incident.objects.get(pk=paged["incident"].pk)
    assert incident.lead == paged["alice"]
    assert incident.acknowledged_at is not None


def test_the_incident_pages_acknowledge_button_on_a_phone(new_page, expect, paged, log_in, e2e_db, screenshot):
    page = new_page()
    page.set_viewport_size(PHONE)
    bob = log_in(page, role="responder")
    page.goto(f"{e2e_db}{paged['incident'].get_absolute_url()}")
    button = page.get_by_role("button", name="Acknowledge", exact=True)
    expect(button).to_be_visible()
    assert _fits(page, [".button-acknowledge"], 44) == []
    shot = screenshot(page, "phone")
    page.screenshot(path=str(shot.with_name("incident-phone-top.png")))  # what a thumb sees first
    page.set_viewport_size(DESKTOP)
    shot = screenshot(page, "desktop")
    page.screenshot(path=str(shot.with_name("incident-desktop-top.png")))
    page.set_viewport_size(PHONE)
    button.click()
    expect(page.locator("#incident-live")).to_contain_text(bob.get_full_name())
    expect(button).to_have_count(0)
    expect(page.locator("#paging-panel")).to_contain_text("stopped (acknowledged)")
    page.locator("#paging-panel").screenshot(path=str(screenshot(page, "after").with_name("paging-panel-phone.png")))


def test_a_person_sets_their_own_webhook_on_a_phone_and_sees_only_its_host(
    new_page, expect, log_in, e2e_db, screenshot
):
    page = new_page()
    page.set_viewport_size(PHONE)
    log_in(page, role="responder")
    page.goto(f"{e2e_db}/notifications/")
    page.get_by_label("My webhook", exact=True).fill("https://hooks.slack.invalid/services/T0/B0/phoneSecretPart")
    page.get_by_label("Format").select_option("slack")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".message")).to_have_text("Notification channels saved.")
    expect(page.locator("#channels")).to_contain_text("hooks.slack.invalid")
    expect(page.get_by_label("My webhook", exact=True)).to_have_value("")
    assert "phoneSecretPart" not in page.content()
    assert _fits(page, ["#channels button[type=submit]"], 44) == []
    assert _axe(page) == []
    screenshot(page, "phone")
    page.set_viewport_size(DESKTOP)
    assert _axe(page) == []
    screenshot(page, "desktop")
