"""Messages people see, as constants the tests import."""

UNKNOWN_STATUS = "Choose one of the component statuses."
TITLE_REQUIRED = "Give the maintenance a title."
MAINTENANCE_ENDS_BEFORE_START = "The maintenance must end after it starts."
MAINTENANCE_NOTICE_TOO_SHORT = "Maintenance is announced at least 72 hours ahead; tick short notice to plan it sooner."
BAD_EMAIL = "Enter a valid email address."
INVALID_LINK = "This link is not valid any more."
TOO_MANY_SUBSCRIPTIONS = "Too many subscription requests from your network. Try again in an hour."
SUBSCRIBE_SENT = "Check your inbox: we sent a link to confirm your subscription."
CONFIRMED = "Subscription confirmed: you will get an email when we post about an incident."
UNSUBSCRIBED = "You are unsubscribed and will get no more email from us."
LOGO_SVG_REFUSED = (
    "SVG logos are refused: an SVG can carry script. Upload the logo as PNG, JPEG or WebP, or give its address "
    "as the logo URL."
)
LOGO_NOT_AN_IMAGE = "Upload the logo as a PNG, JPEG or WebP image (its content is checked, not its name)."
LOGO_TOO_LARGE = "The logo is larger than {limit} KB; a header logo needs far less."
