"""Runbooks at hand in an incident: "Attach to incident…" on every runbook page, and the incident's
checklist showing each step's commands, expected output and success criteria when opened."""

import re

import pytest
from django.test import Client
from django.urls import reverse

from incidents.models import IncidentStatus
from incidents.services import incident_status_change
from runbooks import services
from runbooks.markdown_format import RunbookData, StepData
from runbooks.models import RunbookRun
from tests import factories

pytestmark = pytest.mark.django_db

STEPS = [
    StepData(
        title="Roll back the release",
        goal="Stop the errors",
        commands="kubectl rollout undo deployment/checkout -n production",
        commands_language="bash",
        expected_output='deployment "checkout" successfully rolled out',
        success_criteria="- 5xx rate back under 0.5 % within 5 minutes",
        if_fails="- Go to Step 2",
    ),
    StepData(title="Call the provider"),
]


@pytest.fixture
def checkout_runbook(db):
    runbook, _unknown = services.runbook_create(
        data=RunbookData(title="Checkout error rate high", steps=STEPS), actor=None
    )
    return runbook


def attach_menu(html: str) -> str:
    match = re.search(r'<details class="attach-menu".*?</details>', html, re.S)
    return match.group(0) if match else ""


def test_a_responder_can_attach_from_the_runbook_page_to_active_incidents_most_recent_first(
    responder_client, responder, checkout_runbook
):
    older = factories.declare_incident(declared_by=responder, title="Older incident")
    newer = factories.declare_incident(declared_by=responder, title="Newer incident")
    resolved = factories.declare_incident(declared_by=responder, title="Resolved incident")
    incident_status_change(incident=resolved, status=IncidentStatus.RESOLVED, actor=responder)
    menu = attach_menu(responder_client.get(checkout_runbook.get_absolute_url()).content.decode())
    assert "Attach to incident…" in menu
    assert menu.index("Newer incident") < menu.index("Older incident")
    assert "Resolved incident" not in menu
    assert f'action="{reverse("runbooks:attach", args=[newer.reference])}"' in menu

    response = responder_client.post(
        reverse("runbooks:attach", args=[older.reference]), {"runbook": checkout_runbook.slug}
    )
    assert response.status_code == 302 and response["Location"] == older.get_absolute_url()
    assert RunbookRun.objects.get().incident == older
    menu = attach_menu(responder_client.get(checkout_runbook.get_absolute_url()).content.decode())
    assert f'action="{reverse("runbooks:attach", args=[older.reference])}"' not in menu
    assert f'<a href="{older.get_absolute_url()}">' in menu and "attached" in menu


def test_restricted_incidents_are_listed_only_to_those_who_may_see_them(responder_client, responder, checkout_runbook):
    factories.declare_incident(title="Breach under investigation", restricted=True)
    menu = attach_menu(responder_client.get(checkout_runbook.get_absolute_url()).content.decode())
    assert "Breach under investigation" not in menu
    assert "No active incident you can see." in menu


def test_viewers_and_runbooks_without_steps_have_no_attach_control(viewer, responder_client, responder):
    viewer_client = Client()
    viewer_client.force_login(viewer)
    factories.declare_incident(declared_by=responder)
    empty, _unknown = services.runbook_create(data=RunbookData(title="Empty"), actor=None)
    with_steps, _unknown = services.runbook_create(data=RunbookData(title="Full", steps=STEPS), actor=None)
    assert "Attach to incident" not in viewer_client.get(with_steps.get_absolute_url()).content.decode()
    assert "Attach to incident" not in responder_client.get(empty.get_absolute_url()).content.decode()


def test_the_runbook_page_stays_flat_with_more_incidents(
    responder_client, responder, checkout_runbook, django_assert_max_num_queries
):
    factories.declare_incident(declared_by=responder)
    with django_assert_max_num_queries(20) as small:
        responder_client.get(checkout_runbook.get_absolute_url())
    for n in range(6):
        incident = factories.declare_incident(declared_by=responder, title=f"Incident {n}")
        if n % 2:
            services.runbook_attach(runbook=checkout_runbook, incident=incident, actor=responder)
    with django_assert_max_num_queries(len(small)):
        page = responder_client.get(checkout_runbook.get_absolute_url()).content.decode()
    assert attach_menu(page).count("<li>") == 7


def test_an_opened_checklist_step_shows_its_commands_expected_output_and_success_criteria(
    responder_client, responder, checkout_runbook
):
    incident = factories.declare_incident(declared_by=responder)
    run = services.runbook_attach(runbook=checkout_runbook, incident=incident, actor=responder)
    first = run.steps.get(position=1)
    page = responder_client.get(incident.get_absolute_url()).content.decode()
    step = page.split(f'<li id="run-step-{first.pk}"')[1].split('<li id="run-step-')[0]
    details = re.search(r'<details class="run-step">.*?</details>', step, re.S).group(0)
    assert f'<pre><code id="run-cmd-{first.pk}" data-language="bash">' in details
    assert "kubectl rollout undo deployment/checkout -n production</code></pre>" in details
    assert f'data-copy-target="run-cmd-{first.pk}"' in details
    assert "deployment &quot;checkout&quot; successfully rolled out" in details
    assert "5xx rate back under 0.5 % within 5 minutes" in details
    assert "Record this step" in details and 'name="outcome"' in details


def test_the_checklist_shows_the_attached_version_after_the_runbook_changes(
    responder_client, responder, checkout_runbook
):
    incident = factories.declare_incident(declared_by=responder)
    services.runbook_attach(runbook=checkout_runbook, incident=incident, actor=responder)
    data = services.runbook_to_data(checkout_runbook)
    data.steps[0].commands = "helm rollback checkout"
    services.runbook_update(runbook=checkout_runbook, data=data, actor=responder)
    page = responder_client.get(incident.get_absolute_url()).content.decode()
    assert "kubectl rollout undo deployment/checkout" in page and "helm rollback checkout" not in page


def test_viewers_open_a_step_to_read_it_without_a_form(viewer_client, responder, checkout_runbook):
    incident = factories.declare_incident(declared_by=responder)
    services.runbook_attach(runbook=checkout_runbook, incident=incident, actor=responder)
    page = viewer_client.get(incident.get_absolute_url()).content.decode()
    assert "Show step" in page and "kubectl rollout undo" in page
    assert 'name="outcome"' not in page


def test_the_checklist_fragment_carries_the_step_details(responder_client, responder, checkout_runbook):
    incident = factories.declare_incident(declared_by=responder)
    run = services.runbook_attach(runbook=checkout_runbook, incident=incident, actor=responder)
    fragment = responder_client.get(
        run.get_absolute_url(), HTTP_HX_REQUEST="true", HTTP_HX_TARGET=f"run-{run.pk}"
    ).content.decode()
    assert "kubectl rollout undo deployment/checkout" in fragment and "Success criteria" in fragment
