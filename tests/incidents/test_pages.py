"""The dashboard and the incident page are served from the page cache (incidents.pages). What a
reader gets from it must be exactly what the page renders for them from the database, and a write
through any app's services must show on the very next read."""

import re
from datetime import UTC, datetime
from unittest import mock

import pytest
import time_machine
from django.contrib import messages
from django.contrib.messages.storage.base import Message
from django.contrib.messages.storage.cookie import CookieStorage
from django.core.cache import cache
from django.db import connection
from django.http import HttpResponse
from django.middleware.csrf import _unmask_cipher_token
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext

from incidents import pages, services
from incidents.models import IncidentStatus
from postmortems import services as postmortem_services
from runbooks import services as runbook_services
from statuspage import services as statuspage_services
from statuspage.models import Component, ComponentStatus
from tests.factories import ServiceFactory, UserFactory, declare_incident
from tests.runbooks.conftest import make_runbook

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
# Mid-minute, and frozen: every read of a test falls in the same minute of the page cache's key.
NOW = datetime(2026, 3, 2, 14, 0, 30, tzinfo=UTC)
TOKEN = re.compile(r'(csrfmiddlewaretoken" value="|"X-CSRFToken": ")([A-Za-z0-9]{64})')
# What only a responder's page holds.
RESPONDER_FORMS = [
    'id="update-form"',
    "Change severity",
    'class="star"',
    "Add note",
    "Record this step",
    "Find a runbook to attach",
    "Set component status",
]


def unmasked(html: str) -> str:
    """Every rendering masks the reader's CSRF secret afresh; the secret is what must match."""
    return TOKEN.sub(lambda match: match[1] + _unmask_cipher_token(match[2]), html)


def uncached(client: Client, path: str, **headers) -> str:
    """The page as the view renders it from the database, the cache left out."""
    with mock.patch.object(pages, "versions_get", return_value=None):
        response = client.get(path, **headers)
    assert response.status_code == 200
    return response.content.decode()


def reader(user, zone: str) -> Client:
    client = Client()
    client.force_login(user)
    client.cookies["tz"] = zone
    return client


# Every request reads its session (from the database when no Redis is configured) and its user
# with the user's role (Django's ModelBackend); a cached page reads nothing else.
WHO_IS_ASKING = ("django_session", '"auth_user"', '"auth_permission"')


def _visibility_check(sql: str) -> bool:
    """Which restricted incidents the reader may see (incidents.selectors.visible_incidents): the
    ids or the existence of visible incidents, never their content."""
    return sql.startswith(('SELECT 1 AS "a" FROM "incidents_incident"', 'SELECT "incidents_incident"."id"')) and (
        '"incidents_incident"."restricted"' in sql.split("WHERE", 1)[-1]
    )


def app_queries(queries: CaptureQueriesContext) -> list[str]:
    """What a request read besides who is asking (and one visibility check)."""
    checks = [query["sql"] for query in queries.captured_queries if _visibility_check(query["sql"])]
    assert len(checks) <= 1, checks
    return [
        query["sql"]
        for query in queries.captured_queries
        if not any(table in query["sql"] for table in WHO_IS_ASKING) and not _visibility_check(query["sql"])
    ]


@pytest.fixture
def scene(db):
    """An incident with everything its pages show from other apps: a postmortem with an action
    item, an attached runbook, a status page component."""
    service = ServiceFactory(name="Checkout", slug="checkout")
    Component.objects.create(name="Checkout", service=service)
    lead = UserFactory(role="responder", first_name="Lena", last_name="Lead")
    incident = declare_incident(declared_by=lead, title="Checkout API returns 500s", affected_services=[service])
    services.incident_note_add(incident=incident, author=lead, text="Rolled back the deploy")
    postmortem = postmortem_services.postmortem_start(incident=incident, actor=lead)
    responder = UserFactory(role="responder", first_name="Rita", last_name="O'Responder <3")
    postmortem_services.action_item_add(postmortem=postmortem, actor=lead, title="Alert on 500s", owner=responder)
    run = runbook_services.runbook_attach(runbook=make_runbook(), incident=incident, actor=lead)
    return {
        "incident": incident,
        "postmortem": postmortem,
        "run": run,
        "lead": lead,
        "responder": responder,
        "viewer": UserFactory(role="viewer", first_name="Vic", last_name="Viewer"),
        "staff": UserFactory(role="responder", is_staff=True),
    }


def _paths(incident) -> list[tuple[str, dict]]:
    page = incident.get_absolute_url()
    return [
        ("/", {}),
        ("/?severity=SEV2&status=investigating", {}),
        ("/", HTMX),
        (page, {}),
        (page + "?kind=note", {}),
        (page + "?edit=impact", {}),
        (page, {**HTMX, "HTTP_HX_TARGET": "timeline"}),
        (page, {**HTMX, "HTTP_HX_TARGET": "incident-live"}),
        (page + "?edit=snooze", {**HTMX, "HTTP_HX_TARGET": "snooze-editor"}),
    ]


@pytest.mark.slow
def test_a_cached_page_is_byte_for_byte_what_each_reader_would_get_uncached(scene):
    """Readers of different roles, time zones and names, and the lead with the snooze control,
    each get from the cache what the view renders for them alone, on both pages and their
    fragments; the cached read touches no table but the session's and the reader's."""
    readers = [
        (scene["lead"], "Europe/Berlin"),
        (scene["responder"], "America/New_York"),
        (scene["viewer"], "Asia/Kolkata"),
        (scene["staff"], "UTC"),
        (scene["viewer"], "UTC"),
    ]
    with time_machine.travel(NOW, tick=False):
        for path, headers in _paths(scene["incident"]):
            for user, zone in readers:
                client = reader(user, zone)
                first = client.get(path, **headers).content.decode()
                with CaptureQueriesContext(connection) as queries:
                    second = client.get(path, **headers).content.decode()
                assert app_queries(queries) == [], (path, user.username)
                expected = unmasked(uncached(client, path, **headers))
                assert unmasked(first) == expected, (path, user.username, zone)
                assert unmasked(second) == expected, (path, user.username, zone)
                assert "<!--reader:" not in second


def test_each_reader_gets_their_own_name_token_and_action_items(scene):
    with time_machine.travel(NOW, tick=False):
        responder, viewer = reader(scene["responder"], "UTC"), reader(scene["viewer"], "UTC")
        responder.get("/")
        mine = responder.get("/").content.decode()
        theirs = viewer.get("/").content.decode()
    assert "Rita O&#x27;Responder &lt;3" in mine
    assert "Alert on 500s" in mine
    assert "Rita" not in theirs
    assert "Alert on 500s" not in theirs
    assert "No open action items assigned to you." in theirs
    secret = {_unmask_cipher_token(token) for _prefix, token in TOKEN.findall(mine)}
    assert secret == {responder.cookies["csrftoken"].value}


def test_a_cached_pages_csrf_token_is_new_each_time_and_accepted_by_its_forms(scene):
    """The token is masked afresh on every serve (a compressed page must not repeat it, BREACH),
    and a form on the cached page posts with it."""
    page = scene["incident"].get_absolute_url()
    client = Client(enforce_csrf_checks=True)
    client.force_login(scene["responder"])
    client.get(page)  # Django sets the CSRF cookie
    with time_machine.travel(NOW, tick=False):
        served = [client.get(page).content.decode() for _ in range(3)]
    tokens = [dict(TOKEN.findall(html))['csrfmiddlewaretoken" value="'] for html in served]
    assert len(set(tokens)) == 3
    response = client.post(f"{page}notes/", {"text": "Posted from a cached page", "csrfmiddlewaretoken": tokens[-1]})
    assert response.status_code == 302
    assert "Posted from a cached page" in client.get(page).content.decode()
    forged = client.post(f"{page}notes/", {"text": "Forged", "csrfmiddlewaretoken": tokens[-1][::-1]})
    assert forged.status_code == 403


def test_a_service_renamed_in_the_admin_shows_on_the_next_read(scene, django_user_model):
    page = scene["incident"].get_absolute_url()
    client = reader(scene["responder"], "UTC")
    admin_user = django_user_model.objects.create_superuser("root", "root@example.com", "secret-words-42")
    staff = Client()
    staff.force_login(admin_user)
    service = scene["incident"].affected_services.get()
    with time_machine.travel(NOW, tick=False):
        assert "Payments API" not in client.get(page).content.decode()
        form = {"name": "Payments API", "slug": service.slug, "owner_team": service.owner_team_id, "description": ""}
        assert staff.post(f"/admin/incidents/service/{service.pk}/change/", form).status_code == 302
        assert "Payments API" in client.get(page).content.decode()


def test_a_viewer_never_gets_the_responders_forms_from_the_cache(scene):
    page = scene["incident"].get_absolute_url()
    with time_machine.travel(NOW, tick=False):
        for path in (page, page + "?edit=impact", page + "?edit=roles"):
            lead = reader(scene["lead"], "UTC").get(path).content.decode()
            assert all(form in lead for form in RESPONDER_FORMS), path
            body = reader(scene["viewer"], "UTC").get(path).content.decode()
            assert [form for form in RESPONDER_FORMS if form in body] == [], path
            assert 'name="csrfmiddlewaretoken"' in body  # the log-out form only
            assert body.count('name="csrfmiddlewaretoken"') == 1


def test_only_the_lead_gets_the_snooze_control_whoever_read_first(scene):
    page = scene["incident"].get_absolute_url()
    with time_machine.travel(NOW, tick=False):
        for order in ((scene["responder"], scene["lead"]), (scene["lead"], scene["responder"])):
            cache.clear()
            pages.forget_local()
            bodies = {user.pk: reader(user, "UTC").get(page).content.decode() for user in order}
            assert "Push the next update" in bodies[scene["lead"].pk]
            assert "Push the next update" not in bodies[scene["responder"].pk]


def _warm(client: Client, path: str) -> None:
    client.get(path)
    with CaptureQueriesContext(connection) as queries:
        client.get(path)
    assert app_queries(queries) == [], "the page came from the cache"


def test_every_apps_write_shows_on_the_very_next_read(scene):
    incident, run = scene["incident"], scene["run"]
    page = incident.get_absolute_url()
    lead = scene["lead"]
    client = reader(scene["responder"], "UTC")
    viewer = reader(scene["viewer"], "UTC")
    with time_machine.travel(NOW, tick=False):
        # Incidents: a status change, on both pages.
        for path in ("/", page):
            _warm(client, path)
        services.incident_status_change(incident=incident, status=IncidentStatus.MONITORING, actor=lead)
        for path in ("/", page):
            assert 'status-monitoring">Monitoring' in client.get(path).content.decode(), path

        # Incidents: a star, which writes no event.
        event = incident.timeline.filter(text="Rolled back the deploy").get()
        _warm(viewer, page)
        services.timeline_event_star(event=event, starred=True)
        assert f'<li id="event-{event.pk}" class="event event-note starred' in viewer.get(page).content.decode()

        # Postmortems: my action items on the dashboard, the postmortem panel on the incident page.
        _warm(client, "/")
        item = postmortem_services.action_item_add(
            postmortem=scene["postmortem"], actor=lead, title="Load-test checkout", owner=scene["responder"]
        )
        assert "Load-test checkout" in client.get("/").content.decode()
        _warm(client, "/")
        postmortem_services.action_item_update(item=item, actor=lead, title="Load-test checkout weekly")
        assert "Load-test checkout weekly" in client.get("/").content.decode()
        _warm(client, page)
        postmortem_services.postmortem_not_required(postmortem=scene["postmortem"], actor=lead, reason="Drill")
        assert "Not required" in client.get(page).content.decode()

        # Runbooks: a step recorded, and the runbook itself edited (no incident event).
        _warm(client, page)
        step = run.steps.order_by("position").first()
        runbook_services.run_step_record(run_step=step, outcome="done", actor=lead)
        assert "1 of 3 steps recorded" in client.get(page).content.decode()
        _warm(client, page)
        data = runbook_services.runbook_to_data(run.runbook)
        data.title = "Checkout 500s playbook"
        runbook_services.runbook_update(runbook=run.runbook, data=data, actor=lead)
        assert "Checkout 500s playbook" in client.get(page).content.decode()

        # The status page: a responder sets the component's status.
        _warm(client, page)
        statuspage_services.component_status_set(
            component=Component.objects.get(name="Checkout"), status=ComponentStatus.MAJOR_OUTAGE, actor=lead
        )
        assert ComponentStatus.MAJOR_OUTAGE.label in client.get(page).content.decode()


def _flash(client: Client, text: str) -> None:
    """A message waiting for the reader's next page, as a redirect after a form leaves it."""
    response = HttpResponse()
    CookieStorage(RequestFactory().get("/"))._store([Message(messages.SUCCESS, text)], response)
    client.cookies["messages"] = response.cookies["messages"].value


def test_a_page_with_a_flash_message_is_neither_served_from_nor_stored_in_the_cache(scene):
    page = scene["incident"].get_absolute_url()
    client, other = reader(scene["responder"], "UTC"), reader(scene["responder"], "UTC")
    with time_machine.travel(NOW, tick=False):
        for path in ("/", page):
            _warm(client, path)
            _flash(client, "Status update posted.")
            assert "Status update posted." in client.get(path).content.decode()
            assert "Status update posted." not in client.get(path).content.decode()
            assert "Status update posted." not in other.get(path).content.decode()


def test_pages_render_from_the_database_when_the_cache_is_down(scene):
    page = scene["incident"].get_absolute_url()
    client = reader(scene["responder"], "UTC")
    with time_machine.travel(NOW, tick=False):
        expected = {path: unmasked(uncached(client, path)) for path in ("/", page)}
        with mock.patch.object(cache, "get_many", side_effect=ConnectionError("cache down")):
            for path in ("/", page):
                response = client.get(path)
                assert response.status_code == 200
                assert unmasked(response.content.decode()) == expected[path]


def test_only_the_parameters_a_page_understands_make_its_cache_key(scene):
    """?x=<random>, a repeated or reordered filter and a made-up severity mint no new cache
    entries: the cache stays bounded however the pages are asked for."""
    page = scene["incident"].get_absolute_url()
    client = reader(scene["responder"], "UTC")
    with time_machine.travel(NOW, tick=False):
        for path, same in (
            ("/?severity=SEV2&status=investigating", "/?status=investigating&severity=SEV2&severity=SEV2&x=1"),
            (page + "?kind=note", page + "?kind=note&kind=made-up&x=2&edit=nothing"),
        ):
            client.get(path)
            cached = set(cache._cache)  # the per-process cache of the tests' settings
            with CaptureQueriesContext(connection) as queries:
                body = client.get(same).content.decode()
            assert app_queries(queries) == [], same
            assert unmasked(body) == unmasked(uncached(client, path)), same
            assert set(cache._cache) == cached
        entries = len(cache._cache)
        for made_up in ("x1", "x2", "x3"):
            assert client.get(f"/?severity={made_up}").status_code == 200
        assert len(cache._cache) == entries


def test_with_the_page_cache_off_every_read_renders_from_the_database_and_keeps_nothing(scene, settings):
    """PAGE_CACHE off is how bench.load measures cold pages: it must be what a reader gets uncached,
    every time, and leave nothing in the cache."""
    settings.PAGE_CACHE = False
    page = scene["incident"].get_absolute_url()
    client = reader(scene["responder"], "UTC")
    with time_machine.travel(NOW, tick=False), mock.patch.object(cache, "set", wraps=cache.set) as stored:
        for path in ("/", page):
            expected = unmasked(uncached(client, path))
            for _ in range(2):
                with CaptureQueriesContext(connection) as queries:
                    response = client.get(path)
                read = [query["sql"] for query in queries.captured_queries]
                assert any('"incidents_incident"."title"' in sql for sql in read), "rendered from the database"
                assert unmasked(response.content.decode()) == expected
    kept = [call.args[0] for call in stored.call_args_list]
    assert not [key for key in kept if key.startswith(("page:", "slot:", "timeline-rows:"))], kept
