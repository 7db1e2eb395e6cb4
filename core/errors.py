"""Messages every JSON API endpoint answers with, whichever app it belongs to. Tests import these
constants (through incidents.errors too, where they were first written)."""

INVALID_TOKEN = "Missing or invalid API token. Send 'Authorization: Bearer <token>'."  # noqa: S105 - a message, not a secret
METHOD_NOT_ALLOWED = "Method not allowed here. Allowed: {allowed}."
MALFORMED_JSON = "The request body is not valid JSON."
BODY_NOT_OBJECT = "The request body must be a JSON object."
BODY_TOO_LARGE = "The request body is too large."
FIELD_REQUIRED = "This field is required."
UNKNOWN_FIELD = "Unknown field."
NOT_A_STRING = "Must be a string."
NOT_A_BOOLEAN = "Must be true or false."
NOT_A_LIST = "Must be a list of strings."
NOT_AN_INTEGER = "Must be a whole number between {low} and {high}."
TOO_LONG = "Must be at most {limit} characters."
INVALID_CHARACTERS = "Must not contain NUL characters or unpaired surrogates."

# Outbound webhooks (severity, incident and subscription webhooks).
OUTBOUND_ADDRESS_REFUSED = (
    "This address is refused: webhooks may only go to public internet addresses, not to loopback, private, "
    "link-local, multicast or reserved ones (an administrator can allow networks with OUTBOUND_ALLOWED_NETWORKS)."
)
# What a failed webhook delivery records: never the connection error or the answer's status, which
# would tell an admin which internal ports are open.
WEBHOOK_NOT_ACCEPTED = "The webhook endpoint did not accept the delivery (no answer, or not a 2xx answer)."

# Any page or API call whose query string holds a NUL character (core/middleware.py).
QUERY_NOT_USABLE = "This address holds a character that cannot be used (NUL). Remove it from the address and try again."
