"""A client for a simulated Omie, paced to the limits that simulator enforces.

Every test folder builds its clients here, so that pacing, retries and timeouts are exercised
against the simulator's own windows and counts rather than against Omie's production ones.
Simulators themselves are started by the `make_sim` and `sim` fixtures of tests/conftest.py.
"""

from __future__ import annotations

from typing import Any

from omie_pipeline.domain.taxes import Regime, regime_from_name
from omie_pipeline.omie import OmieClient, OmieLimits
from omie_pipeline.simulator import Simulator


def paced_limits(sim: Simulator, **changes: Any) -> OmieLimits:
    """Omie limits equal to the simulator's; keyword arguments change single limits."""
    config = sim.config
    return OmieLimits(
        window_seconds=config.window_seconds,
        per_method=config.per_method_limit,
        per_ip=config.per_ip_limit,
        max_in_flight=config.max_concurrent_per_method,
        **changes,
    )


def client_for(sim: Simulator, company: str | None = None, **overrides: Any) -> OmieClient:
    """A client paced to the simulator's limits, with short timeouts, backoff and concurrency waits.

    `company` is the app key of one of the simulator's companies (default: the first); keyword
    arguments replace any OmieClient setting (`limits`, `max_retries`, `redundant_seconds`, ...).
    """
    config = sim.config
    settings: dict[str, Any] = {
        "limits": paced_limits(sim),
        "timeout": (1.0, 3.0),
        "redundant_seconds": config.redundant_seconds,
        "backoff_base": 0.05,
        "backoff_max": 0.4,
        "concurrency_waits": (0.2, 0.4),
        "max_wait": 5.0,
        **overrides,
    }
    app_key = config.app_key if company is None else company
    return OmieClient(sim.base_url, app_key, dict(sim.credentials)[app_key], **settings)


def regime_of(sim: Simulator) -> Regime:
    """The regime the simulated company runs under, as a person would confirm it
    (OMIE_PIPELINE_TAX_REGIME): Omie's `regime_tributario` codes are not read as regimes."""
    return regime_from_name(sim.config.regime)


def billable_clients(sim: Simulator) -> list[dict[str, Any]]:
    """The simulator's active clients holding all Omie needs to invoice them (document, address, e-mail)."""
    with sim.state.lock:
        return [
            dict(record)
            for _, record in sorted(sim.state.clients.items())
            if record.get("email")
            and record.get("cnpj_cpf")
            and record.get("endereco")
            and record.get("cep")
            and record.get("inativo") != "S"
        ]
