"""Status refresh: calls grow with listing pages, not with invoices; StatusOS only where needed."""

from __future__ import annotations

import math
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa

from omie_pipeline.domain.invoice_status import InvoiceStatus
from omie_pipeline.domain.timeutil import now_utc
from omie_pipeline.store import Store, alerts
from omie_pipeline.omie.models import OsStatusDetail
from omie_pipeline.store.invoices import events_of
from omie_pipeline.store.tables import invoices
from omie_pipeline.sync.invoice_actions import wait_for_invoice
from omie_pipeline.sync.invoice_observations import from_status_detail
from omie_pipeline.sync.invoice_status import RefreshSettings, refresh_statuses

from .conftest import REDUNDANT_SECONDS, Account, calls, calls_since, prepare_account, settle_prefeitura

K = 12
PAGE = 5


def refresh(account: Account, **overrides):
    settings = RefreshSettings(redundant_interval=account.interval, page_size=PAGE, **overrides)
    return refresh_statuses(account.client, account.store, account.name, settings=settings)


def pause_for_omie() -> None:
    """Let Omie's redundancy interval pass, so that a listing repeated with the same filter is answered anew."""
    time.sleep(REDUNDANT_SECONDS + 0.1)


def test_k_open_invoices_cost_listing_pages_not_k_calls(account: Account) -> None:
    deal_ids = account.add_deals(K)
    account.sim.set_faults(prefeitura="stuck")
    account.issue()
    before = calls(account.sim)

    summary = refresh(account)

    assert summary.tracked == K and summary.changes == {"processing": K}
    # No note issued yet: one (empty) ListarNFSEs page; every OS changed recently: ceil(K / PAGE) pages.
    assert calls_since(account.sim, before) == {"ListarNFSEs": 1, "ListarOS": math.ceil(K / PAGE)}

    account.sim.set_faults(prefeitura="up")
    settle_prefeitura(account.sim)
    pause_for_omie()
    before = calls(account.sim)

    summary = refresh(account, fetch_documents=False)

    assert summary.changes == {"issued": K}
    assert calls_since(account.sim, before) == {"ListarNFSEs": math.ceil(K / PAGE), "ListarOS": math.ceil(K / PAGE)}
    for deal_id in deal_ids:
        invoice = account.invoice(deal_id)
        assert invoice.status == InvoiceStatus.ISSUED and invoice.nfse_number and invoice.verification_code
        with account.store.connect() as connection:
            moves = [(e.from_status, e.to_status) for e in events_of(connection, account.name, deal_id)
                     if e.from_status != e.to_status]
        assert moves == [(None, "submitted"), ("submitted", "processing"), ("processing", "issued")]


@pytest.fixture
def rejecting_account(store: Store, make_sim) -> Account:
    account = prepare_account(store, make_sim(rejection_rate=0.35, seed=11))
    yield account
    account.client.close()


def test_status_requests_only_for_what_the_listings_cannot_settle(rejecting_account: Account) -> None:
    account = rejecting_account
    deal_ids = account.add_deals(K)
    account.issue()
    settle_prefeitura(account.sim)
    with account.sim.state.lock:
        rejected = sum(1 for nfse in account.sim.state.nfses.values() if nfse.status == "R")
    assert 0 < rejected < K
    before = calls(account.sim)

    summary = refresh(account, fetch_documents=False)

    # A rejected note is listed without its message: one StatusOS each, nothing for the issued ones.
    assert calls_since(account.sim, before) == {"ListarNFSEs": math.ceil(K / PAGE), "ListarOS": math.ceil(K / PAGE),
                                                "StatusOS": rejected}
    assert summary.changes == {"issued": K - rejected, "error": rejected}
    errors = [account.invoice(deal) for deal in deal_ids if account.invoice(deal).status == InvoiceStatus.ERROR]
    assert all(invoice.last_error and invoice.fix for invoice in errors)

    pause_for_omie()
    before = calls(account.sim)
    summary = refresh(account)  # now also the links of the issued notes: nothing is moving, so no listing

    assert calls_since(account.sim, before) == {"StatusOS": K - rejected}
    assert all(account.invoice(deal).pdf_url for deal in deal_ids
               if account.invoice(deal).status == InvoiceStatus.ISSUED)

    before = calls(account.sim)
    assert refresh(account).status_requests == 0 and calls_since(account.sim, before) == {}


def test_never_two_requests_for_one_id_within_the_interval(account: Account) -> None:
    deal_ids = account.add_deals(3)
    account.sim.set_faults(prefeitura="stuck")
    account.issue()
    interval = timedelta(seconds=60)
    settings = RefreshSettings(redundant_interval=interval)
    first = refresh_statuses(account.client, account.store, account.name, settings=settings, recheck_deal_ids=deal_ids)
    assert first.status_requests == 3
    before = calls(account.sim)

    again = refresh_statuses(account.client, account.store, account.name, settings=settings,
                             recheck_deal_ids=deal_ids)
    waited = wait_for_invoice(account.client, account.store, account.name, deal_ids[0], timeout=0.3,
                              interval=interval)

    assert sorted(again.deferred) == sorted(deal_ids) and again.status_requests == 0
    assert waited.polls == 0 and waited.timed_out and waited.invoice.status == InvoiceStatus.PROCESSING
    assert "StatusOS" not in calls_since(account.sim, before)
    assert account.client.metrics()["StatusOS"]["cache_hits"] == 0  # not even asked of the client
    assert account.sim.stats()["rejected"]["redundant"] == 0


def test_recheck_asks_status_for_the_named_deals(account: Account) -> None:
    deal_ids = account.add_deals(2)
    account.issue()
    settle_prefeitura(account.sim)
    refresh(account)
    pause_for_omie()
    before = calls(account.sim)

    summary = refresh_statuses(account.client, account.store, account.name,
                               recheck_deal_ids=[deal_ids[1], "unknown-deal"],
                               settings=RefreshSettings(redundant_interval=account.interval))

    assert calls_since(account.sim, before) == {"StatusOS": 1}
    assert summary.status_requests == 1


def test_stuck_means_the_same_to_the_refresh_and_to_the_alerts(account: Account) -> None:
    """Pending since: submitted_at, else since the invoice entered its status (not since its intent)."""
    recently_moved, long_waiting = account.add_deals(2)
    account.issue()
    now = now_utc()
    with account.store.begin() as connection:
        for deal, changed in ((recently_moved, now), (long_waiting, now - timedelta(hours=2))):
            connection.execute(sa.update(invoices).where(invoices.c.deal_id == deal).values(
                omie_os_id=None, submitted_at=None, created_at=now - timedelta(hours=3), status_changed_at=changed))

    summary = refresh(account, stuck_after=timedelta(minutes=30))

    with account.store.connect() as connection:
        alerted = [row["deal_id"] for row in alerts.stuck_invoices(connection, now - timedelta(minutes=30))]
    assert alerted == [long_waiting]
    assert summary.stuck == 1


def unreadable(account: Account, deal_id: str) -> int:
    """Make Omie list the deal's OS with a date that is no date (31 February); its nCodOS."""
    os_id = account.invoice(deal_id).omie_os_id
    with account.sim.state.lock:
        account.sim.state.orders[os_id].cabecalho["dDtPrevisao"] = "31/02/2026"
    return os_id


def test_an_unreadable_listed_record_is_skipped_and_named(account: Account) -> None:
    bad, good = account.add_deals(2)
    account.issue()
    os_id = unreadable(account, bad)
    settle_prefeitura(account.sim)

    summary = refresh(account)

    assert account.invoice(good).status == InvoiceStatus.ISSUED
    (skipped,) = summary.skipped_records
    assert f"OS {os_id}" in skipped and "dDtPrevisao" in skipped


def test_an_issued_note_without_document_links_is_asked_for_them_three_times_then_left(account: Account) -> None:
    (deal,) = account.add_deals(1)
    account.sim.set_faults(prefeitura="stuck")  # Omie's StatusOS holds no links for this note
    account.issue()
    with account.store.begin() as connection:  # the note listed as issued (ListarNFSEs) before its files exist
        connection.execute(sa.update(invoices).where(invoices.c.deal_id == deal).values(
            status=InvoiceStatus.ISSUED.value, nfse_number="77", verification_code="ABC"))
    before = calls(account.sim)

    tracked = []
    for _ in range(4):
        tracked.append(refresh(account).tracked)
        pause_for_omie()

    assert tracked == [1, 1, 1, 0]  # after the third fruitless request the note leaves the refresh
    assert calls_since(account.sim, before).get("StatusOS") == 3
    with account.store.connect() as connection:
        attempts = [event.detail for event in events_of(connection, account.name, deal)
                    if event.detail.startswith("StatusOS gave no document links")]
    assert len(attempts) == 3 and "attempt 3 of 3" in attempts[-1]


def test_the_nfse_link_at_the_prefeitura_is_taken_when_omie_gives_no_pdf() -> None:
    detail = OsStatusDetail.model_validate({"nCodOS": 9, "cFaturada": "S", "ListaRpsNfse": [{
        "nRps": 1, "cStatusRps": "004", "nNfse": 55, "cCodVerif": "X1", "danfe": "", "cUrlPdfDest": "",
        "cUrlNfse": "https://nfse.prefeitura.sp.gov.br/nfse/55"}]})  # fmt: skip
    assert from_status_detail(detail).pdf_url == "https://nfse.prefeitura.sp.gov.br/nfse/55"
