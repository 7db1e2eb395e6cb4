"""Events an htmx answer raises in the browser (the HX-Trigger header) for parts of the page
that another app drew, so that app's views and templates stay its own."""

# The incident page's timeline fetches itself again on this event: an app whose own panel on
# the incident page changed the timeline (a checklist mark) raises it, and the actor sees the
# event at once instead of at the next poll.
INCIDENT_TIMELINE_CHANGED = "incident-timeline-changed"
