"""Every write to an incident goes through here: validate, change, record the timeline event, in
one transaction. Views, admin actions, the API and tasks call these functions; nothing else saves
a domain model."""

import secrets
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from incidents import errors
from incidents.models import (
    ApiToken,
    EventKind,
    Incident,
    IncidentStatus,
    SeverityPolicy,
    StatusUpdate,
    TimelineEvent,
    UpdateVisibility,
)

MILESTONES = {
    "detected_at": "Detected",
    "acknowledged_at": "Acknowledged",
    "mitigated_at": "Mitigated",
}


def _user_label(user: AbstractBaseUser | None) -> str:
    if user is None:
        return "nobody"
    full_name = user.get_full_name() if hasattr(user, "get_full_name") else ""
    return full_name or user.get_username()


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
    return TimelineEvent.objects.create(
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


def _locked(incident: Incident) -> Incident:
    """Re-read the incident under a row lock so concurrent responders never overwrite each other."""
    return Incident.objects.select_for_update().select_related("severity").get(pk=incident.pk)


def _next_update_due(*, severity: SeverityPolicy, anchor: datetime) -> datetime | None:
    cadence = severity.update_cadence
    return None if cadence is None else anchor + cadence


MAX_USERS_COUNT = 2**31 - 1


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


@transaction.atomic
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
    affected_users_percent: Decimal | None = None,
    business_impact: str = "",
    data_integrity_concern: bool = False,
    security_concern: bool = False,
) -> Incident:
    """Open an incident in Investigating. The first status update is due one cadence after the
    declaration; the declarer leads unless someone else is named."""
    now = timezone.now()
    title = title.strip()
    if not title:
        raise ValidationError({"title": errors.TITLE_REQUIRED})
    detected_at = detected_at or now
    if detected_at > now:
        raise ValidationError({"detected_at": errors.DETECTED_IN_FUTURE})
    _validate_impact(percent=affected_users_percent, count=affected_users_count)
    _validate_lengths(Incident, title=title)
    lead = lead or declared_by
    incident = Incident.objects.create(
        title=title,
        summary=summary.strip(),
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
        next_update_due_at=_next_update_due(severity=severity, anchor=now),
    )
    incident.affected_services.set(list(affected_services))
    incident.responders.set(list(responders))
    _event(
        incident=incident,
        kind=EventKind.DECLARED,
        actor=declared_by,
        now=now,
        text=f"Declared as {severity.key} {severity.name}",
        body=incident.summary,
        data={"severity": severity.key, "lead": lead.pk},
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
    return incident


@transaction.atomic
def incident_severity_change(
    *, incident: Incident, severity: SeverityPolicy, actor: AbstractBaseUser, reason: str = ""
) -> Incident:
    """Change severity and re-plan the next update from the last update (or the declaration) with
    the new cadence, so raising severity can make an update due at once."""
    incident = _locked(incident)
    if incident.severity_id == severity.pk:
        raise ValidationError({"severity": errors.SAME_SEVERITY})
    now = timezone.now()
    previous = incident.severity
    incident.severity = severity
    if incident.is_active:
        anchor = incident.last_update_at or incident.declared_at
        incident.next_update_due_at = _next_update_due(severity=severity, anchor=anchor)
    incident.save(update_fields=["severity", "next_update_due_at"])
    direction = "Raised" if severity.rank < previous.rank else "Lowered"
    _event(
        incident=incident,
        kind=EventKind.SEVERITY_CHANGED,
        actor=actor,
        now=now,
        text=f"{direction} severity from {previous.key} to {severity.key}",
        body=reason.strip(),
        data={"from": previous.key, "to": severity.key},
    )
    return incident


def _apply_status(*, incident: Incident, status: str, actor: AbstractBaseUser, now: datetime) -> None:
    previous = incident.status
    incident.status = status
    fields = ["status", "resolved_at", "next_update_due_at", "acknowledged_at", "mitigated_at"]
    if status == IncidentStatus.RESOLVED:
        incident.resolved_at = now
        incident.next_update_due_at = None
        incident.mitigated_at = incident.mitigated_at or now
    else:
        incident.resolved_at = None
        if previous == IncidentStatus.RESOLVED:
            # A reopened incident owes its first update one cadence from now.
            incident.next_update_due_at = _next_update_due(severity=incident.severity, anchor=now)
        if status != IncidentStatus.INVESTIGATING:
            incident.acknowledged_at = incident.acknowledged_at or now
        if status == IncidentStatus.MONITORING:
            incident.mitigated_at = incident.mitigated_at or now
    incident.save(update_fields=fields)
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


@transaction.atomic
def incident_status_change(*, incident: Incident, status: str, actor: AbstractBaseUser) -> Incident:
    """Move through Investigating → Identified → Monitoring → Resolved; resolving stops the update
    cadence, reopening restarts it."""
    incident = _locked(incident)
    if status not in IncidentStatus.values:
        raise ValidationError({"status": errors.UNKNOWN_STATUS.format(values=", ".join(IncidentStatus.values))})
    if incident.status == status:
        raise ValidationError({"status": errors.SAME_STATUS})
    _apply_status(incident=incident, status=status, actor=actor, now=timezone.now())
    return incident


@transaction.atomic
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
    """Post a status update. It may move the status too; the next update falls due one cadence
    of the current severity from now (none once resolved)."""
    incident = _locked(incident)
    progress = progress.strip()
    if not progress:
        raise ValidationError({"progress": errors.UPDATE_PROGRESS_REQUIRED})
    _validate_lengths(StatusUpdate, eta=eta.strip())
    status = status or incident.status
    if status not in IncidentStatus.values:
        raise ValidationError({"status": errors.UNKNOWN_STATUS.format(values=", ".join(IncidentStatus.values))})
    if visibility not in UpdateVisibility.values:
        raise ValidationError(
            {"visibility": errors.UNKNOWN_VISIBILITY.format(values=", ".join(UpdateVisibility.values))}
        )
    now = timezone.now()
    if status != incident.status:
        _apply_status(incident=incident, status=status, actor=author, now=now)
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
    incident.last_update_at = now
    incident.acknowledged_at = incident.acknowledged_at or now
    incident.next_update_due_at = (
        _next_update_due(severity=incident.severity, anchor=now) if incident.is_active else None
    )
    incident.save(update_fields=["last_update_at", "acknowledged_at", "next_update_due_at"])
    _event(
        incident=incident,
        kind=EventKind.STATUS_UPDATE,
        actor=author,
        now=now,
        text=f"{UpdateVisibility(visibility).label} status update by {_user_label(author)}",
        body=progress,
        data={"status": status, "visibility": visibility},
        status_update=update,
    )
    return update


_ROLE_LABELS = {"lead": "Incident lead", "comms_lead": "Comms lead"}


@transaction.atomic
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
    for field, new in wanted_roles.items():
        if getattr(incident, f"{field}_id") == (new.pk if new else None):
            continue
        setattr(incident, field, new)
        changed_fields.append(field)
        _event(
            incident=incident,
            kind=EventKind.ROLE_ASSIGNED,
            actor=actor,
            now=now,
            text=f"{_ROLE_LABELS[field]}: {_user_label(new)}",
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
                parts.append("added " + ", ".join(sorted(_user_label(u) for u in added)))
            if removed:
                names = type(incident.lead).objects.filter(pk__in=removed)
                parts.append("removed " + ", ".join(sorted(_user_label(u) for u in names)))
            _event(
                incident=incident,
                kind=EventKind.ROLE_ASSIGNED,
                actor=actor,
                now=now,
                text="Responders " + "; ".join(parts),
                data={"role": "responders", "added": [u.pk for u in added], "removed": sorted(removed)},
            )
    return incident


@transaction.atomic
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
    return _event(
        incident=incident,
        kind=EventKind.NOTE,
        actor=author,
        now=now,
        occurred_at=occurred_at,
        text=first_line[:200],
        body=text,
        data={"backdated": occurred_at is not None},
    )


@transaction.atomic
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
    return incident


_IMPACT_FIELDS = {
    "affected_users_count": "Affected users",
    "affected_users_percent": "Affected users (%)",
    "business_impact": "Business impact",
    "data_integrity_concern": "Data integrity concern",
    "security_concern": "Security concern",
    "title": "Title",
    "summary": "Summary",
}


@transaction.atomic
def incident_impact_update(
    *, incident: Incident, actor: AbstractBaseUser, affected_services: Iterable | None = None, **changes
) -> Incident:
    """Update the title, summary and impact assessment; records what changed."""
    unknown = set(changes) - set(_IMPACT_FIELDS)
    if unknown:
        raise ValidationError({"__all__": errors.UNKNOWN_FIELDS.format(names=", ".join(sorted(unknown)))})
    if "title" in changes:
        changes["title"] = changes["title"].strip()
        if not changes["title"]:
            raise ValidationError({"title": errors.TITLE_REQUIRED})
    for text_field in ("summary", "business_impact"):
        if text_field in changes:
            changes[text_field] = changes[text_field].strip()
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
    return incident


@transaction.atomic
def timeline_event_star(*, event: TimelineEvent, starred: bool) -> TimelineEvent:
    """Star an event for the postmortem. Starring is the one change a timeline event allows."""
    TimelineEvent.objects.filter(pk=event.pk).update(starred=starred)
    event.starred = starred
    return event


@transaction.atomic
def api_token_create(*, user: AbstractBaseUser, name: str) -> tuple[ApiToken, str]:
    """Make a token for the JSON API; the clear text is returned once and never stored."""
    _validate_lengths(ApiToken, name=name.strip())
    raw = "idk_" + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user, name=name.strip() or "API token", digest=ApiToken.digest_of(raw), prefix=raw[:10]
    )
    return token, raw


@transaction.atomic
def api_token_revoke(*, token: ApiToken) -> None:
    token.delete()
