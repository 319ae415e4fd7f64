"""Words, numbers, money and dates for people, in their language: gettext catalogs read with Babel.

Everything a person reads (alerts, the CLI's messages) goes through `_` and the `format_*`
functions here; log lines stay English, for whoever greps them. Source strings are English; the
catalogs live in `omie_pipeline/locale/<locale>/LC_MESSAGES/messages.po`. They are read as `.po`
and compiled in memory on first use (Babel's `read_po` and `write_mo`): a fresh `pip install -e .`,
a wheel and CI need no build step, and no compiled `.mo` can drift from its `.po`.

The language is the process's (`set_language`, from `OMIE_PIPELINE_LANGUAGE`), or a block's
(`using_language`), e.g. an alert rendered in the language it was written in.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from functools import cache, lru_cache
from io import BytesIO
from pathlib import Path

from babel import Locale
from babel.dates import format_date, format_time
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency, format_decimal, get_decimal_symbol, get_group_symbol
from babel.support import Translations

LANGUAGES = ("pt-BR", "en")
DEFAULT_LANGUAGE = "pt-BR"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "messages"

# How each language writes a day and a moment: Brazilians 04/12/2026 14:30, English speakers Dec 4, 2026, 2:30 PM.
_DAY_FORMAT = {"pt-BR": "dd/MM/yyyy", "en": "medium"}
_MOMENT_JOIN = {"pt-BR": "{day} {time}", "en": "{day}, {time}"}

_CENT = Decimal("0.01")

_process_language = DEFAULT_LANGUAGE
_block_language: ContextVar[str | None] = ContextVar("omie_pipeline_language", default=None)


def locale_of(language: str) -> str:
    """`pt-BR` -> `pt_BR`: the catalog folder's and Babel's name for a language."""
    if language not in LANGUAGES:
        raise ValueError(f"unknown language {language!r}: expected one of {', '.join(LANGUAGES)}")
    return language.replace("-", "_")


def set_language(language: str) -> None:
    """The language of everything this process says to people, unless a block says otherwise."""
    global _process_language
    locale_of(language)
    _process_language = language


def current_language() -> str:
    return _block_language.get() or _process_language


@contextmanager
def using_language(language: str) -> Iterator[None]:
    """Speak `language` inside the block (this thread or task only)."""
    locale_of(language)
    token = _block_language.set(language)
    try:
        yield
    finally:
        _block_language.reset(token)


@cache
def _locale(language: str) -> Locale:
    """Babel's locale of a language, parsed once: given as a name, Babel parses it again on every call."""
    return Locale.parse(locale_of(language))


def catalog_path(language: str) -> Path:
    return LOCALE_DIR / locale_of(language) / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def translations(language: str) -> Translations:
    """The language's catalog, compiled once per process; fuzzy entries are left out, as gettext does."""
    with catalog_path(language).open("rb") as source:
        catalog = read_po(source, locale=locale_of(language), domain=DOMAIN)
    compiled = BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


def _(message: str) -> str:
    """`message` (English source text) in the current language."""
    return translations(current_language()).gettext(message)


def ngettext(singular: str, plural: str, count: int) -> str:
    """The singular or plural form for `count`, in the current language."""
    return translations(current_language()).ngettext(singular, plural, count)


def N_(message: str) -> str:
    """Marks text kept in a table for extraction; it is translated where it is shown, with `_`."""
    return message


def format_money(amount: Decimal) -> str:
    """`R$ 1.234,56` in pt-BR, `R$1,234.56` in en (a plain space: copied into a terminal or a search).

    Rounded to the cent half up, as invoices are (Babel would round half to even), and a negative zero, such
    as a difference of nothing subtracted, is shown as zero rather than `-R$ 0,00`.
    """
    if not isinstance(amount, Decimal):
        raise TypeError(f"format_money takes a Decimal, not {type(amount).__name__}")
    cents = amount.quantize(_CENT, rounding=ROUND_HALF_UP) + 0
    positive, negative, separators = _money_shape(current_language())
    digits = f"{abs(cents):,.2f}".translate(separators)
    return (negative if cents < 0 else positive).format(digits)


@cache
def _money_shape(language: str) -> tuple[str, str, dict[int, str]]:
    """The language's money as Babel writes it (`R$ {}` and `-R$ {}`, its decimal and group marks), worked out
    once: a report writes hundreds of thousands of amounts, and Babel takes tens of microseconds for each."""
    locale = _locale(language)
    decimal, group = get_decimal_symbol(locale), get_group_symbol(locale)
    one = f"1{decimal}00"
    positive, negative = (
        format_currency(Decimal(sign), "BRL", locale=locale).replace("\xa0", " ").replace(one, "{}")
        for sign in ("1", "-1")
    )
    return positive, negative, str.maketrans({",": group, ".": decimal})


def format_number(value: Decimal | int) -> str:
    """`1.234,5` in pt-BR, `1,234.5` in en; every decimal given is kept (a rate of 0.6525 % must not
    read 0.653 %), trailing zeros are not."""
    return format_decimal(value, locale=_locale(current_language()), decimal_quantization=False)


def format_day(day: date) -> str:
    """`04/12/2026` in pt-BR, `Dec 4, 2026` in en."""
    return _day_text(day, current_language())


@lru_cache(maxsize=4096)
def _day_text(day: date, language: str) -> str:
    """Kept per day and language: a report writes the same few closing days on every row."""
    return format_date(day, _DAY_FORMAT[language], locale=_locale(language))


def format_moment(moment: datetime) -> str:
    """A moment already in the reader's time zone: `04/12/2026 14:30` in pt-BR, `Dec 4, 2026, 2:30 PM` in en."""
    language = current_language()
    time = format_time(moment, "short", locale=_locale(language)).replace("\u202f", " ")
    return _MOMENT_JOIN[language].format(day=format_day(moment.date()), time=time)
