"""Omie calls, one module per Omie service path (`ordens` serves servicos/os); each call is a
function `(ctx, param) -> answer`.

`@omie_call("geral/clientes", "ListarClientes")` registers a function; `registry()` loads every
handler module and returns `{service_path: {call: function}}`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from omie_pipeline.simulator.config import SimulatorConfig
from omie_pipeline.simulator.state import SimState

_MODULES = ("empresas", "clientes", "servico", "ordens", "order_changes", "osp", "nfse", "osdocs")


@dataclass
class CallContext:
    """What a call may use: the data (lock already held), the settings, one consistent now, and
    `take_fault(name)`, True (and counted) when a fault switched on at runtime hits this call."""

    state: SimState
    config: SimulatorConfig
    now: datetime
    mono: float
    documents_url: str
    take_fault: Callable[[str], bool]


Handler = Callable[[CallContext, dict[str, Any]], dict[str, Any]]
_REGISTRY: dict[str, dict[str, Handler]] = {}


def omie_call(service_path: str, call: str) -> Callable[[Handler], Handler]:
    def register(function: Handler) -> Handler:
        _REGISTRY.setdefault(service_path, {})[call] = function
        return function

    return register


def registry() -> dict[str, dict[str, Handler]]:
    for name in _MODULES:
        importlib.import_module(f"{__name__}.{name}")
    return _REGISTRY
