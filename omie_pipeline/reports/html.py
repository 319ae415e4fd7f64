"""Render the report as one self-contained HTML page (in the reader's language, charts inline, no network).

Money, numbers and dates are written as the reader's language writes them (`R$ 1.234,56` and
dd/mm/aaaa in pt-BR), in São Paulo time. The template lives in the package
(templates/report.html.j2), its texts go through the catalogs (`_`, `ngettext`), and it is
autoescaped: names and messages come from the CRM and Omie and are never trusted as markup.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path

from babel.numbers import format_decimal
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from omie_pipeline.domain.omie_taxes import COMPARED_TAXES, tax_differences
from omie_pipeline.domain.timeutil import to_sao_paulo
from omie_pipeline.i18n import (
    _,
    current_language,
    format_day,
    format_moment,
    format_money,
    format_number,
    locale_of,
    ngettext,
)
from omie_pipeline.reports.charts import OUTCOME_COLOURS, aging_chart, amounts_by_status_chart, funnel_chart
from omie_pipeline.reports.labels import TAX_LABELS, Outcome, reason_label, stage_label
from omie_pipeline.reports.model import DealRow, Report
from omie_pipeline.store.report_queries import WITHHOLDABLE_TAX_NAMES

DASH = "—"
SECTION_BLOCK = 1 << 20  # characters of a rendered section copied into a page at a time


def brl(value: Decimal | None) -> str:
    """Template filter: `R$ 1.234,56` (`R$1,234.56` in English), or a dash for no amount."""
    return format_money(value) if value is not None else DASH


def date_br(value: date | datetime | None) -> str:
    """Template filter: the day (São Paulo day for a moment) as the reader writes it, or a dash."""
    if value is None:
        return DASH
    return format_day(to_sao_paulo(value).date() if isinstance(value, datetime) else value)


def datetime_br(value: datetime | None) -> str:
    """Template filter: the moment in São Paulo time as the reader writes it, or a dash."""
    return format_moment(to_sao_paulo(value)) if value is not None else DASH


def int_br(value: int | None) -> str:
    """Template filter: thousands separated as the reader's language does (`1.234` in pt-BR), or a dash."""
    return format_number(value) if value is not None else DASH


def share(part: Decimal, whole: Decimal) -> str:
    """`45,3 %` (`45.3 %` in English) of a whole, or a dash when the whole is zero."""
    if not whole:
        return DASH
    return format_decimal(part / whole * 100, "#,##0.0", locale=locale_of(current_language())) + " %"


def deals_word(count: int) -> str:
    """`1 negócio`, `12 negócios` (`12 deals`)."""
    return ngettext("{count} deal", "{count} deals", count).format(count=format_number(count))


def tax_summary(deal: DealRow) -> list[dict[str, object]]:
    """The taxes on one note worth a line in the HTML: those with an amount (ours or Omie's), withheld ones
    marked, with Omie's figure when it differs from ours by more than R$ 0,01."""
    if not deal.taxes:  # no invoice: no line to show, nothing to compare
        return []
    differing = {
        item.tax: item.omie
        for item in tax_differences({name: deal.sent_to_omie(name) for name in COMPARED_TAXES}, deal.omie_taxes)
    }
    lines = []
    for name, value in deal.taxes.items():
        if value.amount or value.withheld_amount or name in differing:
            lines.append(
                {
                    "label": TAX_LABELS[name],
                    "amount": value.amount,
                    "withheld": name in WITHHOLDABLE_TAX_NAMES and value.withheld,
                    "withheld_amount": value.withheld_amount,
                    "omie": differing.get(name),
                }
            )
    return lines


def replaced_notes(deal: DealRow) -> list[str]:
    """One line per cancelled note the deal's current note replaced (`invoices reissue`), shown under it."""
    return [
        _("replaces NFS-e no. {number} ({amount}, cancelled on {day})").format(
            number=note.nfse_number or DASH, amount=brl(note.gross_amount), day=date_br(note.cancelled_at)
        )
        for note in deal.replaced
    ]


@cache
def _environment(language: str) -> Environment:
    """Built once per process and language: loading and compiling the templates costs more than rendering a small
    report, and the badges drawn up front are in the language's words."""
    environment = Environment(
        loader=PackageLoader("omie_pipeline.reports", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters.update(
        brl=brl,
        date_br=date_br,
        datetime_br=datetime_br,
        int_br=int_br,
        stage_label=stage_label,
        reason_label=reason_label,
    )
    environment.globals.update(
        share=share,
        tax_summary=tax_summary,
        deals_word=deals_word,
        replaced_notes=replaced_notes,
        colours={o.value: c for o, c in OUTCOME_COLOURS.items()},
        _=_,
        ngettext=ngettext,
        language=language,
    )
    # Each outcome's short badge drawn once by the `badge` macro: the deal tables show one on every row, where a
    # macro call cost more than the rest of the row.
    badge = environment.get_template("macros.html.j2").make_module().badge
    environment.globals["short_badges"] = {outcome.value: Markup(badge(outcome, short=True)) for outcome in Outcome}
    return environment


def _write(template_name: str, path: Path, **context: object) -> None:
    """Render a template straight into `path` as it goes: a page of 100,000 deals is hundreds of megabytes, never
    held whole in memory."""
    template = _environment(current_language()).get_template(template_name)
    with path.open("w", encoding="utf-8") as handle:
        handle.writelines(template.generate(**context))


def write_open_items_section(report: Report, path: Path) -> None:
    """The open-items section, the same in the day's page and in the open-items page: rendered once, into `path`,
    for `write_html` to copy into both."""
    open_exceptions_by_deal: dict[str, list] = {}
    # Each deal's fixes once, in order, ignoring case as Jinja's `unique` does: worked out here, where it costs a
    # tenth of a filter chain per row.
    open_fixes_by_deal: dict[str, dict[str, str]] = {}
    for exception in report.open_exceptions:
        open_exceptions_by_deal.setdefault(exception.deal_id, []).append(exception)
        if exception.fix:
            open_fixes_by_deal.setdefault(exception.deal_id, {}).setdefault(exception.fix.lower(), exception.fix)
    _write(
        "open_items.html.j2",
        path,
        report=report,
        summary=report.summary,
        charts={"aging": Markup(aging_chart(report.summary))},
        open_exceptions_by_deal=open_exceptions_by_deal,
        open_fixes_by_deal={deal_id: list(fixes.values()) for deal_id, fixes in open_fixes_by_deal.items()},
    )


def _section_parts(path: Path) -> Iterator[Markup]:
    """A rendered section read back a block at a time, already markup."""
    with path.open(encoding="utf-8") as handle:
        while block := handle.read(SECTION_BLOCK):
            yield Markup(block)


def write_html(
    path: Path,
    report: Report,
    *,
    open_section: Path,
    title: str | None = None,
    open_items_only: bool = False,
    file_names: dict[str, str] | None = None,
) -> None:
    """The page for the whole report, or (open_items_only) the rolling open-items view, written into `path`.

    `open_section`: the file `write_open_items_section` rendered the open items into."""
    # Only the charts the page shows (the open-items page has none but the section's, drawn with it).
    charts = {}
    if not open_items_only:
        charts = {
            "funnel": Markup(funnel_chart(report.summary)),
            "amounts": Markup(amounts_by_status_chart(report.summary)),
        }
    _write(
        "report.html.j2",
        path,
        report=report,
        summary=report.summary,
        charts=charts,
        open_items_only=open_items_only,
        open_section=_section_parts(open_section),
        title=title
        or _("Financial reconciliation · {account} · {period}").format(
            account=report.account, period=report.period_label
        ),
        file_names=file_names or {},
    )
