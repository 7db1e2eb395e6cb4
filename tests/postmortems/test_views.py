from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import time_machine
from django.contrib.staticfiles import finders
from django.urls import reverse

from incidents import services as incident_services
from incidents.models import IncidentStatus
from postmortems import errors, forms, services
from postmortems.models import ActionItem, ActionStatus, Postmortem, PostmortemStatus, PostmortemTimelineRow
from tests.factories import UserFactory, declare_incident

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}
JSON = {"HTTP_ACCEPT": "application/json"}


def resolved(severity="SEV2", **kwargs):
    incident = declare_incident(severity=severity, **kwargs)
    incident_services.incident_status_change(incident=incident, status=IncidentStatus.RESOLVED, actor=incident.lead)
    return incident


def editor_url(incident, name="editor", **kwargs):
    return reverse(f"postmortems:{name}", kwargs={"reference": incident.reference, **kwargs})


@pytest.fixture
def incident():
    return resolved()


# --- The editor page ---------------------------------------------------------------------------


def test_editor_shows_every_section_with_its_preview(responder_client, incident):
    services.postmortem_sections_save(
        postmortem=incident.postmortem, actor=incident.lead, base_version=1, sections={"root_cause": "**Pool** ran dry"}
    )
    response = responder_client.get(editor_url(incident))
    assert response.status_code == 200
    html = response.content.decode()
    for label in ("Summary", "Impact", "Timeline", "Root cause", "Five whys", "Resolution", "Action items"):
        assert f"<h2>{label}</h2>" in html
    assert 'name="root_cause"' in html
    assert "<strong>Pool</strong> ran dry" in html
    assert 'name="base_root_cause" value="2"' in html
    assert "postmortem-editor.js" in html


def test_editor_htmx_head_fragment(responder_client, incident):
    response = responder_client.get(editor_url(incident), HTTP_HX_TARGET="postmortem-head", **HTMX)
    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="postmortem-head"' in html
    assert "<html" not in html and 'name="root_cause"' not in html


def test_viewers_read_but_cannot_edit(viewer_client, incident):
    response = viewer_client.get(editor_url(incident))
    assert response.status_code == 200
    assert "<textarea" not in response.content.decode()
    response = viewer_client.post(editor_url(incident, "save"), {"root_cause": "x", "base_root_cause": 1})
    assert response.status_code == 403
    assert viewer_client.post(editor_url(incident, "start")).status_code == 403
    assert viewer_client.post(editor_url(incident, "workflow"), {"action": "publish"}).status_code == 403


def test_start_by_hand_on_an_active_incident(responder_client):
    incident = declare_incident(severity="SEV3")
    page = responder_client.get(editor_url(incident)).content.decode()
    assert "Start postmortem" in page
    response = responder_client.post(editor_url(incident, "start"))
    assert response.status_code == 302
    assert Postmortem.objects.filter(incident=incident).exists()


def test_plain_save_changes_only_the_sections_typed_into(responder_client, incident):
    postmortem = incident.postmortem
    other = UserFactory(role="responder")
    # Someone else changes the summary after this form was loaded (at version 1).
    services.postmortem_sections_save(
        postmortem=postmortem, actor=other, base_version=1, sections={"summary": "Theirs"}
    )
    form = {f"base_{name}": 1 for name in ("summary", "root_cause")}
    form.update({"summary": postmortem.summary, "root_cause": "Mine"})  # the summary as the form showed it
    response = responder_client.post(editor_url(incident, "save"), form)
    assert response.status_code == 302
    postmortem.refresh_from_db()
    assert (postmortem.summary, postmortem.root_cause) == ("Theirs", "Mine")


def test_plain_save_of_a_section_changed_meanwhile_shows_both_texts(responder_client, incident):
    postmortem = incident.postmortem
    services.postmortem_sections_save(
        postmortem=postmortem, actor=UserFactory(), base_version=1, sections={"root_cause": "Their cause"}
    )
    response = responder_client.post(editor_url(incident, "save"), {"root_cause": "My cause", "base_root_cause": 1})
    assert response.status_code == 409
    html = response.content.decode()
    assert "Their cause" in html and "My cause" in html
    assert errors.CONFLICT.format(names="Root cause") in html
    assert 'name="base_root_cause" value="2"' in html  # merge and save on top of what was shown


def test_json_save_answers_the_new_version_or_the_conflict(responder_client, incident):
    url = editor_url(incident, "save")
    first = responder_client.post(url, {"resolution": "Rolled back", "base_resolution": 1}, **JSON)
    assert first.status_code == 200
    assert first.json()["version"] == 2
    assert first.json()["saved_label"]
    stale = responder_client.post(url, {"resolution": "Restarted", "base_resolution": 1}, **JSON)
    assert stale.status_code == 409
    body = stale.json()
    assert body["conflict"] is True
    assert (body["section"], body["version"], body["current"], body["mine"]) == (
        "resolution",
        2,
        "Rolled back",
        "Restarted",
    )
    merged = responder_client.post(url, {"resolution": "Rolled back, restarted", "base_resolution": 2}, **JSON)
    assert merged.json()["version"] == 3


def test_save_on_a_published_postmortem_is_refused(responder_client, incident):
    postmortem = incident.postmortem
    Postmortem.objects.filter(pk=postmortem.pk).update(
        status=PostmortemStatus.PUBLISHED, published_at=datetime(2026, 1, 1, tzinfo=UTC)
    )
    response = responder_client.post(editor_url(incident, "save"), {"summary": "x", "base_summary": 1}, **JSON)
    assert response.status_code == 422
    assert response.json()["error"] == errors.READ_ONLY
    assert "<textarea" not in responder_client.get(editor_url(incident)).content.decode()


def test_preview_is_sanitized_html(responder_client, incident):
    response = responder_client.post(
        editor_url(incident, "preview"),
        {"section": "summary", "summary": "# Hi\n<script>alert(1)</script> [x](javascript:alert(1))"},
        **HTMX,
    )
    html = response.content.decode()
    assert "<h1>Hi</h1>" in html
    assert "<script" not in html and "&lt;script&gt;" in html  # shown as text, never run
    assert 'href="javascript' not in html


# --- Workflow, rows, action items ------------------------------------------------------------


def test_workflow_through_the_buttons(responder_client, responder, incident):
    url = editor_url(incident, "workflow")
    assert responder_client.post(url, {"action": "review"}).status_code == 422  # no reviewers named
    assert responder_client.post(url, {"action": "review", "reviewers": [responder.pk]}).status_code == 302
    assert responder_client.post(url, {"action": "approve"}).status_code == 302
    assert responder_client.post(url, {"action": "publish"}).status_code == 302
    incident.postmortem.refresh_from_db()
    assert incident.postmortem.status == PostmortemStatus.PUBLISHED
    page = responder_client.get(editor_url(incident)).content.decode()
    assert "Amend (new revision)" in page and "<textarea" not in page


def test_not_required_needs_a_reason_in_the_form(responder_client, incident):
    url = editor_url(incident, "workflow")
    response = responder_client.post(url, {"action": "not_required", "reason": ""})
    assert response.status_code == 422
    responder_client.post(url, {"action": "not_required", "reason": "Duplicate"})
    incident.postmortem.refresh_from_db()
    assert incident.postmortem.status == PostmortemStatus.NOT_REQUIRED


def test_timeline_rows_and_whys_through_forms(responder_client, incident):
    responder_client.post(editor_url(incident, "timeline_row_add"), {"text": "14:30 Alert"})
    row = incident.postmortem.timeline_rows.get(event=None)  # the others are the incident's key events
    responder_client.post(editor_url(incident, "timeline_row_change", row_id=row.pk), {"text": "14:31 Alert"})
    row.refresh_from_db()
    assert row.text == "14:31 Alert"
    responder_client.post(editor_url(incident, "timeline_row_change", row_id=row.pk), {"text": "x", "delete": "1"})
    assert not incident.postmortem.timeline_rows.filter(pk=row.pk).exists()
    responder_client.post(editor_url(incident, "five_why_add"), {"why": "Why?", "because": "Because"})
    assert incident.postmortem.five_whys.count() == 1


def test_events_starred_later_are_offered_and_added_from_the_editor(responder_client, incident):
    postmortem = incident.postmortem
    assert postmortem.timeline_rows.exists()  # the key events, since nothing was starred
    page = responder_client.get(editor_url(incident)).content.decode()
    assert editor_url(incident, "timeline_starred_add") not in page  # nothing starred: nothing to offer
    notes = [
        incident_services.incident_note_add(incident=incident, author=incident.lead, text=f"Finding {i}")
        for i in range(2)
    ]
    for note in notes:
        incident_services.timeline_event_star(event=note, starred=True)
    page = responder_client.get(editor_url(incident)).content.decode()
    assert "Add 2 starred events" in page
    assert editor_url(incident, "timeline_starred_add") in page

    response = responder_client.post(editor_url(incident, "timeline_starred_add"), **HTMX)
    assert response.status_code == 302
    assert list(postmortem.timeline_rows.filter(event__in=notes).values_list("text", flat=True)) == [
        "Finding 0",
        "Finding 1",
    ]
    page = responder_client.get(editor_url(incident)).content.decode()
    assert "Added 2 starred events to the timeline." in page
    assert "Add 2 starred events" not in page
    response = responder_client.post(editor_url(incident, "timeline_starred_add"))
    assert response.status_code == 302
    assert postmortem.timeline_rows.filter(event__in=notes).count() == 2


def test_starred_events_are_not_offered_to_viewers(viewer_client, incident):
    note = incident_services.incident_note_add(incident=incident, author=incident.lead, text="Finding")
    incident_services.timeline_event_star(event=note, starred=True)
    assert "Add 1 starred event" not in viewer_client.get(editor_url(incident)).content.decode()
    assert viewer_client.post(editor_url(incident, "timeline_starred_add")).status_code == 403
    assert not incident.postmortem.timeline_rows.filter(event=note).exists()


def test_approving_your_own_postmortem_is_refused_with_the_reason(client, incident):
    owner = incident.postmortem.owner
    client.force_login(owner)
    url = editor_url(incident, "workflow")
    assert client.post(url, {"action": "review", "reviewers": [owner.pk]}).status_code == 302
    response = client.post(url, {"action": "approve"}, follow=True)
    assert errors.APPROVER_IS_AUTHOR in response.content.decode()
    incident.postmortem.refresh_from_db()
    assert incident.postmortem.status == PostmortemStatus.IN_REVIEW


def test_starred_events_are_not_offered_once_published(responder_client, incident):
    note = incident_services.incident_note_add(incident=incident, author=incident.lead, text="Finding")
    incident_services.timeline_event_star(event=note, starred=True)
    assert "Add 1 starred event" in responder_client.get(editor_url(incident)).content.decode()
    postmortem = incident.postmortem
    reviewer = UserFactory(role="responder")  # four eyes: not the author
    services.postmortem_review_request(postmortem=postmortem, actor=incident.lead, reviewers=[reviewer])
    services.postmortem_approve(postmortem=postmortem, actor=reviewer)
    services.postmortem_publish(postmortem=postmortem, actor=incident.lead)
    assert "Add 1 starred event" not in responder_client.get(editor_url(incident)).content.decode()
    responder_client.post(editor_url(incident, "timeline_starred_add"))
    assert not postmortem.timeline_rows.filter(event=note).exists()
    assert errors.READ_ONLY in responder_client.get(editor_url(incident)).content.decode()


def test_action_item_added_with_due_date_from_policy_and_closed_from_the_tracker(
    responder_client, responder, incident, settings
):
    settings.TIME_ZONE = "UTC"
    with time_machine.travel(datetime(2026, 11, 23, 12, 0, tzinfo=UTC), tick=False):
        response = responder_client.post(
            editor_url(incident, "action_item_add"), {"title": "Add alert", "priority": "urgent", "kind": "detect"}
        )
    assert response.status_code == 302
    item = ActionItem.objects.get()
    assert (item.owner, item.due_on) == (responder, date(2026, 11, 26))
    response = responder_client.post(
        reverse("postmortems:action_item_status", args=[item.pk]), {"status": "done", "next": "/action-items/"}
    )
    assert response.status_code == 302 and response["Location"] == "/action-items/"
    item.refresh_from_db()
    assert item.status == ActionStatus.DONE


def test_action_item_and_review_forms_look_like_the_rest_of_the_app(responder_client, incident):
    html = responder_client.get(editor_url(incident)).content.decode()
    form = html.split('class="form-grid pm-action-form"')[1].split("</form>")[0]
    assert '<label for="id_title">Title</label>' in form
    assert '<label for="id_due_on">Due</label>' in form
    assert ":</label>" not in form
    assert 'class="field field-date' in form and 'type="date"' in form
    review = html.split('class="pm-review"')[1].split("</form>")[0]
    assert "<legend>Reviewers</legend>" in review
    assert review.count('type="checkbox" name="reviewers"') == len(list(forms.people()))


def test_people_pickers_leave_out_who_cannot_log_in(responder_client, incident):
    UserFactory(first_name="Gone", last_name="Away", is_active=False)
    system = UserFactory(first_name="Alerts", last_name="System")
    system.set_unusable_password()
    system.save()
    UserFactory(first_name="Able", last_name="Reviewer")
    html = responder_client.get(editor_url(incident)).content.decode()
    review = html.split('class="pm-review"')[1].split("</form>")[0]
    owner = html.split('name="owner"')[1].split("</select>")[0]
    for picker in (review, owner):
        assert "Able Reviewer" in picker
        assert "Gone Away" not in picker and "Alerts System" not in picker
    assert not forms.ActionItemForm({"title": "x", "owner": system.pk, "priority": "low", "kind": "detect"}).is_valid()


def test_action_item_form_errors_come_back(responder_client, incident):
    response = responder_client.post(editor_url(incident, "action_item_add"), {"title": "", "priority": "urgent"})
    assert response.status_code == 422
    assert "This field is required" in response.content.decode()


# --- History, export ------------------------------------------------------------------------


def test_history_diff_and_restore(responder_client, incident):
    postmortem = incident.postmortem
    services.postmortem_sections_save(
        postmortem=postmortem, actor=incident.lead, base_version=1, sections={"root_cause": "Old"}
    )
    services.postmortem_sections_save(
        postmortem=postmortem, actor=incident.lead, base_version=2, sections={"root_cause": "New"}
    )
    page = responder_client.get(editor_url(incident, "revisions") + "?diff=3")
    html = page.content.decode()
    assert "-Old" in html and "+New" in html
    fragment = responder_client.get(editor_url(incident, "revisions") + "?diff=3", HTTP_HX_TARGET="diff", **HTMX)
    assert "<html" not in fragment.content.decode() and "+New" in fragment.content.decode()
    responder_client.post(editor_url(incident, "revision_restore", version=2))
    postmortem.refresh_from_db()
    assert (postmortem.root_cause, postmortem.version) == ("Old", 4)


def test_export_markdown_follows_the_seed_template(responder_client, incident):
    postmortem = incident.postmortem
    services.postmortem_five_why_add(postmortem=postmortem, actor=incident.lead, why="Why down?", because="Pool")
    services.action_item_add(postmortem=postmortem, actor=incident.lead, title="Add pool alert")
    response = responder_client.get(editor_url(incident, "export"))
    text = response.content.decode()
    assert response["Content-Type"].startswith("text/markdown")
    assert text.startswith(f"# Postmortem: {incident.title}\n")
    for heading in (
        "## Summary",
        "## Timeline",
        "## Root Cause",
        "## Resolution",
        "## Action Items",
        "## Lessons Learned",
    ):
        assert heading.lower() in text.lower()
    assert "**Severity**: SEV2 High" in text
    assert "1. Why down? → Pool" in text
    assert "- [ ] Add pool alert" in text
    assert responder_client.get(editor_url(incident, "print")).status_code == 200


def test_export_dates_its_times_in_the_team_zone_and_names_it(responder_client, incident, settings):
    settings.TIME_ZONE = "Europe/Berlin"
    postmortem = incident.postmortem
    row = postmortem.timeline_rows.first()
    PostmortemTimelineRow.objects.filter(pk=row.pk).update(occurred_at=datetime(2026, 3, 2, 13, 5, tzinfo=UTC))
    # The downloader is in New York; the document keeps the team's zone.
    responder_client.cookies["tz"] = "America/New_York"
    text = responder_client.get(editor_url(incident, "export")).content.decode()
    assert "**Time zone**: Europe/Berlin" in text
    assert f"- 2026-03-02T14:05+01:00 - {row.text}\n" in text


def test_print_view_has_its_stylesheet_and_the_favicon(responder_client, incident):
    html = responder_client.get(editor_url(incident, "print")).content.decode()
    assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in html
    assert '<link rel="stylesheet" href="/static/css/postmortem-print.css">' in html
    css = Path(finders.find("css/postmortem-print.css")).read_text()
    assert "font-family: system-ui" in css and "serif;" not in css.replace("sans-serif;", "")
    assert "@media print" in css and ".pm-print table" in css


# --- Lists, slots and their query counts -------------------------------------------------------


def _grow(count: int) -> None:
    for _ in range(count):
        incident = resolved()
        services.action_item_add(postmortem=incident.postmortem, actor=incident.lead, title="Do it")


def test_postmortem_list_plain_htmx_and_flat_queries(responder_client, django_assert_max_num_queries):
    _grow(2)
    with django_assert_max_num_queries(8):
        small = responder_client.get("/postmortems/")
    _grow(6)
    with django_assert_max_num_queries(8):
        big = responder_client.get("/postmortems/")
    assert big.content.decode().count("data-reference=") == 8 > small.content.decode().count("data-reference=")
    fragment = responder_client.get("/postmortems/?overdue=1", **HTMX).content.decode()
    assert 'id="postmortem-table"' in fragment and "<html" not in fragment


def test_action_item_tracker_filters_and_flat_queries(responder_client, responder, django_assert_max_num_queries):
    _grow(2)
    with django_assert_max_num_queries(9):
        responder_client.get("/action-items/")
    _grow(6)
    with django_assert_max_num_queries(9):
        page = responder_client.get("/action-items/").content.decode()
    assert page.count("data-item=") == 8
    item = ActionItem.objects.first()
    item.owner = responder
    item.priority = "urgent"
    item.save()
    mine = responder_client.get("/action-items/?owner=me&priority=urgent", **HTMX).content.decode()
    assert mine.count("data-item=") == 1 and "<html" not in mine
    assert responder_client.get("/action-items/?status=done").content.decode().count("data-item=") == 0
    ActionItem.objects.filter(pk=item.pk).update(due_on=date(2020, 1, 1))
    overdue = responder_client.get("/action-items/?overdue=1").content.decode()
    assert overdue.count("data-item=") == 1 and "Overdue" in overdue


def test_dashboard_shows_my_action_items_per_reader_even_though_the_board_is_cached(client):
    incident = resolved()
    alice, bob = UserFactory(role="responder"), UserFactory(role="responder")
    services.action_item_add(postmortem=incident.postmortem, actor=alice, title="Alice's item")
    client.force_login(alice)
    assert "Alice&#x27;s item" in client.get("/").content.decode()
    client.force_login(bob)
    page = client.get("/").content.decode()
    assert "Alice&#x27;s item" not in page
    assert "No open action items assigned to you." in page


def test_incident_page_links_to_the_postmortem_with_status_and_due(responder_client, django_assert_max_num_queries):
    incident = resolved()
    page = responder_client.get(incident.get_absolute_url()).content.decode()
    assert f'href="{editor_url(incident)}"' in page
    assert "Draft" in page and "due " in page
    active = declare_incident(severity="SEV3")
    assert "Start postmortem" in responder_client.get(active.get_absolute_url()).content.decode()


def test_the_incident_page_panel_costs_one_query_whatever_the_postmortem_holds(responder_client):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def count(incident) -> int:
        with CaptureQueriesContext(connection) as queries:
            assert responder_client.get(incident.get_absolute_url()).status_code == 200
        return len(queries)

    without = resolved(severity="SEV4")  # no postmortem
    with_one = resolved()
    for n in range(10):
        services.action_item_add(postmortem=with_one.postmortem, actor=with_one.lead, title=f"Item {n}")
        services.postmortem_five_why_add(postmortem=with_one.postmortem, actor=with_one.lead, why=f"Why {n}")
    # Warm the session and both pages' cached timeline rows: only the panel may differ.
    responder_client.get(without.get_absolute_url())
    responder_client.get(with_one.get_absolute_url())
    assert count(with_one) == count(without)


def test_tracker_tells_open_from_open_or_in_progress(responder_client, incident):
    first = services.action_item_add(postmortem=incident.postmortem, actor=incident.lead, title="One")
    services.action_item_add(postmortem=incident.postmortem, actor=incident.lead, title="Two")
    services.action_item_update(item=first, actor=incident.lead, status=ActionStatus.IN_PROGRESS)
    assert responder_client.get("/action-items/?status=open").content.decode().count("data-item=") == 1
    assert responder_client.get("/action-items/?status=active").content.decode().count("data-item=") == 2


def test_editor_and_my_action_items_stay_flat_as_they_grow(client, django_assert_max_num_queries):
    incident = resolved()
    owner = incident.lead
    client.force_login(owner)
    postmortem = incident.postmortem

    def grow(n: int) -> None:
        for i in range(n):
            services.action_item_add(postmortem=postmortem, actor=owner, title=f"Item {i}")
            services.postmortem_five_why_add(postmortem=postmortem, actor=owner, why=f"Why {i}")
            services.postmortem_timeline_row_save(postmortem=postmortem, actor=owner, text=f"Row {i}")
            note = incident_services.incident_note_add(incident=incident, author=owner, text=f"Note {i}")
            incident_services.timeline_event_star(event=note, starred=True)

    grow(1)
    client.get("/")  # warm the session and the cached board
    with django_assert_max_num_queries(16):
        client.get(editor_url(incident))
    with django_assert_max_num_queries(12):
        client.get("/")
    grow(9)
    with django_assert_max_num_queries(16):
        page = client.get(editor_url(incident)).content.decode()
    assert page.count('id="action-item-') == 10
    assert "Add 10 starred events" in page
    with django_assert_max_num_queries(12):
        dashboard = client.get("/").content.decode()
    assert dashboard.count("Item ") == 10
