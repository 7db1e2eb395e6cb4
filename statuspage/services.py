"""Writes of the status page: component status (set by responders and moved by public incidents),
maintenance windows and subscribers. Every write bumps the page version once it commits, so the
cached page is rendered again on its next request."""

import time
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from config.versions import STATUS_PAGE, version_bump
from core.text import single_line
from incidents import services as incident_services
from incidents.models import (
    ACTIVE_STATUSES,
    EventKind,
    Incident,
    IncidentStatus,
    SeverityPolicy,
    TimelineEvent,
    UpdateVisibility,
)
from notifications import services as notification_services
from notifications.services import Outgoing
from statuspage import errors, selectors
from statuspage.models import (
    Component,
    ComponentGroup,
    ComponentStatus,
    ComponentStatusChange,
    ConfirmationSent,
    MaintenanceWindow,
    SeverityImpact,
    Subscriber,
    worst_status,
)

VERSION_KEY = "statuspage:version"
# The seeds: "Announce 72 hours in advance".
MAINTENANCE_NOTICE = timedelta(hours=72)


# --- The page version ------------------------------------------------------------------------


def page_version() -> str:
    """What the cached page is keyed on. Missing (a fresh or flushed cache) means a new one."""
    version = cache.get(VERSION_KEY)
    if version is None:
        version = str(time.time_ns())
        cache.add(VERSION_KEY, version, timeout=None)
        version = cache.get(VERSION_KEY) or version
    return version


def page_version_bump() -> None:
    """After commit: a reader must never cache the page as it was before a write under the new
    version."""
    transaction.on_commit(lambda: cache.set(VERSION_KEY, str(time.time_ns()), timeout=None))
    # The incident page shows the components an incident moves (incidents.pages).
    version_bump(STATUS_PAGE)


# --- Component status ------------------------------------------------------------------------


def _incident_statuses() -> dict[int, str]:
    """Per service id: the worst status active public incidents imply (severity impact mapping)."""
    impact = dict(SeverityImpact.objects.values_list("severity_id", "component_status"))
    links = Incident.affected_services.through.objects.filter(
        incident__status__in=ACTIVE_STATUSES,
        incident__severity__show_on_status_page=True,
        incident__published_at__isnull=False,
    ).values_list("service_id", "incident__severity_id")
    implied: dict[int, str] = {}
    for service_id, severity_id in links:
        status = impact.get(severity_id)
        if status:
            implied[service_id] = worst_status(implied.get(service_id, ComponentStatus.OPERATIONAL), status)
    return implied


def components_recompute(
    *, incident: Incident | None = None, actor: AbstractBaseUser | None = None, now: datetime | None = None
) -> list[ComponentStatusChange]:
    """Set every component's status to the worst of its manual status and what active public
    incidents on its service imply; record each change. A handful of queries whatever the number
    of incidents; components are few (tens)."""
    now = now or timezone.now()
    implied = _incident_statuses()
    changes = []
    for component in Component.objects.select_for_update().order_by("pk"):
        status = worst_status(component.manual_status, implied.get(component.service_id, ComponentStatus.OPERATIONAL))
        if status == component.status:
            continue
        changes.append(
            ComponentStatusChange(
                component=component,
                changed_at=now,
                previous_status=component.status,
                status=status,
                incident=incident,
                actor=actor,
            )
        )
        component.status = status
        component.status_changed_at = now
        component.save(update_fields=["status", "status_changed_at"])
    ComponentStatusChange.objects.bulk_create(changes)
    if changes:
        page_version_bump()
    return changes


@transaction.atomic
def component_status_set(*, component: Component, status: str, actor: AbstractBaseUser) -> Component:
    """A responder sets a component's status. Active public incidents still make it worse."""
    if status not in ComponentStatus.values:
        raise ValidationError({"status": errors.UNKNOWN_STATUS})
    # Every component is locked in the order components_recompute locks them, so a responder and
    # an incident changing components at the same moment wait for each other instead of deadlocking.
    locked = {row.pk: row for row in Component.objects.select_for_update().order_by("pk")}
    component = locked[component.pk]
    if component.manual_status != status:
        component.manual_status = status
        component.save(update_fields=["manual_status"])
    components_recompute(actor=actor)
    page_version_bump()
    component.refresh_from_db()
    return component


# Incident events that can change which components an incident moves.
_MOVING_KINDS = {
    EventKind.DECLARED,
    EventKind.PUBLISHED,
    EventKind.STATUS_CHANGED,
    EventKind.SEVERITY_CHANGED,
    EventKind.IMPACT_CHANGED,
}


def incident_event_handle(*, event: TimelineEvent) -> None:
    """Reacts to a new incident timeline event (registered in StatuspageConfig.ready), inside the
    transaction that wrote it: moves components and tells subscribers."""
    if event.kind == EventKind.COMPONENT_STATUS:
        return
    page_version_bump()
    if event.kind in _MOVING_KINDS:
        changes = components_recompute(incident=event.incident, actor=event.actor)
        if changes:
            labels = dict(ComponentStatus.choices)
            incident_services.incident_event_record(
                incident=event.incident,
                kind=EventKind.COMPONENT_STATUS,
                actor=event.actor,
                text="Status page: "
                + "; ".join(f"{change.component.name} {labels[change.status].lower()}" for change in changes),
                data={
                    "components": [
                        {"component": c.component_id, "from": c.previous_status, "to": c.status} for c in changes
                    ]
                },
            )
    _subscribers_notify(event=event)


# --- Maintenance -------------------------------------------------------------------------------


@transaction.atomic
def maintenance_window_schedule(
    *,
    title: str,
    starts_at: datetime,
    ends_at: datetime,
    components: list[Component],
    description: str = "",
    short_notice: bool = False,
) -> MaintenanceWindow:
    """Plan maintenance. The seeds announce it 72 hours ahead; `short_notice` allows less."""
    now = timezone.now()
    title = single_line(title)
    if not title:
        raise ValidationError({"title": errors.TITLE_REQUIRED})
    if ends_at <= starts_at:
        raise ValidationError({"ends_at": errors.MAINTENANCE_ENDS_BEFORE_START})
    if not short_notice and starts_at < now + MAINTENANCE_NOTICE:
        raise ValidationError({"starts_at": errors.MAINTENANCE_NOTICE_TOO_SHORT})
    window = MaintenanceWindow.objects.create(
        title=title, description=description.strip(), starts_at=starts_at, ends_at=ends_at, created_at=now
    )
    window.components.set(components)
    page_version_bump()
    return window


# --- Subscribers -------------------------------------------------------------------------------


def _absolute(path: str) -> str:
    return f"{settings.SITE_URL}{path}"


def _unsubscribe_footer(subscriber: Subscriber) -> str:
    url = _absolute(reverse("statuspage:unsubscribe", kwargs={"token": subscriber.unsubscribe_token}))
    return f"\n\n--\nYou get this because you subscribed to status updates.\nUnsubscribe: {url}\n"


@transaction.atomic
def subscriber_subscribe(*, email: str, client_ip: str | None = None) -> Subscriber:
    """Record the address and mail it a confirmation link (double opt-in). Subscribing again
    before confirming sends a new link, at most one an hour per address (the earlier link stays
    valid meanwhile); a confirmed address is left as it is and told nothing, so the form never
    reveals who subscribed. A client address (`client_ip`, the web form's) causes at most
    STATUS_SUBSCRIBE_PER_IP_PER_HOUR confirmation mails an hour; past that the request is refused.
    Both limits are kept in PostgreSQL: a stranger cannot mail-bomb an address, and a Redis outage
    lifts neither."""
    email = email.strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        raise ValidationError({"email": errors.BAD_EMAIL}) from None
    now = timezone.now()
    hour_ago = now - timedelta(hours=1)
    subscriber, created = Subscriber.objects.select_for_update().get_or_create(
        email=email, defaults={"created_at": now}
    )
    if subscriber.is_confirmed:
        return subscriber
    if subscriber.confirmation_sent_at is not None and subscriber.confirmation_sent_at > hour_ago:
        return subscriber
    if client_ip is not None:
        ConfirmationSent.objects.filter(sent_at__lte=hour_ago).delete()
        if ConfirmationSent.objects.filter(client_ip=client_ip).count() >= settings.STATUS_SUBSCRIBE_PER_IP_PER_HOUR:
            raise ValidationError({"email": errors.TOO_MANY_SUBSCRIPTIONS})
        ConfirmationSent.objects.create(client_ip=client_ip, sent_at=now)
    if not created:
        subscriber.confirm_token = Subscriber._meta.get_field("confirm_token").default()
    subscriber.confirmation_sent_at = now
    subscriber.save(update_fields=["confirm_token", "confirmation_sent_at"])
    url = _absolute(reverse("statuspage:confirm", kwargs={"token": subscriber.confirm_token}))
    notification_services.messages_send(
        outgoing=[
            Outgoing(
                dedup_key=f"statuspage:confirm:{subscriber.pk}:{subscriber.confirm_token}",
                topic="status page",
                subject="Confirm your subscription to status updates",
                body_text=f"Please confirm that you want status updates by email:\n{url}\n\n"
                "If you did not ask for this, ignore this message: nothing will be sent."
                + _unsubscribe_footer(subscriber),
                link=url,
                emails=[subscriber.email],
            )
        ],
        now=now,
    )
    return subscriber


@transaction.atomic
def subscriber_confirm(*, token: str) -> Subscriber:
    subscriber = Subscriber.objects.select_for_update().filter(confirm_token=token).first()
    if subscriber is None:
        raise ValidationError(errors.INVALID_LINK)
    if subscriber.confirmed_at is None:
        subscriber.confirmed_at = timezone.now()
        subscriber.save(update_fields=["confirmed_at"])
    return subscriber


@transaction.atomic
def subscriber_unsubscribe(*, token: str) -> None:
    deleted, _ = Subscriber.objects.filter(unsubscribe_token=token).delete()
    if not deleted:
        raise ValidationError(errors.INVALID_LINK)


def _subscriber_message(event: TimelineEvent) -> tuple[str, str] | None:
    """(subject, text) subscribers are told for this event, or None. Only published incidents of
    a severity the page shows, under their public name, and of their updates only the public ones."""
    incident = event.incident
    if not (incident.severity.show_on_status_page and incident.is_published):
        return None
    page = _absolute(reverse("statuspage:page"))
    name = selectors.incident_public_name(incident=incident)
    investigating = f"Investigating: {name}", f"We are investigating an incident: {name}\n\n{page}"
    if event.kind == EventKind.PUBLISHED and incident.is_active:
        # Published with a public update: the update's own mail says it.
        return None if event.data.get("by_update") else investigating
    if event.kind == EventKind.SEVERITY_CHANGED and incident.is_active:
        # Raised into a severity the status page shows: new to the public.
        was_public = SeverityPolicy.objects.filter(key=event.data.get("from"), show_on_status_page=True).exists()
        return None if was_public else investigating
    if event.kind == EventKind.STATUS_CHANGED and event.data.get("to") == IncidentStatus.RESOLVED:
        return f"Resolved: {name}", f"This incident has been resolved: {name}\n\n{page}"
    update = event.status_update
    if event.kind == EventKind.STATUS_UPDATE and update is not None and update.visibility == UpdateVisibility.PUBLIC:
        lines = [f"{update.get_status_display()}: {name}", "", update.progress]
        if update.next_steps:
            lines += ["", f"Next steps: {update.next_steps}"]
        if update.eta:
            lines += ["", f"ETA: {update.eta}"]
        return f"{update.get_status_display()}: {name}", "\n".join([*lines, "", page])
    return None


def _subscribers_notify(*, event: TimelineEvent) -> None:
    message = _subscriber_message(event)
    if message is None:
        return
    subject, text = message
    subscribers = list(Subscriber.objects.filter(confirmed_at__isnull=False))
    notification_services.messages_send(
        outgoing=[
            Outgoing(
                dedup_key=f"statuspage:event:{event.pk}:subscriber:{subscriber.pk}",
                topic="status page",
                subject=f"[Status] {subject}",
                body_text=text + _unsubscribe_footer(subscriber),
                link=_absolute(reverse("statuspage:page")),
                payload={"event": "statuspage.notice", "incident_id": event.incident_id},
                emails=[subscriber.email],
            )
            for subscriber in subscribers
        ]
    )


@transaction.atomic
def status_page_configuration_changed(*, actor: AbstractBaseUser | None = None) -> None:
    """Components, groups, the severity impact mapping, maintenance or the page's look were edited
    (in the admin): recompute the components and render the page again."""
    components_recompute(actor=actor)
    page_version_bump()


# --- Demo data ---------------------------------------------------------------------------------

DEMO_GROUPS = {"Customer-facing": ["api", "checkout", "authentication", "search"], "Infrastructure": ["database"]}


@transaction.atomic
def demo_data_load() -> None:
    """Components for the demo service catalog, grouped, and a maintenance window announced ahead.
    Idempotent: what is there is kept."""
    from incidents.models import Service

    for position, (group_name, slugs) in enumerate(DEMO_GROUPS.items()):
        group, _ = ComponentGroup.objects.get_or_create(name=group_name, defaults={"position": position})
        for index, service in enumerate(Service.objects.filter(slug__in=slugs).order_by("name")):
            Component.objects.get_or_create(
                name=service.name, defaults={"service": service, "group": group, "position": index}
            )
    if not MaintenanceWindow.objects.exists():
        start = (timezone.now() + timedelta(days=4)).replace(hour=2, minute=0, second=0, microsecond=0)
        maintenance_window_schedule(
            title="Database failover drill",
            description="The primary database moves to its replica; writes may pause for up to a minute.",
            starts_at=start,
            ends_at=start + timedelta(hours=1),
            components=list(Component.objects.filter(service__slug__in=["database", "api"])),
        )
    components_recompute()
