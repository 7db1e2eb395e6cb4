from pathlib import Path

import pytest

from runbooks import services
from runbooks.markdown_format import RunbookData, StepData
from tests import factories

FIXTURES = Path(__file__).parent / "fixtures"


def incident_template() -> str:
    return (FIXTURES / "incident_runbook_template.md").read_text(encoding="utf-8")


def operational_template() -> str:
    return (FIXTURES / "operational_runbook_template.md").read_text(encoding="utf-8")


def make_runbook(*, title: str = "Database connection pool exhausted", steps: int = 3, actor=None, **fields):
    """Runbooks are made through the service, as in the product, so revisions and the search
    vector are real."""
    data = RunbookData(
        title=title,
        symptoms=fields.pop("symptoms", "- API returning 503 errors"),
        steps=[
            StepData(title=f"Step number {n}", goal=f"Goal {n}", commands=f"echo {n}", commands_language="bash")
            for n in range(1, steps + 1)
        ],
        **fields,
    )
    runbook, _unknown = services.runbook_create(data=data, actor=actor)
    return runbook


@pytest.fixture
def runbook(db):
    factories.ServiceFactory(name="Database", slug="database")
    return make_runbook(services=["database"], alert_names=["db-connection-pool-exhausted"])


@pytest.fixture
def editor_client(client, db):
    client.force_login(factories.UserFactory(role="responder"))
    return client
