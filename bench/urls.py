from django.http import HttpRequest, HttpResponse
from django.urls import path

from config.urls import urlpatterns as project_urlpatterns


def bare(request: HttpRequest) -> HttpResponse:
    """The baseline: the same server, middleware and run as the pages, but no queries, no template.
    Pages are judged as a ratio of this view's throughput, which cancels out the machine."""
    return HttpResponse("ok")


urlpatterns = [path("bench/bare", bare), *project_urlpatterns]
