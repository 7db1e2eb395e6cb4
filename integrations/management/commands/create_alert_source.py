from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from integrations.alerts import alert_source_create
from integrations.models import SourceKind


class Command(BaseCommand):
    help = (
        "Create an alert source and print its token, alone, on stdout: "
        "TOKEN=$(python manage.py create_alert_source prometheus). Only its digest is stored, so "
        "this is the one time it is shown."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")
        parser.add_argument("--kind", choices=SourceKind.values, default=SourceKind.ALERTMANAGER)

    def handle(self, *args: Any, name: str, kind: str, **options: Any) -> None:
        try:
            _, token = alert_source_create(name=name, kind=kind)
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None
        self.stdout.write(token)
