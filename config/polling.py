"""`{% load polling %}`: the htmx trigger of a part of a page that asks the server again on its
own, every settings.POLL_SECONDS[part] seconds."""

from django import template
from django.conf import settings

register = template.Library()


@register.simple_tag
def poll_every(part: str) -> str:
    return f"every {settings.POLL_SECONDS[part]}s"
