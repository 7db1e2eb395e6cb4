"""Webhooks out: incident timeline events become signed webhook deliveries to the subscriptions
that ask for them, sent through the notifications app."""

import hashlib
import hmac
import time

from incidents.messages import incident_url
from incidents.models import EventKind, Incident, IncidentStatus, TimelineEvent, UpdateVisibility
from integrations.models import WebhookDelivery, WebhookEvent, WebhookSubscription
from notifications import services as notification_services
from notifications.models import Delivery

SIGNATURE_HEADER = "X-IncidentDesk-Signature"
TIMESTAMP_HEADER = "X-IncidentDesk-Timestamp"
EVENT_HEADER = "X-IncidentDesk-Event"


def _webhook_event_of(event: TimelineEvent) -> str | None:
    if event.kind == EventKind.DECLARED:
        return WebhookEvent.DECLARED
    if event.kind == EventKind.SEVERITY_CHANGED:
        return WebhookEvent.SEVERITY_CHANGED
    if event.kind == EventKind.STATUS_UPDATE:
        return WebhookEvent.UPDATE_POSTED
    if event.kind == EventKind.STATUS_CHANGED and event.data.get("to") == IncidentStatus.RESOLVED:
        return WebhookEvent.RESOLVED
    if event.kind == EventKind.POSTMORTEM and event.data.get("action") == "published":
        return WebhookEvent.POSTMORTEM_PUBLISHED
    return None


def _is_public_update(event: TimelineEvent) -> bool:
    return event.data.get("visibility") == UpdateVisibility.PUBLIC


def _event_subject(name: str, incident: Incident, event: TimelineEvent) -> str:
    label = WebhookEvent(name).label
    return f"[{incident.severity.key}] {incident.reference} {label.lower()}: {incident.title}"[:255]


def _event_payload(name: str, incident: Incident, event: TimelineEvent) -> dict:
    payload = {
        "event": f"incident.{name}",
        "incident_id": incident.pk,
        "reference": incident.reference,
        "title": incident.title,
        "severity": incident.severity.key,
        "status": incident.status,
        "url": incident_url(incident),
        "occurred_at": event.occurred_at.isoformat(),
        "text": event.text,
    }
    if name == WebhookEvent.SEVERITY_CHANGED:
        payload["from"], payload["to"] = event.data.get("from"), event.data.get("to")
    if name == WebhookEvent.UPDATE_POSTED:
        payload["visibility"] = event.data.get("visibility")
        payload["update"] = event.body
    return payload


def incident_event_handle(*, event: TimelineEvent) -> None:
    """Reacts to a new incident timeline event (registered in IntegrationsConfig.ready): the events that
    subscriptions ask for become one signed delivery per subscription, sent by the notifications
    worker after the transaction commits (with its retries and backoff)."""
    name = _webhook_event_of(event)
    # A restricted incident does not exist for the teams' endpoints, who are not its participants.
    if name is None or event.incident.restricted:
        return
    subscriptions = [
        subscription
        for subscription in WebhookSubscription.objects.filter(active=True)
        if subscription.wants(name)
        and (name != WebhookEvent.UPDATE_POSTED or _is_public_update(event) or subscription.include_internal_updates)
    ]
    if not subscriptions:
        return
    incident = event.incident
    subject = _event_subject(name, incident, event)
    payload = _event_payload(name, incident, event)
    body = event.body if name == WebhookEvent.UPDATE_POSTED else ""
    text = "\n".join(part for part in [event.text, body, payload["url"]] if part)
    keys = {f"webhook-subscription:{s.pk}:event:{event.pk}": s for s in subscriptions}
    notification_services.messages_send(
        outgoing=[
            notification_services.Outgoing(
                dedup_key=key,
                topic=incident.reference,
                subject=subject,
                body_text=text,
                link=payload["url"],
                payload=payload,
                webhooks=[(subscription.url, subscription.body_format)],
            )
            for key, subscription in keys.items()
        ],
        now=event.recorded_at,
    )
    deliveries = Delivery.objects.filter(message__dedup_key__in=list(keys)).values_list("pk", "message__dedup_key")
    WebhookDelivery.objects.bulk_create(
        [
            WebhookDelivery(
                subscription=keys[key], delivery_id=pk, event=name, incident=incident, created_at=event.recorded_at
            )
            for pk, key in deliveries
        ],
        ignore_conflicts=True,
    )


def webhook_signature(*, secret: str, timestamp: str, body: bytes) -> str:
    """HMAC-SHA256 over "<timestamp>.<body>": the timestamp is signed too, so a receiver that
    refuses old timestamps cannot be fed a recorded request again."""
    return "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def webhook_headers(*, delivery: Delivery, body: bytes) -> dict[str, str]:
    """The headers the notifications app adds to a webhook it sends (registered in
    IntegrationsConfig.ready). Deliveries made for a subscription are signed with its secret as it
    is now (a rotated secret signs the retries too); other webhooks get nothing extra."""
    link = WebhookDelivery.objects.select_related("subscription").filter(delivery_id=delivery.pk).first()
    if link is None:
        return {}
    timestamp = str(int(time.time()))
    return {
        SIGNATURE_HEADER: webhook_signature(secret=link.subscription.secret, timestamp=timestamp, body=body),
        TIMESTAMP_HEADER: timestamp,
        EVENT_HEADER: link.event,
    }


def webhook_signature_verify(*, secret: str, timestamp: str, body: bytes, header: str) -> bool:
    return hmac.compare_digest(webhook_signature(secret=secret, timestamp=timestamp, body=body), header or "")
