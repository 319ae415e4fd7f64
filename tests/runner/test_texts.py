"""The demo's and sync's progress line and summary in the reader's language; `--json` stays machine-stable."""

from __future__ import annotations

import io
from collections import Counter
from datetime import UTC, datetime

from omie_pipeline.cli.run import _print_summary
from omie_pipeline.runner.graph import PassResult, StageResult
from omie_pipeline.runner.progress import Progress
from omie_pipeline.runner.summary import DealOutcome, PipelineSummary
from omie_pipeline.sync.waiting import WaitingDeals


def _summary() -> PipelineSummary:
    return PipelineSummary(
        account="demo",
        deals_closed=5,
        deals_valid=4,
        clients=Counter({"created": 2, "matched": 1}),
        invoices=Counter({"issued": 3, "processing": 1}),
        issues=Counter({"check_digits": 1}),
        outcomes=[DealOutcome("D-1", "issued", None, "101"), DealOutcome("D-2", "pending", "not processed yet")],
    )


def _pass() -> PassResult:
    return PassResult(
        stages=[
            StageResult("emission", "emission_job", "0123456789abcdef", True, 12.34),
            StageResult("status refresh", "invoice_status_refresh_job", "fedcba9876543210", False, 1.5, "boom"),
        ],
        sensor_results={"failed_invoices": "2 run requests"},
    )


def _progress_line() -> str:
    progress = Progress(_summary, lambda: 2.25, stream=io.StringIO(), interactive=False, quiet=True)
    progress.stage("deals, clients and invoices")
    return progress.line()


def test_the_summary_and_progress_speak_portuguese_by_default(portuguese, capsys) -> None:
    _print_summary(_summary(), _pass(), {"IncluirOS": 3}, ["/tmp/r.html"])
    printed = capsys.readouterr().out

    assert "Conta demo" in printed and "negócios fechados: 5 (válidos 4)" in printed
    assert "run emission_job (01234567) 12,3 s ok" in printed
    assert "run invoice_status_refresh_job (fedcba98) 1,5 s FALHOU: boom" in printed
    assert "relatório: /tmp/r.html" in printed
    assert "clientes: cadastrado no Omie 2, encontrado no Omie 1" in printed
    assert "notas: Emitida 3, Na prefeitura 1" in printed
    assert "pendências por motivo: dígitos verificadores não conferem 1" in printed
    line = _progress_line()
    assert ": negócios concluídos 1/5, notas aguardando a prefeitura 1" in line and "limites do Omie 2,2 s" in line


def test_the_summary_and_progress_speak_english_on_request(capsys) -> None:
    _print_summary(_summary(), _pass(), {"IncluirOS": 3}, ["/tmp/r.html"])
    printed = capsys.readouterr().out

    assert "Account demo" in printed and "deals closed: 5 (valid 4)" in printed
    assert "run emission_job (01234567) 12.3 s ok" in printed and "1.5 s FAILED: boom" in printed
    assert "negócios" not in printed
    assert "clients: registered in Omie 2, found in Omie 1" in printed
    assert "invoices: Issued 3, At the prefeitura 1" in printed
    assert "issues by reason: check digits do not match 1" in printed
    line = _progress_line()
    assert (
        ": deals settled 1/5, invoices waiting on the prefeitura 1" in line and "waited on Omie's limits 2.2 s" in line
    )


def test_the_json_summary_keeps_its_codes_in_any_language(portuguese) -> None:
    data = _summary().as_dict()
    assert data["invoices"] == {"issued": 3, "processing": 1} and data["issues_by_reason"] == {"check_digits": 1}
    assert [outcome["outcome"] for outcome in data["deal_outcomes"]] == ["issued", "pending"]


def _one_held_and_one_waiting() -> PipelineSummary:
    summary = _summary()
    moment = datetime(2026, 12, 4, 17, 30, tzinfo=UTC)
    summary.held_until = {"D-3": moment}
    summary.outcomes.append(DealOutcome("D-4", "waiting", "IncluirOS paused"))
    summary.waiting = WaitingDeals(("D-4",), {"IncluirOS": "misuse_risk"}, moment, moment)
    return summary


def test_one_held_invoice_and_one_waiting_deal_are_counted_in_the_singular(capsys) -> None:
    _print_summary(_one_held_and_one_waiting(), _pass(), None, [])
    printed = capsys.readouterr().out

    assert "  1 invoice held by an interrupted run until 14:30 (São Paulo): no OS was recorded for it," in printed
    assert "  1 deal waiting, nothing sent for it: IncluirOS paused (misuse_risk); paused until 14:30" in printed


def test_one_held_invoice_and_one_waiting_deal_are_counted_in_the_singular_in_portuguese(portuguese, capsys) -> None:
    _print_summary(_one_held_and_one_waiting(), _pass(), None, [])
    printed = capsys.readouterr().out

    assert (
        "  1 nota retida por um run interrompido até 14:30 (São Paulo): nenhuma OS foi registrada para ela," in printed
    )
    assert "  1 negócio aguardando, nada enviado para ele: " in printed
