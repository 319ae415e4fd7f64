"""Text as Omie and the prefeituras write it, made comparable.

Their messages mix accents and case freely ('Não', 'NAO', 'nao'), so code that recognises a
message by its words compares the plain form of both sides.
"""

from __future__ import annotations

import unicodedata


def plain(text: str) -> str:
    """Lower case without accents, so that 'Não' and 'nao', 'Endereço' and 'endereco' match alike."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(char for char in decomposed if not unicodedata.combining(char)).lower()
