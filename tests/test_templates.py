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
