"""The `/_sim/` endpoints: observe (stats), steer (faults, reset, seed, service rates) and files.

These are the simulator's own; Omie has nothing like them. Answers are JSON except the document
files under `/_sim/docs/`: the note's portal page (HTML), its XML, and its PDFs, which open only
through an unexpired pre-signed link from StatusOS or ObterNFSe (else 403, as a storage gateway
answers).

With several companies: `reset` and `faults` act on all of them (faults hit the next calls
whichever key makes them); `seed` and `services` take the `app_key` of one company (`seed`
requires it when there is more than one; `services` without it changes every company's catalog);
the files of the n-th company's notes are under `/_sim/docs/e<n>/`.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qs

from omie_pipeline.simulator import clock, nfse_files
from omie_pipeline.simulator.companies import Company
from omie_pipeline.simulator.engine import Engine, Reply, json_bytes
from omie_pipeline.simulator.seed import SYSTEM_USER
from omie_pipeline.simulator.state import SimState

_COMPANY_DOCS = re.compile(r"^/_sim/docs/(?:e(\d+)/)?(.*)$")
_DOC = re.compile(r"^(\d+)(\.xml|/portal)$")
_PDF = re.compile(r"^(\d+)/(dest|demo)\.pdf$")
_EXTRA_DOC = re.compile(r"^(rps|recibo)/(\d+)\.pdf$")


class ControlError(ValueError):
    """A bad control request; answered 400 with the message."""


def _ok(payload: Any, status: int = 200) -> Reply:
    return Reply(status, json_bytes(payload))


def _error(status: int, message: str) -> Reply:
    return Reply(status, json_bytes({"error": message}))


def _companies_named(engine: Engine, app_key: Any) -> list[Company]:
    """The company of `app_key`, or every company when it is None."""
    if app_key is None:
        return list(engine.companies.values())
    company = engine.companies.get(str(app_key))
    if company is None:
        raise ControlError(f"no company with app_key {app_key!r}")
    return [company]


def update_service(engine: Engine, code: int | str, app_key: str | None = None, **changes: Any) -> dict[str, Any]:
    """Change a catalog service's tax fields (`impostos` names, e.g. nAliqISS=5, cRetIR="S")
    and/or `inativo` ("S"/"N"); stamps `info.dAlt`/`hAlt` like an edit in Omie would.

    In the company of `app_key`, or in every company holding the service when None (their
    catalogs share the cCodIntServ codes; nCodServ ids are each company's own); returns the
    updated record of the named company, or of the first changed."""
    holders = [company for company in _companies_named(engine, app_key) if _service(company.state, code) is not None]
    if not holders:
        raise ControlError(f"no service with nCodServ or cCodIntServ {code!r}")
    return [_update_service(company.state, code, **changes) for company in holders][0]


def _service(state: SimState, code: int | str) -> dict[str, Any] | None:
    with state.lock:
        record = state.services.get(int(code)) if str(code).isdigit() else None
        return record if record is not None else state.service_by_code(str(code))


def _update_service(state: SimState, code: int | str, **changes: Any) -> dict[str, Any]:
    with state.lock:
        record = _service(state, code)
        if record is None:
            raise ControlError(f"no service with nCodServ or cCodIntServ {code!r}")
        taxes = dict(record["impostos"])
        info = dict(record["info"])
        for name, value in changes.items():
            if name == "inativo":
                if value not in ("S", "N"):
                    raise ControlError("inativo must be 'S' or 'N'")
                info["inativo"] = value
            elif name not in taxes:
                raise ControlError(f"unknown tax field {name!r}; known: {', '.join(sorted(taxes))}")
            elif isinstance(taxes[name], Decimal):
                try:
                    taxes[name] = Decimal(str(value))
                except InvalidOperation:
                    raise ControlError(f"{name} must be a number; got {value!r}") from None
            elif isinstance(taxes[name], bool):
                taxes[name] = bool(value)
            else:
                taxes[name] = str(value)
        day, hour = clock.stamp(clock.now())
        info.update({"dAlt": day, "hAlt": hour, "uAlt": SYSTEM_USER})
        updated = {**record, "impostos": taxes, "info": info}
        state.services[record["intListar"]["nCodServ"]] = updated
        return updated


def _read_json(body: bytes) -> dict[str, Any]:
    if not body.strip():
        return {}
    try:
        value = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ControlError(f"body is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise ControlError("body must be a JSON object")
    return value


def _post_faults(engine: Engine, body: dict[str, Any]) -> Reply:
    try:
        engine.faults.configure(body)
    except ValueError as exc:
        raise ControlError(str(exc)) from None
    return _ok(engine.faults.snapshot())


def _post_reset(engine: Engine, body: dict[str, Any]) -> Reply:
    engine.reset()
    return _ok({"reset": True, "seed": engine.config.seed, "clients": engine.config.clients})


def _post_seed(engine: Engine, body: dict[str, Any]) -> Reply:
    """One company gets fresh data from a new seed; with a single company, as reset with that seed."""
    seed, clients, app_key = body.get("seed"), body.get("clients"), body.get("app_key")
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise ControlError("seed must be an integer")
    if clients is not None and (not isinstance(clients, int) or clients < 0):
        raise ControlError("clients must be a whole number >= 0")
    if app_key is None and len(engine.companies) > 1:
        raise ControlError(f"this simulator serves {len(engine.companies)} companies: name one with app_key")
    if app_key is None:
        engine.reset(seed=seed, clients=clients)
        return _ok({"seed": engine.config.seed, "clients": engine.config.clients})
    company = _companies_named(engine, app_key)[0]
    company = engine.reseed_company(company.app_key, seed, clients)
    return _ok({"app_key": company.app_key, "seed": company.identity.seed, "clients": company.identity.clients})


def _post_services(engine: Engine, body: dict[str, Any]) -> Reply:
    code = body.get("nCodServ") or body.get("cCodIntServ")
    if code is None:
        raise ControlError("give nCodServ or cCodIntServ")
    changes = dict(body.get("impostos") or {})
    if "inativo" in body:
        changes["inativo"] = body["inativo"]
    record = update_service(engine, code, body.get("app_key"), **changes)
    return _ok(json.loads(json_bytes(record)))


_POSTS: dict[str, Callable[[Engine, dict[str, Any]], Reply]] = {
    "/_sim/faults": _post_faults,
    "/_sim/reset": _post_reset,
    "/_sim/seed": _post_seed,
    "/_sim/services": _post_services,
}


def handle_post(engine: Engine, path: str, body: bytes) -> Reply:
    action = _POSTS.get(path.rstrip("/"))
    if action is None:
        return _error(404, f"no control endpoint POST {path}")
    try:
        return action(engine, _read_json(body))
    except ControlError as exc:
        return _error(400, str(exc))


def _access_denied(message: str) -> Reply:
    body = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code><Message>{message}</Message></Error>'
    )
    return Reply(403, body.encode("utf-8"), "application/xml")


def _document(engine: Engine, path: str, query: str) -> Reply | None:
    engine.tick()
    located = _COMPANY_DOCS.match(path)
    if located is None:
        return None
    number = int(located.group(1) or 1)
    companies = [company for company in engine.companies.values() if company.number == number]
    if not companies:
        return None
    state, path = companies[0].state, located.group(2)
    with state.lock:
        match = _PDF.match(path)
        if match:
            nfse_id, kind = int(match.group(1)), match.group(2)
            signature = (parse_qs(query).get("Signature") or [""])[0]
            refusal = state.pdf_links.refusal(nfse_id, kind, signature, time.monotonic())
            if refusal is not None:
                return _access_denied(refusal)
            nfse = state.nfses.get(nfse_id)
            if nfse is None or nfse.status == "R":
                return _error(404, "no issued NFS-e with that id")
            return Reply(200, nfse_files.nfse_pdf(state, nfse), "application/pdf")
        match = _DOC.match(path)
        if match:
            nfse = state.nfses.get(int(match.group(1)))
            if nfse is None or nfse.status == "R":
                return _error(404, "no issued NFS-e with that id")
            kind = match.group(2)
            if kind == ".xml":
                return Reply(200, nfse_files.nfse_xml(state, nfse).encode("utf-8"), "application/xml; charset=utf-8")
            page = (
                f'<!DOCTYPE html><html lang="pt-BR"><head><title>NFS-e {nfse.number}</title></head><body>'
                f"<h1>NFS-e {nfse.number}</h1><p>Código de verificação {nfse.cod_verif}</p></body></html>"
            )
            return Reply(200, page.encode("utf-8"), "text/html; charset=utf-8")
        match = _EXTRA_DOC.match(path)
        if match:
            kind, number = match.group(1), match.group(2)
            title = "Recibo Provisorio de Servicos" if kind == "rps" else "Recibo de pagamento"
            return Reply(200, nfse_files.simple_pdf([f"{title} {number} (simulado)"]), "application/pdf")
    return None


def handle_get(engine: Engine, path: str) -> Reply:
    clean, _, query = path.partition("?")
    if clean.rstrip("/") == "/_sim/stats":
        engine.tick()
        return _ok(engine.stats_snapshot())
    if clean.rstrip("/") == "/_sim/faults":
        return _ok(engine.faults.snapshot())
    if clean.rstrip("/") == "/_sim/health":
        return _ok({"ok": True, "seed": engine.config.seed, "companies": list(engine.companies)})
    if clean.startswith("/_sim/docs/"):
        reply = _document(engine, clean, query)
        if reply is not None:
            return reply
    return _error(404, f"no control endpoint GET {path}")
