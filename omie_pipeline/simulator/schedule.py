"""A fault schedule: Omie's throttling texts (and one record refusal) played on chosen calls, in order.

Integrators see Omie refuse calls for pace with several wordings (omie-api.md §15). A schedule
lets a test or the demo play each of them on any method: every entry waits for a call it matches
(its `method`, or any call), lets `skip` matching calls pass, then answers the next `count` of
them with its text instead of running them. Like the other injected faults, a scheduled answer
is not applied, neither counts towards nor resets the misuse block (except the record refusal,
an HTTP 200 answer, which resets it as any refusal does), and starts no redundancy interval.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from omie_pipeline.simulator import errors

WAIT_KINDS = ("wait_to_request", "try_again_in")
KINDS = ("burst", *WAIT_KINDS, "concurrency", "gateway_403", "account_blocked")
DELIVERIES = ("fault", "in_200", "refusal")
_ENTRY_KEYS = {"kind", "method", "seconds", "skip", "count", "delivery"}
_REFUSAL_METHODS = frozenset({"IncluirOS", "FaturarOS"})


@dataclass(frozen=True)
class ScheduledAnswer:
    """What the engine sends instead of running the call."""

    kind: str
    status: int
    body: dict[str, Any] | None = None  # JSON answer
    html: str | None = None  # or an HTML page
    is_refusal: bool = False


@dataclass
class _Entry:
    kind: str
    method: str | None
    seconds: int
    skip: int
    count: int
    delivery: str

    def matches(self, call: str) -> bool:
        if self.count <= 0 or (self.method is not None and call != self.method):
            return False
        return not (self.kind == "account_blocked" and call not in _REFUSAL_METHODS)

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "method": self.method,
            "seconds": self.seconds,
            "skip": self.skip,
            "count": self.count,
            "delivery": self.delivery,
        }


def parse_schedule(value: Any) -> list[_Entry]:
    """The entries of a `schedule` setting; ValueError naming the entry and field that is wrong."""
    if not isinstance(value, list):
        raise ValueError("schedule must be a list of entries")
    return [_parse_entry(index, entry) for index, entry in enumerate(value)]


def _parse_entry(index: int, entry: Any) -> _Entry:
    where = f"schedule[{index}]"
    if not isinstance(entry, dict):
        raise ValueError(f"{where} must be an object")
    unknown = set(entry) - _ENTRY_KEYS
    if unknown:
        raise ValueError(f"{where}: unknown field(s): {', '.join(sorted(unknown))}")
    kind = entry.get("kind")
    if kind not in KINDS:
        raise ValueError(f"{where}.kind must be one of {', '.join(KINDS)}; got {kind!r}")
    method = entry.get("method")
    if method is not None and (not isinstance(method, str) or not method):
        raise ValueError(f"{where}.method must be a call name")
    if kind == "account_blocked" and method is not None and method not in _REFUSAL_METHODS:
        raise ValueError(f"{where}.method: account_blocked answers only {', '.join(sorted(_REFUSAL_METHODS))}")
    numbers = {}
    for name, default, minimum in (("seconds", 2, 1), ("skip", 0, 0), ("count", 1, 1)):
        number = entry.get(name, default)
        if not isinstance(number, int) or isinstance(number, bool) or number < minimum:
            raise ValueError(f"{where}.{name} must be a whole number >= {minimum}; got {number!r}")
        numbers[name] = number
    delivery = entry.get("delivery", "refusal" if kind == "account_blocked" else "fault")
    if delivery not in DELIVERIES:
        raise ValueError(f"{where}.delivery must be one of {', '.join(DELIVERIES)}; got {delivery!r}")
    if kind in ("gateway_403", "account_blocked") and delivery != ("refusal" if kind == "account_blocked" else "fault"):
        raise ValueError(f"{where}.delivery: {kind} has only its own delivery")
    return _Entry(kind, method, numbers["seconds"], numbers["skip"], numbers["count"], delivery)


class FaultSchedule:
    """The armed entries; not thread-safe on its own (the FaultInjector's lock guards it)."""

    def __init__(self) -> None:
        self.entries: list[_Entry] = []

    def take(self, call: str, service_path: str, param: dict[str, Any]) -> ScheduledAnswer | None:
        """The scheduled answer for this call, if the first entry matching it is due."""
        entry = next((entry for entry in self.entries if entry.matches(call)), None)
        if entry is None:
            return None
        if entry.skip > 0:
            entry.skip -= 1
            return None
        entry.count -= 1
        if entry.count == 0:
            self.entries.remove(entry)
        return _answer(entry, service_path, param)

    def snapshot(self) -> list[dict[str, Any]]:
        return [entry.as_dict() for entry in self.entries]


def _answer(entry: _Entry, service_path: str, param: dict[str, Any]) -> ScheduledAnswer:
    if entry.kind == "gateway_403":
        return ScheduledAnswer(entry.kind, 403, html=errors.GATEWAY_FORBIDDEN_PAGE)
    if entry.kind == "account_blocked":
        return ScheduledAnswer(
            entry.kind, 200, _refusal_body(service_path, param, errors.ACCOUNT_BLOCKED_FOR_BILLING), is_refusal=True
        )
    fault = {
        "burst": errors.burst_refusal,
        "wait_to_request": lambda: errors.wait_to_request(entry.seconds),
        "try_again_in": lambda: errors.try_again_in(entry.seconds),
        "concurrency": errors.concurrency,
    }[entry.kind]()
    if entry.delivery == "refusal":
        return ScheduledAnswer(entry.kind, 200, _refusal_body(service_path, param, fault.faultstring), is_refusal=True)
    return ScheduledAnswer(entry.kind, 200 if entry.delivery == "in_200" else fault.status, fault.body())


def _refusal_body(service_path: str, param: dict[str, Any], text: str) -> dict[str, Any]:
    """A write's status answer saying no: `codigo_status` in geral/*, `cCodStatus` in servicos/*."""
    if service_path.startswith("geral/"):
        return {
            "codigo_cliente_omie": param.get("codigo_cliente_omie") or 0,
            "codigo_cliente_integracao": param.get("codigo_cliente_integracao") or "",
            "codigo_status": "1",
            "descricao_status": text,
        }
    header = param.get("Cabecalho") if isinstance(param.get("Cabecalho"), dict) else param
    return {
        "cCodIntOS": header.get("cCodIntOS") or "",
        "nCodOS": header.get("nCodOS") or 0,
        "cCodStatus": "1",
        "cDescStatus": text,
    }
