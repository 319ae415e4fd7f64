"""Keeping what Omie computed for a new OS: one `ConsultarOS` right after `IncluirOS`.

The OS's item `impostos` are the only place Omie returns the IBS/CBS rates and reductions it
applied, and reading them at once lets finance see a difference before the note is even issued.
The read costs one call on its own method (Omie paces per method, so issuing is not slowed at
Omie's per-method limits). A failed read is only logged: the invoice goes on, and the status
refresh keeps the listed note's `Valores` later (`sync.omie_taxes.figures_from_nfse`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from omie_pipeline.omie import OmieClient, errors
from omie_pipeline.omie.models import OsRecord
from omie_pipeline.store import Store
from omie_pipeline.store.omie_taxes import record_omie_taxes
from omie_pipeline.sync.omie_taxes import figures_from_os

log = logging.getLogger("omie_pipeline.invoices")


def keep_omie_taxes(
    client: OmieClient,
    store: Store,
    account: str,
    deal_id: str,
    key: str,
    clock: Callable[[], datetime],
    record: OsRecord | None = None,
) -> bool:
    """Store the taxes Omie computed for the deal's OS (read by its key unless `record` is at hand).

    True when they were stored; False when Omie could not be read (logged, nothing else changes).
    """
    try:
        figures = figures_from_os(record if record is not None else client.get_os(cCodIntOS=key))
    except (errors.OmieError, ValueError) as failure:
        why = failure.kind if isinstance(failure, errors.OmieError) else type(failure).__name__
        log.warning(
            "account %s, deal %s: Omie's computed taxes not read (%s); the status refresh reads them "
            "from the listed note",
            account,
            deal_id,
            why,
        )
        return False
    with store.begin() as connection:
        record_omie_taxes(connection, account, deal_id, figures, clock())
    return True
