"""Two sweeps (two beats) and two fan-outs racing: every person is paged once per level."""

from collections import Counter
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from notifications.models import Message
from paging import services as paging
from paging.models import Page
from tests.factories import declare_incident
from tests.incidents.test_concurrency import run_concurrently

pytestmark = [pytest.mark.postgres, pytest.mark.usefixtures("committed_db")]

INCIDENTS = 30


def test_two_sweeps_and_two_fan_outs_racing_page_each_person_once_per_level(alerts_account, checkout, policy):
    declared = timezone.now() - timedelta(minutes=6)
    with time_machine.travel(declared, tick=False):
        incidents = [
            declare_incident(declared_by=alerts_account, title=f"Alert {n}", affected_services=[checkout])
            for n in range(INCIDENTS)
        ]
    recorded: list[int] = []
    assert run_concurrently(*[lambda: recorded.append(paging.escalations_sweep())] * 2) == []
    assert sum(recorded) == INCIDENTS  # level 2, once per incident, whichever sweep took it
    told: list[int] = []
    assert run_concurrently(*[lambda: told.append(paging.pages_fan_out())] * 2) == []
    assert sum(told) == 2 * INCIDENTS

    per_rung = Counter(Page.objects.values_list("incident_id", "level", "user__username"))
    assert per_rung == Counter(
        {(incident.pk, level, user): 1 for incident in incidents for level, user in ((1, "alice"), (2, "bob"))}
    )
    assert Message.objects.filter(dedup_key__contains=":page:").count() == 2 * INCIDENTS
    assert not Page.objects.filter(told_at__isnull=True).exists()
