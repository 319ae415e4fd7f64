"""Fixtures for deals and clients: CSV and SQL deal sources and the settings of the simulated Omie.

The state store comes from tests/conftest.py (`store`, on SQLite and PostgreSQL). A CRM database
for SQL sources is made on the same kind of backend with `crm_url`.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest

from omie_pipeline.domain.deal import CANONICAL_COLUMNS
from omie_pipeline.simulator import Simulator

ACCOUNT = "acme"
SAMPLE_CSV = Path(__file__).resolve().parents[2] / "omie_pipeline" / "sample_data" / "deals.csv"


def deal_row(deal_id: str, document: str = "11.444.855/0001-28", **values: Any) -> dict[str, str]:
    """A valid closed deal in canonical columns (text, as in a CSV); keyword arguments override."""
    row = {
        "deal_id": deal_id,
        "account": "",
        "status": "won",
        "closed_at": "2026-11-20T10:00:00-03:00",
        "updated_at": "2026-11-20T10:05:00-03:00",
        "amount": "1500.00",
        "product_code": "CONSULTORIA",
        "description": f"Deal {deal_id}",
        "legal_name": "Construtora Monte Verde Ltda",
        "trade_name": "Monte Verde",
        "document": document,
        "email": "financeiro@monteverde.com.br",
        "phone": "(11) 3456-7890",
        "street": "Avenida Paulista",
        "number": "1578",
        "complement": "Conjunto 42",
        "district": "Bela Vista",
        "city": "São Paulo",
        "state": "SP",
        "zip": "01310-200",
        "city_ibge_code": "3550308",
        "municipal_registration": "12345678",
        "state_registration": "110042490114",
    }
    row.update({name: str(value) for name, value in values.items()})
    return row


def write_csv(path: Path, rows: list[dict[str, str]], columns: list[str] | None = None, delimiter: str = ",") -> Path:
    columns = columns or list(CANONICAL_COLUMNS)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, delimiter=delimiter, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
def crm_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database standing for the CRM, once per backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'crm.sqlite'}"
    return request.getfixturevalue("fresh_postgres_url")


FAST_SIM = {"redundant_seconds": 0.2, "nfse_delay": (0.05, 0.1), "app_secret": "sim-secret-deals"}


@pytest.fixture
def simulator_settings() -> dict[str, Any]:
    """A short redundancy interval, so that repeated listings within a test are not refused for long."""
    return FAST_SIM


def sim_clients_with_document(sim: Simulator, document: str) -> list[dict[str, Any]]:
    """Every simulated Omie client holding this (normalised) document."""
    from omie_pipeline.domain.documents import normalise_document

    with sim.state.lock:
        return [
            dict(record)
            for record in sim.state.clients.values()
            if normalise_document(record.get("cnpj_cpf", "")) == document
        ]


def seeded_clients(sim: Simulator, count: int) -> list[dict[str, Any]]:
    """The first `count` clients of the simulator's seed that have a document."""
    with sim.state.lock:
        records = [dict(record) for _, record in sorted(sim.state.clients.items()) if record.get("cnpj_cpf")]
    return records[:count]
