"""Markdown tables for Dagster metadata: short, and safe for what the cells hold."""

from __future__ import annotations

from omie_pipeline.defs.metadata import markdown_table


def test_rows_under_their_headers_with_pipes_in_cells_neutralised():
    table = markdown_table(("deal", "problem"), [("D-1", "CEP | inválido"), ("D-2", 3)])
    assert table.splitlines() == ["| deal | problem |", "|---|---|", "| D-1 | CEP / inválido |", "| D-2 | 3 |"]


def test_line_breaks_inside_a_cell_keep_the_row_on_one_line():
    table = markdown_table(("deal", "error"), [("D-1", "Falha no envio:\n  RPS rejeitado\r\npela prefeitura")])
    assert table.splitlines()[2:] == ["| D-1 | Falha no envio: RPS rejeitado pela prefeitura |"]


def test_long_tables_are_cut_and_say_how_many_rows_were_left_out():
    table = markdown_table(("n",), ((str(number),) for number in range(25)))
    lines = table.splitlines()
    assert lines[2] == "| 0 |" and lines[21] == "| 19 |" and "| 20 |" not in lines
    assert lines[-1] == "5 more rows not shown"
    assert markdown_table(("n",), [("a",), ("b",)], max_rows=1).splitlines()[-1] == "1 more rows not shown"
