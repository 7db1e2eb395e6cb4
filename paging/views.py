from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods
from django_htmx.middleware import HtmxDetails

from core.permissions import is_person
from paging import links, services


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


TEMPLATE = "paging/acknowledge.html"
OUTCOME_KEY = "paging_outcome"


@never_cache
@require_http_methods(["GET", "POST"])
def acknowledge(request: HtmxHttpRequest, token: str) -> HttpResponse:
    """The page's one-click link, from a phone, without logging in: the link is the credential.
    GET only shows the incident and a button, so a mail scanner that fetches every link
    acknowledges nothing; the POST acknowledges, then redirects to the GET, which says what
    happened."""
    try:
        page = links.page_for_token(token)
    except ValidationError as error:
        return render(request, TEMPLATE, {"problem": error.messages[0]}, status=404)
    if request.method == "POST":
        try:
            outcome = services.page_acknowledge(page=page)
        except ValidationError as error:
            request.session[OUTCOME_KEY] = error.messages[0]
        else:
            request.session[OUTCOME_KEY] = outcome.message
        return redirect(request.path)
    incident = page.incident
    context = {
        "page": page,
        "incident": incident,
        "outcome": request.session.pop(OUTCOME_KEY, None),
        "lead_is_person": is_person(incident.lead),
        "may_acknowledge": page.link_used_at is None and incident.is_active,
    }
    return render(request, TEMPLATE, context)
