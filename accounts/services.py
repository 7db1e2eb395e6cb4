from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from accounts.models import PasswordResetMail


@transaction.atomic
def password_reset_mail_claim(*, user: AbstractBaseUser, now: datetime) -> bool:
    """Whether a password reset mail may go to this account now, recording it if so: at most one
    every PASSWORD_RESET_MAIL_EVERY_MINUTES (the page answers the same either way)."""
    record, created = PasswordResetMail.objects.select_for_update().get_or_create(user=user, defaults={"sent_at": now})
    if created:
        return True
    if record.sent_at > now - timedelta(minutes=settings.PASSWORD_RESET_MAIL_EVERY_MINUTES):
        return False
    record.sent_at = now
    record.save(update_fields=["sent_at"])
    return True
