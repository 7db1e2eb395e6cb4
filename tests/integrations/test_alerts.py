"""Alertmanager's and the generic webhook through the real endpoints: incidents declared, joined
and resolved; retries deduplicated; bad tokens, bad bodies and floods refused with a reason."""

import copy
import threading
from datetime import timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from incidents.models import EventKind, Incident, IncidentStatus, TimelineEvent
from integrations import errors
from integrations.alerts import (
    ALERTS_USERNAME,
    BODY_EXCERPT_CHARS,
    DEFAULT_SEVERITY_VALUES,
    alert_source_create,
    alert_source_rate_check,
)
from integrations.models import Alert, AlertSource, AlertStatus, RejectedPayload, SourceKind
from tests.integrations.conftest import ALERTMANAGER, GENERIC, fixture

pytestmark = pytest.mark.django_db


def kinds(incident: Incident) -> list[str]:
    return list(incident.timeline.order_by("occurred_at", "id").values_list("kind", flat=True))


def alert_events(incident: Incident) -> list[TimelineEvent]:
    return list(incident.timeline.filter(kind=EventKind.ALERT).order_by("id"))


def resolved_version(payload: dict, *fingerprints: str) -> dict:
    """The same group, with the named alerts (default: all) resolved, as Alertmanager sends it."""
    payload = copy.deepcopy(payload)
    for alert in payload["alerts"]:
        if not fingerprints or alert["fingerprint"] in fingerprints:
            alert["status"] = "resolved"
            alert["endsAt"] = "2026-11-25T17:30:00Z"
    payload["status"] = "resolved" if all(a["status"] == "resolved" for a in payload["alerts"]) else "firing"
    return payload


# --- Firing alerts open incidents ----------------------------------------------------------------


def test_a_firing_alert_declares_an_incident_from_its_labels_and_annotations(post, token, rules, checkout):
    response = post(ALERTMANAGER, fixture("alertmanager_firing"), token=token)

    assert response.status_code == 200
    incident = Incident.objects.get()
    assert response.json() == {
        "status": "ok",
        "declared": [incident.reference],
        "attached": [],
        "resolved": [],
        "recorded": 1,
        "duplicates": 0,
    }
    assert incident.status == IncidentStatus.INVESTIGATING
    assert incident.title == "Checkout API error rate above 2%"
    assert incident.severity.key == "SEV1"
    assert list(incident.affected_services.all()) == [checkout]
    assert "5.2% of checkout requests return 5xx" in incident.summary
    assert "https://runbooks.example.com/checkout/high-error-rate" in incident.summary
    assert "severity=critical" in incident.summary
    assert incident.declared_by.username == ALERTS_USERNAME
    # Alertmanager's startsAt (nanoseconds, UTC) is when it was detected.
    assert incident.detected_at.isoformat() == "2026-11-25T16:58:12.345678+00:00"
    assert kinds(incident) == [EventKind.MILESTONE_SET, EventKind.DECLARED, EventKind.ALERT]
    [event] = alert_events(incident)
    assert event.text == "Alert firing: CheckoutHighErrorRate"
    assert event.data["alert_names"] == ["CheckoutHighErrorRate"]
    assert event.data["runbook_url"] == "https://runbooks.example.com/checkout/high-error-rate"
    assert event.data["labels"]["severity"] == "critical"
    assert event.data["annotations"]["summary"] == "Checkout API error rate above 2%"
    alert = Alert.objects.get()
    assert (alert.fingerprint, alert.status, alert.incident, alert.rule) == (
        "3c8b1f2a9d4e5f60",
        AlertStatus.FIRING,
        incident,
        rules["checkout"],
    )
    assert alert.ends_at is None  # Go's zero time means "still firing"


def test_a_blank_summary_falls_back_to_the_alert_name_for_the_title(post, token, rules):
    payload = fixture("alertmanager_firing")
    payload["commonAnnotations"]["summary"] = "   "
    payload["alerts"][0]["annotations"]["summary"] = " "
    assert post(ALERTMANAGER, payload, token=token).status_code == 200
    assert Incident.objects.get().title == "CheckoutHighErrorRate"


def test_an_alert_the_incident_services_refuse_gets_400_and_is_kept(post, token, rules, monkeypatch):
    from django.core.exceptions import ValidationError

    def refuse(**kwargs):
        raise ValidationError({"title": "refused by incidents"})

    monkeypatch.setattr("incidents.services.incident_declare", refuse)
    response = post(ALERTMANAGER, fixture("alertmanager_firing"), token=token)
    assert response.status_code == 400
    assert response.json() == {"error": "refused by incidents"}
    assert RejectedPayload.objects.get().reason == "refused by incidents"
    assert Alert.objects.count() == 0


def test_a_new_source_maps_the_usual_severity_labels_onto_the_policies_by_rank(post, token, source, severities):
    payload = fixture("alertmanager_firing")
    response = post(ALERTMANAGER, payload, token=token)
    assert response.status_code == 200
    assert Incident.objects.get().severity.key == "SEV1"  # severity=critical

    by_rank = [policy.key for policy in sorted(severities.values(), key=lambda policy: policy.rank)]
    mapping = {rule.matchers["severity"]: rule.severity.key for rule in source.rules.all()}
    assert mapping == dict(zip(DEFAULT_SEVERITY_VALUES, by_rank, strict=True))
    assert mapping == {"critical": "SEV1", "error": "SEV2", "warning": "SEV3", "info": "SEV4"}


def test_without_a_matching_rule_the_source_default_or_least_severe_severity_is_used(post, token, source, severities):
    # A new source maps severity=critical → SEV1: without its rules, nothing matches.
    source.rules.all().delete()
    post(ALERTMANAGER, fixture("alertmanager_firing"), token=token)
    assert Incident.objects.get().severity.key == max(severities.values(), key=lambda s: s.rank).key

    source.default_severity = severities["SEV2"]
    source.save()
    post(ALERTMANAGER, fixture("alertmanager_grouped"), token=token)
    assert Incident.objects.order_by("-pk").first().severity.key == "SEV2"


def test_a_grouped_notification_opens_one_incident_at_the_worst_severity(post, token, rules, database):
    response = post(ALERTMANAGER, fixture("alertmanager_grouped"), token=token)

    assert response.status_code == 200
    incident = Incident.objects.get()
    assert incident.severity.key == "SEV1"  # one critical among two warnings
    assert list(incident.affected_services.all()) == [database]
    [event] = alert_events(incident)
    assert event.data["alert_names"] == ["PostgresConnectionsSaturated", "PostgresReplicationLag"]
    assert len(event.data["alerts"]) == 3
    assert Alert.objects.filter(incident=incident, status=AlertStatus.FIRING).count() == 3


def test_a_new_alert_of_an_open_incidents_group_joins_it(post, token, rules):
    grouped = fixture("alertmanager_grouped")
    first = copy.deepcopy(grouped)
    first["alerts"] = grouped["alerts"][:1]
    post(ALERTMANAGER, first, token=token)
    incident = Incident.objects.get()

    response = post(ALERTMANAGER, grouped, token=token)

    assert response.json()["attached"] == [incident.reference]
    assert response.json()["duplicates"] == 1  # the first alert, already recorded
    assert Incident.objects.count() == 1
    second = alert_events(incident)[-1]
    assert second.text == "Alert firing: PostgresConnectionsSaturated, PostgresReplicationLag"
    assert [a["fingerprint"] for a in second.data["alerts"]] == ["b2c3d4e5f6071829", "c3d4e5f60718293a"]


def test_another_sources_incident_for_the_same_group_key_is_not_joined(post, token, rules):
    post(ALERTMANAGER, fixture("alertmanager_firing"), token=token)
    _, other = alert_source_create(name="second-alertmanager")
    post(ALERTMANAGER, fixture("alertmanager_firing"), token=other)
    assert Incident.objects.count() == 2


# --- Retries and repeats -------------------------------------------------------------------------


def test_a_retried_notification_is_recorded_once(post, token, rules):
    payload = fixture("alertmanager_grouped")
    post(ALERTMANAGER, payload, token=token)
    response = post(ALERTMANAGER, payload, token=token)

    assert response.status_code == 200
    assert response.json()["duplicates"] == 3
    assert response.json()["recorded"] == 0
    incident = Incident.objects.get()
    assert len(alert_events(incident)) == 1
    assert set(Alert.objects.values_list("times_received", flat=True)) == {2}


def test_after_the_dedup_window_a_repeat_of_a_firing_alert_is_recorded_again(post, token, source, rules):
    payload = fixture("alertmanager_firing")
    post(ALERTMANAGER, payload, token=token)
    with time_machine.travel(timezone.now() + timedelta(seconds=source.dedup_window_seconds + 1)):
        response = post(ALERTMANAGER, payload, token=token)

    incident = Incident.objects.get()
    assert response.json()["attached"] == [incident.reference]
    assert len(alert_events(incident)) == 2


def test_a_resolution_overtaken_by_a_newer_firing_changes_nothing(post, token, rules):
    firing = fixture("alertmanager_firing")
    old_resolution = resolved_version(firing)
    refired = copy.deepcopy(firing)
    refired["alerts"][0]["startsAt"] = "2026-11-25T17:40:00Z"
    post(ALERTMANAGER, firing, token=token)
    post(ALERTMANAGER, refired, token=token)  # a newer firing arrives first (within the window)

    response = post(ALERTMANAGER, old_resolution, token=token)

    assert response.json()["duplicates"] == 1
    assert Alert.objects.get().status == AlertStatus.FIRING


# --- Resolved alerts -----------------------------------------------------------------------------


def test_a_resolved_alert_goes_on_the_timeline_and_leaves_the_incident_open_by_default(post, token, rules):
    post(ALERTMANAGER, fixture("alertmanager_firing"), token=token)
    response = post(ALERTMANAGER, fixture("alertmanager_resolved"), token=token)

    incident = Incident.objects.get()
    assert response.json()["resolved"] == []
    assert incident.status == IncidentStatus.INVESTIGATING
    assert [event.text for event in alert_events(incident)] == [
        "Alert firing: CheckoutHighErrorRate",
        "Alert resolved: CheckoutHighErrorRate",
    ]
    assert alert_events(incident)[-1].data["status"] == "resolved"
    assert Alert.objects.get().status == AlertStatus.RESOLVED


def test_a_rule_that_opts_in_resolves_the_incident_when_its_alert_resolves(post, token, rules):
    rules["checkout"].auto_resolve = True
    rules["checkout"].save()
    post(ALERTMANAGER, fixture("alertmanager_firing"), token=token)
    incident = Incident.objects.get()

    response = post(ALERTMANAGER, fixture("alertmanager_resolved"), token=token)

    incident.refresh_from_db()
    assert response.json()["resolved"] == [incident.reference]
    assert incident.status == IncidentStatus.RESOLVED
    assert incident.timeline.filter(kind=EventKind.STATUS_CHANGED, text="Resolved").exists()


def test_auto_resolve_waits_for_every_alert_of_the_group(post, token, rules):
    for rule in rules.values():
        rule.auto_resolve = True
        rule.save()
    grouped = fixture("alertmanager_grouped")
    post(ALERTMANAGER, grouped, token=token)
    incident = Incident.objects.get()

    post(ALERTMANAGER, resolved_version(grouped, "a1b2c3d4e5f60718", "b2c3d4e5f6071829"), token=token)
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.INVESTIGATING

    response = post(ALERTMANAGER, resolved_version(grouped), token=token)
    incident.refresh_from_db()
    assert response.json()["resolved"] == [incident.reference]
    assert incident.status == IncidentStatus.RESOLVED


def test_auto_resolve_needs_the_rule_of_every_alert_to_opt_in(post, token, rules):
    rules["database-warning"].auto_resolve = True  # the critical alert's rule does not opt in
    rules["database-warning"].save()
    grouped = fixture("alertmanager_grouped")
    post(ALERTMANAGER, grouped, token=token)
    post(ALERTMANAGER, resolved_version(grouped), token=token)
    assert Incident.objects.get().status == IncidentStatus.INVESTIGATING


def test_firing_again_after_the_incident_was_resolved_opens_a_new_incident(post, token, rules, responder):
    from incidents.services import incident_status_change

    post(ALERTMANAGER, fixture("alertmanager_firing"), token=token)
    first = Incident.objects.get()
    incident_status_change(incident=first, status=IncidentStatus.RESOLVED, actor=responder)
    refired = fixture("alertmanager_firing")
    refired["alerts"][0]["startsAt"] = "2026-11-25T18:10:00Z"

    response = post(ALERTMANAGER, refired, token=token)

    second = Incident.objects.exclude(pk=first.pk).get()
    assert response.json()["declared"] == [second.reference]
    assert Alert.objects.get().incident == second


def test_a_resolved_alert_nobody_saw_firing_is_kept_without_an_incident(post, token, rules):
    response = post(ALERTMANAGER, fixture("alertmanager_resolved"), token=token)
    assert response.status_code == 200
    assert Incident.objects.count() == 0
    assert Alert.objects.get().status == AlertStatus.RESOLVED


# --- Authentication ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Bearer ", "Bearer wrong-token", "Basic dXNlcjpwYXNz", "Token {token}", "{token}"],
)
def test_requests_without_the_sources_bearer_token_are_refused(client, token, rules, authorization):
    headers = {} if authorization is None else {"HTTP_AUTHORIZATION": authorization.format(token=token)}
    response = client.post(
        ALERTMANAGER, data=fixture("alertmanager_firing"), content_type="application/json", **headers
    )
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"
    assert response.json() == {"error": errors.INVALID_TOKEN}
    assert Incident.objects.count() == Alert.objects.count() == 0


def test_a_deactivated_source_is_refused(post, token, source):
    source.active = False
    source.save()
    assert post(ALERTMANAGER, fixture("alertmanager_firing"), token=token).status_code == 401


def test_an_api_token_of_a_user_does_not_open_the_alert_endpoints(post, responder):
    from incidents.services import api_token_create

    _, user_token = api_token_create(user=responder, name="script")
    assert post(ALERTMANAGER, fixture("alertmanager_firing"), token=user_token).status_code == 401


def test_a_generic_sources_token_is_refused_on_the_alertmanager_endpoint(post, generic_token):
    response = post(ALERTMANAGER, fixture("alertmanager_firing"), token=generic_token)
    assert response.status_code == 400
    assert response.json()["error"] == errors.WRONG_SOURCE_KIND.format(kind=SourceKind.GENERIC.label, path=GENERIC)
    assert Incident.objects.count() == 0
    assert RejectedPayload.objects.get().status_code == 400


def test_only_post_is_allowed(client, token):
    response = client.get(ALERTMANAGER, HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 405


def test_no_csrf_token_is_needed(token, rules):
    from django.test import Client

    response = Client(enforce_csrf_checks=True).post(
        ALERTMANAGER,
        data=fixture("alertmanager_firing"),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert response.status_code == 200


def test_create_alert_source_prints_the_token_alone_and_stores_only_its_digest(capsys, db, post):
    call_command("create_alert_source", "grafana")
    token = capsys.readouterr().out.strip()
    source = AlertSource.objects.get(name="grafana")
    assert "\n" not in token and len(token) > 40
    assert source.digest == AlertSource.digest_of(token) != token
    assert not AlertSource.objects.filter(digest__contains=token).exists()
    assert post(ALERTMANAGER, fixture("alertmanager_firing"), token=token).status_code == 200


def test_create_alert_source_refuses_a_taken_name(db):
    from django.core.management.base import CommandError

    call_command("create_alert_source", "grafana")
    with pytest.raises(CommandError, match="already exists"):
        call_command("create_alert_source", "grafana")


# --- Malformed bodies ----------------------------------------------------------------------------


def _with(change) -> str:
    import json

    payload = fixture("alertmanager_firing")
    change(payload)
    return json.dumps(payload)


HOSTILE_BODIES = [
    ("", errors.MALFORMED_JSON),
    ("{", errors.MALFORMED_JSON),
    ("{'version': '4'}", errors.MALFORMED_JSON),
    (b"\xff\xfe\x00garbage", errors.MALFORMED_JSON),
    ("[" * 100_000, errors.MALFORMED_JSON),
    ('{"truncatedAlerts": 1' + "0" * 5000 + "}", errors.MALFORMED_JSON),
    ("null", errors.BODY_NOT_OBJECT),
    ("[]", errors.BODY_NOT_OBJECT),
    ('"firing"', errors.BODY_NOT_OBJECT),
    ("{}", errors.FIELD_REQUIRED.format(field="version")),
    (_with(lambda p: p.update(version="3")), errors.UNSUPPORTED_VERSION.format(version="3")),
    (_with(lambda p: p.update(version=4)), errors.UNSUPPORTED_VERSION.format(version="4")),
    (_with(lambda p: p.pop("groupKey")), errors.FIELD_REQUIRED.format(field="groupKey")),
    (_with(lambda p: p.update(groupKey=["x"])), errors.NOT_A_STRING.format(field="groupKey")),
    (_with(lambda p: p.update(status="pending")), errors.BAD_STATUS.format(field="status")),
    (_with(lambda p: p.update(commonLabels=["a"])), errors.NOT_AN_OBJECT.format(field="commonLabels")),
    (_with(lambda p: p.pop("alerts")), errors.FIELD_REQUIRED.format(field="alerts")),
    (_with(lambda p: p.update(alerts={"0": {}})), errors.NOT_A_LIST.format(field="alerts")),
    (_with(lambda p: p.update(alerts=[])), errors.NO_ALERTS),
    (_with(lambda p: p.update(alerts=[None])), errors.NOT_AN_OBJECT.format(field="alerts[0]")),
    (_with(lambda p: p.update(alerts=[{}] * 1001)), errors.TOO_MANY_ALERTS.format(limit=1000)),
    (_with(lambda p: p["alerts"][0].pop("labels")), errors.FIELD_REQUIRED.format(field="alerts[0].labels")),
    (
        _with(lambda p: p["alerts"][0]["labels"].update(severity=1)),
        errors.NOT_STRING_MAP.format(field="alerts[0].labels"),
    ),
    (
        _with(lambda p: p["alerts"][0]["labels"].update(alertname="Check\x00out")),
        errors.INVALID_CHARACTERS.format(field="alerts[0].labels"),
    ),
    (
        _with(lambda p: p["alerts"][0]["annotations"].update(summary="\ud800")),
        errors.INVALID_CHARACTERS.format(field="alerts[0].annotations"),
    ),
    (
        _with(lambda p: p["alerts"][0]["annotations"].update(summary="x" * 10_001)),
        errors.TOO_LONG.format(field="alerts[0].annotations", limit=10_000),
    ),
    (_with(lambda p: p["alerts"][0].update(status="ok")), errors.BAD_STATUS.format(field="alerts[0].status")),
    (_with(lambda p: p["alerts"][0].pop("startsAt")), errors.FIELD_REQUIRED.format(field="alerts[0].startsAt")),
    (
        _with(lambda p: p["alerts"][0].update(startsAt="yesterday")),
        errors.BAD_TIME.format(field="alerts[0].startsAt"),
    ),
    (
        _with(lambda p: p["alerts"][0].update(startsAt="2026-11-25T16:58:12")),
        errors.BAD_TIME.format(field="alerts[0].startsAt"),
    ),
    (
        _with(lambda p: p["alerts"][0].update(startsAt=1764089892)),
        errors.NOT_A_STRING.format(field="alerts[0].startsAt"),
    ),
    (
        _with(lambda p: p["alerts"][0].update(endsAt="2026-02-30T00:00:00Z")),
        errors.BAD_TIME.format(field="alerts[0].endsAt"),
    ),
    (
        _with(lambda p: p["alerts"][0].update(fingerprint={"id": 1})),
        errors.NOT_A_STRING.format(field="alerts[0].fingerprint"),
    ),
]


@pytest.mark.parametrize(("raw", "reason"), HOSTILE_BODIES)
def test_malformed_bodies_get_400_with_the_reason_and_are_kept_for_the_admin(post, token, source, raw, reason):
    response = post(ALERTMANAGER, raw=raw, token=token)

    assert response.status_code == 400
    assert response.json() == {"error": reason}
    rejected = RejectedPayload.objects.get()
    assert (rejected.source, rejected.reason, rejected.status_code, rejected.endpoint) == (
        source,
        reason,
        400,
        "alertmanager",
    )
    assert len(rejected.body_excerpt) <= BODY_EXCERPT_CHARS
    assert "\x00" not in rejected.body_excerpt
    assert Incident.objects.count() == Alert.objects.count() == 0


def test_a_body_over_the_upload_limit_gets_413(post, token, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    payload = fixture("alertmanager_grouped")
    response = post(ALERTMANAGER, payload, token=token)
    assert response.status_code == 413
    assert response.json() == {"error": errors.BODY_TOO_LARGE}
    assert RejectedPayload.objects.get().reason == errors.BODY_TOO_LARGE


def test_unknown_extra_fields_from_a_newer_alertmanager_are_ignored(post, token, rules):
    payload = fixture("alertmanager_firing")
    payload["someFutureField"] = {"x": 1}
    payload["alerts"][0]["silencedBy"] = []
    assert post(ALERTMANAGER, payload, token=token).status_code == 200


def test_an_alert_without_a_fingerprint_from_an_older_alertmanager_gets_one_from_its_labels(post, token, rules):
    payload = fixture("alertmanager_firing")
    del payload["alerts"][0]["fingerprint"]
    post(ALERTMANAGER, payload, token=token)
    response = post(ALERTMANAGER, payload, token=token)
    assert response.json()["duplicates"] == 1
    assert Alert.objects.count() == 1


# --- Rate limit ----------------------------------------------------------------------------------


def test_more_requests_than_the_rate_limit_get_429_with_retry_after(post, token, source, rules):
    source.rate_limit_per_minute = 2
    source.save()
    payload = fixture("alertmanager_firing")
    moment = timezone.now().replace(second=30)
    with time_machine.travel(moment, tick=False):
        statuses = [post(ALERTMANAGER, payload, token=token).status_code for _ in range(2)]
        refused = [post(ALERTMANAGER, payload, token=token) for _ in range(3)]

    assert statuses == [200, 200]
    assert [response.status_code for response in refused] == [429, 429, 429]
    assert refused[0]["Retry-After"] == "30"
    assert refused[0].json() == {"error": errors.RATE_LIMITED.format(limit=2, seconds=30)}
    # Refusals are kept for the admin once a minute, not once a request.
    assert RejectedPayload.objects.filter(status_code=429).count() == 1
    with time_machine.travel(moment + timedelta(seconds=31), tick=False):
        assert post(ALERTMANAGER, payload, token=token).status_code == 200


def test_each_source_has_its_own_rate_limit(post, token, source, rules):
    source.rate_limit_per_minute = 1
    source.save()
    _, other = alert_source_create(name="other", rate_limit_per_minute=1)
    payload = fixture("alertmanager_firing")
    with time_machine.travel(timezone.now().replace(second=1), tick=False):
        assert post(ALERTMANAGER, payload, token=token).status_code == 200
        assert post(ALERTMANAGER, payload, token=other).status_code == 200
        assert post(ALERTMANAGER, payload, token=token).status_code == 429


@pytest.fixture
def redis_cache(settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": settings.REDIS_URL,
            "KEY_PREFIX": f"integrations-test-{id(settings)}",
        }
    }
    from django.core.cache import cache

    cache.clear()
    yield cache
    cache.clear()


@pytest.mark.redis
def test_the_rate_limit_counts_atomically_in_redis_across_threads(source, redis_cache):
    """Twenty threads ask at once for a limit of 7: exactly 7 are let through."""
    source.rate_limit_per_minute = 7
    allowed = []
    barrier = threading.Barrier(20)
    now = 1_800_000_010.0

    def ask() -> None:
        barrier.wait()
        allowed.append(alert_source_rate_check(source=source, now=now).allowed)

    threads = [threading.Thread(target=ask) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    from django.core.cache import caches

    assert type(caches["default"]).__name__ == "RedisCache"
    assert sorted(allowed).count(True) == 7
    assert len(allowed) == 20


# --- The generic webhook -------------------------------------------------------------------------

GENERIC_ALERT = {
    "title": "Status page probe failing from 3 regions",
    "severity": "SEV2",
    "service": "checkout",
    "dedup_key": "probe-checkout-eu",
    "status": "firing",
    "description": "HTTP 503 from https://shop.example.com/checkout in eu-west, eu-central and us-east.",
    "url": "https://uptime.example.com/checks/42",
}


def test_the_generic_webhook_declares_with_the_severity_and_service_it_names(post, generic_token, checkout):
    response = post(GENERIC, GENERIC_ALERT, token=generic_token)

    assert response.status_code == 200
    incident = Incident.objects.get()
    assert (incident.title, incident.severity.key) == (GENERIC_ALERT["title"], "SEV2")
    assert list(incident.affected_services.all()) == [checkout]
    assert GENERIC_ALERT["description"] in incident.summary
    [event] = alert_events(incident)
    assert event.data["alert_names"] == [GENERIC_ALERT["title"]]
    assert event.data["runbook_url"] == GENERIC_ALERT["url"]


def test_the_generic_webhook_deduplicates_and_resolves_by_its_dedup_key(post, generic_token, checkout):
    post(GENERIC, GENERIC_ALERT, token=generic_token)
    repeat = post(GENERIC, GENERIC_ALERT, token=generic_token)
    resolved = post(GENERIC, {"dedup_key": GENERIC_ALERT["dedup_key"], "status": "resolved"}, token=generic_token)

    incident = Incident.objects.get()
    assert repeat.json()["duplicates"] == 1
    assert resolved.status_code == 200
    assert [event.data["status"] for event in alert_events(incident)] == ["firing", "resolved"]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"dedup_key": None}, errors.FIELD_REQUIRED.format(field="dedup_key")),
        ({"dedup_key": "  "}, errors.FIELD_REQUIRED.format(field="dedup_key")),
        ({"dedup_key": 42}, errors.NOT_A_STRING.format(field="dedup_key")),
        ({"title": ""}, errors.FIELD_REQUIRED.format(field="title")),
        ({"title": None}, errors.FIELD_REQUIRED.format(field="title")),
        ({"title": "x" * 201}, errors.TOO_LONG.format(field="title", limit=200)),
        ({"status": "acknowledged"}, errors.BAD_STATUS.format(field="status")),
        ({"severity": "SEV9"}, errors.UNKNOWN_SEVERITY.format(value="SEV9", keys="SEV1, SEV2, SEV3, SEV4")),
        ({"service": "nowhere"}, errors.UNKNOWN_SERVICE.format(value="nowhere")),
        ({"description": ["x"]}, errors.NOT_A_STRING.format(field="description")),
    ],
)
def test_a_bad_generic_alert_is_refused_with_the_reason(post, generic_token, checkout, change, reason):
    response = post(GENERIC, {**GENERIC_ALERT, **change}, token=generic_token)
    assert response.status_code == 400
    assert response.json() == {"error": reason}
    assert RejectedPayload.objects.get().endpoint == "generic"
    assert Incident.objects.count() == 0


# --- Cost ----------------------------------------------------------------------------------------


def test_a_batch_costs_the_same_queries_for_3_or_30_alerts_new_or_retried(post, token, rules):
    def batch(size: int, group: str) -> dict:
        payload = fixture("alertmanager_grouped")
        template = payload["alerts"][0]
        payload["groupKey"] = group
        payload["alerts"] = [
            {**template, "fingerprint": f"{group}-{n}", "labels": {**template["labels"], "n": str(n)}}
            for n in range(size)
        ]
        return payload

    post(ALERTMANAGER, batch(1, "warm-up"), token=token)  # makes the 'alerts' user once
    counts = []
    for size, group in ((3, "small"), (30, "large")):
        payload = batch(size, group)
        with CaptureQueriesContext(connection) as first:
            assert post(ALERTMANAGER, payload, token=token).json()["recorded"] == size
        with CaptureQueriesContext(connection) as retried:
            assert post(ALERTMANAGER, payload, token=token).json()["duplicates"] == size
        counts.append((len(first), len(retried)))
    assert counts[0] == counts[1], counts


# --- The runbook written for the alert -----------------------------------------------------------


def test_an_incident_opened_by_an_alert_starts_with_the_runbook_that_names_it(post, token, rules):
    from runbooks.models import RunbookRun
    from tests.runbooks.conftest import make_runbook

    other = make_runbook(title="Search is slow", alert_names=["SearchLatencyHigh"])
    written_for_it = make_runbook(title="Checkout errors", alert_names=["CheckoutHighErrorRate"])

    post(ALERTMANAGER, fixture("alertmanager_firing"), token=token)

    incident = Incident.objects.get()
    [run] = RunbookRun.objects.filter(incident=incident)
    assert run.runbook == written_for_it != other
    assert kinds(incident)[-2:] == [EventKind.ALERT, EventKind.RUNBOOK_ATTACHED]
    # A repeat joins the incident without attaching the runbook again.
    again = fixture("alertmanager_firing")
    again["alerts"][0]["fingerprint"] = "another-instance"
    post(ALERTMANAGER, again, token=token)
    assert RunbookRun.objects.filter(incident=incident).count() == 1


def test_without_a_runbook_for_the_alert_nothing_is_attached(post, token, rules):
    from runbooks.models import RunbookRun
    from tests.runbooks.conftest import make_runbook

    make_runbook(title="Search is slow", alert_names=["SearchLatencyHigh"])
    post(ALERTMANAGER, fixture("alertmanager_firing"), token=token)
    assert not RunbookRun.objects.exists()
    assert EventKind.RUNBOOK_ATTACHED not in kinds(Incident.objects.get())
