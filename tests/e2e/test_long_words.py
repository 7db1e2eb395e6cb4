"""A title that is one 200-character word wraps: the dashboard and the incident page stay as wide
as a 1280 px screen."""

import pytest

from tests import factories

pytestmark = pytest.mark.browser

WORD = "Checkout" + "x" * 192


def test_a_long_unbroken_title_does_not_widen_the_pages(new_page, log_in, screenshot, e2e_db):
    width = 1280
    incident = factories.declare_incident(title=WORD)
    page = new_page()
    page.set_viewport_size({"width": width, "height": 900})
    log_in(page, role="viewer")
    for path in ["/", f"/incidents/{incident.reference}/"]:
        page.goto(f"{e2e_db}{path}")
        page.get_by_text(WORD).first.wait_for()
        overflow = page.evaluate("document.documentElement.scrollWidth")
        screenshot(page, f"{width}-{path.strip('/').replace('/', '-') or 'dashboard'}")
        assert overflow <= width, f"{path} is {overflow} px wide at {width} px"
