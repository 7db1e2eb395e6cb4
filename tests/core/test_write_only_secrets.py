"""Webhook URLs and signing secrets are credentials: written, never read back. Viewers and
responders never see them (API, pages, timeline); admins see them masked and can replace them."""

import re

import pytest
from django.contrib.auth.models import User

from incidents import services as incident_services
from incidents.models import EventKind, SeverityPolicy
from incidents.policy import severity_policy_update
from integrations.models import WebhookSubscription
from notifications import services as notification_services
from notifications.models import Channel, Delivery
from runbooks.models import Runbook
from tests.factories import UserFactory, declare_incident
from tests.incidents.test_admin import _change_form

pytestmark = pytest.mark.django_db

# .invalid never resolves (RFC 2606), so nothing is ever sent to it, wherever the tests run.
HOOK = "https://hooks.slack.invalid/services/T0PLANTED/B0PLANTED/s3cretPlantedToken"
HOOK_SECRET_PART = "s3cretPlantedToken"
SIGNING_SECRET = "planted-signing-secret-42"
MASKED = "https://hooks.slack.invalid/…/••••"


@pytest.fixture
def planted(db):
    """A severity and an incident with the webhook, a subscription with a secret, and a timeline
    that told the webhook (declaration), reminded it, and recorded its failure."""
    admin = UserFactory(role="admin")
    severity_policy_update(policy=SeverityPolicy.objects.get(key="SEV1"), actor=admin, webhook_url=HOOK)
    WebhookSubscription.objects.create(team="Payments", url=HOOK + "/sub", secret=SIGNING_SECRET)
    incident = declare_incident(severity="SEV1", title="Checkout down")
    delivery = Delivery.objects.filter(channel=Channel.WEBHOOK, target=HOOK).first()
    for _ in range(notification_services.MAX_ATTEMPTS):
        notification_services.delivery_attempt(delivery_id=delivery.pk)
    kinds = set(incident.timeline.values_list("kind", flat=True))
    assert {EventKind.STAKEHOLDERS_NOTIFIED, EventKind.NOTIFICATION_FAILED} <= kinds
    return incident


def api_get_paths(client, incident) -> list[str]:
    """Every GET of the API's own document, its parameters filled in."""
    document = client.get("/api/v1/openapi.json", secure=True).json()
    runbook = Runbook.objects.first()
    values = {"reference": incident.reference, "key": "SEV1", "slug": runbook.slug if runbook else "none"}
    return [
        "/api/v1" + re.sub(r"\{(\w+)\}", lambda match: values[match.group(1)], path)
        for path, operations in document["paths"].items()
        if "get" in operations
    ]


@pytest.mark.parametrize("role", ["viewer", "responder"])
def test_no_api_answer_or_page_shows_a_viewer_or_responder_a_planted_webhook_url(client, planted, role):
    user = UserFactory(role=role)
    token = incident_services.api_token_create(user=user, name="t")[1]
    paths = api_get_paths(client, planted)
    assert any("timeline" in path for path in paths) and any("severity-policies" in path for path in paths)
    for path in paths:
        response = client.get(path, headers={"Authorization": f"Bearer {token}"}, secure=True)
        # 404: the incident has no postmortem yet; 403: insights are for responders and admins.
        assert response.status_code in (200, 404) or (role == "viewer" and path.endswith("/insights/")), path
        body = response.content.decode()
        assert HOOK_SECRET_PART not in body and SIGNING_SECRET not in body, path

    client.force_login(user)
    for path in ["/", f"/incidents/{planted.reference}/", "/notifications/"]:
        response = client.get(path)
        assert response.status_code == 200, path
        assert HOOK_SECRET_PART not in response.content.decode(), path


def test_the_timeline_names_a_webhook_by_its_host(planted):
    notice = planted.timeline.get(kind=EventKind.STAKEHOLDERS_NOTIFIED)
    failure = planted.timeline.get(kind=EventKind.NOTIFICATION_FAILED)
    assert notice.data["webhooks"] == ["hooks.slack.invalid"]
    assert failure.text == "Webhook to hooks.slack.invalid failed after 5 attempts"


def test_the_api_answers_the_url_masked_and_a_masked_value_sent_back_keeps_it(client):
    admin = UserFactory(role="admin")
    severity_policy_update(policy=SeverityPolicy.objects.get(key="SEV2"), actor=admin, webhook_url=HOOK)
    headers = {"Authorization": f"Bearer {incident_services.api_token_create(user=admin, name='t')[1]}"}
    read = client.get("/api/v1/severity-policies/SEV2/", headers=headers, secure=True)
    assert read.json()["webhook_url"] == MASKED
    body = {key: value for key, value in read.json().items() if key not in {"key", "rank"}}

    written = client.patch(
        "/api/v1/severity-policies/SEV2/", body, content_type="application/json", headers=headers, secure=True
    )

    assert written.status_code == 200, written.content
    assert SeverityPolicy.objects.get(key="SEV2").webhook_url == HOOK
    assert written["ETag"] == read["ETag"]
    replaced = client.patch(
        "/api/v1/severity-policies/SEV2/",
        {"webhook_url": HOOK + "2"},
        content_type="application/json",
        headers=headers,
        secure=True,
    )
    assert replaced.json()["webhook_url"] == MASKED
    assert replaced["ETag"] != read["ETag"], "a replaced URL is a new version, though it reads the same masked"


@pytest.fixture
def admin_client(client):
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw"))
    return client


def test_the_admin_shows_a_severitys_webhook_masked_keeps_it_replaces_it_and_removes_it(admin_client):
    sev2 = SeverityPolicy.objects.get(key="SEV2")
    severity_policy_update(policy=sev2, actor=UserFactory(role="admin"), webhook_url=HOOK)
    change = f"/admin/incidents/severitypolicy/{sev2.pk}/change/"
    page = admin_client.get(change).content.decode()
    assert HOOK_SECRET_PART not in page
    assert MASKED in page

    admin_client.post(change, _change_form(admin_client, sev2, name="Major"))
    assert SeverityPolicy.objects.values_list("name", "webhook_url").get(key="SEV2") == ("Major", HOOK)

    admin_client.post(change, _change_form(admin_client, sev2, webhook_url="https://hooks.example.com/new"))
    assert SeverityPolicy.objects.get(key="SEV2").webhook_url == "https://hooks.example.com/new"

    admin_client.post(change, _change_form(admin_client, sev2, webhook_url_remove="on"))
    assert SeverityPolicy.objects.get(key="SEV2").webhook_url == ""


# The delivery log inline's management form, with no rows.
NO_INLINES = {"deliveries-TOTAL_FORMS": "0", "deliveries-INITIAL_FORMS": "0"}


def test_the_admin_never_shows_a_subscriptions_url_or_secret_and_keeps_them_when_left_empty(admin_client):
    subscription = WebhookSubscription.objects.create(team="Payments", url=HOOK, secret=SIGNING_SECRET)
    change = f"/admin/integrations/webhooksubscription/{subscription.pk}/change/"
    for page in (change, "/admin/integrations/webhooksubscription/"):
        html = admin_client.get(page).content.decode()
        assert HOOK_SECRET_PART not in html and SIGNING_SECRET not in html, page
        assert MASKED in html

    response = admin_client.post(
        change, {"team": "Platform", "url": "", "secret": "", "body_format": "json", "active": "on", **NO_INLINES}
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    subscription.refresh_from_db()
    assert (subscription.team, subscription.url, subscription.secret) == ("Platform", HOOK, SIGNING_SECRET)

    admin_client.post(
        change,
        {
            "team": "Platform",
            "url": "https://hooks.example.com/n",
            "secret": "new",
            "body_format": "json",
            **NO_INLINES,
        },
    )
    subscription.refresh_from_db()
    assert (subscription.url, subscription.secret) == ("https://hooks.example.com/n", "new")


def test_the_delivery_log_in_the_admin_masks_webhook_targets(admin_client, planted):
    for page in ("/admin/notifications/delivery/", "/admin/notifications/message/"):
        html = admin_client.get(page).content.decode()
        assert HOOK_SECRET_PART not in html, page
    delivery = Delivery.objects.filter(channel=Channel.WEBHOOK).first()
    html = admin_client.get(f"/admin/notifications/delivery/{delivery.pk}/change/").content.decode()
    assert HOOK_SECRET_PART not in html
    html = admin_client.get(f"/admin/notifications/message/{delivery.message_id}/change/").content.decode()
    assert HOOK_SECRET_PART not in html


def test_the_migration_names_the_webhooks_of_earlier_events_by_host(db):
    import importlib

    from django.apps import apps

    incident = declare_incident(severity="SEV3")
    old = [
        incident.timeline.create(
            kind=EventKind.REMINDER,
            text="r",
            data={"webhooks": [HOOK]},
            occurred_at=incident.declared_at,
            recorded_at=incident.declared_at,
        ),
        incident.timeline.create(
            kind=EventKind.NOTIFICATION_FAILED,
            text=f"Webhook to {HOOK} failed after 5 attempts",
            occurred_at=incident.declared_at,
            recorded_at=incident.declared_at,
        ),
    ]
    importlib.import_module("incidents.migrations.0010_timeline_names_webhooks_by_host").names_by_host(apps, None)
    for event in old:
        event.refresh_from_db()
    assert old[0].data == {"webhooks": ["hooks.slack.invalid"]}
    assert old[1].text == "Webhook to hooks.slack.invalid failed after 5 attempts"


def test_a_persons_own_webhook_is_never_shown_back_in_the_app_or_the_admin(admin_client):
    user = UserFactory(role="responder")
    preference = notification_services.channel_preference_set(user=user, email=True, webhook_url=HOOK)
    change = f"/admin/notifications/channelpreference/{preference.pk}/change/"
    for page in (change, "/admin/notifications/channelpreference/"):
        answer = admin_client.get(page)
        assert answer.status_code == 200, page
        assert HOOK_SECRET_PART not in answer.content.decode(), page
    assert MASKED in admin_client.get(change).content.decode()
    admin_client.force_login(user)  # the same client, now as the person
    html = admin_client.get("/notifications/").content.decode()
    assert "hooks.slack.invalid" in html and HOOK_SECRET_PART not in html
