"""The severity policy: response targets, update cadence, escalation ladder and who is told, per
severity. Every change goes through severity_policy_update (the API and the admin alike), so the
values are checked and active incidents are re-planned."""

import logging

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db.models.functions import Coalesce
from django.utils import timezone

from config.versions import INCIDENTS, atomic_bumping
from core.outbound import outbound_url_check
from incidents import errors
from incidents.models import DueOutcome, Incident, IncidentStatus, SeverityPolicy, UpdateDue

logger = logging.getLogger(__name__)

# A policy change re-plans incidents: it tells the cached incident pages that incidents changed.
writes = atomic_bumping(INCIDENTS)


POLICY_FIELDS = {
    "name",
    "description",
    "response_time_minutes",
    "response_time_label",
    "mitigate_target_minutes",
    "resolve_target_minutes",
    "update_cadence_minutes",
    "escalate_responders_after_percent",
    "escalate_contacts_after_percent",
    "escalation_groups",
    "escalation_users",
    "notified_groups",
    "stakeholders_label",
    "show_on_status_page",
    "webhook_url",
    "webhook_format",
}
POLICY_TEXT_FIELDS = ("name", "description", "response_time_label", "stakeholders_label", "webhook_url")
# The admin also edits the text that gives examples of a severity; the API does not offer it.
ADMIN_TEXT_FIELDS = ("examples",)
# And the public voice's switches (the API does not offer them either): publishing at once, and
# whether a responder's public update waits for the incident lead's or comms lead's approval.
ADMIN_FLAGS = ("publish_automatically", "public_updates_need_approval")
POLICY_REQUIRED_TEXT_FIELDS = ("name", "response_time_label")
POLICY_RELATIONS = ("escalation_groups", "escalation_users", "notified_groups")
LADDER_FIELDS = ("escalate_responders_after_percent", "escalate_contacts_after_percent")
# A week: a longer cadence or response time is a typo, not a policy.
POLICY_MINUTES_MAX = 7 * 24 * 60
# Ten cadences past due: the contacts step has to fire while the incident still matters.
LADDER_PERCENT_MAX = 1000


def _policy_problems(changes: dict) -> dict[str, list[str]]:
    """Every refusal that does not depend on the stored policy, by field."""
    problems: dict[str, list[str]] = {}

    def refuse(field: str, message: str) -> None:
        problems.setdefault(field, []).append(message)

    for field in (*POLICY_TEXT_FIELDS, *ADMIN_TEXT_FIELDS):
        if field not in changes:
            continue
        limit = SeverityPolicy._meta.get_field(field).max_length
        if field in POLICY_REQUIRED_TEXT_FIELDS and not changes[field]:
            refuse(field, errors.VALUE_REQUIRED)
        elif len(changes[field]) > limit:
            refuse(field, errors.TOO_LONG.format(limit=limit))
    minutes_messages = {
        "update_cadence_minutes": errors.CADENCE_OUT_OF_RANGE,
        "response_time_minutes": errors.RESPONSE_TIME_OUT_OF_RANGE,
        "mitigate_target_minutes": errors.TARGET_OUT_OF_RANGE,
        "resolve_target_minutes": errors.TARGET_OUT_OF_RANGE,
    }
    for field, message in minutes_messages.items():
        value = changes.get(field)
        if value is not None and not 1 <= value <= POLICY_MINUTES_MAX:
            refuse(field, message.format(high=POLICY_MINUTES_MAX))
    for field in LADDER_FIELDS:
        if field in changes and (changes[field] is None or not 0 <= changes[field] <= LADDER_PERCENT_MAX):
            refuse(field, errors.LADDER_PERCENT_OUT_OF_RANGE.format(high=LADDER_PERCENT_MAX))
    if changes.get("webhook_url") and "webhook_url" not in problems:
        try:
            URLValidator(schemes=["http", "https"])(changes["webhook_url"])
        except ValidationError:
            refuse("webhook_url", errors.BAD_WEBHOOK_URL)
        else:
            try:
                outbound_url_check(changes["webhook_url"])
            except ValidationError as error:
                refuse("webhook_url", error.messages[0])
    formats = [value for value, _ in SeverityPolicy._meta.get_field("webhook_format").choices]
    if "webhook_format" in changes and changes["webhook_format"] not in formats:
        refuse("webhook_format", errors.UNKNOWN_WEBHOOK_FORMAT.format(values=", ".join(formats)))
    return problems


def severity_policy_problems(*, policy: SeverityPolicy, changes: dict) -> dict[str, list[str]]:
    """Every refusal of `changes` to `policy`, by field; empty when severity_policy_update would
    apply them. The admin's form asks before it saves, to show them on its fields."""
    problems = _policy_problems(changes)
    # The ladder is judged as it will stand, so both steps can move together past the old values.
    responders, contacts = (changes.get(field, getattr(policy, field)) for field in LADDER_FIELDS)
    if not set(LADDER_FIELDS) & set(problems) and responders > contacts:
        for field in LADDER_FIELDS:
            if field in changes:
                problems.setdefault(field, []).append(errors.LADDER_OUT_OF_ORDER)
    return problems


def _active_incidents_replan(policy: SeverityPolicy) -> int:
    """Count every active incident's next update from its anchor with the policy's cadence, as
    _plan_next_update does, in one UPDATE. Returns how many incidents were re-planned."""
    anchor = Coalesce("cadence_anchor_at", "last_update_at", "declared_at")
    cadence = policy.update_cadence
    due = None if cadence is None else anchor + cadence
    active = Incident.objects.filter(severity=policy).exclude(status=IncidentStatus.RESOLVED)
    replanned = active.update(cadence_anchor_at=anchor, next_update_due_at=due, next_reminder_at=due)
    _dues_replace(policy, active)
    return replanned


def _dues_replace(policy: SeverityPolicy, active) -> None:
    """The re-planned incidents' open due times are replaced by the new ones (cleared when the
    cadence became "as needed"); the closed ones keep the cadence they were set with, so the
    history of promises is never rewritten (as services._dues_record does one at a time)."""
    now = timezone.now()
    UpdateDue.objects.filter(incident__in=active, outcome=DueOutcome.OPEN).update(
        outcome=DueOutcome.CLEARED if policy.update_cadence_minutes is None else DueOutcome.SUPERSEDED,
        closed_at=now,
    )
    if policy.update_cadence_minutes is None:
        return
    UpdateDue.objects.bulk_create(
        UpdateDue(
            incident_id=pk,
            severity=policy,
            due_at=due_at,
            cadence_minutes=policy.update_cadence_minutes,
            set_at=now,
        )
        for pk, due_at in active.values_list("pk", "next_update_due_at")
    )


@writes
def severity_policy_update(*, policy: SeverityPolicy, actor: AbstractBaseUser, **changes) -> SeverityPolicy:
    """Change a severity's response targets, update cadence, escalation ladder and who is told.

    A new update cadence applies at once: every active incident of the severity owes its next
    update one new cadence after its anchor (the last update, the declaration or the reopening),
    and none while the cadence is "as needed". Key and rank are not editable here: the rank
    orders every dashboard and the key is how people and tools name the severity. Policy edits
    are not incident events, so they go to the log rather than to any timeline."""
    unknown = set(changes) - POLICY_FIELDS - set(ADMIN_TEXT_FIELDS) - set(ADMIN_FLAGS)
    if unknown:
        raise ValidationError({"__all__": errors.UNKNOWN_FIELDS.format(names=", ".join(sorted(unknown)))})
    for field in (*POLICY_TEXT_FIELDS, *ADMIN_TEXT_FIELDS):
        if field in changes:
            changes[field] = changes[field].strip()
    policy = SeverityPolicy.objects.select_for_update().get(pk=policy.pk)
    problems = severity_policy_problems(policy=policy, changes=changes)
    if problems:
        raise ValidationError(problems)

    changed = [
        field for field, value in changes.items() if field not in POLICY_RELATIONS and getattr(policy, field) != value
    ]
    for field in changed:
        setattr(policy, field, changes[field])
    if changed:
        policy.save(update_fields=changed)
    for field in POLICY_RELATIONS:
        if field not in changes:
            continue
        wanted = {item.pk for item in changes[field]}
        related = getattr(policy, field)
        if wanted != set(related.values_list("pk", flat=True)):
            related.set(list(wanted))
            changed.append(field)
    if not changed:
        return policy
    replanned = _active_incidents_replan(policy) if "update_cadence_minutes" in changed else 0
    logger.info(
        "Severity policy %s changed by %s: %s; %d active incidents re-planned",
        policy.key,
        actor.get_username(),
        ", ".join(changed),
        replanned,
    )
    return policy
