"""python manage.py import_incidents FILE.csv [--dry-run] [--user USERNAME]

Imports past, resolved incidents from another tool so their figures count at once. The header:

    title,severity,services,detected,acknowledged,mitigated,resolved

severity is a key (SEV1); services are slugs or names separated by ";" (may be empty); times are
ISO 8601 (2026-03-02T14:30:00+00:00; without an offset they are in TIME_ZONE); acknowledged and
mitigated may be empty. Every row is checked by the same service that imports it; any bad row
(reported with its line number) and nothing is imported. --dry-run checks and imports nothing."""

import csv
from datetime import datetime

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from incidents.models import Service, SeverityPolicy
from incidents.services import incident_import
from postmortems.dates import team_zone

HEADER = ["title", "severity", "services", "detected", "acknowledged", "mitigated", "resolved"]
MISSING_COLUMNS = "The header must be: " + ",".join(HEADER) + " (missing: {names})."
BAD_TIME = "{column}: not an ISO 8601 time ({value!r})."
REQUIRED_TIME = "{column}: required."
UNKNOWN_SEVERITY = "severity: unknown {value!r}; use one of: {values}."
UNKNOWN_SERVICES = "services: unknown {names}."
NO_USER = "No user to import as: pass --user USERNAME (an active user)."
FAILED = "{count} bad row(s): nothing was imported."


class RowProblem(Exception):
    pass


def _time(row: dict, column: str, *, required: bool) -> datetime | None:
    value = (row.get(column) or "").strip()
    if not value:
        if required:
            raise RowProblem(REQUIRED_TIME.format(column=column))
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise RowProblem(BAD_TIME.format(column=column, value=value)) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=team_zone())


class Command(BaseCommand):
    help = "Import past incidents from a CSV file (header: " + ",".join(HEADER) + ")."

    def add_arguments(self, parser) -> None:
        parser.add_argument("file")
        parser.add_argument("--dry-run", action="store_true", help="Check every row; import nothing.")
        parser.add_argument("--user", help="Who imports (the incidents' lead). Default: the first superuser.")

    def handle(self, *args, file: str, dry_run: bool, user: str | None, **options) -> None:
        users = get_user_model().objects.filter(is_active=True)
        actor = users.filter(username=user).first() if user else users.filter(is_superuser=True).order_by("pk").first()
        if actor is None:
            raise CommandError(NO_USER)
        policies = {policy.key: policy for policy in SeverityPolicy.objects.all()}
        services = list(Service.objects.all())
        try:
            handle = open(file, newline="", encoding="utf-8-sig")  # noqa: SIM115 (closed below)
        except OSError as error:
            raise CommandError(f"Cannot read {file}: {error.strerror}") from None
        problems: list[str] = []
        imported = 0
        with handle, transaction.atomic():
            reader = csv.DictReader(handle)
            missing = [name for name in HEADER if name not in (reader.fieldnames or [])]
            if missing:
                raise CommandError(f"line 1: {MISSING_COLUMNS.format(names=', '.join(missing))}")
            try:
                for row in reader:
                    line = reader.line_num
                    try:
                        with transaction.atomic():
                            self._import(row, actor=actor, policies=policies, services=services)
                        imported += 1
                    except RowProblem as problem:
                        problems.append(f"line {line}: {problem}")
                    except ValidationError as error:
                        messages = error.message_dict if hasattr(error, "error_dict") else {"": error.messages}
                        text = "; ".join(
                            (f"{field}: " if field and field != "__all__" else "") + " ".join(texts)
                            for field, texts in messages.items()
                        )
                        problems.append(f"line {line}: {text}")
            except (csv.Error, UnicodeDecodeError) as error:
                problems.append(f"line {reader.line_num}: unreadable CSV ({error})")
            for problem in problems:
                self.stderr.write(problem)
            if problems or dry_run:
                transaction.set_rollback(True)
        if problems:
            raise CommandError(FAILED.format(count=len(problems)))
        if dry_run:
            self.stdout.write(f"{imported} row(s) would be imported. Nothing was imported (dry run).")
        else:
            self.stdout.write(f"Imported {imported} incident(s).")

    def _import(self, row: dict, *, actor, policies: dict, services: list[Service]) -> None:
        key = (row.get("severity") or "").strip().upper()
        if key not in policies:
            raise RowProblem(UNKNOWN_SEVERITY.format(value=row.get("severity"), values=", ".join(sorted(policies))))
        names = [name.strip() for name in (row.get("services") or "").split(";") if name.strip()]
        found, unknown = [], []
        for name in names:
            match = next((s for s in services if name in (s.slug, s.name) or name.lower() == s.name.lower()), None)
            (found if match else unknown).append(match or name)
        if unknown:
            raise RowProblem(UNKNOWN_SERVICES.format(names=", ".join(repr(name) for name in unknown)))
        incident_import(
            actor=actor,
            title=row.get("title") or "",
            severity=policies[key],
            affected_services=found,
            detected_at=_time(row, "detected", required=True),
            acknowledged_at=_time(row, "acknowledged", required=False),
            mitigated_at=_time(row, "mitigated", required=False),
            resolved_at=_time(row, "resolved", required=True),
        )
