from typing import Any

from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError, CommandParser

from incidents import errors, services
from incidents.models import ApiToken


class Command(BaseCommand):
    help = (
        "Create a JSON API token for a user and print it, alone, on stdout: "
        "TOKEN=$(python manage.py create_api_token alice). Only its digest is stored, so this is "
        "the one time it is shown."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--name", default="", help="What the token is for, e.g. 'Alertmanager'.")

    def handle(self, *args: Any, username: str, name: str, **options: Any) -> None:
        try:
            user = User.objects.get(username=username)
        except User.DoesNotExist:
            raise CommandError(errors.UNKNOWN_USER.format(username=username)) from None
        if not user.is_active:
            raise CommandError(errors.INACTIVE_USER.format(username=username))
        limit = ApiToken._meta.get_field("name").max_length
        if len(name.strip()) > limit:
            raise CommandError(errors.NAME_TOO_LONG.format(limit=limit))
        _, token = services.api_token_create(user=user, name=name)
        self.stdout.write(token)
