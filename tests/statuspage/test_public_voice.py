"""The public voice (issue 17): an incident's internal title never reaches the public; nothing about
it does until it is published, and then only its public title, summary and public updates."""

import json
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from incidents import errors as incident_errors
from incidents import services as incident_services
from incidents.models import EventKind, IncidentStatus, SeverityPolicy, UpdateVisibility
from notifications.models import Channel, Delivery
from statuspage import services
from tests import factories

pytestmark = pytest.mark.django_db

INTERNAL_TITLE = "Internal: Okta SCIM sync job OOMKilled on node ip-10-2-3-4"
PUBLIC_URLS = ["/status/", "/status.json", "/status/feed.atom"]


def _public_texts(client) -> dict[str, str]:
    texts = {url: client.get(url).content.decode() for url in PUBLIC_URLS}
    texts["/status/#fragment"] = client.get("/status/", headers={"HX-Request": "true"}).content.decode()
    return texts


def test_internal_title_absent_until_a_public_update_then_only_the_public_words(
    client, components, catalog, django_capture_on_commit_callbacks
):
    incident = factories.declare_incident(
        severity="SEV2",
        title=INTERNAL_TITLE,
        summary="INTERNAL-SUMMARY-4471",
        affected_services=[catalog["checkout"]],
    )
    for url, text in _public_texts(client).items():
        assert "ip-10-2-3-4" not in text, url
        assert "INC-" not in text, url
    data = json.loads(client.get("/status.json").content)
    assert data["incidents"] == []
    assert data["status"]["indicator"] == "operational"
    assert {c["name"]: c["status"] for c in data["components"]}["Checkout"] == "operational"

    with django_capture_on_commit_callbacks(execute=True):
        incident_services.incident_impact_update(
            incident=incident, actor=incident.lead, public_title="Some payments are failing"
        )
        incident_services.incident_update_post(
            incident=incident,
            author=incident.lead,
            progress="INTERNAL-UPDATE-9e1f",
            visibility=UpdateVisibility.INTERNAL,
        )
    assert json.loads(client.get("/status.json").content)["incidents"] == []

    with django_capture_on_commit_callbacks(execute=True):
        incident_services.incident_update_post(
            incident=incident,
            author=incident.lead,
            progress="We are looking into failed payments.",
            visibility=UpdateVisibility.PUBLIC,
        )
    for url, text in _public_texts(client).items():
        assert "Some payments are failing" in text, url
        assert "We are looking into failed payments." in text, url
        for secret in ("ip-10-2-3-4", "INTERNAL-SUMMARY-4471", "INTERNAL-UPDATE-9e1f", "INC-"):
            assert secret not in text, (url, secret)
    [shown] = json.loads(client.get("/status.json").content)["incidents"]
    assert shown["title"] == "Some payments are failing"
    assert [update["text"] for update in shown["updates"]] == ["We are looking into failed payments."]
    assert not shown["id"].startswith("INC-")
    assert shown["components"] == ["Checkout"]


def test_publishing_without_a_title_shows_a_neutral_one_from_the_components(client, components, catalog):
    incident = factories.declare_incident(
        severity="SEV2", title=INTERNAL_TITLE, affected_services=[catalog["checkout"]]
    )
    incident_services.incident_publish(incident=incident, actor=incident.lead)
    [shown] = json.loads(client.get("/status.json").content)["incidents"]
    assert shown["title"] == "Partial outage — Checkout"
    assert "ip-10-2-3-4" not in client.get("/status/").content.decode()
    assert incident.timeline.filter(kind=EventKind.PUBLISHED).count() == 1


def test_a_severity_that_publishes_automatically_uses_a_neutral_title(client, components, catalog):
    SeverityPolicy.objects.filter(key="SEV1").update(publish_automatically=True)
    factories.declare_incident(severity="SEV1", title=INTERNAL_TITLE, affected_services=[catalog["checkout"]])
    text = client.get("/status/").content.decode()
    assert "Major outage — Checkout" in text
    assert "ip-10-2-3-4" not in text
    assert 'data-component="Checkout" data-status="major_outage"' in text


def test_only_the_lead_or_comms_lead_publishes(components, catalog):
    comms = factories.UserFactory(role="responder")
    other = factories.UserFactory(role="responder")
    incident = factories.declare_incident(severity="SEV2", title=INTERNAL_TITLE, comms_lead=comms)
    with pytest.raises(incident_services.ValidationError) as refused:
        incident_services.incident_publish(incident=incident, actor=other)
    assert refused.value.message_dict["__all__"] == [incident_errors.PUBLISH_LEAD_ONLY]
    incident_services.incident_publish(incident=incident, actor=comms, public_title="Login is slow")
    incident.refresh_from_db()
    assert incident.is_published and incident.public_title == "Login is slow"


def test_subscribers_hear_nothing_until_published_then_the_public_name(components, catalog):
    subscriber = services.subscriber_subscribe(email="reader@example.com")
    services.subscriber_confirm(token=subscriber.confirm_token)
    incident = factories.declare_incident(
        severity="SEV1", title=INTERNAL_TITLE, affected_services=[catalog["checkout"]]
    )
    assert _mails_to("reader@example.com") == []
    incident_services.incident_publish(incident=incident, actor=incident.lead, public_title="Checkout is down")
    incident_services.incident_update_post(
        incident=incident,
        author=incident.lead,
        progress="Payments fail at checkout.",
        visibility=UpdateVisibility.PUBLIC,
    )
    mails = _mails_to("reader@example.com")
    assert [mail.subject for mail in mails] == [
        "[Status] Investigating: Checkout is down",
        "[Status] Investigating: Checkout is down",
    ]
    for mail in mails:
        assert "ip-10-2-3-4" not in mail.subject + mail.body_text
        assert "INC-" not in mail.subject + mail.body_text


def _mails_to(address: str) -> list:
    """Subscriber notices, without the confirmation link."""
    deliveries = Delivery.objects.filter(channel=Channel.EMAIL, target=address).select_related("message")
    return [d.message for d in deliveries.order_by("id") if d.message.subject.startswith("[Status] ")]


# The incident page and the declare form.


@pytest.mark.parametrize("htmx", [False, True])
def test_the_lead_sees_not_yet_on_the_status_page_and_publishes_in_one_click(
    client, components, catalog, htmx, django_capture_on_commit_callbacks
):
    incident = factories.declare_incident(
        severity="SEV2", title=INTERNAL_TITLE, affected_services=[catalog["checkout"]]
    )
    client.force_login(incident.lead)
    page = client.get(incident.get_absolute_url()).content.decode()
    assert "Not yet on the status page" in page
    assert "Partial outage — Checkout" in page
    assert f'action="/incidents/{incident.reference}/publish/"' in page

    headers = {"HX-Request": "true", "HX-Target": "incident-body"} if htmx else {}
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/incidents/{incident.reference}/publish/", {"public_title": "Checkout is slow"}, headers=headers
        )
    assert response.status_code == (200 if htmx else 302)
    incident.refresh_from_db()
    assert incident.is_published
    assert "Not yet on the status page" not in client.get(incident.get_absolute_url()).content.decode()
    status = client.get("/status/").content.decode()
    assert "Checkout is slow" in status and "ip-10-2-3-4" not in status


def test_a_responder_who_is_not_lead_or_comms_lead_gets_no_publish_button(client, components, catalog):
    incident = factories.declare_incident(severity="SEV2", title=INTERNAL_TITLE)
    client.force_login(factories.UserFactory(role="responder"))
    page = client.get(incident.get_absolute_url()).content.decode()
    assert "Not yet on the status page" in page
    assert "/publish/" not in page
    response = client.post(f"/incidents/{incident.reference}/publish/", {})
    assert response.status_code == 422
    assert incident_errors.PUBLISH_LEAD_ONLY in response.content.decode()
    incident.refresh_from_db()
    assert not incident.is_published


def test_declare_form_says_what_will_be_public(responder_client):
    SeverityPolicy.objects.filter(key="SEV1").update(publish_automatically=True)
    page = responder_client.get("/incidents/new/").content.decode()
    assert "never appear on the public status page" in page
    assert 'name="public_title"' in page and 'name="public_summary"' in page
    assert "SEV1 incidents are published at once" in page


def test_status_json_carries_the_resolution_entry_the_page_shows(client, components, catalog):
    incident = factories.declare_incident(
        severity="SEV2", public_title="Checkout is slow", affected_services=[catalog["checkout"]], published=True
    )
    incident_services.incident_update_post(
        incident=incident, author=incident.lead, progress="Caches warming up.", visibility=UpdateVisibility.PUBLIC
    )
    incident_services.incident_status_change(incident=incident, status=IncidentStatus.RESOLVED, actor=incident.lead)
    assert "This incident has been resolved." in client.get("/status/").content.decode()
    [past] = json.loads(client.get("/status.json").content)["history"]
    assert [(u["status"], u["text"]) for u in past["updates"]] == [
        ("resolved", "This incident has been resolved."),
        ("investigating", "Caches warming up."),
    ]
    assert past["updates"][0]["posted_at"] == past["resolved_at"]


# History that keeps the truth.


def test_a_major_outage_lowered_to_partial_after_two_minutes_shows_as_major_for_that_day(
    client, components, catalog, severities, time_machine
):
    time_machine.move_to(timezone.now().replace(hour=12, minute=0) - timedelta(days=3))
    incident = factories.declare_incident(
        severity="SEV1", public_title="Checkout errors", affected_services=[catalog["checkout"]], published=True
    )
    time_machine.move_to(timezone.now() + timedelta(minutes=2))
    incident_services.incident_severity_change(incident=incident, severity=severities["SEV2"], actor=incident.lead)
    # While it is active, the page says what it is now.
    cache.clear()
    assert json.loads(client.get("/status.json").content)["incidents"][0]["impact"] == "partial_outage"
    time_machine.move_to(timezone.now() + timedelta(hours=1))
    incident_services.incident_status_change(incident=incident, status=IncidentStatus.RESOLVED, actor=incident.lead)
    time_machine.move_to(timezone.now() + timedelta(days=3))
    cache.clear()
    text = client.get("/status/").content.decode()
    checkout = text.split('data-component="Checkout"')[1].split('data-component="Search"')[0]
    assert checkout.count('<i class="sp-major_outage"') == 1
    assert 'class="sp-partial_outage"' not in checkout
    past = text.split("Past incidents")[1]
    assert "Major outage" in past and "Partial outage" not in past
    [history] = json.loads(client.get("/status.json").content)["history"]
    assert history["impact"] == "major_outage"


# The documented schema of status.json (README, "Public status page"): every key the README names is
# there, and nothing else, so the documentation and the answer cannot drift apart unseen.
STATUS_JSON_SCHEMA = {
    "page": {"title", "url", "updated_at"},
    "status": {"indicator", "description"},
    "components": {"name", "group", "status"},
    "incidents": {
        "id",
        "title",
        "summary",
        "status",
        "impact",
        "started_at",
        "resolved_at",
        "components",
        "updates",
    },
    "updates": {"status", "posted_at", "text"},
    "maintenance": {"title", "description", "starts_at", "ends_at", "components"},
}


def test_status_json_follows_its_documented_schema(client, components, catalog):
    active = factories.declare_incident(
        severity="SEV2", public_title="Search is slow", affected_services=[catalog["search"]], published=True
    )
    incident_services.incident_update_post(
        incident=active, author=active.lead, progress="Reindexing.", visibility=UpdateVisibility.PUBLIC
    )
    past = factories.declare_incident(severity="SEV1", affected_services=[catalog["api"]], published=True)
    incident_services.incident_status_change(incident=past, status=IncidentStatus.RESOLVED, actor=past.lead)
    start = timezone.now() + timedelta(days=4)
    services.maintenance_window_schedule(
        title="Failover drill", starts_at=start, ends_at=start + timedelta(hours=1), components=[components["api"]]
    )
    cache.clear()
    data = json.loads(client.get("/status.json").content)
    assert set(data) == {"page", "status", "components", "incidents", "maintenance", "history"}
    assert set(data["page"]) == STATUS_JSON_SCHEMA["page"]
    assert set(data["status"]) == STATUS_JSON_SCHEMA["status"]
    assert {frozenset(c) for c in data["components"]} == {frozenset(STATUS_JSON_SCHEMA["components"])}
    for key in ("incidents", "history"):
        [incident] = data[key]
        assert set(incident) == STATUS_JSON_SCHEMA["incidents"], key
        assert incident["updates"] and all(set(u) == STATUS_JSON_SCHEMA["updates"] for u in incident["updates"])
    [window] = data["maintenance"]
    assert set(window) == STATUS_JSON_SCHEMA["maintenance"]
    assert data["history"][0]["updates"][0]["status"] == "resolved"  # the resolution entry
    readme = (Path(settings.BASE_DIR) / "README.md").read_text()
    documented = readme.split("`status.json` holds what the page shows:")[1].split("times are ISO 8601 UTC")[0]
    for keys in STATUS_JSON_SCHEMA.values():
        for name in keys:
            assert name in documented, name
