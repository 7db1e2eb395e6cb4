from django.conf import settings
from django.db import models


class PasswordResetMail(models.Model):
    """When an account was last mailed a password reset link: a stranger who types someone's
    address again and again sends one mail per PASSWORD_RESET_MAIL_EVERY_MINUTES, in PostgreSQL,
    so a Redis outage lifts no limit."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True)
    sent_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"Reset mail to user {self.user_id} at {self.sent_at:%Y-%m-%d %H:%M}"
