"""The status-update reminder ladder: the sweep records every step that has come due, the
fan-out tells its people. Incidents decide who is told what and when; the notifications app
delivers (in-app, email, webhook) and knows nothing of incidents."""

from collections.abc import Iterable
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import F, prefetch_related_objects
from django.utils import timezone

from config.bulk import insert_rows, update_datetime_column
from config.versions import INCIDENTS, version_bump
from core import fan_out
from core.permissions import people_q
from incidents import registry
from incidents.messages import (
    channels_label,
    incident_url,
    incident_webhooks,
    names,
    reminder_text,
    webhook_labels,
)
from incidents.models import EventKind, Incident, Reminder, ReminderStep, SeverityPolicy, TimelineEvent
from incidents.selectors import visible_incidents
from notifications import selectors as notification_selectors
from notifications import services as notification_services
from notifications.services import Outgoing


def _ladder(severity: SeverityPolicy) -> list[tuple[int, int]]:
    """(step, percent of the cadence past the due time), in the order they fire."""
    return [
        (ReminderStep.DUE, 0),
        (ReminderStep.RESPONDERS, severity.escalate_responders_after_percent),
        (ReminderStep.CONTACTS, severity.escalate_contacts_after_percent),
    ]


def _step_at(due: datetime, cadence: timedelta, percent: int) -> datetime:
    return due + cadence * percent / 100


def _escalation_contacts(severity: SeverityPolicy) -> list[AbstractBaseUser]:
    people = {user.pk: user for user in severity.escalation_users.all() if user.is_active}
    for group in severity.escalation_groups.all():
        people.update({user.pk: user for user in group.user_set.all() if user.is_active})
    return list(people.values())


def _step_recipients(
    incident: Incident,
    step: int,
    contacts: dict[int, list[AbstractBaseUser]],
    responders: list[AbstractBaseUser],
    stand_ins: list[AbstractBaseUser] | None = None,
) -> tuple[list[AbstractBaseUser], list[tuple[str, str]]]:
    # A lead that is not a person (the alerts account) hands its reminders to its stand-ins: whoever
    # is on call for the incident's services (incidents.registry.register_reminder_stand_ins).
    lead = [incident.lead] if not stand_ins else list(stand_ins)
    leads = list({user.pk: user for user in [*lead, incident.comms_lead] if user is not None}.values())
    if step == ReminderStep.DUE:
        return leads, []
    if step == ReminderStep.RESPONDERS:
        people = {user.pk: user for user in [*leads, *responders]}
        webhooks = incident_webhooks(incident)
        if incident.restricted:
            # Only the incident's own channel: the severity's is shared with people who may not see it.
            webhooks = [(url, kind) for url, kind in webhooks if url == incident.webhook_url]
        return list(people.values()), webhooks
    if incident.restricted:
        # A restricted incident does not exist for the contacts who may not see it (a query for
        # each, and only for restricted incidents, which are few).
        return [
            user for user in contacts[incident.severity_id] if visible_incidents(user).filter(pk=incident.pk).exists()
        ], []
    return contacts[incident.severity_id], []


SWEEP_FIELDS = (
    "id",
    "title",
    "severity_id",
    "status",
    "lead_id",
    "comms_lead_id",
    "declared_at",
    "last_update_at",
    "next_update_due_at",
    "webhook_url",
    "webhook_format",
    "restricted",
)

# Ladder steps go to the workers in batches: a few hundred people told per task.
FAN_OUT_BATCH = 100


def reminders_sweep(*, now: datetime | None = None) -> int:
    """Record every escalation-ladder step that has come due, exactly once per (incident, due time,
    step), plan when each incident next needs the sweep, and hand the recorded steps to the
    workers, which tell the people (reminders_fan_out).

    Incidents are claimed with SELECT … FOR UPDATE SKIP LOCKED, so sweeps running side by side
    never take the same incident; a step is recorded (under its unique constraint) before anyone
    is told, and handed over only after commit. The sweep writes two rows per step and renders
    nothing, so it stays short however many incidents come due at once; its number of queries
    does not grow with them. Returns how many ladder steps it recorded."""
    now = now or timezone.now()
    with transaction.atomic():
        # Recorded steps whose hand-over to the workers was lost go again (core.fan_out).
        _fan_out_after_commit(fan_out.untold_ids(Reminder.objects.all(), recorded_field="sent_at", now=now))
        incidents = list(
            Incident.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(next_reminder_at__lte=now)
            .only("id", "severity_id", "status", "next_update_due_at")
            .order_by("next_reminder_at")
        )
        if not incidents:
            return 0
        policies = SeverityPolicy.objects.in_bulk({incident.severity_id for incident in incidents})
        already = set(
            Reminder.objects.filter(
                incident__next_reminder_at__lte=now, due_at=F("incident__next_update_due_at")
            ).values_list("incident_id", "due_at", "step")
        )
        reminders: list[tuple] = []
        next_at: dict[int, datetime | None] = {}
        for incident in incidents:
            severity = policies[incident.severity_id]
            due, cadence = incident.next_update_due_at, severity.update_cadence
            next_at[incident.pk] = None
            if due is None or cadence is None or not incident.is_active:
                continue
            for step, percent in _ladder(severity):
                at = _step_at(due, cadence, percent)
                if at > now:
                    next_at[incident.pk] = at
                    break
                if (incident.pk, due, step) not in already:
                    reminders.append((incident.pk, due, step, now))
        # The unique constraint is the last guard: a duplicate step fails the whole sweep.
        reminder_ids = insert_rows(Reminder, ["incident", "due_at", "step", "sent_at"], reminders)
        update_datetime_column(Incident, "next_reminder_at", next_at)
        _fan_out_after_commit(reminder_ids)
    return len(reminders)


def _stand_ins(incidents: Iterable[Incident], now: datetime) -> dict[int, list[AbstractBaseUser]]:
    """Who takes the reminders of each incident whose lead is not a person (core.permissions)."""
    incidents = list(incidents)
    lead_ids = {incident.lead_id for incident in incidents}
    people = set(get_user_model().objects.filter(pk__in=lead_ids).filter(people_q()).values_list("pk", flat=True))
    led_by_no_one = [incident.pk for incident in incidents if incident.lead_id not in people]
    if not led_by_no_one:
        return {}
    return registry.reminder_stand_ins(incident_ids=led_by_no_one, at=now)


def _fan_out_after_commit(reminder_ids: list[int]) -> None:
    if not reminder_ids:
        return
    from incidents.tasks import fan_out_reminders

    def queue() -> None:
        for start in range(0, len(reminder_ids), FAN_OUT_BATCH):
            batch = reminder_ids[start : start + FAN_OUT_BATCH]
            fan_out_reminders.apply_async((batch,), argsrepr=f"({len(batch)} ladder steps {batch[0]}…)")

    # robust: with the broker down the write stands and the answer is not an error; a sweep
    # queues the work again once the broker is back.
    transaction.on_commit(queue, robust=True)


def reminders_fan_out(*, reminder_ids: Iterable[int] | None = None, now: datetime | None = None) -> int:
    """Tell the people of recorded ladder steps that nobody has told yet (all of them, or those of
    `reminder_ids`): one message per step through each person's channels, and the step on the
    incident's timeline with who was told, by which channel and when. Steps are locked and
    marked told in the same transaction, so two workers never tell the same step. The number of
    queries does not grow with the number of steps. Returns how many steps were told."""
    now = now or timezone.now()
    with transaction.atomic():
        rows = Reminder.objects.select_for_update(skip_locked=True).filter(told_at__isnull=True)
        if reminder_ids is not None:
            rows = rows.filter(pk__in=list(reminder_ids))
        steps = list(rows.order_by("pk").values_list("pk", "incident_id", "due_at", "step", "sent_at"))
        if not steps:
            return 0
        incident_ids = {incident_id for _, incident_id, _, _, _ in steps}
        # Only the fields a reminder needs, and every policy and person loaded once rather than once
        # per step: with thousands of steps, building model instances is most of the work.
        incidents = Incident.objects.only(*SWEEP_FIELDS).in_bulk(incident_ids)
        responder_ids: dict[int, list[int]] = {}
        for incident_id, user_id in Incident.responders.through.objects.filter(
            incident_id__in=incident_ids
        ).values_list("incident_id", "user_id"):
            responder_ids.setdefault(incident_id, []).append(user_id)
        people = get_user_model().objects.in_bulk(
            {user_id for ids in responder_ids.values() for user_id in ids}
            | {incident.lead_id for incident in incidents.values() if incident.lead_id}
            | {incident.comms_lead_id for incident in incidents.values() if incident.comms_lead_id}
        )
        policies = SeverityPolicy.objects.in_bulk({incident.severity_id for incident in incidents.values()})
        prefetch_related_objects(list(policies.values()), "escalation_users", "escalation_groups__user_set")
        contacts = {policy.pk: _escalation_contacts(policy) for policy in policies.values()}
        stand_ins = _stand_ins(incidents.values(), now)
        for incident in incidents.values():
            incident.severity = policies[incident.severity_id]
            incident.lead = people.get(incident.lead_id)
            incident.comms_lead = people.get(incident.comms_lead_id)
        responders = {
            incident_id: [people[user_id] for user_id in ids if user_id in people]
            for incident_id, ids in responder_ids.items()
        }
        events: list[tuple] = []
        told: list[tuple] = []
        outgoing: list[Outgoing] = []
        urls: dict[int, str] = {}
        for _, incident_id, due, step, recorded in steps:
            incident = incidents[incident_id]
            if incident_id not in urls:
                urls[incident_id] = incident_url(incident)
            url = urls[incident_id]
            users, webhooks = _step_recipients(
                incident, step, contacts, responders.get(incident_id, []), stand_ins.get(incident_id)
            )
            subject, body = reminder_text(incident, step, due, recorded, url)
            outgoing.append(
                Outgoing(
                    dedup_key=f"incident:{incident_id}:update-due:{due.isoformat()}:step-{step}",
                    topic=incident.reference,
                    subject=subject,
                    body_text=body,
                    link=f"{url}#update-form",
                    payload={
                        "event": "incident.update_reminder",
                        "incident_id": incident_id,
                        "reference": incident.reference,
                        "step": step,
                        "due_at": due.isoformat(),
                    },
                    recipients=users,
                    webhooks=webhooks,
                )
            )
            told.append((incident_id, step, due, users, webhooks))
        # People's own webhooks are told too (notifications): named by their host, as the others.
        own_hosts = notification_selectors.personal_webhook_hosts(
            user_ids={user.pk for _, _, _, users, _ in told for user in users}
        )
        for incident_id, step, due, users, webhooks in told:
            hosts = webhook_labels(webhooks) + sorted({own_hosts[u.pk] for u in users if u.pk in own_hosts})
            events.append(
                (
                    incident_id,
                    EventKind.REMINDER,
                    now,
                    now,
                    f"{ReminderStep(step).label}: {names(users)} by {channels_label(users, hosts)}",
                    "",
                    {"step": step, "due_at": due.isoformat(), "recipients": [u.id for u in users], "webhooks": hosts},
                    False,
                )
            )
        insert_rows(
            TimelineEvent,
            ["incident", "kind", "recorded_at", "occurred_at", "text", "body", "data", "starred"],
            events,
        )
        # Not `writes`: the fan-out runs after every sweep; it returned above when nothing was due.
        version_bump(INCIDENTS)
        Reminder.objects.filter(pk__in=[pk for pk, _, _, _, _ in steps]).update(told_at=now)
        notification_services.messages_send(outgoing=outgoing, now=now)
    return len(steps)
