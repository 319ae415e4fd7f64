"""Pure parts of invoicing: the OS param, the fixes, reading Omie's answers, the recheck tag."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from omie_pipeline.alerts.causes import UNKNOWN_CAUSE, fix_for_deal
from omie_pipeline.domain.invoice_status import InvoiceStatus, UnknownOmieStatusError
from omie_pipeline.domain.taxes import Regime, TaxRates, compute_taxes
from omie_pipeline.omie.models import NfseRecord, OsStatusDetail
from omie_pipeline.sync.invoice_fixes import fix_for, safe_message
from omie_pipeline.sync.invoice_observations import from_nfse_record, from_status_detail
from omie_pipeline.sync.invoice_payload import OrderFacts, build_order, withholding_text
from omie_pipeline.sync.invoice_status import parse_deal_ids

CONSULTING = TaxRates(
    iss=Decimal("2.9"),
    pis=Decimal("1.65"),
    cofins=Decimal("7.6"),
    csll=Decimal("1"),
    ir=Decimal("1.5"),
    retain_ir=True,
    retain_pis=True,
    retain_cofins=True,
    retain_csll=True,
)


def order_for(gross: str, regime: Regime = Regime.LUCRO_REAL, email: str | None = "fin@cliente.com.br") -> dict:
    facts = OrderFacts(
        "OSABC", 42, 77, "Consultoria", "Projeto X", email, compute_taxes(Decimal(gross), CONSULTING, regime)
    )
    return build_order(facts, date(2026, 11, 20))


def test_the_os_speaks_omie_os_names_and_carries_the_key() -> None:
    order = order_for("2000.00")
    item = order["ServicosPrestados"][0]
    assert order["Cabecalho"] == {
        "cCodIntOS": "OSABC",
        "nCodCli": 42,
        "dDtPrevisao": "20/11/2026",
        "cEtapa": "50",
        "nQtdeParc": 1,
        "cCodParc": "000",
    }
    assert (item["nCodServico"], item["nValUnit"], item["nQtde"]) == (77, Decimal("2000.00"), Decimal("1"))
    assert {"nAliqIRRF", "cRetemIRRF", "cRetemPIS", "cUtilizaValorImposto"} <= set(item["impostos"])
    assert not {"nAliqIR", "cRetIR", "cRetPIS"} & set(item["impostos"])  # catalog names are refused in an OS
    # ISS retention is the item's own tag (omie-api.md §8); `impostos` has none.
    assert item["cRetemISS"] == "N" and "cRetemISS" not in item["impostos"]
    assert order["Email"] == {"cEnviarPara": "fin@cliente.com.br", "cEnvLink": "S"}


def test_withheld_taxes_go_at_the_withholding_rate() -> None:
    taxes = order_for("2000.00")["ServicosPrestados"][0]["impostos"]
    # Lucro Real shows PIS 1.65 % but the payer withholds the legal 0.65 %: the note states what is withheld.
    assert (taxes["nAliqPIS"], taxes["cRetemPIS"]) == (Decimal("0.65"), "S")
    assert (taxes["nAliqIRRF"], taxes["cRetemIRRF"]) == (Decimal("1.5"), "S")
    assert taxes["nAliqISS"] == Decimal("2.9")


def test_the_os_sends_rates_and_flags_never_the_values_omie_computes() -> None:
    taxes = order_for("2000.00")["ServicosPrestados"][0]["impostos"]
    assert not {"nValorISS", "nBaseISS"} & set(taxes), "Omie computes the ISS base and value itself"
    assert not [tag for tag in taxes if tag.startswith("nValor")], "every amount is Omie's to compute from the rates"
    assert taxes["cUtilizaValorImposto"] == "N"


def test_small_notes_withhold_nothing_and_say_so() -> None:
    order = order_for("200.00")  # IRRF 3.00 and CSRF 9.30: both at or below R$ 10, not withheld
    taxes = order["ServicosPrestados"][0]["impostos"]
    assert {taxes[tag] for tag in ("cRetemIRRF", "cRetemPIS", "cRetemCOFINS", "cRetemCSLL")} == {"N"}
    assert order["InformacoesAdicionais"]["cDadosAdicNF"] == "Projeto X\nSem retenções. Valor líquido: R$ 200,00."
    assert "Email" not in order_for("200.00", email=None)


def test_withholding_text_lists_each_retention_and_the_net() -> None:
    text = withholding_text(compute_taxes(Decimal("2000.00"), CONSULTING, Regime.LUCRO_PRESUMIDO))
    assert text == (
        "Retenções: IRRF R$ 30,00; PIS R$ 13,00; COFINS R$ 60,00; CSLL R$ 20,00. "
        "Total retido: R$ 123,00. Valor líquido: R$ 1.877,00."
    )


@pytest.mark.parametrize(
    "message, expected",
    [
        ("Para emitir a NFS-e falta preencher o E-mail no cadastro do cliente [12].", "e-mail"),
        (
            "Para emitir a NFS-e falta preencher o Bairro e o CEP no cadastro do cliente [12].",
            "client's record in Omie",
        ),
        ("O endereço do cliente [12] está incompleto. Preencha: cep.", "address"),
        ("E0310: Código de tributação nacional inexistente.", "LC 116"),
        ("E0014: DPS já informada anteriormente (número de DPS duplicado).", "numbers the RPS anew"),
        ("A Ordem de Serviço [000123] já foi faturada.", "already invoiced"),
    ],
)
def test_known_causes_get_their_fix(message: str, expected: str) -> None:
    assert expected in fix_for(message, "D-1")


def test_unknown_causes_get_the_prefeituras_correction_or_the_general_fix() -> None:
    assert fix_for("X999: algo novo", "D-1", "Revise o campo Y.").startswith("Revise o campo Y, then bill it again")
    assert fix_for("X999: algo novo", "D-1") == fix_for_deal(UNKNOWN_CAUSE, "D-1")
    assert safe_message(" CPF 529.982.247-25 inválido ") == "CPF ***.982.247-** inválido"


def status_detail(rps: dict, **flags: str) -> OsStatusDetail:
    return OsStatusDetail.model_validate(
        {"nCodOS": 1, "cFaturada": "S", "cCancelada": "N", **flags, "ListaRpsNfse": [rps]}
    )


def test_a_rejected_rps_reads_as_error_with_the_newest_message() -> None:
    detail = status_detail(
        {
            "nRps": 5,
            "cStatusRps": "003",
            "mensagens": [
                {
                    "cCodigo": "E0310",
                    "cDescricao": "Código inexistente.",
                    "cCorrecao": "Revise o código.",
                    "cSituacao": "ERRO",
                    "dData": "20/11/2026",
                    "hHora": "10:00:05",
                },
                {
                    "cCodigo": "002",
                    "cDescricao": "Lote enviado.",
                    "cSituacao": "SUCESSO",
                    "dData": "20/11/2026",
                    "hHora": "10:00:01",
                },
            ],
        }
    )
    observation = from_status_detail(detail)
    assert observation.status is InvoiceStatus.ERROR
    assert (observation.error, observation.correction) == ("E0310: Código inexistente.", "Revise o código.")


def test_an_issued_rps_reads_number_code_links_and_time() -> None:
    detail = status_detail(
        {
            "nRps": 5,
            "cStatusRps": "004",
            "nNfse": 812,
            "cCodVerif": "AB12",
            "danfe": "https://x/n.pdf",
            "xml_distr": "https://x/n.xml",
            "mensagens": [
                {
                    "cCodigo": "004",
                    "cDescricao": "Autorizada.",
                    "cSituacao": "SUCESSO",
                    "dData": "20/11/2026",
                    "hHora": "10:00:07",
                }
            ],
        }
    )
    observation = from_status_detail(detail)
    assert (observation.status, observation.nfse_number, observation.verification_code) == (
        InvoiceStatus.ISSUED,
        "812",
        "AB12",
    )
    assert observation.portal_url == "https://x/n.pdf"  # danfe, when cUrlNfse is absent: the page people open
    assert observation.issued_at == datetime(2026, 11, 20, 13, 0, 7, tzinfo=UTC)  # 10:00:07 in São Paulo


def test_an_unknown_rps_code_is_an_error_not_a_guess() -> None:
    with pytest.raises(UnknownOmieStatusError):
        from_status_detail(status_detail({"nRps": 1, "cStatusRps": "009"}))


def test_listing_record_reads_status_and_emission() -> None:
    record = NfseRecord.model_validate(
        {
            "Cabecalho": {"nNumeroNFSe": "90", "cStatusNFSe": "F", "cCodigoVerifNFSe": "Q1", "nCodNF": 7},
            "OrdemServico": {"nCodigoOS": 1},
            "Emissao": {"cDataEmissao": "21/11/2026", "cHoraEmissao": "23:30:00"},
        }
    )
    observation = from_nfse_record(record)
    assert (observation.status, observation.nfse_number, observation.nfse_id) == (InvoiceStatus.ISSUED, "90", 7)
    assert observation.issued_at == datetime(2026, 11, 22, 2, 30, tzinfo=UTC)
    rejected = from_nfse_record(NfseRecord.model_validate({"Cabecalho": {"cStatusNFSe": "R", "nCodNF": 8}}))
    assert rejected.status is InvoiceStatus.ERROR and rejected.error is None  # the message needs StatusOS


def test_recheck_tag_reads_lists() -> None:
    assert parse_deal_ids("D1, D2 D3\nD4") == ["D1", "D2", "D3", "D4"]
    assert parse_deal_ids('["D1", "D2"]') == ["D1", "D2"]
    assert parse_deal_ids(None) == [] and parse_deal_ids("  ") == []
