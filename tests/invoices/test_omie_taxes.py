"""Taxes Omie computes: read back after the OS is created (ConsultarOS) and from the listed note
(ListarNFSEs `Valores`), kept beside the invoice's own figures, differences over R$ 0,01 found."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from omie_pipeline.domain.omie_taxes import OmieTaxFigures, tax_differences
from omie_pipeline.omie.models import NfseRecord
from omie_pipeline.store.omie_taxes import omie_taxes_of, record_omie_taxes
from omie_pipeline.sync.invoice_status import RefreshSettings, refresh_statuses
from omie_pipeline.sync.omie_taxes import figures_from_nfse

from .conftest import Account, calls, calls_since, settle_prefeitura

AT = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)


def test_emission_keeps_the_taxes_omie_computed_beside_its_own(account: Account) -> None:
    before = calls(account.sim)
    (deal,) = account.add_deals(1, amount=Decimal("2000.00"))

    account.issue()

    assert calls_since(account.sim, before).get("ConsultarOS") == 1, "one read of the OS Omie just created"
    invoice = account.invoice(deal)
    with account.store.connect() as connection:
        omie = omie_taxes_of(connection, account.name, deal)
    assert omie is not None and omie.source == "ConsultarOS"
    assert omie.iss_base == Decimal("2000.00")
    ours = {
        "iss": invoice.iss_amount,
        "pis": invoice.pis_amount,
        "cofins": invoice.cofins_amount,
        "csll": invoice.csll_amount,
        "ir": invoice.ir_amount,
        "inss": invoice.inss_amount,
    }
    assert omie.amounts == ours, "Omie computes from the rates and flags sent what the pipeline computed"
    assert omie.net_amount == invoice.net_amount
    assert omie.reform["nAliqCbs"] == "0.9" and omie.reform["nPercReducaoCbs"] == "0"
    assert omie.reform["cCST"] == "000"


def test_the_listed_note_gives_omies_figures_and_the_latest_read_wins(account: Account) -> None:
    record = NfseRecord.model_validate(
        {
            "Valores": {
                "nValorTotalServicos": 2000,
                "nValorBaseCalculo": 2000,
                "nValorISS": 58.01,
                "nValorPIS": 13,
                "nValorCOFINS": 60,
                "nValorIR": 30,
                "nValorINSS": 0,
                "nValorCSLL": 20,
                "nValorLiquido": 1877,
            }
        }
    )
    figures = figures_from_nfse(record)
    assert figures.source == "ListarNFSEs" and figures.iss_base == Decimal("2000")
    assert figures.amounts["iss"] == Decimal("58.01") and figures.net_amount == Decimal("1877")
    (deal,) = account.add_deals(1, link=False)
    with account.store.begin() as connection:
        record_omie_taxes(connection, account.name, deal, OmieTaxFigures("ConsultarOS", Decimal("1"), {}, None, {}), AT)
        record_omie_taxes(connection, account.name, deal, figures, AT)
    with account.store.connect() as connection:
        assert omie_taxes_of(connection, account.name, deal) == figures


def test_the_status_refresh_keeps_the_issued_notes_valores_and_the_ibs_cbs_read_at_emission(account: Account) -> None:
    (deal,) = account.add_deals(1, amount=Decimal("2000.00"))
    account.issue()
    settle_prefeitura(account.sim)

    refresh_statuses(
        account.client,
        account.store,
        account.name,
        settings=RefreshSettings(redundant_interval=account.interval, status_grace=timedelta(0)),
    )

    assert account.invoice(deal).status == "issued"
    with account.store.connect() as connection:
        omie = omie_taxes_of(connection, account.name, deal)
    assert omie.source == "ListarNFSEs" and omie.iss_base == Decimal("2000.00")
    assert omie.amounts["iss"] == account.invoice(deal).iss_amount
    assert omie.reform["nAliqCbs"] == "0.9", "a listing has no IBS/CBS: the emission's read is kept"


def test_only_differences_over_one_cent_count() -> None:
    ours = {"iss": Decimal("58.00"), "pis": Decimal("13.00"), "ir": Decimal("30.00")}
    omie = {"iss": Decimal("58.02"), "pis": Decimal("13.01"), "ir": None}
    (difference,) = tax_differences(ours, omie)
    assert (difference.tax, difference.ours, difference.omie, difference.difference) == (
        "iss",
        Decimal("58.00"),
        Decimal("58.02"),
        Decimal("0.02"),
    )
