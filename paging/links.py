"""The one-click acknowledge link of a page: it works from a phone without logging in, so it is
itself the credential. Signed with the SECRET_KEY (django.core.signing: nothing to store, nothing
to leak from the database beyond the messages already sent), bound to one page, expiring after
PAGING_LINK_MAX_AGE_SECONDS, and single-use (Page.link_used_at)."""

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.urls import reverse

from paging import errors
from paging.models import Page

SALT = "paging.acknowledge"


def acknowledge_token(page: Page) -> str:
    return signing.dumps({"page": page.pk, "incident": page.incident_id}, salt=SALT, compress=False)


def acknowledge_url(page: Page) -> str:
    return settings.SITE_URL + reverse("paging:acknowledge", kwargs={"token": acknowledge_token(page)})


def page_for_token(token: str) -> Page:
    """The page a link was made for, or ValidationError(LINK_INVALID / LINK_EXPIRED)."""
    try:
        value = signing.loads(token, salt=SALT, max_age=settings.PAGING_LINK_MAX_AGE_SECONDS)
    except signing.SignatureExpired:
        raise ValidationError(errors.LINK_EXPIRED, code="expired") from None
    except signing.BadSignature:
        raise ValidationError(errors.LINK_INVALID, code="invalid") from None
    if not isinstance(value, dict) or not isinstance(value.get("page"), int):
        raise ValidationError(errors.LINK_INVALID, code="invalid")
    page = (
        Page.objects.select_related("incident", "incident__severity", "incident__lead", "user")
        .filter(pk=value["page"], incident_id=value.get("incident"))
        .first()
    )
    if page is None:
        raise ValidationError(errors.LINK_INVALID, code="invalid")
    return page
