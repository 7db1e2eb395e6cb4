"""Template source checks for mistakes that show on the page."""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = sorted(
    path
    for pattern in ("templates/**/*.html", "*/templates/**/*.html", "*/templates/**/*.txt")
    for path in ROOT.glob(pattern)
    if ".venv" not in path.parts
)


def test_templates_are_found():
    assert len(TEMPLATES) > 20


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda path: str(path.relative_to(ROOT)))
def test_no_comment_spans_lines(path):
    # Django's {# #} ends at the line's end: one spanning lines is printed on the page as text.
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        opened = line.find("{#")
        assert opened == -1 or "#}" in line[opened:], f"{path.name}:{number}: use {{% comment %}} across lines"


# What the Content-Security-Policy (config/settings.py) refuses in the browser; found here first.
CSP_REFUSES = [
    (r"<script(?![^>]*\bsrc=)[^>]*>", "an inline <script> (put it in a static file)"),
    (r"<style\b", "an inline <style> (put it in a static style sheet)"),
    (r"\sstyle=", "a style attribute (use a class)"),
    (r"\son[a-z]+=", "an inline event handler (listen in a static script)"),
    (r"\shx-on", "hx-on (listen in a static script)"),
    (r"javascript:", "a javascript: URL"),
    (r"hx-trigger=\"[^\"]*\[", "an htmx trigger filter, which needs eval (see data-poll-paused-by)"),
]


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda path: str(path.relative_to(ROOT)))
def test_nothing_the_content_security_policy_refuses(path):
    import re

    source = path.read_text()
    for pattern, what in CSP_REFUSES:
        found = re.search(pattern, source)
        assert found is None, f"{path.name}: {what}: {found.group(0)!r}"
