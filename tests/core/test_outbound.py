"""Outbound webhooks reach only public addresses, or networks an admin allowed: checked when a URL
is saved and again, against the address actually connected to, when something is sent."""

import pytest
from django.contrib.auth.models import User

from core.errors import OUTBOUND_ADDRESS_REFUSED, WEBHOOK_NOT_ACCEPTED
from core.outbound import CheckedAddressAdapter, address_allowed
from incidents import services as incident_services
from incidents.models import SeverityPolicy
from integrations.models import WebhookSubscription
from notifications import services as notification_services
from notifications.models import Channel, Delivery, DeliveryStatus
from tests.factories import UserFactory
from tests.incidents.test_admin import _change_form
from tests.integration.harness import WebhookReceiver

pytestmark = pytest.mark.django_db


@pytest.fixture
def receiver():
    receiver = WebhookReceiver().start()
    yield receiver
    receiver.stop()


@pytest.fixture
def nothing_allowed(settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = []


def webhook_delivery(url: str, dedup_key: str = "hook") -> Delivery:
    outgoing = notification_services.Outgoing(
        dedup_key=dedup_key, subject="Checkout down", body_text="b", webhooks=[(url, "json")]
    )
    notification_services.messages_send(outgoing=[outgoing])
    return Delivery.objects.get(message__dedup_key=dedup_key, channel=Channel.WEBHOOK)


def url_forms(port: int) -> list[str]:
    """127.0.0.1 as an attacker may spell it: a name that resolves to it, IPv4-mapped IPv6, a
    decimal number, a short form."""
    return [
        f"http://127.0.0.1:{port}/hook",
        f"http://localhost:{port}/hook",
        f"http://[::ffff:127.0.0.1]:{port}/hook",
        f"http://2130706433:{port}/hook",
        f"http://127.1:{port}/hook",
    ]


def test_a_local_listener_receives_nothing_from_a_refused_url(nothing_allowed, receiver):
    port = int(receiver.url.rsplit(":", 1)[1].split("/")[0])
    for number, url in enumerate(url_forms(port)):
        delivery = webhook_delivery(url, dedup_key=f"hook-{number}")

        attempt = notification_services.delivery_attempt(delivery_id=delivery.pk)

        delivery.refresh_from_db()
        assert (attempt.outcome, delivery.last_error) == ("retry", OUTBOUND_ADDRESS_REFUSED), url
    assert receiver.snapshot() == []


def test_a_url_saved_before_the_rule_or_rebound_since_is_refused_when_sent(nothing_allowed, receiver, responder):
    """The severity's URL was stored without the save-time check (or its name now resolves
    inside): the send-time check stops it all the same."""
    SeverityPolicy.objects.filter(key="SEV1").update(webhook_url=receiver.url)
    incident_services.incident_declare(
        declared_by=responder, severity=SeverityPolicy.objects.get(key="SEV1"), title="Checkout down"
    )
    delivery = Delivery.objects.get(channel=Channel.WEBHOOK)
    notification_services.delivery_attempt(delivery_id=delivery.pk)
    assert receiver.snapshot() == []


def test_an_allowed_network_is_reached_with_the_urls_own_host_header(settings, receiver):
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    port = receiver.url.rsplit(":", 1)[1].split("/")[0]
    delivery = webhook_delivery(f"http://localhost:{port}/hook")

    assert notification_services.delivery_attempt(delivery_id=delivery.pk).outcome == "sent"

    [hook] = receiver.snapshot()
    assert hook.headers["Host"] == f"localhost:{port}"


def test_tls_keeps_the_urls_host_for_sni_and_the_certificate_while_connecting_to_the_checked_address(settings):
    import requests

    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    request = requests.Request("POST", "https://localhost:8443/hook").prepare()
    host_params, pool_kwargs = CheckedAddressAdapter().build_connection_pool_key_attributes(request, True)
    assert (host_params["host"], host_params["port"]) == ("127.0.0.1", 8443)
    assert pool_kwargs["server_hostname"] == "localhost"


@pytest.mark.parametrize(
    "address",
    [
        *("127.0.0.1", "10.0.0.5", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0"),  # noqa: S104
        *("224.0.0.1", "240.0.0.1", "255.255.255.255"),
        *("::1", "fe80::1", "fc00::1", "ff02::1", "::", "::ffff:10.0.0.1"),
    ],
)
def test_internal_ranges_are_refused_unless_allowed(settings, address):
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    assert not address_allowed(address)
    settings.OUTBOUND_ALLOWED_NETWORKS = ["0.0.0.0/0", "::/0"]
    assert address_allowed(address)


def test_public_addresses_are_allowed(nothing_allowed):
    assert address_allowed("93.184.215.14")
    assert address_allowed("2606:4700::1111")


def test_a_failed_delivery_records_a_generic_reason_whatever_the_port_answered(receiver):
    receiver.status = 500
    answered = webhook_delivery(receiver.url, dedup_key="answered")
    closed = webhook_delivery("http://127.0.0.1:9/hook", dedup_key="closed")  # discard: nothing listens
    for delivery in (answered, closed):
        notification_services.delivery_attempt(delivery_id=delivery.pk)
        delivery.refresh_from_db()
        assert (delivery.status, delivery.last_error) == (DeliveryStatus.PENDING, WEBHOOK_NOT_ACCEPTED)


ISSUE_URLS = [
    "http://169.254.169.254/latest/meta-data/",
    "http://localhost:6379/",
    "http://10.0.0.5:8080/",
    "http://[::1]:5432/",
]


@pytest.mark.parametrize("url", ISSUE_URLS)
def test_the_api_refuses_an_internal_severity_webhook_with_400(client, nothing_allowed, url):
    token = incident_services.api_token_create(user=UserFactory(role="admin"), name="t")[1]
    response = client.patch(
        "/api/v1/severity-policies/SEV2/",
        {"webhook_url": url},
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 400
    assert response.json() == {"errors": {"webhook_url": [OUTBOUND_ADDRESS_REFUSED]}}
    assert SeverityPolicy.objects.get(key="SEV2").webhook_url == ""


@pytest.mark.parametrize("url", ISSUE_URLS)
def test_the_admin_refuses_an_internal_subscription_or_severity_webhook(client, nothing_allowed, url):
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw"))
    response = client.post(
        "/admin/integrations/webhooksubscription/add/",
        {"team": "Payments", "url": url, "secret": "s", "body_format": "json", "active": "on"},
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["url"] == [OUTBOUND_ADDRESS_REFUSED]
    assert not WebhookSubscription.objects.exists()

    sev2 = SeverityPolicy.objects.get(key="SEV2")
    response = client.post(
        f"/admin/incidents/severitypolicy/{sev2.pk}/change/", _change_form(client, sev2, webhook_url=url)
    )
    assert response.status_code == 200
    assert OUTBOUND_ADDRESS_REFUSED in response.context["adminform"].form.errors["webhook_url"]
    assert SeverityPolicy.objects.get(key="SEV2").webhook_url == ""


def test_a_redirect_is_not_followed(receiver):
    """A public endpoint could otherwise send the request on to an address nobody checked."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Redirecting(BaseHTTPRequestHandler):
        def do_POST(self):
            self.send_response(307)
            self.send_header("Location", receiver.url)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Redirecting)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        delivery = webhook_delivery(f"http://127.0.0.1:{server.server_port}/hook")
        assert notification_services.delivery_attempt(delivery_id=delivery.pk).outcome == "retry"
    finally:
        server.shutdown()
        server.server_close()
    delivery.refresh_from_db()
    assert delivery.last_error == WEBHOOK_NOT_ACCEPTED
    assert receiver.snapshot() == []
