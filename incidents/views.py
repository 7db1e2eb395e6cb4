import functools
import hashlib
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.forms import Form
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.functional import SimpleLazyObject
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect
from django_htmx.middleware import HtmxDetails

from core.formatting import humanize_delta, local_clock
from core.forms import service_errors_apply
from core.permissions import can_respond, is_person, sees_restricted
from core.query import whole_number
from incidents import errors, pages, selectors, services
from incidents.forms import (
    AcknowledgeForm,
    DeclareForm,
    ImpactForm,
    MilestoneForm,
    NoteForm,
    ParticipantsForm,
    PublishForm,
    RestrictionForm,
    RolesForm,
    SeverityForm,
    SnoozeForm,
    StartsFromIncident,
    StatusForm,
    StatusUpdateForm,
    UpdateDraftDiscardForm,
    UpdateDraftForm,
    presets_json,
)
from incidents.models import (
    ACTIVE_STATUSES,
    ApiToken,
    EventKind,
    Incident,
    IncidentStatus,
    TimelineEvent,
    UpdateDraft,
    UpdateVisibility,
)


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


INVALID = 422


def _require_responder(request: HttpRequest) -> None:
    if not can_respond(request.user):
        raise PermissionDenied(errors.NOT_PERMITTED)


@login_required
@require_GET
def dashboard(request: HtmxHttpRequest) -> HttpResponse:
    """Every open dashboard asks again every 10 s, so the page is served from the cache
    (incidents.pages) keyed on the filters and the htmx fragment; "my action items" is the
    reader's own slot in it."""
    fragment = "#incident-table" if request.htmx else ""

    # Only the filters the page understands, in one order, make its cache key: ?x=<random> or a
    # reordered filter asks for the same page.
    severity_keys = sorted(set(request.GET.getlist("severity")))
    statuses = [status for status in ACTIVE_STATUSES if status in request.GET.getlist("status")]

    def render_page(extra: dict[str, Any]) -> tuple[str, bool]:
        policies = selectors.severity_policies()
        context = {
            "active": list(
                selectors.active_incidents(user=request.user, severity_keys=severity_keys, statuses=statuses)
            ),
            "resolved": selectors.recently_resolved(user=request.user, severity_keys=severity_keys),
            "policies": policies,
            "active_statuses": [(value, IncidentStatus(value).label) for value in ACTIVE_STATUSES],
            "selected_severities": severity_keys,
            "selected_statuses": statuses,
            "filter_query": urlencode([("severity", key) for key in severity_keys] + [("status", s) for s in statuses]),
            "may_declare": can_respond(request.user),
        }
        board = render_to_string(f"incidents/_dashboard.html{fragment}", context)
        # A severity no policy has: answered, but not kept, so made-up filters mint no keys.
        known = set(severity_keys) <= {policy.key for policy in policies}
        if fragment:
            return board, known
        page = {"board": mark_safe(board), **extra}  # noqa: S308 - our own render
        return render_to_string("incidents/dashboard.html", page, request), known

    return pages.cached_page(
        request,
        page="dashboard",
        # Readers who see different restricted incidents get different pages.
        parts=(tuple(severity_keys), tuple(statuses), fragment, selectors.visibility_key(request.user)),
        render=render_page,
        cacheable=lambda known: known,
    )


@login_required
@require_http_methods(["GET", "POST"])
def declare(request: HtmxHttpRequest) -> HttpResponse:
    _require_responder(request)
    template_name = "incidents/declare.html"
    if request.method == "GET":
        return render(request, template_name, {"form": DeclareForm()})
    form = DeclareForm(request.POST)
    validate_only = request.POST.get("_validate") == "1"
    if form.is_valid() and not validate_only:
        data = form.cleaned_data
        try:
            incident = services.incident_declare(
                declared_by=request.user,
                title=data["title"],
                severity=data["severity"],
                summary=data["summary"],
                detected_at=data["detected_at"],
                lead=data["lead"],
                comms_lead=data["comms_lead"],
                affected_services=data["affected_services"],
                affected_users_count=data["affected_users_count"],
                affected_users_percent=data["affected_users_percent"],
                business_impact=data["business_impact"],
                data_integrity_concern=data["data_integrity_concern"],
                security_concern=data["security_concern"],
                public_title=data["public_title"],
                public_summary=data["public_summary"],
                # Unticked: the policy decides (a security concern restricts).
                restricted=data["restricted"] or None,
            )
        except ValidationError as error:
            service_errors_apply(form, error)
        else:
            messages.success(
                request, f"{incident.reference} declared. Next update due per {incident.severity.key} policy."
            )
            if request.htmx:
                return HttpResponseClientRedirect(incident.get_absolute_url())
            return redirect(incident)
    if validate_only:
        # Checking as the user types: say nothing yet about fields they have not filled in.
        for name in list(form.errors):
            if name in form.fields and not request.POST.get(name):
                del form.errors[name]
        return render(request, f"{template_name}#declare-errors", {"form": form})
    if request.htmx:
        template_name += "#declare-form"
    return render(request, template_name, {"form": form}, status=INVALID)


def _starting(form_class: type[StartsFromIncident], incident: Incident, form: str) -> StartsFromIncident:
    """The form as the incident sets it: its fields show the presets, and `seen` keeps them."""
    presets = selectors.incident_form_presets(incident=incident, form=form)
    shown = {name: value for name, value in presets.items() if not name.startswith("~")}
    return form_class(incident=incident, initial={**shown, "seen": presets_json(presets)})


# The visibility each reader last posted an update with, per incident (in their session).
UPDATE_VISIBILITY_KEY = "update_visibility"


def _update_form(request: HttpRequest, incident: Incident, *, shared: bool) -> StatusUpdateForm:
    """The update form as the incident presets it; on a page drawn for this reader alone (the
    answer to their post, or the page after it), with the visibility they last posted with."""
    form = _starting(StatusUpdateForm, incident, "update")
    if not shared:
        chosen = request.session.get(UPDATE_VISIBILITY_KEY, {}).get(str(incident.pk))
        if chosen in UpdateVisibility.values:
            form.initial["visibility"] = chosen
    return form


# Forms used now and then open on demand (?edit=<name>, or htmx into their editor) so the page a
# responder reloads all night renders only the forms used every few minutes.
EDITORS: dict[str, Callable[[Incident], Form]] = {
    "impact": lambda incident: _starting(ImpactForm, incident, "impact"),
    "roles": lambda incident: _starting(RolesForm, incident, "roles"),
    "milestone": lambda incident: MilestoneForm(),
    "snooze": lambda incident: _starting(SnoozeForm, incident, "snooze"),
}
# htmx target → the partial that answers it.
FRAGMENTS = {
    "incident-body": "incident-body",
    "timeline": "timeline",
    "timeline-more": "timeline-page",
    "incident-live": "incident-live",
    **{f"{name}-editor": f"{name}-editor" for name in EDITORS},
}


TIMELINE_CACHE_SECONDS = 300


def _timeline_rows(
    request: HttpRequest, incident: Incident, page: selectors.TimelinePage, older: bool, responder: bool, shared: bool
) -> str:
    """The rendered events of a timeline page. Rendering 50 events is most of an incident page's
    cost and the page is reloaded every 15 s by everyone on the incident, so the rows are cached
    under what they depend on: the events' ids and stars (events never change otherwise), the
    reader's time zone and role, and the minute (each row's relative age). The star forms' CSRF
    token is a placeholder, swapped for the reader's own unless the page is `shared` (rendered for
    the page cache, which swaps it on every serve)."""
    key = (
        "timeline-rows:v2:"
        + hashlib.sha256(
            repr(
                (
                    incident.pk,
                    page.stamps,
                    older,
                    responder,
                    timezone.get_current_timezone_name(),
                    timezone.now().strftime("%Y%m%d%H%M"),
                )
            ).encode()
        ).hexdigest()
    )
    html = cache.get(key) if settings.PAGE_CACHE else None
    if html is None:
        html = render_to_string(
            "incidents/incident_detail.html#timeline-rows",
            {
                "timeline": page.events,
                "timeline_older": older,
                "can_respond": responder,
                "star_url": f"{incident.get_absolute_url()}events/",
                "csrf_token": pages.CSRF_PLACEHOLDER,
            },
        )
        if settings.PAGE_CACHE:
            cache.set(key, html, TIMELINE_CACHE_SECONDS)
    if not shared:
        html = html.replace(pages.CSRF_PLACEHOLDER, get_token(request))
    return mark_safe(html)  # noqa: S308 - our own render


def _timeline_filters(request: HttpRequest) -> tuple[list[str], str]:
    """The timeline's kinds (known ones, in one order) and its `before` event id ("" for the
    newest): what the incident page understands of its query, and all that its cache key holds."""
    wanted = request.GET.getlist("kind")
    before = whole_number(request.GET.get("before"))
    return [kind for kind in EventKind.values if kind in wanted], "" if before is None else str(before)


def _detail_context(
    request: HttpRequest, incident: Incident, bound: dict[str, Form] | None = None, *, shared: bool = False
) -> dict[str, Any]:
    kinds, before = _timeline_filters(request)
    page = selectors.incident_timeline(incident=incident, kinds=kinds, before=whole_number(before))
    responder = can_respond(request.user)
    drafts = selectors.update_drafts_pending(incident=incident)
    can_publish = responder and services.may_publish(incident=incident, user=request.user)
    bound = bound or {}
    context: dict[str, Any] = {
        "incident": incident,
        "timeline": SimpleLazyObject(lambda: page.events),
        "timeline_rows": functools.partial(_timeline_rows, request, incident, page, before != "", responder, shared),
        "timeline_has_more": page.has_more,
        "timeline_last_id": page.stamps[-1][0] if page.stamps else None,
        "timeline_older": before != "",
        # Read only by the whole page, not by the timeline's own fragments.
        "key_events": SimpleLazyObject(lambda: selectors.incident_key_events(incident=incident)),
        # Built once, not reversed per timeline row: the URL pattern is events/<id>/star/.
        "star_url": f"{incident.get_absolute_url()}events/",
        "kind_query": "".join(f"&kind={kind}" for kind in kinds),
        "event_kinds": EventKind.choices,
        "selected_kinds": kinds,
        "can_respond": responder,
        "can_snooze": responder
        and incident.next_update_due_at is not None
        and incident.severity.update_cadence_minutes is not None
        and (request.user.pk == incident.lead_id or request.user.is_superuser),
        "can_publish": can_publish,
        # Until someone has answered for it, or while a system account (alerts) leads it. Asked
        # whatever the milestone, so the page costs the same number of queries before and after.
        "can_acknowledge": responder
        and incident.is_active
        and (not is_person(incident.lead) or incident.acknowledged_at is None),
        # The lead or the security group (superusers are in it); the page's variants tell them apart.
        "can_restrict": request.user.pk == incident.lead_id or sees_restricted(request.user),
        "restriction_errors": bound["restriction"].errors if "restriction" in bound else None,
        "statuses": IncidentStatus.choices,
        "page_state": selectors.incident_page_state(incident=incident, drafts=drafts),
    }
    if responder:
        context.update(
            # Public updates waiting for approval: with their approver's form (edit, approve,
            # discard) for the lead and comms lead, read-only for the other responders.
            update_drafts=[(draft, _draft_form(draft, bound) if can_publish else None) for draft in drafts],
            # A refusal whose form the page does not show (the draft was decided meanwhile, or the
            # reader may not approve) shows on top of the drafts.
            draft_errors=[
                error
                for key, form in bound.items()
                if key.startswith("draft-") and not (can_publish and key in {f"draft-{draft.pk}" for draft in drafts})
                for error in form.non_field_errors()
            ],
            update_needs_approval=services.update_needs_approval(incident=incident, user=request.user),
        )
        context.update(
            update_form=bound.get("update") or _update_form(request, incident, shared=shared),
            note_form=bound.get("note") or NoteForm(),
            severity_form=bound.get("severity") or _starting(SeverityForm, incident, "severity"),
            status_form=bound.get("status") or _starting(StatusForm, incident, "status"),
            publish_form=bound.get("publish"),
            acknowledge_form=bound.get("acknowledge"),
            participants_form=bound.get("participants") or ParticipantsForm(),
        )
        wanted = request.GET.get("edit")
        for name, make in EDITORS.items():
            if name in bound:
                context[f"{name}_form"] = bound[name]
            elif name == wanted:
                context[f"{name}_form"] = make(incident)
    return context


def _draft_form(draft: UpdateDraft, bound: dict[str, Form]) -> UpdateDraftForm:
    """The approver's form of a draft: as sent when it was refused, else the drafted text."""
    form = bound.get(f"draft-{draft.pk}")
    if not isinstance(form, UpdateDraftForm):
        form = UpdateDraftForm(
            initial={name: getattr(draft, name) for name in ("status", "progress", "next_steps", "eta")}
        )
    form.auto_id = f"draft-{draft.pk}-%s"
    return form


@login_required
@require_GET
def incident_detail(request: HtmxHttpRequest, reference: str) -> HttpResponse:
    """Reloaded every 15 s (its live header and timeline) by everyone on the incident, so served
    from the cache (incidents.pages). Only the incident's lead (or a superuser) may push the next
    update, and only they and the comms lead may publish it, so the cached page has variants for
    them, told apart by the lead and comms lead it was drawn with."""
    # Before the cache: a restricted incident's cached page is never served to someone who may
    # not see it.
    selectors.incident_visible(reference=reference, user=request.user)
    template_name = "incidents/incident_detail.html"
    if request.htmx and request.htmx.target in FRAGMENTS:
        template_name += f"#{FRAGMENTS[request.htmx.target]}"

    def render_page(extra: dict[str, Any]) -> tuple[str, tuple[int, int | None]]:
        incident = selectors.incident_get(reference=reference, user=request.user)
        context = _detail_context(request, incident, shared=bool(extra))
        # The body redrawn after someone else's change: the reader's earlier message is stale.
        context["replace_messages"] = template_name.endswith("#incident-body")
        context.update(extra)
        return render_to_string(template_name, context, request), (incident.lead_id, incident.comms_lead_id)

    user = request.user
    edit = request.GET.get("edit")
    return pages.cached_page(
        request,
        page="incident",
        parts=(reference, template_name, _timeline_filters(request), edit if edit in EDITORS else None),
        render=render_page,
        # The lead (or a superuser) snoozes; they and the comms lead publish and approve; they and
        # the security group restrict.
        variant=lambda leads: (
            user.is_superuser or user.pk == leads[0],
            user.pk == leads[1],
            user.pk == leads[0] or sees_restricted(user),
        ),
    )


def _mutation(
    request: HtmxHttpRequest,
    reference: str,
    *,
    form_key: str,
    form_class: type[Form],
    apply: Callable[[Incident, dict[str, Any]], object],
    success: str | Callable[[Any], str],
    responders_only: bool = True,
) -> HttpResponse:
    """The shape every incident change shares: check the role, validate, call one service, then
    answer htmx with the refreshed incident body or a plain browser with a redirect. Refused input
    comes back in its form with the reason, so nothing typed is lost. `success` is the message, or
    makes it from what the service returned; `responders_only=False` leaves the check to the
    service (the security group restricts, whatever its role)."""
    if responders_only:
        _require_responder(request)
    incident = selectors.incident_get(reference=reference, user=request.user)
    given = {"incident": incident} if issubclass(form_class, StartsFromIncident) else {}
    form = form_class(request.POST, **given)
    if form.is_valid():
        seen = form.cleaned_data.pop("seen", None)
        unseen = None
        try:
            with transaction.atomic():
                if seen is not None:
                    unseen = selectors.incident_change_unseen(incident=incident, form=form_key, seen=seen)
                if unseen:
                    raise ValidationError(_changed_meanwhile(unseen))
                result = apply(incident, form.cleaned_data)
        except ValidationError as error:
            service_errors_apply(form, error)
            if unseen:
                incident = selectors.incident_get(reference=reference, user=request.user)
                form.restate(seen=seen, now=selectors.incident_form_presets(incident=incident, form=form_key))
        else:
            if callable(success):
                success = success(result)
            if not request.htmx:
                messages.success(request, success)
                return redirect(incident)
            incident = selectors.incident_get(reference=reference, user=request.user)
            context = _detail_context(request, incident)
            context.update(flash=success, replace_messages=True)
            return render(request, "incidents/incident_detail.html#incident-body", context)
    template_name = "incidents/incident_detail.html"
    context = _detail_context(request, incident, {form_key: form})
    if request.htmx:
        template_name += "#incident-body"
        context["replace_messages"] = True
    return render(request, template_name, context, status=INVALID)


def _changed_meanwhile(unseen: selectors.UnseenChange) -> str:
    event = unseen.event
    if event is None:
        return errors.CHANGED_MEANWHILE_UNKNOWN
    who = (event.actor.get_full_name() or event.actor.get_username()) if event.actor else "Incident Desk"
    what = event.text
    if event.kind == EventKind.UPDATE_SNOOZED and event.data.get("to"):
        # Its stored text says UTC; the reader reads their own zone, as on the timeline.
        to = datetime.fromisoformat(event.data["to"])
        what = f"Next update pushed by {event.data['minutes']} min to {local_clock(to)}"
    age = timezone.now() - event.recorded_at
    when = "just now" if age < timedelta(seconds=10) else f"{humanize_delta(age)} ago"
    return errors.CHANGED_MEANWHILE.format(who=who, when=when, what=what)


def _update_post(request: HttpRequest, incident: Incident, data: dict[str, Any]) -> object:
    """Post the update; a public one the severity policy wants approved becomes a draft instead."""
    if data["visibility"] == UpdateVisibility.PUBLIC and services.update_needs_approval(
        incident=incident, user=request.user
    ):
        del data["visibility"]
        result = services.update_draft_create(incident=incident, author=request.user, **data)
        data["visibility"] = UpdateVisibility.PUBLIC
    else:
        result = services.incident_update_post(incident=incident, author=request.user, **data)
    # The reader's choice stays for their next update.
    chosen = request.session.get(UPDATE_VISIBILITY_KEY, {})
    chosen[str(incident.pk)] = data["visibility"]
    request.session[UPDATE_VISIBILITY_KEY] = chosen
    return result


DRAFTED = "Drafted: the incident lead or comms lead publishes it once they approve it. Nothing is public yet."


@login_required
@require_POST
def update_post(request: HtmxHttpRequest, reference: str) -> HttpResponse:
    return _mutation(
        request,
        reference,
        form_key="update",
        form_class=StatusUpdateForm,
        apply=functools.partial(_update_post, request),
        success=lambda result: DRAFTED if isinstance(result, UpdateDraft) else "Status update posted.",
    )


@login_required
@require_POST
def update_draft_approve(request: HtmxHttpRequest, reference: str, draft_id: int) -> HttpResponse:
    return _mutation(
        request,
        reference,
        form_key=f"draft-{draft_id}",
        form_class=UpdateDraftForm,
        apply=lambda incident, data: services.update_draft_approve(
            draft=selectors.update_draft_get(incident=incident, pk=draft_id), actor=request.user, **data
        ),
        success="Approved and published: the update is on the status page.",
    )


@login_required
@require_POST
def update_draft_discard(request: HtmxHttpRequest, reference: str, draft_id: int) -> HttpResponse:
    return _mutation(
        request,
        reference,
        form_key=f"draft-{draft_id}",
        form_class=UpdateDraftDiscardForm,
        apply=lambda incident, data: services.update_draft_discard(
            draft=selectors.update_draft_get(incident=incident, pk=draft_id), actor=request.user
        ),
        success="Draft discarded. Nothing of it was public.",
    )


@login_required
@require_POST
def severity_change(request: HtmxHttpRequest, reference: str) -> HttpResponse:
    return _mutation(
        request,
        reference,
        form_key="severity",
        form_class=SeverityForm,
        apply=lambda incident, data: services.incident_severity_change(
            incident=incident, severity=data["severity"], reason=data["reason"], actor=request.user
        ),
        success="Severity changed; the next update is re-planned.",
    )


@login_required
@require_POST
def status_change(request: HtmxHttpRequest, reference: str) -> HttpResponse:
    return _mutation(
        request,
        reference,
        form_key="status",
        form_class=StatusForm,
        apply=lambda incident, data: services.incident_status_change(
            incident=incident, status=data["status"], actor=request.user
        ),
        success="Resolved." if request.POST.get("status") == IncidentStatus.RESOLVED else "Status changed.",
    )


@login_required
@require_POST
def roles_assign(request: HtmxHttpRequest, reference: str) -> HttpResponse:
    return _mutation(
        request,
        reference,
        form_key="roles",
        form_class=RolesForm,
        apply=lambda incident, data: services.incident_roles_assign(
            incident=incident,
            actor=request.user,
            lead=data["lead"],
            comms_lead=data["comms_lead"],
            clear_comms_lead=data["comms_lead"] is None,
            responders=data["responders"],
        ),
        success="Roles updated.",
    )


@login_required
@require_POST
def note_add(request: HtmxHttpRequest, reference: str) -> HttpResponse:
    return _mutation(
        request,
        reference,
        form_key="note",
        form_class=NoteForm,
        apply=lambda incident, data: services.incident_note_add(
            incident=incident, author=request.user, text=data["text"], occurred_at=data["occurred_at"]
        ),
        success="Note added to the timeline.",
    )


@login_required
@require_POST
def milestone_set(request: HtmxHttpRequest, reference: str) -> HttpResponse:
    return _mutation(
        request,
        reference,
        form_key="milestone",
        form_class=MilestoneForm,
        apply=lambda incident, data: services.incident_milestone_set(
            incident=incident, actor=request.user, milestone=data["milestone"], at=data["at"]
        ),
        success="Milestone recorded.",
    )


@login_required
@require_POST
def impact_update(request: HtmxHttpRequest, reference: str) -> HttpResponse:
    def apply(incident: Incident, data: dict[str, Any]) -> Incident:
        services_ = data.pop("affected_services")
        return services.incident_impact_update(
            incident=incident, actor=request.user, affected_services=services_, **data
        )

    return _mutation(
        request, reference, form_key="impact", form_class=ImpactForm, apply=apply, success="Impact updated."
    )


@login_required
@require_POST
def acknowledge(request: HtmxHttpRequest, reference: str) -> HttpResponse:
    return _mutation(
        request,
        reference,
        form_key="acknowledge",
        form_class=AcknowledgeForm,
        apply=lambda incident, data: services.incident_acknowledge(incident=incident, actor=request.user),
        success="Acknowledged: the escalation stops.",
    )


@login_required
@require_POST
def publish(request: HtmxHttpRequest, reference: str) -> HttpResponse:
    return _mutation(
        request,
        reference,
        form_key="publish",
        form_class=PublishForm,
        apply=lambda incident, data: services.incident_publish(incident=incident, actor=request.user, **data),
        success="Published: the incident is on the status page.",
    )


@login_required
@require_POST
def restriction_set(request: HtmxHttpRequest, reference: str) -> HttpResponse:
    restricted = request.POST.get("restricted") == "on"
    return _mutation(
        request,
        reference,
        form_key="restriction",
        form_class=RestrictionForm,
        apply=lambda incident, data: services.incident_restriction_set(
            incident=incident, actor=request.user, restricted=data["restricted"]
        ),
        success="Restricted to its participants and the security group." if restricted else "Opened to every reader.",
        responders_only=False,
    )


@login_required
@require_POST
def participants_add(request: HtmxHttpRequest, reference: str) -> HttpResponse:
    return _mutation(
        request,
        reference,
        form_key="participants",
        form_class=ParticipantsForm,
        apply=lambda incident, data: services.incident_participants_add(
            incident=incident, actor=request.user, users=data["people"]
        ),
        success="Added: they can see the incident.",
    )


@login_required
@require_POST
def update_snooze(request: HtmxHttpRequest, reference: str) -> HttpResponse:
    return _mutation(
        request,
        reference,
        form_key="snooze",
        form_class=SnoozeForm,
        apply=lambda incident, data: services.incident_update_snooze(
            incident=incident, actor=request.user, minutes=data["minutes"], reason=data["reason"]
        ),
        success="Next update pushed; reminders follow the new time.",
    )


@login_required
@require_POST
def event_star(request: HtmxHttpRequest, reference: str, event_id: int) -> HttpResponse:
    _require_responder(request)
    incident = selectors.incident_get(reference=reference, user=request.user)
    event = get_object_or_404(TimelineEvent, pk=event_id, incident=incident)
    event = services.timeline_event_star(event=event, starred=request.POST.get("starred") == "1")
    if request.htmx:
        return render(
            request,
            "incidents/incident_detail.html#timeline-event",
            {
                "event": event,
                "incident": incident,
                "can_respond": True,
                "star_url": f"{incident.get_absolute_url()}events/",
            },
        )
    return redirect(incident)


@login_required
@require_http_methods(["GET", "POST"])
def api_tokens(request: HtmxHttpRequest) -> HttpResponse:
    """Each user makes and revokes their own API tokens; a new token is shown once."""
    new_token = None
    if request.method == "POST":
        if "revoke" in request.POST:
            token = get_object_or_404(ApiToken, pk=request.POST["revoke"], user=request.user)
            services.api_token_revoke(token=token)
            messages.success(request, f"Token '{token.name}' revoked.")
            return redirect("incidents:api_tokens")
        _token, new_token = services.api_token_create(user=request.user, name=request.POST.get("name", ""))
    tokens = ApiToken.objects.filter(user=request.user)
    return render(request, "incidents/api_tokens.html", {"tokens": tokens, "new_token": new_token})
