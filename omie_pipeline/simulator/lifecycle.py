"""The NFS-e life of an invoiced order: RPS 001 -> 002 -> 004 (issued) or 003 (rejected); 005 on cancel.

A rejection carries one to three ERRO lines (a prefeitura often refuses for several reasons at
once) and creates no NFS-e: Omie lists only accepted and cancelled notes.

`FaturarOS` creates the RPS with its fate drawn up front; `advance` moves every RPS whose time has
come, and is run before each API call and by a background ticker. The prefeitura mode at the
moment an RPS is due decides how it ends: "up" (issued, or rejected for `rejection_rate` of them),
"reject" (every RPS ends in 003) or "stuck" (it stays in 002 until the prefeitura is back).
"""

from __future__ import annotations

import random
import string
from datetime import datetime
from typing import Any

from omie_pipeline.simulator import clock, tomador
from omie_pipeline.simulator.config import SimulatorConfig
from omie_pipeline.simulator.state import Nfse, Rps, ServiceOrder, SimState

# Common reasons a prefeitura refuses an RPS (codes of the national NFS-e layout).
REJECTIONS = (
    ("E0014", "DPS já informada anteriormente (número de DPS duplicado).", "Envie a DPS com uma nova numeração."),
    ("E0310", "Código de tributação nacional inexistente.", "Revise o código de serviço informado na OS."),
    ("E0604", "Alíquota de ISS informada para regime especial de tributação.", "Remova a alíquota de ISS da OS."),
    ("E0116", "Município do tomador não corresponde ao CEP informado.", "Corrija o endereço do cliente."),
    ("E0150", "Inscrição municipal do tomador inválida.", "Revise a inscrição municipal do cliente."),
)


def _message(code: str, description: str, correction: str, situation: str, moment: datetime) -> dict[str, Any]:
    return {
        "cCodigo": code,
        "cDescricao": description,
        "cCorrecao": correction,
        "cSituacao": situation,
        "cAnexo": "",
        "cUsuario": "PREFEITURA",
        "dData": clock.omie_date(moment),
        "hHora": clock.omie_time(moment),
    }


def fate_generator(seed: int, n_cod_os: int, attempt: int = 1) -> random.Random:
    """The generator of one billing attempt's NFS-e fate: depends only on the seed, the order id
    and the attempt (the first attempt's fate is the order's own, as before attempts existed)."""
    return random.Random(f"{seed}:nfse:{n_cod_os}" + (f":{attempt}" if attempt > 1 else ""))


def start_rps(state: SimState, order: ServiceOrder, config: SimulatorConfig, now: datetime, mono: float) -> Rps:
    """Create the order's RPS (a new attempt when an earlier one was refused) in 001, with its
    delays and outcome drawn from its own generator and the client's data as the prefeitura will
    judge it."""
    if order.rps is not None:
        order.earlier_rps.append(order.rps)
    rng = fate_generator(config.seed, order.n_cod_os, len(order.earlier_rps) + 1)
    low, high = config.nfse_delay
    settle_after = rng.uniform(low, high)
    rps = Rps(
        n_lote=state.sequences.take("lote_number"),
        n_rps=state.sequences.take("rps_number"),
        created_at=now,
        created_mono=mono,
        send_after=settle_after * rng.uniform(0.1, 0.5),
        settle_after=settle_after,
        outcome_roll=rng.random(),
        cod_verif="".join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(8)),
        protocolo=f"{rng.randint(10**14, 10**15 - 1)}",
        rejection=tuple(rng.sample(REJECTIONS, rng.randint(1, 3))),
        data_refusals=tomador.refusals(state.clients.get(order.n_cod_cli, {})),
    )
    rps.mensagens.append(_message("001", "RPS gerado e aguardando envio à prefeitura.", "", "SUCESSO", now))
    order.rps = rps
    state.pending_rps.add(order.n_cod_os)
    return rps


def _issue(state: SimState, order: ServiceOrder, rps: Rps, now: datetime) -> None:
    rps.status = "004"
    rps.n_nfse = state.sequences.take("nfse_number")
    rps.n_cod_nf = state.sequences.take("nf_id")
    rps.settled_at = now
    rps.mensagens.append(_message("004", f"NFS-e {rps.n_nfse} autorizada pela prefeitura.", "", "SUCESSO", now))
    state.nfses[rps.n_cod_nf] = Nfse(rps.n_cod_nf, order.n_cod_os, "F", rps.n_nfse, rps.cod_verif, now, now)
    order.changed_at = now


def _reject(order: ServiceOrder, rps: Rps, now: datetime, reasons: tuple[tuple[str, str, str], ...]) -> None:
    """The prefeitura refuses the RPS with one ERRO line per reason; no NFS-e exists, so ListarNFSEs
    never shows it (omie-api.md §15): only StatusOS/ConsultarOS of the order tell."""
    rps.status = "003"
    rps.settled_at = now
    for code, description, correction in reasons:
        rps.mensagens.append(_message(code, description, correction, "ERRO", now))
    order.changed_at = now


def _due(rps: Rps | None) -> float:
    return rps.created_mono + rps.settle_after if rps is not None else 0.0


def advance(state: SimState, config: SimulatorConfig, prefeitura: str, mono: float) -> None:
    """Move every RPS whose time has come. Caller holds `state.lock`."""
    now = None
    due_first = sorted(state.pending_rps, key=lambda n: _due(state.orders[n].rps))
    for n_cod_os in due_first:
        order = state.orders[n_cod_os]
        rps = order.rps
        if rps is None or rps.status not in ("001", "002"):
            state.pending_rps.discard(n_cod_os)
            continue
        elapsed = mono - rps.created_mono
        if rps.status == "001" and elapsed >= rps.send_after:
            now = now or clock.now()
            rps.status = "002"
            rps.mensagens.append(
                _message("002", f"Lote {rps.n_lote} enviado; protocolo {rps.protocolo}.", "", "SUCESSO", now)
            )
        if rps.status == "002" and elapsed >= rps.settle_after and prefeitura != "stuck":
            now = now or clock.now()
            if rps.data_refusals:
                _reject(order, rps, now, rps.data_refusals)
            elif prefeitura == "reject" or rps.outcome_roll < config.rejection_rate:
                _reject(order, rps, now, rps.rejection)
            else:
                _issue(state, order, rps, now)
            state.pending_rps.discard(n_cod_os)


def cancel_nfse(state: SimState, order: ServiceOrder, now: datetime) -> None:
    """Cancel an issued NFS-e at the prefeitura: RPS 005, NFS-e "C"."""
    rps = order.rps
    assert rps is not None and rps.status == "004"
    rps.status = "005"
    rps.mensagens.append(_message("005", f"NFS-e {rps.n_nfse} cancelada na prefeitura.", "", "SUCESSO", now))
    nfse = state.nfses[rps.n_cod_nf]
    nfse.status = "C"
    nfse.cancelled_at = now
    nfse.changed_at = now
