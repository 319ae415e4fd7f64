"""Omie's fault texts (omie-api.md §2) become the exception a caller can act on."""

from __future__ import annotations

import pytest

from omie_pipeline.omie import errors
from omie_pipeline.omie.faults import fault_error


@pytest.mark.parametrize(
    ("faultstring", "faultcode", "status", "expected"),
    [
        ("ERROR: Não existem registros para a página [3]!", "SOAP-ENV:Client-5113", 500, errors.NoRecordsError),
        ("A chave de acesso não está preenchida ou não é válida.", "SOAP-ENV:Server", 500, errors.AuthenticationError),
        ("Forbidden", "", 403, errors.AuthenticationError),
        (
            "ERROR: API bloqueada por consumo indevido. Tente novamente em 1795 segundos.",
            "MISUSE_API_PROCESS",
            425,
            errors.BlockedError,
        ),
        (
            "ERROR: Consumo redundante detectado. Aguarde 42 segundos para tentar novamente (REDUNDANT).",
            "SOAP-ENV:Client-6",
            500,
            errors.RedundantRequestError,
        ),
        (
            "ERROR: Já existe uma requisição desse método sendo executada e você pode tentar novamente em alguns "
            "instantes. (1)",
            "SOAP-ENV:Client-1880",
            500,
            errors.ConcurrencyError,
        ),
        ("ERROR: Too many Requests", "", 429, errors.RateLimitedError),
        ("ERROR: Cliente não cadastrado para o Código [42] !", "SOAP-ENV:Client-105", 500, errors.NotFoundError),
        ("OS não cadastrada para o Código de Integração [X1]", "SOAP-ENV:Client-103", 500, errors.NotFoundError),
        (
            "ERROR: O preenchimento das tags [nCodOS] ou [cCodIntOS] é obrigatório!",
            "SOAP-ENV:Client-1002",
            500,
            errors.ValidationError,
        ),
        ("Invalid JSON Object", "", 500, errors.ValidationError),
        ("ERROR: Ocorreu um erro interno no servidor.", "SOAP-ENV:Server", 500, errors.TransientError),
        (
            "ERROR: O Serviço [12] está inativo e não pode ser utilizado!",
            "SOAP-ENV:Client-5003",
            500,
            errors.RefusedError,
        ),
    ],
)
def test_fault_text_decides_the_class(faultstring, faultcode, status, expected):
    error = fault_error(faultstring, faultcode, http_status=status, method="M")
    assert type(error) is expected
    assert error.faultstring == faultstring
    assert error.method == "M"


def test_duplicate_by_integration_code_carries_the_existing_id():
    error = fault_error(
        "ERROR: Cliente já cadastrado para o Código de Integração [acme-7] com o nCod [8801] !", "SOAP-ENV:Client-102"
    )
    assert isinstance(error, errors.AlreadyExistsError)
    assert (error.existing_id, error.integration_code) == (8801, "acme-7")


def test_duplicate_by_document_carries_id_and_integration_code():
    error = fault_error(
        "ERROR: Cliente já cadastrado para o CPF/CNPJ [11.222.333/0001-81] com o Id [77] e código "
        "de integração [acme-x] ! (add)"
    )
    assert isinstance(error, errors.AlreadyExistsError)
    assert (error.existing_id, error.integration_code) == (77, "acme-x")


def test_duplicate_os_wording_variants_are_all_already_exists():
    for text in (
        "Ordem de Serviço já cadastrada para o Código de Integração [K] com o nCodOS [5] !",
        "OS com código de integração [K] já foi cadastrada",
        "OS cadastrada anteriormente",
    ):
        assert isinstance(fault_error(text), errors.AlreadyExistsError), text


def test_validation_names_the_tag():
    error = fault_error("ERROR: Conteúdo inválido [x] na tag [cCodParc]: informe um código!", "SOAP-ENV:Client-1003")
    assert isinstance(error, errors.ValidationError)
    assert error.field == "cCodParc"


def test_redundant_wait_is_one_second_more_than_stated():
    error = fault_error("ERROR: Consumo redundante detectado. Aguarde 12 segundos para tentar novamente (REDUNDANT).")
    assert error.retry_after == 13


def test_block_states_its_length_and_end():
    error = fault_error(
        "ERROR: API bloqueada por consumo indevido. Tente novamente em 1800 segundos.",
        "MISUSE_API_PROCESS",
        http_status=425,
    )
    assert error.retry_after == 1800
    assert error.blocked_until is not None and error.blocked_until.tzinfo is not None


def test_already_processed_waits_until_the_stated_time():
    error = fault_error(
        "ERROR: Esta requisição já foi processada ou está sendo processada e você pode tentar "
        "novamente às 23:59:59. (1)",
        "SOAP-ENV:Client-1100",
    )
    assert isinstance(error, errors.RedundantRequestError)
    assert 1 <= error.retry_after <= 24 * 3600


def test_refusal_by_status_keeps_omies_description_and_code():
    error = fault_error("A OS não pode ser faturada: cliente sem e-mail", refusal_status="1", method="FaturarOS")
    assert isinstance(error, errors.RefusedError)
    assert error.status_code == "1"
    assert "sem e-mail" in str(error)


def test_unknown_client_fault_is_a_refusal_never_retried():
    error = fault_error("ERROR: algo novo que ninguém catalogou", "SOAP-ENV:Client-9999")
    assert isinstance(error, errors.RefusedError)
    assert not isinstance(error, errors.RETRYABLE_READ_ERRORS)
