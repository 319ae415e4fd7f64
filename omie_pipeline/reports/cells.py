"""Text as a spreadsheet cell may hold it: no control characters, and never a live formula.

Names and messages come from the CRM and from Omie. A control character (NUL, BEL, ESC...) is
illegal in an XLSX file and makes the writer fail for the whole report; text starting with = + - @
would run as a formula when finance opens the file (a `=HYPERLINK(...)` legal name). Both the CSV
and the XLSX pass every text cell through `spreadsheet_text`.
"""

from __future__ import annotations

import re

_CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
"""C0 controls and DEL, except tab, line feed and carriage return, which a cell may hold."""
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_text(text: str) -> str:
    """`text` without control characters, prefixed with an apostrophe when it would start a formula."""
    cleaned = _CONTROL_CHARACTERS.sub("", text)
    return "'" + cleaned if cleaned.startswith(FORMULA_STARTS) else cleaned
