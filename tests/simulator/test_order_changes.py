"""A refused NFS-e fixed and sent again: the prefeitura judges the client's data at each attempt,
AlterarOS corrects an order whose RPS it refused (items by nSeqItem), and FaturarOS bills it again
as a new RPS attempt; an order billed and not refused cannot be changed or billed twice."""

from __future__ import annotations

import time
from decimal import Decimal

OS = "servicos/os/"
OSP = "servicos/osp/"
NFSE = "servicos/nfse/"
CLIENTS = "geral/clientes/"
RJ_CEP = "20040-020"  # a Rio de Janeiro CEP, written for a client in São Paulo


def _order(omie, client_param, order_param, code, **client_extra):
    client = omie.ok(CLIENTS, "IncluirCliente", client_param(f"CLI-{code}", "11.222.333/0001-81", **client_extra))
    created = omie.ok(OS, "IncluirOS", order_param(code, client["codigo_cliente_omie"]))
    return created["nCodOS"], client["codigo_cliente_omie"]


def _rps_list(omie, code, **options):
    return omie.ok(OS, "StatusOS", {"cCodIntOS": code, **options})["ListaRpsNfse"]


def _settled(omie, code, timeout=5.0):
    """The order's RPS list once its newest attempt is final (003/004)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = _rps_list(omie, code)
        newest = max(rows, key=lambda row: int(row["nRps"]))
        if newest["cStatusRps"] in ("003", "004"):
            return rows, newest
        time.sleep(0.02)
    raise AssertionError(f"the RPS of {code} did not settle")


def _refused_for_cep(omie, client_param, order_param, code="OS-R1"):
    n_cod_os, client_id = _order(omie, client_param, order_param, code, cep=RJ_CEP)
    assert omie.ok(OSP, "FaturarOS", {"nCodOS": n_cod_os})["cCodStatus"] == "0"
    _, newest = _settled(omie, code)
    assert newest["cStatusRps"] == "003"
    return n_cod_os, client_id, newest


def test_the_prefeitura_refuses_a_client_whose_cep_is_not_of_its_state(omie, client_param, order_param):
    _, _, rps = _refused_for_cep(omie, client_param, order_param)
    assert [line["cCodigo"] for line in rps["mensagens"]] == ["E0116"]
    assert "CEP" in rps["mensagens"][0]["cDescricao"] and rps["mensagens"][0]["cSituacao"] == "ERRO"
    assert omie.ok(NFSE, "ListarNFSEs", {"nPagina": 1})["nfseEncontradas"] == []


def test_a_refused_order_corrected_and_billed_again_gets_a_new_rps_and_one_note(omie, client_param, order_param):
    n_cod_os, client_id, first = _refused_for_cep(omie, client_param, order_param)
    omie.ok(CLIENTS, "AlterarCliente", {"codigo_cliente_omie": client_id, "cep": "01001-000"})
    changed = omie.ok(
        OS,
        "AlterarOS",
        {
            "Cabecalho": {"nCodOS": n_cod_os},
            "ServicosPrestados": [{"nSeqItem": 1, "nQtde": 1, "nValUnit": 1200, "cDescServ": "Desenvolvimento"}],
        },
    )
    assert (changed["nCodOS"], changed["cCodIntOS"], changed["cCodStatus"]) == (n_cod_os, "OS-R1", "0")
    order = omie.ok(OS, "ConsultarOS", {"nCodOS": n_cod_os})
    assert Decimal(str(order["Cabecalho"]["nValorTotal"])) == Decimal("1200")
    assert [item["nSeqItem"] for item in order["ServicosPrestados"]] == [1]
    assert order["ServicosPrestados"][0]["cDescServ"] == "Desenvolvimento"
    assert omie.ok(OSP, "FaturarOS", {"nCodOS": n_cod_os})["cCodStatus"] == "0"
    rows, newest = _settled(omie, "OS-R1")
    assert len(rows) == 2 and int(newest["nRps"]) > int(first["nRps"]), "each attempt is its own RPS"
    assert newest["cStatusRps"] == "004" and newest["nNfse"]
    assert [row["cStatusRps"] for row in rows if row["nRps"] == first["nRps"]] == ["003"], "the refusal stays"
    notes = omie.ok(NFSE, "ListarNFSEs", {"nPagina": 1})["nfseEncontradas"]
    assert len(notes) == 1 and Decimal(str(notes[0]["Cabecalho"]["nValorNFSe"])) == Decimal("1200")
    again = omie.ok(OSP, "FaturarOS", {"nCodOS": n_cod_os})
    assert again["cCodStatus"] == "1" and "faturada" in again["cDescStatus"], "an issued order is never billed twice"


def test_billing_again_without_the_fix_is_refused_again_by_the_prefeitura(omie, client_param, order_param):
    n_cod_os, _, _ = _refused_for_cep(omie, client_param, order_param)
    assert omie.ok(OSP, "FaturarOS", {"nCodOS": n_cod_os})["cCodStatus"] == "0"
    rows, newest = _settled(omie, "OS-R1")
    assert len(rows) == 2 and newest["cStatusRps"] == "003"
    assert [line["cCodigo"] for line in newest["mensagens"]] == ["E0116"]


def test_alterar_os_needs_nseqitem_and_an_existing_item(omie, client_param, order_param):
    n_cod_os, _ = _order(omie, client_param, order_param, "OS-A1")
    status, body = omie.fault(
        OS, "AlterarOS", {"Cabecalho": {"nCodOS": n_cod_os}, "ServicosPrestados": [{"nQtde": 1, "nValUnit": 10}]}
    )
    assert status == 500 and "nSeqItem" in body["faultstring"]
    status, body = omie.fault(
        OS,
        "AlterarOS",
        {"Cabecalho": {"nCodOS": n_cod_os}, "ServicosPrestados": [{"nSeqItem": 7, "nQtde": 1, "nValUnit": 10}]},
    )
    assert status == 500 and "7" in body["faultstring"]


def test_alterar_os_changes_an_order_not_yet_billed_and_keeps_what_is_not_sent(omie, client_param, order_param):
    n_cod_os, _ = _order(omie, client_param, order_param, "OS-A2")
    other = omie.ok(CLIENTS, "IncluirCliente", client_param("CLI-OTHER", "45.723.174/0001-10"))
    omie.ok(
        OS,
        "AlterarOS",
        {
            "Cabecalho": {"cCodIntOS": "OS-A2", "nCodCli": other["codigo_cliente_omie"]},
            "InformacoesAdicionais": {"cDadosAdicNF": "Texto novo"},
            "ServicosPrestados": [{"nSeqItem": 1, "nValUnit": 500, "nQtde": 3}],
        },
    )
    order = omie.ok(OS, "ConsultarOS", {"cCodIntOS": "OS-A2"})
    assert order["Cabecalho"]["nCodCli"] == other["codigo_cliente_omie"]
    assert order["Cabecalho"]["dDtPrevisao"] == "30/11/2026", "what is not sent is kept"
    assert order["InformacoesAdicionais"]["cDadosAdicNF"] == "Texto novo"
    assert Decimal(str(order["Cabecalho"]["nValorTotal"])) == Decimal("1500")
    assert order["ServicosPrestados"][0]["cCodIntServico"] == "SRV-DESENVOLVIMENTO", "the item keeps its service"


def test_alterar_os_adds_and_removes_items_by_action(omie, client_param, order_param):
    n_cod_os, _ = _order(omie, client_param, order_param, "OS-A3")
    omie.ok(
        OS,
        "AlterarOS",
        {
            "Cabecalho": {"nCodOS": n_cod_os},
            "ServicosPrestados": [
                {"nSeqItem": 1, "cAcaoItem": "E"},
                {"nSeqItem": 2, "cAcaoItem": "I", "cCodIntServico": "SRV-DESENVOLVIMENTO", "nQtde": 2, "nValUnit": 50},
            ],
        },
    )
    order = omie.ok(OS, "ConsultarOS", {"nCodOS": n_cod_os})
    assert [item["nSeqItem"] for item in order["ServicosPrestados"]] == [2]
    assert Decimal(str(order["Cabecalho"]["nValorTotal"])) == Decimal("100")


def test_alterar_os_is_refused_for_an_order_billed_and_not_refused(make_sim, caller, client_param, order_param):
    omie = caller(make_sim(nfse_delay=(0.3, 0.3)))
    n_cod_os, _ = _order(omie, client_param, order_param, "OS-B1")
    omie.ok(OSP, "FaturarOS", {"nCodOS": n_cod_os})
    change = {"Cabecalho": {"nCodOS": n_cod_os}, "ServicosPrestados": [{"nSeqItem": 1, "nValUnit": 1}]}
    status, body = omie.fault(OS, "AlterarOS", change)  # its RPS is at the prefeitura
    assert status == 500 and "faturada" in body["faultstring"]
    _, newest = _settled(omie, "OS-B1")
    assert newest["cStatusRps"] == "004"
    assert omie.fault(OS, "AlterarOS", change)[0] == 500  # issued: only a cancellation undoes it
    again = omie.ok(OSP, "FaturarOS", {"nCodOS": n_cod_os})
    assert again["cCodStatus"] == "1"
    assert len(_rps_list(omie, "OS-B1")) == 1
