import functools
import html
import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils.html import escape

from config.celery import app as celery_app
from incidents import errors, services
from incidents.models import ApiToken, EventKind, Incident, IncidentStatus, SeverityPolicy
from tests.factories import ServiceFactory, UserFactory, declare_incident

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
T0 = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)


def url(name: str, incident: Incident | None = None, **kwargs) -> str:
    if incident is not None:
        kwargs["reference"] = incident.reference
    return reverse(f"incidents:{name}", kwargs=kwargs)


# --- health ---------------------------------------------------------------------------------


def test_health_reports_database_and_broker_without_login(client):
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "database": "connected",
        "broker": "connected",
        # The test settings do not watch reminders (no beat runs); tests/test_reminder_watch.py does.
        "reminders": "running",
        "last_reminder_sweep_seconds_ago": None,
    }


@pytest.mark.redis
def test_health_checks_the_real_redis_broker(client):
    assert celery_app.conf.broker_url.startswith("redis://")
    response = client.get("/health")
    assert response.json()["broker"] == "connected"


def test_health_names_an_unreachable_broker(client, monkeypatch):
    # Port 1 on loopback: nothing listens there, so the connection is really refused.
    monkeypatch.setattr(
        celery_app, "connection_for_write", functools.partial(celery_app.connection_for_write, "redis://127.0.0.1:1/0")
    )
    response = client.get("/health")
    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "database": "connected",
        "broker": "unreachable",
        "reminders": "running",
        "last_reminder_sweep_seconds_ago": None,
    }


# --- login and roles -------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/incidents/new/", "/incidents/INC-0001/", "/account/api-tokens/"])
def test_pages_redirect_to_login(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/?next=")


def test_login_page_logs_in(client):
    UserFactory(username="alice", password="s3cret-pass-phrase")
    response = client.post("/accounts/login/", {"username": "alice", "password": "s3cret-pass-phrase"})
    assert response.status_code == 302
    assert client.get("/").status_code == 200


def test_only_those_who_may_declare_are_offered_the_declare_button(client, viewer, responder):
    # The `n` shortcut follows the same link, so a viewer's does nothing either.
    client.force_login(viewer)
    assert 'href="/incidents/new/"' not in client.get("/").content.decode()
    client.force_login(responder)
    assert 'href="/incidents/new/"' in client.get("/").content.decode()


def test_viewer_cannot_declare(viewer_client):
    assert viewer_client.get(url("declare")).status_code == 403
    response = viewer_client.post(url("declare"), {"title": "x", "severity": SeverityPolicy.objects.first().pk})
    assert response.status_code == 403
    assert Incident.objects.count() == 0


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("update_post", {"progress": "x", "status": "investigating", "visibility": "internal"}),
        ("severity_change", {"severity": "1"}),
        ("status_change", {"status": "resolved"}),
        ("note_add", {"text": "x"}),
        ("milestone_set", {"milestone": "acknowledged_at", "at": "2026-01-01T00:00"}),
        ("impact_update", {"title": "x"}),
    ],
)
def test_viewer_cannot_change_an_incident(viewer_client, name, data):
    incident = declare_incident()
    events = incident.timeline.count()
    response = viewer_client.post(url(name, incident), data)
    assert response.status_code == 403
    assert incident.timeline.count() == events


def test_viewer_reads_the_incident_without_forms(viewer_client):
    incident = declare_incident(title="Search is slow")
    response = viewer_client.get(url("detail", incident))
    body = response.content.decode()
    assert response.status_code == 200
    assert "Search is slow" in body
    assert 'id="update-form"' not in body
    assert "Declared as SEV2 High" in body


# --- dashboard -------------------------------------------------------------------------------


def test_dashboard_orders_active_incidents_by_severity_then_age(responder_client):
    with time_machine.travel(T0):
        sev3 = declare_incident(severity="SEV3", title="Minor")
    with time_machine.travel(T0 + timedelta(minutes=5)):
        sev1_old = declare_incident(severity="SEV1", title="Outage one")
    with time_machine.travel(T0 + timedelta(minutes=10)):
        sev1_new = declare_incident(severity="SEV1", title="Outage two")
    resolved = declare_incident(severity="SEV2", title="Was bad")
    services.incident_status_change(incident=resolved, status=IncidentStatus.RESOLVED, actor=resolved.lead)

    response = responder_client.get("/")
    assert [i.pk for i in response.context["active"]] == [sev1_old.pk, sev1_new.pk, sev3.pk]
    assert [i.pk for i in response.context["resolved"]] == [resolved.pk]
    body = response.content.decode()
    assert body.index(sev1_old.reference) < body.index(sev1_new.reference) < body.index(sev3.reference)


def test_dashboard_marks_an_overdue_update(responder_client):
    with time_machine.travel(T0):
        incident = declare_incident(severity="SEV1")
    with time_machine.travel(T0 + timedelta(minutes=20)):
        body = responder_client.get("/").content.decode()
    assert f'class="row-overdue" data-reference="{incident.reference}"' in body
    assert "Update overdue by 5 min" in body


def test_dashboard_filters_by_severity_and_status(responder_client):
    sev1 = declare_incident(severity="SEV1")
    sev2 = declare_incident(severity="SEV2")
    services.incident_status_change(incident=sev2, status=IncidentStatus.MONITORING, actor=sev2.lead)
    assert [i.pk for i in responder_client.get("/?severity=SEV1").context["active"]] == [sev1.pk]
    assert [i.pk for i in responder_client.get("/?status=monitoring").context["active"]] == [sev2.pk]


def test_dashboard_htmx_refresh_returns_the_table_only_and_keeps_filters(responder_client):
    declare_incident(severity="SEV1", title="Outage")
    response = responder_client.get("/?severity=SEV1", **HTMX)
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="incident-table"')
    assert "<html" not in body
    assert 'hx-get="/?severity=SEV1"' in body
    assert "Outage" in body


def test_dashboard_query_count_does_not_grow_with_incidents(responder_client, django_assert_max_num_queries):
    for _ in range(2):
        declare_incident()
    with django_assert_max_num_queries(7) as small:
        responder_client.get("/")
    for severity in ["SEV1", "SEV2", "SEV3", "SEV4"] * 5:
        incident = declare_incident(severity=severity, declared_by=UserFactory(role="responder"))
        if severity == "SEV4":
            services.incident_status_change(incident=incident, status=IncidentStatus.RESOLVED, actor=incident.lead)
    with django_assert_max_num_queries(len(small.captured_queries)):
        responder_client.get("/")


# --- declaring ---------------------------------------------------------------------------------


def test_declare_form_lists_the_policy_severities(responder_client):
    body = responder_client.get(url("declare")).content.decode()
    for key in ("SEV1 · Critical", "SEV2 · High", "SEV3 · Medium", "SEV4 · Low"):
        assert key in body


def test_declaring_in_the_browser_opens_the_incident(responder_client, responder):
    api = ServiceFactory(name="API", slug="api")
    response = responder_client.post(
        url("declare"),
        {
            "title": "API degradation",
            "severity": SeverityPolicy.objects.get(key="SEV2").pk,
            "summary": "p95 > 2 s",
            "affected_services": [api.pk],
            "affected_users_percent": "10",
        },
    )
    incident = Incident.objects.get()
    assert response.status_code == 302
    assert response.url == incident.get_absolute_url()
    assert incident.lead == responder
    assert list(incident.affected_services.all()) == [api]
    assert "INC-" in responder_client.get(response.url).content.decode()


def test_declaring_with_htmx_redirects_the_browser(responder_client):
    response = responder_client.post(
        url("declare"), {"title": "API down", "severity": SeverityPolicy.objects.get(key="SEV1").pk}, **HTMX
    )
    assert response.status_code == 200
    assert response["HX-Redirect"] == Incident.objects.get().get_absolute_url()


def test_refused_declaration_keeps_what_was_typed(responder_client):
    response = responder_client.post(
        url("declare"),
        {"title": "", "summary": "Everything is on fire", "severity": SeverityPolicy.objects.get(key="SEV2").pk},
    )
    body = response.content.decode()
    assert response.status_code == 422
    assert escape(errors.TITLE_REQUIRED) in body
    assert "Everything is on fire" in body
    assert Incident.objects.count() == 0


def test_future_detection_time_is_refused_in_the_form(responder_client):
    response = responder_client.post(
        url("declare"),
        {"title": "x", "severity": SeverityPolicy.objects.get(key="SEV2").pk, "detected_at": "2999-01-01T00:00"},
    )
    assert response.status_code == 422
    assert errors.DETECTED_IN_FUTURE in response.content.decode()


def test_inline_validation_answers_with_error_texts_only_for_filled_fields(responder_client):
    response = responder_client.post(
        url("declare"), {"_validate": "1", "title": "", "affected_users_percent": "250"}, **HTMX
    )
    body = response.content.decode()
    assert response.status_code == 200
    # Only out-of-band error texts come back: the fields being typed into are never replaced.
    assert "<input" not in body and "<textarea" not in body
    assert 'id="id_affected_users_percent_errors" class="field-errors" hx-swap-oob="true"' in body
    assert errors.PERCENT_OUT_OF_RANGE in body
    assert escape(errors.TITLE_REQUIRED) not in body
    assert Incident.objects.count() == 0


def test_inline_validation_flags_a_detected_time_in_the_future_as_it_is_typed(responder_client):
    responder_client.cookies["tz"] = "Europe/Berlin"
    with time_machine.travel(T0, tick=False):  # 15:00 in Berlin
        late = responder_client.post(url("declare"), {"_validate": "1", "detected_at": "2026-03-02T15:30"}, **HTMX)
        earlier = responder_client.post(url("declare"), {"_validate": "1", "detected_at": "2026-03-02T14:30"}, **HTMX)
    assert errors.DETECTED_IN_FUTURE in late.content.decode()
    assert errors.DETECTED_IN_FUTURE not in earlier.content.decode()


# --- working an incident ----------------------------------------------------------------------


def test_posting_an_update_without_javascript_redirects_back(responder_client):
    incident = declare_incident()
    response = responder_client.post(
        url("update_post", incident),
        {
            "status": "identified",
            "progress": "Bad deploy",
            "next_steps": "Roll back",
            "eta": "10 min",
            "visibility": "public",
        },
    )
    assert response.status_code == 302
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.IDENTIFIED
    update = incident.status_updates.get()
    assert (update.progress, update.visibility) == ("Bad deploy", "public")


def test_posting_an_update_with_htmx_answers_with_the_incident_body(responder_client):
    incident = declare_incident()
    response = responder_client.post(
        url("update_post", incident),
        {"status": "investigating", "progress": "Looking at the DB", "visibility": "internal"},
        **HTMX,
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith('<div id="incident-body"')
    assert "Looking at the DB" in body
    assert "Status update posted." in body


def test_refused_update_comes_back_with_the_reason_and_the_text(responder_client):
    incident = declare_incident()
    response = responder_client.post(
        url("update_post", incident),
        {"status": "investigating", "progress": "", "next_steps": "Keep this text", "visibility": "internal"},
        **HTMX,
    )
    body = response.content.decode()
    assert response.status_code == 422
    assert escape(errors.UPDATE_PROGRESS_REQUIRED) in body
    assert "Keep this text" in body


def test_raising_severity_in_the_browser_replans_the_countdown(responder_client):
    with time_machine.travel(T0, tick=False):
        incident = declare_incident(severity="SEV2")
    with time_machine.travel(T0 + timedelta(minutes=1), tick=False):
        responder_client.post(
            url("severity_change", incident), {"severity": SeverityPolicy.objects.get(key="SEV1").pk, "reason": "worse"}
        )
    incident.refresh_from_db()
    assert incident.severity.key == "SEV1"
    assert incident.next_update_due_at == T0 + timedelta(minutes=15)
    assert incident.timeline.get(kind=EventKind.SEVERITY_CHANGED).body == "worse"


def test_resolving_and_reopening_in_the_browser(responder_client):
    incident = declare_incident()
    responder_client.post(url("status_change", incident), {"status": "resolved"})
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.RESOLVED
    body = responder_client.get(url("detail", incident)).content.decode()
    assert "Reopen" in body
    responder_client.post(url("status_change", incident), {"status": "investigating"})
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.INVESTIGATING
    assert incident.next_update_due_at is not None


def test_same_status_is_refused_with_a_message(responder_client):
    incident = declare_incident()
    response = responder_client.post(url("status_change", incident), {"status": "investigating"}, **HTMX)
    assert response.status_code == 422
    assert errors.SAME_STATUS in response.content.decode()


def test_note_time_is_read_in_the_viewers_time_zone(responder_client):
    incident = declare_incident()
    responder_client.cookies["tz"] = "Europe/Berlin"
    with time_machine.travel(datetime(2026, 7, 1, 12, 0, tzinfo=UTC)):
        incident = declare_incident()
        responder_client.post(url("note_add", incident), {"text": "Saw errors", "occurred_at": "2026-07-01T13:30"})
    note = incident.timeline.get(kind=EventKind.NOTE)
    # 13:30 in Berlin (summer time, UTC+2) is 11:30 UTC.
    assert note.occurred_at == datetime(2026, 7, 1, 11, 30, tzinfo=UTC)


def test_pages_show_times_in_the_viewers_time_zone(responder_client):
    with time_machine.travel(datetime(2026, 7, 1, 12, 0, tzinfo=UTC)):
        incident = declare_incident()
        responder_client.cookies["tz"] = "America%2FNew_York"
        body = responder_client.get(url("detail", incident)).content.decode()
    assert ">08:00</time>" in body


def test_roles_and_milestones_through_the_browser(responder_client):
    with time_machine.travel(T0):
        incident = declare_incident()
    comms = UserFactory(role="responder")
    with time_machine.travel(T0 + timedelta(minutes=30)):
        responder_client.post(
            url("roles_assign", incident), {"lead": incident.lead.pk, "comms_lead": comms.pk, "responders": [comms.pk]}
        )
        responder_client.post(
            url("milestone_set", incident), {"milestone": "acknowledged_at", "at": "2026-03-02T14:05"}
        )
    incident.refresh_from_db()
    assert incident.comms_lead == comms
    assert incident.acknowledged_at == datetime(2026, 3, 2, 14, 5, tzinfo=UTC)


def options_of(body: str, name: str) -> set[str]:
    select = body[body.index(f'name="{name}"') :]
    select = select[: select.index("</select>")]
    return set(re.findall(r'<option value="[^"]+"[^>]*>([^<]+)</option>', select))


def test_roles_go_only_to_people_who_may_respond(responder_client, responder):
    UserFactory(role="viewer", first_name="Val", last_name="Viewer")
    UserFactory(role="responder", first_name="Rita", last_name="Responder")
    # No role, as the alerts integration makes it.
    alerts_account = UserFactory(username="alerts", first_name="Alerts", last_name="")
    declare_page = responder_client.get(url("declare")).content.decode()
    assert "Rita Responder" in options_of(declare_page, "lead")
    assert not {"Val Viewer", "Alerts"} & options_of(declare_page, "lead")

    # An incident the Alerts account opened and still leads: its editor shows and keeps that lead.
    incident = declare_incident(declared_by=alerts_account)
    editor = responder_client.get(url("detail", incident) + "?edit=roles").content.decode()
    assert f'<option value="{alerts_account.pk}" selected>Alerts</option>' in editor
    assert "Val Viewer" not in options_of(editor, "responders")
    # Kept where it leads, not offered for the roles it does not hold.
    assert "Alerts" not in options_of(editor, "comms_lead") | options_of(editor, "responders")
    response = responder_client.post(
        url("roles_assign", incident), {"lead": alerts_account.pk, "comms_lead": responder.pk, "responders": []}
    )
    assert response.status_code == 302
    incident.refresh_from_db()
    assert (incident.lead, incident.comms_lead) == (alerts_account, responder)


def test_impact_edit_records_the_change(responder_client):
    incident = declare_incident(title="Old title")
    responder_client.post(url("impact_update", incident), {"title": "New title", "affected_users_count": "500"})
    incident.refresh_from_db()
    assert (incident.title, incident.affected_users_count) == ("New title", 500)
    assert incident.timeline.filter(kind=EventKind.IMPACT_CHANGED).exists()


def test_starring_an_event_returns_the_event_row(responder_client):
    incident = declare_incident()
    event = incident.timeline.get()
    response = responder_client.post(url("event_star", incident, event_id=event.pk), {"starred": "1"}, **HTMX)
    assert response.status_code == 200
    assert response.content.decode().lstrip().startswith(f'<li id="event-{event.pk}"')
    event.refresh_from_db()
    assert event.starred


def test_timeline_filters_by_kind_and_htmx_returns_the_timeline_only(responder_client):
    incident = declare_incident()
    services.incident_note_add(incident=incident, author=incident.lead, text="A note worth reading")
    response = responder_client.get(url("detail", incident) + "?kind=note", HTTP_HX_TARGET="timeline", **HTMX)
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="timeline"')
    assert "A note worth reading" in body
    assert "Declared as" not in body


def test_unknown_incident_is_404(responder_client):
    assert responder_client.get("/incidents/INC-9999/").status_code == 404
    assert responder_client.get("/incidents/nonsense/").status_code == 404
    # A superscript two passes str.isdigit() but is not a number.
    assert responder_client.get("/incidents/INC-%C2%B2/").status_code == 404


def test_incident_page_query_count_does_not_grow_with_the_timeline(responder_client, django_assert_max_num_queries):
    incident = declare_incident()
    with django_assert_max_num_queries(30) as small:
        responder_client.get(url("detail", incident))
    for n in range(15):
        services.incident_note_add(incident=incident, author=incident.lead, text=f"note {n}")
        services.incident_update_post(incident=incident, author=incident.lead, progress=f"update {n}")
    services.incident_roles_assign(
        incident=incident, actor=incident.lead, responders=[UserFactory(), UserFactory(), UserFactory()]
    )
    with django_assert_max_num_queries(len(small.captured_queries)):
        responder_client.get(url("detail", incident))


def key_events_of(body: str) -> str:
    return body.split("<h2>Key events</h2>", 1)[1].split("</section>", 1)[0]


def test_cold_incident_page_reads_as_many_queries_with_5_events_as_with_200(
    responder_client, settings, django_assert_max_num_queries
):
    """With the page cache off every request renders from the database, as right after a write."""
    settings.PAGE_CACHE = False
    incident = declare_incident()
    for n in range(4):
        services.incident_note_add(incident=incident, author=incident.lead, text=f"note {n:03d}")
    with django_assert_max_num_queries(30) as small:
        responder_client.get(url("detail", incident))
    for n in range(4, 200):
        services.incident_note_add(incident=incident, author=incident.lead, text=f"note {n:03d}")
    services.incident_status_change(incident=incident, status=IncidentStatus.IDENTIFIED, actor=incident.lead)
    with django_assert_max_num_queries(len(small.captured_queries)):
        body = responder_client.get(url("detail", incident)).content.decode()
    # The newest page of the 202 events, and a plain link to the older ones.
    assert body.count('<li id="event-') == 50
    # The status change and notes 199…151.
    assert "note 199" in body and "note 151" in body and "note 150" not in body
    assert re.search(r'href="/incidents/INC-\d+/\?before=\d+#timeline"', body)
    # The declaration, 202 events back, is still listed among the key events.
    assert "Declared as SEV2" in key_events_of(body)


def test_key_events_are_starred_events_and_severity_status_and_milestone_changes(responder_client):
    incident = declare_incident()
    plain = services.incident_note_add(incident=incident, author=incident.lead, text="Plain note")
    starred = services.incident_note_add(incident=incident, author=incident.lead, text="Root cause found")
    services.timeline_event_star(event=starred, starred=True)
    services.incident_status_change(incident=incident, status=IncidentStatus.IDENTIFIED, actor=incident.lead)
    key_events = key_events_of(responder_client.get(url("detail", incident)).content.decode())
    assert "Root cause found" in key_events
    assert "Identified" in key_events
    assert "Declared as SEV2" in key_events
    assert plain.text not in key_events
    # The newest ten only; the timeline's filter finds the older ones.
    for n in range(12):
        star = services.incident_note_add(incident=incident, author=incident.lead, text=f"Finding {n:02d}")
        services.timeline_event_star(event=star, starred=True)
    key_events = key_events_of(responder_client.get(url("detail", incident)).content.decode())
    assert key_events.count("<li>") == 10
    assert "Finding 11" in key_events and "Finding 02" in key_events and "Finding 01" not in key_events


def test_cold_dashboard_reads_as_many_queries_with_3_incidents_as_with_30(
    responder_client, settings, django_assert_max_num_queries
):
    settings.PAGE_CACHE = False
    for severity in ["SEV1", "SEV2", "SEV3"]:
        declare_incident(severity=severity)
    with django_assert_max_num_queries(10) as small:
        responder_client.get("/")
    for severity in ["SEV1", "SEV2", "SEV3"] * 9:
        incident = declare_incident(severity=severity, declared_by=UserFactory(role="responder"))
        if severity == "SEV3":
            services.incident_status_change(incident=incident, status=IncidentStatus.RESOLVED, actor=incident.lead)
    with django_assert_max_num_queries(len(small.captured_queries)):
        body = responder_client.get("/").content.decode()
    assert body.count("INC-") >= 30


# --- API tokens page --------------------------------------------------------------------------


def test_api_token_is_shown_once_and_can_be_revoked(responder_client, responder):
    response = responder_client.post(url("api_tokens"), {"name": "alertmanager"})
    raw = response.context["new_token"]
    assert raw in response.content.decode()
    token = ApiToken.objects.get(user=responder)
    assert raw not in responder_client.get(url("api_tokens")).content.decode()
    responder_client.post(url("api_tokens"), {"revoke": token.pk})
    assert not ApiToken.objects.filter(pk=token.pk).exists()


def test_nobody_revokes_another_users_token(responder_client):
    other_token, _ = services.api_token_create(user=UserFactory(), name="theirs")
    assert responder_client.post(url("api_tokens"), {"revoke": other_token.pk}).status_code == 404
    assert ApiToken.objects.filter(pk=other_token.pk).exists()


def test_timeline_shows_a_page_at_a_time_and_loads_older_events(responder_client):
    incident = declare_incident()
    for n in range(60):
        services.incident_note_add(incident=incident, author=incident.lead, text=f"note {n:02d}")
    first = responder_client.get(url("detail", incident))
    page = first.context["timeline"]
    assert len(page) == 50
    assert page[0].text == "note 59"
    body = first.content.decode()
    assert "Show older events" in body
    older = responder_client.get(
        url("detail", incident) + f"?before={page[-1].pk}", HTTP_HX_TARGET="timeline-more", **HTMX
    )
    older_body = older.content.decode()
    assert older_body.lstrip().startswith("<li id=")
    # 61 events in all: 50 first, then the last 11 (note 00…09 and the declaration).
    assert older_body.count('<li id="event-') == 11
    assert older_body.index("note 09") < older_body.index("note 00") < older_body.index("Declared as SEV2 High")
    assert "note 10" not in older_body
    assert "Show older events" not in older_body


def test_rarely_used_forms_open_on_demand(responder_client):
    incident = declare_incident()
    body = responder_client.get(url("detail", incident)).content.decode()
    assert 'name="business_impact"' not in body
    assert "Edit title and impact" in body
    editor = responder_client.get(url("detail", incident) + "?edit=impact", HTTP_HX_TARGET="impact-editor", **HTMX)
    assert editor.content.decode().lstrip().startswith('<div id="impact-editor"')
    assert 'name="business_impact"' in editor.content.decode()
    # Without JavaScript the same link opens the whole page with the form in place.
    assert 'name="business_impact"' in responder_client.get(url("detail", incident) + "?edit=impact").content.decode()


def test_refused_editor_form_stays_open_with_the_reason(responder_client):
    incident = declare_incident()
    response = responder_client.post(url("impact_update", incident), {"title": "", "business_impact": "kept"})
    body = response.content.decode()
    assert response.status_code == 422
    assert escape(errors.TITLE_REQUIRED) in body
    assert "kept" in body


def test_cached_dashboard_shows_a_change_at_once(responder_client):
    incident = declare_incident(severity="SEV2", title="Queue backlog")
    # Frozen clock: the two reads fall in the same minute.
    with time_machine.travel(datetime.now(UTC), tick=False):
        assert "Investigating" in responder_client.get("/").content.decode()
        # A second read within the minute gets the cached page: no incident is read, not even
        # a version (the versions are in the cache; the session may come from the database).
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as queries:
            responder_client.get("/")
        # Only which restricted incidents this reader may see (the page is kept under it).
        read = [q["sql"] for q in queries.captured_queries if 'FROM "incidents_' in q["sql"]]
        assert len(read) == 1 and read[0].startswith('SELECT "incidents_incident"."id" AS "pk"')
        assert '"incidents_incident"."restricted")' in read[0]
        services.incident_status_change(incident=incident, status=IncidentStatus.MONITORING, actor=incident.lead)
        body = responder_client.get("/", **HTMX).content.decode()
    assert 'status-monitoring">Monitoring' in body


def test_cached_timeline_rows_carry_each_readers_own_csrf_token_and_fresh_stars(client, responder):
    """The rendered timeline rows are shared between readers through the cache; the star forms in
    them must still post with the reader's own CSRF token, and a star shows at once."""
    from django.test import Client

    incident = declare_incident()
    event = incident.timeline.get()
    other = Client()
    other.force_login(UserFactory(role="responder"))
    client.force_login(responder)
    tokens = []
    for reader in (client, other):
        response = reader.get(url("detail", incident))
        body = response.content.decode()
        token = reader.cookies["csrftoken"].value
        assert "csrf-placeholder" not in body
        star_form = body[body.index(f'<li id="event-{event.pk}"') :]
        star_form = star_form[: star_form.index("</li>")]
        marker = 'name="csrfmiddlewaretoken" value="'
        tokens.append(star_form[star_form.index(marker) + len(marker) :].split('"')[0])
        assert tokens[-1], "the star form has a token"
        assert token
    assert tokens[0] != tokens[1]
    services.timeline_event_star(event=event, starred=True)
    body = client.get(url("detail", incident)).content.decode()
    row = body[body.index(f'<li id="event-{event.pk}"') :]
    assert row[: row.index(">")].count("starred") == 1


def test_a_viewer_who_tries_to_declare_is_told_which_role_it_takes(viewer_client):
    response = viewer_client.get(url("declare"))
    assert response.status_code == 403
    assert escape(errors.NOT_PERMITTED) in response.content.decode()


def test_events_of_an_earlier_day_show_their_day(responder_client):
    with time_machine.travel(datetime(2026, 3, 2, 22, 30, tzinfo=UTC), tick=False):
        incident = declare_incident()
    with time_machine.travel(datetime(2026, 3, 4, 9, 0, tzinfo=UTC), tick=False):
        services.incident_note_add(incident=incident, author=incident.lead, text="the next morning")
        body = responder_client.get(url("detail", incident)).content.decode()
    # Declared two days earlier: with its day; the note of today: the clock alone.
    assert ">Mon 2 Mar 22:30</time>" in body
    assert ">09:00</time>" in body


def test_an_update_posted_after_someone_resolved_the_incident_is_refused_and_kept(responder_client, responder):
    incident = declare_incident(declared_by=responder)
    services.incident_status_change(incident=incident, status="resolved", actor=responder)
    data = {"progress": "Error rate back to baseline in all EU regions", "status": "investigating"}
    response = responder_client.post(url("update_post", incident), {**data, "visibility": "internal"})
    body = response.content.decode()
    assert escape(errors.UPDATE_WOULD_REOPEN.format(reference=incident.reference)) in body
    assert "Error rate back to baseline in all EU regions" in body  # nothing typed is lost
    incident.refresh_from_db()
    assert incident.status == "resolved"


# --- forms sent from a page that missed someone else's change --------------------------------


def seen_in(body: str, action: str) -> str:
    """The `seen` presets (JSON) of the form on `body` that posts to `action`, as a browser sends it."""
    form = body[body.index(f'action="{action}"') :]
    form = form[: form.index("</form>")]
    match = re.search(r'name="seen" value="([^"]+)"', form)
    assert match, f"no seen field in the form posting to {action}"
    return html.unescape(match.group(1))


def test_an_update_from_a_page_that_missed_a_status_change_is_refused_and_kept(responder_client, responder):
    incident = declare_incident(declared_by=responder)
    page = responder_client.get(url("detail", incident)).content.decode()
    colleague = UserFactory(role="responder", first_name="Bob", last_name="Lee")
    services.incident_status_change(incident=incident, status="identified", actor=colleague)

    # The form still says Investigating, as its page did; posting it would move the status back.
    data = {"progress": "Rolled back the 14:02 deploy", "status": "investigating", "visibility": "internal"}
    action = url("update_post", incident)
    response = responder_client.post(action, {**data, "seen": seen_in(page, action)}, **HTMX)
    body = response.content.decode()
    assert response.status_code == 422
    assert "While you had this page open, Bob Lee made a change just now" in body
    assert escape("“Status changed from Investigating to Identified”") in body
    assert "Rolled back the 14:02 deploy" in body  # nothing typed is lost
    # Its status, left at the page's preset, now presets the status the incident has.
    assert re.search(r'<option value="identified" selected>', body[body.index('id="update-form"') :])
    incident.refresh_from_db()
    assert incident.status == "identified"
    assert not incident.status_updates.exists()

    # Sent again from the form as it came back, it is taken: its page now showed the change.
    response = responder_client.post(action, {**data, "status": "identified", "seen": seen_in(body, action)}, **HTMX)
    assert response.status_code == 200
    assert incident.status_updates.get().progress == "Rolled back the 14:02 deploy"


def test_an_update_whose_status_was_chosen_keeps_it_when_refused(responder_client, responder):
    incident = declare_incident(declared_by=responder)
    page = responder_client.get(url("detail", incident)).content.decode()
    services.incident_status_change(incident=incident, status="identified", actor=UserFactory(role="responder"))
    action = url("update_post", incident)
    data = {"progress": "Fix deployed", "status": "monitoring", "visibility": "internal", "seen": seen_in(page, action)}
    body = responder_client.post(action, data).content.decode()
    assert re.search(r'<option value="monitoring" selected>', body[body.index('id="update-form"') :])


def test_a_severity_change_from_a_page_that_missed_another_is_refused(responder_client, responder):
    incident = declare_incident(declared_by=responder, severity="SEV2")
    page = responder_client.get(url("detail", incident)).content.decode()
    services.incident_severity_change(
        incident=incident, severity=SeverityPolicy.objects.get(key="SEV1"), actor=UserFactory(role="responder")
    )
    action = url("severity_change", incident)
    sev3 = SeverityPolicy.objects.get(key="SEV3")
    response = responder_client.post(action, {"severity": sev3.pk, "reason": "", "seen": seen_in(page, action)})
    assert response.status_code == 422
    assert escape("“Raised severity from SEV2 to SEV1”") in response.content.decode()
    incident.refresh_from_db()
    assert incident.severity.key == "SEV1"


def test_roles_saved_from_an_editor_that_missed_a_new_responder_are_refused(responder_client, responder):
    incident = declare_incident(declared_by=responder)
    editor = responder_client.get(url("detail", incident) + "?edit=roles", **HTMX).content.decode()
    newcomer = UserFactory(role="responder", first_name="Ana", last_name="Ruiz")
    services.incident_roles_assign(incident=incident, actor=newcomer, responders=[newcomer])

    action = url("roles_assign", incident)
    response = responder_client.post(
        action, {"lead": responder.pk, "comms_lead": "", "responders": [], "seen": seen_in(editor, action)}
    )
    assert response.status_code == 422
    assert "made a change" in response.content.decode()
    assert list(incident.responders.all()) == [newcomer]  # not dropped by a form that never showed her


def test_a_refused_form_shows_the_new_values_where_the_reader_changed_nothing(responder_client, responder):
    first, second = UserFactory(role="responder"), UserFactory(role="responder")
    incident = declare_incident(declared_by=responder, comms_lead=first)
    editor = responder_client.get(url("detail", incident) + "?edit=roles", **HTMX).content.decode()
    services.incident_roles_assign(incident=incident, actor=second, comms_lead=second)

    # The reader adds a responder; the comms lead field they left alone still says `first`.
    action = url("roles_assign", incident)
    sent = {"lead": responder.pk, "comms_lead": first.pk, "responders": [first.pk], "seen": seen_in(editor, action)}
    refused = responder_client.post(action, sent, **HTMX).content.decode()
    assert re.search(rf'<option value="{second.pk}" selected>', refused[refused.index('name="comms_lead"') :])
    responders = refused[refused.index('name="responders"') :]
    assert re.search(rf'<option value="{first.pk}" selected>', responders[: responders.index("</select>")])

    # Sent again as it came back: the reader's responder is added and the other change stays.
    resent = {"lead": responder.pk, "comms_lead": second.pk, "responders": [first.pk], "seen": seen_in(refused, action)}
    assert responder_client.post(action, resent, **HTMX).status_code == 200
    incident.refresh_from_db()
    assert incident.comms_lead == second
    assert list(incident.responders.all()) == [first]


def test_a_refused_severity_change_keeps_its_reason(responder_client, responder):
    incident = declare_incident(declared_by=responder, severity="SEV2")
    page = responder_client.get(url("detail", incident)).content.decode()
    services.incident_severity_change(
        incident=incident, severity=SeverityPolicy.objects.get(key="SEV1"), actor=UserFactory(role="responder")
    )
    action = url("severity_change", incident)
    sev3 = SeverityPolicy.objects.get(key="SEV3")
    sent = {"severity": sev3.pk, "reason": "Customers recovering", "seen": seen_in(page, action)}
    body = responder_client.post(action, sent).content.decode()
    assert 'value="Customers recovering"' in body


def test_a_refused_snooze_names_the_other_push_in_the_readers_zone(responder_client, responder):
    with time_machine.travel(T0, tick=False):
        incident = declare_incident(declared_by=responder, severity="SEV2")  # due 14:30 UTC
        responder_client.cookies["tz"] = "Europe/Berlin"
        editor = responder_client.get(url("detail", incident) + "?edit=snooze", **HTMX).content.decode()
        services.incident_update_snooze(incident=incident, actor=responder, minutes=10, reason="Vendor call")
        action = url("update_snooze", incident)
        sent = {"minutes": "5", "reason": "Waiting on logs", "seen": seen_in(editor, action)}
        body = responder_client.post(action, sent).content.decode()
    assert escape("“Next update pushed by 10 min to 15:40”") in body  # 14:40 UTC


def test_a_change_elsewhere_on_the_incident_does_not_hold_up_a_form(responder_client, responder):
    incident = declare_incident(declared_by=responder)
    page = responder_client.get(url("detail", incident)).content.decode()
    services.incident_note_add(incident=incident, author=responder, text="Paged the database team")
    services.incident_update_post(incident=incident, author=responder, progress="Still looking")

    action = url("status_change", incident)
    response = responder_client.post(action, {"status": "identified", "seen": seen_in(page, action)})
    assert response.status_code == 302
    incident.refresh_from_db()
    assert incident.status == "identified"


def test_a_pushed_update_shows_its_new_due_time_in_the_viewers_zone(responder_client, responder):
    with time_machine.travel(T0, tick=False):
        incident = declare_incident(declared_by=responder, severity="SEV2")
        services.incident_update_snooze(incident=incident, actor=responder, minutes=20, reason="Vendor call at 15:00")
        responder_client.cookies["tz"] = "Asia/Tokyo"
        body = responder_client.get(url("detail", incident)).content.decode()
    # Due 14:30 UTC, pushed to 14:50 UTC: 23:50 in Tokyo.
    row = body[body.index('class="event event-update_snoozed') :]
    row = row[: row.index("</li>")]
    assert "Next update pushed by 20 min to" in row
    assert ">23:50</time>" in row
    assert "UTC" not in row
