"""Omie's fault answers: `{faultstring, faultcode}` bodies with the HTTP status Omie uses.

Texts follow the wording catalogued in omie-api.md; clients are expected to match on the text,
since Omie's numeric fault codes are not stable identifiers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class OmieFault(Exception):
    """One fault answer. `kind` classifies it for the simulator's own accounting:

    - "business": the caller's data or key was wrong (counts towards the misuse block);
    - "end_of_data": a page past the end (5113), which is how Omie says "nothing more";
    - "limit": a limit rejection (429, 425, redundant, concurrency);
    - "platform": an injected instability fault.
    """

    faultstring: str
    faultcode: str
    status: int = 500
    kind: str = "business"

    def __str__(self) -> str:
        return f"{self.faultcode}: {self.faultstring}"

    def body(self) -> dict[str, Any]:
        return {"faultstring": self.faultstring, "faultcode": self.faultcode}


def bad_credentials() -> OmieFault:
    return OmieFault("A chave de acesso não está preenchida ou não é válida.", "SOAP-ENV:Server")


def malformed_json() -> OmieFault:
    return OmieFault("ERROR: JSON request with SyntaxError", "SOAP-ENV:Client-1")


def invalid_envelope(detail: str) -> OmieFault:
    return OmieFault(f"ERROR: Invalid JSON Object. {detail}", "SOAP-ENV:Client-1")


def empty_param(call: str) -> OmieFault:
    return OmieFault(f"ERROR: Nenhum parâmetro informado para o método [{call}]!", "SOAP-ENV:Client-71")


def unknown_service(path: str) -> OmieFault:
    return OmieFault(f"ERROR: Serviço [{path}] não encontrado!", "SOAP-ENV:Client-404", status=404)


def unknown_method(call: str, path: str) -> OmieFault:
    return OmieFault(f"ERROR: Método [{call}] não existe no serviço [{path}]!", "SOAP-ENV:Client-8")


def missing_tag(*tags: str) -> OmieFault:
    """One required tag, or a group of alternatives of which one must be given."""
    if len(tags) == 1:
        return OmieFault(f"ERROR: O preenchimento da tag [{tags[0]}] é obrigatório!", "SOAP-ENV:Client-1000")
    names = " ou ".join(f"[{tag}]" for tag in tags)
    return OmieFault(f"ERROR: O preenchimento das tags {names} é obrigatório!", "SOAP-ENV:Client-1002")


def invalid_value(tag: str, value: Any, why: str) -> OmieFault:
    return OmieFault(f"ERROR: Conteúdo inválido [{value}] na tag [{tag}]: {why}!", "SOAP-ENV:Client-1003")


def text_too_long(tag: str, length: int, maximum: int) -> OmieFault:
    """A text longer than the tag takes (the wording is the simulator's: Omie's is not documented)."""
    return OmieFault(
        f"ERROR: O conteúdo da tag [{tag}] tem {length} caracteres, maior que o permitido [{maximum}]!",
        "SOAP-ENV:Client-1003",
    )


def invalid_document(value: str) -> OmieFault:
    return OmieFault(f"ERROR: O CNPJ/CPF informado [{value}] é inválido!", "SOAP-ENV:Client-1004")


def page_past_end(page: int) -> OmieFault:
    return OmieFault(
        f"ERROR: Não existem registros para a página [{page}]!", "SOAP-ENV:Client-5113", kind="end_of_data"
    )


def page_size_too_large(tag: str, size: int, maximum: int) -> OmieFault:
    return OmieFault(
        f"ERROR: O número de registros por página [{size}] informado na tag [{tag}] é maior que o permitido "
        f"[{maximum}]!",
        "SOAP-ENV:Client-1005",
    )


def client_duplicate_integration(code: str, client_id: int) -> OmieFault:
    return OmieFault(
        f"ERROR: Cliente já cadastrado para o Código de Integração [{code}] com o nCod [{client_id}] !",
        "SOAP-ENV:Client-102",
    )


def client_duplicate_document(document: str, client_id: int, code: str) -> OmieFault:
    return OmieFault(
        f"ERROR: Cliente já cadastrado para o CPF/CNPJ [{document}] com o Id [{client_id}] "
        f"e código de integração [{code}] ! (add)",
        "SOAP-ENV:Client-102",
    )


def client_not_found(code: Any) -> OmieFault:
    return OmieFault(f"ERROR: Cliente não cadastrado para o Código [{code}] !", "SOAP-ENV:Client-105")


def client_not_found_integration(code: str) -> OmieFault:
    return OmieFault(f"ERROR: Cliente não cadastrado para o Código de Integração [{code}] !", "SOAP-ENV:Client-105")


def company_not_found(code: Any) -> OmieFault:
    return OmieFault(f"ERROR: Empresa não cadastrada para o Código [{code}] !", "SOAP-ENV:Client-105")


def service_not_found_integration(code: str) -> OmieFault:
    return OmieFault(
        f"ERROR: Serviço não cadastrado para o Código de integração do Serviço [{code}] ! Tag [cCodIntServ]!",
        "SOAP-ENV:Client-5002",
    )


def service_not_found(code: Any, tag: str = "nCodServ") -> OmieFault:
    return OmieFault(f"ERROR: Serviço não cadastrado para o Código [{code}] ! Tag [{tag}]!", "SOAP-ENV:Client-5002")


def service_inactive(code: Any) -> OmieFault:
    return OmieFault(f"ERROR: O Serviço [{code}] está inativo e não pode ser utilizado!", "SOAP-ENV:Client-5003")


def os_duplicate(code: str, os_id: int) -> OmieFault:
    return OmieFault(
        f"ERROR: Ordem de Serviço já cadastrada para o Código de Integração [{code}] com o nCodOS [{os_id}] !",
        "SOAP-ENV:Client-102",
    )


def os_not_found_integration(code: str) -> OmieFault:
    return OmieFault(f"ERROR: OS não cadastrada para o Código de Integração [{code}] !", "SOAP-ENV:Client-103")


def os_not_found(code: Any, tag: str = "nCodOS") -> OmieFault:
    return OmieFault(f"ERROR: OS não cadastrada para o Código [{code}] ! Tag [{tag}]!", "SOAP-ENV:Client-103")


def os_state(message: str) -> OmieFault:
    return OmieFault(f"ERROR: {message}", "SOAP-ENV:Client-104")


def nfse_not_found(code: Any) -> OmieFault:
    return OmieFault(f"ERROR: NFS-e não encontrada para o Id [{code}] !", "SOAP-ENV:Client-103")


def redundant(seconds: int) -> OmieFault:
    return OmieFault(
        f"ERROR: Consumo redundante detectado. Aguarde {seconds} segundos para tentar novamente (REDUNDANT).",
        "SOAP-ENV:Client-6",
        kind="limit",
    )


def concurrency() -> OmieFault:
    return OmieFault(
        "ERROR: Já existe uma requisição desse método sendo executada e você pode tentar novamente "
        "em alguns instantes. (1)",
        "SOAP-ENV:Client-1880",
        kind="limit",
    )


def misuse_block(seconds: int) -> OmieFault:
    return OmieFault(
        f"ERROR: API bloqueada por consumo indevido. Tente novamente em {seconds} segundos.",
        "MISUSE_API_PROCESS",
        status=425,
        kind="limit",
    )


def too_many_requests(scope: str, limit: int, window_seconds: float) -> OmieFault:
    return OmieFault(
        f"ERROR: Too many Requests. Limite de {limit} requisições em {window_seconds:g} segundos excedido ({scope}).",
        "SOAP-ENV:Client-429",
        status=429,
        kind="limit",
    )


def platform_error() -> OmieFault:
    return OmieFault(
        "ERROR: Ocorreu um erro interno no servidor. Tente novamente em alguns instantes.",
        "SOAP-ENV:Server",
        kind="platform",
    )


# Throttling answers integrators report (omie-api.md §15). Only the quoted fragments are known; the
# rest of each sentence and the fault codes are the simulator's own (clients match on the text).


def burst_refusal() -> OmieFault:
    """`SOAP-ENV:Client-500` "... consumo indevido ..." on bursts; not the account-wide block."""
    return OmieFault(
        "ERROR: Requisição recusada por consumo indevido. Tente novamente em alguns instantes.",
        "SOAP-ENV:Client-500",
        kind="limit",
    )


def wait_to_request(seconds: int) -> OmieFault:
    """ "Aguarde N segundos para efetuar a requisição", seen on several methods."""
    return OmieFault(
        f"ERROR: Aguarde {seconds} segundos para efetuar a requisição.", "SOAP-ENV:Client-500", kind="limit"
    )


def try_again_in(seconds: int) -> OmieFault:
    """ "Tente novamente em N segundos", seen on several methods."""
    return OmieFault(f"ERROR: Tente novamente em {seconds} segundos.", "SOAP-ENV:Client-500", kind="limit")


ACCOUNT_BLOCKED_FOR_BILLING = "Conta bloqueada para faturamento"
"""A refusal of one record that merely contains "bloqueada" (not the misuse block)."""

GATEWAY_FORBIDDEN_PAGE = (
    "<!DOCTYPE html><html><head><title>403 Forbidden</title></head><body>"
    "<center><h1>403 Forbidden</h1></center><hr><center>nginx</center></body></html>"
)
"""The gateway's HTML page during bursts: a 403 that says nothing about the app key."""
