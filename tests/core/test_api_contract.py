"""The API keeps the promises of its OpenAPI document: schemathesis generates requests for every
operation from /api/v1/openapi.json and checks each answer against it."""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from openapi_spec_validator import validate
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from incidents import services
from tests.factories import UserFactory, declare_incident

# "0 server errors, 0 responses that break the document".
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


def test_the_document_is_valid_openapi_3(client):
    # That it lists every old path is tests/incidents/test_api.py's DOCUMENTED_PATHS.
    document = client.get("/api/v1/openapi.json", secure=True).json()
    validate(document)  # raises on any departure from the OpenAPI 3.1 specification
    assert document["openapi"].startswith("3.")


def test_the_docs_page_is_served_without_a_cdn(client):
    response = client.get("/api/v1/docs", secure=True)
    assert response.status_code == 200
    page = response.content.decode()
    assert "swagger-ui-bundle.js" in page
    assert "cdn" not in page.lower() and "//unpkg" not in page


# Loaded when the module is collected (pytest-django has set Django up by then): schemathesis'
# lazy fixture loader does not run under pytest 9.
schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", get_wsgi_application())


@pytest.fixture
def responder_token(db):
    # One incident, so reads and writes of INC-0001 reach past the 404.
    declare_incident(severity="SEV2")
    # Each request through the WSGI handler would close the test's database connection at its
    # start and end, inside the test's transaction; Django's own test client leaves it open the
    # same way.
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    yield services.api_token_create(user=UserFactory(role="responder"), name="contract")[1]
    for signal in (request_started, request_finished):
        signal.connect(close_old_connections)


@pytest.mark.slow
@schema.parametrize()
@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck), database=None)
def test_every_operation_keeps_to_the_document(case, responder_token):
    case.call_and_validate(headers={"Authorization": f"Bearer {responder_token}"}, checks=CHECKS)
