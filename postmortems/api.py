"""GET/PATCH /api/v1/incidents/{ref}/postmortem/ for tools that sync postmortems elsewhere. Bearer
tokens, JSON errors and input checks are incidents.api's; the merge rule is the editor's
(postmortem_sections_save): a PATCH from an old version merges unless a section it changes was
changed since, which answers 409 with the current text."""

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse

from incidents.api import (
    InvalidInput,
    Payload,
    _error,
    _incident_or_404,
    _json_object,
    _moment,
    json_methods,
    token_required,
)
from postmortems import errors, services
from postmortems.models import SECTIONS, Postmortem, PostmortemStatus

PATCH_FIELDS = {"version", "sections"}


def _person(user) -> str | None:
    return None if user is None else user.get_username()


def postmortem_json(postmortem: Postmortem) -> dict[str, Any]:
    return {
        "reference": postmortem.incident.reference,
        "status": postmortem.status,
        "version": postmortem.version,
        "owner": _person(postmortem.owner),
        "required": postmortem.required,
        "due_on": postmortem.due_on.isoformat() if postmortem.due_on else None,
        "published_at": _moment(postmortem.published_at),
        "updated_at": _moment(postmortem.updated_at),
        "sections": postmortem.sections(),
        "section_versions": {name: postmortem.section_versions.get(name, 1) for name in SECTIONS},
    }


def _sections(payload: Payload) -> dict[str, str]:
    value = payload.data["sections"]
    if not isinstance(value, dict) or not value:
        payload.refuse("sections", "An object of section name → Markdown text, with at least one section.")
        return {}
    unknown = sorted(set(value) - set(SECTIONS))
    if unknown:
        payload.refuse("sections", errors.UNKNOWN_SECTIONS.format(names=", ".join(unknown)))
    sections = {}
    for name in value:
        if name in SECTIONS:
            sub = Payload({name: value[name]}, allowed=set(SECTIONS))
            sections[name] = sub.text(name)
            for message in sub.messages.get(name, []):
                payload.refuse(f"sections.{name}", message)
    return sections


@json_methods("GET", "PATCH")
@token_required
def incident_postmortem(request: HttpRequest, reference: str) -> HttpResponse:
    incident = _incident_or_404(reference)
    postmortem = Postmortem.objects.select_related("incident", "owner").filter(incident=incident).first()
    if postmortem is None:
        return _error(errors.NO_POSTMORTEM, status=404)
    if request.method == "GET":
        return JsonResponse(postmortem_json(postmortem))
    payload = Payload(_json_object(request), allowed=PATCH_FIELDS)
    payload.require("version", "sections")
    payload.check()
    version = payload.data["version"]
    if isinstance(version, bool) or not isinstance(version, int):
        payload.refuse("version", "The version you last read, an integer.")
    sections = _sections(payload)
    if payload.messages:
        raise InvalidInput(payload.messages)
    try:
        saved = services.postmortem_sections_save(
            postmortem=postmortem, actor=request.user, base_version=version, sections=sections
        )
    except services.PostmortemConflict as conflict:
        return JsonResponse(
            {
                "error": str(conflict),
                "version": conflict.version,
                "conflicts": sorted(conflict.current),
                "current": conflict.current,
            },
            status=409,
        )
    saved.incident = incident
    return JsonResponse(postmortem_json(saved))


def openapi_part() -> dict[str, Any]:
    """This endpoint's part of /api/v1/openapi.json (settings.API_DOCUMENT_PARTS)."""
    from incidents.openapi import MOMENT, REFERENCE_PARAMETER, _body, _errors, _json, _nullable, _ref

    sections = {name: {"type": "string", "description": f"{label} (Markdown)."} for name, label in SECTIONS.items()}
    return {
        "paths": {
            "/incidents/{reference}/postmortem/": {
                "parameters": [REFERENCE_PARAMETER],
                "get": {
                    "operationId": "getPostmortem",
                    "summary": "The incident's postmortem: its sections and the version they are at",
                    "responses": {
                        "200": _json(_ref("Postmortem"), "The postmortem."),
                        **_errors("Unauthorized", "NotFound"),
                    },
                },
                "patch": {
                    "operationId": "savePostmortemSections",
                    "summary": "Save sections, based on the version you last read",
                    "description": "Sections nobody changed since `version` are saved (others' changes to other "
                    "sections are kept: the save merges). If a section you send was changed since `version`, "
                    "nothing is saved and the answer is 409 with the current text of every section and the "
                    "names of those in conflict. Needs the responder role; a published postmortem is "
                    "read-only (400).",
                    "requestBody": _body("SavePostmortemSections"),
                    "responses": {
                        "200": _json(_ref("Postmortem"), "Saved; the new version."),
                        "409": _json(_ref("PostmortemConflict"), "A section you changed was changed since."),
                        **_errors("InvalidInput", "Unauthorized", "Forbidden", "NotFound"),
                    },
                },
            }
        },
        "schemas": {
            "Postmortem": {
                "type": "object",
                "properties": {
                    "reference": {"type": "string", "examples": ["INC-0042"]},
                    "status": {"type": "string", "enum": [value for value, _ in PostmortemStatus.choices]},
                    "version": {"type": "integer", "minimum": 1},
                    "owner": _nullable({"type": "string", "description": "A username."}),
                    "required": {"type": "boolean"},
                    "due_on": _nullable({"type": "string", "format": "date"}),
                    "published_at": _nullable(MOMENT),
                    "updated_at": MOMENT,
                    "sections": {"type": "object", "properties": sections},
                    "section_versions": {
                        "type": "object",
                        "description": "The version at which each section last changed.",
                        "additionalProperties": {"type": "integer"},
                    },
                },
            },
            "SavePostmortemSections": {
                "type": "object",
                "required": ["version", "sections"],
                "additionalProperties": False,
                "properties": {
                    "version": {"type": "integer", "description": "The version you last read."},
                    "sections": {
                        "type": "object",
                        "minProperties": 1,
                        "additionalProperties": False,
                        "properties": sections,
                    },
                },
            },
            "PostmortemConflict": {
                "type": "object",
                "properties": {
                    "error": {"type": "string"},
                    "version": {"type": "integer", "description": "The current version."},
                    "conflicts": {"type": "array", "items": {"type": "string"}},
                    "current": {"type": "object", "properties": sections},
                },
            },
        },
    }
