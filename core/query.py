"""Whole numbers that people or tools put in an address or a form (?before=, ?owner=, a base
version): read by one helper, so no view turns '²' (a digit to str.isdigit(), not to int()) or a
30-digit number into a 500. What it cannot read, a view ignores."""

# PostgreSQL's bigint: no id is larger.
ID_MAX = 2**63 - 1


def whole_number(value: str | None) -> int | None:
    """`value` as a whole number from 0 to ID_MAX; None for anything else (empty, a sign, spaces,
    non-ASCII digits, too large)."""
    if not value or not (value.isascii() and value.isdigit()):
        return None
    number = int(value)
    return number if number <= ID_MAX else None
