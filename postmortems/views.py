"""The postmortem editor and the pages around it. Reads for everyone signed in; writes for
responders and admins. Every form posts to a real URL and redirects, so the editor works without
JavaScript; static/js/postmortem-editor.js adds autosave, local drafts and conflict merging."""

import difflib
from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.forms import Form
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST
from django_htmx.middleware import HtmxDetails

from core.markdown import render_markdown
from core.permissions import can_respond
from core.query import whole_number
from incidents import selectors as incident_selectors
from incidents.models import Incident
from postmortems import errors, selectors, services
from postmortems.dates import team_today
from postmortems.export import postmortem_markdown
from postmortems.forms import (
    ActionItemForm,
    ActionItemStatusForm,
    FiveWhyForm,
    NotRequiredForm,
    ReviewForm,
    TimelineRowForm,
)
from postmortems.models import (
    SECTIONS,
    ActionKind,
    ActionStatus,
    FiveWhy,
    Postmortem,
    PostmortemRevision,
    PostmortemStatus,
    PostmortemTimelineRow,
    Priority,
)


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


INVALID = 422
CONFLICT = 409
EDITOR = "postmortems/editor.html"


def _require_responder(request: HttpRequest) -> None:
    if not can_respond(request.user):
        raise PermissionDenied(errors.NOT_PERMITTED)


def _error_text(error: ValidationError) -> str:
    return " ".join(error.messages)


def _incident(request: HttpRequest, reference: str) -> Incident:
    return incident_selectors.incident_get(reference=reference, user=request.user)


def _postmortem(incident: Incident) -> Postmortem:
    postmortem = selectors.postmortem_for_editor(incident_id=incident.pk)
    if postmortem is None:
        raise Http404(errors.NO_POSTMORTEM)
    return postmortem


def _editor_url(incident: Incident) -> str:
    return reverse("postmortems:editor", kwargs={"reference": incident.reference})


def _sections(postmortem: Postmortem, *, mine: dict[str, str] | None = None, bases: dict[str, int] | None = None):
    """What the editor shows per section: the text in the box, its preview, the version it is
    based on and, after a conflict, the other person's current text."""
    mine = mine or {}
    bases = bases or {}
    rows = []
    for name, label in SECTIONS.items():
        text = mine.get(name, getattr(postmortem, name))
        rows.append(
            {
                "name": name,
                "label": label,
                "text": text,
                "html": render_markdown(text),
                "base": bases.get(name, postmortem.version),
                "theirs": getattr(postmortem, name) if name in mine else None,
            }
        )
    return rows


def _editor_context(
    request: HttpRequest,
    incident: Incident,
    postmortem: Postmortem | None,
    *,
    bound: dict[str, Form] | None = None,
    mine: dict[str, str] | None = None,
    bases: dict[str, int] | None = None,
) -> dict[str, Any]:
    bound = bound or {}
    responder = can_respond(request.user)
    context: dict[str, Any] = {"incident": incident, "postmortem": postmortem, "can_respond": responder}
    if postmortem is None:
        return context
    editable = responder and not postmortem.is_read_only
    context.update(
        sections=_sections(postmortem, mine=mine, bases=bases),
        conflict=bool(mine),
        editable=editable,
        overdue=selectors.is_overdue(postmortem),
        can_approve=request.user.is_superuser
        or any(reviewer.pk == request.user.pk for reviewer in postmortem.reviewers.all()),
        review_form=bound.get("review") or ReviewForm(),
        not_required_form=bound.get("not_required") or NotRequiredForm(),
        row_form=bound.get("row") or TimelineRowForm(),
        why_form=bound.get("why") or FiveWhyForm(),
        action_form=bound.get("action") or ActionItemForm(),
        action_statuses=ActionStatus.choices,
        today=team_today(),
        starred_missing=selectors.starred_events_missing(postmortem=postmortem).count() if editable else 0,
    )
    return context


@login_required
@require_GET
def editor(request: HtmxHttpRequest, reference: str) -> HttpResponse:
    incident = _incident(request, reference)
    postmortem = selectors.postmortem_for_editor(incident_id=incident.pk)
    template_name = EDITOR
    if request.htmx and request.htmx.target == "postmortem-head":
        template_name += "#postmortem-head"
    return render(request, template_name, _editor_context(request, incident, postmortem))


@login_required
@require_POST
def start(request: HtmxHttpRequest, reference: str) -> HttpResponse:
    _require_responder(request)
    incident = _incident(request, reference)
    try:
        services.postmortem_start(incident=incident, actor=request.user)
    except ValidationError as error:
        messages.error(request, _error_text(error))
    else:
        messages.success(request, "Postmortem started.")
    return redirect(_editor_url(incident))


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def _base(value: str | None, default: int) -> int:
    number = whole_number(value)
    return default if number is None else number


@login_required
@require_POST
def save(request: HtmxHttpRequest, reference: str) -> HttpResponse:
    """Save the sections the form carries, each from the version it was based on (`base_<name>`).

    A section is saved only if its text differs from what it was at its base version (the
    revision of that version), so a plain form post never touches sections its author did not
    change. Sections that nobody else changed save; a section someone else changed comes back
    as a conflict with both texts. The editor's script sends one section at a time and reads
    JSON."""
    _require_responder(request)
    incident = _incident(request, reference)
    postmortem = _postmortem(incident)
    default_base = _base(request.POST.get("version"), postmortem.version)
    submitted = {name: request.POST[name].replace("\r\n", "\n") for name in SECTIONS if name in request.POST}
    bases = {name: _base(request.POST.get(f"base_{name}"), default_base) for name in submitted}
    originals = {
        revision.version: revision.sections
        for revision in PostmortemRevision.objects.filter(postmortem=postmortem, version__in=set(bases.values()))
    }
    changed = {name: text for name, text in submitted.items() if originals.get(bases[name], {}).get(name) != text}
    conflicts: dict[str, str] = {}
    conflict_bases: dict[str, int] = {}
    saved_version = None
    try:
        for name, text in changed.items():
            try:
                saved = services.postmortem_sections_save(
                    postmortem=postmortem, actor=request.user, base_version=bases[name], sections={name: text}
                )
                saved_version = saved.version
            except services.PostmortemConflict as conflict:
                conflicts[name] = text
                conflict_bases[name] = conflict.version
    except ValidationError as error:
        if _wants_json(request):
            return JsonResponse({"error": _error_text(error)}, status=INVALID)
        messages.error(request, _error_text(error))
        return redirect(_editor_url(incident))
    postmortem.refresh_from_db()
    if _wants_json(request):
        if conflicts:
            name = next(iter(conflicts))
            return JsonResponse(
                {
                    "conflict": True,
                    "section": name,
                    "version": conflict_bases[name],
                    "current": getattr(postmortem, name),
                    "current_html": render_markdown(getattr(postmortem, name)),
                    "mine": conflicts[name],
                    "message": errors.CONFLICT.format(names=SECTIONS[name]),
                },
                status=CONFLICT,
            )
        now = timezone.localtime()
        return JsonResponse(
            {
                # Nothing changed: the section stays based where it was.
                "version": saved_version if saved_version is not None else max(bases.values(), default=0),
                "saved_at": now.isoformat(),
                "saved_label": f"{now:%H:%M:%S}",
                "changed": list(changed),
            }
        )
    if conflicts:
        postmortem = _postmortem(incident)
        context = _editor_context(request, incident, postmortem, mine=conflicts, bases=conflict_bases)
        context["conflict_message"] = errors.CONFLICT.format(names=", ".join(SECTIONS[n] for n in conflicts))
        return render(request, EDITOR, context, status=CONFLICT)
    messages.success(request, "Saved." if changed else "No changes to save.")
    return redirect(_editor_url(incident))


@login_required
@require_POST
def preview(request: HtmxHttpRequest, reference: str) -> HttpResponse:
    """The live preview: the section's Markdown as sanitized HTML."""
    name = request.POST.get("section", "")
    if name not in SECTIONS:
        raise Http404("Unknown section")
    return render(request, f"{EDITOR}#preview", {"html": render_markdown(request.POST.get(name, ""))})


def _mutation(
    request: HtmxHttpRequest,
    reference: str,
    *,
    form_key: str,
    form_class: type[Form] | None,
    apply: Callable[[Postmortem, dict[str, Any]], object],
    success: str | Callable[[Any], str],
) -> HttpResponse:
    """Check the role, validate, call one service, redirect; refused input comes back in its form."""
    _require_responder(request)
    incident = _incident(request, reference)
    postmortem = _postmortem(incident)
    form = form_class(request.POST) if form_class else None
    if form is None or form.is_valid():
        try:
            result = apply(postmortem, form.cleaned_data if form else {})
        except ValidationError as error:
            if form is None:
                messages.error(request, _error_text(error))
                return redirect(_editor_url(incident))
            form.add_error(None, error.messages)
        else:
            messages.success(request, success(result) if callable(success) else success)
            return redirect(_editor_url(incident))
    postmortem = _postmortem(incident)
    return render(
        request, EDITOR, _editor_context(request, incident, postmortem, bound={form_key: form}), status=INVALID
    )


@login_required
@require_POST
def workflow(request: HtmxHttpRequest, reference: str) -> HttpResponse:
    action = request.POST.get("action", "")
    user = request.user
    if action == "review":
        return _mutation(
            request,
            reference,
            form_key="review",
            form_class=ReviewForm,
            apply=lambda pm, data: services.postmortem_review_request(
                postmortem=pm, actor=user, reviewers=data["reviewers"]
            ),
            success="Sent for review.",
        )
    if action == "not_required":
        return _mutation(
            request,
            reference,
            form_key="not_required",
            form_class=NotRequiredForm,
            apply=lambda pm, data: services.postmortem_not_required(postmortem=pm, actor=user, reason=data["reason"]),
            success="Marked not required.",
        )
    simple = {
        "approve": (services.postmortem_approve, "Approved."),
        "publish": (services.postmortem_publish, "Published. The postmortem is now read-only."),
        "amend": (services.postmortem_amend, "Back to draft: changes make a new revision."),
    }
    if action not in simple:
        raise Http404("Unknown action")
    service, success = simple[action]
    return _mutation(
        request,
        reference,
        form_key=action,
        form_class=None,
        apply=lambda pm, data: service(postmortem=pm, actor=user),
        success=success,
    )


@login_required
@require_POST
def timeline_row_add(request: HtmxHttpRequest, reference: str) -> HttpResponse:
    return _mutation(
        request,
        reference,
        form_key="row",
        form_class=TimelineRowForm,
        apply=lambda pm, data: services.postmortem_timeline_row_save(
            postmortem=pm, actor=request.user, text=data["text"], occurred_at=data["occurred_at"]
        ),
        success="Timeline row added.",
    )


def _starred_added(rows: list[PostmortemTimelineRow]) -> str:
    if not rows:
        return "Every starred event is already in the timeline."
    return f"Added {len(rows)} starred event{pluralize(len(rows))} to the timeline."


@login_required
@require_POST
def timeline_starred_add(request: HtmxHttpRequest, reference: str) -> HttpResponse:
    """Bring events starred on the incident since the postmortem started into its timeline."""
    return _mutation(
        request,
        reference,
        form_key="starred",
        form_class=None,
        apply=lambda pm, data: services.postmortem_timeline_starred_add(postmortem=pm, actor=request.user),
        success=_starred_added,
    )


@login_required
@require_POST
def timeline_row_change(request: HtmxHttpRequest, reference: str, row_id: int) -> HttpResponse:
    def apply(pm: Postmortem, data: dict[str, Any]) -> None:
        row = get_object_or_404(PostmortemTimelineRow, pk=row_id, postmortem=pm)
        if "delete" in request.POST:
            services.postmortem_timeline_row_delete(row=row, actor=request.user)
        else:
            services.postmortem_timeline_row_save(postmortem=pm, actor=request.user, text=data["text"], row=row)

    return _mutation(
        request, reference, form_key="row", form_class=TimelineRowForm, apply=apply, success="Timeline updated."
    )


@login_required
@require_POST
def five_why_add(request: HtmxHttpRequest, reference: str) -> HttpResponse:
    return _mutation(
        request,
        reference,
        form_key="why",
        form_class=FiveWhyForm,
        apply=lambda pm, data: services.postmortem_five_why_add(postmortem=pm, actor=request.user, **data),
        success="Added to the five whys.",
    )


@login_required
@require_POST
def five_why_delete(request: HtmxHttpRequest, reference: str, why_id: int) -> HttpResponse:
    def apply(pm: Postmortem, data: dict[str, Any]) -> None:
        services.postmortem_five_why_delete(
            five_why=get_object_or_404(FiveWhy, pk=why_id, postmortem=pm), actor=request.user
        )

    return _mutation(request, reference, form_key="why", form_class=None, apply=apply, success="Removed.")


@login_required
@require_POST
def action_item_add(request: HtmxHttpRequest, reference: str) -> HttpResponse:
    return _mutation(
        request,
        reference,
        form_key="action",
        form_class=ActionItemForm,
        apply=lambda pm, data: services.action_item_add(postmortem=pm, actor=request.user, **data),
        success="Action item added.",
    )


@login_required
@require_POST
def action_item_status(request: HtmxHttpRequest, item_id: int) -> HttpResponse:
    """Change an action item's status, from the editor or the tracker; back to where it came from."""
    _require_responder(request)
    item = get_object_or_404(selectors.action_items_visible(request.user), pk=item_id)
    form = ActionItemStatusForm(request.POST)
    if form.is_valid():
        services.action_item_update(item=item, actor=request.user, status=form.cleaned_data["status"])
        messages.success(request, f"'{item.title}' is {ActionStatus(form.cleaned_data['status']).label.lower()}.")
    else:
        messages.error(request, "Choose a status.")
    back = request.POST.get("next", "")
    if not back.startswith("/") or back.startswith("//"):
        back = reverse("postmortems:action_items")
    return redirect(back)


@login_required
@require_GET
def revisions(request: HtmxHttpRequest, reference: str) -> HttpResponse:
    """History, newest first; ?diff=<version> compares a revision with the one before it."""
    incident = _incident(request, reference)
    postmortem = _postmortem(incident)
    history = selectors.revisions(postmortem=postmortem)
    wanted = request.GET.get("diff", "")
    diff = []
    if whole_number(wanted) is not None:
        by_version = {revision.version: revision for revision in history}
        revision = by_version.get(whole_number(wanted))
        if revision is not None:
            earlier = [r for r in history if r.version < revision.version]
            before = earlier[0].sections if earlier else {}
            for name, label in SECTIONS.items():
                old, new = before.get(name, ""), revision.sections.get(name, "")
                if old != new:
                    lines = difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=2)
                    diff.append({"label": label, "lines": list(lines)[2:]})
    context = {
        "incident": incident,
        "postmortem": postmortem,
        "history": history,
        "diff": diff,
        "diff_version": wanted,
        "can_restore": can_respond(request.user) and not postmortem.is_read_only,
    }
    template_name = "postmortems/revisions.html"
    if request.htmx and request.htmx.target == "diff":
        template_name += "#diff"
    return render(request, template_name, context)


@login_required
@require_POST
def revision_restore(request: HtmxHttpRequest, reference: str, version: int) -> HttpResponse:
    return _mutation(
        request,
        reference,
        form_key="restore",
        form_class=None,
        apply=lambda pm, data: services.postmortem_revision_restore(postmortem=pm, actor=request.user, version=version),
        success=f"Version {version} restored as a new version.",
    )


@login_required
@require_GET
def export_markdown(request: HttpRequest, reference: str) -> HttpResponse:
    incident = _incident(request, reference)
    postmortem = _postmortem(incident)
    response = HttpResponse(postmortem_markdown(postmortem), content_type="text/markdown; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="postmortem-{incident.reference}.md"'
    return response


@login_required
@require_GET
def print_view(request: HttpRequest, reference: str) -> HttpResponse:
    incident = _incident(request, reference)
    postmortem = _postmortem(incident)
    return render(
        request,
        "postmortems/print.html",
        {"incident": incident, "postmortem": postmortem, "sections": _sections(postmortem)},
    )


@login_required
@require_GET
def postmortem_list(request: HtmxHttpRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    overdue = request.GET.get("overdue") == "1"
    context = {
        "postmortems": list(selectors.postmortem_list(user=request.user, status=status, overdue=overdue)),
        "statuses": PostmortemStatus.choices,
        "selected_status": status,
        "overdue": overdue,
        "today": team_today(),
    }
    template_name = "postmortems/postmortem_list.html"
    if request.htmx:
        template_name += "#postmortem-table"
    return render(request, template_name, context)


@login_required
@require_GET
def action_item_list(request: HtmxHttpRequest) -> HttpResponse:
    owner = request.GET.get("owner", "")
    if owner == "me":
        owner = str(request.user.pk)
    filters = selectors.ActionItemFilters(
        owner=whole_number(owner),
        status=request.GET.get("status", ""),
        priority=request.GET.get("priority", ""),
        overdue=request.GET.get("overdue") == "1",
    )
    context = {
        "items": list(selectors.action_items(user=request.user, filters=filters)),
        "filters": filters,
        "owners": ActionItemForm().fields["owner"].queryset,
        "statuses": ActionStatus.choices,
        "priorities": Priority.choices,
        "kinds": ActionKind.choices,
        "today": team_today(),
        "can_respond": can_respond(request.user),
        "here": request.get_full_path(),
    }
    template_name = "postmortems/action_item_list.html"
    if request.htmx:
        template_name += "#action-item-table"
    return render(request, template_name, context)
