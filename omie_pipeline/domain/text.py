"""Text as Omie and the prefeituras write it, made comparable.

Their messages mix accents and case freely ('Não', 'NAO', 'nao'), so code that recognises a
message by its words compares the plain form of both sides.
"""

from __future__ import annotations

import re
import unicodedata

# C0 controls and DEL other than tab and line breaks: a NUL breaks PostgreSQL text, a BEL or ESC
# an XLSX file, and none of them belongs on an invoice.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def plain(text: str) -> str:
    """Lower case without accents, so that 'Não' and 'nao', 'Endereço' and 'endereco' match alike."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(char for char in decomposed if not unicodedata.combining(char)).lower()


def without_control_characters(text: str) -> str:
    """`text` without the control characters no store, spreadsheet or invoice should hold."""
    return CONTROL_CHARACTERS.sub("", text)
