from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.forms import service_errors_apply
from notifications import selectors, services
from notifications.forms import ChannelsForm
from notifications.models import ChannelPreference

CHANNELS_SAVED = "Notification channels saved."


@login_required
@require_GET
def bell(request: HttpRequest) -> HttpResponse:
    """The header's bell with the unread count; htmx polls it."""
    return render(request, "notifications/_bell.html", {"unread": services.unread_count(user=request.user)})


@login_required
@require_http_methods(["GET", "POST"])
def inbox(request: HttpRequest) -> HttpResponse:
    preference = ChannelPreference.objects.filter(user=request.user).first() or ChannelPreference(user=request.user)
    form = ChannelsForm(initial={"email": preference.email, "webhook_format": preference.webhook_format})
    if request.method == "POST":
        form = ChannelsForm(request.POST)
        if form.is_valid():
            try:
                services.channel_preference_set(user=request.user, **form.cleaned_data)
            except ValidationError as error:
                service_errors_apply(form, error)
            else:
                messages.success(request, CHANNELS_SAVED)
                return redirect("notifications:inbox")
    context = {
        "deliveries": selectors.inbox(user=request.user),
        "form": form,
        "webhook_host": preference.webhook_host,
        "unread": services.unread_count(user=request.user),
    }
    # A refused address is answered with the form and its message, as a 400 (nothing is lost).
    return render(request, "notifications/inbox.html", context, status=400 if form.errors else 200)


@login_required
@require_POST
def mark_read(request: HttpRequest) -> HttpResponse:
    services.notifications_mark_read(user=request.user)
    return redirect("notifications:inbox")
