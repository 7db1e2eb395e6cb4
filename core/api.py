"""The one JSON API at /api/v1/, on django-ninja: bearer tokens in, JSON out, the OpenAPI document
generated from the code. Each app adds its own router from its AppConfig.ready():

    core.api.api.add_router("/", router)

What every endpoint shares lives here: the token check, the field types with the messages clients
have always read, and the answers for refused input (400 {"errors": {field: [messages]}}), missing
or bad tokens (401), refusals (403), unknown objects (404) and stale writes (412)."""

import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import wraps
from typing import Annotated, Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import NON_FIELD_ERRORS, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.urls import URLPattern
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.http import parse_etags
from ninja import NinjaAPI, Schema
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.parser import Parser
from ninja.security import HttpBearer
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, WrapValidator
from pydantic import ValidationError as PydanticValidationError
from pydantic_core import PydanticCustomError

from core import errors

# PositiveIntegerField's upper bound on every database we support; a larger number would reach
# the database and fail there instead of answering 400.
MAX_COUNT = 2_147_483_647
# Recording every request would turn each read into a write; a minute is precise enough to
# tell an idle token from a busy one.
LAST_USED_RESOLUTION = timedelta(minutes=1)
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


class InputRefused(Exception):
    """Field-by-field messages for a 400, found by a view after the schema accepted the body."""

    def __init__(self, messages: dict[str, list[str]]) -> None:
        super().__init__(messages)
        self.messages = messages


# Authentication.


class BearerToken(HttpBearer):
    """A hashed ApiToken in 'Authorization: Bearer <token>'. Safe methods need only the token;
    the others also `may_write`, else 403 `refusal`. A browser's session cookie is ignored, which
    is what makes the API safe without CSRF tokens."""

    def __init__(self, *, may_write: Callable[[User], bool], refusal: str) -> None:
        super().__init__()
        self.may_write = may_write
        self.refusal = refusal

    def authenticate(self, request: HttpRequest, token: str) -> User | None:
        # The token model is the core app's, where tokens are made and revoked.
        from incidents.models import ApiToken

        token = token.strip()
        if not token:
            return None
        try:
            # The token and its user in one query (get(): no ORDER BY, the digest is unique).
            api_token = ApiToken.objects.select_related("user").get(digest=ApiToken.digest_of(token))
        except ApiToken.DoesNotExist:
            return None
        if not api_token.user.is_active:
            return None
        now = timezone.now()
        if api_token.last_used_at is None or now - api_token.last_used_at >= LAST_USED_RESOLUTION:
            ApiToken.objects.filter(pk=api_token.pk).update(last_used_at=now)
        request.user = api_token.user
        if request.method not in SAFE_METHODS and not self.may_write(api_token.user):
            raise HttpError(403, self.refusal)
        return api_token.user


# Reading bodies and fields.


class JsonObjectParser(Parser):
    def parse_body(self, request: HttpRequest) -> dict[str, Any]:
        try:
            data = json.loads(request.body)
        except (ValueError, RecursionError):
            # ValueError covers bad JSON, bad UTF-8 and numbers too long to convert; RecursionError
            # a hostile depth of nesting.
            raise InputRefused({NON_FIELD_ERRORS: [errors.MALFORMED_JSON]}) from None
        if not isinstance(data, dict):
            raise InputRefused({NON_FIELD_ERRORS: [errors.BODY_NOT_OBJECT]})
        return data


class Body(Schema):
    """A request body: strict JSON types, and a field the endpoint does not know is refused."""

    model_config = ConfigDict(extra="forbid", strict=True)


def refuse(message: str) -> PydanticCustomError:
    return PydanticCustomError("refused", message)


def refuse_fields(messages: dict[str, list[str]]) -> PydanticCustomError:
    """Several fields' messages from one validator that checks them together."""
    return PydanticCustomError("refused_fields", "Refused", {"messages": messages})


def with_message(message: str) -> WrapValidator:
    """Whatever is wrong with the field, answer `message`, the one clients have always read."""

    def validate(value: Any, handler: Callable[[Any], Any]) -> Any:
        try:
            return handler(value)
        except PydanticValidationError:
            raise refuse(message) from None

    return WrapValidator(validate)


def storable(text: str) -> str:
    """PostgreSQL refuses NUL in text and no database driver encodes a lone surrogate."""
    try:
        text.encode()
    except UnicodeEncodeError:
        raise refuse(errors.INVALID_CHARACTERS) from None
    if "\x00" in text:
        raise refuse(errors.INVALID_CHARACTERS)
    return text


def storable_names(names: list[str]) -> list[str]:
    for name in names:
        storable(name)
    return list(dict.fromkeys(names))


def one_of(values: list[str], message: str) -> AfterValidator:
    def check(value: str) -> str:
        if value not in values:
            raise refuse(message.format(values=", ".join(values)))
        return value

    return AfterValidator(check)


def text(max_length: int) -> Any:
    """A string of at most `max_length` characters once trimmed, as the services store it."""
    return Annotated[str, StringConstraints(strip_whitespace=True, max_length=max_length), AfterValidator(storable)]


def parse_moment(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError(value)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        raise ValueError(value) from None


Text = Annotated[str, AfterValidator(storable)]
Names = Annotated[list[str], AfterValidator(storable_names)]
Count = Annotated[
    int,
    Field(ge=0, le=MAX_COUNT),
    with_message(errors.NOT_AN_INTEGER.format(low=0, high=MAX_COUNT)),
]
Moment = Annotated[str, Field(json_schema_extra={"format": "date-time"}), AfterValidator(parse_moment)]

# pydantic's error types that every field answers the same way; any other is the field's own.
GENERIC_MESSAGES = {
    "missing": errors.FIELD_REQUIRED,
    "extra_forbidden": errors.UNKNOWN_FIELD,
    "string_type": errors.NOT_A_STRING,
    "bool_type": errors.NOT_A_BOOLEAN,
    "list_type": errors.NOT_A_LIST,
    # A lone surrogate, which pydantic cannot read as text.
    "string_unicode": errors.INVALID_CHARACTERS,
}


def field_messages(problems: list[dict[str, Any]]) -> dict[str, list[str]]:
    """ninja's validation errors as {field: [messages]}. A problem inside a list (an item that is
    not a string) is the list's."""
    messages: dict[str, list[str]] = {}
    for problem in problems:
        source, *loc = problem["loc"]
        if source == "body":
            loc = loc[1:]  # the body parameter's own name
        field = str(loc[0]) if loc else NON_FIELD_ERRORS
        if problem["type"] == "refused_fields":
            for name, texts in problem["ctx"]["messages"].items():
                messages.setdefault(name, []).extend(texts)
            continue
        if problem["type"] == "refused":
            message = problem["msg"]
        elif source == "body" and not loc:
            message = errors.MALFORMED_JSON  # an empty body
        elif len(loc) > 1:
            message = errors.NOT_A_LIST
        elif problem["type"] == "string_too_long":
            message = errors.TOO_LONG.format(limit=problem["ctx"]["max_length"])
        else:
            message = GENERIC_MESSAGES.get(problem["type"], problem["msg"])
        if message not in messages.get(field, []):
            messages.setdefault(field, []).append(message)
    return messages


# Answers.


class Answer(BaseModel):
    """What an endpoint answers, built from plain dicts. A plain pydantic model, validated at
    pydantic-core's speed: ninja's Schema reads every field through its Django getter (made for
    model instances), which for a page of 100 incidents cost more than all of its queries."""


class Error(Schema):
    error: str


class InvalidInput(Schema):
    errors: dict[str, list[str]] = Field(
        description="Messages by field name; '__all__' holds those about the whole body.",
        examples=[{"severity": ["Unknown severity. Use one of: SEV1, SEV2, SEV3, SEV4."]}],
    )


def etag_of(representation: dict[str, Any]) -> str:
    """A strong ETag: any change to what a GET shows changes it."""
    encoded = json.dumps(representation, sort_keys=True, cls=DjangoJSONEncoder).encode()
    return '"' + hashlib.sha256(encoded).hexdigest()[:32] + '"'


def is_stale(if_match: str | None, etag: str) -> bool:
    """Whether an If-Match header names another version than `etag`. No header: not stale, so
    clients that never send one write as before."""
    if if_match is None:
        return False
    return not {"*", etag} & set(parse_etags(if_match))


class IncidentDeskAPI(NinjaAPI):
    def get_openapi_schema(self, *, path_prefix: str | None = None, path_params: dict | None = None) -> dict:
        # Paths relative to the server URL, as clients join them; the document describes itself.
        document = super().get_openapi_schema(path_prefix="", path_params=path_params)
        document["servers"] = [{"url": settings.SITE_URL + self.get_root_path(path_params or {}).rstrip("/")}]
        document["security"] = [{scheme: []} for scheme in document["components"].get("securitySchemes", {})]
        document["paths"]["/openapi.json"] = {
            "get": {
                "operationId": "getOpenApi",
                "summary": "This document",
                "security": [],
                "responses": {
                    "200": {"description": "OpenAPI 3.1", "content": {"application/json": {}}},
                    "405": {
                        "description": "This path does not take that method.",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                    },
                },
            }
        }
        return document


def json_method_not_allowed(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """ninja answers a method a path does not take with a plain-text 405; clients read JSON, and
    the API is never cached (tokens, not cookies, tell who is asking)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = view(request, *args, **kwargs)
        if isinstance(response, HttpResponseNotAllowed):
            allowed = ", ".join(sorted(method.strip() for method in response["Allow"].split(",")))
            message = errors.METHOD_NOT_ALLOWED.format(allowed=allowed)
            response = api.create_response(request, {"error": message}, status=405)
            response["Allow"] = allowed
        add_never_cache_headers(response)
        return response

    return wrapper


def only_get(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """The document and its docs page are read, never written."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method != "GET":
            return HttpResponseNotAllowed(["GET"])
        return view(request, *args, **kwargs)

    return wrapper


api = IncidentDeskAPI(
    title="Incident Desk API",
    version="1",
    description="Declare and update incidents from alert tools and scripts. Send a token in "
    "'Authorization: Bearer <token>' (make one with `python manage.py create_api_token USERNAME`). "
    "Every role may read; changing incidents needs the responder or admin role, and changing the "
    "severity policy the admin role. A PATCH may send `If-Match` with the ETag of the version it "
    "read: if the object changed since, nothing is written and the answer is 412 with the current "
    "version. Without `If-Match` the PATCH is applied to whatever is current.",
    parser=JsonObjectParser(),
    docs_decorator=only_get,
    urls_namespace="api",
)


def urls() -> list[URLPattern]:
    """The API's URL patterns, for config/urls.py, once every app has added its router."""
    patterns, _app_name, _namespace = api.urls
    for pattern in patterns:
        pattern.callback = json_method_not_allowed(pattern.callback)
    return patterns


@api.exception_handler(ValidationError)
def _invalid(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    return api.create_response(request, {"errors": field_messages(exc.errors)}, status=400)


@api.exception_handler(InputRefused)
def _invalid_found_later(request: HttpRequest, exc: InputRefused) -> HttpResponse:
    return api.create_response(request, {"errors": exc.messages}, status=400)


@api.exception_handler(DjangoValidationError)
def _refused_by_a_service(request: HttpRequest, exc: DjangoValidationError) -> HttpResponse:
    messages = exc.message_dict if hasattr(exc, "error_dict") else {NON_FIELD_ERRORS: exc.messages}
    return api.create_response(request, {"errors": messages}, status=400)


@api.exception_handler(RequestDataTooBig)
def _too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
    return api.create_response(request, {"errors": {NON_FIELD_ERRORS: [errors.BODY_TOO_LARGE]}}, status=400)


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    if isinstance(exc.__cause__, InputRefused):
        # The body parser's refusal, which ninja wraps.
        return _invalid_found_later(request, exc.__cause__)
    if isinstance(exc, AuthenticationError):
        response = api.create_response(request, {"error": errors.INVALID_TOKEN}, status=401)
        response["WWW-Authenticate"] = "Bearer"
        return response
    return api.create_response(request, {"error": exc.message}, status=exc.status_code)
