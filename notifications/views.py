from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from notifications import selectors, services
from notifications.models import ChannelPreference


@login_required
@require_GET
def bell(request: HttpRequest) -> HttpResponse:
    """The header's bell with the unread count; htmx polls it."""
    return render(request, "notifications/_bell.html", {"unread": services.unread_count(user=request.user)})


@login_required
@require_http_methods(["GET", "POST"])
def inbox(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        services.channel_preference_set(user=request.user, email=request.POST.get("email") == "on")
        messages.success(request, "Notification channels saved.")
        return redirect("notifications:inbox")
    preference = ChannelPreference.objects.filter(user=request.user).first()
    context = {
        "deliveries": selectors.inbox(user=request.user),
        "email_enabled": preference.email if preference else True,
        "unread": services.unread_count(user=request.user),
    }
    return render(request, "notifications/inbox.html", context)


@login_required
@require_POST
def mark_read(request: HttpRequest) -> HttpResponse:
    services.notifications_mark_read(user=request.user)
    return redirect("notifications:inbox")
