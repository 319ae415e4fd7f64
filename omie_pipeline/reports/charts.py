"""The report's three charts as inline SVG: status funnel, amounts by situation, aging of open items.

Drawn with matplotlib's object API (no pyplot, so no global state between reports or threads) and
embedded as SVG text, so the HTML needs nothing from the network. Text stays text (`svg.fonttype`
none) so it is sharp and searchable; each chart gets its own hash salt so the ids matplotlib writes
inside one SVG never collide with another's in the same page. Floats appear here only, for drawing.
"""

from __future__ import annotations

import io
import re
from decimal import Decimal

import matplotlib
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from omie_pipeline.i18n import _, format_money, format_number, ngettext
from omie_pipeline.reports.labels import OUTCOME_ORDER, Outcome
from omie_pipeline.reports.model import Summary

OUTCOME_COLOURS = {
    Outcome.ISSUED: "#2e7d32",
    Outcome.PROCESSING: "#1565c0",
    Outcome.SUBMITTED: "#64b5f6",
    Outcome.ERROR: "#c62828",
    Outcome.CANCELLED: "#9e9e9e",
    Outcome.BLOCKED: "#ef6c00",
    Outcome.PENDING: "#f9a825",
}
TEXT_COLOUR = "#263238"
GRID_COLOUR = "#e0e6ea"
_STYLE = {
    "svg.fonttype": "none",
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans", "Liberation Sans", "Arial", "Helvetica"],
    "font.size": 10,
    "axes.edgecolor": GRID_COLOUR,
    "axes.labelcolor": TEXT_COLOUR,
    "xtick.color": TEXT_COLOUR,
    "ytick.color": TEXT_COLOUR,
}


def short_brl(value: float) -> str:
    """Axis labels: `R$ 950`, `R$ 12 mil`, `R$ 1,2 mi` (`R$ 12k`, `R$ 1.2M` in English)."""
    size = abs(value)
    if size >= 1_000_000:
        text = _("{amount}M").format(amount=format_number(round(Decimal(value / 1_000_000), 1)))
    elif size >= 1_000:
        text = _("{amount}k").format(amount=format_number(round(Decimal(value / 1_000))))
    else:
        text = f"{value:.0f}"
    return f"R$ {text}"


def _svg(figure: Figure, name: str, description: str) -> str:
    buffer = io.StringIO()
    # Text is laid out when saving, so the style (text kept as text) must hold here too. No date
    # or creator: the same report gives the same bytes.
    with matplotlib.rc_context({**_STYLE, "svg.hashsalt": name}):
        figure.savefig(
            buffer, format="svg", bbox_inches="tight", transparent=True, metadata={"Date": None, "Creator": None}
        )
    svg = buffer.getvalue()
    svg = svg[svg.index("<svg") :]
    # Scale with the page instead of a fixed size in points.
    svg = re.sub(
        r'<svg([^>]*?) width="[^"]+" height="[^"]+"',
        rf'<svg\1 class="chart" role="img" aria-label="{description}" data-chart="{name}"',
        svg,
        count=1,
    )
    return svg


def _figure(width: float, height: float) -> Figure:
    figure = Figure(figsize=(width, height), dpi=100)
    figure.patch.set_alpha(0)
    return figure


def _clean_axes(axes) -> None:
    for side in ("top", "right", "left"):
        axes.spines[side].set_visible(False)
    axes.tick_params(length=0)
    axes.grid(axis="x", color=GRID_COLOUR, linewidth=0.8)
    axes.set_axisbelow(True)


def funnel_chart(summary: Summary) -> str:
    """Closed in the CRM -> invoiced -> issued, by amount, with the count of deals on each step."""
    steps = [
        (_("Closed in the CRM"), summary.closed_count, summary.closed_amount, "#455a64"),
        (_("Invoiced (sent to Omie)"), summary.invoiced_count, summary.invoiced_amount, "#1565c0"),
        (_("Issued: valid NFS-e"), summary.issued_count, summary.issued_amount, OUTCOME_COLOURS[Outcome.ISSUED]),
    ]
    with matplotlib.rc_context(_STYLE):
        figure = _figure(7.2, 2.6)
        axes = figure.add_subplot()
        if not summary.closed_count:
            axes.text(0.5, 0.5, _("No deal closed in the period"), ha="center", va="center", color=TEXT_COLOUR)
            axes.set_axis_off()
            return _svg(figure, "funnel", _("Funnel: closed in the CRM, invoiced and issued"))
        widest = max(float(amount) for _label, _count, amount, _colour in steps) or 1.0
        for position, (_label, count, amount, colour) in enumerate(steps):
            width = float(amount)
            axes.barh(position, width, left=(widest - width) / 2, color=colour, height=0.72)
            share = f" · {format_number(round(Decimal(float(amount) / widest * 100)))}%" if position and widest else ""
            axes.text(
                widest / 2,
                position,
                ngettext("{amount}  ({count} deal{share})", "{amount}  ({count} deals{share})", count).format(
                    amount=format_money(amount), count=count, share=share
                ),
                ha="center",
                va="center",
                color="white" if width > widest * 0.45 else TEXT_COLOUR,
                fontweight="bold",
                fontsize=10,
            )
        axes.set_yticks(range(len(steps)), [label for label, *_rest in steps])
        axes.invert_yaxis()
        axes.set_xlim(0, widest)
        axes.set_xticks([])
        for side in ("top", "right", "left", "bottom"):
            axes.spines[side].set_visible(False)
        axes.tick_params(length=0)
    return _svg(figure, "funnel", _("Funnel: closed in the CRM, invoiced and issued, in reais"))


def amounts_by_status_chart(summary: Summary) -> str:
    """Money in each situation: the invoice's gross when there is one, else the CRM amount."""
    lines = [line for line in summary.by_status if line.count]
    with matplotlib.rc_context(_STYLE):
        figure = _figure(7.2, 0.5 + 0.42 * max(len(lines), 1))
        axes = figure.add_subplot()
        if not lines:
            axes.text(0.5, 0.5, _("No deal closed in the period"), ha="center", va="center", color=TEXT_COLOUR)
            axes.set_axis_off()
            return _svg(figure, "amounts", _("Amounts by status"))
        amounts = [float(line.gross if line.outcome.is_invoiced else line.crm_amount) for line in lines]
        labels = [line.outcome.short_label for line in lines]
        axes.barh(range(len(lines)), amounts, color=[OUTCOME_COLOURS[line.outcome] for line in lines], height=0.62)
        top = max(amounts) or 1.0
        for position, (line, amount) in enumerate(zip(lines, amounts, strict=False)):
            shown = line.gross if line.outcome.is_invoiced else line.crm_amount
            axes.text(
                amount + top * 0.01,
                position,
                f"{format_money(shown)} ({line.count})",
                va="center",
                color=TEXT_COLOUR,
                fontsize=9,
            )
        axes.set_yticks(range(len(lines)), labels)
        axes.invert_yaxis()
        axes.set_xlim(0, top * 1.3)
        axes.xaxis.set_major_formatter(FuncFormatter(lambda value, _position: short_brl(value)))
        _clean_axes(axes)
    return _svg(figure, "amounts", _("Amounts by status, in reais"))


def aging_chart(summary: Summary) -> str:
    """Open items by days since closing, stacked by situation, by amount."""
    buckets = summary.aging
    open_outcomes = [outcome for outcome in OUTCOME_ORDER if outcome.is_open]
    with matplotlib.rc_context(_STYLE):
        figure = _figure(7.2, 2.9)
        axes = figure.add_subplot()
        if not any(bucket.count for bucket in buckets):
            axes.text(0.5, 0.5, _("No open item"), ha="center", va="center", color=TEXT_COLOUR, fontsize=12)
            axes.set_axis_off()
            return _svg(figure, "aging", _("Ageing of open items"))
        positions = range(len(buckets))
        bottoms = [0.0] * len(buckets)
        for outcome in open_outcomes:
            heights = [float(bucket.amount_by_outcome[outcome]) for bucket in buckets]
            if not any(heights):
                continue
            axes.bar(
                positions, heights, bottom=bottoms, color=OUTCOME_COLOURS[outcome], width=0.6, label=outcome.short_label
            )
            bottoms = [bottom + height for bottom, height in zip(bottoms, heights, strict=False)]
        top = max(bottoms) or 1.0
        for position, bucket in zip(positions, buckets, strict=False):
            if bucket.count:
                axes.text(
                    position,
                    bottoms[position] + top * 0.02,
                    short_brl(float(bucket.amount))
                    + "\n"
                    + ngettext("{count} item", "{count} items", bucket.count).format(count=bucket.count),
                    ha="center",
                    va="bottom",
                    fontsize=8.5,
                    color=TEXT_COLOUR,
                )
        axes.set_xticks(list(positions), [bucket.label for bucket in buckets])
        axes.set_ylim(0, top * 1.3)
        axes.yaxis.set_major_formatter(FuncFormatter(lambda value, _position: short_brl(value)))
        axes.grid(axis="y", color=GRID_COLOUR, linewidth=0.8)
        axes.set_axisbelow(True)
        for side in ("top", "right", "left"):
            axes.spines[side].set_visible(False)
        axes.tick_params(length=0)
        axes.legend(
            frameon=False,
            fontsize=8.5,
            ncols=min(5, len(open_outcomes)),
            loc="upper center",
            bbox_to_anchor=(0.5, -0.13),
        )
    return _svg(figure, "aging", _("Ageing of open items, in reais, by status"))
