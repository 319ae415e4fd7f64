"""servicos/os and servicos/osp: include, look up, list, move stage, validate and the OS faults."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal

OS = "servicos/os/"
OSP = "servicos/osp/"


def _cents(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _client(omie, client_param, code="C1", document="11.222.333/0001-81", **extra):
    return omie.ok("geral/clientes/", "IncluirCliente", client_param(code, document, **extra))["codigo_cliente_omie"]


def test_incluir_os_computes_totals_and_taxes_from_the_catalog(omie, client_param, order_param):
    client_id = _client(omie, client_param)
    item = {"cCodIntServico": "SRV-CONSULTORIA", "nQtde": 3, "nValUnit": 1234.57}
    status = omie.ok(OS, "IncluirOS", order_param("OS-1", client_id, item))
    assert status["cCodStatus"] == "0" and status["cCodIntOS"] == "OS-1"
    assert isinstance(status["nCodOS"], int) and status["cNumOS"]
    order = omie.ok(OS, "ConsultarOS", {"nCodOS": status["nCodOS"]})
    value = _cents(Decimal(3) * Decimal("1234.57"))
    taxes = order["ServicosPrestados"][0]["impostos"]
    expected = {"ISS": "2.9", "PIS": "0.65", "COFINS": "3", "CSLL": "1", "IRRF": "1.5"}
    for tax, rate in expected.items():
        assert Decimal(str(taxes[f"nValor{tax}"])) == _cents(value * Decimal(rate) / 100), tax
    retained = sum(Decimal(str(taxes[f"nValor{t}"])) for t in ("PIS", "COFINS", "CSLL", "IRRF"))
    assert Decimal(str(order["Cabecalho"]["nValorTotal"])) == value == Decimal("3703.71")
    assert Decimal(str(order["Cabecalho"]["nValorTotalImpRet"])) == retained == Decimal("227.78")
    assert order["ServicosPrestados"][0]["cCodServLC116"] == "1.06"
    assert order["InfoCadastro"]["cFaturada"] == "N" and order["Cabecalho"]["cEtapa"] == "50"


def test_item_impostos_override_the_catalog_with_omies_order_names(omie, client_param, order_param):
    client_id = _client(omie, client_param)
    item = {
        "cCodIntServico": "SRV-DESENVOLVIMENTO",
        "nQtde": 1,
        "nValUnit": 1000,
        "cRetemISS": "S",
        "impostos": {"nAliqISS": 5, "nAliqIRRF": 1.5, "cRetemIRRF": "S"},
    }
    status = omie.ok(OS, "IncluirOS", order_param("OS-2", client_id, item))
    taxes = omie.ok(OS, "ConsultarOS", {"cCodIntOS": "OS-2"})["ServicosPrestados"][0]["impostos"]
    assert (taxes["nValorISS"], taxes["nValorIRRF"], taxes["cRetemIRRF"]) == (50.0, 15.0, "S")
    assert status["nCodOS"]
    item["impostos"] = {"nAliqIR": 1.5}
    _, fault = omie.fault(OS, "IncluirOS", order_param("OS-3", client_id, item))
    assert "Tag [nAliqIR]" in fault["faultstring"], "catalog names are refused inside an order item"


def test_item_impostos_hold_only_the_tags_of_the_os_structure(omie, client_param, order_param, sim):
    """cRetemISS belongs to the item itself (§8); inside `impostos` Omie refuses it like any unknown tag."""
    client_id = _client(omie, client_param)
    inside = {
        "cCodIntServico": "SRV-DESENVOLVIMENTO",
        "nQtde": 1,
        "nValUnit": 1000,
        "impostos": {"nAliqISS": 5, "cRetemISS": "S"},
    }
    status, fault = omie.fault(OS, "IncluirOS", order_param("OS-T1", client_id, inside))
    assert (status, fault["faultcode"]) == (500, "SOAP-ENV:Client-8")
    assert "Tag [cRetemISS]" in fault["faultstring"] and "[impostos]" in fault["faultstring"]
    assert not sim.state.orders
    on_item = {
        "cCodIntServico": "SRV-DESENVOLVIMENTO",
        "nQtde": 1,
        "nValUnit": 1000,
        "cRetemISS": "S",
        "impostos": {"nAliqISS": 5},
    }
    created = omie.ok(OS, "IncluirOS", order_param("OS-T2", client_id, on_item))
    item = omie.ok(OS, "ConsultarOS", {"nCodOS": created["nCodOS"]})["ServicosPrestados"][0]
    assert item["cRetemISS"] == "S" and item["impostos"]["nValorISS"] == 50.0


def test_listar_os_accepts_only_its_documented_filters(omie, client_param, order_param, sim):
    """ListarOS filters by date only: an hour filter (ListarClientes has one) is not part of its request."""
    client_id = _client(omie, client_param)
    omie.ok(OS, "IncluirOS", order_param("OS-F1", client_id))
    today = next(iter(sim.state.orders.values())).changed_at.strftime("%d/%m/%Y")
    for tag, value in (
        ("filtrar_por_hora_de", "00:00:00"),
        ("filtrar_por_hora_ate", "23:59:59"),
        ("apenas_importado_api", "N"),
    ):
        param = {"pagina": 1, "registros_por_pagina": 10, "filtrar_por_data_de": today, tag: value}
        status, fault = omie.fault(OS, "ListarOS", param)
        assert (status, fault["faultcode"]) == (500, "SOAP-ENV:Client-8") and f"Tag [{tag}]" in fault["faultstring"]
    listed = omie.ok(
        OS,
        "ListarOS",
        {
            "pagina": 1,
            "registros_por_pagina": 10,
            "filtrar_por_data_de": today,
            "filtrar_apenas_alteracao": "S",
            "filtrar_por_status": "N",
        },
    )
    assert listed["total_de_registros"] == 1


def test_duplicate_cCodIntOS_names_the_existing_order(omie, client_param, order_param, sim):
    client_id = _client(omie, client_param)
    first = omie.ok(OS, "IncluirOS", order_param("OS-DUP", client_id))
    status, fault = omie.fault(OS, "IncluirOS", order_param("OS-DUP", client_id))
    assert status == 500 and "já cadastrad" in fault["faultstring"]
    assert re.search(r"\[OS-DUP\].*\[(\d+)\]", fault["faultstring"]).group(1) == str(first["nCodOS"])
    assert len(sim.state.orders) == 1


def test_unknown_client_service_and_inactive_service_are_refused(omie, client_param, order_param):
    client_id = _client(omie, client_param)
    status, fault = omie.fault(OS, "IncluirOS", order_param("OS-4", 42))
    assert (status, fault["faultcode"]) == (500, "SOAP-ENV:Client-105") and "[42]" in fault["faultstring"]
    _, fault = omie.fault(OS, "IncluirOS", order_param("OS-5", client_id, {"cCodIntServico": "NOPE", "nQtde": 1}))
    assert fault["faultcode"] == "SOAP-ENV:Client-5002" and "[NOPE]" in fault["faultstring"]
    _, fault = omie.fault(
        OS, "IncluirOS", order_param("OS-6", client_id, {"cCodIntServico": "SRV-HOSPEDAGEM", "nQtde": 1})
    )
    assert "inativo" in fault["faultstring"]


def test_missing_required_order_fields_are_named(omie, client_param, order_param):
    client_id = _client(omie, client_param)
    free_item = {"cDescServ": "Serviço avulso", "nQtde": 1, "nValUnit": 10, "cTribServ": "01", "cCodServLC116": "1.07"}
    _, fault = omie.fault(OS, "IncluirOS", order_param("OS-7", client_id, free_item))
    assert fault["faultstring"] == "ERROR: O preenchimento da tag [cCodServMun] é obrigatório!"
    param = order_param("OS-8", client_id)
    del param["Cabecalho"]["dDtPrevisao"]
    _, fault = omie.fault(OS, "IncluirOS", param)
    assert "[dDtPrevisao]" in fault["faultstring"]
    param = order_param("OS-9", client_id)
    del param["Cabecalho"]["nCodCli"]
    _, fault = omie.fault(OS, "IncluirOS", param)
    assert "[nCodCli] ou [cCodIntCli]" in fault["faultstring"]
    _, fault = omie.fault(OS, "ConsultarOS", {"cCodIntOS": "NOPE"})
    assert fault["faultcode"] == "SOAP-ENV:Client-103"


def test_consultar_by_every_key_and_trocar_etapa(omie, client_param, order_param):
    client_id = _client(omie, client_param)
    status = omie.ok(OS, "IncluirOS", order_param("OS-10", client_id, cEtapa="10"))
    keys = ({"nCodOS": status["nCodOS"]}, {"cCodIntOS": "OS-10"}, {"cNumOS": status["cNumOS"]})
    answers = [omie.ok(OS, "ConsultarOS", key) for key in keys]
    assert answers[0] == answers[1] == answers[2]
    moved = omie.ok(OS, "TrocarEtapaOS", {"cCodIntOS": "OS-10", "cEtapa": "50"})
    assert moved == {
        "nCodOS": status["nCodOS"],
        "cCodIntOS": "OS-10",
        "cNumOS": status["cNumOS"],
        "codigo_status": "0",
        "descricao_status": "Etapa alterada com sucesso!",
    }
    assert omie.ok(OS, "ConsultarOS", {"cCodIntOS": "OS-10"})["Cabecalho"]["cEtapa"] == "50"
    _, fault = omie.fault(OS, "TrocarEtapaOS", {"cCodIntOS": "OS-10", "cEtapa": "70"})
    assert "[cEtapa]" in fault["faultstring"]


def test_listar_os_filters_by_code_status_and_change_date(omie, client_param, order_param, sim):
    client_id = _client(omie, client_param)
    ids = [omie.ok(OS, "IncluirOS", order_param(f"OS-L{n}", client_id))["nCodOS"] for n in range(3)]
    with sim.state.lock:
        old = sim.state.orders[ids[0]]
        old.included_at = old.changed_at = old.included_at.replace(year=2020)
    by_code = omie.ok(
        OS, "ListarOS", {"pagina": 1, "registros_por_pagina": 10, "filtrar_por_codigo": [{"cCodIntOS": "OS-L1"}]}
    )
    assert [o["Cabecalho"]["nCodOS"] for o in by_code["osCadastro"]] == [ids[1]]
    omie.ok(OSP, "FaturarOS", {"nCodOS": ids[2]})
    invoiced = omie.ok(OS, "ListarOS", {"pagina": 1, "registros_por_pagina": 10, "filtrar_por_status": "F"})
    assert [o["Cabecalho"]["nCodOS"] for o in invoiced["osCadastro"]] == [ids[2]]
    today = sim.state.orders[ids[1]].changed_at.strftime("%d/%m/%Y")
    recent = omie.ok(
        OS,
        "ListarOS",
        {
            "pagina": 1,
            "registros_por_pagina": 10,
            "filtrar_por_data_de": today,
            "filtrar_por_data_ate": today,
            "filtrar_apenas_alteracao": "S",
        },
    )
    assert {o["Cabecalho"]["nCodOS"] for o in recent["osCadastro"]} == {ids[1], ids[2]}
    first_page = omie.ok(OS, "ListarOS", {"pagina": 1, "registros_por_pagina": 2})
    assert (first_page["total_de_paginas"], first_page["total_de_registros"]) == (2, 3)
    _, fault = omie.fault(OS, "ListarOS", {"pagina": 3, "registros_por_pagina": 2})
    assert fault["faultcode"] == "SOAP-ENV:Client-5113"


def test_validar_and_faturar_os_refuse_a_not_billable_order_in_http_200_with_the_same_reason(
    omie, client_param, order_param, sim
):
    no_email = _client(omie, client_param, "C-NOMAIL", "529.982.247-25", email="")
    no_address = _client(omie, client_param, "C-NOADDR", "12.ABC.345/01DE-35", cep="")
    good = _client(omie, client_param)
    free = {"cCodIntServico": "SRV-SUPORTE", "nQtde": 1, "nValUnit": 0}
    cases = (
        ("OS-V1", no_email, (), "Para emitir a NFS-e falta preencher o E-mail no cadastro do cliente"),
        ("OS-V2", no_address, (), "falta preencher o CEP"),
        ("OS-V3", good, (free,), "valor"),
    )
    for code, client_id, items, reason in cases:
        created = omie.ok(OS, "IncluirOS", order_param(code, client_id, *items))
        validated = omie.ok(OSP, "ValidarOS", {"cCodIntOS": code})
        assert validated["cCodStatus"] == "1" and reason in validated["cDescStatus"]
        refused = omie.ok(OSP, "FaturarOS", {"cCodIntOS": code})
        assert refused == {
            "cCodIntOS": code,
            "nCodOS": created["nCodOS"],
            "cCodStatus": "1",
            "cDescStatus": validated["cDescStatus"],
        }
        assert omie.ok(OS, "StatusOS", {"cCodIntOS": code})["cFaturada"] == "N"
    assert not any(order.faturada for order in sim.state.orders.values()), "a refused FaturarOS invoices nothing"
    stats = sim.stats()
    assert stats["errors"].get("FaturarOS", 0) == 0 and stats["responses_by_status"].get("500", 0) == 0
    omie.ok(OS, "IncluirOS", order_param("OS-V4", good))
    assert omie.ok(OSP, "ValidarOS", {"cCodIntOS": "OS-V4"})["cCodStatus"] == "0"
    status, fault = omie.fault(OSP, "FaturarOS", {"cCodIntOS": "OS-NONE"})
    assert (status, fault["faultcode"]) == (500, "SOAP-ENV:Client-103"), "an unknown OS is still a fault"


def test_discount_deduction_and_given_amounts_shape_the_taxes(omie, client_param, order_param):
    client_id = _client(omie, client_param)
    discounted = {
        "cCodIntServico": "SRV-SUPORTE",
        "nQtde": 2,
        "nValUnit": 500,
        "cTpDesconto": "P",
        "nAliqDesconto": 10,
        "impostos": {"nTotDeducao": 100},
    }
    kept = {
        "cCodIntServico": "SRV-SUPORTE",
        "nQtde": 1,
        "nValUnit": 450,
        "impostos": {"cUtilizaValorImposto": "S", "nValorISS": 30, "nBaseISS": 999, "nValorPIS": 4},
    }
    omie.ok(OS, "IncluirOS", order_param("OS-T", client_id, discounted, kept))
    order = omie.ok(OS, "ConsultarOS", {"cCodIntOS": "OS-T"})
    first, second = (item["impostos"] for item in order["ServicosPrestados"])
    assert (first["nBaseISS"], first["nValorISS"]) == (800.0, 23.2), "ISS base = 1000 - 10 % - 100 deduction"
    assert (first["nValorPIS"], first["nValorCOFINS"]) == (5.85, 27.0), "PIS/COFINS on the discounted 900"
    assert (second["nBaseISS"], second["nValorISS"]) == (450.0, 13.05), "Omie computes ISS, ignoring what was sent"
    assert (second["nValorPIS"], second["cUtilizaValorImposto"]) == (4.0, "S"), "a federal amount sent is kept"
    assert second["nValorCOFINS"] == 13.5, "a federal amount not sent is computed"
    assert order["Cabecalho"]["nValorTotal"] == 1350.0


def test_item_returns_the_ibs_cbs_rates_and_reductions_sent_or_from_the_catalog(omie, client_param, order_param):
    client_id = _client(omie, client_param)
    sent = {
        "cCodIntServico": "SRV-SUPORTE",
        "nQtde": 1,
        "nValUnit": 450,
        "impostos": {"nAliqCbs": 0.9, "nPercReducaoCbs": 60, "nPercReducaoIbsUf": 60, "cClassTrib": "200001"},
    }
    catalog = {"cCodIntServico": "SRV-SUPORTE", "nQtde": 1, "nValUnit": 450}
    omie.ok(OS, "IncluirOS", order_param("OS-IBS", client_id, sent, catalog))
    order = omie.ok(OS, "ConsultarOS", {"cCodIntOS": "OS-IBS"})
    first, second = (item["impostos"] for item in order["ServicosPrestados"])
    assert (first["nAliqCbs"], first["nPercReducaoCbs"], first["nPercReducaoIbsUf"]) == (0.9, 60.0, 60.0)
    assert (first["cClassTrib"], first["nPercReducaoIbsMun"]) == ("200001", 0.0)
    catalog_taxes = (second["cCST"], second["nAliqIbsUf"], second["nAliqIbsMun"], second["nPercReducaoCbs"])
    assert catalog_taxes == ("000", 0.05, 0.05, 0.0)
