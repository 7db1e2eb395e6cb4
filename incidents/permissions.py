"""Roles are groups: viewer (read), responder (act on incidents), admin (policy, users)."""

from django.contrib.auth.models import AnonymousUser, User

RESPOND_PERMISSION = "incidents.respond"
VIEWER_GROUP = "viewer"
RESPONDER_GROUP = "responder"
ADMIN_GROUP = "admin"


def can_respond(user: User | AnonymousUser) -> bool:
    return user.is_authenticated and user.has_perm(RESPOND_PERMISSION)
