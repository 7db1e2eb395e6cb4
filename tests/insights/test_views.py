import csv
import io
import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from incidents import policy, services
from incidents.models import IncidentStatus, SeverityPolicy
from insights import errors
from tests.factories import UserFactory, declare_incident

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 3, 10, 0, tzinfo=UTC)
NOW = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)
QUERY = "range=custom&from=2026-03-01&to=2026-03-14"


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


@pytest.fixture
def late_update():
    """A SEV1 whose first update came 7 minutes after it was due, then resolved."""
    with time_machine.travel(T0, tick=False):
        incident = declare_incident(severity="SEV1", title="Checkout down")
    with time_machine.travel(at(22), tick=False):
        services.incident_update_post(incident=incident, author=incident.lead, progress="Found it")
    with time_machine.travel(at(30), tick=False):
        services.incident_update_post(
            incident=incident, author=incident.lead, progress="Fixed", status=IncidentStatus.RESOLVED
        )
    return incident


def page(client, url, **headers):
    with time_machine.travel(NOW, tick=False):
        return client.get(url, headers=headers)


def test_responders_see_the_page_and_viewers_do_not(responder_client, late_update, client):
    response = page(responder_client, f"/insights/?{QUERY}")
    assert response.status_code == 200
    body = response.content.decode()
    assert "Incidents per week by severity" in body and "<svg" in body
    client.force_login(UserFactory(role="viewer"))
    assert page(client, "/insights/").status_code == 403


def test_htmx_gets_only_the_results(responder_client, late_update):
    response = page(responder_client, f"/insights/?{QUERY}", **{"HX-Request": "true"})
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="insights-results"')
    assert "<form" not in body


def test_bad_filters_answer_400_with_the_reason(responder_client):
    response = page(responder_client, "/insights/?range=custom&from=2026-02-30")
    assert response.status_code == 400
    assert errors.BAD_DATE in response.content.decode()


def test_csv_has_the_numbers_of_the_table(responder_client, late_update):
    html = page(responder_client, f"/insights/?{QUERY}").content.decode()
    table = re.search(r'<table class="figures" data-table="cadence">(.*?)</table>', html, re.S).group(1)
    cells = [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", table, re.S)]
    response = page(responder_client, f"/insights/cadence.csv?{QUERY}")
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    flat = [cell or "—" for row in rows for cell in row]
    assert flat == cells
    assert ["SEV1", "2", "1", "1", "50.0", "7.0", "7.0"] in rows


def test_unknown_csv_is_404(responder_client):
    assert page(responder_client, "/insights/nothing.csv").status_code == 404


def test_drill_down_shows_visible_incidents_and_counts_the_others(responder_client, late_update):
    with time_machine.travel(at(60), tick=False):
        declare_incident(severity="SEV1", title="Top secret breach", restricted=True)
    response = page(responder_client, f"/insights/incidents/?{QUERY}&sev=SEV1")
    body = response.content.decode()
    assert "Checkout down" in body
    assert "Top secret breach" not in body
    assert "and 1 restricted incident" in body


@pytest.mark.parametrize(
    "query", ["week=2026-99-99&lead=%C2%B2&sev=x", "week=9999-12-31", "sev=nope&svc=nope&lead=99999999999999999999"]
)
def test_drill_down_ignores_what_it_cannot_read(responder_client, query):
    response = page(responder_client, f"/insights/incidents/?{query}")
    assert response.status_code == 200


@pytest.mark.parametrize(
    "query", ["severity=%00", "service=%00", "team=%00", "from=2026-01-01&to=9999-12-31", "range=%00"]
)
@pytest.mark.parametrize("path", ["/insights/", "/insights/weekly.csv", "/insights/incidents/"])
def test_hostile_filters_are_refused_not_errors(responder_client, path, query):
    assert page(responder_client, f"{path}?{query}").status_code == 400


def test_incident_page_shows_cadence_kept(responder_client, late_update):
    body = page(responder_client, late_update.get_absolute_url()).content.decode()
    assert "Cadence kept" in body
    assert "missed by 7 min" in body
    # +15 met 7 min late at +22; +37 met on time by the resolving update at +30.
    assert "1 of 2 updates on time" in body


def test_postmortem_page_and_export_show_cadence_kept(responder_client, late_update):
    body = page(responder_client, f"/incidents/{late_update.reference}/postmortem/").content.decode()
    assert "Cadence kept" in body
    export = page(responder_client, f"/incidents/{late_update.reference}/postmortem/export.md").content.decode()
    assert "## Response and cadence kept" in export
    assert "- Acknowledged: 22 min after detection (target 15 min: missed)" in export
    assert "missed by 7 min" in export


def test_incident_and_export_show_mitigate_and_resolve_targets_set_in_the_policy(responder_client, late_update):
    """Resolved (and so mitigated) 30 min after detection: within a 45 min mitigation target,
    past a 20 min resolution target."""
    sev1 = SeverityPolicy.objects.get(key="SEV1")
    policy.severity_policy_update(
        policy=sev1, actor=UserFactory(is_superuser=True), mitigate_target_minutes=45, resolve_target_minutes=20
    )
    body = page(responder_client, late_update.get_absolute_url()).content.decode()
    assert re.search(r"30 min after detection\s*· target 45 min\s*<span class=\"kept\">kept", body)
    assert re.search(r"30 min after detection\s*· target 20 min\s*<span class=\"missed\">missed", body)
    export = page(responder_client, f"/incidents/{late_update.reference}/postmortem/export.md").content.decode()
    assert "- Mitigated: 30 min after detection (target 45 min: kept)" in export
    assert "- Resolved: 30 min after detection (target 20 min: missed)" in export


def test_without_targets_the_incident_shows_none(responder_client, late_update):
    export = page(responder_client, f"/incidents/{late_update.reference}/postmortem/export.md").content.decode()
    assert "- Resolved: 30 min after detection\n" in export
