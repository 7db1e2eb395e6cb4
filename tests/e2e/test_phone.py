"""Every page of the product on a 360 x 740 phone and a 1280 x 800 desktop, as a responder and as
a viewer: nothing scrolls sideways, the Declare button, the bell and the countdown are in view,
what a thumb presses is at least 44 px, and axe-core finds no serious or critical violation in
the light scheme (phone) or the dark one (desktop).

One browser context per role, reused for every page and both sizes, keeps the visit to a few
seconds a page.
"""

from __future__ import annotations

import importlib
from datetime import timedelta

import pytest
from django.apps import apps
from django.utils import timezone

from incidents import services
from notifications.services import Outgoing, messages_send
from postmortems import services as postmortem_services
from postmortems.models import Postmortem
from runbooks import generator
from runbooks import services as runbook_services
from tests import factories
from tests.postmortems.conftest import seed_postmortem_policies
from tests.runbooks.conftest import make_runbook

pytestmark = pytest.mark.browser

PHONE = {"width": 360, "height": 740}
DESKTOP = {"width": 1280, "height": 800}
# axe-core's rules for WCAG 2.0-2.2 A and AA; the rest (best practices) are advice, not the bar.
AXE_OPTIONS = {
    "resultTypes": ["violations"],
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]},
}
LONG_TIMELINE_NOTES = 40
COMMAND_OUTPUT = "NAME        READY   STATUS\napi-7d9f     1/1     Running\nworker-2c    0/1     CrashLoopBackOff"

# Where each part the issue names lives on the page.
DECLARE = "header .declare"
BELL = "#bell"
MENU = "header .menu-toggle"
COUNTDOWN = ".countdown"

# Parts out of view, wider than the screen or too small to press, as the browser measures them.
MEASURE = """([selectors, minTarget]) => {
  const result = {scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth,
                  outOfView: [], small: []};
  for (const selector of selectors) {
    const element = document.querySelector(selector);
    if (!element) { result.outOfView.push(selector + " (missing)"); continue; }
    const box = element.getBoundingClientRect();
    if (box.width === 0 || box.left < 0 || box.top < 0 || box.right > innerWidth || box.bottom > innerHeight) {
      const where = [box.left, box.top, box.right, box.bottom].map(Math.round).join(",");
      result.outOfView.push(`${selector} at ${where}`);
    }
    if (minTarget && selector !== ".countdown" && (box.width < minTarget || box.height < minTarget)) {
      result.small.push(`${selector} ${Math.round(box.width)}x${Math.round(box.height)}`);
    }
  }
  return result;
}"""


@pytest.fixture
def product(e2e_db):
    """One of everything a page shows: an active SEV1 with a long timeline and a worked runbook,
    a resolved SEV2 with its postmortem and action items, a runbook and a notification."""
    importlib.import_module("runbooks.migrations.0002_search_index_and_permissions").seed(apps, None)
    seed_postmortem_policies()
    responder = factories.UserFactory(role="responder")
    viewer = factories.UserFactory(role="viewer")
    factories.ServiceFactory(name="Database", slug="database")
    runbook = make_runbook(services=["database"], alert_names=["db-connection-pool-exhausted"], actor=responder)
    generated, _unknown = runbook_services.runbook_generate(
        answers=generator.Answers(name="Checkout API", owner_team="Payments"), actor=responder
    )

    active = factories.declare_incident(
        severity="SEV1",
        declared_by=responder,
        title="Checkout API returns 500s for card payments in every region",
        summary="Card payments fail with a 500 after the 14:20 deploy.",
    )
    for n in range(LONG_TIMELINE_NOTES):
        services.incident_note_add(
            incident=active,
            author=responder,
            text=f"Checked replica {n}: https://grafana.example.com/d/abc?var-host=db-{n}",
        )
    services.incident_update_post(
        incident=active, author=responder, progress="Rolled back deploy 4711.", next_steps="Watch the error rate."
    )
    run = runbook_services.runbook_attach(runbook=runbook, incident=active, actor=responder)
    first_step = run.steps.order_by("position").first()
    runbook_services.run_step_record(
        run_step=first_step, outcome="failed", actor=responder, note="Pods crash-loop", output=COMMAND_OUTPUT
    )

    resolved = factories.declare_incident(severity="SEV2", declared_by=responder, title="Database pool exhausted")
    services.incident_status_change(incident=resolved, status="resolved", actor=responder)
    postmortem = Postmortem.objects.get(incident=resolved)
    postmortem_services.action_item_add(postmortem=postmortem, actor=responder, title="Alert on pool saturation")
    postmortem_services.action_item_add(
        postmortem=postmortem,
        actor=responder,
        title="Index the reporting query",
        due_on=timezone.localdate() - timedelta(days=3),
    )

    # On call: the responder's weekly turn, and a gap before the rotation starts (the warning).
    schedule = factories.on_call_schedule(
        team=factories.TeamFactory(name="Platform", slug="platform"),
        time_zone="Europe/London",
        layers=[
            {
                "members": [responder, viewer],
                "start_date": timezone.localdate() + timedelta(days=3),
                "shift_length": 7,
            }
        ],
    )

    messages_send(
        outgoing=[
            Outgoing(
                dedup_key="phone-test",
                subject=f"{active.reference} needs a status update",
                body_text="The SEV1 update is due.",
                link=active.get_absolute_url(),
                recipients=[responder, viewer],
            )
        ]
    )
    return {
        "responder": responder,
        "viewer": viewer,
        "pages": {
            "dashboard": "/",
            "declare": "/incidents/new/",
            "incident": active.get_absolute_url(),
            "postmortem": f"{resolved.get_absolute_url()}postmortem/",
            "runbooks": "/runbooks/",
            "runbook": runbook.get_absolute_url(),
            "runbook generator": "/runbooks/generate/",
            "generated runbook": generated.get_absolute_url(),
            "action items": "/action-items/",
            "postmortems": "/postmortems/",
            "notifications": "/notifications/",
            "status page": "/status/",
            "on call": "/oncall/",
            "schedule": schedule.get_absolute_url(),
            "calendar feed": "/oncall/calendar/",
            # Wide tables scroll inside their own box, not the page.
            "insights": "/insights/?range=90",
            "insights incidents": "/insights/incidents/?range=90",
        },
    }


def _axe_violations(page, axe) -> list[str]:
    results = axe.run(page, options=AXE_OPTIONS)
    return [
        f"{violation['id']} ({violation['impact']}): "
        + "; ".join(" ".join(node["target"]) for node in violation["nodes"][:5])
        for violation in results.response["violations"]
        if violation["impact"] in ("serious", "critical")
    ]


@pytest.mark.parametrize("role", ["responder", "viewer"])
def test_every_page_fits_a_phone_and_a_desktop_and_passes_axe(role, browser, product, log_in, e2e_db):
    from axe_playwright_python.sync_playwright import Axe

    axe = Axe()
    user = product[role]
    context = browser.new_context(viewport=PHONE, timezone_id="Europe/Berlin")
    context.set_default_timeout(10_000)
    page = context.new_page()
    log_in(page, user)
    problems: list[str] = []
    try:
        for viewport, scheme in ((PHONE, "light"), (DESKTOP, "dark")):
            page.set_viewport_size(viewport)
            page.emulate_media(color_scheme=scheme)
            size = f"{viewport['width']} px {scheme}"
            for name, path in product["pages"].items():
                if name in ("declare", "runbook generator", "insights", "insights incidents") and role == "viewer":
                    continue  # viewers are not offered it
                response = page.goto(f"{e2e_db}{path}")
                assert response.ok, f"{name} answered {response.status}"
                wanted = []
                if name != "status page":  # the public page has its own header
                    wanted = [BELL] + ([DECLARE] if role == "responder" else [])
                    if viewport is PHONE:
                        wanted.append(MENU)
                if name in ("dashboard", "incident"):
                    wanted.append(COUNTDOWN)
                measured = page.evaluate(MEASURE, [wanted, 44 if viewport is PHONE else 0])
                if measured["scrollWidth"] > measured["innerWidth"]:
                    problems.append(f"{name} at {size}: {measured['scrollWidth']} px wide")
                problems += [f"{name} at {size}: {selector} out of view" for selector in measured["outOfView"]]
                problems += [f"{name} at {size}: {target} is smaller than 44 px" for target in measured["small"]]
                problems += [f"{name} at {size}: {violation}" for violation in _axe_violations(page, axe)]
    finally:
        context.close()
    assert problems == []


def test_phone_menu_folds_the_links_away_and_the_button_brings_them(page, expect, product, log_in, e2e_db):
    page.set_viewport_size(PHONE)
    log_in(page, product["responder"])
    menu = page.get_by_role("button", name="Menu")
    runbooks = page.get_by_role("navigation", name="Main").get_by_role("link", name="Runbooks")
    expect(runbooks).to_be_hidden()
    expect(page.get_by_role("link", name="Declare incident")).to_be_in_viewport()
    expect(menu).to_have_attribute("aria-expanded", "false")
    menu.click()
    expect(menu).to_have_attribute("aria-expanded", "true")
    expect(runbooks).to_be_in_viewport()
    expect(page.get_by_role("button", name="Log out")).to_be_in_viewport()
    runbooks.click()
    page.wait_for_url(f"{e2e_db}/runbooks/")

    # On a desktop there is no menu button: the links are simply there.
    page.set_viewport_size(DESKTOP)
    expect(page.get_by_role("button", name="Menu")).to_be_hidden()
    expect(page.get_by_role("navigation", name="Main").get_by_role("link", name="Runbooks")).to_be_in_viewport()


def test_without_javascript_the_phone_menu_is_simply_open(new_page, expect, product, log_in, e2e_db):
    page = new_page(java_script_enabled=False)
    page.set_viewport_size(PHONE)
    log_in(page, product["responder"])
    runbooks = page.get_by_role("navigation", name="Main").get_by_role("link", name="Runbooks")
    expect(runbooks).to_be_visible()
    assert runbooks.bounding_box()["x"] + runbooks.bounding_box()["width"] <= PHONE["width"]
