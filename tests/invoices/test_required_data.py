"""What Omie needs to bill a note, checked before any client or order is created for it.

Omie refuses to issue an NFS-e whose client lacks an e-mail, a document or a full address
(ValidarOS/FaturarOS). A deal missing one of them must become an issue naming the deal and the field
before `IncluirCliente`/`IncluirOS`, so that no service order is left in Omie that can never be billed.
"""

from __future__ import annotations

from omie_pipeline.store.deals import open_issues
from omie_pipeline.store.invoices import open_invoice_issues
from omie_pipeline.sync.client_index import refresh_client_index
from omie_pipeline.sync.clients import link_clients
from omie_pipeline.sync.invoices import Outcome

from .conftest import Account, calls, calls_since


def _issues(account: Account, stage: str) -> dict[str, tuple[str, str, str]]:
    with account.store.connect() as connection:
        return {
            row.deal_id: (row.field, row.reason, row.message + " | " + (row.fix or ""))
            for row in open_issues(connection, account.name, stage)
        }


def test_a_deal_without_email_is_an_issue_and_no_client_nor_order_is_created(account: Account) -> None:
    (deal,) = account.add_deals(1, link=False, email=None, document="11222333000181")
    before = calls(account.sim)

    link_clients(account.client, account.store, account.name)
    summary = account.issue()

    made = calls_since(account.sim, before)
    assert "IncluirCliente" not in made and "IncluirOS" not in made, made
    field, reason, text = _issues(account, "client")[deal]
    assert (field, reason) == ("email", "missing") and "e-mail" in text
    assert summary.of(deal).outcome is Outcome.NOT_READY
    with account.store.connect() as connection:
        fields = {issue["field"] for issue in open_invoice_issues(connection, account.name, deal)}
    assert "email" in fields


def test_a_linked_omie_client_without_email_is_an_issue_naming_that_client(account: Account) -> None:
    chosen = account.billable_clients[0]
    with account.sim.state.lock:
        account.sim.state.clients[chosen["codigo_cliente_omie"]]["email"] = ""
    refresh_client_index(account.client, account.store, account.name, full_refresh=True)
    (deal,) = account.add_deals(1, link=False, client=chosen, email="financeiro@example.com.br")
    (good,) = account.add_deals(1, link=False, client=account.billable_clients[1])
    link_clients(account.client, account.store, account.name)
    before = calls(account.sim)

    summary = account.issue()

    assert summary.of(deal).outcome is Outcome.NOT_READY
    assert summary.of(good).outcome is Outcome.SUBMITTED, "the rest of the batch goes on"
    assert calls_since(account.sim, before).get("IncluirOS") == 1, "no OS for the client Omie cannot bill"
    with account.store.connect() as connection:
        (issue,) = open_invoice_issues(connection, account.name, deal)
    assert issue["field"] == "email" and issue["reason"] == "omie_client_incomplete"
    assert deal in issue["message"] and str(chosen["codigo_cliente_omie"]) in issue["message"]
    assert "add the e-mail to client" in issue["fix"] and str(chosen["codigo_cliente_omie"]) in issue["fix"]

    with account.sim.state.lock:  # fixed in Omie: the next refresh of the mirror lets the deal through
        account.sim.state.clients[chosen["codigo_cliente_omie"]]["email"] = chosen["email"]
    refresh_client_index(account.client, account.store, account.name, full_refresh=True)
    assert account.issue().of(deal).outcome is Outcome.SUBMITTED
