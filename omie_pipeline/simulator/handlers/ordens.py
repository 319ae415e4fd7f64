"""servicos/os: service orders (OS) — include, look up, list, move between stages, NFS-e status."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from omie_pipeline.simulator import errors
from omie_pipeline.simulator.handlers import CallContext, omie_call
from omie_pipeline.simulator.handlers.common import (
    change_window,
    list_of,
    local,
    moment_range,
    require,
    require_one_of,
    snake_listing,
    stored_moment,
    within,
)
from omie_pipeline.simulator.handlers.order_input import ETAPAS, build_order, check_tags
from omie_pipeline.simulator.handlers.order_views import render_order, render_status
from omie_pipeline.simulator.money import int_field
from omie_pipeline.simulator.state import ServiceOrder

# Own wording: a duplicate `cCodIntOS` refused inside HTTP 200, naming the code but not "já cadastrado".
DUPLICATE_OS_REFUSAL = "O Código de Integração da OS [{code}] está em uso por outra Ordem de Serviço."


def find_order(
    ctx: CallContext, param: dict[str, Any], keys: tuple[str, ...] = ("nCodOS", "cCodIntOS", "cNumOS")
) -> ServiceOrder:
    """An order by Omie id, integration code or visible number, with Omie's not-found faults."""
    tag = require_one_of(param, *keys)
    if tag == "nCodOS":
        n_cod_os = int_field(param, "nCodOS")
        order = ctx.state.orders.get(n_cod_os)
        if order is None:
            raise errors.os_not_found(n_cod_os)
        return order
    if tag == "cCodIntOS":
        code = str(param["cCodIntOS"])
        order = ctx.state.order_by_code(code)
        if order is None:
            raise errors.os_not_found_integration(code)
        return order
    order = ctx.state.order_by_number(str(param["cNumOS"]))
    if order is None:
        raise errors.os_not_found(param["cNumOS"], "cNumOS")
    return order


def order_status(order: ServiceOrder, message: str) -> dict[str, Any]:
    return {
        "cCodIntOS": order.c_cod_int_os,
        "nCodOS": order.n_cod_os,
        "cNumOS": order.c_num_os,
        "cCodStatus": "0",
        "cDescStatus": message,
    }


@omie_call("servicos/os", "IncluirOS")
def incluir_os(ctx: CallContext, param: dict[str, Any]) -> dict[str, Any]:
    cabecalho = param.get("Cabecalho") if isinstance(param.get("Cabecalho"), dict) else {}
    code = str(cabecalho.get("cCodIntOS") or "")
    if code:
        existing = ctx.state.order_by_code(code)
        if existing is not None:
            if ctx.take_fault("duplicate_refusal"):
                return {
                    "cCodIntOS": code,
                    "nCodOS": 0,
                    "cNumOS": "",
                    "cCodStatus": "1",
                    "cDescStatus": DUPLICATE_OS_REFUSAL.format(code=code),
                }
            raise errors.os_duplicate(code, existing.n_cod_os)
    order = build_order(ctx, param)
    ctx.state.put_order(order)
    return order_status(order, "Ordem de Serviço cadastrada com sucesso!")


@omie_call("servicos/os", "ConsultarOS")
def consultar_os(ctx: CallContext, param: dict[str, Any]) -> dict[str, Any]:
    return render_order(ctx, find_order(ctx, param))


@omie_call("servicos/os", "StatusOS")
def status_os(ctx: CallContext, param: dict[str, Any]) -> dict[str, Any]:
    order = find_order(ctx, param, ("nCodOS", "cCodIntOS"))
    return render_status(ctx, order, param)


@omie_call("servicos/os", "TrocarEtapaOS")
def trocar_etapa_os(ctx: CallContext, param: dict[str, Any]) -> dict[str, Any]:
    order = find_order(ctx, param)
    require(param, "cEtapa")
    etapa = str(param["cEtapa"])
    if etapa not in ETAPAS:
        raise errors.invalid_value("cEtapa", etapa, f"etapas válidas: {', '.join(ETAPAS)}")
    if order.faturada:
        raise errors.os_state(f"A Ordem de Serviço [{order.c_num_os}] já foi faturada e não pode mudar de etapa!")
    order.etapa = etapa
    order.changed_at = ctx.now
    return {
        "nCodOS": order.n_cod_os,
        "cCodIntOS": order.c_cod_int_os,
        "cNumOS": order.c_num_os,
        "codigo_status": "0",
        "descricao_status": "Etapa alterada com sucesso!",
    }


def _status_letter(order: ServiceOrder) -> str:
    if order.cancelada:
        return "C"
    return "F" if order.faturada else "N"


def _listed(ctx: CallContext, param: dict[str, Any]) -> list[ServiceOrder]:
    codes = [entry for entry in list_of(param, "filtrar_por_codigo") if isinstance(entry, dict)]
    wanted_status = str(param.get("filtrar_por_status") or "").upper()
    wanted_etapa = str(param.get("filtrar_por_etapa") or "")
    wanted_client = int_field(param, "filtrar_por_cliente", 0)
    planned = moment_range(param, "filtrar_por_data_previsao_de", "filtrar_por_data_previsao_ate", "", "")
    invoiced = moment_range(param, "filtrar_por_data_faturamento_de", "filtrar_por_data_faturamento_ate", "", "")
    cancelled = moment_range(param, "filtrar_por_data_cancelamento_de", "filtrar_por_data_cancelamento_ate", "", "")
    changed_in_window = change_window(param)
    chosen = []
    for n_cod_os in sorted(ctx.state.orders):
        order = ctx.state.orders[n_cod_os]
        if codes and not any(
            entry.get("nCodOS") == n_cod_os or (entry.get("cCodIntOS") and entry.get("cCodIntOS") == order.c_cod_int_os)
            for entry in codes
        ):
            continue
        if wanted_status and _status_letter(order) != wanted_status:
            continue
        if wanted_etapa and order.etapa != wanted_etapa:
            continue
        if wanted_client and order.n_cod_cli != wanted_client:
            continue
        if changed_in_window is not None and not changed_in_window(local(order.included_at), local(order.changed_at)):
            continue
        if any(planned) and not within(_planned_moment(order), *planned):
            continue
        if any(invoiced) and not (order.invoiced_at and within(local(order.invoiced_at), *invoiced)):
            continue
        if any(cancelled) and not (order.cancelled_at and within(local(order.cancelled_at), *cancelled)):
            continue
        chosen.append(order)
    return chosen


def _planned_moment(order: ServiceOrder) -> datetime:
    return stored_moment(order.cabecalho["dDtPrevisao"], "12:00:00")


# ListarOS's request as omie-api.md §8 documents it: dates only, no hour filters.
LIST_TAGS = frozenset(
    {
        "pagina",
        "registros_por_pagina",
        "filtrar_por_data_de",
        "filtrar_por_data_ate",
        "filtrar_apenas_inclusao",
        "filtrar_apenas_alteracao",
        "filtrar_por_codigo",
        "filtrar_por_status",
        "filtrar_por_etapa",
        "filtrar_por_cliente",
        "filtrar_por_data_previsao_de",
        "filtrar_por_data_previsao_ate",
        "filtrar_por_data_faturamento_de",
        "filtrar_por_data_faturamento_ate",
        "filtrar_por_data_cancelamento_de",
        "filtrar_por_data_cancelamento_ate",
        "cTipoFat",
    }
)


@omie_call("servicos/os", "ListarOS")
def listar_os(ctx: CallContext, param: dict[str, Any]) -> dict[str, Any]:
    check_tags(param, LIST_TAGS, "osListarRequest")
    return snake_listing(
        ctx, "ListarOS", param, _listed(ctx, param), "osCadastro", lambda order: render_order(ctx, order)
    )
