"""The product -> service map file: strict reading, problems by line, the rest loaded, stored per account."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from omie_pipeline.settings import load_settings
from omie_pipeline.store.catalog import service_map_loaded_at, stored_service_map
from omie_pipeline.sync.service_map import (
    PROJECT_ROOT,
    ServiceMapError,
    load_service_map,
    parse_service_map,
    read_service_map,
    service_map_path,
)

from .conftest import ACCOUNT, write_map


def test_good_lines_load_with_comments_and_quotes() -> None:
    loaded = parse_service_map(
        "# products\nCONSULTORIA: SRV001  # consulting\n'1001': \"SRV002\"\nSUPORTE  :   SRV003\n"
    )
    assert loaded.entries == {"1001": "SRV002", "CONSULTORIA": "SRV001", "SUPORTE": "SRV003"}
    assert loaded.problems == []


@pytest.mark.parametrize(
    "line, product, words",
    [
        ("1001: SRV001", "1001", "read by YAML as a number; put it in quotes: '1001'"),
        ("yes: SRV001", "yes", "a yes/no value"),
        ("CONSULTORIA: 0012", "CONSULTORIA", "the service code '0012' is read by YAML as a number"),
        ("CONSULTORIA: 12.5", "CONSULTORIA", "as a number"),
        ("CONSULTORIA:", "CONSULTORIA", "the service code is missing"),
        ("CONSULTORIA: ''", "CONSULTORIA", "the service code is empty"),
        ("CONSULTORIA: [SRV001, SRV002]", "CONSULTORIA", "must be a single code, not a list"),
        ("CONSULTORIA: {code: SRV001}", "CONSULTORIA", "not a mapping"),
        ("CONSULTORIA: " + "S" * 61, "CONSULTORIA", "longer than 60 characters"),
        ("'': SRV001", "", "the product code is empty"),
    ],
)
def test_a_bad_line_is_reported_with_its_line_and_the_rest_loads(line: str, product: str, words: str) -> None:
    loaded = parse_service_map(f"SUPORTE: SRV003\n{line}\nLIMPEZA: SRV005\n")
    assert loaded.entries == {"LIMPEZA": "SRV005", "SUPORTE": "SRV003"}
    assert [(problem.line, problem.product_code) for problem in loaded.problems] == [(2, product)]
    assert words in loaded.problems[0].message


def test_a_product_written_twice_is_left_out_naming_both_lines() -> None:
    loaded = parse_service_map("CONSULTORIA: SRV001\nSUPORTE: SRV003\nCONSULTORIA: SRV002\n")
    assert loaded.entries == {"SUPORTE": "SRV003"}
    [problem] = loaded.problems
    assert (problem.line, problem.product_code) == (3, "CONSULTORIA")
    assert "lines 1, 3" in problem.message
    assert str(problem).startswith("line 3 (CONSULTORIA):")


@pytest.mark.parametrize(
    "text, words",
    [
        ("- CONSULTORIA: SRV001\n", "must be lines of PRODUCT_CODE: SERVICE_CODE, not a list"),
        ("just a word\n", "not a single value"),
        ("CONSULTORIA: SRV001\n  bad: [\n", "not valid YAML"),
    ],
)
def test_a_file_that_is_not_a_map_is_refused_whole(text: str, words: str) -> None:
    with pytest.raises(ServiceMapError, match=words.replace("[", r"\[")):
        parse_service_map(text, "map.yaml")


def test_an_empty_or_comment_only_file_maps_nothing() -> None:
    assert parse_service_map("").entries == {}
    assert parse_service_map("# nothing yet\n").entries == {}


def test_a_missing_file_names_the_path_and_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ServiceMapError, match="does not exist.*OMIE_PIPELINE_SERVICE_MAP"):
        read_service_map(tmp_path / "nope.yaml")


def test_the_default_path_is_the_projects_file_whatever_the_current_folder(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    default = service_map_path(load_settings({}).omie_pipeline_service_map)
    assert default == PROJECT_ROOT / "config" / "service_map.yaml"
    assert default.exists()
    own = write_map(tmp_path, "A: SRV001\n", "mine.yaml")
    assert (
        service_map_path(load_settings({"OMIE_PIPELINE_SERVICE_MAP": "mine.yaml"}).omie_pipeline_service_map)
        == own.resolve()
    )


def test_the_shipped_map_maps_the_sample_products_and_leaves_legado_x_out() -> None:
    loaded = read_service_map(PROJECT_ROOT / "config" / "service_map.yaml")
    assert loaded.problems == []
    assert set(loaded.entries) == {"CONSULTORIA", "IMPLANTACAO", "SUPORTE", "TREINAMENTO", "LIMPEZA"}
    assert "LEGADO-X" not in loaded.entries


def test_loading_replaces_the_accounts_map_and_leaves_other_accounts_alone(store, tmp_path: Path) -> None:
    first = datetime(2026, 11, 20, 12, tzinfo=UTC)
    load_service_map(store, ACCOUNT, write_map(tmp_path, "A: SRV001\nB: SRV002\n"), now=first)
    load_service_map(store, "other", write_map(tmp_path, "A: SRV009\n", "other.yaml"), now=first)
    later = first + timedelta(hours=1)
    loaded = load_service_map(store, ACCOUNT, write_map(tmp_path, "B: SRV003\nC: 12\n"), now=later)

    assert [problem.product_code for problem in loaded.problems] == ["C"]
    with store.connect() as connection:
        assert stored_service_map(connection, ACCOUNT) == {"B": "SRV003"}
        assert stored_service_map(connection, "other") == {"A": "SRV009"}
        assert service_map_loaded_at(connection, ACCOUNT) == later


def test_a_refused_file_leaves_the_stored_map_as_it_was(store, tmp_path: Path) -> None:
    load_service_map(store, ACCOUNT, write_map(tmp_path, "A: SRV001\n"))
    with pytest.raises(ServiceMapError):
        load_service_map(store, ACCOUNT, write_map(tmp_path, "- A\n"))
    with store.connect() as connection:
        assert stored_service_map(connection, ACCOUNT) == {"A": "SRV001"}
