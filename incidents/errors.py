"""Messages users see when their input is refused. Tests import these constants."""

# The JSON API's own messages live with it in core; they are named here too, where tests find them.
from core.errors import (  # noqa: F401
    BODY_NOT_OBJECT,
    BODY_TOO_LARGE,
    FIELD_REQUIRED,
    INVALID_CHARACTERS,
    INVALID_TOKEN,
    MALFORMED_JSON,
    METHOD_NOT_ALLOWED,
    NOT_A_BOOLEAN,
    NOT_A_LIST,
    NOT_A_STRING,
    NOT_AN_INTEGER,
    TOO_LONG,
    UNKNOWN_FIELD,
)

TITLE_REQUIRED = "Give the incident a title, e.g. 'Checkout API returns 500s'."
DETECTED_IN_FUTURE = "Detected time cannot be in the future."
MILESTONE_IN_FUTURE = "A milestone cannot be in the future."
MILESTONE_BEFORE_DETECTED = "A milestone cannot be earlier than when the incident was detected."
MILESTONE_AFTER_RESOLVED = "A milestone cannot be later than when the incident was resolved."
NOTE_IN_FUTURE = "A note cannot have happened in the future."
PERCENT_OUT_OF_RANGE = "Affected users as a percentage must be between 0 and 100."
SAME_SEVERITY = "The incident already has this severity."
SAME_STATUS = "The incident already has this status."
UPDATE_WOULD_REOPEN = (
    "{reference} was resolved while you wrote this. Post the update as Resolved, or reopen the incident "
    "first with Reopen: an update never reopens it."
)
# A form sent from a page that no longer shows the incident as it is.
CHANGED_MEANWHILE = (
    "While you had this page open, {who} made a change {when}: “{what}”. Nothing was saved. "
    "The page now shows the incident as it is: check your entry and submit again."
)
CHANGED_MEANWHILE_UNKNOWN = (
    "This changed while you had the page open. Nothing was saved. The page now shows the incident as it "
    "is: check your entry and submit again."
)
UPDATE_PROGRESS_REQUIRED = "Say what you know or what has been done: the update's progress cannot be empty."
NOTE_REQUIRED = "A note cannot be empty."
ALREADY_RESOLVED = "This incident is resolved. Reopen it first."
UNKNOWN_MILESTONE = "Unknown milestone."
LEAD_REQUIRED = "An incident always has an incident lead."
NOT_PERMITTED = "Declaring and changing incidents needs the responder role; yours lets you read. Ask an admin for it."
UNKNOWN_INCIDENT = "No incident with that reference."

# The JSON API and the create_api_token command. Messages with {placeholders} are formatted.
NOT_A_PERCENT = "Must be a number with at most two decimal places, e.g. 12.5."
BAD_DATETIME = "Must be an ISO 8601 date and time with a UTC offset, e.g. 2026-03-02T14:30:00Z."
UNKNOWN_SEVERITY = "Unknown severity. Use one of: {keys}."
UNKNOWN_STATUS = "Unknown status. Use one of: {values}."
UNKNOWN_LIST_STATUS = "Unknown status. Use active or one of: {values}."
UNKNOWN_VISIBILITY = "Unknown visibility. Use one of: {values}."
UNKNOWN_USERS = "No active user named: {names}."
UNKNOWN_SERVICES = "No service with the slug: {slugs}."
BAD_LIMIT = "Must be a whole number, 1 or more (a page holds at most {high})."
BAD_OFFSET = "Must be a whole number, 0 or more."
BAD_CURSOR = "Not a cursor this API gave out: pass the next_cursor of the previous page unchanged."
CURSOR_WITH_OFFSET = "Use either cursor or offset, not both."
UNKNOWN_USER = "No user named '{username}'."
INACTIVE_USER = "User '{username}' is inactive; an API token for them would be refused."
NAME_TOO_LONG = "A name must be at most {limit} characters."
DETECTED_AFTER_DECLARED = "Detected time cannot be after the declaration."
UNKNOWN_FIELDS = "Unknown fields: {names}."
COUNT_OUT_OF_RANGE = "Affected users must be a whole number from 0 to 2147483647."
NOTHING_TO_SNOOZE = "There is no scheduled update to push: the incident is resolved or its severity has none."
SNOOZE_LEAD_ONLY = "Only the incident lead can push the next update."
SNOOZE_RANGE = "Push the next update by 1 to {limit} minutes (at most one cadence)."
SNOOZE_REASON_REQUIRED = "Say why the update can wait; the reason goes on the timeline."

# The severity policy, read and changed through the JSON API.
POLICY_NOT_PERMITTED = "Only admins can change the severity policy."
UNKNOWN_SEVERITY_POLICY = "No severity with that key."
UNKNOWN_GROUPS = "No group named: {names}."
UNKNOWN_WEBHOOK_FORMAT = "Unknown webhook format. Use one of: {values}."
VALUE_REQUIRED = "This cannot be empty."
CADENCE_OUT_OF_RANGE = "The update cadence must be 1 to {high} minutes, or null for updates as needed."
RESPONSE_TIME_OUT_OF_RANGE = "The response time must be 1 to {high} minutes, or null for the next business day."
TARGET_OUT_OF_RANGE = "A target must be 1 to {high} minutes, or null for no target."
LADDER_PERCENT_OUT_OF_RANGE = "Must be a whole percentage of the cadence from 0 to {high}."
LADDER_OUT_OF_ORDER = (
    "Responders are told before escalation contacts: escalate_responders_after_percent cannot be more than "
    "escalate_contacts_after_percent."
)
BAD_WEBHOOK_URL = "Enter an http:// or https:// URL, or an empty string for no webhook."

# The public voice: who may put an incident on the status page.
PUBLISH_LEAD_ONLY = "Only the incident lead or the comms lead can publish this incident to the status page."
ALREADY_PUBLISHED = "This incident is already on the status page."
RESTRICT_LEAD_OR_SECURITY = "Only the incident lead or the security group can restrict or open this incident."
SAME_RESTRICTION = "The incident is already so."
IMPORT_RESOLVED_REQUIRED = "An imported incident must be resolved: import past incidents only."
IMPORT_IN_FUTURE = "Times of an imported incident cannot be in the future."
IMPORT_OUT_OF_ORDER = "Times must run detected ≤ acknowledged ≤ mitigated ≤ resolved."

# Acknowledging an incident: a person answers for it.
ACKNOWLEDGE_RESOLVED = "The incident is resolved: there is nothing to acknowledge."
ALREADY_ACKNOWLEDGED = "The incident was already acknowledged."
ACKNOWLEDGE_PEOPLE_ONLY = "Only a person who may act on incidents can acknowledge one."

# Public updates that need approval (the severity policy's public_updates_need_approval).
PUBLIC_UPDATE_NEEDS_APPROVAL = (
    "Public updates of {severity} incidents need the approval of the incident lead or the comms lead: "
    "draft it, and they publish it."
)
APPROVE_LEAD_ONLY = "Only the incident lead or the comms lead can approve and publish a public update."
DISCARD_NOT_PERMITTED = "Only its author, the incident lead or the comms lead can discard this draft."
DRAFT_ALREADY_DECIDED = "This draft was already {state} by {who}: nothing was changed."
UNKNOWN_DRAFT = "No such draft on this incident."
