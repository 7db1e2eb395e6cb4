"""Every write to an incident goes through here: validate, change, record the timeline event, in
one transaction. Views, admin actions, the API and tasks call these functions; nothing else saves
a domain model. The update-reminder ladder is in reminders.py, the severity policy in policy.py,
and the texts people are sent in messages.py."""

import logging
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.text import slugify

from config.versions import INCIDENTS, atomic_bumping
from core.formatting import humanize_delta, utc_clock
from core.outbound import url_host
from core.permissions import is_person, sees_restricted
from core.text import single_line
from incidents import errors, messages, registry, selectors
from incidents.models import (
    ApiToken,
    DraftState,
    DueOutcome,
    EventKind,
    Incident,
    IncidentStatus,
    SeverityPolicy,
    StatusUpdate,
    Team,
    TimelineEvent,
    UpdateDraft,
    UpdateDue,
    UpdateVisibility,
)
from notifications import services as notification_services
from notifications.models import Delivery
from notifications.services import Outgoing

logger = logging.getLogger(__name__)

# Every write's transaction: it also tells the cached incident pages that incidents changed.
writes = atomic_bumping(INCIDENTS)

MILESTONES = {
    "detected_at": "Detected",
    "acknowledged_at": "Acknowledged",
    "mitigated_at": "Mitigated",
}


def _event(
    *,
    incident: Incident,
    kind: str,
    actor: AbstractBaseUser | None,
    text: str,
    now: datetime,
    occurred_at: datetime | None = None,
    body: str = "",
    data: dict | None = None,
    status_update: StatusUpdate | None = None,
) -> TimelineEvent:
    event = TimelineEvent.objects.create(
        incident=incident,
        kind=kind,
        actor=actor,
        recorded_at=now,
        occurred_at=occurred_at or now,
        text=text,
        body=body,
        data=data or {},
        status_update=status_update,
    )
    for handler in _event_handlers():
        handler(event=event)
    return event


def _event_handlers() -> list:
    """The apps that build on incidents (postmortems, the status page, outbound webhooks) react to
    timeline events through handlers they register (incidents.registry), so incidents never imports
    them. A handler runs inside the writing transaction: what it writes commits or rolls back with
    the event."""
    return registry.event_handlers()


def _locked(incident: Incident) -> Incident:
    """Re-read the incident under a row lock so concurrent responders never overwrite each other.

    No join here: PostgreSQL re-checks a waiting FOR UPDATE against the row another transaction
    just committed, and with a join on the severity it drops the row when that transaction changed
    the severity, so the second responder would be told the incident does not exist."""
    return Incident.objects.select_for_update().get(pk=incident.pk)


def _join_as_responder(*, incident: Incident, actor: AbstractBaseUser | None, now: datetime) -> None:
    """A person who acts on an incident without a role becomes one of its responders, so the
    reminders and the timeline count them in. System accounts (the alerts account) never do."""
    if actor is None or actor.pk in (incident.lead_id, incident.comms_lead_id) or not is_person(actor):
        return
    if incident.responders.filter(pk=actor.pk).exists():
        return
    incident.responders.add(actor)
    _event(
        incident=incident,
        kind=EventKind.ROLE_ASSIGNED,
        actor=actor,
        now=now,
        text=f"Joined as a responder: {messages.user_label(actor)}",
        data={"role": "responders", "added": [actor.pk], "removed": [], "joined": True},
    )


PLAN_FIELDS = ["cadence_anchor_at", "next_update_due_at", "next_reminder_at"]


def _plan_next_update(incident: Incident, *, anchor: datetime | None) -> None:
    """Count the update cadence from `anchor` (None: the incident is resolved). The reminder sweep
    starts the escalation ladder at the due time."""
    if anchor is None:
        incident.next_update_due_at = None
        incident.next_reminder_at = None
        return
    incident.cadence_anchor_at = anchor
    cadence = incident.severity.update_cadence
    incident.next_update_due_at = None if cadence is None else anchor + cadence
    incident.next_reminder_at = incident.next_update_due_at


def _dues_record(incident: Incident, *, now: datetime) -> None:
    """Keep UpdateDue in step with incident.next_update_due_at after it was planned: the open due
    time, if it changed, is closed (replaced by the new one, or cleared) and the new one is
    recorded with the cadence it was set with. Insights measure the update cadence from these
    rows, so a later policy change never rewrites what was promised."""
    due = incident.next_update_due_at
    current = UpdateDue.objects.filter(incident=incident, outcome=DueOutcome.OPEN).first()
    if current is not None:
        if current.due_at == due:
            return
        current.outcome = DueOutcome.CLEARED if due is None else DueOutcome.SUPERSEDED
        current.closed_at = now
        current.save(update_fields=["outcome", "closed_at"])
    cadence = incident.severity.update_cadence_minutes
    if due is not None and cadence is not None:
        UpdateDue.objects.create(
            incident=incident, severity=incident.severity, due_at=due, cadence_minutes=cadence, set_at=now
        )


def _due_meet(incident: Incident, *, update: StatusUpdate, now: datetime) -> None:
    """A status update answers the open due time, on time or late."""
    UpdateDue.objects.filter(incident=incident, outcome=DueOutcome.OPEN).update(
        outcome=DueOutcome.MET, met_by=update, closed_at=now
    )


MAX_USERS_COUNT = 2**31 - 1


def _as_decimal(value: Decimal | int | float | None) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _validate_impact(*, percent: Decimal | None = None, count: int | None = None) -> None:
    if percent is not None and not (percent.is_finite() and 0 <= percent <= 100):
        raise ValidationError({"affected_users_percent": errors.PERCENT_OUT_OF_RANGE})
    if count is not None and not (0 <= count <= MAX_USERS_COUNT):
        raise ValidationError({"affected_users_count": errors.COUNT_OUT_OF_RANGE})


def _validate_lengths(model: type, **values: str) -> None:
    """Refuse text longer than its column with a message, rather than a database error."""
    for name, value in values.items():
        limit = model._meta.get_field(name).max_length
        if value is not None and limit is not None and len(value) > limit:
            raise ValidationError({name: errors.TOO_LONG.format(limit=limit)})


@writes
def incident_declare(
    *,
    declared_by: AbstractBaseUser,
    title: str,
    severity: SeverityPolicy,
    summary: str = "",
    detected_at: datetime | None = None,
    lead: AbstractBaseUser | None = None,
    comms_lead: AbstractBaseUser | None = None,
    responders: Iterable[AbstractBaseUser] = (),
    affected_services: Iterable = (),
    affected_users_count: int | None = None,
    affected_users_percent: Decimal | int | None = None,
    business_impact: str = "",
    data_integrity_concern: bool = False,
    security_concern: bool = False,
    public_title: str = "",
    public_summary: str = "",
    restricted: bool | None = None,
) -> Incident:
    """Open an incident in Investigating. The first status update is due one cadence after the
    declaration; the declarer leads unless someone else is named. It stays off the status page
    until published, unless its severity's policy publishes it at once."""
    now = timezone.now()
    title = single_line(title)
    public_title = single_line(public_title)
    if not title:
        raise ValidationError({"title": errors.TITLE_REQUIRED})
    detected_at = detected_at or now
    if detected_at > now:
        raise ValidationError({"detected_at": errors.DETECTED_IN_FUTURE})
    affected_users_percent = _as_decimal(affected_users_percent)
    _validate_impact(percent=affected_users_percent, count=affected_users_count)
    _validate_lengths(Incident, title=title, public_title=public_title)
    lead = lead or declared_by
    responders = list(responders)
    if restricted is None:
        restricted = security_concern and settings.RESTRICT_SECURITY_INCIDENTS
    incident = Incident.objects.create(
        title=title,
        summary=summary.strip(),
        public_title=public_title,
        public_summary=public_summary.strip(),
        restricted=restricted,
        severity=severity,
        status=IncidentStatus.INVESTIGATING,
        affected_users_count=affected_users_count,
        affected_users_percent=affected_users_percent,
        business_impact=business_impact.strip(),
        data_integrity_concern=data_integrity_concern,
        security_concern=security_concern,
        detected_at=detected_at,
        declared_at=now,
        lead=lead,
        comms_lead=comms_lead,
        declared_by=declared_by,
    )
    _plan_next_update(incident, anchor=now)
    incident.save(update_fields=PLAN_FIELDS)
    _dues_record(incident, now=now)
    incident.affected_services.set(list(affected_services))
    incident.responders.set(responders)
    _event(
        incident=incident,
        kind=EventKind.DECLARED,
        actor=declared_by,
        now=now,
        text=f"Declared as {severity.key} {severity.name}" + (", restricted" if restricted else ""),
        body=incident.summary,
        data={"severity": severity.key, "lead": lead.pk, "restricted": restricted},
    )
    if detected_at < now:
        _event(
            incident=incident,
            kind=EventKind.MILESTONE_SET,
            actor=declared_by,
            now=now,
            occurred_at=detected_at,
            text="Detected",
            data={"milestone": "detected_at", "at": detected_at.isoformat()},
        )
    if severity.publish_automatically and severity.show_on_status_page:
        _publish(incident=incident, actor=declared_by, now=now, how=f"automatically, per the {severity.key} policy")
    _stakeholders_notify(incident=incident, occasion="declared", now=now)
    _assignees_notify(
        incident=incident,
        actor=declared_by,
        now=now,
        assigned=[(lead, "lead"), (comms_lead, "comms_lead"), *((user, "responder") for user in responders)],
    )
    return incident


@writes
def incident_severity_change(
    *, incident: Incident, severity: SeverityPolicy, actor: AbstractBaseUser, reason: str = ""
) -> Incident:
    """Change severity and re-plan the next update from the last update (or the declaration, or
    the reopening) with the new cadence, so raising severity can make an update due at once."""
    incident = _locked(incident)
    if incident.severity_id == severity.pk:
        raise ValidationError({"severity": errors.SAME_SEVERITY})
    now = timezone.now()
    previous = incident.severity
    incident.severity = severity
    if incident.is_active:
        _plan_next_update(
            incident, anchor=incident.cadence_anchor_at or incident.last_update_at or incident.declared_at
        )
    incident.save(update_fields=["severity", *PLAN_FIELDS])
    _dues_record(incident, now=now)
    raised = severity.rank < previous.rank
    direction = "Raised" if raised else "Lowered"
    _event(
        incident=incident,
        kind=EventKind.SEVERITY_CHANGED,
        actor=actor,
        now=now,
        text=f"{direction} severity from {previous.key} to {severity.key}",
        body=reason.strip(),
        data={"from": previous.key, "to": severity.key},
    )
    _join_as_responder(incident=incident, actor=actor, now=now)
    if raised and incident.is_active:
        _stakeholders_notify(incident=incident, occasion="raised", now=now, previous=previous)
    return incident


def _apply_status(*, incident: Incident, status: str, actor: AbstractBaseUser, now: datetime) -> None:
    previous = incident.status
    incident.status = status
    fields = ["status", "resolved_at", "acknowledged_at", "mitigated_at", *PLAN_FIELDS]
    if status == IncidentStatus.RESOLVED:
        incident.resolved_at = now
        _plan_next_update(incident, anchor=None)
        incident.mitigated_at = incident.mitigated_at or now
    else:
        incident.resolved_at = None
        if previous == IncidentStatus.RESOLVED:
            # A reopened incident owes its first update one cadence from now.
            _plan_next_update(incident, anchor=now)
        if status != IncidentStatus.INVESTIGATING:
            incident.acknowledged_at = incident.acknowledged_at or now
        if status == IncidentStatus.MONITORING:
            incident.mitigated_at = incident.mitigated_at or now
    incident.save(update_fields=fields)
    _dues_record(incident, now=now)
    labels = dict(IncidentStatus.choices)
    if previous == IncidentStatus.RESOLVED:
        text = f"Reopened as {labels[status]}"
    elif status == IncidentStatus.RESOLVED:
        text = "Resolved"
    else:
        text = f"Status changed from {labels[previous]} to {labels[status]}"
    _event(
        incident=incident,
        kind=EventKind.STATUS_CHANGED,
        actor=actor,
        now=now,
        text=text,
        data={"from": previous, "to": status, "reopened": previous == IncidentStatus.RESOLVED},
    )
    if status == IncidentStatus.RESOLVED:
        _stakeholders_notify(incident=incident, occasion="resolved", now=now)


@writes
def incident_status_change(*, incident: Incident, status: str, actor: AbstractBaseUser) -> Incident:
    """Move through Investigating → Identified → Monitoring → Resolved; resolving stops the update
    cadence, reopening restarts it."""
    incident = _locked(incident)
    if status not in IncidentStatus.values:
        raise ValidationError({"status": errors.UNKNOWN_STATUS.format(values=", ".join(IncidentStatus.values))})
    if incident.status == status:
        raise ValidationError({"status": errors.SAME_STATUS})
    now = timezone.now()
    _apply_status(incident=incident, status=status, actor=actor, now=now)
    _join_as_responder(incident=incident, actor=actor, now=now)
    return incident


def _update_fields_check(*, incident: Incident, progress: str, status: str, eta: str) -> str:
    """The rules every status update's text follows, posted or drafted. Returns the progress."""
    progress = progress.strip()
    if not progress:
        raise ValidationError({"progress": errors.UPDATE_PROGRESS_REQUIRED})
    _validate_lengths(StatusUpdate, eta=eta.strip())
    if status not in IncidentStatus.values:
        raise ValidationError({"status": errors.UNKNOWN_STATUS.format(values=", ".join(IncidentStatus.values))})
    if not incident.is_active and status != incident.status:
        # A form left open while someone else resolved the incident still says Investigating:
        # posting it must not reopen the incident and put the status page back to an outage.
        raise ValidationError({"status": errors.UPDATE_WOULD_REOPEN.format(reference=incident.reference)})
    return progress


def update_needs_approval(*, incident: Incident, user: AbstractBaseUser) -> bool:
    """Whether a public update by `user` is only a draft: its severity's policy asks for approval
    and the user is not one who approves (the incident lead, the comms lead)."""
    return incident.severity.public_updates_need_approval and not may_publish(incident=incident, user=user)


@writes
def incident_update_post(
    *,
    incident: Incident,
    author: AbstractBaseUser,
    progress: str,
    status: str | None = None,
    next_steps: str = "",
    eta: str = "",
    visibility: str = UpdateVisibility.INTERNAL,
) -> StatusUpdate:
    """Post a status update. It may move the status too, but never out of Resolved (reopening is
    a status change of its own); the next update falls due one cadence of the current severity
    from now (none once resolved). A public update the severity policy wants approved is refused
    here: it goes through update_draft_create and update_draft_approve."""
    incident = _locked(incident)
    if visibility not in UpdateVisibility.values:
        raise ValidationError(
            {"visibility": errors.UNKNOWN_VISIBILITY.format(values=", ".join(UpdateVisibility.values))}
        )
    if visibility == UpdateVisibility.PUBLIC and update_needs_approval(incident=incident, user=author):
        raise ValidationError(
            {"visibility": errors.PUBLIC_UPDATE_NEEDS_APPROVAL.format(severity=incident.severity.key)}
        )
    return _update_post(
        incident=incident,
        author=author,
        progress=progress,
        status=status or incident.status,
        next_steps=next_steps,
        eta=eta,
        visibility=visibility,
    )


def _update_post(
    *,
    incident: Incident,
    author: AbstractBaseUser,
    progress: str,
    status: str,
    next_steps: str,
    eta: str,
    visibility: str,
    approval: dict | None = None,
) -> StatusUpdate:
    """Post an update on a locked incident; `approval` (drafted_by, approved_by, edited, …) when it
    publishes an approved draft, so its timeline event says who drafted and who approved."""
    progress = _update_fields_check(incident=incident, progress=progress, status=status, eta=eta)
    now = timezone.now()
    if visibility == UpdateVisibility.PUBLIC and not incident.is_published:
        # Posting a public update is how a responder publishes: the update is its first words.
        _publish(incident=incident, actor=author, now=now, how="with a public update", by_update=True)
    update = StatusUpdate.objects.create(
        incident=incident,
        author=author,
        posted_at=now,
        status=status,
        progress=progress,
        next_steps=next_steps.strip(),
        eta=eta.strip(),
        visibility=visibility,
    )
    # Met before the status moves: an update that resolves still answers the due time.
    _due_meet(incident, update=update, now=now)
    if status != incident.status:
        _apply_status(incident=incident, status=status, actor=author, now=now)
    incident.last_update_at = now
    incident.acknowledged_at = incident.acknowledged_at or now
    _plan_next_update(incident, anchor=now if incident.is_active else None)
    incident.save(update_fields=["last_update_at", "acknowledged_at", *PLAN_FIELDS])
    _dues_record(incident, now=now)
    text = f"{UpdateVisibility(visibility).label} status update"  # the timeline names the actor
    if approval is not None:
        text += f" drafted by {approval['drafted_by_name']}, approved" + (" with edits" if approval["edited"] else "")
    _event(
        incident=incident,
        kind=EventKind.STATUS_UPDATE,
        actor=author,
        now=now,
        text=text,
        body=progress,
        data={"status": status, "visibility": visibility}
        | ({k: v for k, v in approval.items() if k != "drafted_by_name"} if approval else {}),
        status_update=update,
    )
    _join_as_responder(incident=incident, actor=author, now=now)
    return update


# --- Public updates that need approval ---------------------------------------------------------


def update_draft_approvers(*, incident: Incident) -> list[AbstractBaseUser]:
    """Who is asked to approve a draft: the comms lead, or the incident lead when there is none
    (either may approve)."""
    return [incident.comms_lead or incident.lead]


@writes
def update_draft_create(
    *,
    incident: Incident,
    author: AbstractBaseUser,
    progress: str,
    status: str | None = None,
    next_steps: str = "",
    eta: str = "",
) -> UpdateDraft:
    """Draft a public status update for the incident lead or comms lead to approve. Nothing of it
    is public: it is on the (internal) timeline, and the comms lead (else the lead) is told."""
    incident = _locked(incident)
    status = status or incident.status
    progress = _update_fields_check(incident=incident, progress=progress, status=status, eta=eta)
    now = timezone.now()
    draft = UpdateDraft.objects.create(
        incident=incident,
        drafted_by=author,
        drafted_at=now,
        status=status,
        progress=progress,
        next_steps=next_steps.strip(),
        eta=eta.strip(),
    )
    _event(
        incident=incident,
        kind=EventKind.UPDATE_DRAFTED,
        actor=author,
        now=now,
        text="Drafted a public update for approval",
        body=progress,
        data={"draft": draft.pk, "status": status},
    )
    approvers = [user for user in update_draft_approvers(incident=incident) if user.pk != author.pk]
    if approvers:
        url = messages.incident_url(incident)
        notification_services.messages_send(
            outgoing=[
                Outgoing(
                    dedup_key=f"incident:{incident.pk}:draft:{draft.pk}",
                    topic=incident.reference,
                    subject=f"[{incident.severity.key}] {incident.reference}: a public update waits for your approval",
                    body_text="\n".join(
                        [
                            f"{messages.user_label(author)} drafted a public update for {incident.reference}. "
                            "Nothing of it is public until you approve it.",
                            "",
                            progress,
                            "",
                            f"Approve and publish, edit or discard it: {url}#update-drafts",
                        ]
                    ),
                    link=f"{url}#update-drafts",
                    payload={"event": "incident.update_drafted", "incident_id": incident.pk, "draft": draft.pk},
                    recipients=approvers,
                )
            ],
            now=now,
        )
    return draft


def _draft_locked(draft: UpdateDraft) -> tuple[Incident, UpdateDraft]:
    """The draft's incident, then the draft, under row locks (in that order, as every write
    locks the incident first), refused once someone has decided it."""
    incident = _locked(draft.incident)
    draft = (
        UpdateDraft.objects.select_for_update(of=("self",)).select_related("drafted_by", "decided_by").get(pk=draft.pk)
    )
    if draft.state != DraftState.PENDING:
        state = "published" if draft.state == DraftState.PUBLISHED else "discarded"
        raise ValidationError(
            {"__all__": errors.DRAFT_ALREADY_DECIDED.format(state=state, who=messages.user_label(draft.decided_by))}
        )
    return incident, draft


def _drafter_notify(*, incident: Incident, draft: UpdateDraft, actor: AbstractBaseUser, outcome: str) -> None:
    """Tell whoever drafted it what became of their draft (unless they decided it themselves)."""
    if actor.pk == draft.drafted_by_id:
        return
    url = messages.incident_url(incident)
    notification_services.messages_send(
        outgoing=[
            Outgoing(
                dedup_key=f"incident:{incident.pk}:draft:{draft.pk}:{draft.state}",
                topic=incident.reference,
                subject=f"[{incident.severity.key}] {incident.reference}: your public update was {outcome}",
                body_text=f"{messages.user_label(actor)} {outcome} the public update you drafted for "
                f"{incident.reference}.\n\n{url}",
                link=url,
                payload={"event": "incident.update_draft_decided", "incident_id": incident.pk, "draft": draft.pk},
                recipients=[draft.drafted_by],
            )
        ],
        now=draft.decided_at,
    )


@writes
def update_draft_approve(
    *,
    draft: UpdateDraft,
    actor: AbstractBaseUser,
    progress: str | None = None,
    status: str | None = None,
    next_steps: str | None = None,
    eta: str | None = None,
) -> StatusUpdate:
    """The incident lead or comms lead approves a draft, as written or edited (the arguments given
    replace the draft's text), and posts it as a public status update: only now does anything of it
    reach the status page, subscribers and webhooks. The timeline names who drafted and who
    approved."""
    incident, draft = _draft_locked(draft)
    if not may_publish(incident=incident, user=actor):
        raise ValidationError({"__all__": errors.APPROVE_LEAD_ONLY})
    final = {
        "progress": draft.progress if progress is None else progress.strip(),
        "status": draft.status if status is None else status,
        "next_steps": draft.next_steps if next_steps is None else next_steps.strip(),
        "eta": draft.eta if eta is None else eta.strip(),
    }
    edited = any(final[name] != getattr(draft, name) for name in final)
    update = _update_post(
        incident=incident,
        author=actor,
        visibility=UpdateVisibility.PUBLIC,
        approval={
            "draft": draft.pk,
            "drafted_by": draft.drafted_by_id,
            "drafted_by_name": messages.user_label(draft.drafted_by),
            "approved_by": actor.pk,
            "edited": edited,
        },
        **final,
    )
    draft.state = DraftState.PUBLISHED
    draft.decided_by = actor
    draft.decided_at = update.posted_at
    draft.status_update = update
    draft.save(update_fields=["state", "decided_by", "decided_at", "status_update"])
    _drafter_notify(incident=incident, draft=draft, actor=actor, outcome="approved and published")
    return update


@writes
def update_draft_discard(*, draft: UpdateDraft, actor: AbstractBaseUser) -> UpdateDraft:
    """Drop a draft: the incident lead or comms lead decides against it, or its author withdraws
    it. On the timeline; nothing was ever public."""
    incident, draft = _draft_locked(draft)
    if not (may_publish(incident=incident, user=actor) or actor.pk == draft.drafted_by_id):
        raise ValidationError({"__all__": errors.DISCARD_NOT_PERMITTED})
    now = timezone.now()
    draft.state = DraftState.DISCARDED
    draft.decided_by = actor
    draft.decided_at = now
    draft.save(update_fields=["state", "decided_by", "decided_at"])
    _drafter_notify(incident=incident, draft=draft, actor=actor, outcome="discarded")
    whose = "their own" if actor.pk == draft.drafted_by_id else f"{messages.user_label(draft.drafted_by)}'s"
    _event(
        incident=incident,
        kind=EventKind.UPDATE_DRAFT_DISCARDED,
        actor=actor,
        now=now,
        text=f"Discarded {whose} draft of a public update",
        body=draft.progress,
        data={"draft": draft.pk, "drafted_by": draft.drafted_by_id},
    )
    return draft


def _publish(
    *, incident: Incident, actor: AbstractBaseUser | None, now: datetime, how: str, by_update: bool = False
) -> None:
    incident.published_at = now
    incident.save(update_fields=["published_at"])
    _event(
        incident=incident,
        kind=EventKind.PUBLISHED,
        actor=actor,
        now=now,
        text=f"Published to the status page {how}",
        data={"public_title": incident.public_title, "by_update": by_update},
    )


def may_publish(*, incident: Incident, user: AbstractBaseUser) -> bool:
    """The incident lead and the comms lead decide what goes public (and a superuser)."""
    return user.is_superuser or user.pk in (incident.lead_id, incident.comms_lead_id)


@writes
def incident_publish(
    *, incident: Incident, actor: AbstractBaseUser, public_title: str | None = None, public_summary: str | None = None
) -> Incident:
    """Put the incident on the status page, under its public title (or, without one, a neutral
    title the status page derives from the affected components) and public summary. The internal
    title and summary never go public."""
    incident = _locked(incident)
    if not may_publish(incident=incident, user=actor):
        raise ValidationError({"__all__": errors.PUBLISH_LEAD_ONLY})
    if incident.is_published:
        raise ValidationError({"__all__": errors.ALREADY_PUBLISHED})
    fields = []
    if public_title is not None:
        incident.public_title = single_line(public_title)
        _validate_lengths(Incident, public_title=incident.public_title)
        fields.append("public_title")
    if public_summary is not None:
        incident.public_summary = public_summary.strip()
        fields.append("public_summary")
    if fields:
        incident.save(update_fields=fields)
    _publish(incident=incident, actor=actor, now=timezone.now(), how="by " + messages.user_label(actor))
    return incident


@writes
def incident_restriction_set(*, incident: Incident, actor: AbstractBaseUser, restricted: bool) -> Incident:
    """Restrict an incident to its participants and the security group, or open it to every
    reader. The incident lead or the security group decides; it is on the timeline."""
    incident = _locked(incident)
    if not (actor.pk == incident.lead_id or sees_restricted(actor)):
        raise ValidationError({"restricted": errors.RESTRICT_LEAD_OR_SECURITY})
    if incident.restricted == restricted:
        raise ValidationError({"restricted": errors.SAME_RESTRICTION})
    incident.restricted = restricted
    incident.save(update_fields=["restricted"])
    _event(
        incident=incident,
        kind=EventKind.RESTRICTION_CHANGED,
        actor=actor,
        now=timezone.now(),
        text="Restricted to its participants and the security group" if restricted else "Opened to every reader",
        data={"restricted": restricted},
    )
    return incident


@writes
def incident_participants_add(
    *, incident: Incident, actor: AbstractBaseUser, users: Iterable[AbstractBaseUser]
) -> Incident:
    """Let people see a restricted incident without giving them a role; on the timeline."""
    incident = _locked(incident)
    current = set(incident.participants.values_list("pk", flat=True))
    added = [user for user in users if user.pk not in current]
    if added:
        incident.participants.add(*added)
        _event(
            incident=incident,
            kind=EventKind.ROLE_ASSIGNED,
            actor=actor,
            now=timezone.now(),
            text="Added to the incident: " + messages.names(added),
            data={"role": "participants", "added": [user.pk for user in added]},
        )
    return incident


_ROLE_LABELS = {"lead": "Incident lead", "comms_lead": "Comms lead"}


@writes
def incident_roles_assign(
    *,
    incident: Incident,
    actor: AbstractBaseUser,
    lead: AbstractBaseUser | None = None,
    comms_lead: AbstractBaseUser | None = None,
    clear_comms_lead: bool = False,
    responders: Iterable[AbstractBaseUser] | None = None,
) -> Incident:
    """Assign roles; each change is its own timeline event. Arguments left out keep their value."""
    incident = _locked(incident)
    now = timezone.now()
    wanted_roles: dict[str, AbstractBaseUser | None] = {}
    if lead is not None:
        wanted_roles["lead"] = lead
    if clear_comms_lead:
        wanted_roles["comms_lead"] = None
    elif comms_lead is not None:
        wanted_roles["comms_lead"] = comms_lead
    changed_fields = []
    assigned: list[tuple[AbstractBaseUser | None, str]] = []
    for field, new in wanted_roles.items():
        if getattr(incident, f"{field}_id") == (new.pk if new else None):
            continue
        setattr(incident, field, new)
        changed_fields.append(field)
        assigned.append((new, field))
        _event(
            incident=incident,
            kind=EventKind.ROLE_ASSIGNED,
            actor=actor,
            now=now,
            text=f"{_ROLE_LABELS[field]}: {messages.user_label(new)}",
            data={"role": field, "user": new.pk if new else None},
        )
    if changed_fields:
        incident.save(update_fields=changed_fields)
    if responders is not None:
        wanted = {user.pk: user for user in responders}
        current = set(incident.responders.values_list("pk", flat=True))
        added = [user for pk, user in wanted.items() if pk not in current]
        removed = current - set(wanted)
        if added or removed:
            incident.responders.set(list(wanted.values()))
            parts = []
            if added:
                parts.append("added " + ", ".join(sorted(messages.user_label(u) for u in added)))
            if removed:
                names = type(incident.lead).objects.filter(pk__in=removed)
                parts.append("removed " + ", ".join(sorted(messages.user_label(u) for u in names)))
            _event(
                incident=incident,
                kind=EventKind.ROLE_ASSIGNED,
                actor=actor,
                now=now,
                text="Responders " + "; ".join(parts),
                data={"role": "responders", "added": [u.pk for u in added], "removed": sorted(removed)},
            )
            assigned += [(user, "responder") for user in added]
    _assignees_notify(incident=incident, actor=actor, now=now, assigned=assigned)
    return incident


@writes
def incident_note_add(
    *, incident: Incident, author: AbstractBaseUser, text: str, occurred_at: datetime | None = None
) -> TimelineEvent:
    now = timezone.now()
    text = text.strip()
    if not text:
        raise ValidationError({"text": errors.NOTE_REQUIRED})
    if occurred_at is not None and occurred_at > now:
        raise ValidationError({"occurred_at": errors.NOTE_IN_FUTURE})
    first_line = text.splitlines()[0]
    event = _event(
        incident=incident,
        kind=EventKind.NOTE,
        actor=author,
        now=now,
        occurred_at=occurred_at,
        text=first_line[:200],
        body=text,
        data={"backdated": occurred_at is not None},
    )
    _join_as_responder(incident=incident, actor=author, now=now)
    return event


@writes
def incident_event_record(
    *,
    incident: Incident,
    kind: str,
    actor: AbstractBaseUser | None,
    text: str,
    body: str = "",
    data: dict | None = None,
) -> TimelineEvent:
    """Put on the timeline what an app built on incidents did (a runbook step, an alert, a
    postmortem's progress, a status-page change). The incident is locked like any other change, so
    the event orders with the responders' own."""
    incident = _locked(incident)
    return _event(incident=incident, kind=kind, actor=actor, text=text[:200], body=body, data=data, now=timezone.now())


@writes
def incident_milestone_set(*, incident: Incident, actor: AbstractBaseUser, milestone: str, at: datetime) -> Incident:
    """Record when the incident was detected, acknowledged or mitigated (times may be earlier
    than now: people often log them after the fact)."""
    if milestone not in MILESTONES:
        raise ValidationError({"milestone": errors.UNKNOWN_MILESTONE})
    incident = _locked(incident)
    now = timezone.now()
    if at > now:
        raise ValidationError({"at": errors.MILESTONE_IN_FUTURE})
    if milestone == "detected_at":
        if at > incident.declared_at:
            raise ValidationError({"at": errors.DETECTED_AFTER_DECLARED})
    elif at < incident.detected_at:
        raise ValidationError({"at": errors.MILESTONE_BEFORE_DETECTED})
    elif incident.resolved_at is not None and at > incident.resolved_at:
        raise ValidationError({"at": errors.MILESTONE_AFTER_RESOLVED})
    setattr(incident, milestone, at)
    incident.save(update_fields=[milestone])
    _event(
        incident=incident,
        kind=EventKind.MILESTONE_SET,
        actor=actor,
        now=now,
        occurred_at=at,
        text=MILESTONES[milestone],
        data={"milestone": milestone, "at": at.isoformat()},
    )
    _join_as_responder(incident=incident, actor=actor, now=now)
    return incident


@writes
def incident_acknowledge(*, incident: Incident, actor: AbstractBaseUser) -> Incident:
    """A person answers for the incident: the Acknowledged milestone is set (if nobody set it
    before), so time to acknowledge is real; the acknowledger leads when the lead is not a person
    (an incident opened by an alert); on the timeline. The apps built on incidents hear the event:
    paging stops escalating the incident. Acknowledging an incident already acknowledged and led
    by a person is refused."""
    incident = _locked(incident)
    if not incident.is_active:
        raise ValidationError({"__all__": errors.ACKNOWLEDGE_RESOLVED})
    if not is_person(actor):
        raise ValidationError({"__all__": errors.ACKNOWLEDGE_PEOPLE_ONLY})
    lead_is_person = is_person(incident.lead)
    if incident.acknowledged_at is not None and lead_is_person:
        raise ValidationError({"__all__": errors.ALREADY_ACKNOWLEDGED})
    now = timezone.now()
    fields = []
    if incident.acknowledged_at is None:
        incident.acknowledged_at = now
        fields.append("acknowledged_at")
    if not lead_is_person:
        incident.lead = actor
        fields.append("lead")
    incident.save(update_fields=fields)
    text = f"Acknowledged by {messages.user_label(actor)}"
    _event(
        incident=incident,
        kind=EventKind.MILESTONE_SET,
        actor=actor,
        now=now,
        text=text + (", who now leads" if not lead_is_person else ""),
        data={
            "milestone": "acknowledged_at",
            "at": incident.acknowledged_at.isoformat(),
            "acknowledged_by": actor.pk,
            "lead": None if lead_is_person else actor.pk,
        },
    )
    _join_as_responder(incident=incident, actor=actor, now=now)
    return incident


@writes
def incident_import(
    *,
    actor: AbstractBaseUser,
    title: str,
    severity: SeverityPolicy,
    detected_at: datetime,
    resolved_at: datetime,
    acknowledged_at: datetime | None = None,
    mitigated_at: datetime | None = None,
    affected_services: Iterable = (),
    update_times: Iterable[datetime] = (),
) -> Incident:
    """Record a past, resolved incident brought from another tool, with its milestones (and the
    times its status updates were posted, if known), so its figures count from day one. Declared
    when detected, led by the importer; each step is on its timeline at the time it happened,
    marked imported. Due times are replayed with today's cadence only when update times are given."""
    now = timezone.now()
    title = single_line(title)
    if not title:
        raise ValidationError({"title": errors.TITLE_REQUIRED})
    _validate_lengths(Incident, title=title)
    if resolved_at is None:
        raise ValidationError({"resolved_at": errors.IMPORT_RESOLVED_REQUIRED})
    if resolved_at > now:
        raise ValidationError({"resolved_at": errors.IMPORT_IN_FUTURE})
    times = [detected_at, *(t for t in (acknowledged_at, mitigated_at) if t is not None), resolved_at]
    if times != sorted(times):
        raise ValidationError({"__all__": errors.IMPORT_OUT_OF_ORDER})
    update_times = sorted(t for t in update_times if detected_at <= t <= resolved_at)
    incident = Incident.objects.create(
        title=title,
        severity=severity,
        status=IncidentStatus.RESOLVED,
        detected_at=detected_at,
        declared_at=detected_at,
        acknowledged_at=acknowledged_at or (update_times[0] if update_times else None),
        mitigated_at=mitigated_at or resolved_at,
        resolved_at=resolved_at,
        last_update_at=update_times[-1] if update_times else None,
        lead=actor,
        declared_by=actor,
    )
    incident.affected_services.set(list(affected_services))
    imported = {"imported": True}
    events = [
        (
            detected_at,
            EventKind.DECLARED,
            f"Declared as {severity.key} {severity.name} (imported)",
            {"severity": severity.key, **imported},
            None,
        )
    ]
    for field in ("acknowledged_at", "mitigated_at"):
        moment = getattr(incident, field)
        if moment is not None:
            events.append(
                (
                    moment,
                    EventKind.MILESTONE_SET,
                    MILESTONES[field],
                    {"milestone": field, "at": moment.isoformat(), **imported},
                    None,
                )
            )
    cadence = severity.update_cadence
    anchor, due = detected_at, None if cadence is None else detected_at + cadence
    for posted_at in update_times:
        update = StatusUpdate.objects.create(
            incident=incident,
            author=actor,
            posted_at=posted_at,
            status=IncidentStatus.INVESTIGATING,
            progress="Imported status update",
        )
        if due is not None:
            UpdateDue.objects.create(
                incident=incident,
                severity=severity,
                due_at=due,
                cadence_minutes=severity.update_cadence_minutes,
                set_at=anchor,
                closed_at=posted_at,
                outcome=DueOutcome.MET,
                met_by=update,
            )
            anchor, due = posted_at, posted_at + cadence
        events.append(
            (
                posted_at,
                EventKind.STATUS_UPDATE,
                "Internal status update",
                {"status": update.status, **imported},
                update,
            )
        )
    if due is not None and update_times:
        # Without update times nothing is known of the cadence: no due time is recorded.
        UpdateDue.objects.create(
            incident=incident,
            severity=severity,
            due_at=due,
            cadence_minutes=severity.update_cadence_minutes,
            set_at=anchor,
            closed_at=resolved_at,
            outcome=DueOutcome.CLEARED,
        )
    events.append(
        (
            resolved_at,
            EventKind.STATUS_CHANGED,
            "Resolved",
            {"from": IncidentStatus.INVESTIGATING, "to": IncidentStatus.RESOLVED, "reopened": False, **imported},
            None,
        )
    )
    # Written directly, not through _event: the apps' handlers react to what happens now (webhooks
    # out, a postmortem due, the status page), and none of that belongs to a past incident.
    TimelineEvent.objects.bulk_create(
        TimelineEvent(
            incident=incident,
            kind=kind,
            actor=actor,
            recorded_at=now,
            occurred_at=occurred_at,
            text=text,
            body=update.progress if update else "",
            data=data,
            status_update=update,
        )
        for occurred_at, kind, text, data, update in events
    )
    return incident


_IMPACT_FIELDS = {
    "affected_users_count": "Affected users",
    "affected_users_percent": "Affected users (%)",
    "business_impact": "Business impact",
    "data_integrity_concern": "Data integrity concern",
    "security_concern": "Security concern",
    "title": "Title",
    "summary": "Summary",
    "public_title": "Public title",
    "public_summary": "Public summary",
}


@writes
def incident_impact_update(
    *, incident: Incident, actor: AbstractBaseUser, affected_services: Iterable | None = None, **changes
) -> Incident:
    """Update the title, summary and impact assessment; records what changed."""
    unknown = set(changes) - set(_IMPACT_FIELDS)
    if unknown:
        raise ValidationError({"__all__": errors.UNKNOWN_FIELDS.format(names=", ".join(sorted(unknown)))})
    if "title" in changes:
        changes["title"] = single_line(changes["title"])
        if not changes["title"]:
            raise ValidationError({"title": errors.TITLE_REQUIRED})
    if "public_title" in changes:
        changes["public_title"] = single_line(changes["public_title"])
        _validate_lengths(Incident, public_title=changes["public_title"])
    for text_field in ("summary", "business_impact", "public_summary"):
        if text_field in changes:
            changes[text_field] = changes[text_field].strip()
    if "affected_users_percent" in changes:
        changes["affected_users_percent"] = _as_decimal(changes["affected_users_percent"])
    _validate_impact(percent=changes.get("affected_users_percent"), count=changes.get("affected_users_count"))
    if "title" in changes:
        _validate_lengths(Incident, title=changes["title"])
    incident = _locked(incident)
    now = timezone.now()
    changed = [field for field, value in changes.items() if getattr(incident, field) != value]
    for field in changed:
        setattr(incident, field, changes[field])
    if changed:
        incident.save(update_fields=changed)
    labels = [_IMPACT_FIELDS[field] for field in changed]
    if affected_services is not None:
        wanted = {service.pk for service in affected_services}
        if wanted != set(incident.affected_services.values_list("pk", flat=True)):
            incident.affected_services.set(list(wanted))
            labels.append("Affected services")
    if labels:
        _event(
            incident=incident,
            kind=EventKind.IMPACT_CHANGED,
            actor=actor,
            now=now,
            text="Updated " + ", ".join(labels).lower(),
            data={"fields": changed + (["affected_services"] if "Affected services" in labels else [])},
        )
        _join_as_responder(incident=incident, actor=actor, now=now)
    return incident


@writes
def timeline_event_star(*, event: TimelineEvent, starred: bool) -> TimelineEvent:
    """Star an event for the postmortem. Starring is the one change a timeline event allows."""
    TimelineEvent.objects.filter(pk=event.pk).update(starred=starred)
    event.starred = starred
    return event


@writes
def api_token_create(*, user: AbstractBaseUser, name: str) -> tuple[ApiToken, str]:
    """Make a token for the JSON API; the clear text is returned once and never stored."""
    _validate_lengths(ApiToken, name=name.strip())
    raw = "idk_" + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user, name=name.strip() or "API token", digest=ApiToken.digest_of(raw), prefix=raw[:10]
    )
    return token, raw


@writes
def api_token_revoke(*, token: ApiToken) -> None:
    token.delete()


# --- Telling people: stakeholders and those given a role -----------------------------------------
#
# Incidents decide who is told what and when; the notifications app delivers (in-app, email,
# webhook) and knows nothing of incidents. Messages are recorded in the same transaction as the
# change that causes them and delivered by Celery after it commits.


_ASSIGNED_ROLES = {"lead": "the incident lead", "comms_lead": "the comms lead", "responder": "a responder"}


def _assignees_notify(
    *,
    incident: Incident,
    actor: AbstractBaseUser,
    now: datetime,
    assigned: Iterable[tuple[AbstractBaseUser | None, str]],
) -> None:
    """Tell each person given a role on the incident by someone else, so nobody finds out
    they lead an incident from the dashboard. Through their own channels, not the incident's."""
    roles_of: dict[int, tuple[AbstractBaseUser, list[str]]] = {}
    for user, role in assigned:
        if user is not None and user.pk != actor.pk:
            roles_of.setdefault(user.pk, (user, []))[1].append(_ASSIGNED_ROLES[role])
    if not roles_of:
        return
    severity = incident.severity
    url = messages.incident_url(incident)
    affected = messages.affected(incident)
    outgoing = []
    for user, roles in roles_of.values():
        roles_text = " and ".join(roles)
        lines = [
            f"You are now {roles_text} on {incident.reference}, assigned by {messages.user_label(actor)}.",
            "",
            f"{incident.reference} {incident.title}",
            f"Severity: {severity.key} {severity.name}",
            f"Status: {incident.get_status_display()}",
            f"Impact: {incident.business_impact or incident.summary or 'Being assessed'}",
            f"Affected: {affected}",
            f"Incident Lead: {messages.user_label(incident.lead)}",
            messages.cadence_sentence(incident) if incident.is_active else "The incident is resolved.",
            "",
            url,
        ]
        outgoing.append(
            Outgoing(
                dedup_key=f"incident:{incident.pk}:assigned:{user.pk}:{now.isoformat()}",
                topic=incident.reference,
                subject=f"[{severity.key}] {incident.reference}: you are now {roles_text}",
                body_text="\n".join(lines),
                link=url,
                payload={
                    "event": "incident.role_assigned",
                    "incident_id": incident.pk,
                    "reference": incident.reference,
                    "severity": severity.key,
                    "roles": roles,
                },
                recipients=[user],
            )
        )
    notification_services.messages_send(outgoing=outgoing, now=now)


def _may_see(incident: Incident, user: AbstractBaseUser) -> bool:
    return not incident.restricted or selectors.visible_incidents(user).filter(pk=incident.pk).exists()


_STAKEHOLDER_HEADINGS = {
    "declared": "🚨 INCIDENT NOTIFICATION",
    "raised": "⬆️ SEVERITY RAISED",
    "resolved": "✅ INCIDENT RESOLVED",
}


def _stakeholders_notify(
    *, incident: Incident, occasion: str, now: datetime, previous: SeverityPolicy | None = None
) -> None:
    """Tell the groups the severity policy names, in the seeds' notification template, on
    declaration, on a severity raise and on resolution."""
    severity = incident.severity
    groups = list(severity.notified_groups.all())
    users = list(get_user_model().objects.filter(groups__in=groups, is_active=True).distinct().order_by("username"))
    webhooks = messages.incident_webhooks(incident)
    if incident.restricted:
        # A restricted incident does not exist for the others: tell only the groups' members who
        # may see it, and only the incident's own channel, never the severity's shared one.
        users = [user for user in users if _may_see(incident, user)]
        webhooks = [(url, kind) for url, kind in webhooks if url == incident.webhook_url]
    if not users and not webhooks:
        return
    severity_line = f"{severity.key} {severity.name}" + (f" (was {previous.key})" if previous else "")
    lines = [
        _STAKEHOLDER_HEADINGS[occasion],
        "",
        f"Severity: {severity_line}",
        f"Status: {incident.get_status_display()}",
        f"Impact: {incident.business_impact or incident.summary or 'Being assessed'}",
        f"Affected: {messages.affected(incident)}",
        f"Started: {utc_clock(incident.detected_at)}",
        f"Incident Lead: {messages.user_label(incident.lead)}",
        "",
    ]
    if occasion == "resolved":
        lines.append(f"Duration: {humanize_delta(incident.duration)}. A postmortem will follow.")
    else:
        lines.append(messages.cadence_sentence(incident))
    lines += ["", f"{incident.reference} {incident.title}", messages.incident_url(incident)]
    subject = f"[{severity.key}] {incident.reference} {occasion}: {incident.title}"
    notification_services.messages_send(
        outgoing=[
            Outgoing(
                dedup_key=f"incident:{incident.pk}:{occasion}:{now.isoformat()}",
                topic=incident.reference,
                subject=subject,
                body_text="\n".join(lines),
                link=messages.incident_url(incident),
                payload={
                    "event": f"incident.{occasion}",
                    "incident_id": incident.pk,
                    "reference": incident.reference,
                    "severity": severity.key,
                    "status": incident.status,
                },
                recipients=users,
                webhooks=webhooks,
            )
        ],
        now=now,
    )
    _event(
        incident=incident,
        kind=EventKind.STAKEHOLDERS_NOTIFIED,
        actor=None,
        now=now,
        text=f"Stakeholders told ({', '.join(g.name for g in groups) or 'channels'}): "
        f"{len(users)} people by {messages.channels_label(users, webhooks)}",
        data={"occasion": occasion, "recipients": [u.pk for u in users], "webhooks": messages.webhook_labels(webhooks)},
    )


@writes
def incident_update_snooze(*, incident: Incident, actor: AbstractBaseUser, minutes: int, reason: str) -> Incident:
    """The incident lead pushes the next update by at most one cadence (counted from now when it
    is already overdue), with a reason on the timeline. The reminder ladder starts again from the
    new due time."""
    incident = _locked(incident)
    cadence = incident.severity.update_cadence_minutes
    if not incident.is_active or incident.next_update_due_at is None or cadence is None:
        raise ValidationError({"__all__": errors.NOTHING_TO_SNOOZE})
    if actor.pk != incident.lead_id and not actor.is_superuser:
        raise ValidationError({"__all__": errors.SNOOZE_LEAD_ONLY})
    if not 1 <= minutes <= cadence:
        raise ValidationError({"minutes": errors.SNOOZE_RANGE.format(limit=cadence)})
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": errors.SNOOZE_REASON_REQUIRED})
    now = timezone.now()
    previous_due = incident.next_update_due_at
    # Pushing an overdue update counts from now: from the old due time it would still be overdue
    # and remind everyone at once.
    incident.next_update_due_at = max(previous_due, now) + timedelta(minutes=minutes)
    incident.next_reminder_at = incident.next_update_due_at
    incident.save(update_fields=["next_update_due_at", "next_reminder_at"])
    _dues_record(incident, now=now)
    _event(
        incident=incident,
        kind=EventKind.UPDATE_SNOOZED,
        actor=actor,
        now=now,
        text=f"Next update pushed by {minutes} min to {utc_clock(incident.next_update_due_at)}",
        body=reason,
        data={"minutes": minutes, "from": previous_due.isoformat(), "to": incident.next_update_due_at.isoformat()},
    )
    return incident


def notification_failure_record(*, delivery: Delivery) -> None:
    """A message that could not be delivered after every retry goes on its incident's timeline,
    so nobody believes people were told when they were not."""
    incident = Incident.objects.filter(pk=delivery.message.payload.get("incident_id")).first()
    if incident is None:
        return
    if delivery.channel == "webhook":
        who = url_host(delivery.target)  # the URL is a credential; the timeline names its host
    elif delivery.channel == "email":
        who = delivery.target
    else:
        who = messages.user_label(delivery.recipient)
    _event(
        incident=incident,
        kind=EventKind.NOTIFICATION_FAILED,
        actor=None,
        now=timezone.now(),
        text=f"{delivery.get_channel_display()} to {who} failed after {delivery.attempts} attempts",
        body=delivery.last_error,
        data={"delivery": delivery.pk, "channel": delivery.channel, "subject": delivery.message.subject},
    )


@writes
def team_create(*, name: str, slug: str = "", description: str = "", members: Iterable[AbstractBaseUser] = ()) -> Team:
    """A team; its slug is made from the name when not given."""
    team = Team(name=single_line(name), slug=slug or slugify(single_line(name))[:100], description=description)
    team.full_clean()
    team.save()
    team.members.set(list(members))
    return team
