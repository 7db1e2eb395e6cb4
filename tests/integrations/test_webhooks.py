"""Outbound webhooks: which incident events reach which subscription, and how they are signed."""

import io
import json

import pytest
from django.contrib.auth.models import User
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from core.errors import WEBHOOK_NOT_ACCEPTED
from incidents import services as incident_services
from incidents.models import EventKind, IncidentStatus, SeverityPolicy, UpdateVisibility
from integrations.alerts import alert_batch_receive, alert_source_create, rejected_payload_record
from integrations.demo import DEMO_SOURCE
from integrations.models import WebhookEvent, WebhookSubscription
from integrations.payloads import generic_batch
from integrations.webhooks import (
    EVENT_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    webhook_headers,
    webhook_signature_verify,
)
from notifications import senders
from notifications import services as notification_services
from notifications.models import Channel, Delivery, DeliveryStatus
from tests.factories import declare_incident
from tests.integration.harness import WebhookReceiver

pytestmark = pytest.mark.django_db

SECRET = "s3cret-of-the-payments-team"


def subscribe(url: str = "https://hooks.example.com/incidents", **fields) -> WebhookSubscription:
    return WebhookSubscription.objects.create(team=fields.pop("team", "Payments"), url=url, secret=SECRET, **fields)


def sent(subscription: WebhookSubscription) -> list[str]:
    return list(subscription.deliveries.order_by("pk").values_list("event", flat=True))


def test_a_declaration_is_delivered_to_every_active_subscription_that_wants_it(responder):
    everything = subscribe()
    declared_only = subscribe("https://hooks.example.com/declared", events=[WebhookEvent.DECLARED])
    resolved_only = subscribe("https://hooks.example.com/resolved", events=[WebhookEvent.RESOLVED])
    inactive = subscribe("https://hooks.example.com/off", active=False)

    incident = declare_incident(declared_by=responder)

    assert sent(everything) == sent(declared_only) == [WebhookEvent.DECLARED]
    assert sent(resolved_only) == sent(inactive) == []
    link = everything.deliveries.select_related("delivery__message").get()
    assert link.incident == incident
    assert (link.delivery.channel, link.delivery.target) == (Channel.WEBHOOK, everything.url)
    assert link.delivery.status == DeliveryStatus.PENDING
    payload = link.delivery.message.payload
    assert payload["event"] == "incident.declared"
    assert (payload["reference"], payload["severity"], payload["title"]) == (
        incident.reference,
        "SEV2",
        incident.title,
    )


def test_a_restricted_incident_reaches_no_subscription(responder):
    everything = subscribe()
    incident = declare_incident(declared_by=responder, title="Leaked keys", security_concern=True)
    assert incident.restricted
    incident_services.incident_status_change(incident=incident, status=IncidentStatus.RESOLVED, actor=responder)
    assert sent(everything) == []


def test_severity_changes_resolution_and_published_postmortems_are_delivered(responder):
    subscription = subscribe()
    incident = declare_incident(declared_by=responder)
    incident_services.incident_severity_change(
        incident=incident, severity=SeverityPolicy.objects.get(key="SEV1"), actor=responder
    )
    incident_services.incident_status_change(incident=incident, status=IncidentStatus.IDENTIFIED, actor=responder)
    incident_services.incident_status_change(incident=incident, status=IncidentStatus.RESOLVED, actor=responder)
    incident_services.incident_event_record(
        incident=incident, kind=EventKind.POSTMORTEM, actor=responder, text="Draft started", data={"action": "drafted"}
    )
    incident_services.incident_event_record(
        incident=incident, kind=EventKind.POSTMORTEM, actor=responder, text="Published", data={"action": "published"}
    )

    assert sent(subscription) == [
        WebhookEvent.DECLARED,
        WebhookEvent.SEVERITY_CHANGED,
        WebhookEvent.RESOLVED,
        WebhookEvent.POSTMORTEM_PUBLISHED,
    ]
    changed = subscription.deliveries.get(event=WebhookEvent.SEVERITY_CHANGED).delivery.message.payload
    assert (changed["from"], changed["to"]) == ("SEV2", "SEV1")


def test_only_public_updates_are_sent_unless_the_subscription_opts_in(responder):
    public_only = subscribe()
    everything = subscribe("https://hooks.example.com/internal-too", include_internal_updates=True)
    incident = declare_incident(declared_by=responder)

    incident_services.incident_update_post(
        incident=incident, author=responder, progress="Rolled back the deploy internally", visibility="internal"
    )
    incident_services.incident_update_post(
        incident=incident, author=responder, progress="Checkout is recovering", visibility=UpdateVisibility.PUBLIC
    )

    assert sent(public_only) == [WebhookEvent.DECLARED, WebhookEvent.UPDATE_POSTED]
    assert sent(everything) == [WebhookEvent.DECLARED, WebhookEvent.UPDATE_POSTED, WebhookEvent.UPDATE_POSTED]
    [update] = public_only.deliveries.filter(event=WebhookEvent.UPDATE_POSTED)
    payload = update.delivery.message.payload
    assert payload["update"] == "Checkout is recovering"
    assert "Rolled back" not in json.dumps(payload)
    assert "Rolled back" not in update.delivery.message.body_text


def test_notes_reminders_and_other_events_are_not_sent(responder):
    subscription = subscribe(events=[WebhookEvent.UPDATE_POSTED, WebhookEvent.RESOLVED])
    incident = declare_incident(declared_by=responder)
    incident_services.incident_note_add(incident=incident, author=responder, text="Looking at the dashboards")
    incident_services.incident_status_change(incident=incident, status=IncidentStatus.IDENTIFIED, actor=responder)
    assert sent(subscription) == []


def test_a_rolled_back_change_sends_nothing(responder):
    subscription = subscribe()
    with pytest.raises(RuntimeError), transaction.atomic():
        declare_incident(declared_by=responder)
        raise RuntimeError("the declaration fails after its event")
    assert sent(subscription) == []
    assert Delivery.objects.count() == 0


def test_the_delivery_is_queued_after_commit(responder, django_capture_on_commit_callbacks, monkeypatch):
    queued = []
    monkeypatch.setattr("notifications.tasks.deliver_batch.apply_async", lambda args, **options: queued.append(args[0]))
    subscription = subscribe()
    with django_capture_on_commit_callbacks(execute=True):
        declare_incident(declared_by=responder)
    assert [subscription.deliveries.get().delivery_id] in queued


def test_the_signature_is_an_hmac_sha256_of_the_body_with_the_subscriptions_secret(responder):
    subscribe()
    declare_incident(declared_by=responder)
    delivery = Delivery.objects.get(channel=Channel.WEBHOOK)
    body = json.dumps(senders.webhook_body(delivery)).encode()

    headers = webhook_headers(delivery=delivery, body=body)

    signature, timestamp = headers[SIGNATURE_HEADER], headers[TIMESTAMP_HEADER]
    assert signature.startswith("sha256=")
    assert timestamp.isdigit()
    assert webhook_signature_verify(secret=SECRET, timestamp=timestamp, body=body, header=signature)
    assert not webhook_signature_verify(secret="wrong", timestamp=timestamp, body=body, header=signature)
    assert not webhook_signature_verify(secret=SECRET, timestamp=timestamp, body=body + b" ", header=signature)
    # A replay with a fresh timestamp does not verify: the timestamp is signed.
    later = str(int(timestamp) + 3600)
    assert not webhook_signature_verify(secret=SECRET, timestamp=later, body=body, header=signature)
    assert headers[EVENT_HEADER] == WebhookEvent.DECLARED


def test_webhooks_that_are_not_a_subscriptions_get_no_signature(responder):
    policy = SeverityPolicy.objects.get(key="SEV2")
    policy.webhook_url = "https://chat.example.com/hook"
    policy.save()
    declare_incident(declared_by=responder)
    delivery = Delivery.objects.get(channel=Channel.WEBHOOK)
    assert webhook_headers(delivery=delivery, body=b"{}") == {}


@pytest.fixture
def receiver():
    receiver = WebhookReceiver().start()
    yield receiver
    receiver.stop()


@pytest.mark.parametrize("body_format", ["json", "slack"])
def test_a_delivery_reaches_the_receiver_signed_in_the_chosen_format(responder, receiver, body_format):
    subscribe(receiver.url, body_format=body_format)
    incident = declare_incident(declared_by=responder)
    delivery = Delivery.objects.get(channel=Channel.WEBHOOK)

    attempt = notification_services.delivery_attempt(delivery_id=delivery.pk)

    assert attempt.outcome == "sent"
    [hook] = receiver.snapshot()
    headers = {name.lower(): value for name, value in hook.headers.items()}  # header names are case-insensitive
    assert webhook_signature_verify(
        secret=SECRET,
        timestamp=headers[TIMESTAMP_HEADER.lower()],
        body=hook.raw,
        header=headers[SIGNATURE_HEADER.lower()],
    )
    assert headers[EVENT_HEADER.lower()] == "declared"
    if body_format == "slack":
        assert set(hook.body) == {"text"}
        assert incident.reference in hook.body["text"]
    else:
        assert hook.body["data"]["reference"] == incident.reference
        assert hook.body["data"]["event"] == "incident.declared"


def test_a_failing_receiver_is_retried_and_logged(responder, receiver):
    receiver.status = 500
    subscription = subscribe(receiver.url)
    declare_incident(declared_by=responder)
    link = subscription.deliveries.get()

    attempt = notification_services.delivery_attempt(delivery_id=link.delivery_id)

    assert attempt.outcome == "retry"
    link.delivery.refresh_from_db()
    assert link.delivery.attempts == 1
    assert link.delivery.last_error == WEBHOOK_NOT_ACCEPTED


def test_admin_shows_each_subscriptions_delivery_log(client, responder):
    admin = User.objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(admin)
    subscription = subscribe()
    other = subscribe("https://hooks.example.com/other", team="Search")
    incidents = [declare_incident(declared_by=responder, title=f"Outage number {n}") for n in range(3)]
    response = client.get(f"/admin/integrations/webhooksubscription/{subscription.pk}/change/")
    assert response.status_code == 200
    page = response.content.decode()
    assert all(f"{incident.reference} Outage number" in page for incident in incidents)
    assert other.deliveries.count() == 3
    assert page.count("<p>Pending</p>") == 3  # its own three, not the other subscription's
    assert client.get("/admin/integrations/webhookdelivery/").status_code == 200


@pytest.mark.parametrize(
    "page",
    ["alertsource", "alertrule", "alert", "rejectedpayload", "webhooksubscription", "webhookdelivery"],
)
def test_every_admin_list_costs_the_same_queries_for_few_or_many_rows(client, responder, page):
    admin = User.objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(admin)
    subscribe()

    def grow(n: int) -> None:
        for i in range(n):
            source, _ = alert_source_create(name=f"{page}-{n}-{i}")
            declare_incident(declared_by=responder)
            rejected_payload_record(source=source, endpoint="generic", status_code=400, reason="x", body=b"{")
            alert_batch_receive(source=source, batch=generic_batch({"title": f"Probe {i}", "dedup_key": "k"}))

    counts = []
    for n in (2, 10):
        grow(n)
        with CaptureQueriesContext(connection) as queries:
            assert client.get(f"/admin/integrations/{page}/").status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1], counts


def test_a_source_added_in_the_admin_shows_its_token_once_and_stores_its_digest(client, post):
    from integrations.models import AlertSource

    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw"))
    response = client.post(
        "/admin/integrations/alertsource/add/",
        {
            "name": "grafana",
            "kind": "alertmanager",
            "dedup_window_seconds": 300,
            "rate_limit_per_minute": 60,
            "active": "on",
        },
        follow=True,
    )
    [token_message] = [str(m) for m in response.context["messages"] if "shown this once" in str(m)]
    token = token_message.rsplit(" ", 1)[-1]
    source = AlertSource.objects.get(name="grafana")
    assert source.digest == AlertSource.digest_of(token)
    assert token not in client.get(f"/admin/integrations/alertsource/{source.pk}/change/").content.decode()


def test_the_demo_step_is_idempotent(db):
    from django.core.management import call_command

    from incidents.models import Incident
    from integrations.models import Alert, AlertRule, AlertSource

    call_command("load_demo_data", stdout=io.StringIO())
    call_command("load_demo_data", stdout=io.StringIO())
    assert AlertSource.objects.filter(name=DEMO_SOURCE).count() == 1
    assert AlertRule.objects.filter(source=None).count() == 3
    # and the severity mapping every new source starts with, once
    assert AlertRule.objects.filter(source__name=DEMO_SOURCE).count() == 4
    assert AlertRule.objects.count() == 7
    assert Alert.objects.count() == 2
    assert Incident.objects.filter(alerts__isnull=False).distinct().count() == 1


def test_subscriptions_pick_their_events_with_checkboxes_in_the_admin(client):
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw"))
    response = client.post(
        "/admin/integrations/webhooksubscription/add/",
        {
            "team": "Search",
            "url": "https://hooks.example.com/search",
            "secret": "abc",
            "events": ["declared", "resolved"],
            "body_format": "slack",
            "active": "on",
            "deliveries-TOTAL_FORMS": 0,
            "deliveries-INITIAL_FORMS": 0,
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert WebhookSubscription.objects.get().events == ["declared", "resolved"]


@pytest.mark.parametrize("matchers", ['["severity"]', '{"severity": 1}', '"critical"'])
def test_rule_matchers_must_map_labels_to_values(client, matchers):
    from integrations.admin import MATCHERS_NOT_A_MAP

    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw"))
    response = client.post(
        "/admin/integrations/alertrule/add/",
        {"name": "x", "matchers": matchers, "order": 1, "auto_resolve": "on"},
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["matchers"] == [MATCHERS_NOT_A_MAP]


def test_the_admin_shows_and_edits_a_new_sources_severity_mapping(client):
    from integrations.models import AlertSource

    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw"))
    source, _ = alert_source_create(name="grafana")
    page = client.get(f"/admin/integrations/alertsource/{source.pk}/change/").content.decode()
    assert "severity=critical → SEV1" in page
    assert "severity=info → SEV4" in page
    assert AlertSource.objects.get(pk=source.pk).rules.count() == 4
