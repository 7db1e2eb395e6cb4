"""An alert from Alertmanager, in a real browser: posted to the endpoint over HTTP, it opens an
incident that shows on the dashboard, and the incident's page has the alert on its timeline."""

import json
import urllib.request
from pathlib import Path

import pytest

from incidents.models import Incident, Service, SeverityPolicy
from integrations.alerts import alert_source_create
from integrations.models import AlertRule

pytestmark = pytest.mark.browser

FIRING = (Path(__file__).parents[1] / "integrations/fixtures/alertmanager_firing.json").read_bytes()


def post_alert(base_url: str, token: str) -> dict:
    request = urllib.request.Request(
        f"{base_url}/api/v1/alerts/alertmanager/",
        data=FIRING,
        method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def test_an_alert_opens_an_incident_on_the_dashboard_with_the_alert_on_its_timeline(
    page, expect, log_in, screenshot, e2e_db
):
    checkout = Service.objects.create(name="Checkout", slug="checkout")
    AlertRule.objects.create(
        name="Checkout critical",
        matchers={"service": "checkout", "severity": "critical"},
        severity=SeverityPolicy.objects.get(key="SEV1"),
        service=checkout,
    )
    _, token = alert_source_create(name="prometheus")
    log_in(page)

    [reference] = post_alert(e2e_db, token)["declared"]

    page.goto(f"{e2e_db}/")
    row = page.locator(f"#incident-table tr[data-reference='{reference}']")
    expect(row).to_be_visible()
    expect(row).to_contain_text("Checkout API error rate above 2%")
    expect(row).to_contain_text("SEV1")
    screenshot(page, "dashboard")

    row.get_by_role("link", name="Checkout API error rate above 2%").click()
    page.wait_for_url(f"{e2e_db}{Incident.objects.get().get_absolute_url()}")
    alert_event = page.locator("#timeline .event-alert")
    expect(alert_event).to_have_count(1)
    expect(alert_event).to_contain_text("Alert firing: CheckoutHighErrorRate")
    expect(alert_event).to_contain_text("https://runbooks.example.com/checkout/high-error-rate")
    expect(page.locator("#timeline")).to_contain_text("Declared as SEV1")
    screenshot(page)
