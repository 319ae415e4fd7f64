"""Fixtures: the simulator's settings for these tests and a plain `requests` caller speaking Omie's envelope.

The caller is deliberately not the project's Omie client: these tests check the simulator itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from omie_pipeline.simulator import Simulator

APP_KEY = "1234567890"
APP_SECRET = "sim-secret"


@dataclass
class OmieCaller:
    """POSTs Omie envelopes to one simulator; `ok` and `fault` assert the kind of answer."""

    sim: Simulator
    app_key: Any = APP_KEY
    app_secret: str = APP_SECRET

    def __post_init__(self) -> None:
        self.session = requests.Session()

    def post(self, path: str, call: str, param: dict[str, Any], timeout: float = 10.0) -> requests.Response:
        envelope = {"call": call, "app_key": self.app_key, "app_secret": self.app_secret, "param": [param]}
        return self.session.post(self.sim.base_url + path, json=envelope, timeout=timeout)

    def ok(self, path: str, call: str, param: dict[str, Any]) -> dict[str, Any]:
        response = self.post(path, call, param)
        body = response.json()
        assert response.status_code == 200, body
        assert "faultstring" not in body, body
        return body

    def fault(self, path: str, call: str, param: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        response = self.post(path, call, param)
        body = response.json()
        assert set(body) == {"faultstring", "faultcode"}, body
        return response.status_code, body

    def control(self, endpoint: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
        url = self.sim.control_url + endpoint
        response = (
            self.session.post(url, json=payload or {}, timeout=10)
            if payload is not None
            else self.session.get(url, timeout=10)
        )
        assert response.status_code == 200, response.text
        return response.json()


FAST = dict(seed=7, clients=20, redundant_seconds=0.0, nfse_delay=(0.1, 0.3))


@pytest.fixture
def simulator_settings() -> dict[str, Any]:
    return FAST


@pytest.fixture
def omie(sim: Simulator) -> OmieCaller:
    return OmieCaller(sim)


@pytest.fixture
def caller() -> Callable[..., OmieCaller]:
    """`caller(sim, app_key=..., app_secret=...)`: an Omie caller for any simulator or credentials."""
    return OmieCaller


@pytest.fixture
def client_param() -> Callable[..., dict[str, Any]]:
    return complete_client


@pytest.fixture
def order_param() -> Callable[..., dict[str, Any]]:
    return os_param


def complete_client(code: str, document: str, **extra: Any) -> dict[str, Any]:
    """An IncluirCliente param with everything an NFS-e needs."""
    return {
        "codigo_cliente_integracao": code,
        "razao_social": f"Cliente {code} Ltda",
        "nome_fantasia": f"Cliente {code}",
        "cnpj_cpf": document,
        "email": f"{code.lower()}@example.com.br",
        "endereco": "Rua Teste",
        "endereco_numero": "100",
        "bairro": "Centro",
        "cidade": "SAO PAULO (SP)",
        "estado": "SP",
        "cep": "01001-000",
        **extra,
    }


def os_param(code: str, client_id: int, *items: dict[str, Any], **cabecalho: Any) -> dict[str, Any]:
    return {
        "Cabecalho": {
            "cCodIntOS": code,
            "nCodCli": client_id,
            "dDtPrevisao": "30/11/2026",
            "cEtapa": "50",
            "nQtdeParc": 1,
            **cabecalho,
        },
        "ServicosPrestados": list(items) or [{"cCodIntServico": "SRV-DESENVOLVIMENTO", "nQtde": 1, "nValUnit": 1000}],
    }
