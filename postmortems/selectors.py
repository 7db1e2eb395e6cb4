"""Reads for the postmortem pages. Each returns what a page needs in a fixed number of queries."""

from dataclasses import dataclass
from datetime import date

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Count, Prefetch, Q, QuerySet

from incidents import selectors as incident_selectors
from incidents.models import TimelineEvent
from postmortems.dates import team_today
from postmortems.models import (
    OPEN_ACTION_STATUSES,
    OPEN_POSTMORTEM_STATUSES,
    REVISION_CREATED,
    REVISION_PUBLISHED,
    ActionItem,
    Postmortem,
    PostmortemRevision,
    PostmortemStatus,
    PostmortemTimelineRow,
)

MY_ACTION_ITEMS_LIMIT = 10
# The tracker's "open or in progress" filter; a single status filters by that status alone.
ACTIVE_FILTER = "active"


def postmortem_for_editor(*, incident_id: int) -> Postmortem | None:
    return (
        Postmortem.objects.select_related("owner", "incident__severity", "incident__lead")
        .prefetch_related(
            "timeline_rows",
            "five_whys",
            "reviewers",
            Prefetch("action_items", queryset=ActionItem.objects.select_related("owner").order_by("due_on", "id")),
        )
        .filter(incident_id=incident_id)
        .first()
    )


def postmortem_summary(*, incident_id: int) -> Postmortem | None:
    """For the incident page's side panel: one query."""
    return Postmortem.objects.select_related("owner").filter(incident_id=incident_id).first()


def is_overdue(postmortem: Postmortem, today: date | None = None) -> bool:
    return postmortem.is_open and postmortem.due_on is not None and postmortem.due_on < (today or team_today())


def postmortem_list(
    *, user: AbstractBaseUser | AnonymousUser, status: str = "", overdue: bool = False
) -> QuerySet[Postmortem]:
    rows = (
        Postmortem.objects.filter(incident__in=incident_selectors.visible_incidents(user))
        .select_related("incident__severity", "owner")
        .annotate(open_items=Count("action_items", filter=Q(action_items__status__in=OPEN_ACTION_STATUSES)))
    )
    if status in PostmortemStatus.values:
        rows = rows.filter(status=status)
    if overdue:
        rows = rows.filter(status__in=OPEN_POSTMORTEM_STATUSES, due_on__lt=team_today())
    return rows.order_by("-created_at")


@dataclass(frozen=True)
class ActionItemFilters:
    owner: int | None = None
    status: str = ""
    priority: str = ""
    overdue: bool = False


def action_items_visible(user: AbstractBaseUser | AnonymousUser) -> QuerySet[ActionItem]:
    return ActionItem.objects.filter(postmortem__incident__in=incident_selectors.visible_incidents(user))


def action_items(*, user: AbstractBaseUser | AnonymousUser, filters: ActionItemFilters) -> QuerySet[ActionItem]:
    rows = action_items_visible(user).select_related("owner", "postmortem__incident__severity")
    if filters.owner:
        rows = rows.filter(owner_id=filters.owner)
    if filters.status == ACTIVE_FILTER:
        rows = rows.filter(status__in=OPEN_ACTION_STATUSES)
    elif filters.status:
        rows = rows.filter(status=filters.status)
    if filters.priority:
        rows = rows.filter(priority=filters.priority)
    if filters.overdue:
        rows = rows.filter(status__in=OPEN_ACTION_STATUSES, due_on__lt=team_today())
    return rows.order_by("due_on", "id")


def my_action_items(*, user: AbstractBaseUser, limit: int = MY_ACTION_ITEMS_LIMIT) -> list[ActionItem]:
    return list(
        action_items_visible(user)
        .select_related("postmortem__incident")
        .filter(owner_id=user.pk, status__in=OPEN_ACTION_STATUSES)
        .order_by("due_on", "id")[:limit]
    )


def overdue_action_items(
    *, viewer: AbstractBaseUser, owner_id: int, incident_ids: QuerySet, limit: int = MY_ACTION_ITEMS_LIMIT
) -> list[ActionItem]:
    """Open action items past their due day (in the team's zone) that `owner_id` owns or that come
    from the incidents of `incident_ids` (a subquery of ids), only those `viewer` may see."""
    return list(
        action_items_visible(viewer)
        .select_related("owner", "postmortem__incident")
        .filter(Q(owner_id=owner_id) | Q(postmortem__incident_id__in=incident_ids))
        .filter(status__in=OPEN_ACTION_STATUSES, due_on__lt=team_today())
        .order_by("due_on", "id")[:limit]
    )


def postmortem_author_ids(postmortem: Postmortem) -> set[int]:
    """Who wrote it: the owner, and whoever saved or restored its text."""
    edited_by = (
        postmortem.revisions.exclude(note__in=[REVISION_CREATED, REVISION_PUBLISHED])
        .exclude(author=None)
        .values_list("author_id", flat=True)
    )
    return {*edited_by, *([postmortem.owner_id] if postmortem.owner_id else [])}


def revisions(*, postmortem: Postmortem) -> list[PostmortemRevision]:
    return list(postmortem.revisions.select_related("author").order_by("-version"))


def starred_events_missing(*, postmortem: Postmortem) -> QuerySet[TimelineEvent]:
    """The incident's starred events that no row of the postmortem's timeline links to yet."""
    linked = PostmortemTimelineRow.objects.filter(postmortem_id=postmortem.pk, event__isnull=False).values("event_id")
    return (
        TimelineEvent.objects.filter(incident_id=postmortem.incident_id, starred=True)
        .exclude(pk__in=linked)
        .order_by("occurred_at", "id")
    )
