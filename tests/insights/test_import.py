from datetime import UTC, datetime

import pytest
from django.core.management import CommandError, call_command

from incidents.models import Incident, IncidentStatus, TimelineEvent
from postmortems.models import Postmortem
from tests.factories import ServiceFactory, UserFactory

pytestmark = pytest.mark.django_db

HEADER = "title,severity,services,detected,acknowledged,mitigated,resolved\n"
GOOD = (
    "Checkout down,SEV1,checkout;Payments,2026-01-05T10:00:00+00:00,2026-01-05T10:12:00+00:00,"
    "2026-01-05T10:40:00+00:00,2026-01-05T11:30:00+00:00\n"
    "Slow search,sev3,,2026-01-06T09:00:00,,,2026-01-06T15:00:00\n"
)


@pytest.fixture
def csv_file(tmp_path):
    def write(text: str):
        path = tmp_path / "incidents.csv"
        path.write_text(text, encoding="utf-8")
        return str(path)

    return write


@pytest.fixture(autouse=True)
def setup():
    UserFactory(username="importer", is_superuser=True)
    ServiceFactory(slug="checkout", name="Checkout")
    ServiceFactory(slug="payments", name="Payments")


def test_imports_resolved_incidents_with_their_milestones(csv_file, capsys):
    call_command("import_incidents", csv_file(HEADER + GOOD))
    assert "Imported 2 incident(s)." in capsys.readouterr().out
    checkout = Incident.objects.get(title="Checkout down")
    assert checkout.status == IncidentStatus.RESOLVED
    assert checkout.detected_at == datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
    assert checkout.acknowledged_at == datetime(2026, 1, 5, 10, 12, tzinfo=UTC)
    assert checkout.resolved_at == datetime(2026, 1, 5, 11, 30, tzinfo=UTC)
    assert {s.slug for s in checkout.affected_services.all()} == {"checkout", "payments"}
    assert TimelineEvent.objects.filter(incident=checkout, data__imported=True).count() == 4
    search = Incident.objects.get(title="Slow search")
    assert search.severity.key == "SEV3" and search.acknowledged_at is None
    # A past incident starts no postmortem, no webhook, no status page change.
    assert not Postmortem.objects.exists()


def test_dry_run_reports_every_bad_row_by_line_and_imports_nothing(csv_file, capsys):
    bad = (
        HEADER
        + GOOD
        + ",SEV1,,2026-01-05T10:00:00+00:00,,,2026-01-05T11:00:00+00:00\n"  # line 4: no title
        + "X,SEV9,,2026-01-05T10:00:00+00:00,,,2026-01-05T11:00:00+00:00\n"  # line 5
        + "Y,SEV2,nowhere,2026-01-05T10:00:00+00:00,,,2026-01-05T11:00:00+00:00\n"  # line 6
        + "Z,SEV2,,yesterday,,,2026-01-05T11:00:00+00:00\n"  # line 7
        + "W,SEV2,,2026-01-05T10:00:00+00:00,2026-01-05T12:00:00+00:00,,2026-01-05T11:00:00+00:00\n"  # line 8
        + "V,SEV2,,2026-01-05T10:00:00+00:00,,,\n"  # line 9
    )
    with pytest.raises(CommandError, match="6 bad row"):
        call_command("import_incidents", csv_file(bad), "--dry-run")
    err = capsys.readouterr().err
    for line in (4, 5, 6, 7, 8, 9):
        assert f"line {line}:" in err
    assert "line 2:" not in err and "line 3:" not in err
    assert not Incident.objects.exists()


def test_a_real_run_with_one_bad_row_imports_nothing(csv_file):
    with pytest.raises(CommandError):
        call_command(
            "import_incidents",
            csv_file(HEADER + GOOD + "Late,SEV1,,2999-01-01T00:00:00+00:00,,,2999-01-01T01:00:00+00:00\n"),
        )
    assert not Incident.objects.exists()


def test_dry_run_of_a_good_file_imports_nothing(csv_file, capsys):
    call_command("import_incidents", csv_file(HEADER + GOOD), "--dry-run")
    assert "2 row(s) would be imported" in capsys.readouterr().out
    assert not Incident.objects.exists()


def test_a_wrong_header_is_refused_on_line_1(csv_file):
    with pytest.raises(CommandError, match=r"line 1: .*missing: resolved"):
        call_command("import_incidents", csv_file("title,severity,services,detected,acknowledged,mitigated\n"))
