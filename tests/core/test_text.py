"""Single-line texts stay single-line (core.text): a title or an alert summary with a newline no
longer makes every email about its incident fail."""

import json

import pytest
from django.core import mail
from django.test import Client

from config.celery import app as celery_app
from core.text import single_line
from incidents import services
from incidents.models import Incident, Service
from integrations import alerts as integration_services
from notifications import services as notification_services
from notifications.models import Channel, Delivery, DeliveryStatus
from notifications.services import Outgoing
from tests.factories import ServiceFactory, UserFactory, declare_incident
from tests.integrations.conftest import ALERTMANAGER, fixture


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Checkout\ndown", "Checkout down"),
        ("  Checkout\r\n\r\n  down\t(EU)  ", "Checkout down (EU)"),
        ("Bell\x07 and\x00 nul\x85 next line\u2028separator", "Bell and nul next line separator"),
        ("Déjà vu — 100 %", "Déjà vu — 100 %"),
    ],
)
def test_newlines_and_control_characters_become_single_spaces(text, expected):
    assert single_line(text) == expected


@pytest.fixture
def eager_celery():
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = False


@pytest.mark.django_db
def test_a_title_with_a_newline_is_stored_on_one_line_and_its_emails_go_out(
    eager_celery, django_capture_on_commit_callbacks
):
    lead = UserFactory(role="responder", email="lead@example.com")
    comms = UserFactory(role="responder", email="comms@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        incident = declare_incident(declared_by=lead, comms_lead=comms, title="Checkout\r\ndown\nagain")
    assert incident.title == "Checkout down again"
    services.incident_impact_update(incident=incident, actor=lead, title="Payments\nslow")
    incident.refresh_from_db()
    assert incident.title == "Payments slow"
    assert [m.to for m in mail.outbox] == [["comms@example.com"]], "the comms lead was told of their role"
    assert "Checkout down again" in mail.outbox[0].body


@pytest.mark.django_db
def test_an_email_subject_with_a_newline_is_sent_on_one_line(eager_celery, django_capture_on_commit_callbacks):
    """Whoever builds a message, the email goes out: Django refuses a header with a newline."""
    user = UserFactory(email="someone@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        notification_services.messages_send(
            outgoing=[Outgoing(dedup_key="k", subject="Two\nlines", body_text="b", recipients=[user])]
        )
    assert [m.subject for m in mail.outbox] == ["Two lines"]
    assert Delivery.objects.get(channel=Channel.EMAIL).status == DeliveryStatus.SENT


@pytest.mark.django_db
def test_an_alert_summary_with_a_newline_opens_an_incident_with_a_one_line_title():
    _source, token = integration_services.alert_source_create(name="prometheus")
    payload = fixture("alertmanager_firing")
    payload["commonAnnotations"]["summary"] = "Checkout API\nerror rate\r\nabove 2%"
    response = Client().post(
        ALERTMANAGER,
        json.dumps(payload),
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
        secure=True,
    )
    assert response.status_code == 200
    assert Incident.objects.get().title == "Checkout API error rate above 2%"


@pytest.mark.django_db
def test_a_service_named_in_the_admin_is_one_line(django_user_model):
    admin = Client()
    admin.force_login(django_user_model.objects.create_superuser("root", "root@example.com", "secret-words-42"))
    service = ServiceFactory(name="Checkout", slug="checkout")
    form = {"name": "Checkout\nEU", "slug": service.slug, "owner_team": "", "description": ""}
    assert admin.post(f"/admin/incidents/service/{service.pk}/change/", form).status_code == 302
    assert Service.objects.get(pk=service.pk).name == "Checkout EU"
