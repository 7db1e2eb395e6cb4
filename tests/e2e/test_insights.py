"""The insights page in a real browser, over the demo data: it draws its charts, a filter change
redraws them without a reload, a bar lists the incidents behind it, and a chart's CSV holds the
numbers of its table."""

import csv
import re

import pytest
from django.core.management import call_command

pytestmark = pytest.mark.browser


@pytest.fixture
def demo(e2e_db):
    with open("/dev/null", "w") as quiet:
        call_command("load_demo_data", stdout=quiet)


def table_cells(page, key: str) -> list[list[str]]:
    return page.evaluate(
        """(key) => [...document.querySelectorAll(`table[data-table="${key}"] tr`)]
            .map((row) => [...row.children].map((cell) => cell.textContent.trim()))""",
        key,
    )


def test_filters_redraw_without_reload_bars_drill_down_csv_matches(demo, page, expect, log_in, screenshot, e2e_db):
    log_in(page, role="admin")
    page.goto(f"{e2e_db}/insights/?range=90")
    weekly = page.locator("#chart-weekly")
    expect(weekly.locator("h2")).to_have_text("Incidents per week by severity")
    assert weekly.locator("svg rect.bar").count() > 0
    expect(page.locator('table[data-table="weekly"] thead')).to_contain_text("SEV2")
    screenshot(page, "all")

    # A filter change swaps the results in: the page (and this marker) stays.
    page.evaluate("window.insightsMarker = 'still here'")
    page.locator(".insights-filters select[name=severity]").select_option("SEV1")
    expect(page.locator('table[data-table="weekly"] thead')).not_to_contain_text("SEV2")
    expect(page).to_have_url(re.compile(r"severity=SEV1"))
    assert page.evaluate("window.insightsMarker") == "still here"

    # The CSV holds the table's numbers.
    with page.expect_download() as download_info:
        weekly.get_by_role("link", name="CSV").click()
    with open(download_info.value.path(), newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert rows == table_cells(page, "weekly")

    # A bar lists the incidents behind it.
    bar = page.locator("#chart-weekly a.bar-link").first
    bar.click()
    page.wait_for_url(re.compile(r"/insights/incidents/\?.*week=.*sev=SEV1"))
    expect(page.locator("h1")).to_have_text("Incidents behind the figure")
    assert page.locator("table.drill tbody a").count() >= 1
    expect(page.locator("table.drill tbody")).to_contain_text("SEV1")


def test_typing_a_date_switches_to_custom_dates(demo, page, expect, log_in, e2e_db):
    log_in(page, role="responder")
    page.goto(f"{e2e_db}/insights/?range=90")
    page.locator(".insights-filters input[name=from]").fill("2026-01-05")
    expect(page).to_have_url(re.compile(r"range=custom.*from=2026-01-05"))
    expect(page.locator(".period strong")).to_contain_text("Mon 5 Jan 2026")
