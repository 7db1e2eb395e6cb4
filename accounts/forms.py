from collections.abc import Iterator

from django.contrib.auth.forms import PasswordResetForm
from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone

from accounts.services import password_reset_mail_claim


class ThrottledPasswordResetForm(PasswordResetForm):
    """Django's form, mailing each account at most once every PASSWORD_RESET_MAIL_EVERY_MINUTES."""

    def get_users(self, email: str) -> Iterator[AbstractBaseUser]:
        now = timezone.now()
        for user in super().get_users(email):
            if password_reset_mail_claim(user=user, now=now):
                yield user
