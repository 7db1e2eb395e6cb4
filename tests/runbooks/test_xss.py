"""Hostile Markdown in every field a runbook page renders: no script, no event handler, no
javascript: link reaches the browser."""

import re

import pytest

from runbooks import services
from runbooks.markdown_format import RunbookData, StepData
from runbooks.services import TEXT_FIELDS
from tests import factories

pytestmark = pytest.mark.django_db

PAYLOADS = [
    "<script>alert('xss')</script>",
    '<img src="x" onerror="alert(1)">',
    "[click me](javascript:alert(1))",
    "![img](javascript:alert(1))",
    '<a href="javascript:alert(1)">raw link</a>',
    "<svg onload=alert(1)>",
    "[x](JaVaScRiPt:alert(1))",
    '<iframe src="https://evil.example"></iframe>',
]
HOSTILE = "\n\n".join(PAYLOADS)


def assert_safe(html: str) -> None:
    assert "<script>alert" not in html
    assert not re.search(r"<[^>]+\son(error|load)\s*=", html, re.IGNORECASE)
    assert not re.search(r"""<[a-z][^<>]*\s(href|src)\s*=\s*["']?\s*javascript:""", html, re.IGNORECASE)
    assert "<iframe" not in html and "<svg onload" not in html


def hostile_runbook():
    step_fields = ["goal", "details", "commands", "expected_output", "success_criteria", "if_fails"]
    data = RunbookData(
        title="<script>alert('title')</script>",
        category='<img src=x onerror="alert(1)">',
        owner="<script>alert('owner')</script>",
        response_time='<img src=x onerror="alert(1)">',
        alert_names=["<script>alert('alert')</script>"],
        extra_metadata=[["<b onmouseover=alert(1)>", "<script>alert('meta')</script>"]],
        **{name: HOSTILE for name in TEXT_FIELDS},
        steps=[StepData(title="<script>alert('step')</script>", **{name: HOSTILE for name in step_fields})],
        extra_sections=[["<script>alert('heading')</script>", HOSTILE]],
    )
    runbook, _ = services.runbook_create(data=data, actor=None)
    return runbook


def test_every_markdown_field_is_sanitized_on_the_runbook_page(viewer_client):
    runbook = hostile_runbook()
    html = viewer_client.get(runbook.get_absolute_url()).content.decode()
    assert_safe(html)
    # The text is still there, shown rather than run.
    assert "&lt;script&gt;alert(&#x27;title&#x27;)&lt;/script&gt;" in html
    # Every Markdown field was rendered (as harmless text), not dropped: the link text of the
    # javascript: payload shows once per text field, step field and extra section.
    assert html.count("click me") >= len(TEXT_FIELDS) + 4 + 1


@pytest.mark.parametrize("payload", PAYLOADS)
def test_each_payload_alone_in_symptoms(viewer_client, payload):
    runbook, _ = services.runbook_create(data=RunbookData(title="X", symptoms=payload), actor=None)
    assert_safe(viewer_client.get(runbook.get_absolute_url()).content.decode())


def test_index_search_history_and_diff_are_safe(viewer_client):
    runbook = hostile_runbook()
    for url in [
        "/runbooks/",
        "/runbooks/?q=script",
        "/runbooks/stale/",
        f"/runbooks/{runbook.slug}/history/",
        f"/runbooks/{runbook.slug}/history/1/",
    ]:
        assert_safe(viewer_client.get(url).content.decode())


def test_checklist_note_and_output_are_escaped_on_the_incident_page(viewer_client, responder):
    runbook = hostile_runbook()
    incident = factories.declare_incident(declared_by=responder)
    run = services.runbook_attach(runbook=runbook, incident=incident, actor=responder)
    services.run_step_record(
        run_step=run.steps.first(), outcome="failed", actor=responder, note=HOSTILE, output=HOSTILE
    )
    assert_safe(viewer_client.get(incident.get_absolute_url()).content.decode())
    assert_safe(viewer_client.get(run.get_absolute_url()).content.decode())


def test_the_sanitizer_actually_catches_what_the_check_looks_for():
    """The check above must be able to fail."""
    with pytest.raises(AssertionError):
        assert_safe('<a href="javascript:alert(1)">x</a>')
    with pytest.raises(AssertionError):
        assert_safe('<img src=x onerror="alert(1)">')
    with pytest.raises(AssertionError):
        assert_safe("<script>alert(1)</script>")
