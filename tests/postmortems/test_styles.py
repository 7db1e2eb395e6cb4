"""The stylesheet's colours, read as a browser would: every priority badge stays readable."""

import re
from pathlib import Path

import pytest
from django.conf import settings

from postmortems import forms
from postmortems.models import Priority

CSS = Path(settings.BASE_DIR, "static", "css", "postmortems.css").read_text()
APP_CSS = Path(settings.BASE_DIR, "static", "css", "app.css").read_text()
DARK = "@media (prefers-color-scheme: dark)"


def _luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def _properties(css: str) -> dict[str, str]:
    return dict(re.findall(r"(--[\w-]+):\s*(#[0-9a-fA-F]{6})\b", css))


def _schemes() -> dict[str, dict[str, str]]:
    light_css, _, dark_css = CSS.partition(DARK)
    light = _properties(light_css)
    return {"light": light, "dark": {**light, **_properties(dark_css.split("\n}\n", 1)[0])}}


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("priority", Priority.values)
def test_each_priority_badge_has_readable_text_on_its_own_background(priority, scheme):
    rule = re.search(rf"\.priority-{priority}\s*\{{([^}}]*)\}}", CSS)
    assert rule, f"no .priority-{priority} rule"
    colours = dict(re.findall(r"(background|color):\s*var\((--[\w-]+)\)", rule.group(1)))
    assert set(colours) == {"background", "color"}, f".priority-{priority} must set both its text and background"
    values = _schemes()[scheme]
    assert contrast(values[colours["color"]], values[colours["background"]]) >= 4.5


@pytest.mark.parametrize("form_class", [forms.ActionItemForm, forms.TimelineRowForm, forms.NotRequiredForm])
def test_every_input_the_postmortem_forms_render_is_styled_like_the_apps(form_class):
    for name, field in form_class().fields.items():
        input_type = field.widget.attrs.get("type") or getattr(field.widget, "input_type", None)
        if input_type in (None, "select"):
            continue
        assert f"input[type={input_type}]" in APP_CSS, f"{form_class.__name__}.{name}: {input_type} is unstyled"
