"""Every write through the services of an app whose data the cached pages show bumps that app's
page version (config.versions), so no page is served stale after it."""

import ast
import inspect
from pathlib import Path

import pytest

from config.versions import INCIDENTS, versions_get
from incidents import services
from tests.factories import declare_incident

# The status page bumps through statuspage.services.page_version_bump, which its own cached page
# has always needed.
SERVICE_MODULES = [
    "incidents/services.py",
    "incidents/reminders.py",
    "incidents/policy.py",
    "runbooks/services.py",
    "postmortems/services.py",
]
# Transactions that change nothing a cached page shows.
NO_PAGE_CHANGE = {
    ("postmortems/services.py", "postmortem_reminders_send"),
    # Records due ladder steps; reminders_fan_out puts them on the timeline.
    ("incidents/reminders.py", "reminders_sweep"),
}


@pytest.mark.parametrize("path", SERVICE_MODULES)
def test_every_service_that_writes_bumps_its_apps_page_version(path):
    """A write that forgot the bump would leave every cached page stale until its minute is out,
    so a transaction in these modules is `writes` (config.versions.atomic_bumping) or, where it
    mostly writes nothing, calls version_bump itself."""
    root = Path(__file__).resolve().parents[1]
    text = (root / path).read_text()
    for function in ast.walk(ast.parse(text)):
        if not isinstance(function, ast.FunctionDef):
            continue
        source = ast.get_source_segment(text, function)
        decorators = [ast.unparse(decorator) for decorator in function.decorator_list]
        assert "transaction.atomic" not in decorators, f"{path}: {function.name} is @transaction.atomic"
        if "transaction.atomic()" in source and (path, function.name) not in NO_PAGE_CHANGE:
            assert "version_bump(" in source, f"{path}: {function.name} opens a transaction without a bump"


@pytest.mark.django_db
def test_writes_bumps_the_version_now_and_again_after_commit(django_capture_on_commit_callbacks):
    before = versions_get([INCIDENTS])
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        declare_incident()
        during = versions_get([INCIDENTS])
    assert during != before
    assert callbacks, "a bump waits for the commit"
    for callback in callbacks:
        callback()
    assert versions_get([INCIDENTS]) != during
    assert inspect.isfunction(services.incident_declare.__wrapped__)
