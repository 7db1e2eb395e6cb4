"""Every write to a postmortem goes through here: validate, change, record what happened on the
incident's timeline (kind POSTMORTEM, data={"action": …, "postmortem_id": …}), in one transaction."""

from collections.abc import Iterable
from datetime import date, datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from config.versions import POSTMORTEMS, atomic_bumping
from core.formatting import humanize_delta
from core.text import single_line
from incidents.models import EventKind, Incident, IncidentStatus, TimelineEvent, UpdateVisibility
from incidents.services import incident_event_record
from notifications import services as notification_services
from notifications.services import Outgoing
from postmortems import errors, selectors
from postmortems.dates import business_days_after, team_today
from postmortems.models import (
    OPEN_ACTION_STATUSES,
    OPEN_POSTMORTEM_STATUSES,
    REVISION_CREATED,
    REVISION_PUBLISHED,
    SECTIONS,
    ActionItem,
    ActionItemDuePolicy,
    ActionKind,
    ActionStatus,
    FiveWhy,
    Postmortem,
    PostmortemPolicy,
    PostmortemRevision,
    PostmortemStatus,
    PostmortemTimelineRow,
    Priority,
    Requirement,
)
from runbooks.models import StepOutcome

# Every write's transaction: it also tells the cached incident pages that postmortems changed.
writes = atomic_bumping(POSTMORTEMS)

# Used when an admin has deleted a priority's row: a week, as the seed gives every priority but urgent.
DEFAULT_ACTION_ITEM_DAYS = 7


class PostmortemConflict(Exception):
    """A save changed sections someone else changed since its base version. Carries what the editor
    needs to show both texts: the current version and, per conflicting section, the current text."""

    def __init__(self, *, version: int, current: dict[str, str], mine: dict[str, str]) -> None:
        self.version = version
        self.current = current
        self.mine = mine
        super().__init__(errors.CONFLICT.format(names=", ".join(SECTIONS[name] for name in current)))


def _user_label(user: AbstractBaseUser | None) -> str:
    if user is None:
        return "nobody"
    return user.get_full_name() or user.get_username()


def _record(*, postmortem: Postmortem, action: str, actor: AbstractBaseUser | None, text: str, body: str = "") -> None:
    incident_event_record(
        incident=postmortem.incident,
        kind=EventKind.POSTMORTEM,
        actor=actor,
        text=text,
        body=body,
        data={"action": action, "postmortem_id": postmortem.pk},
    )


def _locked(postmortem: Postmortem) -> Postmortem:
    return Postmortem.objects.select_for_update().get(pk=postmortem.pk)


def _revision(*, postmortem: Postmortem, actor: AbstractBaseUser | None, now: datetime, note: str = "") -> None:
    PostmortemRevision.objects.create(
        postmortem=postmortem,
        version=postmortem.version,
        author=actor,
        created_at=now,
        status=postmortem.status,
        sections=postmortem.sections(),
        note=note[:200],
    )


def policy_for(incident: Incident) -> PostmortemPolicy | None:
    return PostmortemPolicy.objects.filter(severity_id=incident.severity_id).first()


# --- Creation -------------------------------------------------------------------------------------


def affected_users_text(incident: Incident) -> str:
    """ "~1,200 users (30%)", "~1,200 users", "30% of users" or "Unknown": whichever the incident knows."""
    count, percent = incident.affected_users_count, incident.affected_users_percent
    percent_text = None if percent is None else f"{percent.normalize():f}%"
    if count is not None:
        return f"~{count:,} users" + (f" ({percent_text})" if percent_text else "")
    if percent_text:
        return f"{percent_text} of users"
    return "Unknown"


def impact_prefill(incident: Incident) -> str:
    """The seeds' impact block, from what the incident already knows."""
    severity = incident.severity
    services = ", ".join(service.name for service in incident.affected_services.order_by("name")) or "None named"
    lines = [
        f"- Severity: {severity.key} {severity.name}",
        f"- Duration: {humanize_delta(incident.duration)}",
        f"- Users affected: {affected_users_text(incident)}",
        f"- Services affected: {services}",
    ]
    if incident.business_impact:
        lines.append(f"- Business impact: {incident.business_impact}")
    if incident.data_integrity_concern:
        lines.append("- Data integrity concern")
    if incident.security_concern:
        lines.append("- Security concern")
    return "\n".join(lines)


# The events every postmortem timeline starts from, starred or not: how the incident was declared,
# escalated, mitigated and resolved, what was said publicly, and what went wrong on the way.
KEY_EVENTS = (
    Q(
        kind__in=[
            EventKind.DECLARED,
            EventKind.SEVERITY_CHANGED,
            EventKind.STATUS_CHANGED,
            EventKind.MILESTONE_SET,
            EventKind.ALERT,
        ]
    )
    | Q(kind=EventKind.STATUS_UPDATE, data__visibility=UpdateVisibility.PUBLIC)
    | Q(kind=EventKind.RUNBOOK_STEP, data__outcome=StepOutcome.FAILED)
)


def timeline_row_text(event: TimelineEvent) -> str:
    """What the row says: the event's own words, not only its label. A status update's text is
    "Public status update" and its words are in the body; a checklist step's note is in its data
    (its pasted output stays on the incident's timeline)."""
    text = event.text
    if event.kind == EventKind.RUNBOOK_STEP:
        detail = event.data.get("note", "")
    elif event.kind == EventKind.STATUS_UPDATE:
        detail = event.body
    else:
        detail = event.body if event.body != event.text else ""
    if detail:
        text = f"{text}: {detail}"
    return " ".join(text.split())[:500]


def _timeline_rows_add(postmortem: Postmortem, events: Iterable[TimelineEvent]) -> list[PostmortemTimelineRow]:
    return PostmortemTimelineRow.objects.bulk_create(
        [
            PostmortemTimelineRow(
                postmortem=postmortem, event=event, occurred_at=event.occurred_at, text=timeline_row_text(event)
            )
            for event in events
        ]
    )


def _timeline_prefill(postmortem: Postmortem) -> None:
    """The key events and the starred ones, in the order they happened."""
    events = TimelineEvent.objects.filter(incident_id=postmortem.incident_id).order_by("occurred_at", "id")
    _timeline_rows_add(postmortem, events.filter(KEY_EVENTS | Q(starred=True)))


def _create(*, incident: Incident, actor: AbstractBaseUser | None, now: datetime) -> Postmortem:
    policy = policy_for(incident)
    required = policy is not None and policy.requirement == Requirement.REQUIRED
    due_on = None
    if required and incident.resolved_at is not None:
        # Counted from the resolution; a postmortem started by hand earlier gets its due date
        # when the incident is resolved (incident_event_handle).
        due_on = business_days_after(incident.resolved_at, policy.business_days)
    postmortem = Postmortem.objects.create(
        incident=incident,
        owner=incident.lead,
        status=PostmortemStatus.DRAFT,
        required=required,
        due_on=due_on,
        created_at=now,
        updated_at=now,
        summary=incident.summary,
        impact=impact_prefill(incident),
        section_versions={},
    )
    _timeline_prefill(postmortem)
    _revision(postmortem=postmortem, actor=actor, now=now, note=REVISION_CREATED)
    due = f", due {due_on:%a %d %b}" if due_on else ""
    _record(
        postmortem=postmortem,
        action="created",
        actor=actor,
        text=f"Postmortem started, owned by {_user_label(postmortem.owner)}{due}",
    )
    return postmortem


@writes
def postmortem_start(*, incident: Incident, actor: AbstractBaseUser) -> Postmortem:
    """Start the postmortem by hand (before resolution, or when the policy only offers one)."""
    if Postmortem.objects.filter(incident=incident).exists():
        raise ValidationError({"__all__": errors.ALREADY_EXISTS})
    return _create(incident=incident, actor=actor, now=timezone.now())


def incident_event_handle(*, event: TimelineEvent) -> None:
    """Reacts to a new incident timeline event (registered in PostmortemsConfig.ready): resolving an
    incident whose severity requires or offers a postmortem starts one; resolving one again after a
    reopening keeps the existing postmortem, and gives a required one a due date if it had none."""
    if event.kind != EventKind.STATUS_CHANGED or event.data.get("to") != IncidentStatus.RESOLVED:
        return
    incident = event.incident
    existing = Postmortem.objects.select_for_update().filter(incident=incident).first()
    policy = policy_for(incident)
    if existing is not None:
        if existing.due_on is None and existing.is_open and policy and policy.requirement == Requirement.REQUIRED:
            existing.required = True
            existing.due_on = business_days_after(event.occurred_at, policy.business_days)
            existing.save(update_fields=["required", "due_on"])
        return
    if policy is None or policy.requirement == Requirement.NOT_REQUIRED:
        return
    _create(incident=incident, actor=None, now=event.recorded_at)


# --- The text, section by section ---------------------------------------------------------------


def _check_editable(postmortem: Postmortem) -> None:
    if postmortem.is_read_only:
        raise ValidationError({"__all__": errors.READ_ONLY})


@writes
def postmortem_sections_save(
    *, postmortem: Postmortem, actor: AbstractBaseUser, base_version: int, sections: dict[str, str]
) -> Postmortem:
    """Save the sections an editor changed, starting from `base_version` (the version the editor
    last loaded or saved).

    A section merges automatically when nobody else changed it since base_version: edits to
    different sections never collide. A section someone else changed since then is never
    overwritten: PostmortemConflict carries the current text so the editor can show both, and
    nothing of this save is written. Sending the text that is already there is not a change.
    Each save that changes something bumps `version` and keeps a revision."""
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        raise ValidationError({"__all__": errors.UNKNOWN_SECTIONS.format(names=", ".join(sorted(unknown)))})
    postmortem = _locked(postmortem)
    _check_editable(postmortem)
    if not 1 <= base_version <= postmortem.version:
        raise ValidationError({"version": errors.BAD_BASE_VERSION.format(current=postmortem.version)})
    # Browsers send \r\n from a textarea; the text is stored with \n so the same words compare equal.
    texts = {name: text.replace("\r\n", "\n") for name, text in sections.items()}
    changed = {name: text for name, text in texts.items() if getattr(postmortem, name) != text}
    if not changed:
        return postmortem
    versions = postmortem.section_versions
    stale = [name for name in changed if versions.get(name, 0) > base_version]
    if stale:
        raise PostmortemConflict(
            version=postmortem.version,
            current={name: getattr(postmortem, name) for name in stale},
            mine={name: changed[name] for name in stale},
        )
    now = timezone.now()
    postmortem.version += 1
    for name, text in changed.items():
        setattr(postmortem, name, text)
        versions[name] = postmortem.version
    postmortem.section_versions = versions
    postmortem.updated_at = now
    postmortem.save(update_fields=[*changed, "version", "section_versions", "updated_at"])
    _revision(postmortem=postmortem, actor=actor, now=now, note="Edited " + ", ".join(SECTIONS[n] for n in changed))
    return postmortem


@writes
def postmortem_revision_restore(*, postmortem: Postmortem, actor: AbstractBaseUser, version: int) -> Postmortem:
    """Bring back the text of an earlier revision as a new version; history keeps everything."""
    postmortem = _locked(postmortem)
    _check_editable(postmortem)
    revision = PostmortemRevision.objects.filter(postmortem=postmortem, version=version).first()
    if revision is None:
        raise ValidationError({"version": errors.UNKNOWN_VERSION})
    changed = {
        name: text for name, text in revision.sections.items() if name in SECTIONS and getattr(postmortem, name) != text
    }
    if not changed:
        return postmortem
    now = timezone.now()
    postmortem.version += 1
    versions = postmortem.section_versions
    for name, text in changed.items():
        setattr(postmortem, name, text)
        versions[name] = postmortem.version
    postmortem.section_versions = versions
    postmortem.updated_at = now
    postmortem.save(update_fields=[*changed, "version", "section_versions", "updated_at"])
    _revision(postmortem=postmortem, actor=actor, now=now, note=f"Restored version {version}")
    return postmortem


# --- Timeline rows and the five whys ----------------------------------------------------------


def _text(value: str, *, message: str, limit: int = 500) -> str:
    value = value.strip()
    if not value:
        raise ValidationError({"text": message})
    if len(value) > limit:
        raise ValidationError({"text": f"At most {limit} characters."})
    return value


@writes
def postmortem_timeline_row_save(
    *,
    postmortem: Postmortem,
    actor: AbstractBaseUser,
    text: str,
    occurred_at: datetime | None = None,
    row: PostmortemTimelineRow | None = None,
) -> PostmortemTimelineRow:
    """Add a timeline row, or edit one (its link to the incident's event stays)."""
    postmortem = _locked(postmortem)
    _check_editable(postmortem)
    text = _text(text, message=errors.TEXT_REQUIRED)
    if row is None:
        row = PostmortemTimelineRow.objects.create(
            postmortem=postmortem, occurred_at=occurred_at or timezone.now(), text=text
        )
    else:
        row.text = text
        if occurred_at is not None:
            row.occurred_at = occurred_at
        row.save(update_fields=["text", "occurred_at"])
    Postmortem.objects.filter(pk=postmortem.pk).update(updated_at=timezone.now())
    return row


@writes
def postmortem_timeline_starred_add(*, postmortem: Postmortem, actor: AbstractBaseUser) -> list[PostmortemTimelineRow]:
    """Bring the events starred since the postmortem started into its timeline: one row for each
    starred event no row links to yet, so adding twice adds nothing the second time."""
    postmortem = _locked(postmortem)
    _check_editable(postmortem)
    rows = _timeline_rows_add(postmortem, selectors.starred_events_missing(postmortem=postmortem))
    if rows:
        Postmortem.objects.filter(pk=postmortem.pk).update(updated_at=timezone.now())
    return rows


@writes
def postmortem_timeline_row_delete(*, row: PostmortemTimelineRow, actor: AbstractBaseUser) -> None:
    _check_editable(_locked(row.postmortem))
    row.delete()


@writes
def postmortem_five_why_add(*, postmortem: Postmortem, actor: AbstractBaseUser, why: str, because: str = "") -> FiveWhy:
    postmortem = _locked(postmortem)
    _check_editable(postmortem)
    why = _text(why, message=errors.WHY_REQUIRED)
    position = postmortem.five_whys.count() + 1
    return FiveWhy.objects.create(postmortem=postmortem, position=position, why=why, because=because.strip()[:500])


@writes
def postmortem_five_why_delete(*, five_why: FiveWhy, actor: AbstractBaseUser) -> None:
    _check_editable(_locked(five_why.postmortem))
    five_why.delete()


# --- Workflow: draft → in review → approved → published; or not required -----------------------

_ALLOWED = {
    PostmortemStatus.IN_REVIEW: {PostmortemStatus.DRAFT},
    PostmortemStatus.APPROVED: {PostmortemStatus.IN_REVIEW},
    PostmortemStatus.PUBLISHED: {PostmortemStatus.APPROVED},
    PostmortemStatus.NOT_REQUIRED: {PostmortemStatus.DRAFT, PostmortemStatus.IN_REVIEW},
    PostmortemStatus.DRAFT: {PostmortemStatus.IN_REVIEW, PostmortemStatus.PUBLISHED, PostmortemStatus.NOT_REQUIRED},
}


def _move(postmortem: Postmortem, wanted: str) -> None:
    if postmortem.status not in _ALLOWED[wanted]:
        raise ValidationError(
            {
                "__all__": errors.BAD_TRANSITION.format(
                    current=postmortem.get_status_display().lower(), wanted=PostmortemStatus(wanted).label.lower()
                )
            }
        )
    postmortem.status = wanted


@writes
def postmortem_review_request(
    *, postmortem: Postmortem, actor: AbstractBaseUser, reviewers: Iterable[AbstractBaseUser]
) -> Postmortem:
    postmortem = _locked(postmortem)
    reviewers = list(reviewers)
    if not reviewers:
        raise ValidationError({"reviewers": errors.REVIEWERS_REQUIRED})
    _move(postmortem, PostmortemStatus.IN_REVIEW)
    postmortem.updated_at = timezone.now()
    postmortem.save(update_fields=["status", "updated_at"])
    postmortem.reviewers.set(reviewers)
    names = ", ".join(sorted(_user_label(user) for user in reviewers))
    _record(postmortem=postmortem, action="in_review", actor=actor, text=f"Postmortem sent for review to {names}")
    return postmortem


@writes
def postmortem_approve(*, postmortem: Postmortem, actor: AbstractBaseUser) -> Postmortem:
    """Approve a postmortem in review: a named reviewer (or a superuser) may, and unless the
    severity's postmortem policy turns four eyes off, only one who is not among its authors (its
    owner and whoever edited or restored its text), superusers included."""
    postmortem = _locked(postmortem)
    if not actor.is_superuser and not postmortem.reviewers.filter(pk=actor.pk).exists():
        raise ValidationError({"__all__": errors.APPROVER_NOT_REVIEWER})
    policy = policy_for(postmortem.incident)
    if (policy is None or policy.approval_by_other) and actor.pk in selectors.postmortem_author_ids(postmortem):
        raise ValidationError({"__all__": errors.APPROVER_IS_AUTHOR})
    _move(postmortem, PostmortemStatus.APPROVED)
    postmortem.updated_at = timezone.now()
    postmortem.save(update_fields=["status", "updated_at"])
    _record(postmortem=postmortem, action="approved", actor=actor, text=f"Postmortem approved by {_user_label(actor)}")
    return postmortem


@writes
def postmortem_publish(*, postmortem: Postmortem, actor: AbstractBaseUser) -> Postmortem:
    """Publish an approved postmortem; it is read-only from now on and its text is kept as a
    revision, so the published words can always be found again."""
    postmortem = _locked(postmortem)
    _move(postmortem, PostmortemStatus.PUBLISHED)
    now = timezone.now()
    postmortem.published_at = now
    postmortem.updated_at = now
    postmortem.version += 1
    postmortem.save(update_fields=["status", "published_at", "updated_at", "version"])
    _revision(postmortem=postmortem, actor=actor, now=now, note=REVISION_PUBLISHED)
    _record(postmortem=postmortem, action="published", actor=actor, text="Postmortem published")
    return postmortem


@writes
def postmortem_amend(*, postmortem: Postmortem, actor: AbstractBaseUser, reason: str = "") -> Postmortem:
    """Reopen a published postmortem for a change: it goes back to draft, and the published text
    stays in the history as its own revision."""
    postmortem = _locked(postmortem)
    _move(postmortem, PostmortemStatus.DRAFT)
    postmortem.published_at = None
    postmortem.updated_at = timezone.now()
    postmortem.save(update_fields=["status", "published_at", "updated_at"])
    _record(postmortem=postmortem, action="amended", actor=actor, text="Postmortem reopened for changes", body=reason)
    return postmortem


@writes
def postmortem_not_required(*, postmortem: Postmortem, actor: AbstractBaseUser, reason: str) -> Postmortem:
    postmortem = _locked(postmortem)
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": errors.NOT_REQUIRED_REASON})
    _move(postmortem, PostmortemStatus.NOT_REQUIRED)
    postmortem.not_required_reason = reason
    postmortem.updated_at = timezone.now()
    postmortem.save(update_fields=["status", "not_required_reason", "updated_at"])
    _record(
        postmortem=postmortem, action="not_required", actor=actor, text="Postmortem marked not required", body=reason
    )
    return postmortem


# --- Action items -------------------------------------------------------------------------------


def action_item_due(*, priority: str, today: date | None = None) -> date:
    policy = ActionItemDuePolicy.objects.filter(priority=priority).first()
    days = policy.days if policy else DEFAULT_ACTION_ITEM_DAYS
    return (today or team_today()) + timedelta(days=days)


@writes
def action_item_add(
    *,
    postmortem: Postmortem,
    actor: AbstractBaseUser,
    title: str,
    owner: AbstractBaseUser | None = None,
    priority: str = Priority.MEDIUM,
    kind: str = ActionKind.PREVENT,
    due_on: date | None = None,
) -> ActionItem:
    """Add an action item; without a due date it follows the policy for its priority. Action items
    stay open to changes after publishing: they are the work that follows the review."""
    title = single_line(title)
    if not title:
        raise ValidationError({"title": errors.TITLE_REQUIRED})
    if priority not in Priority.values:
        raise ValidationError({"priority": f"One of {', '.join(Priority.values)}."})
    if kind not in ActionKind.values:
        raise ValidationError({"kind": f"One of {', '.join(ActionKind.values)}."})
    postmortem = _locked(postmortem)
    return ActionItem.objects.create(
        postmortem=postmortem,
        title=title[:200],
        owner=owner or actor,
        priority=priority,
        kind=kind,
        due_on=due_on or action_item_due(priority=priority),
        created_at=timezone.now(),
    )


@writes
def action_item_update(*, item: ActionItem, actor: AbstractBaseUser, **changes) -> ActionItem:
    """Change an action item's status, owner, priority, kind, due date or title."""
    allowed = {"status", "owner", "priority", "kind", "due_on", "title"}
    unknown = set(changes) - allowed
    if unknown:
        raise ValidationError({"__all__": f"Unknown fields: {', '.join(sorted(unknown))}."})
    item = ActionItem.objects.select_for_update().get(pk=item.pk)
    if "status" in changes and changes["status"] not in ActionStatus.values:
        raise ValidationError({"status": f"One of {', '.join(ActionStatus.values)}."})
    if "title" in changes:
        changes["title"] = single_line(changes["title"])
        if not changes["title"]:
            raise ValidationError({"title": errors.TITLE_REQUIRED})
    for field, value in changes.items():
        setattr(item, field, value)
    if "status" in changes:
        item.completed_at = None if item.is_open else (item.completed_at or timezone.now())
    item.save()
    return item


# --- Reminders ------------------------------------------------------------------------------------
#
# One sweep (postmortems.tasks.send_postmortem_reminders, hourly by beat) finds what is due in the
# database and hands it to notifications.messages_send. Each message's dedup key names the thing
# and its due date, so running the sweep every hour (or twice at once) tells each person once.

DIGEST_WEEKDAY = 0  # Monday, in the team's time zone


def _link(path: str) -> str:
    return f"{settings.SITE_URL}{path}"


def _postmortem_reminder(postmortem: Postmortem, *, state: str, today: date) -> Outgoing:
    incident = postmortem.incident
    path = reverse("postmortems:editor", kwargs={"reference": incident.reference})
    when = "is due tomorrow" if state == "due-tomorrow" else f"was due {postmortem.due_on:%a %d %b}"
    return Outgoing(
        dedup_key=f"postmortem:{postmortem.pk}:{state}:{postmortem.due_on.isoformat()}",
        topic=incident.reference,
        subject=f"[{incident.severity.key}] Postmortem for {incident.reference} {when}: {incident.title}",
        body_text="\n".join(
            [
                f"The postmortem for {incident.reference} {incident.title} {when}.",
                f"Status: {postmortem.get_status_display()}.",
                "",
                f"Write it: {_link(path)}",
            ]
        ),
        link=_link(path),
        payload={
            "event": f"postmortem.{state}",
            "incident_id": incident.pk,
            "reference": incident.reference,
            "postmortem_id": postmortem.pk,
            "due_on": postmortem.due_on.isoformat(),
        },
        recipients=[postmortem.owner],
    )


def _action_item_line(item: ActionItem) -> str:
    return (
        f"- {item.title} ({item.postmortem.incident.reference}, {item.get_priority_display()}, "
        f"due {item.due_on:%a %d %b}, {item.get_status_display()})"
    )


def postmortem_reminders_send(*, now: datetime | None = None) -> int:
    """Tell owners about postmortems due tomorrow or overdue and action items overdue, and on the
    digest weekday send each owner the list of their open action items. Returns how many
    messages were handed over (already-sent ones are skipped by their dedup key)."""
    now = now or timezone.now()
    today = team_today(now)
    tomorrow = today + timedelta(days=1)
    outgoing: list[Outgoing] = []
    postmortems = (
        Postmortem.objects.select_related("incident__severity", "owner")
        .filter(status__in=OPEN_POSTMORTEM_STATUSES, owner__isnull=False, owner__is_active=True, due_on__lte=tomorrow)
        .order_by("due_on", "id")
    )
    for postmortem in postmortems:
        state = "due-tomorrow" if postmortem.due_on == tomorrow else "overdue" if postmortem.due_on < today else ""
        if state:
            outgoing.append(_postmortem_reminder(postmortem, state=state, today=today))

    open_items = ActionItem.objects.select_related("postmortem__incident", "owner").filter(
        status__in=OPEN_ACTION_STATUSES, owner__isnull=False, owner__is_active=True
    )
    tracker = _link(reverse("postmortems:action_items"))
    for item in open_items.filter(due_on__lt=today).order_by("due_on", "id"):
        incident = item.postmortem.incident
        outgoing.append(
            Outgoing(
                dedup_key=f"action-item:{item.pk}:overdue:{item.due_on.isoformat()}",
                topic=incident.reference,
                subject=f"Action item overdue: {item.title}",
                body_text=f"Your action item from the {incident.reference} postmortem is overdue.\n\n"
                f"{_action_item_line(item)}\n\n{tracker}?owner=me&status=active",
                link=f"{tracker}?owner=me&status=active",
                payload={"event": "action_item.overdue", "incident_id": incident.pk, "action_item_id": item.pk},
                recipients=[item.owner],
            )
        )

    if today.weekday() == DIGEST_WEEKDAY:
        year, week, _ = today.isocalendar()
        by_owner: dict[int, list[ActionItem]] = {}
        for item in open_items.order_by("owner_id", "due_on", "id"):
            by_owner.setdefault(item.owner_id, []).append(item)
        for items in by_owner.values():
            owner = items[0].owner
            overdue = sum(1 for item in items if item.due_on < today)
            outgoing.append(
                Outgoing(
                    dedup_key=f"action-items:digest:{owner.pk}:{year}-W{week:02d}",
                    subject=f"Your open action items this week: {len(items)} ({overdue} overdue)",
                    body_text="\n".join([*(_action_item_line(item) for item in items), "", tracker]),
                    link=f"{tracker}?owner=me&status=active",
                    payload={"event": "action_item.digest", "week": f"{year}-W{week:02d}"},
                    recipients=[owner],
                )
            )
    with transaction.atomic():
        notification_services.messages_send(outgoing=outgoing, now=now)
    return len(outgoing)
