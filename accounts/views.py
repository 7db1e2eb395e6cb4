from django.conf import settings
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.errors import LOCKED_OUT
from accounts.forms import ThrottledPasswordResetForm
from core.formatting import humanize_delta


def locked_out(request: HttpRequest, original_response: HttpResponse | None, credentials: dict | None) -> HttpResponse:
    """django-axes' lockout answer (AXES_LOCKOUT_CALLABLE): the login page's card with the reason,
    how long it lasts and the way out, as 429 Too Many Requests."""
    from axes.helpers import get_client_username, get_cool_off

    message = LOCKED_OUT.format(
        username=get_client_username(request, credentials) or "this account",
        cooloff=humanize_delta(get_cool_off(request)),
    )
    return render(request, "registration/locked_out.html", {"message": message}, status=429)


class PasswordResetView(auth_views.PasswordResetView):
    """Django's own, with the link in the mail built on SITE_URL rather than the request's Host,
    and one mail per account every PASSWORD_RESET_MAIL_EVERY_MINUTES however often it is asked."""

    form_class = ThrottledPasswordResetForm

    @property
    def extra_email_context(self) -> dict[str, str]:
        return {"site_url": settings.SITE_URL}
