"""Insights figures on hand-built histories whose answers are known."""

from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.http import QueryDict

from incidents import policy, services
from incidents.models import Incident, IncidentStatus, SeverityPolicy
from insights import errors
from insights.filters import Filters, filters_parse
from insights.selectors import Percentile, drill_down, insights
from tests.factories import ServiceFactory, TeamFactory, UserFactory, declare_incident

pytestmark = pytest.mark.django_db

PERIOD = Filters(start=date(2026, 3, 2), end=date(2026, 3, 15))
NOW = datetime(2026, 3, 16, 2, 0, tzinfo=UTC)


def at(day: int, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC)


def plus(moment: datetime, minutes: int) -> datetime:
    return moment + timedelta(minutes=minutes)


def run(moment: datetime, action):
    with time_machine.travel(moment, tick=False):
        return action()


def update(incident, **kwargs):
    return services.incident_update_post(incident=incident, author=incident.lead, progress="Progress", **kwargs)


def status(incident, value):
    return services.incident_status_change(incident=incident, status=value, actor=incident.lead)


def figures(filters: Filters = PERIOD) -> dict:
    with time_machine.travel(NOW, tick=False):
        return insights(filters, now=NOW)


def test_percentiles_are_linear_between_ranks_as_postgresqls_percentile_cont():
    """The same answers on both databases: PostgreSQL's own percentile_cont, SQLite's aggregate."""
    for minutes in range(1, 11):  # acknowledged 1 … 10 minutes after detection
        incident = declare_incident(detected_at=at(2) - timedelta(hours=1))
        Incident.objects.filter(pk=incident.pk).update(acknowledged_at=plus(incident.detected_at, minutes))
    declare_incident(detected_at=at(2))  # not acknowledged yet: skipped, not counted as zero
    figures = Incident.objects.aggregate(
        median=Percentile("seconds_to_acknowledge", 0.5), p90=Percentile("seconds_to_acknowledge", 0.9)
    )
    assert figures == {"median": pytest.approx(330), "p90": pytest.approx(546)}


@pytest.fixture
def history():
    """SEV1 backdated 10 min, acknowledged 15 min after detection, an update on time then one
    missed by 40 min; SEV2 acknowledged late, its update 15 min late; a SEV4 with no cadence."""
    t0 = at(3)
    sev1 = run(t0, lambda: declare_incident(severity="SEV1", detected_at=plus(t0, -10)))
    run(plus(t0, 5), lambda: update(sev1))
    run(plus(t0, 60), lambda: status(sev1, IncidentStatus.RESOLVED))

    t1 = at(4)
    sev2 = run(t1, lambda: declare_incident(severity="SEV2"))
    run(plus(t1, 40), lambda: status(sev2, IncidentStatus.IDENTIFIED))
    run(plus(t1, 45), lambda: update(sev2))
    run(plus(t1, 50), lambda: status(sev2, IncidentStatus.RESOLVED))

    t2 = at(5)
    sev4 = run(t2, lambda: declare_incident(severity="SEV4"))
    run(plus(t2, 300), lambda: update(sev4))
    return sev1, sev2, sev4


def test_times_from_detection_per_severity(history):
    result = figures()
    sev1, sev2 = result["by_severity"]["SEV1"], result["by_severity"]["SEV2"]
    assert sev1["incidents"] == 1
    assert sev1["time_to_acknowledge"] == {"mean": 900, "median": 900, "p90": 900}
    assert sev1["time_to_resolve"]["median"] == 70 * 60
    assert sev1["time_to_mitigate"]["median"] == 70 * 60  # resolving mitigates
    assert sev1["declaration_lag"]["median"] == 600
    assert sev2["time_to_acknowledge"]["median"] == 40 * 60
    assert sev2["time_to_resolve"]["median"] == 50 * 60
    assert result["by_severity"]["SEV3"]["incidents"] == 0
    assert result["by_severity"]["SEV3"]["time_to_resolve"] == {"mean": None, "median": None, "p90": None}
    assert result["overall"]["incidents"] == 3


def test_response_time_kept_counts_severities_with_a_response_time(history):
    result = figures()
    assert result["by_severity"]["SEV1"]["acknowledged_within_response_time"] == 1.0
    assert result["by_severity"]["SEV2"]["acknowledged_within_response_time"] == 0.0
    assert result["by_severity"]["SEV4"]["acknowledged_within_response_time"] is None
    assert result["overall"]["acknowledged_within_response_time"] == 0.5


def test_mitigate_and_resolve_targets_count_where_the_policy_sets_them(history):
    """SEV1 mitigated and resolved 70 min after detection, SEV2 50 min; SEV4 unresolved."""
    admin = UserFactory(is_superuser=True)
    for key, changes in {
        "SEV1": {"mitigate_target_minutes": 90, "resolve_target_minutes": 60},
        "SEV2": {"resolve_target_minutes": 60},
    }.items():
        policy.severity_policy_update(policy=SeverityPolicy.objects.get(key=key), actor=admin, **changes)
    result = figures()
    sev1, sev2, sev4 = (result["by_severity"][key] for key in ("SEV1", "SEV2", "SEV4"))
    assert (sev1["mitigated_within_target"], sev1["resolved_within_target"]) == (1.0, 0.0)
    assert (sev2["mitigated_within_target"], sev2["resolved_within_target"]) == (None, 1.0)
    assert (sev4["mitigated_within_target"], sev4["resolved_within_target"]) == (None, None)
    assert (result["overall"]["mitigated_within_target"], result["overall"]["resolved_within_target"]) == (1.0, 0.5)


def test_cadence_kept_per_severity_and_sev4_excluded(history):
    result = figures()
    sev1 = result["by_severity"]["SEV1"]["cadence"]
    assert sev1 == {
        "updates_due": 2,
        "updates_on_time": 1,
        "updates_late": 1,
        "on_time_share": 0.5,
        "median_lateness": 40 * 60,
        "worst_lateness": 40 * 60,
    }
    assert result["by_severity"]["SEV2"]["cadence"]["updates_late"] == 1
    assert result["by_severity"]["SEV2"]["cadence"]["worst_lateness"] == 15 * 60
    assert result["by_severity"]["SEV4"]["cadence"]["updates_due"] == 0
    assert result["by_severity"]["SEV4"]["updates_on_time"] is None
    assert result["overall"]["cadence"]["updates_due"] == 3


def test_cadence_per_incident_lead(history):
    sev1, sev2, _ = history
    rows = {row["lead_id"]: row for row in figures()["cadence_by_lead"]}
    assert rows[sev1.lead_id]["updates_due"] == 2
    assert rows[sev2.lead_id]["on_time_share"] == 0.0


def test_weekly_counts_by_severity(history):
    weekly = figures()["weekly"]
    assert [week["week"] for week in weekly] == ["2026-03-02", "2026-03-09"]
    assert weekly[0]["by_severity"] == {"SEV1": 1, "SEV2": 1, "SEV3": 0, "SEV4": 1}
    assert weekly[1]["incidents"] == 0


def test_a_policy_change_mid_period_keeps_the_cadence_old_due_times_had():
    admin = UserFactory(is_superuser=True)
    sev2 = SeverityPolicy.objects.get(key="SEV2")
    t0 = at(9)
    incident = run(t0, lambda: declare_incident(severity="SEV2"))
    run(plus(t0, 20), lambda: update(incident))  # due +30: on time
    run(plus(t0, 25), lambda: policy.severity_policy_update(policy=sev2, actor=admin, update_cadence_minutes=60))
    run(plus(t0, 85), lambda: update(incident))  # due +80 under the new cadence: 5 min late
    run(plus(t0, 90), lambda: status(incident, IncidentStatus.RESOLVED))
    # A later change back does not rewrite what was promised then.
    run(at(12), lambda: policy.severity_policy_update(policy=sev2, actor=admin, update_cadence_minutes=30))
    cadence = figures()["by_severity"]["SEV2"]["cadence"]
    assert (cadence["updates_due"], cadence["updates_on_time"], cadence["worst_lateness"]) == (2, 1, 5 * 60)


def test_reopened_incident_resolves_at_its_last_resolution_and_owes_updates_again():
    t0 = at(10)
    incident = run(t0, lambda: declare_incident(severity="SEV2"))
    run(plus(t0, 10), lambda: update(incident))
    run(plus(t0, 30), lambda: status(incident, IncidentStatus.RESOLVED))
    run(plus(t0, 60), lambda: status(incident, IncidentStatus.INVESTIGATING))
    run(plus(t0, 120), lambda: status(incident, IncidentStatus.RESOLVED))
    sev2 = figures()["by_severity"]["SEV2"]
    assert sev2["time_to_resolve"]["median"] == 120 * 60
    # Due +40 was cleared by the resolution before it came; the reopening's due +90 was missed by 30 min.
    assert sev2["cadence"]["updates_due"] == 2
    assert sev2["cadence"]["worst_lateness"] == 30 * 60


def test_incidents_spanning_the_edges_count_their_time_inside_only():
    service = ServiceFactory(slug="checkout", name="Checkout")
    before = run(at(1, 0) - timedelta(days=1), lambda: declare_incident(severity="SEV3", affected_services=[service]))
    run(at(2, 12), lambda: status(before, IncidentStatus.RESOLVED))
    run(at(15, 22), lambda: declare_incident(severity="SEV3", affected_services=[service]))
    result = figures()
    assert result["overall"]["incidents"] == 1  # detected in the period
    assert result["top_services"] == [
        {"service": "checkout", "name": "Checkout", "incidents": 1, "seconds": (12 + 2) * 3600}
    ]


def test_previous_period_of_equal_length():
    run(at(1) - timedelta(days=3), lambda: declare_incident(severity="SEV1"))
    result = figures()
    assert (result["previous"]["from"], result["previous"]["to"]) == ("2026-02-16", "2026-03-01")
    assert result["previous"]["incidents"] == 1
    assert result["overall"]["incidents"] == 0


def test_filters_by_severity_and_service(history):
    service = ServiceFactory(slug="payments")
    run(at(6), lambda: declare_incident(severity="SEV3", affected_services=[service]))
    only_service = figures(Filters(start=PERIOD.start, end=PERIOD.end, services=("payments",)))
    assert only_service["overall"]["incidents"] == 1
    only_sev1 = figures(Filters(start=PERIOD.start, end=PERIOD.end, severities=("SEV1",)))
    assert list(only_sev1["by_severity"]) == ["SEV1"]
    assert only_sev1["overall"]["incidents"] == 1


def test_restricted_incidents_count_but_only_show_to_who_may_see_them():
    viewer = UserFactory(role="responder")
    secret = run(at(3), lambda: declare_incident(severity="SEV1", restricted=True, title="Secret breach"))
    run(at(4), lambda: declare_incident(severity="SEV1"))
    assert figures()["overall"]["incidents"] == 2
    shown, hidden = drill_down(PERIOD, user=viewer, severity="SEV1")
    assert secret not in shown and len(shown) == 1 and hidden == 1
    shown, hidden = drill_down(PERIOD, user=secret.lead, severity="SEV1")
    assert len(shown) == 2 and hidden == 0


def test_drill_down_by_week_and_missed_updates(history):
    sev1, sev2, sev4 = history
    user = UserFactory(is_superuser=True)
    shown, _ = drill_down(PERIOD, user=user, week=date(2026, 3, 2), severity="SEV4")
    assert shown == [sev4]
    shown, _ = drill_down(PERIOD, user=user, late=True)
    assert set(shown) == {sev1, sev2}


def test_query_count_stays_flat_as_data_grows(django_assert_max_num_queries):
    service = ServiceFactory(slug="db")
    for day in (3, 4):
        incident = run(at(day), lambda: declare_incident(severity="SEV2", affected_services=[service]))
        run(at(day, 11), lambda incident=incident: update(incident))
    with django_assert_max_num_queries(9):
        figures()
    for day in range(5, 15):
        incident = run(at(day), lambda: declare_incident(severity="SEV1", affected_services=[service]))
        run(at(day, 11), lambda incident=incident: update(incident))
    with django_assert_max_num_queries(9):
        figures()


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("from=2026-13-01", "from", errors.BAD_DATE),
        ("from=2026-03-10&to=2026-03-01", "from", errors.RANGE_REVERSED),
        ("from=1900-01-01&to=2026-01-01", "from", errors.RANGE_TOO_LONG.format(days=731)),
        ("range=5", "range", errors.UNKNOWN_PRESET.format(values="7, 30, 90, quarter, custom")),
        ("severity=SEV9", "severity", errors.UNKNOWN_SEVERITY.format(values="SEV1, SEV2, SEV3, SEV4")),
        ("service=nope", "service", errors.UNKNOWN_SERVICE),
        ("team=nobody", "team", errors.UNKNOWN_TEAM),
        ("from=%00", "from", errors.BAD_DATE),
    ],
)
def test_bad_filters_are_refused_by_name(query, field, message):
    parsed, problems = filters_parse(QueryDict(query))
    assert parsed is None and problems[field] == [message]


def test_presets_and_default_period():
    today = date(2026, 5, 20)
    assert filters_parse(QueryDict(""), today=today)[0].start == date(2026, 4, 21)
    assert filters_parse(QueryDict("range=7"), today=today)[0].start == date(2026, 5, 14)
    quarter = filters_parse(QueryDict("range=quarter"), today=today)[0]
    assert (quarter.start, quarter.end) == (date(2026, 4, 1), today)


def test_team_filter_counts_incidents_of_the_services_it_owns():
    payments = TeamFactory(name="Payments", slug="payments-team")
    owned = ServiceFactory(slug="billing", owner_team=payments)
    other = ServiceFactory(slug="search")
    run(at(3), lambda: declare_incident(severity="SEV2", affected_services=[owned]))
    run(at(4), lambda: declare_incident(severity="SEV2", affected_services=[other]))
    result = figures(Filters(start=PERIOD.start, end=PERIOD.end, team="payments-team"))
    assert result["overall"]["incidents"] == 1
    assert [entry["service"] for entry in result["top_services"]] == ["billing"]
    parsed, problems = filters_parse(QueryDict("team=payments-team"))
    assert parsed.team == "payments-team" and not problems


def test_a_due_time_counts_under_the_severity_it_was_set_with():
    t0 = at(11)
    incident = run(t0, lambda: declare_incident(severity="SEV1"))
    run(plus(t0, 20), lambda: update(incident))  # SEV1 due +15: 5 min late
    run(
        plus(t0, 25),
        lambda: services.incident_severity_change(
            incident=incident, severity=SeverityPolicy.objects.get(key="SEV3"), actor=incident.lead
        ),
    )
    run(plus(t0, 30), lambda: status(incident, IncidentStatus.RESOLVED))
    sev1 = figures(Filters(start=PERIOD.start, end=PERIOD.end, severities=("SEV1",)))
    assert sev1["by_severity"]["SEV1"]["cadence"]["updates_late"] == 1
    assert sev1["by_severity"]["SEV1"]["incidents"] == 0  # it is a SEV3 now


def test_action_items_by_owner_and_by_the_owners_team():
    """Alice (payments) has one open item past its due date; Bob (payments and platform) closed
    one; Carol (in no team) has one open and not yet due."""
    from postmortems import services as postmortem_services
    from postmortems.models import ActionStatus, Postmortem

    alice, bob, carol = (UserFactory(first_name=name, last_name="Q") for name in ("Alice", "Bob", "Carol"))
    payments, platform = TeamFactory(slug="payments", name="Payments"), TeamFactory(slug="platform", name="Platform")
    payments.members.add(alice, bob)
    platform.members.add(bob)
    incident = run(at(3), lambda: declare_incident(severity="SEV2"))
    run(at(3, 11), lambda: status(incident, IncidentStatus.RESOLVED))
    postmortem = Postmortem.objects.filter(incident=incident).first() or run(
        at(4), lambda: postmortem_services.postmortem_start(incident=incident, actor=incident.lead)
    )

    def add(day, owner, due_on):
        return run(
            at(day),
            lambda: postmortem_services.action_item_add(
                postmortem=postmortem, actor=owner, owner=owner, title=f"Fix {day}", due_on=due_on
            ),
        )

    add(5, alice, date(2026, 3, 8))
    closed = add(6, bob, date(2026, 3, 20))
    add(7, carol, date(2026, 3, 30))
    run(at(9), lambda: postmortem_services.action_item_update(item=closed, actor=bob, status=ActionStatus.DONE))

    items = figures()["action_items"]
    assert (items["opened"], items["closed"], items["open"], items["overdue"]) == (3, 1, 2, 1)
    counts = ("opened", "closed", "open", "overdue")
    assert [(entry["team"], *(entry[name] for name in counts)) for entry in items["by_team"]] == [
        ("Payments", 2, 1, 1, 1),
        ("No team", 1, 0, 1, 0),
        ("Platform", 1, 1, 0, 0),
    ]
    assert [(entry["owner"], *(entry[name] for name in counts)) for entry in items["by_owner"]] == [
        ("Alice Q", 1, 0, 1, 1),
        ("Carol Q", 1, 0, 1, 0),
        ("Bob Q", 1, 1, 0, 0),
    ]
    admin = UserFactory(is_superuser=True)
    for team, expected in (("payments", [incident]), ("platform", [incident]), ("~", [incident]), ("nope", [])):
        assert drill_down(PERIOD, user=admin, items_team=team)[0] == expected
