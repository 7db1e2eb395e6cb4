"""The OpenAPI 3.1 description of the JSON API in incidents/api.py, written by hand so that it says
what the API promises rather than what a generator guesses. Change it with the API."""

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from django.utils.module_loading import import_string

from incidents.api import MAX_COUNT, MAX_PAGE_SIZE, PAGE_SIZE, json_methods
from incidents.models import EventKind, Incident, IncidentStatus, SeverityPolicy, StatusUpdate, UpdateVisibility
from incidents.policy import LADDER_PERCENT_MAX, POLICY_MINUTES_MAX
from notifications.models import WebhookFormat


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _response(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/responses/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {**schema, "type": [schema["type"], "null"]}


TITLE_LENGTH = Incident._meta.get_field("title").max_length
ETA_LENGTH = StatusUpdate._meta.get_field("eta").max_length
MOMENT = {"type": "string", "format": "date-time", "description": "ISO 8601, in UTC (ends in Z)."}
MOMENT_INPUT = {
    "type": "string",
    "format": "date-time",
    "description": "ISO 8601 with a UTC offset, e.g. 2026-03-02T14:30:00Z or 2026-03-02T16:30:00+02:00.",
}
USERNAME = {"type": "string", "description": "A username."}
SEVERITY = {
    "type": "string",
    "description": "A severity key from the severity policy, e.g. SEV1. The policy is data: "
    "an unknown key is refused with the list of known ones.",
    "examples": ["SEV2"],
}
STATUS = {"type": "string", "enum": list(IncidentStatus.values)}
COUNT = {"type": "integer", "minimum": 0, "maximum": MAX_COUNT}
PERCENT_INPUT = {
    "type": ["number", "string", "null"],
    "description": '0 to 100, at most two decimal places; a string such as "12.5" keeps it exact.',
}

PAGE_PARAMETERS = [
    {
        "name": "limit",
        "in": "query",
        "description": f"Rows per page; larger values are cut to {MAX_PAGE_SIZE}.",
        "schema": {"type": "integer", "minimum": 1, "default": PAGE_SIZE},
    },
    {
        "name": "offset",
        "in": "query",
        "description": "Rows to skip.",
        "schema": {"type": "integer", "minimum": 0, "default": 0},
    },
]
REFERENCE_PARAMETER = {
    "name": "reference",
    "in": "path",
    "required": True,
    "description": "The incident's reference; case and leading zeros do not matter.",
    "schema": {"type": "string", "pattern": "^[Ii][Nn][Cc]-[0-9]+$", "examples": ["INC-0042"]},
}

KEY_PARAMETER = {
    "name": "key",
    "in": "path",
    "required": True,
    "description": "The severity's key, exactly as the policy spells it.",
    "schema": {"type": "string", "examples": ["SEV1"]},
}


def _policy_length(field: str) -> int:
    return SeverityPolicy._meta.get_field(field).max_length


GROUP_NAMES = {"type": "array", "items": {"type": "string"}, "description": "Group names."}
POLICY_PROPERTIES: dict[str, Any] = {
    "name": {"type": "string", "minLength": 1, "maxLength": _policy_length("name"), "examples": ["Critical"]},
    "description": {"type": "string", "maxLength": _policy_length("description")},
    "response_time_minutes": {
        "type": ["integer", "null"],
        "minimum": 1,
        "maximum": POLICY_MINUTES_MAX,
        "description": "Target time to respond; null means the next business day.",
    },
    "response_time_label": {
        "type": "string",
        "minLength": 1,
        "maxLength": _policy_length("response_time_label"),
        "description": "As people say it.",
        "examples": ["Immediate (< 15 min)"],
    },
    "update_cadence_minutes": {
        "type": ["integer", "null"],
        "minimum": 1,
        "maximum": POLICY_MINUTES_MAX,
        "description": "Minutes between status updates; null means as needed, with no reminders.",
    },
    "escalate_responders_after_percent": {
        "type": "integer",
        "minimum": 0,
        "maximum": LADDER_PERCENT_MAX,
        "description": "Ladder step 2: how far past due, as a percentage of the cadence, all responders and "
        "the webhook are told. At most escalate_contacts_after_percent.",
    },
    "escalate_contacts_after_percent": {
        "type": "integer",
        "minimum": 0,
        "maximum": LADDER_PERCENT_MAX,
        "description": "Ladder step 3: how far past due, as a percentage of the cadence, the escalation "
        "contacts are told.",
    },
    "escalation_groups": {**GROUP_NAMES, "description": "Group names; their members are escalation contacts."},
    "escalation_users": {"type": "array", "items": USERNAME, "description": "Escalation contacts by username."},
    "notified_groups": {
        **GROUP_NAMES,
        "description": "Group names told when an incident of this severity is declared, raised or resolved.",
    },
    "stakeholders_label": {"type": "string", "maxLength": _policy_length("stakeholders_label")},
    "show_on_status_page": {"type": "boolean"},
    "webhook_url": {
        "type": "string",
        "maxLength": _policy_length("webhook_url"),
        "description": "An http(s) URL where incidents of this severity post notices and reminders; empty for none.",
    },
    "webhook_format": {"type": "string", "enum": list(WebhookFormat.values)},
}

IMPACT_PROPERTIES: dict[str, Any] = {
    "affected_users_count": _nullable(COUNT),
    "affected_users_percent": PERCENT_INPUT,
    "affected_services": {"type": "array", "items": {"type": "string"}, "description": "Service slugs."},
    "business_impact": {"type": "string"},
    "data_integrity_concern": {"type": "boolean"},
    "security_concern": {"type": "boolean"},
}

SCHEMAS: dict[str, Any] = {
    "Impact": {
        "type": "object",
        "required": list(IMPACT_PROPERTIES),
        "properties": {
            "affected_users_count": _nullable(COUNT),
            "affected_users_percent": {
                "type": ["string", "null"],
                "description": 'A decimal string with two places, e.g. "12.50", so no precision is lost.',
            },
            "affected_services": {"type": "array", "items": {"type": "string"}, "description": "Service slugs."},
            "business_impact": {"type": "string"},
            "data_integrity_concern": {"type": "boolean"},
            "security_concern": {"type": "boolean"},
        },
    },
    "Incident": {
        "type": "object",
        "required": [
            "reference",
            "url",
            "title",
            "summary",
            "severity",
            "status",
            "impact",
            "lead",
            "comms_lead",
            "responders",
            "detected_at",
            "declared_at",
            "acknowledged_at",
            "mitigated_at",
            "resolved_at",
            "next_update_due_at",
            "last_update_at",
        ],
        "properties": {
            "reference": {"type": "string", "examples": ["INC-0042"]},
            "url": {"type": "string", "format": "uri", "description": "The incident's page for people."},
            "title": {"type": "string"},
            "summary": {"type": "string"},
            "severity": SEVERITY,
            "status": STATUS,
            "impact": _ref("Impact"),
            "lead": USERNAME,
            "comms_lead": _nullable(USERNAME),
            "responders": {"type": "array", "items": USERNAME},
            "detected_at": MOMENT,
            "declared_at": MOMENT,
            "acknowledged_at": _nullable(MOMENT),
            "mitigated_at": _nullable(MOMENT),
            "resolved_at": _nullable(MOMENT),
            "next_update_due_at": {
                **_nullable(MOMENT),
                "description": "When the next status update is due; null when resolved or the severity has "
                "no update cadence.",
            },
            "last_update_at": _nullable(MOMENT),
        },
    },
    "IncidentPage": {
        "type": "object",
        "required": ["count", "results"],
        "properties": {
            "count": {"type": "integer", "description": "All matching incidents, not just this page."},
            "results": {"type": "array", "items": _ref("Incident")},
        },
    },
    "DeclareIncident": {
        "type": "object",
        "additionalProperties": False,
        "required": ["title", "severity"],
        "properties": {
            "title": {"type": "string", "maxLength": TITLE_LENGTH},
            "severity": SEVERITY,
            "summary": {"type": "string"},
            "detected_at": {**_nullable(MOMENT_INPUT), "description": "Defaults to now; may be earlier."},
            "lead": {**_nullable(USERNAME), "description": "Defaults to the token's user."},
            "comms_lead": _nullable(USERNAME),
            "responders": {"type": "array", "items": USERNAME},
            **IMPACT_PROPERTIES,
        },
    },
    "ChangeIncident": {
        "type": "object",
        "additionalProperties": False,
        "description": "Any subset of the fields. All changes are made together or none is; a field "
        "already holding the given value is left alone.",
        "properties": {
            "title": {"type": "string", "maxLength": TITLE_LENGTH},
            "summary": {"type": "string"},
            "severity": {**SEVERITY, "description": "Re-plans when the next status update is due."},
            "status": STATUS,
            "lead": USERNAME,
            "comms_lead": {**_nullable(USERNAME), "description": "null removes the comms lead."},
            "responders": {"type": "array", "items": USERNAME, "description": "The full list; replaces it."},
            **IMPACT_PROPERTIES,
        },
    },
    "PostUpdate": {
        "type": "object",
        "additionalProperties": False,
        "required": ["progress"],
        "properties": {
            "progress": {"type": "string", "description": "What we know and what has been done."},
            "status": {**STATUS, "description": "Moves the incident to this status too."},
            "next_steps": {"type": "string"},
            "eta": {"type": "string", "maxLength": ETA_LENGTH},
            "visibility": {"type": "string", "enum": list(UpdateVisibility.values), "default": "internal"},
        },
    },
    "StatusUpdate": {
        "type": "object",
        "required": ["id", "incident", "author", "posted_at", "status", "progress", "next_steps", "eta", "visibility"],
        "properties": {
            "id": {"type": "integer"},
            "incident": {"type": "string", "examples": ["INC-0042"]},
            "author": USERNAME,
            "posted_at": MOMENT,
            "status": STATUS,
            "progress": {"type": "string"},
            "next_steps": {"type": "string"},
            "eta": {"type": "string"},
            "visibility": {"type": "string", "enum": list(UpdateVisibility.values)},
        },
    },
    "TimelineEvent": {
        "type": "object",
        "required": ["id", "kind", "text", "body", "actor", "occurred_at", "recorded_at", "starred", "data"],
        "properties": {
            "id": {"type": "integer"},
            "kind": {"type": "string", "enum": list(EventKind.values)},
            "text": {"type": "string", "description": "A one-line summary."},
            "body": {"type": "string"},
            "actor": _nullable(USERNAME),
            "occurred_at": {**MOMENT, "description": "When it happened; may be earlier than recorded_at."},
            "recorded_at": MOMENT,
            "starred": {"type": "boolean"},
            "data": {"type": "object", "description": "Details that depend on the kind."},
        },
    },
    "TimelinePage": {
        "type": "object",
        "required": ["count", "results"],
        "properties": {
            "count": {"type": "integer"},
            "results": {"type": "array", "items": _ref("TimelineEvent")},
        },
    },
    "SeverityPolicy": {
        "type": "object",
        "required": ["key", "name", "rank", *POLICY_PROPERTIES],
        "properties": {
            "key": {"type": "string", "examples": ["SEV1"]},
            "rank": {"type": "integer", "description": "1 is the most severe."},
            **POLICY_PROPERTIES,
        },
    },
    "SeverityPolicyList": {
        "type": "object",
        "required": ["count", "results"],
        "properties": {
            "count": {"type": "integer"},
            "results": {"type": "array", "items": _ref("SeverityPolicy"), "description": "By rank, most severe first."},
        },
    },
    "ChangeSeverityPolicy": {
        "type": "object",
        "additionalProperties": False,
        "description": "Any subset of the fields; key and rank cannot be changed. Lists replace the current "
        "ones. A new update_cadence_minutes re-plans every active incident of the severity: its next update "
        "falls due one new cadence after its last update (or its declaration or reopening), or never while "
        "the cadence is null.",
        "properties": POLICY_PROPERTIES,
    },
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {"error": {"type": "string"}},
    },
    "InvalidInput": {
        "type": "object",
        "required": ["errors"],
        "properties": {
            "errors": {
                "type": "object",
                "description": "Messages by field name; '__all__' holds those about the whole body.",
                "additionalProperties": {"type": "array", "items": {"type": "string"}},
            }
        },
        "examples": [{"errors": {"severity": ["Unknown severity. Use one of: SEV1, SEV2, SEV3, SEV4."]}}],
    },
}

RESPONSES: dict[str, Any] = {
    "InvalidInput": _json(_ref("InvalidInput"), "The input was refused; nothing was changed."),
    "Unauthorized": {
        **_json(_ref("Error"), "No token, or one that is unknown or belongs to an inactive user."),
        "headers": {"WWW-Authenticate": {"schema": {"type": "string", "const": "Bearer"}}},
    },
    "Forbidden": _json(_ref("Error"), "The token's user may read but not change incidents."),
    "NotFound": _json(_ref("Error"), "No incident with that reference."),
    "PolicyForbidden": _json(_ref("Error"), "The token's user may read but not change the severity policy."),
    "PolicyNotFound": _json(_ref("Error"), "No severity with that key."),
    "MethodNotAllowed": {
        **_json(_ref("Error"), "This path does not take that method."),
        "headers": {"Allow": {"schema": {"type": "string"}, "description": "The methods it takes."}},
    },
}


def _errors(*names: str) -> dict[str, Any]:
    codes = {
        "InvalidInput": "400",
        "Unauthorized": "401",
        "Forbidden": "403",
        "PolicyForbidden": "403",
        "NotFound": "404",
        "PolicyNotFound": "404",
    }
    return {codes[name]: _response(name) for name in names} | {"405": _response("MethodNotAllowed")}


def _body(name: str) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": _ref(name)}}}


PATHS: dict[str, Any] = {
    "/incidents/": {
        "get": {
            "operationId": "listIncidents",
            "summary": "List incidents, newest first",
            "parameters": [
                {
                    "name": "status",
                    "in": "query",
                    "description": "active (anything not resolved) or one status.",
                    "schema": {"type": "string", "enum": ["active", *IncidentStatus.values]},
                },
                {"name": "severity", "in": "query", "schema": SEVERITY},
                *PAGE_PARAMETERS,
            ],
            "responses": {
                "200": _json(_ref("IncidentPage"), "A page of incidents."),
                **_errors("InvalidInput", "Unauthorized"),
            },
        },
        "post": {
            "operationId": "declareIncident",
            "summary": "Declare an incident",
            "description": "Opens it in investigating; the first status update falls due one update cadence "
            "of its severity from now.",
            "requestBody": _body("DeclareIncident"),
            "responses": {
                "201": {
                    **_json(_ref("Incident"), "Declared."),
                    "headers": {
                        "Location": {
                            "schema": {"type": "string", "format": "uri"},
                            "description": "The incident in this API.",
                        }
                    },
                },
                **_errors("InvalidInput", "Unauthorized", "Forbidden"),
            },
        },
    },
    "/incidents/{reference}/": {
        "parameters": [REFERENCE_PARAMETER],
        "get": {
            "operationId": "getIncident",
            "summary": "One incident",
            "responses": {"200": _json(_ref("Incident"), "The incident."), **_errors("Unauthorized", "NotFound")},
        },
        "patch": {
            "operationId": "changeIncident",
            "summary": "Change severity, status, roles, title, summary or impact",
            "requestBody": _body("ChangeIncident"),
            "responses": {
                "200": _json(_ref("Incident"), "The incident after the change."),
                **_errors("InvalidInput", "Unauthorized", "Forbidden", "NotFound"),
            },
        },
    },
    "/incidents/{reference}/updates/": {
        "parameters": [REFERENCE_PARAMETER],
        "post": {
            "operationId": "postStatusUpdate",
            "summary": "Post a status update",
            "description": "The next update falls due one cadence from now; none once resolved.",
            "requestBody": _body("PostUpdate"),
            "responses": {
                "201": _json(_ref("StatusUpdate"), "Posted."),
                **_errors("InvalidInput", "Unauthorized", "Forbidden", "NotFound"),
            },
        },
    },
    "/incidents/{reference}/timeline/": {
        "parameters": [REFERENCE_PARAMETER],
        "get": {
            "operationId": "getTimeline",
            "summary": "The incident's timeline, oldest first",
            "parameters": PAGE_PARAMETERS,
            "responses": {
                "200": _json(_ref("TimelinePage"), "A page of timeline events."),
                **_errors("InvalidInput", "Unauthorized", "NotFound"),
            },
        },
    },
    "/severity-policies/": {
        "get": {
            "operationId": "listSeverityPolicies",
            "summary": "The severity policy, most severe first",
            "responses": {
                "200": _json(_ref("SeverityPolicyList"), "Every severity."),
                **_errors("Unauthorized"),
            },
        },
    },
    "/severity-policies/{key}/": {
        "parameters": [KEY_PARAMETER],
        "get": {
            "operationId": "getSeverityPolicy",
            "summary": "One severity",
            "responses": {
                "200": _json(_ref("SeverityPolicy"), "The severity."),
                **_errors("Unauthorized", "PolicyNotFound"),
            },
        },
        "patch": {
            "operationId": "changeSeverityPolicy",
            "summary": "Change response targets, update cadence, escalation ladder or who is told",
            "description": "Needs permission to change the severity policy (the admin role).",
            "requestBody": _body("ChangeSeverityPolicy"),
            "responses": {
                "200": _json(_ref("SeverityPolicy"), "The severity after the change."),
                **_errors("InvalidInput", "Unauthorized", "PolicyForbidden", "PolicyNotFound"),
            },
        },
    },
    "/openapi.json": {
        "get": {
            "operationId": "getOpenApi",
            "summary": "This document",
            "security": [],
            "responses": {
                "200": {"description": "OpenAPI 3.1", "content": {"application/json": {}}},
                "405": _response("MethodNotAllowed"),
            },
        },
    },
}


def openapi_document(*, server_url: str) -> dict[str, Any]:
    """The API of incidents plus the parts the apps built on it document themselves
    (settings.API_DOCUMENT_PARTS: functions returning {"paths": …, "schemas": …})."""
    paths, schemas = dict(PATHS), dict(SCHEMAS)
    for path in getattr(settings, "API_DOCUMENT_PARTS", []):
        part = import_string(path)()
        paths.update(part.get("paths", {}))
        schemas.update(part.get("schemas", {}))
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Incident Desk API",
            "version": "1",
            "description": "Declare and update incidents from alert tools and scripts. Send a token in "
            "'Authorization: Bearer <token>' (make one with `python manage.py create_api_token USERNAME`). "
            "Every role may read; changing incidents needs the responder or admin role, and changing the "
            "severity policy the admin role.",
        },
        "servers": [{"url": server_url}],
        "security": [{"bearerAuth": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
            "schemas": schemas,
            "responses": RESPONSES,
        },
    }


@json_methods("GET")
def openapi(request: HttpRequest) -> HttpResponse:
    """Served without a token: tools read the description before they have one."""
    api_root = reverse("api:openapi").rpartition("/")[0]
    return JsonResponse(openapi_document(server_url=settings.SITE_URL + api_root))
