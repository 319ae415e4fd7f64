"""servicos/osp: invoicing an OS (validate, invoice -> RPS to the prefeitura, cancel)."""

from __future__ import annotations

from typing import Any

from omie_pipeline.simulator import errors, lifecycle
from omie_pipeline.simulator.handlers import CallContext, omie_call
from omie_pipeline.simulator.handlers.common import flag
from omie_pipeline.simulator.handlers.ordens import find_order
from omie_pipeline.simulator.state import ServiceOrder

# What Omie needs in the client's record to issue an NFS-e, with the label its refusal uses, in the
# order the screen shows them. Omie's wording seen for the e-mail: "Para emitir ... falta preencher
# o E-mail" (omie-api.md §15, unconfirmed); the other fields follow the same pattern.
BILLING_FIELDS = (
    ("cnpj_cpf", "CNPJ/CPF"),
    ("endereco", "Endereço"),
    ("endereco_numero", "Número"),
    ("bairro", "Bairro"),
    ("cidade", "Cidade"),
    ("estado", "Estado"),
    ("cep", "CEP"),
    ("email", "E-mail"),
)
_KEYS = ("nCodOS", "cCodIntOS")
# What a billable OS gets when the `faturar_refuse_next` fault is on: a refusal from the billing
# side (certificate, prefeitura) that no check of the OS or its client could have foreseen.
INJECTED_REFUSAL = "Não foi possível faturar a OS: certificado digital vencido."


def _answer(order: ServiceOrder, code: str, message: str) -> dict[str, Any]:
    """osp answers echo `cCodIntOS` as 60 spaces when the order has none, as Omie does."""
    return {
        "cCodIntOS": order.c_cod_int_os or " " * 60,
        "nCodOS": order.n_cod_os,
        "cCodStatus": code,
        "cDescStatus": message,
    }


def _listed(labels: list[str]) -> str:
    """`o E-mail`, `o CEP e o E-mail`, `o Bairro, o CEP e o E-mail`: Omie's sentence for missing fields."""
    named = [f"o {label}" for label in labels]
    return named[0] if len(named) == 1 else f"{', '.join(named[:-1])} e {named[-1]}"


def not_billable_reason(ctx: CallContext, order: ServiceOrder) -> str | None:
    """Why Omie would refuse to invoice this order now, or None when it can."""
    if order.cancelada:
        return f"A Ordem de Serviço [{order.c_num_os}] está cancelada."
    if order.faturada and not order.refused_by_prefeitura:  # a refused RPS may be billed again
        return f"A Ordem de Serviço [{order.c_num_os}] já foi faturada."
    if not order.items or order.total <= 0:
        return "A Ordem de Serviço não possui serviços com valor para faturar."
    client = ctx.state.clients.get(order.n_cod_cli)
    if client is None:
        return f"Cliente [{order.n_cod_cli}] não encontrado."
    if client.get("inativo") == "S":
        return f"O cliente [{order.n_cod_cli}] está inativo."
    missing = [label for tag, label in BILLING_FIELDS if not str(client.get(tag) or "").strip()]
    if missing:
        return f"Para emitir a NFS-e falta preencher {_listed(missing)} no cadastro do cliente [{order.n_cod_cli}]."
    return None


@omie_call("servicos/osp", "ValidarOS")
def validar_os(ctx: CallContext, param: dict[str, Any]) -> dict[str, Any]:
    """HTTP 200 either way: cCodStatus "0" when billable, "1" and the reason when not."""
    order = find_order(ctx, param, _KEYS)
    reason = not_billable_reason(ctx, order)
    if reason:
        return _answer(order, "1", reason)
    return _answer(order, "0", "Ordem de Serviço validada com sucesso!")


@omie_call("servicos/osp", "FaturarOS")
def faturar_os(ctx: CallContext, param: dict[str, Any]) -> dict[str, Any]:
    """Accepts the order for invoicing and queues its RPS (001); the NFS-e comes later. An order
    whose RPS the prefeitura refused is billed again as a new RPS attempt.

    A refusal is an answer, not a fault: HTTP 200 with `cCodStatus` "1" and the reason, as
    ValidarOS gives it (an unknown order is still the Client-103 fault).
    """
    order = find_order(ctx, param, _KEYS)
    reason = not_billable_reason(ctx, order)
    if reason:
        return _answer(order, "1", reason)
    if ctx.take_fault("faturar_refuse"):
        return _answer(order, "1", INJECTED_REFUSAL)
    order.faturada = True
    order.invoiced_at = ctx.now
    order.changed_at = ctx.now
    order.etapa = "60"
    lifecycle.start_rps(ctx.state, order, ctx.config, ctx.now, ctx.mono)
    return _answer(order, "0", "Ordem de Serviço faturada com sucesso!")


@omie_call("servicos/osp", "CancelarOS")
def cancelar_os(ctx: CallContext, param: dict[str, Any]) -> dict[str, Any]:
    """Cancels the order's invoicing; with `cCancelarNfse` "S" (default) also the issued NFS-e."""
    order = find_order(ctx, param, _KEYS)
    cancel_nfse = flag(param, "cCancelarNfse", "S")
    if order.cancelada:
        raise errors.os_state(f"A Ordem de Serviço [{order.c_num_os}] já está cancelada!")
    if not order.faturada:
        raise errors.os_state(f"A Ordem de Serviço [{order.c_num_os}] não está faturada!")
    rps = order.rps
    if rps is not None and rps.status in ("001", "002"):
        raise errors.os_state(
            f"A NFS-e da Ordem de Serviço [{order.c_num_os}] está em processamento na prefeitura. "
            "Aguarde o retorno para cancelar."
        )
    if cancel_nfse and rps is not None and rps.status == "004":
        lifecycle.cancel_nfse(ctx.state, order, ctx.now)
    order.cancelada = True
    order.cancelled_at = ctx.now
    order.changed_at = ctx.now
    return _answer(order, "0", "Ordem de Serviço cancelada com sucesso!")
