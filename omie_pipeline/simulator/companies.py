"""The companies one simulator serves, each selected by its app key as at Omie: its settings as
its calls see them, its data (clients, services, orders, NFS-e, sequences) and its counters.

The limits are not here: Omie counts them per (IP, app key, method) and per IP across all keys,
so one set of guards in the engine serves every company.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from omie_pipeline.simulator.config import CompanyConfig, SimulatorConfig
from omie_pipeline.simulator.seed import build_state
from omie_pipeline.simulator.state import SimState
from omie_pipeline.simulator.stats import CompanyStats


@dataclass
class Company:
    """One served company. `number` is its 1-based place in the configuration; its document
    files live under `/_sim/docs/` (the first company) or `/_sim/docs/e<number>/` (the others),
    so that two companies' note ids never meet in one path."""

    number: int
    identity: CompanyConfig
    config: SimulatorConfig
    state: SimState
    stats: CompanyStats

    @property
    def app_key(self) -> str:
        return self.identity.app_key

    @property
    def documents_path(self) -> str:
        return "" if self.number == 1 else f"e{self.number}/"

    def data_counts(self) -> dict[str, Any]:
        """How many clients, services, orders and NFS-e the company holds, and its RPS by status."""
        with self.state.lock:
            rps_by_status: dict[str, int] = {}
            for order in self.state.orders.values():
                if order.rps is not None:
                    rps_by_status[order.rps.status] = rps_by_status.get(order.rps.status, 0) + 1
            return {
                "clients": len(self.state.clients),
                "services": len(self.state.services),
                "orders": len(self.state.orders),
                "nfses": len(self.state.nfses),
                "rps_by_status": rps_by_status,
            }


def build_company(config: SimulatorConfig, identity: CompanyConfig, number: int) -> Company:
    """A company with fresh seed data and zeroed counters."""
    own = config.for_company(identity)
    return Company(number, identity, own, build_state(own, identity=identity), CompanyStats(config.window_seconds))


def build_companies(config: SimulatorConfig) -> dict[str, Company]:
    """Every company of `config`, by app key, in configuration order."""
    return {
        identity.app_key: build_company(config, identity, number)
        for number, identity in enumerate(config.company_configs(), start=1)
    }
