"""One Omie API call from raw bytes to answer: envelope, limits, credentials, faults, handler.

The order of the checks is the order a caller meets them at Omie's gateway:
path -> JSON -> misuse block (425) -> rate limits (429) -> credentials -> call name and param ->
concurrency (Client-1880) -> scheduled throttling answer -> injected instability (500 / HTML) ->
redundant call (Client-6) ->
the call itself -> latency and injected slowness -> injected lost answer.
A call is routed to its company by its app key (`companies.py`); the limits are counted per
(IP, app key, method) and per IP across every company, as Omie counts them.
The engine knows nothing of sockets; `server.py` moves its `Reply` over HTTP.
"""

from __future__ import annotations

import json
import logging
import random
import re
import threading
import time
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from omie_pipeline.simulator import clock, errors, lifecycle
from omie_pipeline.simulator.companies import Company, build_companies, build_company
from omie_pipeline.simulator.config import SimulatorConfig
from omie_pipeline.simulator.errors import OmieFault
from omie_pipeline.simulator.faults import FaultInjector
from omie_pipeline.simulator.handlers import CallContext, registry
from omie_pipeline.simulator.limits import (
    ConcurrencyGate,
    MisuseGuard,
    RateLimiter,
    RedundancyGuard,
)
from omie_pipeline.simulator.state import SimState
from omie_pipeline.simulator.stats import CompanyStats, SimStats

log = logging.getLogger(__name__)
_API_PATH = re.compile(r"^/api/v1/([A-Za-z0-9_]+)/([A-Za-z0-9_]+)/$")
HTML_ERROR_PAGE = (
    "<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body>"
    "<center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>"
)


@dataclass
class Reply:
    status: int
    body: bytes
    content_type: str = "application/json; charset=utf-8"
    lose_connection: bool = False


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def json_bytes(payload: Any) -> bytes:
    return json.dumps(payload, ensure_ascii=False, default=_json_default).encode("utf-8")


def _fault_reply(fault: OmieFault) -> Reply:
    return Reply(fault.status, json_bytes(fault.body()))


def _canonical(param: Any) -> str:
    return json.dumps(param, sort_keys=True, separators=(",", ":"), default=str)


class Engine:
    """The simulated Omie: its companies (data and counters per key pair), limits, faults and host counters."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.handlers = registry()
        self.stats = SimStats()
        self.faults = FaultInjector()
        self.stopping = threading.Event()
        self.documents_url = "http://127.0.0.1/_sim/docs/"
        self._swap_lock = threading.Lock()
        self._install(config)

    def _install(self, config: SimulatorConfig) -> None:
        with self._swap_lock:
            self.config = config
            self.companies: dict[str, Company] = build_companies(config)
            self.rates = RateLimiter(config.window_seconds, config.per_method_limit, config.per_ip_limit)
            self.concurrency = ConcurrencyGate(config.max_concurrent_per_method, config.serialised_methods)
            self.redundancy = RedundancyGuard(config.redundant_seconds)
            self.misuse = MisuseGuard(config.misuse_error_threshold, config.misuse_block_seconds)
            self._latency_rng = random.Random(config.seed)

    def reset(self, seed: int | None = None, clients: int | None = None) -> None:
        """Fresh seed data, limits, counters and faults (optionally with a new seed or client count)."""
        changes: dict[str, Any] = {}
        if seed is not None:
            changes["seed"] = seed
        if clients is not None:
            changes["clients"] = clients
        self._install(replace(self.config, **changes) if changes else self.config)
        self.stats.reset()
        self.faults.configure({"clear": True})

    def reseed_company(self, app_key: str, seed: int, clients: int | None = None) -> Company:
        """Fresh data and counters for one company from a new seed (and client count); the other
        companies, the limits and the faults are left as they are."""
        with self._swap_lock:
            old = self.companies[app_key]
            identity = replace(old.identity, seed=seed, clients=old.identity.clients if clients is None else clients)
            identities = tuple(identity if c.app_key == app_key else c.identity for c in self.companies.values())
            self.config = (
                replace(self.config, companies=identities)
                if self.config.companies
                else replace(self.config, seed=identity.seed, clients=identity.clients)
            )
            self.companies[app_key] = build_company(self.config, identity, old.number)
            return self.companies[app_key]

    @property
    def state(self) -> SimState:
        """The first company's data (the only company's, when the simulator serves one)."""
        return next(iter(self.companies.values())).state

    def company(self, app_key: str) -> Company:
        """The company selected by `app_key`; KeyError naming the key when none has it."""
        try:
            return self.companies[str(app_key)]
        except KeyError:
            raise KeyError(f"no company with app_key {app_key!r}") from None

    def tick(self) -> None:
        """Move due RPS along, so that direct reads of `state` see the current NFS-e life too."""
        for company in list(self.companies.values()):
            with company.state.lock:
                lifecycle.advance(company.state, company.config, self.faults.prefeitura, time.monotonic())

    def stats_snapshot(self) -> dict[str, Any]:
        """Host totals (every company and unknown keys together), plus each company's own counters
        and data under `companies`, by app key (never the secret)."""
        snapshot = self.stats.snapshot()
        snapshot["peak_concurrency"] = self.concurrency.peaks()
        snapshot["faults_active"] = self.faults.snapshot()
        companies: dict[str, Any] = {}
        totals: dict[str, Any] = {"clients": 0, "services": 0, "orders": 0, "nfses": 0, "rps_by_status": {}}
        for company in list(self.companies.values()):
            data = company.data_counts()
            companies[company.app_key] = {
                "cnpj": company.state.company["cnpj"],
                **company.stats.snapshot(),
                "data": data,
            }
            for name in ("clients", "services", "orders", "nfses"):
                totals[name] += data[name]
            for status, count in data["rps_by_status"].items():
                totals["rps_by_status"][status] = totals["rps_by_status"].get(status, 0) + count
        snapshot["data"] = totals
        snapshot["companies"] = companies
        return snapshot

    # the API call
    def handle_api(self, path: str, body: bytes, ip: str) -> Reply:
        reply = self._handle(path, body, ip)
        self.stats.count_response("lost" if reply.lose_connection else reply.status)
        return reply

    def _handle(self, path: str, body: bytes, ip: str) -> Reply:
        match = _API_PATH.match(path)
        service_path = f"{match.group(1)}/{match.group(2)}" if match else path
        if not match or service_path not in self.handlers:
            return self._answer_fault(errors.unknown_service(path), None)
        try:
            envelope = json.loads(body.decode("utf-8"), parse_float=Decimal)
        except (UnicodeDecodeError, json.JSONDecodeError):
            self.stats.count_malformed()
            return self._answer_fault(errors.malformed_json(), None)
        if not isinstance(envelope, dict) or not isinstance(envelope.get("call"), str) or not envelope["call"]:
            self.stats.count_malformed()
            return self._answer_fault(
                errors.invalid_envelope("Informe [call], [app_key], [app_secret] e [param]."), None
            )

        call = envelope["call"]
        app_key = str(envelope.get("app_key") or "")
        company = self.companies.get(app_key)
        counters = company.stats if company is not None else None
        self.stats.count_call(call)
        now = time.monotonic()
        if counters is not None:
            counters.count_call(call, now)
        else:
            self.stats.count_unknown_key()
        try:
            self.misuse.check(app_key, now)
        except OmieFault as fault:
            self._count_rejection(counters, "425")
            return self._answer_fault(fault, call, counters)
        try:
            self.rates.admit(ip, app_key, call, now)
        except OmieFault as fault:
            scope = "ip" if "(ip)" in fault.faultstring else "method"
            self._count_rejection(counters, "429", scope, ip)
            return self._answer_fault(fault, call, counters)

        try:
            handler, param = self._resolve(envelope, company, service_path, call)
        except OmieFault as fault:
            return self._answer_counted_fault(fault, app_key, call, counters)
        assert company is not None  # _resolve refuses unknown keys
        try:
            self.concurrency.acquire(ip, app_key, call)
        except OmieFault as fault:
            self._count_rejection(counters, "concurrency")
            return self._answer_counted_fault(fault, app_key, call, counters)
        try:
            return self._run(handler, param, ip, company, call, service_path)
        finally:
            self.concurrency.release(ip, app_key, call)

    def _count_rejection(
        self, counters: CompanyStats | None, reason: str, scope: str | None = None, ip: str | None = None
    ) -> None:
        """A refused call, in the host totals and, for a known key, in its company's counters."""
        self.stats.count_rejection(reason, scope, ip)
        if counters is not None:
            counters.count_rejection(reason, scope)

    def _resolve(
        self, envelope: dict[str, Any], company: Company | None, service_path: str, call: str
    ) -> tuple[Any, dict[str, Any]]:
        """The handler and param of a call by a known key with its own secret; Omie's key fault
        for an unknown key or another company's (or a wrong) secret."""
        if company is None:
            raise errors.bad_credentials()
        if str(envelope.get("app_secret") or "") != company.identity.app_secret:
            company.stats.count_bad_secret()
            raise errors.bad_credentials()
        handler = self.handlers[service_path].get(call)
        if handler is None:
            raise errors.unknown_method(call, service_path)
        param = envelope.get("param")
        if not isinstance(param, list) or len(param) != 1 or not isinstance(param[0], dict):
            raise errors.invalid_envelope("A tag [param] deve ser uma lista com um único objeto.")
        if not param[0]:
            raise errors.empty_param(call)
        return handler, param[0]

    def _run(
        self, handler: Any, param: dict[str, Any], ip: str, company: Company, call: str, service_path: str
    ) -> Reply:
        app_key, counters = company.app_key, company.stats
        scheduled = self.faults.take_scheduled(call, service_path, param)
        if scheduled is not None:
            return self._answer_scheduled(scheduled, app_key, call)
        if self._take_fault("http_500", call):
            return self._answer_fault(errors.platform_error(), call, counters)
        if self._take_fault("html_error", call):
            return Reply(self.faults.html_error_status, HTML_ERROR_PAGE.encode("utf-8"), "text/html; charset=utf-8")
        try:
            self.redundancy.admit((ip, app_key, call, _canonical(param)), time.monotonic())
        except OmieFault as fault:
            self._count_rejection(counters, "redundant")
            return self._answer_counted_fault(fault, app_key, call, counters)

        state = company.state
        try:
            with state.lock:
                mono = time.monotonic()
                lifecycle.advance(state, company.config, self.faults.prefeitura, mono)
                context = CallContext(
                    state,
                    company.config,
                    clock.now(),
                    mono,
                    f"{self.documents_url}{company.documents_path}",
                    take_fault=lambda name: self._take_fault(name, call),
                )
                payload = json_bytes(handler(context, param))
            self.misuse.record(app_key, call, faulted=False, now=time.monotonic())
            reply = Reply(200, payload)
        except OmieFault as fault:
            reply = self._answer_counted_fault(fault, app_key, call, counters)
        except Exception:  # a simulator bug must still answer like a server, not hang the caller
            log.exception("simulator failure in %s", call)
            reply = self._answer_fault(
                errors.OmieFault("ERROR: Erro interno do simulador.", "SOAP-ENV:Server", kind="platform"),
                call,
                counters,
            )

        low, high = self.config.latency
        if high > 0:
            self.stopping.wait(self._latency_rng.uniform(low, high))
        if self._take_fault("slow", call):
            self.stopping.wait(self.faults.slow_seconds)
        if self._take_fault("lose_response", call):
            reply.lose_connection = True
        return reply

    def _answer_scheduled(self, scheduled: Any, app_key: str, call: str) -> Reply:
        """A scheduled answer instead of the call: counted as injected, not as a rejection; only an
        HTTP 200 refusal touches the misuse count (it resets it, as every refusal in HTTP 200 does)."""
        self.stats.count_scheduled(scheduled.kind)
        if scheduled.is_refusal:
            self.misuse.record(app_key, call, faulted=False, now=time.monotonic())
        if scheduled.html is not None:
            return Reply(scheduled.status, scheduled.html.encode("utf-8"), "text/html; charset=utf-8")
        if "faultcode" in scheduled.body:
            self.stats.count_fault(call, scheduled.body["faultcode"], business=False)
        return Reply(scheduled.status, json_bytes(scheduled.body))

    def _take_fault(self, name: str, call: str) -> bool:
        """True when switched-on fault `name` hits this call; counted in the stats."""
        if not self.faults.take(name, call):
            return False
        self.stats.count_injected(name)
        return True

    def _answer_counted_fault(
        self, fault: OmieFault, app_key: str, call: str, counters: CompanyStats | None = None
    ) -> Reply:
        """Answer a fault of an admitted call and count it towards the misuse block: business
        faults, redundant and concurrency refusals count; end-of-data (5113) and platform faults
        neither count nor reset (a success resets, in `_run`)."""
        if fault.kind in ("business", "limit") and self.misuse.record(
            app_key, call, faulted=True, now=time.monotonic()
        ):
            self.stats.count_misuse_block()
            if counters is not None:
                counters.count_misuse_block()
        return self._answer_fault(fault, call, counters)

    def _answer_fault(self, fault: OmieFault, call: str | None, counters: CompanyStats | None = None) -> Reply:
        self.stats.count_fault(call, fault.faultcode, business=fault.kind == "business")
        if counters is not None and call and fault.kind == "business":
            counters.count_error(call)
        return _fault_reply(fault)
