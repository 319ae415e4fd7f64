"""Deal issues for a linked Omie client whose record Omie cannot bill a note to.

The pipeline never overwrites a client already in Omie (clients are created with `IncluirCliente`
only), so when Omie's record lacks the e-mail, the document or part of the address, the deal waits
with an issue naming the Omie client and what to add there, instead of an `IncluirOS` that
`ValidarOS` would refuse. What the record lacks comes from the client mirror (`billing_gaps`,
refreshed by the client index); a client the mirror does not know yet is left to Omie's own check.
"""

from __future__ import annotations

from typing import Any

from omie_pipeline.domain.billing import BILLING_FIELDS
from omie_pipeline.i18n import _
from omie_pipeline.store.clients import billing_gaps_of
from omie_pipeline.store.invoices import InvoiceIssue

OMIE_CLIENT_INCOMPLETE = "omie_client_incomplete"


def omie_client_issues(connection: Any, account: str, deal_id: str, client_id: int) -> list[InvoiceIssue]:
    """One issue per field Omie's record of `client_id` lacks for billing (empty when it lacks nothing)."""
    known = billing_gaps_of(connection, account, client_id)
    if known is None:
        return []
    client = f"{known.name} ({client_id})" if known.name else str(client_id)
    issues = []
    for tag in known.gaps:
        field, label = BILLING_FIELDS.get(tag, (tag, tag))
        label = _(label)
        issues.append(
            InvoiceIssue(
                field,
                OMIE_CLIENT_INCOMPLETE,
                _(
                    "deal {deal}: Omie client {client} (codigo_cliente_omie {client_id}) has no usable {label}; "
                    "Omie refuses to issue an NFS-e for it, so no service order is created"
                ).format(deal=deal_id, client=client, client_id=client_id, label=label),
                _(
                    "add the {label} to client {client} in Omie (the pipeline never changes clients already in "
                    "Omie); the deal is invoiced on the run after the client index is refreshed"
                ).format(label=label, client=client),
                tag,
            )
        )
    return issues
