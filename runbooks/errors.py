"""Messages users see when their input is refused. Tests import these constants."""

TITLE_REQUIRED = "Give the runbook a title, e.g. 'Database connection pool exhausted'."
STEP_TITLE_REQUIRED = "Every step needs a title."
NOT_AN_EDITOR = "Only runbook editors (responders and admins) can write, import or restore runbooks."
NOT_A_RESPONDER = "Only responders and admins can run runbooks."
ALREADY_ATTACHED = "This runbook is already attached to the incident."
NO_STEPS = "This runbook has no steps to work through; add steps first."
UNKNOWN_OUTCOME = "Mark a step done, skipped or failed."
RUN_FINISHED = "This run is finished; its checklist cannot change."
DRILL_NOT_COMPLETE = "Record every step (done, skipped or failed) before finishing the drill."
NOT_A_DRILL = "Only a drill is finished here; a runbook attached to an incident ends with the incident."
IMPORT_EMPTY = "Choose a Markdown file or paste the runbook's Markdown."
UNKNOWN_SERVICES = "Not in the service catalog, left out: {names}."
STALE_EDIT = (
    "Someone saved version {version} while you were editing. Your text is below: compare with the history, "
    "then save again to replace their version."
)
GENERATE_NAME_REQUIRED = "Pick a service from the catalog or type a new service's name."
