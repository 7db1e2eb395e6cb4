"""Messages people see from the notifications app; tests import them."""

WEBHOOK_URL_INVALID = "Enter a full web address starting with https:// (or http://)."
WEBHOOK_URL_TOO_LONG = "A webhook address can be at most 500 characters."
WEBHOOK_FORMAT_UNKNOWN = "Choose Slack-compatible or JSON."
