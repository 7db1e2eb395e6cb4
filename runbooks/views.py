from functools import partial

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect, trigger_client_event
from django_htmx.middleware import HtmxDetails

from core.forms import service_errors_apply
from core.htmx_events import INCIDENT_TIMELINE_CHANGED
from core.permissions import can_respond
from core.query import whole_number
from incidents import selectors as incident_selectors
from runbooks import errors, generator, selectors, services
from runbooks.forms import AttachForm, GenerateForm, ImportForm, RunbookForm, StepRecordForm
from runbooks.markdown_format import RunbookFormatError
from runbooks.models import Runbook, RunbookRun, RunStep

EDIT_PERMISSION = "runbooks.edit"
INVALID = 422


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


def can_edit(user) -> bool:
    return user.is_authenticated and user.has_perm(EDIT_PERMISSION)


def _require_editor(request: HttpRequest) -> None:
    if not can_edit(request.user):
        raise PermissionDenied(errors.NOT_AN_EDITOR)


def _require_responder(request: HttpRequest) -> None:
    if not can_respond(request.user):
        raise PermissionDenied(errors.NOT_A_RESPONDER)


def _warn_unknown(request: HttpRequest, unknown: list[str]) -> None:
    if unknown:
        messages.warning(request, errors.UNKNOWN_SERVICES.format(names=", ".join(unknown)))


# ---------------------------------------------------------------------------------------------
# Finding


@login_required
@require_GET
def index(request: HtmxHttpRequest) -> HttpResponse:
    """Grouped by kind and category; a search replaces the groups by ranked results. With
    ?incident=INC-0042 each result offers to attach itself to that incident."""
    query = request.GET.get("q", "").strip()
    incident_ref = request.GET.get("incident", "")
    template_name = "runbooks/index.html"
    if request.htmx and request.htmx.target == "runbook-results":
        template_name += "#runbook-results"
    searching = bool(selectors.search_words(query))
    category = request.GET.get("category")
    # Seed 004's completeness: ?sort=completeness lists the least complete first, ?below=N only
    # those scoring under N.
    below = whole_number(request.GET.get("below", ""))
    by_completeness = not searching and (request.GET.get("sort") == "completeness" or below is not None)
    least_complete, least_complete_total = (
        selectors.runbooks_by_completeness(below=below) if by_completeness else ([], 0)
    )
    context = {
        "by_completeness": by_completeness,
        "below": below,
        "least_complete": least_complete,
        "least_complete_total": least_complete_total,
        "query": query,
        "runbooks": selectors.runbook_search(query=query) if searching else [],
        "groups": []
        if searching or by_completeness
        else selectors.runbook_index(kind=request.GET.get("kind", ""), category=category),
        "category": category,
        "searching": searching,
        "search_limit": selectors.SEARCH_LIMIT,
        "incident_ref": incident_ref if incident_ref and can_respond(request.user) else "",
        # Called by the template only where it offers an editor's link, so the search box's
        # fragment (every keystroke) does not load the reader's permissions (two queries).
        "can_edit": partial(can_edit, request.user),
        "today": timezone.localdate(),
    }
    return render(request, template_name, context)


@login_required
@require_GET
def stale(request: HtmxHttpRequest) -> HttpResponse:
    return render(
        request,
        "runbooks/stale.html",
        {"runbooks": selectors.stale_runbooks(), "today": timezone.localdate(), "can_edit": can_edit(request.user)},
    )


@login_required
@require_GET
def detail(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    runbook = selectors.runbook_get(slug=slug)
    steps = list(runbook.steps.all())
    can_run = can_respond(request.user)
    return render(
        request,
        "runbooks/detail.html",
        {
            "runbook": runbook,
            "steps": steps,
            "can_edit": can_edit(request.user),
            "can_run": can_run,
            # "Attach to incident…": the active incidents this user may see and respond to.
            "incidents_to_attach": selectors.incidents_to_attach(runbook=runbook, user=request.user)
            if can_run and steps
            else None,
            "today": timezone.localdate(),
        },
    )


@login_required
@require_GET
def export(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    from runbooks.markdown_format import render as render_markdown_file

    runbook = selectors.runbook_get(slug=slug)
    response = HttpResponse(
        render_markdown_file(services.runbook_to_data(runbook)), content_type="text/markdown; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="runbook-{runbook.slug}.md"'
    return response


# ---------------------------------------------------------------------------------------------
# Writing


def _form_page(request: HttpRequest, form: RunbookForm, runbook=None, status: int = 200) -> HttpResponse:
    return render(request, "runbooks/edit.html", {"form": form, "runbook": runbook}, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def create(request: HtmxHttpRequest) -> HttpResponse:
    _require_editor(request)
    if request.method == "GET":
        return _form_page(request, RunbookForm())
    form = RunbookForm(request.POST)
    if form.is_valid():
        try:
            runbook, unknown = services.runbook_create(
                data=form.to_data(), actor=request.user, change_note=form.cleaned_data["change_note"] or "Created"
            )
        except ValidationError as error:
            service_errors_apply(form, error)
        else:
            _warn_unknown(request, unknown)
            messages.success(request, f"Runbook '{runbook.title}' created.")
            return redirect(runbook)
    return _form_page(request, form, status=INVALID)


@login_required
@require_http_methods(["GET", "POST"])
def edit(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    _require_editor(request)
    runbook = selectors.runbook_get(slug=slug)
    if request.method == "GET":
        initial = RunbookForm.initial_from(
            services.runbook_to_data(runbook),
            services=list(runbook.services.all()),
            review_interval_days=runbook.review_interval_days,
        )
        initial["base_version"] = runbook.version
        return _form_page(request, RunbookForm(initial=initial), runbook)
    form = RunbookForm(request.POST)
    if form.is_valid():
        try:
            runbook, unknown = services.runbook_update(
                runbook=runbook,
                data=form.to_data(last_tested=runbook.last_tested, extra_metadata=runbook.extra_metadata),
                actor=request.user,
                change_note=form.cleaned_data["change_note"],
                base_version=form.cleaned_data["base_version"],
            )
        except ValidationError as error:
            service_errors_apply(form, error)
            # Having seen the newer version, saving again is a deliberate replacement.
            form.data = form.data.copy()
            form.data["base_version"] = str(Runbook.objects.values_list("version", flat=True).get(pk=runbook.pk))
        else:
            _warn_unknown(request, unknown)
            messages.success(request, f"Saved as version {runbook.version}.")
            return redirect(runbook)
    return _form_page(request, form, runbook, status=INVALID)


@login_required
@require_http_methods(["GET", "POST"])
def import_markdown(request: HtmxHttpRequest) -> HttpResponse:
    _require_editor(request)
    template_name = "runbooks/import.html"
    if request.method == "GET":
        return render(request, template_name, {"form": ImportForm()})
    form = ImportForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            runbook, unknown = services.runbook_import(text=form.cleaned_data["markdown"], actor=request.user)
        except RunbookFormatError as error:
            form.add_error(None, str(error))
        except ValidationError as error:
            service_errors_apply(form, error)
        else:
            _warn_unknown(request, unknown)
            messages.success(request, f"Imported '{runbook.title}' with {runbook.steps.count()} steps.")
            return redirect(runbook)
    return render(request, template_name, {"form": form}, status=INVALID)


@login_required
@require_http_methods(["GET", "POST"])
def generate(request: HtmxHttpRequest) -> HttpResponse:
    """Seed 004's generator: the five questions in, a complete draft saved as version 1 and opened
    in the editor, where its placeholders are filled."""
    _require_editor(request)
    template_name = "runbooks/generate.html"
    if request.method == "GET":
        return render(request, template_name, {"form": GenerateForm()})
    form = GenerateForm(request.POST)
    if form.is_valid():
        try:
            runbook, unknown = services.runbook_generate(answers=form.to_answers(), actor=request.user)
        except generator.GeneratorError as error:
            for name, message in error.messages.items():
                form.add_error(name if name in form.fields else None, message)
        except ValidationError as error:
            service_errors_apply(form, error)
        else:
            _warn_unknown(request, unknown)
            messages.success(
                request, f"Runbook '{runbook.title}' generated as version 1: fill its placeholders, then save."
            )
            return redirect("runbooks:edit", slug=runbook.slug)
    return render(request, template_name, {"form": form}, status=INVALID)


@login_required
@require_GET
def history(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    runbook = selectors.runbook_get(slug=slug)
    return render(
        request,
        "runbooks/history.html",
        {
            "runbook": runbook,
            "revisions": selectors.runbook_revisions(runbook=runbook),
            "can_edit": can_edit(request.user),
        },
    )


@login_required
@require_GET
def revision(request: HtmxHttpRequest, slug: str, version: int) -> HttpResponse:
    runbook = selectors.runbook_get(slug=slug)
    against = request.GET.get("against", "")
    diff = selectors.revision_diff(runbook=runbook, version=version, against=whole_number(against))
    return render(
        request, "runbooks/revision.html", {"runbook": runbook, "diff": diff, "can_edit": can_edit(request.user)}
    )


@login_required
@require_POST
def restore(request: HtmxHttpRequest, slug: str, version: int) -> HttpResponse:
    _require_editor(request)
    runbook = selectors.runbook_get(slug=slug)
    old = selectors.revision_get(runbook=runbook, version=version)
    runbook = services.runbook_restore(runbook=runbook, revision=old, actor=request.user)
    messages.success(request, f"Version {version} restored as version {runbook.version}.")
    if request.htmx:
        return HttpResponseClientRedirect(runbook.get_absolute_url())
    return redirect(runbook)


# ---------------------------------------------------------------------------------------------
# Running


def _checklist_response(request: HtmxHttpRequest, run: RunbookRun, status: int = 200, **extra) -> HttpResponse:
    context = {"run": selectors.run_get(pk=run.pk, user=request.user), "can_run": can_respond(request.user), **extra}
    return render(request, "runbooks/_checklist.html", context, status=status)


@login_required
@require_GET
def run_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """A drill's page, and the checklist fragment every open incident page polls."""
    run = selectors.run_get(pk=pk, user=request.user)
    if request.htmx and request.htmx.target == f"run-{run.pk}":
        return _checklist_response(request, run)
    return render(request, "runbooks/run.html", {"run": run, "can_run": can_respond(request.user)})


@login_required
@require_POST
def step_record(request: HtmxHttpRequest, pk: int, step_pk: int) -> HttpResponse:
    _require_responder(request)
    run_step = get_object_or_404(
        RunStep.objects.select_related("run"), pk=step_pk, run__in=selectors.runs_visible(request.user).filter(pk=pk)
    )
    run = run_step.run
    form = StepRecordForm(request.POST)
    if form.is_valid():
        try:
            services.run_step_record(run_step=run_step, actor=request.user, **form.cleaned_data)
        except ValidationError as error:
            service_errors_apply(form, error)
    back = run.incident.get_absolute_url() if run.incident_id else run.get_absolute_url()
    if form.errors:
        if request.htmx:
            return _checklist_response(request, run, status=INVALID, errors_for=run_step.pk, step_form=form)
        messages.error(request, " ".join(message for messages_ in form.errors.values() for message in messages_))
        return redirect(back)
    if request.htmx:
        response = _checklist_response(request, run)
        if run.incident_id:
            trigger_client_event(response, INCIDENT_TIMELINE_CHANGED)
        return response
    messages.success(request, f"Step {run_step.position} recorded.")
    return redirect(back)


@login_required
@require_POST
def drill_start(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    _require_responder(request)
    runbook = selectors.runbook_get(slug=slug)
    try:
        run = services.drill_start(runbook=runbook, actor=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect(runbook)
    return redirect(run)


@login_required
@require_POST
def drill_finish(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    _require_responder(request)
    run = get_object_or_404(selectors.runs_visible(request.user), pk=pk)
    try:
        services.drill_finish(run=run, actor=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect(run)
    messages.success(request, "Drill finished: the runbook's last-tested date is today.")
    return redirect(run.runbook)


@login_required
@require_POST
def attach(request: HtmxHttpRequest, reference: str) -> HttpResponse:
    _require_responder(request)
    incident = incident_selectors.incident_get(reference=reference, user=request.user)
    form = AttachForm(request.POST)
    if form.is_valid():
        runbook = selectors.runbook_get(slug=form.cleaned_data["runbook"])
        try:
            services.runbook_attach(runbook=runbook, incident=incident, actor=request.user)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, f"Runbook '{runbook.title}' attached; its steps are the checklist.")
    else:
        messages.error(request, "Choose a runbook to attach.")
    if request.htmx:
        return HttpResponseClientRedirect(incident.get_absolute_url())
    return redirect(incident)
