"""Text that must stay on one line: titles, names and alert summaries end up in email subjects,
HTTP headers and one-line lists, where a newline is refused (Django's BadHeaderError) or breaks
the layout. And text that goes out as plain text (email bodies, in-app messages, webhooks): no
control characters in either, and no invisible characters that make text read otherwise than it
is written."""

import re

# C0 and C1 control characters (newlines and tabs among them) and Unicode's line and paragraph
# separators.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# The same, less newline and tab: what a multi-line plain text may not hold.
_CONTROL_IN_TEXT = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# Bidirectional overrides, embeddings and isolates (U+202E makes "egatuo latot" read "total
# outage"), the Arabic letter mark, and zero-width characters that split or disguise words. The
# zero-width joiner (U+200D) stays: emoji sequences such as 👩‍💻 are built with it.
_INVISIBLE = re.compile(r"[\u061c\u200b\u200c\u200e\u200f\u202a-\u202e\u2060\u2066-\u2069\ufeff]")


def single_line(text: str) -> str:
    """`text` with every newline and control character made a space, each run of spaces one space,
    no space at either end, and no bidi control or zero-width character."""
    return " ".join(_CONTROL.sub(" ", _INVISIBLE.sub("", text)).split())


def plain_text(text: str) -> str:
    """A multi-line plain text (a mail body, an in-app message) with line breaks as \\n, no other
    control characters, and no bidi control or zero-width character."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u2028", "\n").replace("\u2029", "\n\n")
    return _CONTROL_IN_TEXT.sub("", _INVISIBLE.sub("", text))
