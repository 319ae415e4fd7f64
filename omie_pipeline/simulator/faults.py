"""Failures switched on at runtime: instability faults, slow and lost answers, a prefeitura outage,
and a schedule of Omie's throttling texts (`schedule.py`)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from omie_pipeline.simulator.schedule import (
    FaultSchedule,
    ScheduledAnswer,
    parse_schedule,
)

COUNTED_FAULTS = ("http_500", "html_error", "slow", "lose_response", "faturar_refuse", "duplicate_refusal")
# Faults that only make sense for some calls, whatever `methods` says.
_FIXED_METHODS = {
    "faturar_refuse": frozenset({"FaturarOS"}),
    "duplicate_refusal": frozenset({"IncluirOS", "IncluirCliente"}),
}
PREFEITURA_MODES = ("up", "reject", "stuck")
_ACCEPTED_KEYS = {f"{name}_next" for name in COUNTED_FAULTS} | {
    "slow_seconds",
    "methods",
    "prefeitura",
    "clear",
    "html_error_status",
    "schedule",
}


@dataclass
class _Armed:
    remaining: int = 0
    methods: frozenset[str] | None = None

    def applies_to(self, method: str) -> bool:
        return self.remaining > 0 and (self.methods is None or method in self.methods)


class FaultInjector:
    """Holds the switched-on failures and hands them out one call at a time.

    Count-based faults (`<name>_next`) hit the next N calls, optionally only calls named in
    `methods` (which applies to the counts set in the same request); `faturar_refuse` hits only
    `FaturarOS`, which then answers HTTP 200 with `cCodStatus` "1"; `duplicate_refusal` hits only
    the duplicates of `IncluirOS`/`IncluirCliente`, answered HTTP 200 with status "1" in a wording
    without "já cadastrado" (Omie's wording for a duplicate `cCodIntOS` is not verified). `prefeitura` decides how RPS
    end: "up" (normal), "reject" (every RPS ends in 003) or "stuck" (RPS stay in 002).
    `schedule` replaces the armed fault schedule with a new list of entries (see `schedule.py`).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._armed = {name: _Armed() for name in COUNTED_FAULTS}
        self.slow_seconds = 5.0
        self.html_error_status = 502
        self.prefeitura = "up"
        self.schedule = FaultSchedule()

    def configure(self, settings: dict[str, Any]) -> None:
        """Apply one POST /_sim/faults body; raises ValueError naming any bad key or value."""
        unknown = set(settings) - _ACCEPTED_KEYS
        if unknown:
            raise ValueError(f"unknown fault setting(s): {', '.join(sorted(unknown))}")
        methods = settings.get("methods")
        if methods is not None and (not isinstance(methods, list) or not all(isinstance(m, str) for m in methods)):
            raise ValueError("methods must be a list of call names")
        entries = parse_schedule(settings["schedule"]) if "schedule" in settings else None
        with self._lock:
            if settings.get("clear"):
                self._armed = {name: _Armed() for name in COUNTED_FAULTS}
                self.slow_seconds = 5.0
                self.html_error_status = 502
                self.prefeitura = "up"
                self.schedule = FaultSchedule()
            if entries is not None:
                self.schedule.entries = entries
            for name in COUNTED_FAULTS:
                key = f"{name}_next"
                if key in settings:
                    count = settings[key]
                    if not isinstance(count, int) or isinstance(count, bool) or count < 0:
                        raise ValueError(f"{key} must be a whole number >= 0; got {count!r}")
                    scope = _FIXED_METHODS.get(name) or (frozenset(methods) if methods is not None else None)
                    self._armed[name] = _Armed(count, scope)
            if "slow_seconds" in settings:
                seconds = settings["slow_seconds"]
                if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or seconds < 0:
                    raise ValueError(f"slow_seconds must be a number >= 0; got {seconds!r}")
                self.slow_seconds = float(seconds)
            if "html_error_status" in settings:
                status = settings["html_error_status"]
                if not isinstance(status, int) or not 400 <= status <= 599:
                    raise ValueError(f"html_error_status must be an HTTP error status; got {status!r}")
                self.html_error_status = status
            if "prefeitura" in settings:
                mode = settings["prefeitura"]
                if mode not in PREFEITURA_MODES:
                    raise ValueError(f"prefeitura must be one of {', '.join(PREFEITURA_MODES)}; got {mode!r}")
                self.prefeitura = mode

    def take(self, name: str, method: str) -> bool:
        """True (and one fewer left) when fault `name` hits this call."""
        with self._lock:
            armed = self._armed[name]
            if not armed.applies_to(method):
                return False
            armed.remaining -= 1
            return True

    def take_scheduled(self, call: str, service_path: str, param: dict[str, Any]) -> ScheduledAnswer | None:
        """The scheduled answer that replaces this call, if one is due."""
        with self._lock:
            return self.schedule.take(call, service_path, param)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            state: dict[str, Any] = {f"{name}_next": armed.remaining for name, armed in self._armed.items()}
            state["methods"] = {
                name: sorted(armed.methods) for name, armed in self._armed.items() if armed.methods is not None
            }
            state["slow_seconds"] = self.slow_seconds
            state["html_error_status"] = self.html_error_status
            state["prefeitura"] = self.prefeitura
            state["schedule"] = self.schedule.snapshot()
            return state
