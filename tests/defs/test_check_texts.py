"""What a person reads when an asset check fails: in the process's language, with São Paulo times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from omie_pipeline.defs.checks.freshness import freshness_result
from omie_pipeline.defs.metadata import summary_text
from omie_pipeline.i18n import _

NOW = datetime(2026, 12, 4, 17, 30, tzinfo=UTC)  # 14:30 in São Paulo
LAST = NOW - timedelta(minutes=40)


def test_a_stale_refresh_is_told_in_portuguese_by_default(portuguese) -> None:
    result = freshness_result(_("the tax rates"), LAST, NOW, timedelta(minutes=15), "catalog_job")

    assert not result.passed
    assert result.description == (
        "as alíquotas: última atualização em 04/12/2026 13:50 (há 40 min), além do limite de 15 min: "
        "o catalog_job está rodando e terminando com sucesso?"
    )
    never = freshness_result(_("the service catalog"), None, NOW, timedelta(minutes=15), "catalog_job")
    assert never.description == "o catálogo de serviços: nenhuma atualização nesta conta; rode catalog_job"
    assert summary_text([f"D-{n}" for n in range(25)], "ok").endswith("; D-19; e mais 5")


def test_a_stale_refresh_is_told_in_english_on_request() -> None:
    result = freshness_result(_("the tax rates"), LAST, NOW, timedelta(minutes=15), "catalog_job")

    assert result.description == (
        "the tax rates last refreshed Dec 4, 2026, 1:50 PM (40 min ago), older than 15 min: "
        "is catalog_job running and succeeding?"
    )
    assert summary_text([f"D-{n}" for n in range(25)], "ok").endswith("; D-19; and 5 more")
