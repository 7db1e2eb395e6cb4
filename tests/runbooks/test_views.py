from html import escape

import pytest
from django.urls import reverse

from incidents.models import EventKind
from runbooks import errors, services
from runbooks.models import Runbook, RunbookRun, StepOutcome
from tests import factories
from tests.runbooks.conftest import incident_template, make_runbook

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def htmx_target(target: str) -> dict:
    return {**HTMX, "HTTP_HX_TARGET": target}


# --- Reading: every logged-in role -------------------------------------------------------------


def test_index_needs_a_login(client):
    assert client.get(reverse("runbooks:index")).status_code == 302


def test_index_groups_by_kind_and_category(viewer_client):
    make_runbook(title="Disk full", category="Storage")
    make_runbook(title="Deploy", kind="operational", category="Releases")
    response = viewer_client.get(reverse("runbooks:index"))
    html = response.content.decode()
    assert response.status_code == 200
    assert html.index("Incident runbooks") < html.index("Storage") < html.index("Operational runbooks")
    assert "Releases" in html
    assert "New runbook" not in html  # viewers do not write


def test_index_offers_editors_a_new_runbook_and_the_import(editor_client):
    html = editor_client.get(reverse("runbooks:index")).content.decode()
    assert "New runbook for a service" in html
    assert "Import one from Markdown" in html  # no runbooks yet


def test_search_as_you_type_answers_htmx_with_the_results_fragment(viewer_client, runbook):
    make_runbook(title="Certificate expired", symptoms="- TLS handshake failures")
    url = reverse("runbooks:index") + "?q=503"
    plain = viewer_client.get(url)
    fragment = viewer_client.get(url, **htmx_target("runbook-results"))
    assert "<html" in plain.content.decode()
    body = fragment.content.decode()
    assert "<html" not in body and body.lstrip().startswith('<div id="runbook-results">')
    assert runbook.title in body and "Certificate expired" not in body


@pytest.mark.parametrize("query", ["pool", "db-connection-pool-exhausted", "database", "Step number 2", "503"])
def test_search_finds_by_title_alert_service_step_and_symptom(viewer_client, runbook, query):
    make_runbook(title="Unrelated", symptoms="- nothing", steps=1)
    results = viewer_client.get(reverse("runbooks:index"), {"q": query}, **htmx_target("runbook-results"))
    assert runbook.title in results.content.decode()


def test_detail_renders_sections_steps_and_copy_buttons(viewer_client, runbook):
    response = viewer_client.get(runbook.get_absolute_url())
    html = response.content.decode()
    assert response.status_code == 200
    assert "Step 1: Step number 1" in html
    assert 'data-copy-target="cmd-' in html and "echo 1" in html
    assert "<li>API returning 503 errors</li>" in html


def test_detail_shows_edit_and_drill_only_to_those_allowed(viewer, responder, runbook):
    from django.test import Client

    viewer_client, responder_client = Client(), Client()
    viewer_client.force_login(viewer)
    responder_client.force_login(responder)
    viewer_html = viewer_client.get(runbook.get_absolute_url()).content.decode()
    responder_html = responder_client.get(runbook.get_absolute_url()).content.decode()
    assert reverse("runbooks:edit", args=[runbook.slug]) not in viewer_html
    assert "Start drill" not in viewer_html
    assert reverse("runbooks:edit", args=[runbook.slug]) in responder_html
    assert "Start drill" in responder_html


def test_unknown_runbook_is_404(viewer_client):
    assert viewer_client.get("/runbooks/no-such-thing/").status_code == 404


def test_export_downloads_the_markdown(viewer_client, runbook):
    response = viewer_client.get(f"/runbooks/{runbook.slug}/export.md")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/markdown; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="runbook-{runbook.slug}.md"'
    assert response.content.decode().startswith(f"# Runbook: {runbook.title}\n")


def test_stale_lists_only_overdue_runbooks(viewer_client):
    from datetime import date

    overdue = make_runbook(title="Old one", last_tested=date(2020, 1, 1))
    fresh = make_runbook(title="Fresh one")
    html = viewer_client.get(reverse("runbooks:stale")).content.decode()
    assert overdue.title in html and "Review overdue" in html
    assert fresh.title not in html


# --- Writing: editors only ---------------------------------------------------------------------


@pytest.mark.parametrize("name", ["runbooks:create", "runbooks:import"])
def test_viewers_cannot_open_the_editors(viewer_client, name):
    response = viewer_client.get(reverse(name))
    assert response.status_code == 403
    assert escape(errors.NOT_AN_EDITOR) in response.content.decode() or response.status_code == 403


def test_viewers_cannot_edit_restore_or_import(viewer_client, runbook):
    assert viewer_client.post(reverse("runbooks:edit", args=[runbook.slug]), {"title": "x"}).status_code == 403
    assert viewer_client.post(reverse("runbooks:restore", args=[runbook.slug, 1])).status_code == 403
    assert viewer_client.post(reverse("runbooks:import"), {"text": incident_template()}).status_code == 403
    assert Runbook.objects.count() == 1 and Runbook.objects.get().version == 1


def test_a_runbook_editor_without_responder_role_edits_but_does_not_run(client, runbook):
    from django.contrib.auth.models import Group

    user = factories.UserFactory()
    user.groups.add(Group.objects.get(name="runbook editor"))
    client.force_login(user)
    assert client.get(reverse("runbooks:edit", args=[runbook.slug])).status_code == 200
    assert client.post(reverse("runbooks:drill", args=[runbook.slug])).status_code == 403


def form_data(**overrides) -> dict:
    data = {
        "title": "Queue backlog",
        "kind": "incident",
        "review_interval_days": "30",
        "severity": "medium",
        "alert_names": "queue-backlog, `worker-down`",
        "symptoms": "- Jobs wait for minutes",
        "steps": "### Step 1: Look at the queue\n\n**Goal:** See the backlog\n\n#### Commands\n\n```bash\n"
        "celery inspect active\n```\n\n### Step 2: Add workers\n",
        "other_sections": "## Contacts\n\n- Ada",
    }
    data.update(overrides)
    return data


def test_create_from_the_form_parses_steps_and_sections(responder_client):
    response = responder_client.post(reverse("runbooks:create"), form_data())
    runbook = Runbook.objects.get()
    assert response.status_code == 302 and response["Location"] == runbook.get_absolute_url()
    assert list(runbook.steps.values_list("title", "commands")) == [
        ("Look at the queue", "celery inspect active"),
        ("Add workers", ""),
    ]
    assert runbook.alert_names == ["queue-backlog", "worker-down"]
    assert runbook.extra_sections == [["Contacts", "- Ada"]]
    assert (runbook.severity, runbook.review_interval_days) == ("medium", 30)


def test_create_without_a_title_comes_back_with_the_reason(responder_client):
    response = responder_client.post(reverse("runbooks:create"), form_data(title=""))
    assert response.status_code == 422
    assert escape(errors.TITLE_REQUIRED) in response.content.decode()
    assert not Runbook.objects.exists()


def test_edit_form_shows_the_current_content_and_saves_a_new_version(responder_client, runbook):
    page = responder_client.get(reverse("runbooks:edit", args=[runbook.slug])).content.decode()
    assert "### Step 1: Step number 1" in page
    response = responder_client.post(
        reverse("runbooks:edit", args=[runbook.slug]), form_data(title=runbook.title, change_note="Rewrote steps")
    )
    runbook.refresh_from_db()
    assert response.status_code == 302
    assert runbook.version == 2
    assert runbook.revisions.get(version=2).change_note == "Rewrote steps"


def test_editing_keeps_what_the_form_does_not_show(responder_client):
    runbook, _ = services.runbook_import(text=incident_template().replace("YYYY-MM-DD", "2026-10-01"), actor=None)
    initial = responder_client.get(reverse("runbooks:edit", args=[runbook.slug])).context["form"].initial
    payload = {key: value for key, value in initial.items() if key != "services"}
    responder_client.post(reverse("runbooks:edit", args=[runbook.slug]), payload)
    after = Runbook.objects.get(pk=runbook.pk)
    assert after.version == 2
    assert after.last_tested == runbook.last_tested
    before_data, after_data = services.runbook_to_data(runbook), services.runbook_to_data(after)
    assert after_data == before_data


def test_import_through_the_ui_by_paste_and_by_file(responder_client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    pasted = responder_client.post(reverse("runbooks:import"), {"text": incident_template()})
    assert pasted.status_code == 302
    upload = SimpleUploadedFile("runbook-pool.md", services.DEMO_SERVICE_RUNBOOK.encode(), "text/markdown")
    uploaded = responder_client.post(reverse("runbooks:import"), {"file": upload})
    assert uploaded.status_code == 302
    assert Runbook.objects.count() == 2


def test_import_of_nothing_or_no_title_is_refused(responder_client):
    empty = responder_client.post(reverse("runbooks:import"), {"text": "  "})
    untitled = responder_client.post(reverse("runbooks:import"), {"text": "## Symptoms\n"})
    assert empty.status_code == untitled.status_code == 422
    assert escape(errors.IMPORT_EMPTY) in empty.content.decode()
    assert "no &#x27;# Runbook: …&#x27; title line" in untitled.content.decode()


def test_history_diff_and_one_click_restore(responder_client, runbook):
    data = services.runbook_to_data(runbook)
    data.symptoms = "- Brand new symptom"
    services.runbook_update(runbook=runbook, data=data, actor=None)
    history = responder_client.get(reverse("runbooks:history", args=[runbook.slug])).content.decode()
    assert "v1" in history and "v2" in history and "Restore" in history
    diff = responder_client.get(reverse("runbooks:revision", args=[runbook.slug, 2])).content.decode()
    assert '<span class="add">+- Brand new symptom</span>' in diff
    assert '<span class="del">-- API returning 503 errors</span>' in diff
    response = responder_client.post(reverse("runbooks:restore", args=[runbook.slug, 1]))
    assert response.status_code == 302
    runbook.refresh_from_db()
    assert (runbook.version, runbook.symptoms) == (3, "- API returning 503 errors")
    htmx = responder_client.post(reverse("runbooks:restore", args=[runbook.slug, 2]), **HTMX)
    assert htmx["HX-Redirect"] == runbook.get_absolute_url()


# --- Running: responders -----------------------------------------------------------------------


def test_attach_from_a_suggestion_and_the_checklist_shows_on_the_incident(responder_client, responder, runbook):
    database = runbook.services.get()
    incident = factories.declare_incident(declared_by=responder, affected_services=[database])
    page = responder_client.get(incident.get_absolute_url()).content.decode()
    assert f'value="{runbook.slug}"' in page  # suggested, with an Attach button
    response = responder_client.post(reverse("runbooks:attach", args=[incident.reference]), {"runbook": runbook.slug})
    assert response.status_code == 302 and response["Location"] == incident.get_absolute_url()
    page = responder_client.get(incident.get_absolute_url()).content.decode()
    run = RunbookRun.objects.get()
    assert f'id="run-{run.pk}"' in page and "0 of 3 steps recorded" in page
    assert incident.timeline.filter(kind=EventKind.RUNBOOK_ATTACHED).count() == 1


def test_viewers_cannot_attach_or_record(viewer_client, runbook, responder):
    incident = factories.declare_incident(declared_by=responder)
    response = viewer_client.post(reverse("runbooks:attach", args=[incident.reference]), {"runbook": runbook.slug})
    assert response.status_code == 403
    run = services.runbook_attach(runbook=runbook, incident=incident, actor=responder)
    step = run.steps.first()
    response = viewer_client.post(reverse("runbooks:step_record", args=[run.pk, step.pk]), {"outcome": "done"})
    assert response.status_code == 403
    page = viewer_client.get(incident.get_absolute_url()).content.decode()
    assert "Record this step" not in page and f'id="run-{run.pk}"' in page


def test_recording_a_step_plain_redirects_and_htmx_returns_the_checklist(responder_client, responder, runbook):
    incident = factories.declare_incident(declared_by=responder)
    run = services.runbook_attach(runbook=runbook, incident=incident, actor=responder)
    first, second, _third = run.steps.all()
    url = reverse("runbooks:step_record", args=[run.pk, first.pk])
    plain = responder_client.post(url, {"outcome": "done", "note": "ok"})
    assert plain.status_code == 302 and plain["Location"] == incident.get_absolute_url()
    htmx = responder_client.post(
        reverse("runbooks:step_record", args=[run.pk, second.pk]), {"outcome": "failed", "output": "boom"}, **HTMX
    )
    body = htmx.content.decode()
    assert htmx.status_code == 200 and body.lstrip().startswith(
        f'<section class="card checklist-card" id="run-{run.pk}"'
    )
    assert "2 of 3 steps recorded" in body and "1 failed" in body and '<pre class="output">boom</pre>' in body
    assert [e.data["outcome"] for e in incident.timeline.filter(kind=EventKind.RUNBOOK_STEP).order_by("id")] == [
        "done",
        "failed",
    ]


def test_an_invalid_outcome_comes_back_in_the_checklist(responder_client, responder, runbook):
    run = services.drill_start(runbook=runbook, actor=responder)
    step = run.steps.first()
    response = responder_client.post(
        reverse("runbooks:step_record", args=[run.pk, step.pk]), {"outcome": "pending"}, **HTMX
    )
    assert response.status_code == 422
    assert escape(errors.UNKNOWN_OUTCOME) in response.content.decode()


def test_the_polled_checklist_fragment(viewer_client, responder, runbook):
    run = services.drill_start(runbook=runbook, actor=responder)
    services.run_step_record(run_step=run.steps.first(), outcome=StepOutcome.DONE, actor=responder)
    fragment = viewer_client.get(run.get_absolute_url(), **htmx_target(f"run-{run.pk}")).content.decode()
    page = viewer_client.get(run.get_absolute_url()).content.decode()
    assert "<html" not in fragment and "1 of 3 steps recorded" in fragment
    assert 'hx-trigger="every 5s' in fragment
    assert "<html" in page


def test_drill_from_start_to_finish_sets_last_tested(responder_client, runbook):
    from django.utils import timezone

    response = responder_client.post(reverse("runbooks:drill", args=[runbook.slug]))
    run = RunbookRun.objects.get()
    assert response["Location"] == run.get_absolute_url() and run.is_drill
    early = responder_client.post(reverse("runbooks:drill_finish", args=[run.pk]), follow=True)
    assert escape(errors.DRILL_NOT_COMPLETE) in early.content.decode()
    for step in run.steps.all():
        responder_client.post(reverse("runbooks:step_record", args=[run.pk, step.pk]), {"outcome": "done"})
    responder_client.post(reverse("runbooks:drill_finish", args=[run.pk]))
    runbook.refresh_from_db()
    assert runbook.last_tested == timezone.localdate()


def test_index_shows_the_first_runbooks_of_a_category_and_links_to_all(viewer_client):
    from runbooks.selectors import INDEX_PER_CATEGORY

    for n in range(INDEX_PER_CATEGORY + 2):
        make_runbook(title=f"Storage runbook {n:02}", category="Storage", steps=1)
    make_runbook(title="Lonely one", category="Network", steps=1)
    html = viewer_client.get(reverse("runbooks:index")).content.decode()
    assert html.count('class="runbook-title"') == INDEX_PER_CATEGORY + 1
    assert "Storage runbook 09" in html and "Storage runbook 11" not in html
    assert f"All {INDEX_PER_CATEGORY + 2} in Storage" in html
    full = viewer_client.get(reverse("runbooks:index"), {"kind": "incident", "category": "Storage"}).content.decode()
    assert full.count('class="runbook-title"') == INDEX_PER_CATEGORY + 2
    assert "Lonely one" not in full


def test_a_save_over_someone_elses_newer_version_is_refused_and_keeps_the_text(responder_client, runbook):
    page = responder_client.get(reverse("runbooks:edit", args=[runbook.slug]))
    assert page.context["form"].initial["base_version"] == 1
    services.runbook_update(runbook=runbook, data=services.runbook_to_data(runbook), actor=None)  # someone else
    response = responder_client.post(
        reverse("runbooks:edit", args=[runbook.slug]), form_data(title="My edit", base_version="1")
    )
    assert response.status_code == 422
    assert escape(errors.STALE_EDIT.format(version=2)) in response.content.decode()
    assert 'value="My edit"' in response.content.decode()
    runbook.refresh_from_db()
    assert (runbook.version, runbook.title) == (2, "Database connection pool exhausted")
    # The form now carries the newer version: saving again replaces it on purpose.
    assert 'name="base_version" value="2"' in response.content.decode()
    again = responder_client.post(
        reverse("runbooks:edit", args=[runbook.slug]), form_data(title="My edit", base_version="2")
    )
    assert again.status_code == 302
    runbook.refresh_from_db()
    assert (runbook.version, runbook.title) == (3, "My edit")


def test_the_incident_page_suggests_the_runbook_for_the_alerts_on_its_timeline(responder_client, responder, runbook):
    """No service in common: the alert that joined the incident names the runbook."""
    from incidents.services import incident_event_record

    incident = factories.declare_incident(declared_by=responder)
    page = responder_client.get(incident.get_absolute_url()).content.decode()
    assert f'value="{runbook.slug}"' not in page
    incident_event_record(
        incident=incident,
        kind=EventKind.ALERT,
        actor=responder,
        text="Alert firing: db-connection-pool-exhausted",
        data={"alert_names": ["db-connection-pool-exhausted"], "status": "firing"},
    )
    page = responder_client.get(incident.get_absolute_url()).content.decode()
    assert f'value="{runbook.slug}"' in page
