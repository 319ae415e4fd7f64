"""The known-causes table reads Omie's and the prefeitura's words, in Portuguese or English."""

from __future__ import annotations

import pytest

from omie_pipeline.alerts.causes import (
    CANCEL_AGAIN,
    KNOWN_CAUSES,
    UNKNOWN_CAUSE,
    cancel_causes_for,
    cause_for,
    causes_for,
    fix_for_causes,
    run_cause_for,
)


@pytest.mark.parametrize(
    ("message", "code"),
    [
        ("E0116 Município do tomador não corresponde ao CEP informado.", "missing_address"),
        ("Endereço do tomador incompleto: informe o logradouro", "missing_address"),
        ("Missing address for the service taker", "missing_address"),
        ("E0310 Código de tributação nacional inexistente.", "unknown_service_code"),
        ("Item da lista de serviço não permitido para o município", "unknown_service_code"),
        ("Unknown service code 01.07", "unknown_service_code"),
        ("CPF do tomador inválido", "invalid_document"),
        ("E0150 Inscrição municipal do tomador inválida.", "invalid_document"),
        ("Invalid document for the taxpayer", "invalid_document"),
        ("Webservice da prefeitura indisponível. Tente novamente mais tarde.", "prefeitura_unavailable"),
        ("Prefeitura service unavailable (HTTP 503)", "prefeitura_unavailable"),
        ("Certificado digital vencido em 01/11/2026", "certificate"),
        ("The digital certificate was not accepted", "certificate"),
        ("CERTIFICADO DIGITAL INVÁLIDO PARA O CNPJ 11.222.333/0001-81", "certificate"),
    ],
)
def test_known_causes_are_recognised_in_both_languages(message: str, code: str) -> None:
    assert cause_for(message).code == code


def test_keywords_must_start_a_word() -> None:
    # "recepção" holds "cep", "excepcional" too: neither is about an address.
    assert cause_for("Erro na recepção do lote, falha excepcional").code == "unknown"


@pytest.mark.parametrize("message", ["", None, "   ", "X999 DPS com algo novo"])
def test_anything_else_gets_the_way_to_read_omies_message(message) -> None:
    cause = cause_for(message)
    assert cause is UNKNOWN_CAUSE
    assert "`omie-pipeline invoices show <DEAL_ID>`" in cause.fix and "read Omie's message" in cause.fix


@pytest.mark.parametrize(
    ("message", "code"),
    [
        ("E0014 DPS já informada anteriormente", "rps_number_repeated"),
        ("Cliente inativo no Omie", "client_inactive"),
        ("A Ordem de Serviço [000123] já foi faturada.", "already_invoiced"),
    ],
)
def test_omies_own_refusals_are_known_causes_too(message: str, code: str) -> None:
    assert cause_for(message).code == code


def test_every_known_cause_has_a_fix_in_plain_words() -> None:
    codes = [cause.code for cause in KNOWN_CAUSES]
    assert set(codes) >= {
        "invalid_document",
        "missing_address",
        "unknown_service_code",
        "prefeitura_unavailable",
        "certificate",
    }
    assert len(codes) == len(set(codes))
    for cause in KNOWN_CAUSES:
        assert cause.fix and cause.cause and cause.keywords


@pytest.mark.parametrize(
    ("error_class", "message", "code"),
    [
        ("AuthenticationError", "A chave de acesso não está preenchida ou não é válida.", "credentials"),
        (
            "OmieError",
            "ERROR: API bloqueada por consumo indevido. Tente novamente em 1800 segundos.",
            "account_blocked",
        ),
        ("SettingsError", "invalid configuration: OMIE_BASE_URL: must be an http(s) URL", "configuration"),
        ("OperationalError", "could not connect to server: Connection refused", "state_store"),
    ],
)
def test_run_failures_get_a_first_check(error_class: str, message: str, code: str) -> None:
    assert run_cause_for(error_class, message).code == code


def test_an_unknown_run_error_has_no_specific_check() -> None:
    assert run_cause_for("KeyError", "'amount'") is None


# The prefeitura's ERRO lines of one rejection, as the status refresh joins them (" | ").
RPS_AND_ADDRESS = "E0014 DPS já informada anteriormente | E0116 Município do tomador não corresponde ao CEP informado."


def test_of_several_codes_the_one_needing_a_change_decides_and_each_is_kept() -> None:
    # Billing again answers the repeated RPS number, but not the address: the address decides.
    assert [cause.code for cause in causes_for(RPS_AND_ADDRESS)] == ["missing_address", "rps_number_repeated"]
    assert cause_for(RPS_AND_ADDRESS).code == "missing_address"
    assert cause_for(RPS_AND_ADDRESS).to_change is not None


def test_a_code_nobody_knows_beside_a_known_one_is_not_hidden() -> None:
    assert [cause.code for cause in causes_for("E0014 DPS já informada | X999 algo novo")] == [
        "unknown",
        "rps_number_repeated",
    ]


def test_one_line_still_has_its_first_matching_cause_only() -> None:
    # "CNPJ" names the certificate's company here, not a wrong document.
    assert [cause.code for cause in causes_for("CERTIFICADO DIGITAL INVÁLIDO PARA O CNPJ 11.222.333/0001-81")] == [
        "certificate"
    ]


def test_the_fix_of_several_codes_gives_each_step_once() -> None:
    fix = fix_for_causes(causes_for(RPS_AND_ADDRESS), "D-1")
    assert fix.startswith("complete and correct the client's address")
    assert "nothing to correct" not in fix, "the address must be corrected: no text may say otherwise"
    assert fix.count("invoices retry D-1") == 1 and fix.count("invoices wait D-1") == 1


@pytest.mark.parametrize(
    ("message", "code"),
    [
        ("Prazo para cancelamento expirado", "cancel_deadline_passed"),
        ("ERROR: NFS-e não cancelada: o prazo de cancelamento de 30 dias terminou", "cancel_deadline_passed"),
        ("Cancelamento não permitido: ISS da nota já recolhido", "cancel_iss_paid"),
        ("Certificado digital vencido", "certificate"),
        ("Webservice da prefeitura indisponível. Tente novamente mais tarde.", "prefeitura_unavailable"),
        # A client's data is no reason to refuse a cancellation: not read as a billing cause.
        ("Endereço do tomador divergente", "unknown"),
        ("X999 algo novo", "unknown"),
    ],
)
def test_a_refused_cancellation_is_read_with_the_cancellation_causes(message: str, code: str) -> None:
    assert [cause.code for cause in cancel_causes_for(message)] == [code]


def test_a_refused_cancellation_is_asked_again_never_billed_again() -> None:
    fix = fix_for_causes(cancel_causes_for("Webservice da prefeitura indisponível"), "D-1", then=CANCEL_AGAIN)
    assert fix.startswith("nothing to correct in the invoice: wait until the prefeitura's system is back")
    assert fix.endswith(
        'then ask the cancellation again with `omie-pipeline invoices cancel D-1 --reason "..."` '
        "(nothing asks it again by itself)"
    )
    assert "invoices retry" not in fix


def test_a_note_past_the_citys_deadline_is_not_asked_again() -> None:
    fix = fix_for_causes(cancel_causes_for("Prazo para cancelamento expirado"), "D-1", then=CANCEL_AGAIN)
    assert fix.startswith("the note can no longer be cancelled through Omie: issue a substitute note")
    assert "invoices cancel" not in fix and "invoices retry" not in fix
