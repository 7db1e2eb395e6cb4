import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.test import RequestFactory

from incidents.management.commands.load_demo_data import DEMO_PASSWORD
from incidents.models import Incident, IncidentStatus

pytestmark = pytest.mark.django_db


def test_demo_data_gives_a_login_per_role_and_incidents_in_several_states():
    call_command("load_demo_data", stdout=open("/dev/null", "w"))  # noqa: SIM115
    for username in ("admin", "lead", "oncall", "comms", "viewer"):
        # django-axes checks each login against its record of failures: it needs the request.
        request = RequestFactory().post("/accounts/login/")
        assert authenticate(request, username=username, password=DEMO_PASSWORD) is not None
    statuses = set(Incident.objects.values_list("status", flat=True))
    assert {IncidentStatus.IDENTIFIED, IncidentStatus.INVESTIGATING, IncidentStatus.RESOLVED} <= statuses
    assert set(Incident.objects.values_list("severity__key", flat=True)) == {"SEV1", "SEV2", "SEV3", "SEV4"}


def test_demo_data_is_idempotent():
    call_command("load_demo_data", stdout=open("/dev/null", "w"))  # noqa: SIM115
    before = Incident.objects.count()
    call_command("load_demo_data", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert Incident.objects.count() == before
