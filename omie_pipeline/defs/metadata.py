"""Markdown for Dagster metadata: short tables the asset and check pages can show.

The UI renders a markdown table, but a run that found thousands of problems must not write them
all into the event log; the first rows name the pattern, and a line says how many were left out.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from omie_pipeline.i18n import ngettext

MAX_TABLE_ROWS = 20
MAX_CELL_CHARS = 200


def markdown_table(headers: Sequence[str], rows: Iterable[Sequence[object]], max_rows: int = MAX_TABLE_ROWS) -> str:
    """`rows` under `headers`, at most `max_rows` of them; a `|` inside a cell becomes `/`, and a line
    break a space, since either would end the cell or the row."""
    rows = list(rows)
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(_cell(cell) for cell in row) + " |" for row in rows[:max_rows]]
    if len(rows) > max_rows:
        lines.append(f"\n{len(rows) - max_rows} more rows not shown")
    return "\n".join(lines)


def _cell(value: object) -> str:
    return " ".join(str(value).split()).replace("|", "/")


def brief(rows: Iterable[Sequence[object]]) -> list[tuple[str, ...]]:
    """Omie's fault texts can run to paragraphs: a table cell shows their start."""
    return [tuple(str(cell)[:MAX_CELL_CHARS] for cell in row) for row in rows]


def summary_text(items: Sequence[str], all_good: str) -> str:
    """The first problems on one line, and how many more there are; `all_good` when there are none."""
    if not items:
        return all_good
    shown = "; ".join(items[:MAX_TABLE_ROWS])
    more = len(items) - MAX_TABLE_ROWS
    return shown + (ngettext("; and {count} more", "; and {count} more", more).format(count=more) if more > 0 else "")


def duplicates_table(duplicates: dict[str, list[int]]) -> str:
    """Documents registered more than once in Omie, with the Omie client codes that hold them."""
    return markdown_table(
        ("document", "Omie clients"),
        [(document, ", ".join(str(i) for i in ids)) for document, ids in duplicates.items()],
    )
