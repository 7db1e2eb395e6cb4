"""The integrations' demo data: an alert source with rules, an example subscription and one alert
group that opened an incident."""

import secrets
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from incidents.models import Service, SeverityPolicy
from integrations.alerts import alert_batch_receive, alert_source_create
from integrations.models import AlertRule, AlertSource, AlertStatus, WebhookEvent, WebhookSubscription
from integrations.payloads import ParsedAlert, ParsedBatch

DEMO_SOURCE = "demo-alertmanager"


@transaction.atomic
def demo_data_load() -> str | None:
    """Idempotent demo step (called by load_demo_data): an Alertmanager source with label rules, an
    inactive example subscription, and one alert group that opened an incident. Returns a line
    with the new source's token the first time (it is shown only then), None afterwards."""
    if AlertSource.objects.filter(name=DEMO_SOURCE).exists():
        return None
    severity = {policy.key: policy for policy in SeverityPolicy.objects.all()}
    catalog = {service.slug: service for service in Service.objects.all()}
    source, token = alert_source_create(name=DEMO_SOURCE)
    for order, (service, level, key) in enumerate(
        [("checkout", "critical", "SEV1"), ("database", "critical", "SEV2"), ("database", "warning", "SEV3")]
    ):
        AlertRule.objects.create(
            name=f"{service} {level}",
            source=None,
            matchers={"service": service, "severity": level},
            severity=severity.get(key),
            service=catalog.get(service),
            order=(order + 1) * 10,
            auto_resolve=level == "warning",
        )
    WebhookSubscription.objects.create(
        team="Platform (example)",
        url="https://hooks.example.com/incident-desk",
        secret=secrets.token_urlsafe(24),
        events=[WebhookEvent.DECLARED, WebhookEvent.RESOLVED],
        active=False,
    )
    now = timezone.now()
    alerts = [
        ParsedAlert(
            fingerprint=f"demo-replication-lag-{replica}",
            status=AlertStatus.FIRING,
            labels={
                "alertname": "PostgresReplicationLag",
                "service": "database",
                "severity": "warning",
                "instance": f"pg-replica-{replica}:9187",
            },
            annotations={
                "summary": f"Replication lag above 60 s on pg-replica-{replica}",
                "description": f"Replica pg-replica-{replica} is {60 + 17 * replica} s behind the primary.",
                "runbook_url": "https://runbooks.example.com/database/replication-lag",
            },
            starts_at=now - timedelta(minutes=9 - replica),
            ends_at=None,
            generator_url="http://prometheus.example.com:9090/graph?g0.expr=pg_replication_lag_seconds+%3E+60",
        )
        for replica in (1, 2)
    ]
    alert_batch_receive(
        source=source,
        batch=ParsedBatch(
            group_key='{}/{service="database"}:{cluster="db-eu-1", service="database"}',
            alerts=alerts,
            common_labels={"alertname": "PostgresReplicationLag", "service": "database", "severity": "warning"},
            common_annotations={"summary": "Replication lag above 60 s on the EU database replicas"},
        ),
        now=now,
    )
    return f"Demo alert source token (shown once): {token}"
