"""A simulated Omie over real HTTP, with windows short enough to trip every limit in a second."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest

from omie_pipeline.omie import OmieClient, OmieLimits
from omie_pipeline.simulator import Simulator, SimulatorConfig

APP_SECRET = "sim-secret-7f3a9c"
FAST = {
    "app_secret": APP_SECRET,
    "window_seconds": 1.0,
    "redundant_seconds": 1.0,
    "per_method_limit": 10,
    "per_ip_limit": 40,
    "misuse_block_seconds": 2.0,
    "nfse_delay": (0.05, 0.1),
}


def client_for(sim: Simulator, **overrides: Any) -> OmieClient:
    """A client paced to the simulator's own limits, with short timeouts and backoff."""
    config = sim.config
    limits = overrides.pop("limits", None) or OmieLimits(
        window_seconds=config.window_seconds,
        per_method=config.per_method_limit,
        per_app_key=config.per_ip_limit,
        max_in_flight=config.max_concurrent_per_method,
    )
    settings: dict[str, Any] = {
        "limits": limits,
        "timeout": (1.0, 3.0),
        "redundant_seconds": config.redundant_seconds,
        "backoff_base": 0.05,
        "backoff_max": 0.4,
        "max_wait": 5.0,
    }
    settings.update(overrides)
    return OmieClient(sim.base_url, config.app_key, config.app_secret, **settings)


@pytest.fixture
def make_sim() -> Iterator[Callable[..., Simulator]]:
    """Start simulators with FAST settings plus overrides; all are stopped after the test."""
    started: list[Simulator] = []

    def make(**overrides: Any) -> Simulator:
        sim = Simulator(SimulatorConfig(**{**FAST, **overrides})).start()
        started.append(sim)
        return sim

    yield make
    for sim in started:
        sim.stop()


@pytest.fixture
def sim(make_sim) -> Simulator:
    return make_sim()


def billable_client(sim: Simulator) -> dict[str, Any]:
    """A seeded client with everything Omie needs to invoice it (document, address, e-mail)."""
    with sim.state.lock:
        for record in sim.state.clients.values():
            if record.get("email") and record.get("cnpj_cpf") and record.get("endereco") and record.get("cep") \
                    and record.get("inativo") != "S":
                return dict(record)
    raise AssertionError("the seed holds no billable client")


def first_service_id(sim: Simulator) -> int:
    with sim.state.lock:
        for n_cod_serv, record in sorted(sim.state.services.items()):
            if record["info"]["inativo"] != "S":
                return n_cod_serv
    raise AssertionError("the seed holds no active service")


def os_param(code: str, client_id: int, service_id: int, value: str = "1500.00") -> dict[str, Any]:
    """An IncluirOS param for one catalog service."""
    return {
        "Cabecalho": {"cCodIntOS": code, "nCodCli": client_id, "dDtPrevisao": "01/12/2026", "cEtapa": "50",
                      "nQtdeParc": 1, "cCodParc": "000"},
        "ServicosPrestados": [{"nCodServico": service_id, "nQtde": 1, "nValUnit": Decimal(value)}],
    }
