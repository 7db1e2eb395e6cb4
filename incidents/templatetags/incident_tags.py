"""Small tags the incident pages repeat on every row; simple tags (not included templates) because
the dashboard renders them dozens of times per request."""

from datetime import datetime, timedelta

from django import template
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from core.formatting import countdown_text, humanize_delta, local_clock
from core.markdown import render_markdown
from core.permissions import can_respond
from incidents import registry
from incidents.pages import SLOT_PLACEHOLDER
from incidents.selectors import incident_cadence_kept

register = template.Library()


def _absolute(value: datetime) -> str:
    local = timezone.localtime(value)
    return f"{local:%Y-%m-%d %H:%M} {local.tzname()}"


@register.filter
def as_datetime(value: str | datetime | None) -> datetime | None:
    """A time kept as ISO 8601 text (in an event's data) as a datetime, for {% when %}."""
    if value is None or isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


@register.simple_tag
def when(value: datetime | None, style: str = "relative") -> str:
    """A time in the viewer's zone. style="relative" shows '12 min ago' with the absolute time on
    hover; style="absolute" shows the clock time with the relative age on hover. static/js/app.js
    keeps the relative text current."""
    if value is None:
        return mark_safe('<span class="muted">—</span>')
    delta = timezone.now() - value
    relative = f"{humanize_delta(delta)} ago" if delta >= timedelta(0) else f"in {humanize_delta(delta)}"
    if style == "absolute":
        # The clock time alone on today's events; with the day on older ones, so an incident
        # that runs past midnight stays readable.
        clock = local_clock(value)
        return format_html(
            '<time datetime="{}" title="{}" data-format="clock">{}</time>',
            value.isoformat(),
            relative,
            clock,
        )
    return format_html(
        '<time datetime="{}" title="{}" data-format="relative">{}</time>', value.isoformat(), _absolute(value), relative
    )


@register.simple_tag
def countdown(due: datetime | None) -> str:
    """Time left until the next status update; red and counting up once overdue."""
    if due is None:
        return mark_safe('<span class="countdown countdown-none">No scheduled updates</span>')
    left = due - timezone.now()
    if left <= timedelta(0):
        text, css = f"Update overdue by {countdown_text(left)}", "countdown overdue"
    else:
        text, css = f"Update due in {countdown_text(left)}", "countdown"
    return format_html(
        '<span class="{}" data-due="{}" title="Next update due {}">{}</span>',
        css,
        due.isoformat(),
        _absolute(due),
        text,
    )


@register.filter
def person(user) -> str:
    if user is None:
        return "—"
    return user.get_full_name() or user.get_username()


@register.simple_tag
def severity_badge(policy) -> str:
    return format_html(
        '<span class="badge sev sev-{}" title="{} · {}">{}</span>', policy.rank, policy.key, policy.name, policy.key
    )


@register.simple_tag
def status_badge(status: str, label: str) -> str:
    return format_html('<span class="badge status status-{}">{}</span>', status, label)


@register.filter
def duration_text(delta: timedelta) -> str:
    return humanize_delta(delta)


@register.filter
def markdown(text: str) -> str:
    """Markdown rendered to sanitized HTML (core.markdown)."""
    return mark_safe(render_markdown(text))  # noqa: S308 - nh3 has sanitized it


@register.filter
def may_respond(user) -> bool:
    """{% if user|may_respond %}: core.permissions.can_respond in a template."""
    return can_respond(user)


@register.filter
def page_panels(place: str) -> list[str]:
    """{% for panel_template in "side"|page_panels %}: the templates the apps built on incidents add
    to the incident page (incidents.registry)."""
    return registry.page_panels(place)


@register.simple_tag(takes_context=True)
def reader_slot(context: template.Context, template_name: str) -> str:
    """{% include %} for a part of a page that differs per reader. Rendered for the page cache
    (incidents.pages), it leaves a placeholder that the reader's own rendering replaces on serve,
    from the request's context alone; otherwise it is a plain include."""
    slots = context.get("reader_slots")
    if slots is None:
        with context.push():
            return context.template.engine.get_template(template_name).render(context)
    slots.append(template_name)
    return mark_safe(SLOT_PLACEHOLDER.format(len(slots) - 1))  # noqa: S308 - a constant


@register.inclusion_tag("incidents/_cadence_kept.html")
def cadence_kept(incident) -> dict:
    """{% cadence_kept incident %}: each due time of its updates and when the update came, and its
    times from detection against the severity's targets (on the incident's postmortem too)."""
    return {"incident": incident, "kept": incident_cadence_kept(incident=incident)}
