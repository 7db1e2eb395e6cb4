"""A postmortem in a real browser: resolving an incident starts it with the starred events in its
timeline; text typed into two sections autosaves and survives a reload (even a reload before the
autosave fired); an action item is added and the postmortem goes through review to published."""

import re

import pytest

from incidents import services
from incidents.models import EventKind
from postmortems import errors
from postmortems.models import Postmortem, PostmortemStatus
from tests import factories
from tests.postmortems.conftest import seed_postmortem_policies

pytestmark = pytest.mark.browser


@pytest.fixture(autouse=True)
def _policies(e2e_db):
    seed_postmortem_policies()


def test_resolve_write_reload_add_action_item_publish(page, new_page, expect, log_in, screenshot, e2e_db):
    user = log_in(page)
    reviewer = factories.UserFactory(role="responder")
    incident = factories.declare_incident(severity="SEV2", declared_by=user, title="Checkout API returns 500s")
    note = services.incident_note_add(incident=incident, author=user, text="Rolled back the 14:20 deploy")
    services.timeline_event_star(event=note, starred=True)
    services.timeline_event_star(event=incident.timeline.get(kind=EventKind.DECLARED), starred=True)

    page.goto(f"{e2e_db}{incident.get_absolute_url()}")
    page.on("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Resolve").click()
    panel = page.locator("#postmortem-panel")
    expect(panel).to_contain_text("Draft")
    panel.get_by_role("link", name="Open the postmortem").click()
    page.wait_for_url(re.compile(r"/postmortem/$"))

    timeline = page.locator("#section-timeline")
    expect(timeline.locator("input[name=text]").nth(0)).to_have_value("Declared as SEV2 High")
    expect(timeline.locator("input[name=text]").nth(1)).to_have_value("Rolled back the 14:20 deploy")
    expect(page.get_by_label("Impact", exact=True)).to_have_value(re.compile("Severity: SEV2 High"))

    root_cause = page.get_by_label("Root cause", exact=True)
    root_cause.fill("The deploy at 14:20 shipped a **bad** connection string.")
    expect(page.locator("#preview-root_cause strong")).to_have_text("bad")  # the live preview
    page.get_by_label("Resolution", exact=True).fill("Rolled back, then fixed the config.")
    expect(page.locator("#pm-save-state")).to_have_text(re.compile(r"^Saved at \d\d:\d\d:\d\d$"))
    expect(page.locator('[data-state-for="resolution"]')).to_have_text(re.compile("Saved at"))
    screenshot(page, "saved")

    # Typed, then reloaded before the autosave's second had passed: the browser kept the text.
    page.get_by_label("Lessons learned", exact=True).fill("Canary deploys for config changes.")
    page.reload()
    expect(page.get_by_label("Root cause", exact=True)).to_have_value(
        "The deploy at 14:20 shipped a **bad** connection string."
    )
    expect(page.get_by_label("Resolution", exact=True)).to_have_value("Rolled back, then fixed the config.")
    expect(page.get_by_label("Lessons learned", exact=True)).to_have_value("Canary deploys for config changes.")
    expect(page.locator('[data-state-for="lessons_learned"]')).to_have_text(re.compile("Saved at"))
    postmortem = Postmortem.objects.get(incident=incident)
    assert postmortem.lessons_learned == "Canary deploys for config changes."
    assert postmortem.root_cause.startswith("The deploy at 14:20")

    page.get_by_label("Title").fill("Validate connection strings in CI")
    page.get_by_label("Priority").select_option("urgent")
    page.get_by_role("button", name="Add action item").click()
    expect(page.locator("#section-action-items tbody")).to_contain_text("Validate connection strings in CI")

    reviewers = page.get_by_role("group", name="Reviewers")
    reviewers.get_by_label(user.get_full_name()).check()
    reviewers.get_by_label(reviewer.get_full_name()).check()
    page.get_by_role("button", name="Send for review").click()
    # Four eyes: the author, though named a reviewer, cannot approve; the other reviewer can.
    page.get_by_role("button", name="Approve").click()
    expect(page.locator("#page-messages")).to_contain_text(errors.APPROVER_IS_AUTHOR)
    page = new_page()
    log_in(page, reviewer)
    page.goto(f"{e2e_db}/incidents/{incident.reference}/postmortem/")
    page.get_by_role("button", name="Approve").click()
    page.get_by_role("button", name="Publish").click()
    expect(page.locator("#postmortem-head .pm-status")).to_have_text("Published")
    expect(page.locator("textarea")).to_have_count(0)
    expect(page.locator("#section-root_cause")).to_contain_text("The deploy at 14:20 shipped a bad connection string.")
    screenshot(page)
    postmortem.refresh_from_db()
    assert postmortem.status == PostmortemStatus.PUBLISHED
    actions = [
        e["action"]
        for e in incident.timeline.filter(kind=EventKind.POSTMORTEM).order_by("id").values_list("data", flat=True)
    ]
    assert actions == ["created", "in_review", "approved", "published"]


def test_a_conflict_shows_both_texts_and_the_merge_is_saved(page, expect, log_in, e2e_db):
    user = log_in(page)
    incident = factories.declare_incident(severity="SEV1", declared_by=user)
    services.incident_status_change(incident=incident, status="resolved", actor=user)
    page.goto(f"{e2e_db}/incidents/{incident.reference}/postmortem/")
    # Someone else saves the root cause after this page was loaded.
    from postmortems import services as pm_services

    postmortem = Postmortem.objects.get(incident=incident)
    pm_services.postmortem_sections_save(
        postmortem=postmortem, actor=factories.UserFactory(), base_version=1, sections={"root_cause": "Their cause"}
    )
    page.get_by_label("Root cause", exact=True).fill("My cause")
    conflict = page.locator("#section-root_cause .pm-conflict")
    expect(conflict).to_contain_text("Their cause")
    expect(page.locator("#pm-save-state")).to_have_text(re.compile("needs merging"))
    conflict.get_by_role("button", name="Put both texts in the box").click()
    expect(page.locator('[data-state-for="root_cause"]')).to_have_text(re.compile("Saved at"))
    postmortem.refresh_from_db()
    assert postmortem.root_cause == "Their cause\n\nMy cause"


def test_a_save_that_fails_offline_is_shown_and_retried(page, expect, log_in, e2e_db):
    user = log_in(page)
    incident = factories.declare_incident(severity="SEV2", declared_by=user)
    services.incident_status_change(incident=incident, status="resolved", actor=user)
    page.goto(f"{e2e_db}/incidents/{incident.reference}/postmortem/")
    page.context.set_offline(True)
    page.get_by_label("Summary", exact=True).fill("Written on a train")
    expect(page.locator("#pm-save-state")).to_have_text(re.compile("Not saved: connection problem"))
    page.context.set_offline(False)
    expect(page.locator("#pm-save-state")).to_have_text(re.compile(r"^Saved at "), timeout=15_000)
    assert Postmortem.objects.get(incident=incident).summary == "Written on a train"


def test_the_editor_works_without_javascript(new_page, expect, log_in, e2e_db):
    page = new_page(java_script_enabled=False)
    user = log_in(page)
    incident = factories.declare_incident(severity="SEV2", declared_by=user)
    services.incident_status_change(incident=incident, status="resolved", actor=user)
    page.goto(f"{e2e_db}/incidents/{incident.reference}/postmortem/")
    page.get_by_label("Root cause", exact=True).fill("A bad deploy")
    page.get_by_label("What went well", exact=True).fill("Fast rollback")
    page.locator("#pm-save-button").click()
    expect(page.locator(".messages")).to_contain_text("Saved.")
    expect(page.get_by_label("Root cause", exact=True)).to_have_value("A bad deploy")
    expect(page.locator("#preview-went_well")).to_contain_text("Fast rollback")
    postmortem = Postmortem.objects.get(incident=incident)
    assert (postmortem.root_cause, postmortem.went_well, postmortem.version) == ("A bad deploy", "Fast rollback", 3)


CONTRAST_JS = """el => {
  const rgb = s => s.match(/\\d+(\\.\\d+)?/g).slice(0, 3).map(Number);
  const linear = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
  const lum = c => { const l = c.map(linear); return 0.2126 * l[0] + 0.7152 * l[1] + 0.0722 * l[2]; };
  const style = getComputedStyle(el);
  const [a, b] = [lum(rgb(style.color)), lum(rgb(style.backgroundColor))].sort((x, y) => y - x);
  return (a + 0.05) / (b + 0.05);
}"""


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_key_events_then_starred_ones_fill_the_timeline_and_badges_are_readable(
    new_page, expect, log_in, screenshot, e2e_db, scheme
):
    page = new_page(color_scheme=scheme)
    user = log_in(page)
    incident = factories.declare_incident(severity="SEV2", declared_by=user)
    services.incident_status_change(incident=incident, status="resolved", actor=user)
    note = services.incident_note_add(incident=incident, author=user, text="The pool was at 20 of 20")
    services.timeline_event_star(event=note, starred=True)
    from postmortems import services as pm_services

    postmortem = Postmortem.objects.get(incident=incident)
    for priority in ("urgent", "high", "medium", "low"):
        pm_services.action_item_add(postmortem=postmortem, actor=user, title=f"A {priority} one", priority=priority)

    page.goto(f"{e2e_db}/incidents/{incident.reference}/postmortem/")
    rows = page.locator("#section-timeline .pm-row input[name=text]")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_have_value("Declared as SEV2 High")
    page.get_by_role("button", name="Add 1 starred event").click()
    expect(page.locator(".messages")).to_contain_text("Added 1 starred event to the timeline.")
    expect(rows).to_have_count(3)
    expect(rows.nth(2)).to_have_value("The pool was at 20 of 20")
    expect(page.get_by_role("button", name=re.compile("starred event"))).to_have_count(0)

    badges = page.locator("#section-action-items .badge[class*=priority-]")
    expect(badges).to_have_count(4)
    for i in range(4):
        assert badges.nth(i).evaluate(CONTRAST_JS) >= 4.5, badges.nth(i).inner_text()
    screenshot(page, scheme)
