from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path
from ninja import NinjaAPI

from config.urls import urlpatterns as project_urlpatterns
from incidents.api import responder_token


def bare(request: HttpRequest) -> HttpResponse:
    """The baseline: the same server, middleware and run as the pages, but no queries, no template.
    Pages are judged as a ratio of this view's throughput, which cancels out the machine."""
    return HttpResponse("ok")


def token_noop(request: HttpRequest) -> HttpResponse:
    """The floor of an authenticated API read without django-ninja: the API's own token check
    (one query), then an empty JSON object."""
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer ") or responder_token.authenticate(request, header[7:]) is None:
        return JsonResponse({"error": "token"}, status=401)
    return JsonResponse({})


# The floor of an authenticated API read: django-ninja with the API's token check, answering {}.
floor = NinjaAPI(urls_namespace="bench_floor", docs_url=None, openapi_url=None)


@floor.get("noop", auth=responder_token)
def api_noop(request: HttpRequest) -> dict:
    return {}


urlpatterns = [
    path("bench/bare", bare),
    path("bench/token-noop", token_noop),
    path("bench/api/", floor.urls),
    *project_urlpatterns,
]
