"""The fault schedule: Omie's throttling texts (omie-api.md §2, §15) played on any method, in order."""

from __future__ import annotations

import pytest
import requests

CLIENTS = "geral/clientes/"
OS = "servicos/os/"
OSP = "servicos/osp/"
LIST = {"pagina": 1, "registros_por_pagina": 5}


def test_each_throttling_text_is_played_in_order_on_the_named_method(omie):
    omie.control(
        "faults",
        {
            "schedule": [
                {"kind": "burst", "method": "ListarClientes"},
                {"kind": "wait_to_request", "method": "ListarClientes", "seconds": 3},
                {"kind": "try_again_in", "method": "ListarClientes", "seconds": 4},
                {"kind": "concurrency", "method": "ListarClientes"},
            ]
        },
    )
    assert omie.post("geral/empresas/", "ListarEmpresas", LIST).status_code == 200, "other methods are not hit"
    answers = [omie.fault(CLIENTS, "ListarClientes", LIST) for _ in range(4)]
    assert [status for status, _ in answers] == [500, 500, 500, 500]
    texts = [body["faultstring"] for _, body in answers]
    assert "consumo indevido" in texts[0] and answers[0][1]["faultcode"] == "SOAP-ENV:Client-500"
    assert "bloqueada" not in texts[0], "a burst refusal is not the account-wide block"
    assert texts[1] == "ERROR: Aguarde 3 segundos para efetuar a requisição."
    assert texts[2] == "ERROR: Tente novamente em 4 segundos."
    assert "Já existe uma requisição desse método sendo executada" in texts[3]
    assert answers[3][1]["faultcode"] == "SOAP-ENV:Client-1880"
    assert omie.post(CLIENTS, "ListarClientes", LIST).status_code == 200, "the schedule is used up"
    stats = omie.control("stats")
    assert stats["faults_injected"]["scheduled"] == 4
    assert stats["scheduled_by_kind"] == {"burst": 1, "wait_to_request": 1, "try_again_in": 1, "concurrency": 1}
    assert stats["rejected"] == {"429": 0, "425": 0, "redundant": 0, "concurrency": 0}, (
        "scheduled answers are injected faults, not rejections"
    )


def test_a_scheduled_answer_is_not_applied_and_starts_no_redundancy_interval(make_sim, caller, client_param):
    sim = make_sim(redundant_seconds=30.0)
    omie = caller(sim)
    omie.control("faults", {"schedule": [{"kind": "wait_to_request", "method": "IncluirCliente", "seconds": 1}]})
    param = client_param("SCHED-1", "11.222.333/0001-81")
    status, body = omie.fault(CLIENTS, "IncluirCliente", param)
    assert status == 500 and "Aguarde 1 segundos" in body["faultstring"]
    assert sim.state.client_by_code("SCHED-1") is None
    assert omie.ok(CLIENTS, "IncluirCliente", param)["codigo_status"] == "0", "the same call goes through next"


def test_gateway_403_is_an_html_page(omie):
    omie.control("faults", {"schedule": [{"kind": "gateway_403"}]})
    response = omie.post(CLIENTS, "ListarClientes", LIST)
    assert response.status_code == 403 and response.headers["Content-Type"].startswith("text/html")
    assert "403 Forbidden" in response.text and "chave de acesso" not in response.text
    assert omie.post(CLIENTS, "ListarClientes", LIST).status_code == 200


def test_skip_lets_calls_pass_before_the_entry_answers(omie):
    omie.control("faults", {"schedule": [{"kind": "concurrency", "method": "ListarClientes", "skip": 2, "count": 2}]})
    statuses = [omie.post(CLIENTS, "ListarClientes", LIST).status_code for _ in range(5)]
    assert statuses == [200, 200, 500, 500, 200]


def test_throttling_text_inside_http_200_and_as_a_refusal(omie, sim, client_param):
    omie.control(
        "faults",
        {
            "schedule": [
                {"kind": "try_again_in", "method": "ListarClientes", "delivery": "in_200", "seconds": 2},
                {"kind": "wait_to_request", "method": "IncluirCliente", "delivery": "refusal", "seconds": 2},
            ]
        },
    )
    response = omie.post(CLIENTS, "ListarClientes", LIST)
    assert response.status_code == 200 and response.json()["faultstring"] == "ERROR: Tente novamente em 2 segundos."
    answer = omie.ok(CLIENTS, "IncluirCliente", client_param("SCHED-R", "11.222.333/0001-81"))
    assert answer["codigo_status"] == "1"
    assert answer["descricao_status"] == "ERROR: Aguarde 2 segundos para efetuar a requisição."
    assert sim.state.client_by_code("SCHED-R") is None


def test_account_blocked_for_billing_is_a_refusal_of_the_record(omie, sim, client_param, order_param):
    client = omie.ok(CLIENTS, "IncluirCliente", client_param("BLK-C", "11.222.333/0001-81"))
    omie.control("faults", {"schedule": [{"kind": "account_blocked"}]})
    assert omie.post(CLIENTS, "ListarClientes", LIST).status_code == 200, "only IncluirOS/FaturarOS are refused"
    answer = omie.ok(OS, "IncluirOS", order_param("BLK-1", client["codigo_cliente_omie"]))
    assert answer == {
        "cCodIntOS": "BLK-1",
        "nCodOS": 0,
        "cCodStatus": "1",
        "cDescStatus": "Conta bloqueada para faturamento",
    }
    assert sim.state.order_by_code("BLK-1") is None
    assert omie.ok(OS, "IncluirOS", order_param("BLK-1", client["codigo_cliente_omie"]))["cCodStatus"] == "0"


@pytest.mark.parametrize(
    "entry, field",
    [
        ({"kind": "nope"}, "schedule[0].kind"),
        ({"kind": "burst", "seconds": 0}, "schedule[0].seconds"),
        ({"kind": "account_blocked", "method": "ListarClientes"}, "schedule[0].method"),
        ({"kind": "burst", "when": 1}, "schedule[0]: unknown field"),
    ],
)
def test_bad_schedule_entries_are_refused_naming_the_field(omie, entry, field):
    response = requests.post(omie.sim.control_url + "faults", json={"schedule": [entry]}, timeout=5)
    assert response.status_code == 400 and field in response.json()["error"]


def test_clear_empties_the_schedule(omie):
    omie.control("faults", {"schedule": [{"kind": "burst"}]})
    assert omie.control("faults")["schedule"][0]["kind"] == "burst"
    omie.control("faults", {"clear": True})
    assert omie.control("faults")["schedule"] == []
    assert omie.post(CLIENTS, "ListarClientes", LIST).status_code == 200
