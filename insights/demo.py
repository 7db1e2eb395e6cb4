"""The insights' part of load_demo_data: three months of past, resolved incidents with their
milestones and status updates (some late), imported as a team moving from another tool would,
so the insights page has something to show. Idempotent: done once."""

import random
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.utils import timezone

from incidents.models import Incident, Service, SeverityPolicy
from incidents.services import incident_import

DEMO_TITLES = [
    "Checkout returns 502s for some carts",
    "Login slow after a certificate rotation",
    "Search results stale for an hour",
    "API rate limiter rejects good clients",
    "Database replica lag over 5 minutes",
    "Payment provider timeouts",
    "Password reset mails delayed",
    "Search index rebuild stuck",
]
# Severity, how many, median minutes to acknowledge and to resolve.
MIX = [("SEV1", 4, 8, 70), ("SEV2", 10, 20, 150), ("SEV3", 14, 60, 300), ("SEV4", 6, 240, 900)]
MARK = " (past)"


def demo_data_load() -> None:
    if Incident.objects.filter(title__endswith=MARK).exists():
        return
    users = get_user_model().objects.in_bulk(["lead", "oncall"], field_name="username")
    services = list(Service.objects.order_by("slug"))
    policies = SeverityPolicy.objects.in_bulk(field_name="key")
    if not users or not services or not policies:
        return
    rng = random.Random(19)
    now = timezone.now()
    for key, count, ack_minutes, resolve_minutes in MIX:
        policy = policies.get(key)
        if policy is None:
            continue
        for _ in range(count):
            detected = now - timedelta(days=rng.uniform(2, 90), minutes=rng.uniform(0, 600))
            acknowledged = detected + timedelta(minutes=rng.uniform(0.3, 1.6) * ack_minutes)
            resolved = acknowledged + timedelta(minutes=rng.uniform(0.4, 1.8) * resolve_minutes)
            mitigated = acknowledged + (resolved - acknowledged) * rng.uniform(0.3, 0.9)
            updates = []
            cadence = policy.update_cadence_minutes
            if cadence:
                moment = detected
                while True:
                    # Mostly on time, now and then a few minutes late.
                    moment += timedelta(minutes=cadence * rng.choice([0.6, 0.8, 0.9, 1.0, 1.1, 1.3]))
                    if moment >= resolved:
                        break
                    updates.append(moment)
            incident_import(
                actor=users[rng.choice(["lead", "oncall"])],
                title=rng.choice(DEMO_TITLES) + MARK,
                severity=policy,
                detected_at=detected,
                acknowledged_at=acknowledged,
                mitigated_at=mitigated,
                resolved_at=resolved,
                affected_services=rng.sample(services, k=rng.choice([1, 1, 2])),
                update_times=updates,
            )
