from collections.abc import Iterable

from django.contrib.auth.models import AbstractBaseUser

from core.outbound import url_host
from notifications.models import Channel, ChannelPreference, Delivery

PAGE_SIZE = 50


def inbox(*, user: AbstractBaseUser, limit: int = PAGE_SIZE) -> list[Delivery]:
    """The user's in-app notifications, newest first."""
    return list(
        Delivery.objects.filter(recipient=user, channel=Channel.IN_APP)
        .select_related("message")
        .order_by("-created_at", "-id")[:limit]
    )


def personal_webhook_hosts(*, user_ids: Iterable[int]) -> dict[int, str]:
    """The host of each user's own webhook, for a timeline to name it by (the URL is a credential)."""
    rows = ChannelPreference.objects.filter(user_id__in=list(user_ids)).exclude(webhook_url="")
    return {user_id: url_host(url) for user_id, url in rows.values_list("user_id", "webhook_url")}
