from datetime import timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.utils import timezone

from incidents import services as incident_services
from incidents.models import EventKind, IncidentStatus, SeverityPolicy, UpdateVisibility
from notifications.models import Channel, Delivery
from statuspage import errors, services
from statuspage.models import ComponentStatus, ComponentStatusChange, SeverityImpact, Subscriber
from tests import factories

pytestmark = pytest.mark.django_db


def _status(component) -> str:
    component.refresh_from_db()
    return component.status


def test_public_incident_moves_its_components_by_the_impact_mapping_and_back_on_resolve(components, catalog):
    incident = factories.declare_incident(published=True, severity="SEV1", affected_services=[catalog["api"]])
    assert _status(components["api"]) == ComponentStatus.MAJOR_OUTAGE
    assert _status(components["checkout"]) == ComponentStatus.OPERATIONAL
    event = incident.timeline.get(kind=EventKind.COMPONENT_STATUS)
    assert event.text == "Status page: Api major outage"
    assert event.data["components"] == [
        {"component": components["api"].pk, "from": "operational", "to": "major_outage"}
    ]

    incident_services.incident_status_change(incident=incident, status=IncidentStatus.RESOLVED, actor=incident.lead)
    assert _status(components["api"]) == ComponentStatus.OPERATIONAL
    assert incident.timeline.filter(kind=EventKind.COMPONENT_STATUS).count() == 2
    history = list(ComponentStatusChange.objects.filter(component=components["api"]).order_by("id"))
    assert [(c.previous_status, c.status, c.incident_id) for c in history] == [
        ("operational", "major_outage", incident.pk),
        ("major_outage", "operational", incident.pk),
    ]


def test_the_mapping_is_data_an_admin_can_change(components, catalog, severities):
    SeverityImpact.objects.filter(severity=severities["SEV2"]).update(
        component_status=ComponentStatus.DEGRADED_PERFORMANCE
    )
    factories.declare_incident(published=True, severity="SEV2", affected_services=[catalog["api"]])
    assert _status(components["api"]) == ComponentStatus.DEGRADED_PERFORMANCE


def test_incident_not_shown_on_the_status_page_moves_nothing(components, catalog):
    assert not SeverityPolicy.objects.get(key="SEV3").show_on_status_page
    incident = factories.declare_incident(published=True, severity="SEV3", affected_services=[catalog["api"]])
    assert _status(components["api"]) == ComponentStatus.OPERATIONAL
    assert not incident.timeline.filter(kind=EventKind.COMPONENT_STATUS).exists()


def test_worst_status_wins_across_incidents_and_manual_status(components, catalog, responder):
    sev2 = factories.declare_incident(published=True, severity="SEV2", affected_services=[catalog["api"]])
    assert _status(components["api"]) == ComponentStatus.PARTIAL_OUTAGE
    sev1 = factories.declare_incident(
        published=True, severity="SEV1", affected_services=[catalog["api"], catalog["search"]]
    )
    assert _status(components["api"]) == ComponentStatus.MAJOR_OUTAGE
    services.component_status_set(
        component=components["search"], status=ComponentStatus.UNDER_MAINTENANCE, actor=responder
    )
    assert _status(components["search"]) == ComponentStatus.MAJOR_OUTAGE

    incident_services.incident_status_change(incident=sev1, status=IncidentStatus.RESOLVED, actor=sev1.lead)
    assert _status(components["api"]) == ComponentStatus.PARTIAL_OUTAGE
    assert _status(components["search"]) == ComponentStatus.UNDER_MAINTENANCE
    incident_services.incident_status_change(incident=sev2, status=IncidentStatus.RESOLVED, actor=sev2.lead)
    assert _status(components["api"]) == ComponentStatus.OPERATIONAL


def test_manual_status_is_kept_under_an_incident_and_shows_when_it_is_worse(components, catalog, responder):
    services.component_status_set(component=components["api"], status=ComponentStatus.MAJOR_OUTAGE, actor=responder)
    incident = factories.declare_incident(published=True, severity="SEV2", affected_services=[catalog["api"]])
    assert _status(components["api"]) == ComponentStatus.MAJOR_OUTAGE
    # Nothing moved: no status page event on the incident.
    assert not incident.timeline.filter(kind=EventKind.COMPONENT_STATUS).exists()


def test_lowering_severity_below_public_and_removing_a_service_move_components_back(components, catalog, severities):
    incident = factories.declare_incident(
        published=True, severity="SEV1", affected_services=[catalog["api"], catalog["search"]]
    )
    incident_services.incident_impact_update(incident=incident, actor=incident.lead, affected_services=[catalog["api"]])
    assert _status(components["search"]) == ComponentStatus.OPERATIONAL
    incident_services.incident_severity_change(incident=incident, severity=severities["SEV3"], actor=incident.lead)
    assert _status(components["api"]) == ComponentStatus.OPERATIONAL


def test_unknown_component_status_is_refused(components, responder):
    with pytest.raises(ValidationError) as refused:
        services.component_status_set(component=components["api"], status="on_fire", actor=responder)
    assert refused.value.message_dict["status"] == [errors.UNKNOWN_STATUS]


def test_maintenance_is_announced_72_hours_ahead(components):
    soon = timezone.now() + timedelta(hours=71)
    with pytest.raises(ValidationError) as refused:
        services.maintenance_window_schedule(
            title="Upgrade", starts_at=soon, ends_at=soon + timedelta(hours=1), components=[components["api"]]
        )
    assert refused.value.message_dict["starts_at"] == [errors.MAINTENANCE_NOTICE_TOO_SHORT]
    window = services.maintenance_window_schedule(
        title="Upgrade",
        starts_at=soon,
        ends_at=soon + timedelta(hours=1),
        components=[components["api"]],
        short_notice=True,
    )
    assert list(window.components.all()) == [components["api"]]
    with pytest.raises(ValidationError) as refused:
        services.maintenance_window_schedule(
            title="Upgrade", starts_at=soon, ends_at=soon, components=[], short_notice=True
        )
    assert refused.value.message_dict["ends_at"] == [errors.MAINTENANCE_ENDS_BEFORE_START]


# --- Subscribers -------------------------------------------------------------------------------


def _emails_to(address: str) -> list[Delivery]:
    return list(Delivery.objects.filter(channel=Channel.EMAIL, target=address).select_related("message").order_by("id"))


def test_double_opt_in_then_notified_of_public_incidents_updates_and_resolution(catalog):
    subscriber = services.subscriber_subscribe(email=" Reader@Example.com ")
    assert subscriber.email == "reader@example.com"
    [confirmation] = _emails_to("reader@example.com")
    assert f"/status/subscribe/confirm/{subscriber.confirm_token}/" in confirmation.message.body_text
    assert f"/status/unsubscribe/{subscriber.unsubscribe_token}/" in confirmation.message.body_text
    assert confirmation.recipient is None

    # Not yet confirmed: told nothing.
    factories.declare_incident(severity="SEV1", affected_services=[catalog["api"]], title="Earlier outage")
    assert len(_emails_to("reader@example.com")) == 1

    services.subscriber_confirm(token=subscriber.confirm_token)
    incident = factories.declare_incident(
        severity="SEV1",
        affected_services=[catalog["api"]],
        title="INTERNAL-TITLE",
        public_title="Login fails",
        published=True,
    )
    incident_services.incident_update_post(
        incident=incident, author=incident.lead, progress="PUBLIC-UPDATE-TEXT", visibility=UpdateVisibility.PUBLIC
    )
    incident_services.incident_update_post(
        incident=incident, author=incident.lead, progress="INTERNAL-UPDATE-TEXT", visibility=UpdateVisibility.INTERNAL
    )
    incident_services.incident_note_add(incident=incident, author=incident.lead, text="NOTE-TEXT")
    incident_services.incident_status_change(incident=incident, status=IncidentStatus.RESOLVED, actor=incident.lead)

    mails = [delivery.message for delivery in _emails_to("reader@example.com")[1:]]
    assert [mail.subject for mail in mails] == [
        "[Status] Investigating: Login fails",
        "[Status] Investigating: Login fails",
        "[Status] Resolved: Login fails",
    ]
    assert "PUBLIC-UPDATE-TEXT" in mails[1].body_text
    for mail in mails:
        assert "INTERNAL-UPDATE-TEXT" not in mail.body_text
        assert "NOTE-TEXT" not in mail.body_text
        assert "INTERNAL-TITLE" not in mail.subject + mail.body_text
        assert f"/status/unsubscribe/{subscriber.unsubscribe_token}/" in mail.body_text


def test_incidents_not_on_the_status_page_send_subscribers_nothing(catalog):
    subscriber = services.subscriber_subscribe(email="reader@example.com")
    services.subscriber_confirm(token=subscriber.confirm_token)
    incident = factories.declare_incident(severity="SEV3", affected_services=[catalog["api"]])
    incident_services.incident_update_post(
        incident=incident, author=incident.lead, progress="Public words", visibility=UpdateVisibility.PUBLIC
    )
    assert len(_emails_to("reader@example.com")) == 1  # the confirmation only


def test_subscribing_again_sends_a_new_link_an_hour_later_until_confirmed_and_then_nothing():
    first = services.subscriber_subscribe(email="reader@example.com")
    old_token = first.confirm_token
    # Within the hour: no second mail, and the first link still works.
    again = services.subscriber_subscribe(email="reader@example.com")
    assert again.confirm_token == old_token
    assert len(_emails_to("reader@example.com")) == 1
    with time_machine.travel(timezone.now() + timedelta(hours=1, seconds=1)):
        again = services.subscriber_subscribe(email="reader@example.com")
    assert again.pk == first.pk and again.confirm_token != old_token
    assert len(_emails_to("reader@example.com")) == 2
    with pytest.raises(ValidationError):
        services.subscriber_confirm(token=old_token)
    services.subscriber_confirm(token=again.confirm_token)
    services.subscriber_subscribe(email="reader@example.com")
    assert len(_emails_to("reader@example.com")) == 2
    assert Subscriber.objects.get().is_confirmed


def test_one_client_address_gets_a_bounded_number_of_confirmations_an_hour(settings):
    settings.STATUS_SUBSCRIBE_PER_IP_PER_HOUR = 3
    for number in range(3):
        services.subscriber_subscribe(email=f"victim{number}@example.com", client_ip="203.0.113.7")
    with pytest.raises(ValidationError) as refused:
        services.subscriber_subscribe(email="victim3@example.com", client_ip="203.0.113.7")
    assert refused.value.messages == [errors.TOO_MANY_SUBSCRIPTIONS]
    assert not Subscriber.objects.filter(email="victim3@example.com").exists()
    # Another address is not held back, and the first one may again an hour later.
    services.subscriber_subscribe(email="victim3@example.com", client_ip="198.51.100.1")
    with time_machine.travel(timezone.now() + timedelta(hours=1, seconds=1)):
        services.subscriber_subscribe(email="victim4@example.com", client_ip="203.0.113.7")
    assert Delivery.objects.filter(channel=Channel.EMAIL).count() == 5


def test_unsubscribe_removes_the_address_and_a_used_link_is_refused():
    subscriber = services.subscriber_subscribe(email="reader@example.com")
    services.subscriber_unsubscribe(token=subscriber.unsubscribe_token)
    assert not Subscriber.objects.exists()
    with pytest.raises(ValidationError) as refused:
        services.subscriber_unsubscribe(token=subscriber.unsubscribe_token)
    assert refused.value.messages == [errors.INVALID_LINK]


def test_bad_email_is_refused():
    with pytest.raises(ValidationError) as refused:
        services.subscriber_subscribe(email="not an address")
    assert refused.value.message_dict["email"] == [errors.BAD_EMAIL]


def test_raising_a_private_incident_into_a_public_severity_tells_subscribers(catalog, severities):
    subscriber = services.subscriber_subscribe(email="reader@example.com")
    services.subscriber_confirm(token=subscriber.confirm_token)
    incident = factories.declare_incident(
        severity="SEV3",
        affected_services=[catalog["api"]],
        title="INTERNAL-TITLE",
        public_title="Slow search",
        published=True,
    )
    incident_services.incident_severity_change(incident=incident, severity=severities["SEV2"], actor=incident.lead)
    incident_services.incident_severity_change(incident=incident, severity=severities["SEV1"], actor=incident.lead)
    subjects = [d.message.subject for d in _emails_to("reader@example.com")[1:]]
    assert subjects == ["[Status] Investigating: Slow search"]
