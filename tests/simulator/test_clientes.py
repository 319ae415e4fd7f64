"""geral/clientes: listing, filters, look-ups, inclusion, alteration, upsert and their faults."""

from __future__ import annotations

import re

from omie_pipeline.simulator import documents

PATH = "geral/clientes/"


def test_listing_pages_through_every_seeded_client_then_5113(omie):
    seen = []
    page = 1
    while True:
        body = omie.ok(PATH, "ListarClientes", {"pagina": page, "registros_por_pagina": 7})
        assert body["pagina"] == page and body["total_de_registros"] == 20 and body["total_de_paginas"] == 3
        assert body["registros"] == len(body["clientes_cadastro"])
        seen += body["clientes_cadastro"]
        if page == body["total_de_paginas"]:
            break
        page += 1
    assert len({c["codigo_cliente_omie"] for c in seen}) == 20
    status, fault = omie.fault(PATH, "ListarClientes", {"pagina": 4, "registros_por_pagina": 7})
    assert status == 500
    assert fault == {
        "faultstring": "ERROR: Não existem registros para a página [4]!",
        "faultcode": "SOAP-ENV:Client-5113",
    }


def test_seeded_clients_have_valid_documents_of_every_kind(omie):
    clients = omie.ok(PATH, "ListarClientes", {"pagina": 1, "registros_por_pagina": 20})["clientes_cadastro"]
    kinds = set()
    for client in clients:
        assert documents.is_valid(client["cnpj_cpf"]), client["cnpj_cpf"]
        assert client["cnpj_cpf"] == documents.formatted(client["cnpj_cpf"])
        raw = documents.normalise(client["cnpj_cpf"])
        kinds.add("cpf" if len(raw) == 11 else "cnpj-alnum" if not raw.isdigit() else "cnpj")
        assert client["pessoa_fisica"] == ("S" if len(raw) == 11 else "N")
        assert set(client["info"]) >= {"dInc", "hInc", "dAlt", "hAlt", "cImpAPI"}
    assert kinds == {"cpf", "cnpj", "cnpj-alnum"}


def test_page_size_above_500_is_refused(omie):
    status, fault = omie.fault(PATH, "ListarClientes", {"pagina": 1, "registros_por_pagina": 501})
    assert status == 500 and "[500]" in fault["faultstring"]


def test_filter_by_document_accepts_digits_or_formatted(omie, sim):
    target = next(iter(sim.state.clients.values()))
    for given in (target["cnpj_cpf"], documents.normalise(target["cnpj_cpf"])):
        body = omie.ok(
            PATH, "ListarClientes", {"pagina": 1, "registros_por_pagina": 50, "clientesFiltro": {"cnpj_cpf": given}}
        )
        assert [c["codigo_cliente_omie"] for c in body["clientes_cadastro"]] == [target["codigo_cliente_omie"]]


def test_change_date_filter_returns_new_and_altered_clients_only(omie, client_param, sim):
    existing = sorted(sim.state.clients)[3]
    created = omie.ok(PATH, "IncluirCliente", client_param("DEAL-1", "11.222.333/0001-81"))
    omie.ok(PATH, "AlterarCliente", {"codigo_cliente_omie": existing, "email": "novo@example.com.br"})
    today = sim.state.clients[created["codigo_cliente_omie"]]["info"]["dAlt"]
    param = {
        "pagina": 1,
        "registros_por_pagina": 50,
        "filtrar_por_data_de": today,
        "filtrar_por_data_ate": today,
        "filtrar_apenas_alteracao": "S",
    }
    ids = {c["codigo_cliente_omie"] for c in omie.ok(PATH, "ListarClientes", param)["clientes_cadastro"]}
    assert ids == {created["codigo_cliente_omie"], existing}
    only_new = {**param, "filtrar_apenas_alteracao": "N", "filtrar_apenas_inclusao": "S"}
    ids = {c["codigo_cliente_omie"] for c in omie.ok(PATH, "ListarClientes", only_new)["clientes_cadastro"]}
    assert ids == {created["codigo_cliente_omie"]}


def test_hour_filter_narrows_the_day(omie, sim):
    morning, afternoon = sorted(sim.state.clients)[:2]
    with sim.state.lock:
        sim.state.clients[morning]["info"].update(dAlt="01/01/2020", hAlt="08:00:00")
        sim.state.clients[afternoon]["info"].update(dAlt="01/01/2020", hAlt="15:00:00")
    day = {
        "pagina": 1,
        "registros_por_pagina": 50,
        "filtrar_por_data_de": "01/01/2020",
        "filtrar_por_data_ate": "01/01/2020",
        "filtrar_apenas_alteracao": "S",
    }

    def ids(extra):
        return {
            c["codigo_cliente_omie"] for c in omie.ok(PATH, "ListarClientes", {**day, **extra})["clientes_cadastro"]
        }

    assert ids({}) == {morning, afternoon}
    assert ids({"filtrar_por_hora_de": "10:00:00"}) == {afternoon}
    assert ids({"filtrar_por_hora_ate": "10:00:00"}) == {morning}


def test_consultar_by_id_or_integration_code_and_not_found(omie, client_param):
    created = omie.ok(PATH, "IncluirCliente", client_param("DEAL-2", "529.982.247-25"))
    by_id = omie.ok(PATH, "ConsultarCliente", {"codigo_cliente_omie": created["codigo_cliente_omie"]})
    by_code = omie.ok(PATH, "ConsultarCliente", {"codigo_cliente_integracao": "DEAL-2"})
    assert by_id == by_code
    assert by_id["cnpj_cpf"] == "529.982.247-25" and by_id["pessoa_fisica"] == "S" and by_id["info"]["cImpAPI"] == "S"
    status, fault = omie.fault(PATH, "ConsultarCliente", {"codigo_cliente_omie": 1})
    assert status == 500 and fault == {
        "faultstring": "ERROR: Cliente não cadastrado para o Código [1] !",
        "faultcode": "SOAP-ENV:Client-105",
    }
    status, fault = omie.fault(PATH, "ConsultarCliente", {"cnpj_cpf": "529.982.247-25"})
    assert "[codigo_cliente_omie] ou [codigo_cliente_integracao]" in fault["faultstring"]


def test_incluir_stores_the_alphanumeric_cnpj_formatted(omie, client_param):
    status = omie.ok(PATH, "IncluirCliente", client_param("DEAL-3", "12abc34501de35"))
    assert status["codigo_status"] == "0" and status["codigo_cliente_integracao"] == "DEAL-3"
    stored = omie.ok(PATH, "ConsultarCliente", {"codigo_cliente_omie": status["codigo_cliente_omie"]})
    assert stored["cnpj_cpf"] == "12.ABC.345/01DE-35"


def test_a_cnpj_with_an_all_zero_root_is_a_real_cnpj_but_twelve_zeros_are_not(omie, client_param):
    status = omie.ok(PATH, "IncluirCliente", client_param("DEAL-BB", "00000000000191"))
    stored = omie.ok(PATH, "ConsultarCliente", {"codigo_cliente_omie": status["codigo_cliente_omie"]})
    assert (stored["cnpj_cpf"], stored["pessoa_fisica"]) == ("00.000.000/0001-91", "N")
    _, fault = omie.fault(PATH, "IncluirCliente", client_param("DEAL-Z", "00.000.000/0000-00"))
    assert fault["faultcode"] == "SOAP-ENV:Client-1004" and "[00.000.000/0000-00]" in fault["faultstring"]


def test_duplicate_integration_code_names_the_existing_id(omie, client_param):
    first = omie.ok(PATH, "IncluirCliente", client_param("DEAL-4", "11.222.333/0001-81"))
    status, fault = omie.fault(PATH, "IncluirCliente", client_param("DEAL-4", "529.982.247-25"))
    assert status == 500 and fault["faultcode"] == "SOAP-ENV:Client-102"
    assert fault["faultstring"] == (
        f"ERROR: Cliente já cadastrado para o Código de Integração [DEAL-4] "
        f"com o nCod [{first['codigo_cliente_omie']}] !"
    )


def test_duplicate_document_names_the_existing_id_and_code(omie, client_param):
    first = omie.ok(PATH, "IncluirCliente", client_param("DEAL-5", "11222333000181"))
    status, fault = omie.fault(PATH, "IncluirCliente", client_param("DEAL-6", "11.222.333/0001-81"))
    assert status == 500
    match = re.search(r"CPF/CNPJ \[(.+?)\] com o Id \[(\d+)\] e código de integração \[(.*?)\]", fault["faultstring"])
    assert match and match.groups() == ("11.222.333/0001-81", str(first["codigo_cliente_omie"]), "DEAL-5")


def test_invalid_document_and_missing_fields_are_named(omie, client_param, sim):
    before = len(sim.state.clients)
    status, fault = omie.fault(PATH, "IncluirCliente", client_param("DEAL-7", "11.222.333/0001-80"))
    assert status == 500 and "[11.222.333/0001-80]" in fault["faultstring"] and "inválido" in fault["faultstring"]
    param = client_param("DEAL-8", "11.222.333/0001-81")
    del param["razao_social"]
    status, fault = omie.fault(PATH, "IncluirCliente", param)
    assert fault["faultstring"] == "ERROR: O preenchimento da tag [razao_social] é obrigatório!"
    status, fault = omie.fault(PATH, "IncluirCliente", {**client_param("DEAL-9", "11.222.333/0001-81"), "cpf": "x"})
    assert "Tag [cpf]" in fault["faultstring"]
    assert len(sim.state.clients) == before


def test_alterar_changes_fields_and_checks_duplicates(omie, client_param, sim):
    first = omie.ok(PATH, "IncluirCliente", client_param("DEAL-10", "11.222.333/0001-81"))
    second = omie.ok(PATH, "IncluirCliente", client_param("DEAL-11", "529.982.247-25"))
    changed = omie.ok(PATH, "AlterarCliente", {"codigo_cliente_integracao": "DEAL-10", "email": "outro@example.com.br"})
    assert changed["descricao_status"] == "Cliente alterado com sucesso!"
    assert sim.state.clients[first["codigo_cliente_omie"]]["email"] == "outro@example.com.br"
    status, fault = omie.fault(
        PATH, "AlterarCliente", {"codigo_cliente_omie": second["codigo_cliente_omie"], "cnpj_cpf": "11.222.333/0001-81"}
    )
    assert f"com o Id [{first['codigo_cliente_omie']}]" in fault["faultstring"]


def test_upsert_by_document_includes_then_alters_the_same_client(omie, client_param, sim):
    created = omie.ok(PATH, "UpsertClienteCpfCnpj", client_param("DEAL-12", "12.ABC.345/01DE-35"))
    assert created["descricao_status"] == "Cliente cadastrado com sucesso!"
    again = omie.ok(PATH, "UpsertClienteCpfCnpj", {"cnpj_cpf": "12ABC34501DE35", "razao_social": "Novo Nome Ltda"})
    assert again["codigo_cliente_omie"] == created["codigo_cliente_omie"]
    assert again["descricao_status"] == "Cliente alterado com sucesso!"
    assert sim.state.clients[created["codigo_cliente_omie"]]["razao_social"] == "Novo Nome Ltda"
    status, fault = omie.fault(PATH, "UpsertClienteCpfCnpj", {"cnpj_cpf": "123", "razao_social": "X"})
    assert "inválido" in fault["faultstring"]
