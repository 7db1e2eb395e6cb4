"""Content-Security-Policy: every page, as an admin and as a stranger, is served with a policy that
allows no inline script, no inline style and no eval, and breaks none of it in Chromium (the
conftest collects every securitypolicyviolation event and fails the test on any)."""

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command

from incidents.models import Incident
from postmortems.models import Postmortem
from runbooks import services as runbook_services
from runbooks.models import Runbook, RunbookRun
from tests import factories
from tests.postmortems.conftest import seed_postmortem_policies
from tests.statuspage.conftest import seed_status_page

pytestmark = pytest.mark.browser

# Pages that poll: stay long enough for a poll (every second in the browser tests) to swap in.
POLLING = {"/", "/notifications/"}


def _visit(page, base: str, path: str) -> None:
    response = page.goto(base + path)
    assert response is not None and response.status < 400, f"{path} answered {response and response.status}"
    policy = response.headers.get("content-security-policy", "")
    assert "script-src 'self'" in policy and "style-src 'self'" in policy, f"{path}: {policy!r}"
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy, path
    page.wait_for_timeout(1500 if path in POLLING or path.startswith("/incidents/INC-") else 300)


def _demo_paths(admin: User) -> list[str]:
    # Earlier transactional tests emptied what the apps' data migrations seeded.
    seed_postmortem_policies()
    seed_status_page()
    call_command("load_demo_data", stdout=open("/dev/null", "w"))  # noqa: SIM115
    incident = Incident.objects.order_by("-declared_at").first()
    postmortem = Postmortem.objects.select_related("incident").first()
    runbook = Runbook.objects.first()
    run = RunbookRun.objects.first() or runbook_services.drill_start(runbook=runbook, actor=admin)
    pm = f"/incidents/{postmortem.incident.reference}/postmortem/"
    return [
        "/",
        "/incidents/new/",
        # An active incident and a resolved one (with its postmortem panel): their panels differ.
        incident.get_absolute_url(),
        postmortem.incident.get_absolute_url(),
        "/account/api-tokens/",
        "/notifications/",
        "/runbooks/",
        "/runbooks/new/",
        "/runbooks/import/",
        "/runbooks/generate/",
        "/runbooks/stale/",
        runbook.get_absolute_url(),
        f"/runbooks/{runbook.slug}/edit/",
        f"/runbooks/{runbook.slug}/history/",
        f"/runbooks/{runbook.slug}/history/1/",
        run.get_absolute_url(),
        "/postmortems/",
        "/action-items/",
        pm,
        f"{pm}revisions/",
        f"{pm}print/",
        "/status/",
        "/status/subscribe/",
        "/status/manage/",
        "/status/done/sent/",
        "/accounts/password_change/",
        "/admin/",
        "/admin/auth/user/",
        f"/admin/auth/user/{admin.pk}/change/",
        "/admin/auth/group/",
        f"/admin/incidents/severitypolicy/{incident.severity_id}/change/",
        "/admin/incidents/incident/",
        "/admin/statuspage/statuspagesettings/",
        "/admin/axes/accessattempt/",
        "/admin/postmortems/postmortempolicy/",
        "/api/v1/docs",
    ]


# Two halves of the crawl, so that pytest-xdist's workers share it.
@pytest.mark.parametrize("half", [0, 1])
def test_no_page_breaks_the_content_security_policy(page, new_page, log_in, e2e_db, csp_violations, half):
    admin = factories.UserFactory(role="admin", is_staff=True, is_superuser=True)
    paths = _demo_paths(admin)[half::2]
    log_in(page, admin)
    for path in paths:
        _visit(page, e2e_db, path)
    if half == 0:
        # htmx at work under the policy: the dashboard's filter swaps its table in.
        page.goto(f"{e2e_db}/")
        page.get_by_role("checkbox", name="SEV1").check()
        page.wait_for_url(f"{e2e_db}/?severity=SEV1")
        page.wait_for_timeout(500)
        assert csp_violations == []
        return

    stranger = new_page()
    for path in [
        "/accounts/login/",
        "/accounts/password_reset/",
        "/accounts/password_reset/done/",
        "/accounts/reset/MQ/bad-token/",
        "/status/",
        "/status/subscribe/",
    ]:
        _visit(stranger, e2e_db, path)
    assert csp_violations == []


def test_the_lockout_page_keeps_the_policy(new_page, e2e_db, settings, csp_violations, screenshot):
    settings.AXES_FAILURE_LIMIT = 1
    user = factories.UserFactory(role="responder")
    page = new_page()
    for _ in range(2):
        page.goto(f"{e2e_db}/accounts/login/")
        page.get_by_label("Username").fill(user.username)
        page.get_by_label("Password").fill("wrong password")
        page.get_by_role("button", name="Log in").click()
    assert "Log-in locked" in page.content()
    screenshot(page)
    assert csp_violations == []
