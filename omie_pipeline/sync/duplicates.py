"""Whether an Omie refusal may be its "already registered" answer in a wording nobody verified.

Omie's text for a duplicate `cCodIntOS` is unknown (omie-api.md §2), and a refusal can come as a
fault or as status "1" inside HTTP 200. Treating such a refusal as final would leave a deal without
its OS, or a client registered twice in the books, while Omie holds the record. So any refusal that
names the integration code or the document is followed by a look-up before the deal is marked.
"""

from __future__ import annotations

from omie_pipeline.domain.documents import normalise_document
from omie_pipeline.domain.text import plain
from omie_pipeline.omie import errors

# Words Omie's answers use for an integration code, an OS key, or a client's CPF/CNPJ.
_CODE_WORDS = ("integracao", "ccodintos", "codigo_cliente_integracao")
_DOCUMENT_WORDS = ("cpf", "cnpj", "cnpj_cpf")


def _said(refusal: errors.OmieError) -> str:
    return plain(f"{refusal.faultstring or ''} {refusal.message or ''}")


def names_integration_code(refusal: errors.OmieError, code: str) -> bool:
    """The refusal speaks of an integration code, or quotes this one."""
    said = _said(refusal)
    return any(word in said for word in _CODE_WORDS) or (bool(code) and plain(code) in said)


def names_document(refusal: errors.OmieError, document: str | None) -> bool:
    """The refusal speaks of a CPF/CNPJ, or quotes this one (in any punctuation)."""
    said = _said(refusal)
    wanted = normalise_document(document or "")
    return any(word in said for word in _DOCUMENT_WORDS) or (bool(wanted) and wanted in normalise_document(said))
