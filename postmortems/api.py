"""GET/PATCH /api/v1/incidents/{reference}/postmortem/ for tools that sync postmortems elsewhere.
The merge rule is the editor's (postmortem_sections_save): a PATCH from an old version merges
unless a section it changes was changed since, which answers 409 with the current text."""

from datetime import date, datetime
from typing import Annotated, Any

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status
from ninja.errors import HttpError
from pydantic import AfterValidator, WithJsonSchema, model_validator
from pydantic_core import PydanticCustomError

from core import errors as api_errors
from core.api import BearerToken, Body, Error, InvalidInput, refuse_fields, storable
from core.permissions import can_respond
from incidents import errors as incident_errors
from incidents import selectors as incident_selectors
from incidents.models import reference_to_pk
from postmortems import errors, models, services
from postmortems.models import SECTIONS, PostmortemStatus

router = Router(auth=BearerToken(may_write=can_respond, refusal=incident_errors.NOT_PERMITTED))

SECTIONS_SCHEMA = {
    "type": "object",
    "properties": {name: {"type": "string", "description": f"{label} (Markdown)."} for name, label in SECTIONS.items()},
}
SECTIONS_SHAPE = "An object of section name → Markdown text, with at least one section."


def _sections(value: Any) -> dict[str, str]:
    """Every problem with the sections at once: unknown names, and each text by its own name."""
    if not isinstance(value, dict) or not value:
        raise refuse_fields({"sections": [SECTIONS_SHAPE]})
    messages: dict[str, list[str]] = {}
    unknown = sorted(set(value) - set(SECTIONS))
    if unknown:
        messages["sections"] = [errors.UNKNOWN_SECTIONS.format(names=", ".join(unknown))]
    for name, text in value.items():
        if name not in SECTIONS:
            continue
        if not isinstance(text, str):
            messages[f"sections.{name}"] = [api_errors.NOT_A_STRING]
        elif storable_problem := _storable_problem(text):
            messages[f"sections.{name}"] = [storable_problem]
    if messages:
        raise refuse_fields(messages)
    return value


def _storable_problem(text: str) -> str | None:
    try:
        storable(text)
    except PydanticCustomError:
        return api_errors.INVALID_CHARACTERS
    return None


class SavePostmortemSections(Body):
    """Sections nobody changed since `version` are saved (others' changes to other sections are
    kept: the save merges)."""

    version: int = Field(description="The version you last read.")
    sections: Annotated[
        dict[str, Any],
        WithJsonSchema({**SECTIONS_SCHEMA, "minProperties": 1, "additionalProperties": False}),
        AfterValidator(_sections),
    ]

    @model_validator(mode="before")
    @classmethod
    def _known_and_present(cls, data: Any) -> Any:
        # Unknown and missing fields are answered first, alone, as sync tools have always been told.
        if not isinstance(data, dict):
            return data
        messages = {name: [api_errors.UNKNOWN_FIELD] for name in data if name not in cls.model_fields}
        messages |= {name: [api_errors.FIELD_REQUIRED] for name in cls.model_fields if name not in data}
        if messages:
            raise refuse_fields(messages)
        return data


class Postmortem(Schema):
    reference: str = Field(examples=["INC-0042"])
    status: PostmortemStatus
    version: int = Field(ge=1)
    owner: str | None = Field(description="A username.")
    required: bool
    due_on: date | None
    published_at: datetime | None
    updated_at: datetime
    sections: Annotated[dict[str, str], WithJsonSchema(SECTIONS_SCHEMA)]
    section_versions: dict[str, int] = Field(description="The version at which each section last changed.")


class PostmortemConflict(Schema):
    error: str
    version: int = Field(description="The current version.")
    conflicts: list[str]
    current: Annotated[dict[str, str], WithJsonSchema(SECTIONS_SCHEMA)]


def postmortem_json(postmortem: models.Postmortem) -> dict[str, Any]:
    return {
        "reference": postmortem.incident.reference,
        "status": postmortem.status,
        "version": postmortem.version,
        "owner": None if postmortem.owner is None else postmortem.owner.get_username(),
        "required": postmortem.required,
        "due_on": postmortem.due_on,
        "published_at": postmortem.published_at,
        "updated_at": postmortem.updated_at,
        "sections": postmortem.sections(),
        "section_versions": {name: postmortem.section_versions.get(name, 1) for name in SECTIONS},
    }


def _postmortem_or_404(request: HttpRequest, reference: str) -> models.Postmortem:
    try:
        pk = reference_to_pk(reference)
    except ValueError:
        pk = None
    incident = None if pk is None else incident_selectors.visible_incidents(request.auth).filter(pk=pk).first()
    if incident is None:
        raise HttpError(404, incident_errors.UNKNOWN_INCIDENT)
    postmortem = models.Postmortem.objects.select_related("incident", "owner").filter(incident=incident).first()
    if postmortem is None:
        raise HttpError(404, errors.NO_POSTMORTEM)
    return postmortem


ERRORS = {401: Error, 403: Error, 404: Error, 405: Error}


@router.get(
    "incidents/{reference}/postmortem/",
    response={200: Postmortem, **ERRORS},
    operation_id="getPostmortem",
    url_name="incident_postmortem",
)
def get_postmortem(request: HttpRequest, reference: str) -> dict[str, Any]:
    """The incident's postmortem: its sections and the version they are at."""
    return postmortem_json(_postmortem_or_404(request, reference))


@router.patch(
    "incidents/{reference}/postmortem/",
    response={200: Postmortem, 400: InvalidInput, 409: PostmortemConflict, **ERRORS},
    operation_id="savePostmortemSections",
    url_name="incident_postmortem",
)
def save_postmortem_sections(request: HttpRequest, reference: str, payload: SavePostmortemSections) -> Any:
    """Save sections, based on the version you last read. If a section you send was changed since
    `version`, nothing is saved and the answer is 409 with the current text of every section and
    the names of those in conflict. Needs the responder role; a published postmortem is read-only
    (400)."""
    postmortem = _postmortem_or_404(request, reference)
    try:
        saved = services.postmortem_sections_save(
            postmortem=postmortem, actor=request.auth, base_version=payload.version, sections=payload.sections
        )
    except services.PostmortemConflict as conflict:
        return Status(
            409,
            {
                "error": str(conflict),
                "version": conflict.version,
                "conflicts": sorted(conflict.current),
                "current": conflict.current,
            },
        )
    saved.incident = postmortem.incident
    return postmortem_json(saved)
