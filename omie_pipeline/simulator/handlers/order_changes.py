"""servicos/os AlterarOS: correcting a service order before it is billed, or after the prefeitura
refused its RPS.

AlterarOS takes IncluirOS's structure (omie-api.md §8), the order named by `Cabecalho.nCodOS` or
`cCodIntOS`. What is sent replaces what the order holds; what is not sent is kept. Items are
addressed by `nSeqItem`, which AlterarOS requires on every item, with `cAcaoItem` "A" (alter, the
default), "E" (exclude) or "I" (include); an altered item keeps its service and the fields not sent,
and its taxes are computed again. An order billed and not refused (its RPS at the prefeitura, or
issued) or cancelled cannot be changed: a note that exists can only be cancelled.
"""

from __future__ import annotations

from typing import Any

from omie_pipeline.simulator import clock, errors
from omie_pipeline.simulator.handlers import CallContext, omie_call
from omie_pipeline.simulator.handlers.common import block_of, list_of, present
from omie_pipeline.simulator.handlers.ordens import find_order, order_status
from omie_pipeline.simulator.handlers.order_input import (
    BLOCKS,
    ETAPAS,
    MAX_NOTE_TEXT,
    check_tags,
    client_id_of,
    email_block,
    item_of,
)
from omie_pipeline.simulator.money import int_field
from omie_pipeline.simulator.state import OrderItem, ServiceOrder

ITEM_ACTIONS = ("A", "E", "I")
_CABECALHO_KEPT = ("dDtPrevisao", "nQtdeParc", "cCodParc", "nCodVend", "nCodCtr")


def _changeable(order: ServiceOrder) -> None:
    if order.cancelada:
        raise errors.os_state(f"A Ordem de Serviço [{order.c_num_os}] está cancelada e não pode ser alterada!")
    if order.faturada and not order.refused_by_prefeitura:
        raise errors.os_state(f"A Ordem de Serviço [{order.c_num_os}] já foi faturada e não pode ser alterada!")


def _sequence(raw: dict[str, Any]) -> int:
    if not present(raw, "nSeqItem"):
        raise errors.missing_tag("nSeqItem")
    return int_field(raw, "nSeqItem")


def _items(ctx: CallContext, order: ServiceOrder, changes: list[Any]) -> list[OrderItem]:
    """The order's items after the changes, by `nSeqItem`, in sequence order."""
    items = {int(item.fields["nSeqItem"]): item for item in order.items}
    for raw in changes:
        if not isinstance(raw, dict):
            raise errors.invalid_value("ServicosPrestados", raw, "objeto esperado")
        sequence = _sequence(raw)
        action = str(raw.get("cAcaoItem") or "A").upper()
        if action not in ITEM_ACTIONS:
            raise errors.invalid_value("cAcaoItem", action, "informe A (alterar), E (excluir) ou I (incluir)")
        given = {tag: value for tag, value in raw.items() if tag != "cAcaoItem"}
        if action == "I":
            if sequence in items:
                raise errors.invalid_value("nSeqItem", sequence, "já existe um item com esta sequência")
            items[sequence] = item_of(ctx, given, sequence)
            continue
        if sequence not in items:
            raise errors.invalid_value("nSeqItem", sequence, "item não encontrado na Ordem de Serviço")
        if action == "E":
            del items[sequence]
            continue
        current = dict(items[sequence].fields)
        merged = {**current, **given, "impostos": {**current.get("impostos", {}), **block_of(given, "impostos")}}
        for tag in ("nSeqItem", "nIdItem"):
            merged.pop(tag, None)
        if present(given, "cCodIntServico") and not present(given, "nCodServico"):
            merged.pop("nCodServico", None)  # a new service named by its integration code
        items[sequence] = item_of(ctx, merged, sequence)
    if not items:
        raise errors.missing_tag("ServicosPrestados")
    return [items[sequence] for sequence in sorted(items)]


def _client(ctx: CallContext, order: ServiceOrder, cabecalho: dict[str, Any]) -> int:
    if present(cabecalho, "nCodCli") or present(cabecalho, "cCodIntCli"):
        return client_id_of(ctx, cabecalho)
    return order.n_cod_cli


def _etapa(order: ServiceOrder, cabecalho: dict[str, Any]) -> str:
    """The stage asked for; a billed order (refused RPS) stays in its billed stage."""
    if not present(cabecalho, "cEtapa"):
        return order.etapa
    etapa = str(cabecalho["cEtapa"])
    if etapa not in ETAPAS:
        raise errors.invalid_value("cEtapa", etapa, f"etapas válidas: {', '.join(ETAPAS)}")
    return order.etapa if order.faturada else etapa


@omie_call("servicos/os", "AlterarOS")
def alterar_os(ctx: CallContext, param: dict[str, Any]) -> dict[str, Any]:
    check_tags(param, frozenset(BLOCKS), "osCadastro")
    cabecalho = block_of(param, "Cabecalho")
    order = find_order(ctx, cabecalho, ("nCodOS", "cCodIntOS"))
    _changeable(order)
    items = _items(ctx, order, list_of(param, "ServicosPrestados")) if "ServicosPrestados" in param else order.items
    extra = {**order.informacoes_adicionais, **block_of(param, "InformacoesAdicionais")}
    if len(str(extra.get("cDadosAdicNF", ""))) > MAX_NOTE_TEXT:
        raise errors.text_too_long("cDadosAdicNF", len(str(extra["cDadosAdicNF"])), MAX_NOTE_TEXT)
    email = email_block(block_of(param, "Email")) if "Email" in param else order.email
    client_id, etapa = _client(ctx, order, cabecalho), _etapa(order, cabecalho)
    if "dDtPrevisao" in cabecalho:
        try:
            clock.parse_omie_date(str(cabecalho["dDtPrevisao"]))
        except ValueError:
            raise errors.invalid_value("dDtPrevisao", cabecalho["dDtPrevisao"], "data no formato dd/mm/aaaa") from None
    # Every check has passed: the order changes as a whole or not at all.
    order.n_cod_cli, order.etapa = client_id, etapa
    order.cabecalho.update({tag: cabecalho[tag] for tag in _CABECALHO_KEPT if tag in cabecalho})
    order.items = items
    order.informacoes_adicionais = extra
    order.email = email
    order.observacoes = {**order.observacoes, **block_of(param, "Observacoes")}
    if "Departamentos" in param:
        order.departamentos = list_of(param, "Departamentos")
    if "Parcelas" in param:
        order.parcelas = list_of(param, "Parcelas")
    order.changed_at = ctx.now
    return order_status(order, "Ordem de Serviço alterada com sucesso!")
