"""Deal sources: CSV and SQL (table, view, query) behind one interface, with the column mapping."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

from omie_pipeline.domain.deal import validate_deal_row
from omie_pipeline.sources import CsvDealSource, MappingError, SourceError, SqlDealSource, load_mapping, open_source

from .conftest import deal_row, write_csv

CRM_COLUMNS = {
    "deal_id": "id_negocio",
    "status": "etapa",
    "updated_at": "data_alteracao",
    "amount": "valor_total",
    "legal_name": "razao_social",
    "document": "cnpj_cpf",
}


def _mapping_file(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "mapping.yaml"
    path.write_text("".join(f"{field}: {column}\n" for field, column in CRM_COLUMNS.items()) + extra, encoding="utf-8")
    return path


def _ids(rows) -> list[str]:
    return [row.values["deal_id"] for row in rows]


# --- CSV ---------------------------------------------------------------------------------------


def test_csv_with_canonical_header_gives_every_row_under_canonical_names(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "deals.csv", [deal_row("D1"), deal_row("D2", amount="99.90")])
    rows = list(open_source(str(path)).read(since=None))
    assert _ids(rows) == ["D1", "D2"]
    assert rows[1].values["amount"] == "99.90"
    assert rows[0].position == 2 and rows[1].position == 3  # line numbers, the header being line 1


def test_csv_semicolons_and_excel_bom_are_read(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "deals.csv", [deal_row("D1", description="a, b; c")], delimiter=";")
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    (row,) = CsvDealSource(path).read(since=None)
    assert row.values["deal_id"] == "D1" and row.values["description"] == "a, b; c"


def test_csv_with_mapping_reads_the_crm_column_names(tmp_path: Path) -> None:
    crm_rows = [{CRM_COLUMNS.get(k, k): v for k, v in deal_row("D7", document="27.836.512/0001-49").items()}]
    path = write_csv(tmp_path / "crm.csv", crm_rows, columns=list(crm_rows[0]))
    (row,) = CsvDealSource(path, load_mapping(_mapping_file(tmp_path))).read(since=None)
    assert row.values["deal_id"] == "D7"
    assert row.values["document"] == "27.836.512/0001-49"
    assert row.values["street"] == "Avenida Paulista"  # unmapped fields keep their canonical names


def test_csv_without_a_required_column_is_refused_naming_it(tmp_path: Path) -> None:
    columns = [name for name in deal_row("D1") if name != "updated_at"]
    path = write_csv(tmp_path / "deals.csv", [deal_row("D1")], columns=columns)
    with pytest.raises(SourceError, match="updated_at"):
        list(CsvDealSource(path).read(since=None))


def test_csv_optional_columns_may_be_absent(tmp_path: Path) -> None:
    columns = ["deal_id", "status", "updated_at", "amount", "document"]
    path = write_csv(tmp_path / "deals.csv", [deal_row("D1")], columns=columns)
    (row,) = CsvDealSource(path).read(since=None)
    assert row.values["street"] is None and row.values["amount"] == "1500.00"


def test_csv_row_with_more_cells_than_the_header_is_flagged(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "deals.csv", [deal_row("D1")])
    with path.open("a", encoding="utf-8") as handle:
        handle.write("D2,,won,2026-11-20T10:00:00-03:00,2026-11-20T10:00:00-03:00,1,2,3" + ",x" * 30 + "\n")
    rows = list(CsvDealSource(path).read(since=None))
    assert rows[0].problem is None
    assert rows[1].values["deal_id"] == "D2" and "line 3" in rows[1].problem


def test_csv_since_keeps_changed_rows_and_rows_whose_date_cannot_be_read(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "deals.csv",
        [
            deal_row("OLD", updated_at="2026-11-01T10:00:00-03:00"),
            deal_row("NEW", updated_at="2026-11-20T10:00:00-03:00"),
            deal_row("EDGE", updated_at="2026-11-10T13:00:00Z"),  # exactly the moment: included
            deal_row("NO-OFFSET", updated_at="2026-11-02T10:00:00"),
            deal_row("GARBAGE", updated_at="ontem"),
        ],
    )
    since = datetime(2026, 11, 10, 13, 0, tzinfo=UTC)
    assert _ids(CsvDealSource(path).read(since=since)) == ["NEW", "EDGE", "NO-OFFSET", "GARBAGE"]


def test_missing_csv_file_and_unusable_urls_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="does not exist"):
        open_source(str(tmp_path / "nope.csv"))
    with pytest.raises(SourceError, match="SALESOS_DEALS_URL"):
        open_source("")
    with pytest.raises(SourceError, match="neither"):
        open_source("deals.xlsx")
    with pytest.raises(SourceError, match="SALESOS_DEALS_TABLE"):
        open_source("sqlite:///crm.db", table=None)
    with pytest.raises(SourceError, match="no database driver") as caught:
        list(open_source("nosuchdb://crm:s3cr3t@db/crm", "deals").read(since=None))
    assert "s3cr3t" not in str(caught.value)


# --- mapping file ------------------------------------------------------------------------------


def test_mapping_refuses_unknown_fields_and_bad_values_naming_them(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("deal_id: id\nvalor: amount\nstatus: ''\nnaive_timezone: Mars/Olympus\n", encoding="utf-8")
    with pytest.raises(MappingError) as caught:
        load_mapping(path)
    message = str(caught.value)
    assert "'valor' is not a canonical deal field" in message
    assert "status" in message and "Mars/Olympus" in message


def test_mapping_file_that_is_not_yaml_or_missing(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("deal_id: [unclosed\n", encoding="utf-8")
    with pytest.raises(MappingError, match="not valid YAML"):
        load_mapping(path)
    with pytest.raises(MappingError, match="cannot be read"):
        load_mapping(tmp_path / "absent.yaml")


def test_example_mapping_in_sample_data_loads() -> None:
    example = Path(__file__).resolve().parents[2] / "omie_pipeline" / "sample_data" / "mapping.example.yaml"
    mapping = load_mapping(example)
    assert mapping.column_of("document") == "cnpj_cpf"
    assert str(mapping.naive_timezone) == "America/Sao_Paulo"


# --- SQL ---------------------------------------------------------------------------------------


def _crm_table(url: str, timestamp_type: sa.types.TypeEngine, rows: list[dict]) -> None:
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg2://", 1))
    metadata = sa.MetaData()
    table = sa.Table(
        "negocios",
        metadata,
        sa.Column("id_negocio", sa.String(40), primary_key=True),
        sa.Column("etapa", sa.String(20)),
        sa.Column("data_alteracao", timestamp_type),
        sa.Column("valor_total", sa.Float),
        sa.Column("razao_social", sa.String(200)),
        sa.Column("cnpj_cpf", sa.String(20)),
        sa.Column("street", sa.String(200)),
    )
    metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(table.insert(), rows)
        connection.exec_driver_sql("CREATE VIEW negocios_ganhos AS SELECT * FROM negocios WHERE etapa = 'won'")
    engine.dispose()


def _sql_rows(stamp) -> list[dict]:
    return [
        {
            "id_negocio": "S1",
            "etapa": "won",
            "data_alteracao": stamp(2026, 11, 1),
            "valor_total": 1234.56,
            "razao_social": "Alfa Ltda",
            "cnpj_cpf": "11.444.855/0001-28",
            "street": "Rua A",
        },
        {
            "id_negocio": "S2",
            "etapa": "won",
            "data_alteracao": stamp(2026, 11, 20),
            "valor_total": 0.1 + 0.2,
            "razao_social": "Beta Ltda",
            "cnpj_cpf": "27836512000149",
            "street": None,
        },
        {
            "id_negocio": "S3",
            "etapa": "open",
            "data_alteracao": stamp(2026, 11, 21),
            "valor_total": 10.0,
            "razao_social": "Gama Ltda",
            "cnpj_cpf": "33.602.187/0001-52",
            "street": "Rua C",
        },
    ]


def test_sql_table_with_mapping_and_utc_timestamps(crm_url: str, tmp_path: Path) -> None:
    """PostgreSQL keeps `timestamptz` aware; SQLite keeps text without offset, which the mapping places in UTC."""
    _crm_table(crm_url, sa.DateTime(timezone=True), _sql_rows(lambda y, m, d: datetime(y, m, d, 12, 0, tzinfo=UTC)))
    source = open_source(crm_url, "negocios", _mapping_file(tmp_path, "naive_timezone: UTC\n"))
    rows = {row.values["deal_id"]: row.values for row in source.read(since=None)}
    assert set(rows) == {"S1", "S2", "S3"}
    assert rows["S1"]["updated_at"] == datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
    # Floats come back as the Decimal of their shortest text: what was typed, or an honest excess.
    assert rows["S1"]["amount"] == Decimal("1234.56")
    assert rows["S2"]["amount"] == Decimal("0.30000000000000004")
    assert rows["S1"]["legal_name"] == "Alfa Ltda" and rows["S2"]["street"] is None
    assert rows["S1"]["email"] is None  # no such column in the CRM
    changed = list(source.read(since=datetime(2026, 11, 15, tzinfo=UTC)))
    assert sorted(_ids(changed)) == ["S2", "S3"]
    assert "password" not in source.description


def test_sql_view_and_schema_free_query(crm_url: str, tmp_path: Path) -> None:
    _crm_table(crm_url, sa.DateTime(timezone=True), _sql_rows(lambda y, m, d: datetime(y, m, d, 12, 0, tzinfo=UTC)))
    mapping = _mapping_file(tmp_path)
    assert sorted(_ids(open_source(crm_url, "negocios_ganhos", mapping).read(since=None))) == ["S1", "S2"]
    query = "SELECT * FROM negocios WHERE valor_total > 100"
    assert _ids(open_source(crm_url, query, mapping).read(since=None)) == ["S1"]
    filtered = "SELECT * FROM negocios WHERE data_alteracao >= :since ORDER BY id_negocio"
    since = datetime(2026, 11, 15, tzinfo=UTC)
    assert _ids(open_source(crm_url, filtered, mapping).read(since=since)) == ["S2", "S3"]
    assert _ids(open_source(crm_url, filtered, mapping).read(since=None)) == ["S1", "S2", "S3"]


def test_naive_sql_timestamps_take_the_mapping_time_zone(crm_url: str, tmp_path: Path) -> None:
    _crm_table(crm_url, sa.DateTime(timezone=False), _sql_rows(lambda y, m, d: datetime(y, m, d, 22, 30)))
    with_zone = open_source(crm_url, "negocios", _mapping_file(tmp_path, "naive_timezone: America/Sao_Paulo\n"))
    rows = {row.values["deal_id"]: row.values for row in with_zone.read(since=None)}
    # 22:30 in São Paulo is 01:30 UTC the next day.
    assert rows["S1"]["updated_at"].astimezone(UTC) == datetime(2026, 11, 2, 1, 30, tzinfo=UTC)
    since = datetime(2026, 11, 21, 1, 0, tzinfo=UTC)  # S2 is 01:30 UTC on the 21st
    assert sorted(_ids(with_zone.read(since=since))) == ["S2", "S3"]
    without_zone = open_source(crm_url, "negocios", _mapping_file(tmp_path))
    naive = {row.values["deal_id"]: row.values for row in without_zone.read(since=None)}
    # Not guessed: left for validation, which refuses it.
    problems = validate_deal_row(naive["S1"], "acme")
    assert ("updated_at", "no_offset") in {(problem.field, problem.reason_code) for problem in problems}


def test_sql_errors_name_the_table_and_the_column(crm_url: str, tmp_path: Path) -> None:
    _crm_table(crm_url, sa.DateTime(timezone=True), _sql_rows(lambda y, m, d: datetime(y, m, d, tzinfo=UTC)))
    with pytest.raises(SourceError, match="no such table"):
        list(SqlDealSource(crm_url, "nao_existe").read(since=None))
    with pytest.raises(SourceError, match="deal_id"):  # canonical names, but the CRM uses others
        list(SqlDealSource(crm_url, "negocios").read(since=None))
    with pytest.raises(SourceError, match="SQL query"):
        list(open_source(crm_url, "SELECT * FROM nada", _mapping_file(tmp_path)).read(since=None))


def test_source_ids_are_stable_per_location_and_differ_between_locations(tmp_path: Path) -> None:
    first = write_csv(tmp_path / "a.csv", [deal_row("D1")])
    second = write_csv(tmp_path / "b.csv", [deal_row("D1")])
    assert open_source(str(first)).source_id == open_source(str(first)).source_id
    assert open_source(str(first)).source_id != open_source(str(second)).source_id
    sql_a = SqlDealSource("postgresql://crm:secret@db/crm", "negocios")
    sql_b = SqlDealSource("postgresql://crm:other@db/crm", "negocios")
    assert sql_a.source_id == sql_b.source_id  # a new password is the same source
    assert "secret" not in sql_a.description and len(sql_a.source_id) < 64
