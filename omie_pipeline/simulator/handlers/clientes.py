"""geral/clientes: the client register, keyed by Omie id, integration code and CNPJ/CPF."""

from __future__ import annotations

from typing import Any

from omie_pipeline.simulator import clock, documents, errors
from omie_pipeline.simulator.handlers import CallContext, omie_call
from omie_pipeline.simulator.handlers.common import (
    block_of,
    change_window,
    flag,
    list_of,
    present,
    require,
    require_one_of,
    snake_listing,
    stored_moment,
)
from omie_pipeline.simulator.money import int_field
from omie_pipeline.simulator.seed import SYSTEM_USER

WRITABLE_FIELDS = frozenset(
    {
        "codigo_cliente_omie",
        "codigo_cliente_integracao",
        "razao_social",
        "nome_fantasia",
        "cnpj_cpf",
        "pessoa_fisica",
        "endereco",
        "endereco_numero",
        "complemento",
        "bairro",
        "cidade",
        "cidade_ibge",
        "estado",
        "cep",
        "pesquisar_cep",
        "codigo_pais",
        "email",
        "homepage",
        "contato",
        "telefone1_ddd",
        "telefone1_numero",
        "telefone2_ddd",
        "telefone2_numero",
        "fax_ddd",
        "fax_numero",
        "inscricao_estadual",
        "inscricao_municipal",
        "inscricao_suframa",
        "optante_simples_nacional",
        "contribuinte",
        "produtor_rural",
        "tipo_atividade",
        "cnae",
        "inativo",
        "bloquear_faturamento",
        "bloquear_exclusao",
        "importado_api",
        "observacao",
        "obs_detalhadas",
        "recomendacao_atraso",
        "valor_limite_credito",
        "exterior",
        "nif",
        "tags",
        "recomendacoes",
        "dadosBancarios",
        "caracteristicas",
        "enderecoEntrega",
        "info",
    }
)
READ_ONLY_FIELDS = frozenset({"codigo_cliente_omie", "pessoa_fisica", "info", "importado_api", "pesquisar_cep"})
FILTER_FIELDS = frozenset(
    {"codigo_cliente_omie", "codigo_cliente_integracao", "cnpj_cpf", "razao_social", "nome_fantasia", "inativo", "tags"}
)


def _status(record: dict[str, Any], message: str) -> dict[str, Any]:
    return {
        "codigo_cliente_omie": record["codigo_cliente_omie"],
        "codigo_cliente_integracao": record.get("codigo_cliente_integracao", ""),
        "codigo_status": "0",
        "descricao_status": message,
    }


def _reject_unknown_tags(param: dict[str, Any]) -> None:
    for tag in param:
        if tag not in WRITABLE_FIELDS:
            raise errors.OmieFault(
                f"ERROR: Tag [{tag}] não faz parte da estrutura do tipo complexo [clientes_cadastro]!",
                "SOAP-ENV:Client-8",
            )


def _checked_document(ctx: CallContext, param: dict[str, Any], own_id: int | None) -> str | None:
    """The formatted CNPJ/CPF from `param`, after check digits and the duplicate rule."""
    if not present(param, "cnpj_cpf"):
        return None
    raw = str(param["cnpj_cpf"])
    if not documents.is_valid(raw):
        raise errors.invalid_document(raw)
    shown = documents.formatted(raw)
    holder = ctx.state.client_by_document(raw)
    if holder is not None and holder["codigo_cliente_omie"] != own_id:
        raise errors.client_duplicate_document(
            shown, holder["codigo_cliente_omie"], holder.get("codigo_cliente_integracao", "")
        )
    return shown


def _checked_code(ctx: CallContext, code: str, own_id: int | None) -> None:
    holder = ctx.state.client_by_code(code)
    if holder is not None and holder["codigo_cliente_omie"] != own_id:
        raise errors.client_duplicate_integration(code, holder["codigo_cliente_omie"])


def _apply(record: dict[str, Any], param: dict[str, Any], document: str | None) -> None:
    for tag, value in param.items():
        if tag not in READ_ONLY_FIELDS:
            record[tag] = value
    if document is not None:
        record["cnpj_cpf"] = document
        record["pessoa_fisica"] = "S" if documents.is_cpf(document) else "N"
    for tag in ("optante_simples_nacional", "contribuinte", "inativo"):
        if tag in param:
            flag(param, tag)


def _touch(ctx: CallContext, record: dict[str, Any]) -> None:
    day, hour = clock.stamp(ctx.now)
    record["info"].update({"dAlt": day, "hAlt": hour, "uAlt": SYSTEM_USER})


def _new_client(ctx: CallContext, param: dict[str, Any], document: str | None) -> dict[str, Any]:
    day, hour = clock.stamp(ctx.now)
    record: dict[str, Any] = {
        "codigo_cliente_omie": ctx.state.sequences.take("client_id"),
        "codigo_cliente_integracao": "",
        "razao_social": "",
        "nome_fantasia": "",
        "cnpj_cpf": "",
        "pessoa_fisica": "N",
        "endereco": "",
        "endereco_numero": "",
        "complemento": "",
        "bairro": "",
        "cidade": "",
        "estado": "",
        "cep": "",
        "codigo_pais": "1058",
        "email": "",
        "telefone1_ddd": "",
        "telefone1_numero": "",
        "inscricao_estadual": "",
        "inscricao_municipal": "",
        "inscricao_suframa": "",
        "optante_simples_nacional": "N",
        "contribuinte": "N",
        "inativo": "N",
        "tags": [],
        "info": {
            "dInc": day,
            "hInc": hour,
            "uInc": SYSTEM_USER,
            "dAlt": day,
            "hAlt": hour,
            "uAlt": SYSTEM_USER,
            "cImpAPI": "S",
        },
    }
    _apply(record, param, document)
    if not record["nome_fantasia"]:
        record["nome_fantasia"] = record["razao_social"]
    return record


def _find(ctx: CallContext, param: dict[str, Any]) -> dict[str, Any]:
    tag = require_one_of(param, "codigo_cliente_omie", "codigo_cliente_integracao")
    if tag == "codigo_cliente_omie":
        client_id = int_field(param, "codigo_cliente_omie")
        record = ctx.state.clients.get(client_id)
        if record is None:
            raise errors.client_not_found(client_id)
        return record
    code = str(param["codigo_cliente_integracao"])
    record = ctx.state.client_by_code(code)
    if record is None:
        raise errors.client_not_found_integration(code)
    return record


def _include(ctx: CallContext, param: dict[str, Any]) -> dict[str, Any]:
    require(param, "razao_social")
    if present(param, "codigo_cliente_integracao"):
        _checked_code(ctx, str(param["codigo_cliente_integracao"]), None)
    document = _checked_document(ctx, param, None)
    record = _new_client(ctx, param, document)
    ctx.state.put_client(record)
    return record


def _alter(ctx: CallContext, record: dict[str, Any], param: dict[str, Any]) -> dict[str, Any]:
    own_id = record["codigo_cliente_omie"]
    if present(param, "codigo_cliente_integracao"):
        _checked_code(ctx, str(param["codigo_cliente_integracao"]), own_id)
    document = _checked_document(ctx, param, own_id)
    updated = {**record, "info": dict(record["info"])}
    _apply(updated, param, document)
    _touch(ctx, updated)
    ctx.state.put_client(updated)
    return updated


@omie_call("geral/clientes", "IncluirCliente")
def incluir_cliente(ctx: CallContext, param: dict[str, Any]) -> dict[str, Any]:
    _reject_unknown_tags(param)
    require(param, "codigo_cliente_integracao")
    code = str(param["codigo_cliente_integracao"])
    duplicate = _duplicate_wording(ctx, param, code)
    if duplicate is not None and ctx.take_fault("duplicate_refusal"):
        return {
            "codigo_cliente_omie": 0,
            "codigo_cliente_integracao": code,
            "codigo_status": "1",
            "descricao_status": duplicate,
        }
    return _status(_include(ctx, param), "Cliente cadastrado com sucesso!")


def _duplicate_wording(ctx: CallContext, param: dict[str, Any], code: str) -> str | None:
    """Own wording of a duplicate refused inside HTTP 200 (fault `duplicate_refusal`), naming the
    integration code or the CPF/CNPJ but not "já cadastrado"; None when the client is new."""
    if ctx.state.client_by_code(code) is not None:
        return f"O Código de Integração [{code}] está em uso por outro cliente."
    raw = str(param.get("cnpj_cpf") or "")
    if raw and documents.is_valid(raw) and ctx.state.client_by_document(raw) is not None:
        return f"O CPF/CNPJ [{documents.formatted(raw)}] está em uso por outro cliente."
    return None


@omie_call("geral/clientes", "AlterarCliente")
def alterar_cliente(ctx: CallContext, param: dict[str, Any]) -> dict[str, Any]:
    _reject_unknown_tags(param)
    lookup = dict(param)
    if present(param, "codigo_cliente_omie"):
        lookup.pop("codigo_cliente_integracao", None)
    return _status(_alter(ctx, _find(ctx, lookup), param), "Cliente alterado com sucesso!")


@omie_call("geral/clientes", "UpsertClienteCpfCnpj")
def upsert_cliente_cpf_cnpj(ctx: CallContext, param: dict[str, Any]) -> dict[str, Any]:
    """Keyed by `cnpj_cpf`: alters the client holding the document, or includes a new one."""
    _reject_unknown_tags(param)
    require(param, "cnpj_cpf")
    raw = str(param["cnpj_cpf"])
    if not documents.is_valid(raw):
        raise errors.invalid_document(raw)
    existing = ctx.state.client_by_document(raw)
    if existing is None:
        return _status(_include(ctx, param), "Cliente cadastrado com sucesso!")
    return _status(_alter(ctx, existing, param), "Cliente alterado com sucesso!")


@omie_call("geral/clientes", "ConsultarCliente")
def consultar_cliente(ctx: CallContext, param: dict[str, Any]) -> dict[str, Any]:
    return _find(ctx, param)


def _matches_filter(record: dict[str, Any], wanted: dict[str, Any]) -> bool:
    for tag, value in wanted.items():
        if tag not in FILTER_FIELDS or value in (None, "", 0, []):
            continue
        if tag == "cnpj_cpf":
            if documents.normalise(record.get("cnpj_cpf", "")) != documents.normalise(str(value)):
                return False
        elif tag in ("razao_social", "nome_fantasia"):
            if str(value).strip().lower() not in str(record.get(tag, "")).lower():
                return False
        elif tag == "tags":
            names = {entry.get("tag") for entry in record.get("tags", [])}
            if not {entry.get("tag") for entry in value if isinstance(entry, dict)} <= names:
                return False
        elif tag == "codigo_cliente_omie":
            if record["codigo_cliente_omie"] != int_field(wanted, tag):
                return False
        elif str(record.get(tag, "")) != str(value):
            return False
    return True


def _selected(ctx: CallContext, param: dict[str, Any]) -> list[dict[str, Any]]:
    wanted = block_of(param, "clientesFiltro")
    by_code = list_of(param, "clientesPorCodigo")
    only_api = flag(param, "apenas_importado_api")
    changed_in_window = change_window(param)
    chosen = []
    for client_id in sorted(ctx.state.clients):
        record = ctx.state.clients[client_id]
        if only_api and record["info"].get("cImpAPI") != "S":
            continue
        if by_code and not any(
            entry.get("codigo_cliente_omie") == client_id
            or (
                entry.get("codigo_cliente_integracao")
                and entry.get("codigo_cliente_integracao") == record.get("codigo_cliente_integracao")
            )
            for entry in by_code
            if isinstance(entry, dict)
        ):
            continue
        if not _matches_filter(record, wanted):
            continue
        info = record["info"]
        if changed_in_window is not None and not changed_in_window(
            stored_moment(info["dInc"], info["hInc"]), stored_moment(info["dAlt"], info["hAlt"])
        ):
            continue
        chosen.append(record)
    return chosen


@omie_call("geral/clientes", "ListarClientes")
def listar_clientes(ctx: CallContext, param: dict[str, Any]) -> dict[str, Any]:
    return snake_listing(ctx, "ListarClientes", param, _selected(ctx, param), "clientes_cadastro")


@omie_call("geral/clientes", "ListarClientesResumido")
def listar_clientes_resumido(ctx: CallContext, param: dict[str, Any]) -> dict[str, Any]:
    return snake_listing(
        ctx, "ListarClientesResumido", param, _selected(ctx, param), "clientes_cadastro_resumido", _summary
    )


def _summary(record: dict[str, Any]) -> dict[str, Any]:
    return {
        "codigo_cliente": record["codigo_cliente_omie"],
        "codigo_cliente_integracao": record.get("codigo_cliente_integracao", ""),
        "razao_social": record.get("razao_social", ""),
        "nome_fantasia": record.get("nome_fantasia", ""),
        "cnpj_cpf": record.get("cnpj_cpf", ""),
    }
