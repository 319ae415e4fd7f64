"""Money, numbers and dates as each language writes them, and the language as a setting."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest
from click.testing import CliRunner

from omie_pipeline import i18n
from omie_pipeline.alerts.text import format_when
from omie_pipeline.cli import main
from omie_pipeline.domain.timeutil import UTC
from omie_pipeline.settings import SettingsError, load_language, load_settings


@pytest.mark.parametrize(
    ("language", "money", "negative", "number", "day", "moment"),
    [
        ("pt-BR", "R$ 1.234,56", "-R$ 0,50", "1.234.567,891", "04/12/2026", "04/12/2026 14:30"),
        ("en", "R$1,234.56", "-R$0.50", "1,234,567.891", "Dec 4, 2026", "Dec 4, 2026, 2:30 PM"),
    ],
)
def test_money_numbers_and_dates_as_the_language_writes_them(
    language: str, money: str, negative: str, number: str, day: str, moment: str
) -> None:
    with i18n.using_language(language):
        assert i18n.format_money(Decimal("1234.56")) == money
        assert i18n.format_money(Decimal("-0.5")) == negative
        assert i18n.format_number(Decimal("1234567.891")) == number
        assert i18n.format_day(date(2026, 12, 4)) == day
        assert i18n.format_moment(datetime(2026, 12, 4, 14, 30)) == moment
        # 17:30 UTC is 14:30 in São Paulo: alerts show São Paulo time.
        assert format_when(datetime(2026, 12, 4, 17, 30, tzinfo=UTC)) == moment


def test_a_rate_keeps_every_decimal_it_has() -> None:
    with i18n.using_language("pt-BR"):
        assert (i18n.format_number(Decimal("0.6525")), i18n.format_number(Decimal("7.60"))) == ("0,6525", "7,6")
    with i18n.using_language("en"):
        assert i18n.format_number(Decimal("0.6525")) == "0.6525"


def test_money_is_decimal_only() -> None:
    with pytest.raises(TypeError):
        i18n.format_money(1234.56)


def test_the_language_defaults_to_pt_br_and_accepts_its_spellings(portuguese) -> None:
    assert load_settings({}).omie_pipeline_language == "pt-BR"
    assert load_language({}) == "pt-BR"
    assert load_settings({"OMIE_PIPELINE_LANGUAGE": "pt_br"}).omie_pipeline_language == "pt-BR"
    assert load_language({"OMIE_PIPELINE_LANGUAGE": "EN"}) == "en"


@pytest.mark.parametrize("read", [load_settings, load_language])
def test_an_unknown_language_is_a_configuration_error_naming_the_variable(read) -> None:
    with pytest.raises(SettingsError, match=r"OMIE_PIPELINE_LANGUAGE: .*'pt-BR' or 'en' \(got 'fr'\)"):
        read({"OMIE_PIPELINE_LANGUAGE": "fr"})


def test_an_unknown_language_stops_a_command_with_one_line(monkeypatch) -> None:
    monkeypatch.setenv("OMIE_PIPELINE_LANGUAGE", "fr")
    result = CliRunner().invoke(main, ["report", "--all-days", "--date", "2026-12-04"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "Error: invalid configuration: OMIE_PIPELINE_LANGUAGE: Input should be 'pt-BR' or 'en' (got 'fr')"
    ]


def test_commands_speak_portuguese_by_default_and_english_on_request(portuguese, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    monkeypatch.setenv("OMIE_PIPELINE_DB_URL", f"sqlite:///{tmp_path / 'store.sqlite'}")
    default = CliRunner().invoke(main, ["deals", "issues"], catch_exceptions=False)
    assert default.output == "nenhuma pendência aberta\n"
    monkeypatch.setenv("OMIE_PIPELINE_LANGUAGE", "en")
    english = CliRunner().invoke(main, ["deals", "issues"], catch_exceptions=False)
    assert english.output == "no open issues\n"
