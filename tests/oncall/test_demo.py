import pytest
from django.core.management import call_command
from django.utils import timezone

from incidents.models import Service
from oncall import selectors
from oncall.models import Override, Schedule

pytestmark = pytest.mark.django_db


def test_the_demo_has_two_teams_on_weekly_rotations_with_one_override():
    for _ in range(2):  # idempotent
        call_command("load_demo_data", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert Schedule.objects.count() == 2
    assert Override.objects.count() == 1
    assert set(Schedule.objects.values_list("team__slug", flat=True)) == {"platform", "storefront"}
    assert not Service.objects.filter(owner_team=None).exists()
    for service in Service.objects.all():
        assert selectors.on_call_for_service(service=service, at=timezone.now()), service
