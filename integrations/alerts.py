"""Alerts in: alert sources and their tokens, and alert groups that open, join or resolve
incidents through incidents.services."""

import logging
import secrets
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from core.text import single_line
from incidents import services as incident_services
from incidents.models import (
    ACTIVE_STATUSES,
    EventKind,
    Incident,
    IncidentStatus,
    Service,
    SeverityPolicy,
    TimelineEvent,
)
from integrations import errors
from integrations.models import Alert, AlertRule, AlertSource, AlertStatus, RejectedPayload, SourceKind
from integrations.payloads import ParsedAlert, ParsedBatch, PayloadError
from runbooks import selectors as runbook_selectors
from runbooks import services as runbook_services

logger = logging.getLogger(__name__)

# Incidents opened by alerts are declared by this user when the source names no lead: it cannot
# log in, and it shows on the timeline as the actor of what the alert tool did.
ALERTS_USERNAME = "alerts"
BODY_EXCERPT_CHARS = 2000
# The `severity` label values most Alertmanager and Prometheus set-ups use, most severe first. A
# new source maps them onto the severity policies in rank order (critical → the most severe, info
# → the fourth), as rules of its own that the admin shows and edits.
DEFAULT_SEVERITY_LABEL = "severity"
DEFAULT_SEVERITY_VALUES = ("critical", "error", "warning", "info")
# After the rules an admin writes (order 10, 20, …): a rule naming a service decides first.
DEFAULT_RULE_ORDER = 1000


# --- Alert sources -------------------------------------------------------------------------------


@transaction.atomic
def alert_source_create(*, name: str, kind: str = SourceKind.ALERTMANAGER, **options) -> tuple[AlertSource, str]:
    """Make an alert source; the clear-text token is returned once and only its digest is kept."""
    name = name.strip()
    if not name:
        raise ValidationError({"name": errors.SOURCE_NAME_REQUIRED})
    limit = AlertSource._meta.get_field("name").max_length
    if len(name) > limit:
        raise ValidationError({"name": errors.TOO_LONG.format(field="name", limit=limit)})
    if AlertSource.objects.filter(name=name).exists():
        raise ValidationError({"name": errors.SOURCE_NAME_TAKEN.format(name=name)})
    if kind not in SourceKind.values:
        raise ValidationError({"kind": f"Use one of {', '.join(SourceKind.values)}."})
    raw = "ids_" + secrets.token_urlsafe(32)
    source = AlertSource.objects.create(
        name=name, kind=kind, digest=AlertSource.digest_of(raw), prefix=raw[:10], **options
    )
    _default_rules_create(source)
    return source, raw


def _default_rules_create(source: AlertSource) -> list[AlertRule]:
    """severity=critical → the most severe policy, error → the second, warning → the third, info
    → the fourth: by rank, never by a policy's name, so a renamed or re-keyed table still maps."""
    policies = list(SeverityPolicy.objects.order_by("rank")[: len(DEFAULT_SEVERITY_VALUES)])
    return AlertRule.objects.bulk_create(
        AlertRule(
            name=f"{DEFAULT_SEVERITY_LABEL}={value} → {policy.key}",
            source=source,
            matchers={DEFAULT_SEVERITY_LABEL: value},
            severity=policy,
            order=DEFAULT_RULE_ORDER + position,
        )
        for position, (value, policy) in enumerate(zip(DEFAULT_SEVERITY_VALUES, policies, strict=False))
    )


@transaction.atomic
def alert_source_token_rotate(*, source: AlertSource) -> str:
    raw = "ids_" + secrets.token_urlsafe(32)
    AlertSource.objects.filter(pk=source.pk).update(digest=AlertSource.digest_of(raw), prefix=raw[:10])
    source.digest, source.prefix = AlertSource.digest_of(raw), raw[:10]
    return raw


def alert_source_for_token(authorization: str) -> AlertSource | None:
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return AlertSource.objects.filter(digest=AlertSource.digest_of(token), active=True).first()


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    count: int
    retry_after: int


def alert_source_rate_check(*, source: AlertSource, now: float | None = None) -> RateDecision:
    """A fixed one-minute window per source, counted atomically in the cache (INCR in Redis), so
    every web process shares one count."""
    now = time.time() if now is None else now
    window = int(now // 60)
    key = f"integrations:rate:{source.pk}:{window}"
    cache.add(key, 0, timeout=120)
    try:
        count = cache.incr(key)
    except ValueError:  # evicted between add and incr
        cache.set(key, 1, timeout=120)
        count = 1
    if count is None:  # the cache is down (it fails open): alerts are taken in, uncounted
        count = 1
    retry_after = max(1, 60 - int(now % 60))
    return RateDecision(count <= source.rate_limit_per_minute, count, retry_after)


def rejected_payload_record(
    *, source: AlertSource | None, endpoint: str, status_code: int, reason: str, body: bytes
) -> RejectedPayload:
    excerpt = body[:BODY_EXCERPT_CHARS].decode("utf-8", errors="replace").replace("\x00", "\ufffd")
    logger.warning("alert payload refused (%s, %s): %s", endpoint, status_code, reason)
    return RejectedPayload.objects.create(
        source=source,
        endpoint=endpoint,
        status_code=status_code,
        reason=reason,
        body_excerpt=excerpt,
        received_at=timezone.now(),
    )


# --- Alerts → incidents --------------------------------------------------------------------------


@dataclass
class BatchOutcome:
    declared: list[str] = field(default_factory=list)
    attached: list[str] = field(default_factory=list)
    resolved: list[str] = field(default_factory=list)
    recorded: int = 0
    duplicates: int = 0

    def as_json(self) -> dict:
        return {
            "declared": self.declared,
            "attached": self.attached,
            "resolved": self.resolved,
            "recorded": self.recorded,
            "duplicates": self.duplicates,
        }


def _alerts_user(source: AlertSource) -> AbstractBaseUser:
    if source.incident_lead_id:
        return source.incident_lead
    user, created = get_user_model().objects.get_or_create(
        username=ALERTS_USERNAME, defaults={"first_name": "Alerts", "is_active": True}
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user


def _rule_for(rules: list[AlertRule], labels: dict[str, str]) -> AlertRule | None:
    return next((rule for rule in rules if rule.matches(labels)), None)


def _severity_for(
    batch: ParsedBatch, firing: list[ParsedAlert], rules: dict[str, AlertRule | None], source: AlertSource
) -> SeverityPolicy:
    if batch.severity_key:
        return SeverityPolicy.objects.get(key=batch.severity_key)
    ruled = [rules[alert.fingerprint].severity for alert in firing if rules[alert.fingerprint]]
    ruled = [severity for severity in ruled if severity is not None]
    if ruled:
        return min(ruled, key=lambda severity: severity.rank)
    if source.default_severity_id:
        return source.default_severity
    return SeverityPolicy.objects.order_by("-rank").first()


def _services_for(batch: ParsedBatch, alerts: list[ParsedAlert], rules: dict[str, AlertRule | None]) -> list[Service]:
    if batch.service_slug:
        return [Service.objects.get(slug=batch.service_slug)]
    found = {}
    for alert in alerts:
        rule = rules[alert.fingerprint]
        if rule and rule.service_id:
            found[rule.service_id] = rule.service
    return list(found.values())


def _runbook_url(alert: ParsedAlert, batch: ParsedBatch) -> str:
    return alert.annotations.get("runbook_url") or batch.common_annotations.get("runbook_url", "")


def _incident_summary(batch: ParsedBatch, alerts: list[ParsedAlert]) -> str:
    first = alerts[0]
    annotations = {**batch.common_annotations, **first.annotations}
    lines = []
    if annotations.get("description"):
        lines += [annotations["description"], ""]
    runbook = _runbook_url(first, batch)
    if runbook:
        lines += [f"Runbook: {runbook}", ""]
    labels = {**batch.common_labels, **first.labels}
    if labels:
        lines.append("Labels: " + ", ".join(f"{key}={value}" for key, value in sorted(labels.items())))
    others = [alert.name for alert in alerts[1:]]
    if others:
        lines.append("Also firing: " + ", ".join(sorted(set(others))))
    if first.generator_url:
        # The query string of a Prometheus graph link is long and unbreakable; the full link stays
        # in the alert's record and in the ALERT event's data.
        lines.append(f"Source: {first.generator_url.split('?', 1)[0]}")
    return "\n".join(lines).strip()


def _alert_data(alert: ParsedAlert) -> dict:
    return {
        "name": alert.name,
        "fingerprint": alert.fingerprint,
        "status": alert.status,
        "labels": alert.labels,
        "annotations": alert.annotations,
        "starts_at": alert.starts_at.isoformat() if alert.starts_at else None,
        "ends_at": alert.ends_at.isoformat() if alert.ends_at else None,
        "generator_url": alert.generator_url,
    }


def _event_text(status: str, alerts: list[ParsedAlert]) -> str:
    names = sorted({alert.name for alert in alerts})
    more = f" (+{len(names) - 2} more)" if len(names) > 2 else ""
    return f"Alert {status}: {', '.join(names[:2])}{more}"[:200]


def _event_body(batch: ParsedBatch, alerts: list[ParsedAlert]) -> str:
    lines = []
    for alert in alerts:
        line = f"{alert.name}: {alert.summary}" if alert.summary and alert.summary != alert.name else alert.name
        runbook = _runbook_url(alert, batch)
        lines.append(line + (f" (runbook: {runbook})" if runbook else ""))
    return "\n".join(lines)


def _record(
    *,
    incident: Incident,
    actor: AbstractBaseUser,
    source: AlertSource,
    batch: ParsedBatch,
    status: str,
    alerts: list[ParsedAlert],
) -> TimelineEvent:
    return incident_services.incident_event_record(
        incident=incident,
        kind=EventKind.ALERT,
        actor=actor,
        text=_event_text(status, alerts),
        body=_event_body(batch, alerts),
        data={
            "alert_names": sorted({alert.name for alert in alerts}),
            "status": status,
            "source": source.name,
            "group_key": batch.group_key,
            "labels": batch.common_labels or alerts[0].labels,
            "annotations": batch.common_annotations or alerts[0].annotations,
            "runbook_url": _runbook_url(alerts[0], batch),
            "alerts": [_alert_data(alert) for alert in alerts],
            "truncated_alerts": batch.truncated_alerts,
        },
    )


def _runbook_attach(*, incident: Incident, actor: AbstractBaseUser, alerts: list[ParsedAlert]) -> None:
    """A new incident opened by alerts starts with the runbook written for them, if there is one:
    the responder who opens the page at 3 a.m. finds the checklist already there."""
    matches = runbook_selectors.runbooks_for_alert_names(alert_names=[alert.name for alert in alerts])
    if matches:
        runbook_services.runbook_attach(runbook=matches[0], incident=incident, actor=actor)


@transaction.atomic
def alert_batch_receive(*, source: AlertSource, batch: ParsedBatch, now: datetime | None = None) -> BatchOutcome:
    """Record a batch of alerts of one group from one source.

    Firing alerts whose group key belongs to an open incident of this source join it (one ALERT
    event); otherwise an incident is declared in Investigating with the alerts' summary, labels,
    annotations and runbook URL. Resolved alerts are put on their incident's timeline; once every
    alert of an incident has resolved and the rule of each opted in, the incident is resolved.

    The same alert with the same status within the source's dedup window is recorded once, and an
    alert older than what we already have (a retry overtaken by a newer message) changes nothing,
    so Alertmanager's retries and repeats are harmless. The source row is locked: two batches of
    one source never both declare an incident for the same group."""
    now = now or timezone.now()
    source = AlertSource.objects.select_for_update().get(pk=source.pk)
    AlertSource.objects.filter(pk=source.pk).update(last_used_at=now)
    outcome = BatchOutcome()
    # One alert per fingerprint: the last of a batch wins, as Alertmanager never repeats one.
    alerts = list({alert.fingerprint: alert for alert in batch.alerts}.values())
    rules_list = list(
        AlertRule.objects.filter(source__isnull=True).select_related("severity", "service")
        | AlertRule.objects.filter(source=source).select_related("severity", "service")
    )
    rules_list.sort(key=lambda rule: (rule.order, rule.pk))
    rules = {alert.fingerprint: _rule_for(rules_list, {**batch.common_labels, **alert.labels}) for alert in alerts}
    known = {
        alert.fingerprint: alert
        for alert in Alert.objects.filter(
            source=source, fingerprint__in=[a.fingerprint for a in alerts]
        ).select_related("incident")
    }
    window = timedelta(seconds=source.dedup_window_seconds)

    fresh: list[ParsedAlert] = []
    repeated: list[int] = []
    for alert in alerts:
        stored = known.get(alert.fingerprint)
        stale = stored is not None and alert.starts_at and stored.starts_at and alert.starts_at < stored.starts_at
        # A later startsAt is a new episode of the alert (we missed its resolution): never a repeat.
        newer = stored is not None and alert.starts_at and stored.starts_at and alert.starts_at > stored.starts_at
        repeat = (
            stored is not None and stored.status == alert.status and now - stored.recorded_at < window and not newer
        )
        if stale or repeat:
            repeated.append(stored.pk)
        else:
            fresh.append(alert)
    if repeated:
        outcome.duplicates = len(repeated)
        Alert.objects.filter(pk__in=repeated).update(last_received_at=now, times_received=F("times_received") + 1)
    if not fresh:
        return outcome

    open_incident = (
        Incident.objects.filter(alerts__source=source, alerts__group_key=batch.group_key, status__in=ACTIVE_STATUSES)
        .order_by("-declared_at")
        .first()
    )
    actor = _alerts_user(source)
    firing = [alert for alert in fresh if alert.status == AlertStatus.FIRING]
    resolved = [alert for alert in fresh if alert.status == AlertStatus.RESOLVED]
    incident_of: dict[str, Incident | None] = {}

    if firing:
        if open_incident is None:
            candidates = [
                batch.common_annotations.get("summary", ""),
                firing[0].summary,
                firing[0].name,
                batch.group_key,
            ]
            title = next((single_line(t) for t in candidates if single_line(t)), f"Alert from {source.name}")[:200]
            earliest = min((a.starts_at for a in firing if a.starts_at), default=now)
            open_incident = incident_services.incident_declare(
                declared_by=actor,
                title=title,
                severity=_severity_for(batch, firing, rules, source),
                summary=_incident_summary(batch, firing),
                detected_at=min(earliest, now),
                affected_services=_services_for(batch, firing, rules),
            )
            outcome.declared.append(open_incident.reference)
        else:
            outcome.attached.append(open_incident.reference)
            # An alert of another service joining the group adds that service (whose team is paged
            # when it is not on the incident yet: paging's event handler).
            services = {service.pk: service for service in open_incident.affected_services.all()}
            added = [service for service in _services_for(batch, firing, rules) if service.pk not in services]
            if added:
                incident_services.incident_impact_update(
                    incident=open_incident, actor=actor, affected_services=[*services.values(), *added]
                )
        _record(incident=open_incident, actor=actor, source=source, batch=batch, status="firing", alerts=firing)
        if outcome.declared:
            _runbook_attach(incident=open_incident, actor=actor, alerts=firing)
        for alert in firing:
            incident_of[alert.fingerprint] = open_incident

    resolved_by_incident: dict[int, list[ParsedAlert]] = defaultdict(list)
    incidents: dict[int, Incident] = {}
    for alert in resolved:
        stored = known.get(alert.fingerprint)
        incident = stored.incident if stored is not None and stored.incident is not None else open_incident
        incident_of[alert.fingerprint] = incident
        if incident is not None:
            resolved_by_incident[incident.pk].append(alert)
            incidents[incident.pk] = incident
    for incident_pk, group in resolved_by_incident.items():
        _record(
            incident=incidents[incident_pk], actor=actor, source=source, batch=batch, status="resolved", alerts=group
        )

    # One upsert for the whole batch, whatever its size.
    Alert.objects.bulk_create(
        [
            Alert(
                source=source,
                fingerprint=alert.fingerprint,
                group_key=batch.group_key,
                name=single_line(alert.name)[:200],
                status=alert.status,
                labels=alert.labels,
                annotations=alert.annotations,
                starts_at=alert.starts_at,
                ends_at=alert.ends_at,
                generator_url=alert.generator_url[:1000],
                incident=incident_of.get(alert.fingerprint),
                rule=rules[alert.fingerprint],
                first_received_at=now,
                last_received_at=now,
                recorded_at=now,
                times_received=known[alert.fingerprint].times_received + 1 if alert.fingerprint in known else 1,
            )
            for alert in fresh
        ],
        update_conflicts=True,
        unique_fields=["source", "fingerprint"],
        update_fields=[
            "group_key",
            "name",
            "status",
            "labels",
            "annotations",
            "starts_at",
            "ends_at",
            "generator_url",
            "incident",
            "rule",
            "last_received_at",
            "recorded_at",
            "times_received",
        ],
    )
    outcome.recorded = len(fresh)

    for incident in incidents.values():
        if _auto_resolve(incident=incident, actor=actor):
            outcome.resolved.append(incident.reference)
    return outcome


def _auto_resolve(*, incident: Incident, actor: AbstractBaseUser) -> bool:
    """Resolve an incident whose alerts have all resolved, when the rule of every one opts in."""
    incident.refresh_from_db(fields=["status"])
    if incident.status not in ACTIVE_STATUSES:
        return False
    alerts = list(Alert.objects.filter(incident=incident).select_related("rule"))
    if not alerts or any(alert.status == AlertStatus.FIRING for alert in alerts):
        return False
    if not all(alert.rule is not None and alert.rule.auto_resolve for alert in alerts):
        return False
    incident_services.incident_status_change(incident=incident, status=IncidentStatus.RESOLVED, actor=actor)
    return True


def generic_batch_check(batch: ParsedBatch) -> None:
    """The generic webhook names its severity and service; refuse unknown ones before any write."""
    if batch.severity_key and not SeverityPolicy.objects.filter(key=batch.severity_key).exists():
        keys = ", ".join(SeverityPolicy.objects.values_list("key", flat=True))
        raise PayloadError(errors.UNKNOWN_SEVERITY.format(value=batch.severity_key, keys=keys))
    if batch.service_slug and not Service.objects.filter(slug=batch.service_slug).exists():
        raise PayloadError(errors.UNKNOWN_SERVICE.format(value=batch.service_slug))
