import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from incidents.models import Service, SeverityPolicy
from integrations.alerts import alert_source_create
from integrations.models import AlertRule, AlertSource, SourceKind

FIXTURES = Path(__file__).parent / "fixtures"
ALERTMANAGER = "/api/v1/alerts/alertmanager/"
GENERIC = "/api/v1/alerts/generic/"


def fixture(name: str) -> dict:
    """A payload as Alertmanager sends it (tests/integrations/fixtures/<name>.json)."""
    return json.loads((FIXTURES / f"{name}.json").read_text())


@pytest.fixture
def source_and_token(db) -> tuple[AlertSource, str]:
    return alert_source_create(name="prometheus")


@pytest.fixture
def source(source_and_token) -> AlertSource:
    return source_and_token[0]


@pytest.fixture
def token(source_and_token) -> str:
    return source_and_token[1]


@pytest.fixture
def generic_token(db) -> str:
    return alert_source_create(name="uptime-checker", kind=SourceKind.GENERIC)[1]


@pytest.fixture
def checkout(db) -> Service:
    return Service.objects.create(name="Checkout", slug="checkout")


@pytest.fixture
def database(db) -> Service:
    return Service.objects.create(name="Database", slug="database")


@pytest.fixture
def rules(db, checkout, database) -> dict[str, AlertRule]:
    """severity=critical → SEV1, severity=warning → SEV3; the service label picks the service."""
    sev = {policy.key: policy for policy in SeverityPolicy.objects.all()}
    return {
        "checkout": AlertRule.objects.create(
            name="Checkout critical",
            matchers={"service": "checkout", "severity": "critical"},
            severity=sev["SEV1"],
            service=checkout,
            order=10,
        ),
        "database-critical": AlertRule.objects.create(
            name="Database critical",
            matchers={"service": "database", "severity": "critical"},
            severity=sev["SEV1"],
            service=database,
            order=20,
        ),
        "database-warning": AlertRule.objects.create(
            name="Database warning",
            matchers={"service": "database", "severity": "warning"},
            severity=sev["SEV3"],
            service=database,
            order=30,
        ),
    }


@pytest.fixture
def post(client) -> Callable[..., Any]:
    def post_(path: str, body: Any = None, *, token: str | None, raw: str | bytes | None = None, **headers):
        if token is not None:
            headers["HTTP_AUTHORIZATION"] = f"Bearer {token}"
        data = raw if raw is not None else json.dumps(body)
        return client.post(path, data=data, content_type="application/json", **headers)

    return post_
