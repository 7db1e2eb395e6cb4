"""Status page subscribers through a real worker, Redis and SMTP server: the confirmation mail, then
one mail per public incident, public update and resolution, each with its unsubscribe link; an
internal update sends nothing."""

from collections import Counter

import pytest
from django.test import Client

from incidents import services as incident_services
from incidents.models import IncidentStatus, Service, UpdateVisibility
from notifications.models import Delivery, DeliveryStatus
from statuspage import services
from statuspage.models import Subscriber
from tests.factories import declare_incident
from tests.integration.harness import wait_for
from tests.statuspage.conftest import seed_status_page

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("committed_db"),
]

ADDRESS = "reader@example.com"


def _subjects(smtp_sink) -> list[str]:
    return [m.subject for m in smtp_sink.snapshot() if m.to == (ADDRESS,)]


def test_subscriber_confirms_by_mail_then_hears_of_public_incidents(smtp_sink, start_worker):
    seed_status_page()
    worker = start_worker()
    client = Client()
    assert client.post("/status/subscribe/new/", {"email": ADDRESS}).status_code == 302
    wait_for(lambda: _subjects(smtp_sink), timeout=30, what="the confirmation mail")
    assert _subjects(smtp_sink) == ["Confirm your subscription to status updates"]
    subscriber = Subscriber.objects.get()
    assert client.post(f"/status/subscribe/confirm/{subscriber.confirm_token}/").status_code == 302

    service = Service.objects.create(name="Checkout", slug="checkout")
    incident = declare_incident(
        severity="SEV1",
        title="INTERNAL title",
        public_title="Card payments fail",
        affected_services=[service],
        published=True,
    )
    incident_services.incident_update_post(
        incident=incident, author=incident.lead, progress="Retrying the provider.", visibility=UpdateVisibility.PUBLIC
    )
    incident_services.incident_update_post(
        incident=incident, author=incident.lead, progress="INTERNAL detail", visibility=UpdateVisibility.INTERNAL
    )
    incident_services.incident_status_change(incident=incident, status=IncidentStatus.RESOLVED, actor=incident.lead)

    wait_for(lambda: len(_subjects(smtp_sink)) >= 4, timeout=30, what="the incident mails")
    wait_for(
        lambda: not Delivery.objects.filter(status=DeliveryStatus.PENDING).exclude(target__startswith="user:").exists(),
        timeout=30,
        what="every email to be attempted",
    )
    # The worker delivers in parallel: the arrival order is not promised, each mail exactly once is.
    assert Counter(_subjects(smtp_sink)) == Counter(
        {
            "Confirm your subscription to status updates": 1,
            "[Status] Investigating: Card payments fail": 2,
            "[Status] Resolved: Card payments fail": 1,
        }
    )
    delivered = {m.delivery_id for m in smtp_sink.snapshot() if m.to == (ADDRESS,)}
    bodies = list(Delivery.objects.filter(pk__in=delivered).values_list("message__body_text", flat=True))
    assert len(bodies) == 4
    for body in bodies:
        assert f"/status/unsubscribe/{subscriber.unsubscribe_token}/" in body
        assert "INTERNAL detail" not in body
        assert "INTERNAL title" not in body
    assert "Traceback" not in worker.log()

    services.subscriber_unsubscribe(token=subscriber.unsubscribe_token)
    assert not Subscriber.objects.exists()


def test_ten_subscription_requests_for_one_address_send_one_mail(smtp_sink, start_worker):
    """Someone else's address, submitted again and again, is mailed once (per hour)."""
    seed_status_page()
    worker = start_worker()
    client = Client()
    for _ in range(10):
        assert client.post("/status/subscribe/new/", {"email": ADDRESS}).status_code == 302
    wait_for(lambda: _subjects(smtp_sink), timeout=30, what="the confirmation mail")
    wait_for(
        lambda: not Delivery.objects.filter(status=DeliveryStatus.PENDING).exists(),
        timeout=30,
        what="every email to be attempted",
    )
    assert _subjects(smtp_sink) == ["Confirm your subscription to status updates"]
    # The one link mailed still confirms.
    subscriber = Subscriber.objects.get()
    assert f"/status/subscribe/confirm/{subscriber.confirm_token}/" in smtp_sink.snapshot()[0].body
    assert client.post(f"/status/subscribe/confirm/{subscriber.confirm_token}/").status_code == 302
    assert "Traceback" not in worker.log()
