"""Paging: an incident declared by an alert, or by a person for a service whose team is not on it
yet, pages that team's escalation policy level by level until someone acknowledges.

Pages ride the reminders' engine: the reminders' beat runs escalations_sweep (incidents.registry),
which records each due level's pages under their unique constraint before anyone is told, and
hands them to a worker after commit (pages_fan_out), which tells each person through their
channels (notifications: in-app, email) with a stable dedup key, so delivery is at least once and
a page is never repeated. Pages recorded but not told (a lost task, a killed worker) are handed
over again by the next sweep."""

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Prefetch
from django.utils import timezone

from core import fan_out
from incidents import services as incident_services
from incidents.messages import channels_label, incident_url, names, user_label
from incidents.models import EventKind, Incident, IncidentStatus, Team, TimelineEvent
from incidents.selectors import visible_incidents
from notifications import selectors as notification_selectors
from notifications import services as notification_services
from notifications.services import Outgoing
from oncall import selectors as oncall_selectors
from paging import errors, links, messages
from paging.models import Escalation, EscalationLevel, EscalationPolicy, Page

logger = logging.getLogger(__name__)

SWEEP_BATCH = 500


# --- Starting and stopping -----------------------------------------------------------------------


def incident_event_handle(*, event: TimelineEvent) -> None:
    """Runs inside the transaction of every timeline event (incidents.registry)."""
    incident = event.incident
    if event.kind == EventKind.DECLARED:
        _escalations_start(incident=incident, now=event.recorded_at)
    elif event.kind == EventKind.IMPACT_CHANGED and "affected_services" in event.data.get("fields", []):
        # A service added to an open incident pages its team when none of it is on the incident
        # yet and it was not paged already (one escalation per incident and policy).
        if incident.is_active:
            _escalations_start(incident=incident, now=event.recorded_at, actor=event.actor, services_added=True)
    elif event.kind in (EventKind.MILESTONE_SET, EventKind.STATUS_CHANGED, EventKind.STATUS_UPDATE):
        if event.kind == EventKind.MILESTONE_SET and event.data.get("acknowledged_by"):
            Page.objects.filter(
                incident=incident, user_id=event.data["acknowledged_by"], acknowledged_at__isnull=True
            ).update(acknowledged_at=event.recorded_at)
        if incident.acknowledged_at is not None or incident.status == IncidentStatus.RESOLVED:
            reason = "resolved" if incident.status == IncidentStatus.RESOLVED else "acknowledged"
            _escalations_stop(incident=incident, now=event.recorded_at, reason=reason, actor=event.actor)


def _escalations_start(
    *, incident: Incident, now: datetime, actor: AbstractBaseUser | None = None, services_added: bool = False
) -> None:
    """Page the policy of each affected service's team, unless one of the team is already on the
    incident (the lead, the comms lead, a responder, or the person adding the service, who joins
    it) or was paged for it already: a person who declares for their own service pages nobody;
    the alerts account is nobody's team-mate, so an alert always pages."""
    teams = list(
        Team.objects.filter(services__in=incident.affected_services.all(), escalation_policy__isnull=False)
        .select_related("escalation_policy")
        .distinct()
    )
    if not teams:
        return
    on_it = {
        incident.lead_id,
        incident.comms_lead_id,
        getattr(actor, "pk", None),
        *incident.responders.values_list("pk", flat=True),
    } - {None}
    teams_on_it = set(
        Team.members.through.objects.filter(team__in=teams, user_id__in=on_it).values_list("team_id", flat=True)
    )
    started = []
    for team in teams:
        if team.pk in teams_on_it:
            continue
        escalation, created = Escalation.objects.get_or_create(
            incident=incident, policy=team.escalation_policy, defaults={"started_at": now, "next_at": now}
        )
        if created:
            started.append(escalation)
    if started and services_added:
        teams_paged = ", ".join(escalation.policy.team.name for escalation in started)
        incident_services.incident_event_record(
            incident=incident,
            kind=EventKind.PAGE,
            actor=None,
            text=f"Service added: paging {teams_paged}, not on the incident yet",
            data={"services_added": True, "policies": [escalation.policy_id for escalation in started]},
        )
    page_ids = []
    for escalation in started:
        # The first level is paged at once, not at the next beat: it is 3 a.m. and every second counts.
        page_ids += _escalation_advance(escalation=escalation, incident=incident, now=now)
    _fan_out_after_commit(page_ids)


def _escalations_stop(*, incident: Incident, now: datetime, reason: str, actor: AbstractBaseUser | None) -> None:
    stopped = Escalation.objects.filter(incident=incident, stopped_at__isnull=True).update(
        stopped_at=now, next_at=None, stop_reason=reason
    )
    if stopped:
        incident_services.incident_event_record(
            incident=incident,
            kind=EventKind.PAGE,
            actor=actor,
            text=f"Paging stopped: {reason}"
            + (f" by {user_label(actor)}" if actor and reason == "acknowledged" else ""),
            data={"stopped": reason},
        )


# --- Paging one level ----------------------------------------------------------------------------


def _levels(policy: EscalationPolicy) -> list[EscalationLevel]:
    return list(
        policy.levels.select_related("schedule").prefetch_related(
            Prefetch("users", queryset=get_user_model().objects.filter(is_active=True))
        )
    )


def level_targets(
    *, level: EscalationLevel, policy: EscalationPolicy, incident: Incident, at: datetime
) -> tuple[list[AbstractBaseUser], bool]:
    """Who a level pages at `at`: whoever its schedule puts on call and its named people; when that
    is nobody, the policy's fallback contact. A restricted incident pages only people who may see
    it. Returns (people, whether they are the fallback)."""
    people: dict[int, AbstractBaseUser] = {}
    if level.schedule_id:
        people.update({user.pk: user for user in oncall_selectors.on_call_at(schedule=level.schedule, at=at)})
    people.update({user.pk: user for user in level.users.all()})
    fallback = False
    if not people and policy.fallback_contact_id and policy.fallback_contact.is_active:
        people, fallback = {policy.fallback_contact_id: policy.fallback_contact}, True
    found = [user for user in people.values() if user.is_active]
    if incident.restricted:
        found = [user for user in found if visible_incidents(user).filter(pk=incident.pk).exists()]
    return found, fallback


def _escalation_advance(*, escalation: Escalation, incident: Incident, now: datetime) -> list[int]:
    """Record the pages of the escalation's next level and plan the one after; returns the ids of
    the pages recorded and not yet told."""
    policy = escalation.policy
    levels = _levels(policy)
    over = "the policy has no levels" if not levels else ""
    if escalation.next_round > policy.repeat:
        over = "every level paged"
    if over:
        escalation.stopped_at, escalation.next_at, escalation.stop_reason = now, None, over
        escalation.save(update_fields=["stopped_at", "next_at", "stop_reason"])
        return []
    index = min(escalation.next_index, len(levels) - 1)
    level, round_ = levels[index], escalation.next_round
    people, fallback = level_targets(level=level, policy=policy, incident=incident, at=now)
    # The unique constraint is the promise: a person is paged once per (incident, level, round),
    # whichever sweep, escalation or policy asks.
    Page.objects.bulk_create(
        [
            Page(
                incident=incident,
                escalation=escalation,
                level=level.position,
                round=round_,
                user=user,
                fallback=fallback,
                recorded_at=now,
            )
            for user in people
        ],
        ignore_conflicts=True,
    )
    if not people:
        incident_services.incident_event_record(
            incident=incident,
            kind=EventKind.PAGE,
            actor=None,
            text=f"Nobody to page at level {level.position} of {policy.name}: nobody on call and no fallback contact",
            data={"level": level.position, "round": round_, "policy": policy.pk},
        )
    if index + 1 < len(levels):
        escalation.next_index, escalation.next_round = index + 1, round_
    else:
        escalation.next_index, escalation.next_round = 0, round_ + 1
    # After the last level of the last round too: an acknowledgement within its delay still stops
    # a running escalation; only then is it over.
    escalation.next_at = now + timedelta(minutes=level.delay_minutes)
    escalation.save(update_fields=["next_index", "next_round", "next_at", "stopped_at", "stop_reason"])
    return list(
        Page.objects.filter(
            incident=incident, level=level.position, round=round_, user__in=people, told_at__isnull=True
        ).values_list("pk", flat=True)
    )


def escalations_sweep(*, now: datetime | None = None) -> int:
    """Page every level that has come due (its previous level's delay has passed without an
    acknowledgement) and hand untold pages to the workers again. Escalations are claimed with
    SELECT … FOR UPDATE SKIP LOCKED, so sweeps running side by side never take the same one, and
    each page is recorded under its unique constraint before anyone is told. Returns how many
    pages it recorded."""
    now = now or timezone.now()
    with transaction.atomic():
        # Recorded pages whose hand-over to the workers was lost go again (core.fan_out).
        _fan_out_after_commit(fan_out.untold_ids(Page.objects.all(), recorded_field="recorded_at", now=now))
        due = list(
            Escalation.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(stopped_at__isnull=True, next_at__lte=now)
            .select_related("policy", "policy__fallback_contact")
            .order_by("next_at")[:SWEEP_BATCH]
        )
        if not due:
            return 0
        incidents = Incident.objects.in_bulk({escalation.incident_id for escalation in due})
        page_ids: list[int] = []
        for escalation in due:
            incident = incidents[escalation.incident_id]
            if not incident.is_active or incident.acknowledged_at is not None:
                escalation.stopped_at, escalation.next_at = now, None
                escalation.stop_reason = "resolved" if not incident.is_active else "acknowledged"
                escalation.save(update_fields=["stopped_at", "next_at", "stop_reason"])
                continue
            page_ids += _escalation_advance(escalation=escalation, incident=incident, now=now)
        _fan_out_after_commit(page_ids)
    return len(page_ids)


# --- Telling -------------------------------------------------------------------------------------


def _fan_out_after_commit(page_ids: list[int]) -> None:
    if not page_ids:
        return
    from paging.tasks import fan_out_pages

    ids = list(page_ids)
    # robust: with the broker down the pages stand and the answer is not an error; the next sweep
    # hands them over again once the broker is back.
    transaction.on_commit(lambda: fan_out_pages.apply_async((ids,), argsrepr=f"({len(ids)} pages)"), robust=True)


def pages_fan_out(*, page_ids: Iterable[int] | None = None, now: datetime | None = None) -> int:
    """Tell the people of recorded pages nobody has told yet (all, or those of `page_ids`), each
    with their own acknowledge link, and put each level's pages on the timeline. The incidents are
    locked before their pages, in the order incident_acknowledge takes them, so an
    acknowledgement and a fan-out never deadlock; pages are marked told in the same transaction
    as their messages are recorded. Returns how many pages were told."""
    now = now or timezone.now()
    with transaction.atomic():
        untold = Page.objects.filter(told_at__isnull=True)
        if page_ids is not None:
            untold = untold.filter(pk__in=list(page_ids))
        incident_ids = sorted(set(untold.values_list("incident_id", flat=True)))
        if not incident_ids:
            return 0
        incidents = {
            incident.pk: incident
            for incident in Incident.objects.select_for_update(of=("self",))
            .filter(pk__in=incident_ids)
            .select_related("severity")
            .prefetch_related("affected_services")
            .order_by("pk")
        }
        pages = list(
            untold.select_for_update(skip_locked=True, of=("self",))
            .select_related("user", "escalation__policy")
            .order_by("pk")
        )
        if not pages:
            return 0
        delays = {
            (level.policy_id, level.position): level.delay_minutes
            for level in EscalationLevel.objects.filter(policy__in={page.escalation.policy_id for page in pages})
        }
        outgoing = []
        told: dict[tuple[int, int, int], list[AbstractBaseUser]] = {}
        channels: dict[tuple[int, int, int], tuple[EscalationPolicy, Incident, list[AbstractBaseUser]]] = {}
        for page in pages:
            page.incident = incidents[page.incident_id]
            url = links.acknowledge_url(page)
            delay = delays.get((page.escalation.policy_id, page.level))
            subject, body = messages.page_text(page, acknowledge_url=url, delay_minutes=delay)
            outgoing.append(
                Outgoing(
                    dedup_key=f"incident:{page.incident_id}:page:{page.pk}",
                    topic=page.incident.reference,
                    subject=subject,
                    body_text=body,
                    link=url,
                    payload={
                        "event": "incident.page",
                        "incident_id": page.incident_id,
                        "reference": page.incident.reference,
                        "level": page.level,
                        "round": page.round,
                        "acknowledge_url": url,
                    },
                    recipients=[page.user],
                )
            )
            told.setdefault((page.incident_id, page.level, page.round), []).append(page.user)
            rung = (page.escalation_id, page.level, page.round)
            if page.escalation.policy.webhook_url and not page.incident.restricted:
                channels.setdefault(rung, (page.escalation.policy, page.incident, []))[2].append(page.user)
        # The team's channel hears who is paged at each level, once per rung; never the personal
        # acknowledge links, and never of a restricted incident (the channel is shared).
        hooked: dict[tuple[int, int, int], str] = {}
        for (escalation_id, level, round_), (policy, incident, users) in channels.items():
            hooked[(incident.pk, level, round_)] = policy.webhook_host
            subject, body = messages.channel_text(incident, level=level, round_=round_, users=users)
            outgoing.append(
                Outgoing(
                    dedup_key=f"incident:{incident.pk}:page-channel:{escalation_id}:{level}:{round_}",
                    topic=incident.reference,
                    subject=subject,
                    body_text=body,
                    link=incident_url(incident),
                    payload={
                        "event": "incident.paged",
                        "incident_id": incident.pk,
                        "reference": incident.reference,
                        "level": level,
                        "round": round_,
                        "paged": [user.get_username() for user in users],
                    },
                    webhooks=[(policy.webhook_url, policy.webhook_format)],
                )
            )
        Page.objects.filter(pk__in=[page.pk for page in pages]).update(told_at=now)
        notification_services.messages_send(outgoing=outgoing, now=now)
        # People's own webhooks are named by their host too, never by their URL.
        own_hosts = notification_selectors.personal_webhook_hosts(user_ids={page.user_id for page in pages})
        for (incident_id, level, round_), users in told.items():
            host = hooked.get((incident_id, level, round_))
            hosts = sorted({own_hosts[user.pk] for user in users if user.pk in own_hosts} | ({host} if host else set()))
            webhooks = [(name, "") for name in hosts]
            incident_services.incident_event_record(
                incident=incidents[incident_id],
                kind=EventKind.PAGE,
                actor=None,
                text=f"Paged (level {level}, round {round_ + 1}): {names(users)} by {channels_label(users, webhooks)}",
                data={
                    "level": level,
                    "round": round_,
                    "recipients": [user.pk for user in users],
                    "webhooks": hosts,
                },
            )
    return len(pages)


# --- Acknowledging by link -----------------------------------------------------------------------


@dataclass(frozen=True)
class LinkOutcome:
    acknowledged: bool
    message: str


@transaction.atomic
def page_acknowledge(*, page: Page, now: datetime | None = None) -> LinkOutcome:
    """The page's person acknowledges its incident through the page's link, which works once:
    the first acknowledgement stops the escalation and hands a system account's lead to them."""
    now = now or timezone.now()
    # The incident before the page, as incident_acknowledge and the fan-out lock them.
    incident = Incident.objects.select_for_update().get(pk=page.incident_id)
    page = Page.objects.select_for_update().select_related("user").get(pk=page.pk)
    if page.link_used_at is not None:
        raise ValidationError(errors.LINK_USED, code="used")
    Page.objects.filter(pk=page.pk).update(link_used_at=now)
    try:
        incident_services.incident_acknowledge(incident=incident, actor=page.user)
    except ValidationError as refusal:
        return LinkOutcome(False, refusal.messages[0])
    return LinkOutcome(True, "Acknowledged: the escalation stops.")


# --- Reminders: stand-ins for a lead that is not a person ----------------------------------------


def reminder_stand_ins(*, incident_ids: list[int], at: datetime) -> dict[int, list[AbstractBaseUser]]:
    """Whoever is on call at `at` for each incident's services (the fallback contact of their
    team's policy when nobody is), only among those who may see a restricted incident."""
    links_ = list(Incident.affected_services.through.objects.filter(incident_id__in=incident_ids))
    if not links_:
        return {}
    services = {link.service_id for link in links_}
    from incidents.models import Service

    catalog = Service.objects.in_bulk(services)
    on_call = oncall_selectors.on_call_for_services(services=list(catalog.values()), at=at)
    fallbacks = {
        policy.team_id: policy.fallback_contact
        for policy in EscalationPolicy.objects.filter(
            team__services__in=services, fallback_contact__is_active=True
        ).select_related("fallback_contact")
    }
    restricted = set(Incident.objects.filter(pk__in=incident_ids, restricted=True).values_list("pk", flat=True))
    found: dict[int, dict[int, AbstractBaseUser]] = {}
    for link in links_:
        people = on_call.get(link.service_id) or []
        if not people:
            fallback = fallbacks.get(catalog[link.service_id].owner_team_id)
            people = [fallback] if fallback else []
        for user in people:
            if link.incident_id in restricted and not visible_incidents(user).filter(pk=link.incident_id).exists():
                continue
            found.setdefault(link.incident_id, {})[user.pk] = user
    return {incident_id: list(users.values()) for incident_id, users in found.items()}
