from django.contrib.auth.models import AbstractBaseUser

from notifications.models import Channel, Delivery

PAGE_SIZE = 50


def inbox(*, user: AbstractBaseUser, limit: int = PAGE_SIZE) -> list[Delivery]:
    """The user's in-app notifications, newest first."""
    return list(
        Delivery.objects.filter(recipient=user, channel=Channel.IN_APP)
        .select_related("message")
        .order_by("-created_at", "-id")[:limit]
    )
