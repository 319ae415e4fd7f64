"""No fix a person reads holds a placeholder: every text names its deal, whoever shows it.

The placeholder `<DEAL_ID>` lives only in the causes table; the stored fix (what `invoices show`,
the report and the Dagster checks print) and the alert both put the deal in. The source scan
catches a new text written with a placeholder no code fills in.
"""

from __future__ import annotations

import ast
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

import omie_pipeline
from omie_pipeline.alerts.causes import GENERAL_RUN_CHECK, KNOWN_CAUSES, RUN_CAUSES, UNKNOWN_CAUSE
from omie_pipeline.alerts.messages import InvoiceFacts, failed_alert
from omie_pipeline.sync.invoice_fixes import fix_for

PLACEHOLDER = re.compile(r"<[A-Z][A-Z_]{2,}>|\bDEAL_ID\b")
PACKAGE = Path(omie_pipeline.__file__).parent
NOW = datetime(2026, 11, 20, 18, 0, tzinfo=UTC)
ALL_CAUSES = (*KNOWN_CAUSES, UNKNOWN_CAUSE)


def _refused(message: str, stored_fix: str) -> InvoiceFacts:
    """Deal D-42's invoice, refused with `message`, as the sync stored it with `stored_fix`."""
    return InvoiceFacts(
        account="acme",
        deal_id="D-42",
        status="error",
        since=NOW,
        status_changed_at=NOW,
        last_error=message,
        stored_fix=stored_fix,
    )


def _message_of(cause) -> str:
    return f"Recusa: {cause.keywords[0]} (teste)" if cause.keywords else "X999 algo que ninguém conhece"


@pytest.mark.parametrize("cause", ALL_CAUSES, ids=lambda cause: cause.code)
def test_the_stored_fix_names_the_deal(cause) -> None:
    fix = fix_for(_message_of(cause), "D-42")
    assert not PLACEHOLDER.search(fix), fix
    if "omie-pipeline" in cause.fix:
        assert "D-42" in fix
    assert not PLACEHOLDER.search(fix_for(_message_of(cause), "D-42", "Corrija o CEP do tomador."))


@pytest.mark.parametrize("cause", ALL_CAUSES, ids=lambda cause: cause.code)
def test_the_alert_names_the_deal(cause) -> None:
    alert = failed_alert(_refused(_message_of(cause), fix_for(_message_of(cause), "D-42")), NOW, home_account="acme")
    assert alert.extra["cause"] == cause.code
    assert not PLACEHOLDER.search(alert.text) and not PLACEHOLDER.search(alert.to_json())


def test_run_checks_have_no_placeholder() -> None:
    for text in (GENERAL_RUN_CHECK, *(cause.first_check for cause in RUN_CAUSES)):
        assert not PLACEHOLDER.search(text), text


def _texts_outside_docstrings(tree: ast.AST):
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            yield node.lineno, node.value


def test_no_text_in_the_code_carries_a_placeholder_outside_the_causes_table() -> None:
    allowed = PACKAGE / "alerts" / "causes.py"
    found = [
        f"{path.relative_to(PACKAGE)}:{line}: {text!r}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if path != allowed
        for line, text in _texts_outside_docstrings(ast.parse(path.read_text(encoding="utf-8")))
        if PLACEHOLDER.search(text)
    ]
    assert not found, found


@pytest.mark.parametrize("cause", ALL_CAUSES, ids=lambda cause: cause.code)
def test_each_fix_says_each_step_once(cause) -> None:
    fix = fix_for(_message_of(cause), "D-42")
    assert fix.count(" again") <= 1, fix
    assert fix.count("invoices retry") <= 1 and fix.count("invoices wait") <= 1, fix


def test_the_alert_of_a_refusal_with_the_prefeituras_correction_says_to_bill_again_once() -> None:
    message = "X999 algo que ninguém conhece"
    facts = _refused(message, fix_for(message, "D-42", "Corrija o endereço do cliente."))
    text = failed_alert(facts, NOW, home_account="acme").text
    assert "Corrija o endereço do cliente" in text
    assert text.count("invoices retry D-42") == 1, text
