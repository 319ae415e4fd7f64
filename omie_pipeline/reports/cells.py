"""Text as a spreadsheet cell may hold it: no control characters, and never a live formula.

Names and messages come from the CRM and from Omie. A control character (NUL, BEL, ESC...) is
illegal in an XLSX file and makes the writer fail for the whole report; text starting with = + - @
would run as a formula when finance opens the file (a `=HYPERLINK(...)` legal name). Both the CSV
and the XLSX pass every text cell through `spreadsheet_text`.
"""

from __future__ import annotations

from omie_pipeline.domain.text import without_control_characters

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_text(text: str) -> str:
    """`text` without control characters, prefixed with an apostrophe when it would start a formula."""
    cleaned = without_control_characters(text)
    return "'" + cleaned if cleaned.startswith(FORMULA_STARTS) else cleaned
