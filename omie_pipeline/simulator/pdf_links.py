"""Expiring pre-signed PDF links, as Omie answers `cUrlPdfDest` / `cUrlPdfDemo` (omie-api.md §10, §15).

Omie hands out a note's PDFs only when StatusOS is asked for them (`lPdfDest` / `lPdfDemo`), as
pre-signed URLs that stop working after a while. The simulator remembers each link's signature and
expiry, so that a client that saves such a link and uses it later meets the 403 a storage gateway
answers, instead of a file.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

KINDS = ("dest", "demo")
"""`dest`: the recipient's PDF (lPdfDest); `demo`: the statement PDF (lPdfDemo)."""

_FORGET_AFTER_SECONDS = 3600.0


@dataclass(frozen=True)
class _Link:
    nfse_id: int
    kind: str
    expires_at: float  # time.monotonic()


class PdfLinks:
    """The signed links handed out so far (callers hold the state lock)."""

    def __init__(self) -> None:
        self._links: dict[str, _Link] = {}

    def issue(self, documents_url: str, nfse_id: int, kind: str, lifetime: float, now: float) -> str:
        """A new link to the note's `kind` PDF, valid for `lifetime` seconds from `now` (monotonic)."""
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}; got {kind!r}")
        self._links = {
            token: link for token, link in self._links.items() if now - link.expires_at < _FORGET_AFTER_SECONDS
        }
        token = secrets.token_hex(16)
        self._links[token] = _Link(nfse_id, kind, now + lifetime)
        expires = int(time.time() + lifetime)
        return f"{documents_url}{nfse_id}/{kind}.pdf?Expires={expires}&Signature={token}"

    def refusal(self, nfse_id: int, kind: str, signature: str, now: float) -> str | None:
        """None when the signature opens this file now; else why not (the 403's message)."""
        link = self._links.get(signature)
        if link is None or (link.nfse_id, link.kind) != (nfse_id, kind):
            return "The request signature we calculated does not match the signature you provided."
        if now >= link.expires_at:
            return "Request has expired"
        return None
