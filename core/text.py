"""Text that must stay on one line: titles, names and alert summaries end up in email subjects,
HTTP headers and one-line lists, where a newline is refused (Django's BadHeaderError) or breaks
the layout."""

import re

# C0 and C1 control characters (newlines and tabs among them) and Unicode's line and paragraph
# separators.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def single_line(text: str) -> str:
    """`text` with every newline and control character made a space, each run of spaces one space,
    and no space at either end."""
    return " ".join(_CONTROL.sub(" ", text).split())
