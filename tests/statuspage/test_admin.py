from datetime import timedelta

import pytest
from django.utils import timezone

from statuspage import errors
from statuspage.models import ComponentStatus, MaintenanceWindow, SeverityImpact

pytestmark = pytest.mark.django_db


def _form(components, starts_at, **extra) -> dict:
    data = {
        "title": "Upgrade",
        "description": "",
        "components": [components["api"].pk],
        "starts_at_0": starts_at.strftime("%Y-%m-%d"),
        "starts_at_1": starts_at.strftime("%H:%M:%S"),
        "ends_at_0": (starts_at + timedelta(hours=1)).strftime("%Y-%m-%d"),
        "ends_at_1": (starts_at + timedelta(hours=1)).strftime("%H:%M:%S"),
    }
    return {**data, **extra}


def test_admin_refuses_maintenance_announced_less_than_72_hours_ahead(admin_client, components):
    soon = timezone.now() + timedelta(hours=24)
    response = admin_client.post("/admin/statuspage/maintenancewindow/add/", _form(components, soon))
    assert response.status_code == 200
    assert errors.MAINTENANCE_NOTICE_TOO_SHORT in response.content.decode()
    assert not MaintenanceWindow.objects.exists()
    response = admin_client.post("/admin/statuspage/maintenancewindow/add/", _form(components, soon, short_notice="on"))
    assert response.status_code == 302
    assert MaintenanceWindow.objects.get().created_at is not None


def test_changing_the_impact_mapping_in_the_admin_moves_components(admin_client, components, catalog, severities):
    from tests import factories

    factories.declare_incident(severity="SEV2", affected_services=[catalog["api"]], published=True)
    impact = SeverityImpact.objects.get(severity=severities["SEV2"])
    response = admin_client.post(
        f"/admin/statuspage/severityimpact/{impact.pk}/change/",
        {"severity": severities["SEV2"].pk, "component_status": ComponentStatus.MAJOR_OUTAGE},
    )
    assert response.status_code == 302
    components["api"].refresh_from_db()
    assert components["api"].status == ComponentStatus.MAJOR_OUTAGE
