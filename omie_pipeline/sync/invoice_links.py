"""The links in a StatusOS answer, each taken for what it is (omie-api.md §10, §15).

`cUrlNfse` and `danfe` are the prefeitura's page for the note (HTML): the link people open, never a
file to save. The recipient's PDF (`cUrlPdfDest`) comes only when StatusOS is asked for it
(`lPdfDest`) and is a pre-signed link that expires, so it is used at once and never stored.
`xml_distr` is the note's XML.
"""

from __future__ import annotations

from dataclasses import dataclass

from omie_pipeline.omie.models import OsStatusDetail
from omie_pipeline.sync.invoice_observations import latest_rps, portal_link, text_or_none


@dataclass(frozen=True)
class NoteLinks:
    portal: str | None
    pdf: str | None
    xml: str | None


def note_links(detail: OsStatusDetail) -> NoteLinks:
    """The newest RPS attempt's links; all None before the note is issued."""
    rps = latest_rps(detail)
    if rps is None:
        return NoteLinks(None, None, None)
    extra = rps.model_extra or {}
    return NoteLinks(
        portal=portal_link(rps),
        pdf=text_or_none(rps.cUrlPdfDest),
        xml=text_or_none(extra.get("xml_distr")),
    )
