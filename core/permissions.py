"""Roles are groups: viewer (read), responder (act on incidents), admin (policy, users)."""

from django.contrib.auth.models import AnonymousUser, Permission, User
from django.db.models import Q

RESPOND_PERMISSION = "incidents.respond"
VIEWER_GROUP = "viewer"
RESPONDER_GROUP = "responder"
ADMIN_GROUP = "admin"
# Sees every restricted incident and may restrict or open any incident.
SECURITY_GROUP = "security"


def can_respond(user: User | AnonymousUser) -> bool:
    """Whether the user may act on incidents. Asked by most pages and their panels, so it costs
    one query per request (remembered on the user object), not the two of loading every
    permission through user.has_perm."""
    if not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser:
        return True
    cached = getattr(user, "_can_respond", None)
    if cached is None:
        app_label, codename = RESPOND_PERMISSION.split(".")
        cached = (
            Permission.objects.filter(content_type__app_label=app_label, codename=codename)
            .filter(Q(user=user) | Q(group__user=user))
            .exists()
        )
        user._can_respond = cached
    return cached


def responders_q() -> Q:
    """Users who may act on incidents, as a filter on users: the people a role can go to."""
    app_label, codename = RESPOND_PERMISSION.split(".")
    return (
        Q(is_superuser=True)
        | Q(user_permissions__content_type__app_label=app_label, user_permissions__codename=codename)
        | Q(groups__permissions__content_type__app_label=app_label, groups__permissions__codename=codename)
    )


def sees_restricted(user: User | AnonymousUser) -> bool:
    """Whether the user sees every restricted incident (the security group, superusers). One query
    per request at most, remembered on the user object."""
    if not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser:
        return True
    cached = getattr(user, "_sees_restricted", None)
    if cached is None:
        cached = user.groups.filter(name=SECURITY_GROUP).exists()
        user._sees_restricted = cached
    return cached


def is_person(user: User | AnonymousUser | None) -> bool:
    """Whether the user is a person who can answer for an incident, as opposed to a system account
    such as the one alert sources declare incidents as ('alerts'): a person can log in (a usable
    password) and may act on incidents. Reminders and pages go to people; a system account that
    leads an incident hands the lead to the first person who acknowledges it."""
    return user is not None and user.is_authenticated and user.has_usable_password() and can_respond(user)


def people_q() -> Q:
    """is_person as a filter on users, for asking about many at once."""
    from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX

    return Q(is_active=True) & ~Q(password__startswith=UNUSABLE_PASSWORD_PREFIX) & responders_q()
