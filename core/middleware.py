"""Query strings every view can trust: one place refuses what no view could use."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from core.errors import QUERY_NOT_USABLE


class UsableQueryMiddleware:
    """A query parameter (name or value) holding a NUL character is answered 400 before any view
    runs: PostgreSQL refuses NUL in text, so a filter on it would otherwise fail as a 500 in
    whichever view forgot to check. Everything else a view does not understand it ignores."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        refused = sorted({name for name, values in request.GET.lists() if "\x00" in name + "".join(values)})
        if not refused:
            return self.get_response(request)
        if request.path.startswith("/api/"):
            names = [name.replace("\x00", "\ufffd") for name in refused]
            return JsonResponse({"errors": {name: [QUERY_NOT_USABLE] for name in names}}, status=400)
        return render(request, "400.html", {"message": QUERY_NOT_USABLE}, status=400)
