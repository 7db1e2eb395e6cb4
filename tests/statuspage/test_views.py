import gzip
import json
from datetime import timedelta
from xml.etree import ElementTree

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from incidents import services as incident_services
from incidents.models import IncidentStatus, UpdateVisibility
from statuspage import errors, services
from statuspage.models import ComponentStatus, StatusPageSettings, Subscriber
from tests import factories

pytestmark = pytest.mark.django_db

PUBLIC_URLS = ["/status/", "/status.json", "/status/feed.atom"]
SECRETS = [
    "INTERNAL-UPDATE-7f3a",
    "PRIVATE-NOTE-91bc",
    "SECRET-SUMMARY-55de",
    "BUSINESS-IMPACT-c0de",
    "SEV3-TITLE-b00b",
    "INTERNAL-TITLE-ip-10-2-3-4",
    "INC-",
]


@pytest.fixture
def story(components, catalog):
    """A public incident with every kind of text, and a non-public one; unique strings planted in
    everything that must never reach the public."""
    incident = factories.declare_incident(
        severity="SEV1",
        title="INTERNAL-TITLE-ip-10-2-3-4",
        public_title="Payments are failing",
        summary="SECRET-SUMMARY-55de",
        business_impact="BUSINESS-IMPACT-c0de",
        affected_services=[catalog["api"]],
    )
    incident_services.incident_update_post(
        incident=incident, author=incident.lead, progress="PUBLIC-UPDATE-1d2e", visibility=UpdateVisibility.PUBLIC
    )
    incident_services.incident_update_post(
        incident=incident, author=incident.lead, progress="INTERNAL-UPDATE-7f3a", visibility=UpdateVisibility.INTERNAL
    )
    incident_services.incident_note_add(incident=incident, author=incident.lead, text="PRIVATE-NOTE-91bc")
    hidden = factories.declare_incident(severity="SEV3", title="SEV3-TITLE-b00b", affected_services=[catalog["search"]])
    incident_services.incident_update_post(
        incident=hidden, author=hidden.lead, progress="SEV3-TITLE-b00b public words", visibility=UpdateVisibility.PUBLIC
    )
    return incident


@pytest.mark.parametrize("url", PUBLIC_URLS)
@pytest.mark.parametrize("resolved", [False, True])
def test_internal_updates_notes_and_private_incidents_never_leak(client, story, url, resolved):
    if resolved:
        incident_services.incident_status_change(incident=story, status=IncidentStatus.RESOLVED, actor=story.lead)
    response = client.get(url)
    assert response.status_code == 200
    text = response.content.decode()
    assert "Payments are failing" in text
    assert "PUBLIC-UPDATE-1d2e" in text
    for secret in SECRETS:
        assert secret not in text


def test_htmx_fragment_does_not_leak_either(client, story):
    response = client.get("/status/", headers={"HX-Request": "true"})
    text = response.content.decode()
    assert text.lstrip().startswith('<div id="status-body"')
    assert "PUBLIC-UPDATE-1d2e" in text
    for secret in SECRETS:
        assert secret not in text


def test_page_shows_components_by_group_with_their_status(client, story, components):
    response = client.get("/status/")
    text = response.content.decode()
    assert "Major outage" in text
    assert 'data-component="Api" data-status="major_outage"' in text
    assert 'data-component="Checkout" data-status="operational"' in text
    assert "Customer-facing" in text
    assert text.count("<i></i>") + text.count('<i class="sp-') == 90 * len(components)


def test_page_needs_no_login_no_session_and_sets_no_cookie(client, story):
    response = client.get("/status/")
    assert response.status_code == 200
    assert not response.cookies
    assert "Cookie" not in response.get("Vary", "")
    assert response["Cache-Control"] == "public, max-age=15"


@pytest.mark.parametrize("url", PUBLIC_URLS)
def test_conditional_get_answers_304_until_something_changes(client, story, url, django_capture_on_commit_callbacks):
    first = client.get(url)
    etag, last_modified = first["ETag"], first["Last-Modified"]
    assert client.get(url, headers={"If-None-Match": etag}).status_code == 304
    assert client.get(url, headers={"If-Modified-Since": last_modified}).status_code == 304

    with django_capture_on_commit_callbacks(execute=True):
        incident_services.incident_update_post(
            incident=story, author=story.lead, progress="SECOND-PUBLIC-UPDATE", visibility=UpdateVisibility.PUBLIC
        )
    again = client.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 200
    assert "SECOND-PUBLIC-UPDATE" in again.content.decode()
    assert again["ETag"] != etag


def test_warm_page_runs_no_query(client, story, django_assert_num_queries):
    client.get("/status/")
    client.get("/status/", headers={"HX-Request": "true"})
    with django_assert_num_queries(0):
        assert client.get("/status/").status_code == 200
    with django_assert_num_queries(0):
        assert client.get("/status/", headers={"HX-Request": "true"}).status_code == 200


def _grow(catalog, count: int) -> None:
    for index in range(count):
        incident = factories.declare_incident(
            severity="SEV2", affected_services=[catalog["api"]], title=f"Outage {index}"
        )
        incident_services.incident_update_post(
            incident=incident, author=incident.lead, progress=f"Update {index}", visibility=UpdateVisibility.PUBLIC
        )
        if index % 2:
            incident_services.incident_status_change(
                incident=incident, status=IncidentStatus.RESOLVED, actor=incident.lead
            )


@pytest.mark.parametrize("url", PUBLIC_URLS)
def test_cold_render_query_count_stays_flat_as_incidents_grow(
    client, components, catalog, url, django_assert_max_num_queries
):
    _grow(catalog, 2)
    cache.clear()
    with django_assert_max_num_queries(12) as few:
        client.get(url)
    _grow(catalog, 12)
    cache.clear()
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get(url).status_code == 200


def test_json_summary(client, story):
    data = json.loads(client.get("/status.json").content)
    assert data["status"]["indicator"] == "major_outage"
    assert {c["name"]: c["status"] for c in data["components"]}["Api"] == "major_outage"
    [incident] = data["incidents"]
    assert incident["title"] == "Payments are failing"
    assert [u["text"] for u in incident["updates"]] == ["PUBLIC-UPDATE-1d2e"]
    assert incident["components"] == ["Api"]


def test_atom_feed_is_well_formed(client, story):
    response = client.get("/status/feed.atom")
    assert response["Content-Type"].startswith("application/atom+xml")
    root = ElementTree.fromstring(response.content)  # noqa: S314 - our own response
    ns = {"a": "http://www.w3.org/2005/Atom"}
    titles = [entry.find("a:title", ns).text for entry in root.findall("a:entry", ns)]
    assert titles == ["Payments are failing"]


def test_maintenance_shows_scheduled_then_in_progress(client, components, time_machine):
    start = timezone.now() + timedelta(days=4)
    services.maintenance_window_schedule(
        title="Database failover drill",
        starts_at=start,
        ends_at=start + timedelta(hours=1),
        components=[components["api"]],
    )
    text = client.get("/status/").content.decode()
    assert "Database failover drill" in text and "Scheduled maintenance" in text
    time_machine.move_to(start + timedelta(minutes=5))
    cache.clear()
    text = client.get("/status/").content.decode()
    assert "Maintenance in progress: Database failover drill" in text
    assert 'data-component="Api" data-status="under_maintenance"' in text


# --- Subscribing through the pages ------------------------------------------------------------


def test_subscribe_confirm_and_unsubscribe_pages(client):
    assert client.get("/status/subscribe/").status_code == 200
    response = client.post("/status/subscribe/new/", {"email": "reader@example.com"})
    assert response.status_code == 302
    assert client.get(response["Location"]).content.decode().count(errors.SUBSCRIBE_SENT) == 1
    subscriber = Subscriber.objects.get()
    confirm_url = reverse("statuspage:confirm", kwargs={"token": subscriber.confirm_token})
    client.get(confirm_url)
    subscriber.refresh_from_db()
    assert not subscriber.is_confirmed, "a GET (a mail scanner) must not confirm"
    assert client.post(confirm_url).status_code == 302
    subscriber.refresh_from_db()
    assert subscriber.is_confirmed
    unsubscribe_url = reverse("statuspage:unsubscribe", kwargs={"token": subscriber.unsubscribe_token})
    assert client.post(unsubscribe_url).status_code == 302
    assert not Subscriber.objects.exists()
    response = client.post(unsubscribe_url)
    assert response.status_code == 404
    assert errors.INVALID_LINK in response.content.decode()


def test_subscribing_many_addresses_from_one_client_is_refused_past_the_limit(client, settings):
    settings.STATUS_SUBSCRIBE_PER_IP_PER_HOUR = 2
    for number in range(2):
        assert client.post("/status/subscribe/new/", {"email": f"a{number}@example.com"}).status_code == 302
    response = client.post("/status/subscribe/new/", {"email": "a2@example.com"})
    assert response.status_code == 429
    assert errors.TOO_MANY_SUBSCRIPTIONS in response.content.decode()
    assert Subscriber.objects.count() == 2
    # From another address the form still works.
    assert (
        Client(REMOTE_ADDR="198.51.100.9").post("/status/subscribe/new/", {"email": "a2@example.com"}).status_code
        == 302
    )


def test_subscribe_with_a_bad_address_shows_the_form_again(client):
    response = client.post("/status/subscribe/new/", {"email": "nope"})
    assert response.status_code == 422
    assert not Subscriber.objects.exists()


# --- Responders set component status ----------------------------------------------------------


def test_manage_page_needs_a_responder(viewer_client, components):
    assert Client().get("/status/manage/").status_code == 302
    assert viewer_client.get("/status/manage/").status_code == 403
    assert viewer_client.post(f"/status/manage/{components['api'].pk}/", {"status": "major_outage"}).status_code == 403


def test_responder_sets_component_status_plain_and_htmx(responder_client, components, client):
    page = responder_client.get("/status/manage/")
    assert page.status_code == 200 and "Checkout" in page.content.decode()
    response = responder_client.post(f"/status/manage/{components['api'].pk}/", {"status": "partial_outage"})
    assert response.status_code == 302
    components["api"].refresh_from_db()
    assert components["api"].status == ComponentStatus.PARTIAL_OUTAGE
    response = responder_client.post(
        f"/status/manage/{components['checkout'].pk}/",
        {"status": "degraded_performance"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    assert response.content.decode().lstrip().startswith('<div id="components"')
    assert 'data-status="degraded_performance"' in client.get("/status/").content.decode()
    refused = responder_client.post(
        f"/status/manage/{components['api'].pk}/", {"status": "on_fire"}, headers={"HX-Request": "true"}
    )
    assert refused.status_code == 422


def test_manage_page_queries_stay_flat(responder_client, components, catalog, django_assert_max_num_queries):
    responder_client.get("/status/manage/")
    with django_assert_max_num_queries(12) as few:
        responder_client.get("/status/manage/")
    from statuspage.models import Component

    for index in range(10):
        Component.objects.create(name=f"Extra {index}", service=catalog["api"])
    with django_assert_max_num_queries(len(few.captured_queries)):
        responder_client.get("/status/manage/")


def test_incident_page_side_slot_shows_the_components_it_moves(responder_client, story, django_assert_max_num_queries):
    response = responder_client.get(story.get_absolute_url())
    text = response.content.decode()
    assert 'id="status-page-slot"' in text
    assert "This incident shows as <strong>Major outage</strong>" in text
    assert "Set component status" in text  # a responder may


def test_a_viewer_is_not_offered_to_set_component_status(viewer_client, story):
    text = viewer_client.get(story.get_absolute_url()).content.decode()
    assert 'id="status-page-slot"' in text
    assert "Set component status" not in text


def test_gzip_representation_has_its_own_etag_and_the_same_content(client, story):
    plain = client.get("/status/")
    packed = client.get("/status/", headers={"Accept-Encoding": "gzip, br"})
    assert packed["Content-Encoding"] == "gzip"
    assert gzip.decompress(packed.content) == plain.content
    assert packed["ETag"] != plain["ETag"]
    assert "Accept-Encoding" in packed["Vary"]
    assert (
        client.get("/status/", headers={"Accept-Encoding": "gzip", "If-None-Match": packed["ETag"]}).status_code == 304
    )


def test_only_get_and_head_are_served(client, story):
    assert client.head("/status/").status_code == 200
    assert client.post("/status/").status_code in (403, 405)


def test_history_bars_show_the_worst_status_of_each_day(client, components, catalog, time_machine):
    time_machine.move_to(timezone.now() - timedelta(days=10))
    incident = factories.declare_incident(severity="SEV2", affected_services=[catalog["api"]], published=True)
    time_machine.move_to(timezone.now() + timedelta(hours=2))
    incident_services.incident_status_change(incident=incident, status=IncidentStatus.RESOLVED, actor=incident.lead)
    time_machine.move_to(timezone.now() + timedelta(days=10))
    cache.clear()
    text = client.get("/status/").content.decode()
    api = text.split('data-component="Api"')[1].split('data-component="Checkout"')[0]
    assert api.count('<i class="sp-partial_outage"') in (1, 2)  # the outage may cross midnight
    assert api.count("<i></i>") + api.count('<i class="sp-partial_outage"') == 90


def test_brand_colours_come_as_a_style_sheet_not_inline(client, django_capture_on_commit_callbacks):
    """The Content-Security-Policy allows no inline style: the page links its colours."""
    page = client.get("/status/").content.decode()
    assert '<link rel="stylesheet" href="/status/brand.css">' in page
    assert "<style" not in page
    css = client.get("/status/brand.css")
    assert css["Content-Type"] == "text/css; charset=utf-8"
    assert "--sp-brand: #1f4fd1" in css.content.decode()

    # What the admin's save does (StatusPageSettingsAdmin): the new colours show on the next read.
    StatusPageSettings.objects.filter(pk=1).update(brand_colour="#aa0000", text_colour="#000000")
    with django_capture_on_commit_callbacks(execute=True):
        services.status_page_configuration_changed()
    assert "--sp-brand: #aa0000; --sp-brand-text: #000000" in client.get("/status/brand.css").content.decode()
