"""Status refresh: calls grow with listing pages, not with invoices; StatusOS only where needed."""

from __future__ import annotations

import math
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa

from omie_pipeline.domain.invoice_status import InvoiceStatus
from omie_pipeline.domain.timeutil import now_utc
from omie_pipeline.omie.models import OsStatusDetail
from omie_pipeline.store import Store, alerts
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
    # No note issued yet: one (empty) ListarNFSEs page; every OS left open: ceil(K / PAGE) pages of ids.
    assert calls_since(account.sim, before) == {"ListarNFSEs": 1, "ListarOS": math.ceil(K / PAGE)}

    account.sim.set_faults(prefeitura="up")
    settle_prefeitura(account.sim)
    pause_for_omie()
    before = calls(account.sim)

    summary = refresh(account)

    assert summary.changes == {"issued": K}
    # Every note listed with its OS: the NFS-e pages settle all K, and no ListarOS is sent.
    assert calls_since(account.sim, before) == {"ListarNFSEs": math.ceil(K / PAGE)}
    for deal_id in deal_ids:
        invoice = account.invoice(deal_id)
        assert invoice.status == InvoiceStatus.ISSUED and invoice.nfse_number and invoice.verification_code
        with account.store.connect() as connection:
            moves = [
                (e.from_status, e.to_status)
                for e in events_of(connection, account.name, deal_id)
                if e.from_status != e.to_status
            ]
        assert moves == [(None, "submitted"), ("submitted", "processing"), ("processing", "issued")]


@pytest.fixture
def rejecting_account(store: Store, make_sim) -> Account:
    account = prepare_account(store, make_sim(rejection_rate=0.35, seed=11))
    yield account
    account.client.close()


def test_a_rejection_settles_to_error_within_one_refresh_after_the_grace(rejecting_account: Account) -> None:
    """A rejected RPS is never listed: past the grace StatusOS asks, and the issued notes cost nothing."""
    account = rejecting_account
    deal_ids = account.add_deals(K)
    account.issue()
    settle_prefeitura(account.sim)
    with account.sim.state.lock:
        rejected = sum(1 for order in account.sim.state.orders.values() if order.rps and order.rps.status == "003")
    assert 0 < rejected < K

    within_grace = refresh(account)  # default grace (10 minutes): the listings only

    assert within_grace.changes == {"issued": K - rejected, "processing": rejected}
    assert within_grace.status_requests == 0
    pause_for_omie()
    before = calls(account.sim)

    summary = refresh(account, status_grace=timedelta(0))

    # One StatusOS per invoice the listings left pending, nothing for the issued notes.
    assert calls_since(account.sim, before) == {
        "ListarNFSEs": math.ceil((K - rejected) / PAGE),
        "ListarOS": math.ceil(rejected / PAGE),  # only the OS whose note is not listed
        "StatusOS": rejected,
    }
    assert summary.changes == {"error": rejected}
    for deal_id in deal_ids:
        invoice = account.invoice(deal_id)
        if invoice.status != InvoiceStatus.ERROR:
            continue
        with account.sim.state.lock:
            lines = account.sim.state.orders[invoice.omie_os_id].rps.rejection
        assert all(code in invoice.last_error and text in invoice.last_error for code, text, _ in lines)
        assert invoice.fix
    pause_for_omie()
    before = calls(account.sim)
    assert refresh(account, status_grace=timedelta(0)).status_requests == 0 and calls_since(account.sim, before) == {}


def test_issued_notes_cost_no_status_requests(account: Account) -> None:
    account.add_deals(K)
    account.issue()
    settle_prefeitura(account.sim)
    before = calls(account.sim)

    summary = refresh(account, status_grace=timedelta(0))

    assert summary.changes == {"issued": K}
    assert "StatusOS" not in calls_since(account.sim, before)
    pause_for_omie()
    before = calls(account.sim)
    assert refresh(account).tracked == 0 and calls_since(account.sim, before) == {}


def test_a_malformed_status_answer_fails_only_its_invoice(account: Account) -> None:
    bad, good = account.add_deals(2)
    account.sim.set_faults(prefeitura="reject")
    account.issue()
    settle_prefeitura(account.sim)
    with account.sim.state.lock:
        account.sim.state.orders[account.invoice(bad).omie_os_id].rps.mensagens[-1]["dData"] = "31/02/2026"

    summary = refresh(account, status_grace=timedelta(0))

    assert account.invoice(good).status == InvoiceStatus.ERROR
    assert account.invoice(bad).status == InvoiceStatus.PROCESSING and summary.failed == [bad]


def test_never_two_requests_for_one_id_within_the_interval(account: Account) -> None:
    deal_ids = account.add_deals(3)
    account.sim.set_faults(prefeitura="stuck")
    account.issue()
    interval = timedelta(seconds=60)
    settings = RefreshSettings(redundant_interval=interval)
    first = refresh_statuses(account.client, account.store, account.name, settings=settings, recheck_deal_ids=deal_ids)
    assert first.status_requests == 3
    before = calls(account.sim)

    again = refresh_statuses(account.client, account.store, account.name, settings=settings, recheck_deal_ids=deal_ids)
    waited = wait_for_invoice(account.client, account.store, account.name, deal_ids[0], timeout=0.3, interval=interval)

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

    summary = refresh_statuses(
        account.client,
        account.store,
        account.name,
        recheck_deal_ids=[deal_ids[1], "unknown-deal"],
        settings=RefreshSettings(redundant_interval=account.interval),
    )

    assert calls_since(account.sim, before) == {"StatusOS": 1}
    assert summary.status_requests == 1


def test_stuck_means_the_same_to_the_refresh_and_to_the_alerts(account: Account) -> None:
    """Pending since: submitted_at, else since the invoice entered its status (not since its intent)."""
    recently_moved, long_waiting = account.add_deals(2)
    account.issue()
    now = now_utc()
    with account.store.begin() as connection:
        for deal, changed in ((recently_moved, now), (long_waiting, now - timedelta(hours=2))):
            connection.execute(
                sa.update(invoices)
                .where(invoices.c.deal_id == deal)
                .values(
                    omie_os_id=None, submitted_at=None, created_at=now - timedelta(hours=3), status_changed_at=changed
                )
            )

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
    account.sim.set_faults(prefeitura="stuck")  # no note listed: both OS are asked for by ListarOS
    account.issue()
    os_id = unreadable(account, bad)

    summary = refresh(account)

    assert account.invoice(good).status == InvoiceStatus.PROCESSING
    (skipped,) = summary.skipped_records
    assert f"OS {os_id}" in skipped and "dDtPrevisao" in skipped


@pytest.mark.parametrize(
    "links, portal",
    [
        (
            {"danfe": "", "cUrlNfse": "https://nfse.prefeitura.sp.gov.br/nfse/55"},
            "https://nfse.prefeitura.sp.gov.br/nfse/55",
        ),
        (
            {"danfe": "https://nfse.prefeitura.sp.gov.br/danfse/55", "cUrlNfse": ""},
            "https://nfse.prefeitura.sp.gov.br/danfse/55",
        ),
    ],
)
def test_the_portal_link_is_the_prefeituras_page_and_an_expiring_pdf_link_is_never_kept(links, portal) -> None:
    detail = OsStatusDetail.model_validate(
        {
            "nCodOS": 9,
            "cFaturada": "S",
            "ListaRpsNfse": [
                {
                    "nRps": "1",
                    "cStatusRps": "004",
                    "nNfse": "55",
                    "cCodVerif": "X1",
                    "cUrlPdfDest": "https://omie.example/pdf/55?expires=1",
                    **links,
                }
            ],
        }
    )
    observation = from_status_detail(detail)
    assert observation.portal_url == portal
    assert "expires" not in repr(observation)


def _erro(code: str, text: str, day: str, hour: str, situation: str = "ERRO") -> dict:
    return {
        "cCodigo": code,
        "cDescricao": text,
        "cCorrecao": f"fix {code}",
        "cSituacao": situation,
        "dData": day,
        "hHora": hour,
    }


FIRST_ATTEMPT = [_erro("E0310", "Código de tributação inexistente.", "01/12/2026", "10:00:00")]
SECOND_ATTEMPT = [
    _erro("E0116", "Município do tomador não corresponde ao CEP.", "02/12/2026", "09:30:00"),
    _erro("E0150", "Inscrição municipal do tomador inválida.", "02/12/2026", "09:30:00"),
]
RESENT = [_erro("002", "Lote enviado.", "02/12/2026", "09:29:00", "SUCESSO")]


@pytest.mark.parametrize(
    "mensagens",
    [
        SECOND_ATTEMPT[::-1] + RESENT + FIRST_ATTEMPT,  # lMsg=true: every line, newest first
        FIRST_ATTEMPT + SECOND_ATTEMPT,  # without lMsg: only ERRO lines, oldest first
    ],
    ids=["newest-first", "oldest-first"],
)
def test_every_erro_line_of_the_newest_attempt_is_kept(mensagens: list[dict]) -> None:
    detail = OsStatusDetail.model_validate(
        {"nCodOS": 9, "cFaturada": "S", "ListaRpsNfse": [{"nRps": "0012", "cStatusRps": "003", "mensagens": mensagens}]}
    )

    observation = from_status_detail(detail)

    assert "E0116" in observation.error and "E0150" in observation.error and "E0310" not in observation.error
    assert "fix E0116" in observation.correction and "fix E0150" in observation.correction


def test_rps_and_nfse_numbers_are_text_with_their_leading_zeros(store: Store, make_sim) -> None:
    account = prepare_account(store, make_sim(number_width=8))
    try:
        (deal,) = account.add_deals(1)
        account.issue()

        waited = wait_for_invoice(
            account.client, account.store, account.name, deal, timeout=5, interval=account.interval
        )

        assert waited.invoice.status == InvoiceStatus.ISSUED
        assert len(waited.invoice.nfse_number) == 8 and waited.invoice.nfse_number.startswith("0")
    finally:
        account.client.close()


def test_issued_at_is_omies_emission_date_and_time(account: Account) -> None:
    waited_deal, listed_deal = account.add_deals(2)
    account.issue()
    settle_prefeitura(account.sim)
    wait_for_invoice(account.client, account.store, account.name, waited_deal, timeout=5, interval=account.interval)
    with account.sim.state.lock:  # the prefeitura's emission moment differs from Omie's authorisation line
        note = account.sim.state.nfse_of_order(account.invoice(waited_deal).omie_os_id)
        note.emitted_at -= timedelta(seconds=90)
        emitted = note.emitted_at.replace(microsecond=0)

    refresh(account)  # the other invoice is still moving: the listing names both notes

    assert account.invoice(listed_deal).status == InvoiceStatus.ISSUED
    assert account.invoice(waited_deal).issued_at == emitted
