from django.http import HttpRequest

from core.permissions import can_respond
from incidents import reminder_watch


def reminders(request: HttpRequest) -> dict[str, object]:
    """`reminders_stalled_since` for the banner of base.html, shown to responders and admins.
    A callable: the template asks only when it draws the banner."""
    user = getattr(request, "user", None)
    if user is None or not (can_respond(user) or user.is_staff):
        return {}
    return {"reminders_stalled_since": reminder_watch.stalled_since}
