from datetime import UTC, date, datetime

import pytest
import time_machine
from django.core.exceptions import ValidationError

from incidents import services as incident_services
from incidents.models import EventKind, IncidentStatus, SeverityPolicy
from postmortems import errors, services
from postmortems.dates import add_business_days, business_days_after
from postmortems.models import (
    ActionItemDuePolicy,
    ActionStatus,
    Postmortem,
    PostmortemPolicy,
    PostmortemStatus,
    Priority,
    Requirement,
)
from tests.factories import ServiceFactory, UserFactory, declare_incident

pytestmark = pytest.mark.django_db


def resolve(incident, actor=None):
    return incident_services.incident_status_change(
        incident=incident, status=IncidentStatus.RESOLVED, actor=actor or incident.lead
    )


def postmortem_events(incident):
    return list(incident.timeline.filter(kind=EventKind.POSTMORTEM).order_by("id").values_list("data", flat=True))


# --- Business days -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "days", "due"),
    [
        (date(2026, 11, 23), 2, date(2026, 11, 25)),  # Monday → Wednesday
        (date(2026, 11, 26), 2, date(2026, 11, 30)),  # Thursday → Monday, over the weekend
        (date(2026, 11, 27), 2, date(2026, 12, 1)),  # Friday → Tuesday
        (date(2026, 11, 28), 2, date(2026, 12, 1)),  # Saturday → Tuesday
        (date(2026, 11, 29), 1, date(2026, 11, 30)),  # Sunday → Monday
        (date(2026, 11, 27), 0, date(2026, 11, 27)),
        (date(2026, 11, 23), 10, date(2026, 12, 7)),  # two whole weeks
    ],
)
def test_business_days_skip_weekends(start, days, due):
    assert add_business_days(start, days) == due


@pytest.mark.parametrize(
    ("zone", "due"),
    [
        ("UTC", date(2026, 11, 30)),  # still Thursday: Friday and Monday
        ("Europe/Berlin", date(2026, 12, 1)),  # already Friday 00:30: Monday and Tuesday
        ("America/Los_Angeles", date(2026, 11, 30)),  # Thursday afternoon
    ],
)
def test_business_days_count_in_the_team_time_zone(settings, zone, due):
    settings.TIME_ZONE = zone
    thursday_late_utc = datetime(2026, 11, 26, 23, 30, tzinfo=UTC)
    assert business_days_after(thursday_late_utc, 2) == due


def test_sunday_evening_utc_is_monday_morning_in_tokyo(settings):
    sunday_evening = datetime(2026, 11, 29, 23, 30, tzinfo=UTC)
    settings.TIME_ZONE = "UTC"
    assert business_days_after(sunday_evening, 2) == date(2026, 12, 1)
    settings.TIME_ZONE = "Asia/Tokyo"
    assert business_days_after(sunday_evening, 2) == date(2026, 12, 2)


# --- Creation ------------------------------------------------------------------------------------


def test_resolving_a_sev2_starts_a_required_postmortem_due_in_two_business_days(settings):
    settings.TIME_ZONE = "Europe/Berlin"
    api = ServiceFactory(name="API", slug="api")
    with time_machine.travel(datetime(2026, 11, 27, 9, 0, tzinfo=UTC), tick=False):
        incident = declare_incident(
            severity="SEV2",
            affected_users_count=1000,
            affected_users_percent=10,
            affected_services=[api],
            summary="Checkout failed for one in ten users.",
            business_impact="Lost orders",
        )
    with time_machine.travel(datetime(2026, 11, 27, 9, 45, tzinfo=UTC), tick=False):
        resolve(incident)

    postmortem = Postmortem.objects.get(incident=incident)
    assert postmortem.required
    assert postmortem.status == PostmortemStatus.DRAFT
    assert postmortem.owner == incident.lead
    assert postmortem.due_on == date(2026, 12, 1)  # Friday → Tuesday
    assert postmortem.summary == "Checkout failed for one in ten users."
    assert "- Severity: SEV2 High" in postmortem.impact
    assert "- Duration: 45 min" in postmortem.impact
    assert "- Users affected: ~1,000 users (10%)" in postmortem.impact
    assert "- Services affected: API" in postmortem.impact
    assert "Lost orders" in postmortem.impact
    assert postmortem_events(incident) == [{"action": "created", "postmortem_id": postmortem.pk}]
    assert postmortem.revisions.count() == 1


@pytest.mark.parametrize(
    ("count", "percent", "text"),
    [
        (None, 30, "30% of users"),
        (1200, 30, "~1,200 users (30%)"),
        (1200, None, "~1,200 users"),
        (None, None, "Unknown"),
        (None, "12.50", "12.5% of users"),
    ],
)
def test_impact_says_how_many_users_were_affected_with_what_is_known(count, percent, text):
    incident = declare_incident(severity="SEV1", affected_users_count=count, affected_users_percent=percent)
    resolve(incident)
    assert f"- Users affected: {text}\n" in incident.postmortem.impact


def test_timeline_starts_from_the_key_events_plus_the_starred_ones_linked_to_them():
    incident = declare_incident(severity="SEV1")
    note = incident_services.incident_note_add(incident=incident, author=incident.lead, text="Rolled back the deploy")
    incident_services.incident_note_add(incident=incident, author=incident.lead, text="Not important")
    declared = incident.timeline.get(kind=EventKind.DECLARED)
    for event in (declared, note):
        incident_services.timeline_event_star(event=event, starred=True)
    resolve(incident)

    # A star adds to the key events, it does not replace them: the resolution is there too.
    resolved = incident.timeline.get(kind=EventKind.STATUS_CHANGED, data__to="resolved")
    rows = list(incident.postmortem.timeline_rows.all())
    assert [row.event_id for row in rows] == [declared.pk, note.pk, resolved.pk]
    assert [row.text for row in rows] == [declared.text, "Rolled back the deploy", resolved.text]


def test_without_starred_events_the_timeline_starts_from_the_key_events():
    incident = declare_incident(severity="SEV2")
    lead = incident.lead
    record = incident_services.incident_event_record
    record(incident=incident, kind=EventKind.ALERT, actor=None, text="Alert fired: checkout 5xx", data={})
    incident_services.incident_note_add(incident=incident, author=lead, text="Looking at the logs")
    incident_services.incident_severity_change(
        incident=incident, severity=SeverityPolicy.objects.get(key="SEV1"), actor=lead
    )
    incident_services.incident_update_post(incident=incident, author=lead, progress="Internal", visibility="internal")
    incident_services.incident_update_post(incident=incident, author=lead, progress="Public", visibility="public")
    incident_services.incident_milestone_set(
        incident=incident, actor=lead, milestone="mitigated_at", at=incident.declared_at
    )
    record(incident=incident, kind=EventKind.RUNBOOK_STEP, actor=lead, text="Step 1 done", data={"outcome": "done"})
    record(incident=incident, kind=EventKind.RUNBOOK_STEP, actor=lead, text="Step 2 failed", data={"outcome": "failed"})
    resolve(incident)

    rows = list(incident.postmortem.timeline_rows.all())
    events = {event.pk: event for event in incident.timeline.all()}
    assert [events[row.event_id].kind for row in rows] == [
        EventKind.DECLARED,
        EventKind.MILESTONE_SET,  # mitigated at the declaration's time: the rows follow when things happened
        EventKind.ALERT,
        EventKind.SEVERITY_CHANGED,
        EventKind.STATUS_UPDATE,  # the public one; an internal update is no key event
        EventKind.RUNBOOK_STEP,
        EventKind.STATUS_CHANGED,
    ]
    # Each row says what happened in the event's own words, not only its label.
    texts = [row.text for row in rows]
    assert "Public status update: Public" in texts
    assert "Step 2 failed" in texts
    assert texts[0] == events[rows[0].event_id].text
    assert [row.occurred_at for row in rows] == sorted(row.occurred_at for row in rows)


def test_events_starred_after_the_postmortem_started_are_added_once_in_time_order():
    incident = declare_incident(severity="SEV2")
    early = incident_services.incident_note_add(incident=incident, author=incident.lead, text="Early clue")
    resolve(incident)
    postmortem = incident.postmortem
    late = incident_services.incident_note_add(incident=incident, author=incident.lead, text="Late finding")
    key_rows = postmortem.timeline_rows.count()
    declared = incident.timeline.get(kind=EventKind.DECLARED)  # already a row: not added again
    for event in (late, early, declared):
        incident_services.timeline_event_star(event=event, starred=True)

    added = services.postmortem_timeline_starred_add(postmortem=postmortem, actor=incident.lead)
    assert [row.event_id for row in added] == [early.pk, late.pk]
    assert services.postmortem_timeline_starred_add(postmortem=postmortem, actor=incident.lead) == []
    assert postmortem.timeline_rows.count() == key_rows + 2
    assert postmortem.timeline_rows.filter(event=declared).count() == 1

    _publish(postmortem, incident.lead)
    extra = incident_services.incident_note_add(incident=incident, author=incident.lead, text="After publishing")
    incident_services.timeline_event_star(event=extra, starred=True)
    with pytest.raises(ValidationError) as refused:
        services.postmortem_timeline_starred_add(postmortem=postmortem, actor=incident.lead)
    assert refused.value.messages == [errors.READ_ONLY]


def _publish(postmortem, actor):
    reviewer = UserFactory(role="responder")  # four eyes: not the author
    services.postmortem_review_request(postmortem=postmortem, actor=actor, reviewers=[reviewer])
    services.postmortem_approve(postmortem=postmortem, actor=reviewer)
    services.postmortem_publish(postmortem=postmortem, actor=actor)


@pytest.mark.parametrize(
    ("severity", "created", "required"),
    [("SEV1", True, True), ("SEV2", True, True), ("SEV3", True, False), ("SEV4", False, False)],
)
def test_the_policy_decides_whether_resolution_starts_a_postmortem(severity, created, required):
    incident = declare_incident(severity=severity)
    resolve(incident)
    postmortem = Postmortem.objects.filter(incident=incident).first()
    assert (postmortem is not None) == created
    if postmortem:
        assert postmortem.required == required
        assert (postmortem.due_on is not None) == required


def test_the_policy_is_data_an_admin_can_change():
    policy = PostmortemPolicy.objects.get(severity__key="SEV4")
    policy.requirement, policy.business_days = Requirement.REQUIRED, 5
    policy.save()
    incident = declare_incident(severity="SEV4")
    with time_machine.travel(datetime(2026, 11, 23, 12, 0, tzinfo=UTC), tick=False):
        resolve(incident)
    assert incident.postmortem.due_on == date(2026, 11, 30)


def test_started_by_hand_before_resolution_gets_its_due_date_on_resolution():
    incident = declare_incident(severity="SEV1")
    postmortem = services.postmortem_start(incident=incident, actor=incident.lead)
    assert postmortem.due_on is None
    with pytest.raises(ValidationError, match=errors.ALREADY_EXISTS):
        services.postmortem_start(incident=incident, actor=incident.lead)
    with time_machine.travel(datetime(2026, 11, 23, 12, 0, tzinfo=UTC), tick=False):
        resolve(incident)
    postmortem.refresh_from_db()
    assert postmortem.due_on == date(2026, 11, 25)
    assert Postmortem.objects.filter(incident=incident).count() == 1
    assert [data["action"] for data in postmortem_events(incident)] == ["created"]


def test_reopening_and_resolving_again_keeps_one_postmortem():
    incident = declare_incident(severity="SEV2")
    resolve(incident)
    first = incident.postmortem
    incident_services.incident_status_change(incident=incident, status=IncidentStatus.IDENTIFIED, actor=incident.lead)
    resolve(incident)
    assert Postmortem.objects.filter(incident=incident).get() == first


# --- Sections: merge or conflict --------------------------------------------------------------


@pytest.fixture
def postmortem():
    incident = declare_incident(severity="SEV2")
    resolve(incident)
    return incident.postmortem


def test_edits_to_different_sections_merge(postmortem):
    alice, bob = UserFactory(role="responder"), UserFactory(role="responder")
    base = postmortem.version
    services.postmortem_sections_save(
        postmortem=postmortem, actor=alice, base_version=base, sections={"root_cause": "A"}
    )
    saved = services.postmortem_sections_save(
        postmortem=postmortem, actor=bob, base_version=base, sections={"resolution": "B"}
    )
    assert saved.version == base + 2
    assert (saved.root_cause, saved.resolution) == ("A", "B")
    assert saved.section_versions == {"root_cause": base + 1, "resolution": base + 2}
    assert saved.revisions.count() == 3


def test_an_edit_to_a_section_changed_since_the_base_is_a_conflict_with_the_current_text(postmortem):
    alice, bob = UserFactory(role="responder"), UserFactory(role="responder")
    base = postmortem.version
    services.postmortem_sections_save(
        postmortem=postmortem, actor=alice, base_version=base, sections={"root_cause": "Alice's words"}
    )
    with pytest.raises(services.PostmortemConflict) as conflict:
        services.postmortem_sections_save(
            postmortem=postmortem,
            actor=bob,
            base_version=base,
            sections={"root_cause": "Bob's words", "resolution": "Bob's fix"},
        )
    assert conflict.value.version == base + 1
    assert conflict.value.current == {"root_cause": "Alice's words"}
    assert conflict.value.mine == {"root_cause": "Bob's words"}
    postmortem.refresh_from_db()
    # Nothing of the refused save was written, not even the section that would have merged.
    assert (postmortem.root_cause, postmortem.resolution, postmortem.version) == ("Alice's words", "", base + 1)
    # Bob merges and saves on top of the version he was shown.
    merged = services.postmortem_sections_save(
        postmortem=postmortem,
        actor=bob,
        base_version=conflict.value.version,
        sections={"root_cause": "Alice's words\n\nBob's words", "resolution": "Bob's fix"},
    )
    assert merged.root_cause == "Alice's words\n\nBob's words"


def test_saving_the_text_already_there_is_no_change_and_no_conflict(postmortem):
    base = postmortem.version
    services.postmortem_sections_save(
        postmortem=postmortem, actor=postmortem.owner, base_version=base, sections={"root_cause": "One\ntwo"}
    )
    # A browser sends the same text with \r\n line ends, on the old base: still no conflict.
    again = services.postmortem_sections_save(
        postmortem=postmortem, actor=postmortem.owner, base_version=base, sections={"root_cause": "One\r\ntwo"}
    )
    assert again.version == base + 1


def test_unknown_sections_and_impossible_versions_are_refused(postmortem):
    with pytest.raises(ValidationError, match="Unknown sections: title"):
        services.postmortem_sections_save(
            postmortem=postmortem, actor=postmortem.owner, base_version=1, sections={"title": "x"}
        )
    with pytest.raises(ValidationError, match="base version"):
        services.postmortem_sections_save(
            postmortem=postmortem, actor=postmortem.owner, base_version=99, sections={"summary": "x"}
        )


def test_restore_brings_back_an_earlier_text_as_a_new_version(postmortem):
    owner = postmortem.owner
    v2 = services.postmortem_sections_save(
        postmortem=postmortem, actor=owner, base_version=1, sections={"root_cause": "First idea"}
    ).version
    services.postmortem_sections_save(
        postmortem=postmortem, actor=owner, base_version=v2, sections={"root_cause": "Second"}
    )
    restored = services.postmortem_revision_restore(postmortem=postmortem, actor=owner, version=v2)
    assert restored.root_cause == "First idea"
    assert restored.version == v2 + 2
    assert restored.revisions.first().note == f"Restored version {v2}"


# --- Workflow ------------------------------------------------------------------------------------


def test_draft_review_approve_publish_then_read_only_and_amend(postmortem):
    owner = postmortem.owner
    reviewer = UserFactory(role="responder")
    outsider = UserFactory(role="responder")
    with pytest.raises(ValidationError, match=errors.REVIEWERS_REQUIRED):
        services.postmortem_review_request(postmortem=postmortem, actor=owner, reviewers=[])
    services.postmortem_review_request(postmortem=postmortem, actor=owner, reviewers=[reviewer])
    with pytest.raises(ValidationError, match=errors.APPROVER_NOT_REVIEWER):
        services.postmortem_approve(postmortem=postmortem, actor=outsider)
    services.postmortem_approve(postmortem=postmortem, actor=reviewer)
    published = services.postmortem_publish(postmortem=postmortem, actor=owner)
    assert published.status == PostmortemStatus.PUBLISHED and published.published_at is not None

    with pytest.raises(ValidationError, match="read-only"):
        services.postmortem_sections_save(
            postmortem=postmortem, actor=owner, base_version=published.version, sections={"summary": "late"}
        )
    amended = services.postmortem_amend(postmortem=postmortem, actor=owner)
    assert amended.status == PostmortemStatus.DRAFT
    services.postmortem_sections_save(
        postmortem=postmortem, actor=owner, base_version=amended.version, sections={"summary": "late"}
    )
    notes = list(postmortem.revisions.values_list("note", flat=True))
    assert "Published" in notes  # the published text stays findable
    actions = [data["action"] for data in postmortem_events(postmortem.incident)]
    assert actions == ["created", "in_review", "approved", "published", "amended"]
    assert postmortem_events(postmortem.incident)[3] == {"action": "published", "postmortem_id": postmortem.pk}


def test_the_owner_cannot_approve_their_own_postmortem_even_as_reviewer(postmortem):
    owner = postmortem.owner
    services.postmortem_review_request(postmortem=postmortem, actor=owner, reviewers=[owner])
    with pytest.raises(ValidationError) as refused:
        services.postmortem_approve(postmortem=postmortem, actor=owner)
    assert refused.value.messages == [errors.APPROVER_IS_AUTHOR]
    postmortem.refresh_from_db()
    assert postmortem.status == PostmortemStatus.IN_REVIEW


def test_a_reviewer_who_edited_the_text_cannot_approve_it_nor_can_a_superuser_author(postmortem):
    editor = UserFactory(role="responder")
    root = UserFactory(is_superuser=True)
    services.postmortem_sections_save(
        postmortem=postmortem, actor=editor, base_version=postmortem.version, sections={"summary": "Mine"}
    )
    postmortem.refresh_from_db()
    services.postmortem_sections_save(
        postmortem=postmortem, actor=root, base_version=postmortem.version, sections={"impact": "Root's"}
    )
    other = UserFactory(role="responder")
    services.postmortem_review_request(postmortem=postmortem, actor=editor, reviewers=[editor, other])
    for actor in (editor, root):
        with pytest.raises(ValidationError) as refused:
            services.postmortem_approve(postmortem=postmortem, actor=actor)
        assert refused.value.messages == [errors.APPROVER_IS_AUTHOR]
    assert services.postmortem_approve(postmortem=postmortem, actor=other).status == PostmortemStatus.APPROVED


def test_a_small_team_turns_four_eyes_off_in_the_policy(postmortem):
    PostmortemPolicy.objects.filter(severity=postmortem.incident.severity).update(approval_by_other=False)
    owner = postmortem.owner
    services.postmortem_review_request(postmortem=postmortem, actor=owner, reviewers=[owner])
    assert services.postmortem_approve(postmortem=postmortem, actor=owner).status == PostmortemStatus.APPROVED


def test_publishing_needs_approval_first(postmortem):
    with pytest.raises(ValidationError, match="draft cannot be published"):
        services.postmortem_publish(postmortem=postmortem, actor=postmortem.owner)


def test_not_required_needs_a_reason(postmortem):
    with pytest.raises(ValidationError, match=errors.NOT_REQUIRED_REASON):
        services.postmortem_not_required(postmortem=postmortem, actor=postmortem.owner, reason="  ")
    done = services.postmortem_not_required(postmortem=postmortem, actor=postmortem.owner, reason="Duplicate of INC-1")
    assert done.status == PostmortemStatus.NOT_REQUIRED
    assert postmortem_events(postmortem.incident)[-1]["action"] == "not_required"


# --- Timeline rows, five whys, action items -------------------------------------------------


def test_timeline_rows_and_five_whys(postmortem):
    owner = postmortem.owner
    row = services.postmortem_timeline_row_save(postmortem=postmortem, actor=owner, text="14:35 Alert fired")
    services.postmortem_timeline_row_save(postmortem=postmortem, actor=owner, text="14:36 Paged", row=row)
    row.refresh_from_db()
    assert row.text == "14:36 Paged"
    with pytest.raises(ValidationError):
        services.postmortem_timeline_row_save(postmortem=postmortem, actor=owner, text=" ")
    services.postmortem_five_why_add(postmortem=postmortem, actor=owner, why="Why 500s?", because="Pool exhausted")
    services.postmortem_five_why_add(postmortem=postmortem, actor=owner, why="Why exhausted?", because="Slow query")
    assert list(postmortem.five_whys.values_list("position", "why")) == [(1, "Why 500s?"), (2, "Why exhausted?")]


def test_action_item_due_dates_follow_the_priority_policy(postmortem, settings):
    settings.TIME_ZONE = "UTC"
    with time_machine.travel(datetime(2026, 11, 23, 12, 0, tzinfo=UTC), tick=False):
        urgent = services.action_item_add(
            postmortem=postmortem, actor=postmortem.owner, title="Add pool alert", priority=Priority.URGENT
        )
        low = services.action_item_add(
            postmortem=postmortem, actor=postmortem.owner, title="Docs", priority=Priority.LOW
        )
        ActionItemDuePolicy.objects.filter(priority=Priority.LOW).update(days=30)
        later = services.action_item_add(postmortem=postmortem, actor=postmortem.owner, title="Later", priority="low")
    assert urgent.due_on == date(2026, 11, 26)
    assert low.due_on == date(2026, 11, 30)
    assert later.due_on == date(2026, 12, 23)
    assert urgent.owner == postmortem.owner


def test_closing_an_action_item_records_when(postmortem):
    item = services.action_item_add(postmortem=postmortem, actor=postmortem.owner, title="Fix it")
    item = services.action_item_update(item=item, actor=postmortem.owner, status=ActionStatus.DONE)
    assert item.completed_at is not None
    item = services.action_item_update(item=item, actor=postmortem.owner, status=ActionStatus.IN_PROGRESS)
    assert item.completed_at is None
    with pytest.raises(ValidationError):
        services.action_item_update(item=item, actor=postmortem.owner, status="maybe")
    with pytest.raises(ValidationError, match=errors.TITLE_REQUIRED):
        services.action_item_add(postmortem=postmortem, actor=postmortem.owner, title="")
