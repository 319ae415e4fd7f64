"""The column mapping file: which of the CRM's columns holds each canonical deal field.

A YAML mapping of `canonical_field: crm_column`; only the names that differ need a line, every
other field is read from the column of its own canonical name. One option may sit beside them:
`naive_timezone`, the time zone in which a SQL source writes date-time columns that carry no
offset (MySQL `DATETIME`, PostgreSQL `timestamp`). Without it such values are validation issues,
because guessing the zone can move a deal across a day or past a watermark.

    deal_id: id
    legal_name: razao_social
    document: cnpj_cpf
    updated_at: data_alteracao
    naive_timezone: America/Sao_Paulo
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from omie_pipeline.domain.deal import CANONICAL_COLUMNS
from omie_pipeline.sources.base import SourceError

NAIVE_TIMEZONE_KEY = "naive_timezone"
REQUIRED_FIELDS = ("deal_id", "status", "updated_at", "amount")
"""Fields a source must have a column for; without them no row can become a deal."""


class MappingError(SourceError):
    """The mapping file cannot be used; the message names the file and the key at fault."""


@dataclass(frozen=True)
class ColumnMapping:
    """Canonical field -> source column, for every canonical field."""

    columns: dict[str, str] = field(default_factory=lambda: {name: name for name in CANONICAL_COLUMNS})
    naive_timezone: ZoneInfo | None = None

    def column_of(self, canonical: str) -> str:
        return self.columns[canonical]

    def missing_required(self, available: set[str]) -> list[str]:
        """`field (column)` for each required field whose column the source lacks."""
        return [
            f"{name} (column {self.columns[name]!r})" if self.columns[name] != name else name
            for name in REQUIRED_FIELDS
            if self.columns[name] not in available
        ]


def default_mapping() -> ColumnMapping:
    return ColumnMapping()


def load_mapping(path: Path | str | None) -> ColumnMapping:
    """Read a mapping file; None gives the canonical names (design.md) unchanged."""
    if path is None or str(path) == "":
        return default_mapping()
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise MappingError(f"deal mapping file {path}: cannot be read ({error.strerror or error})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise MappingError(f"deal mapping file {path}: not valid YAML{where}") from None
    return mapping_from_dict(data if data is not None else {}, origin=str(path))


def mapping_from_dict(data: Any, origin: str = "mapping") -> ColumnMapping:
    """Check and complete a `{canonical_field: crm_column}` dictionary."""
    if not isinstance(data, dict):
        raise MappingError(f"deal mapping file {origin}: must be a mapping of canonical_field: crm_column")
    columns = {name: name for name in CANONICAL_COLUMNS}
    zone: ZoneInfo | None = None
    problems = []
    for key, value in data.items():
        if key == NAIVE_TIMEZONE_KEY:
            try:
                zone = ZoneInfo(str(value))
            except (ZoneInfoNotFoundError, ValueError):
                problems.append(f"{NAIVE_TIMEZONE_KEY}: {value!r} is not a time zone name such as America/Sao_Paulo")
            continue
        if key not in columns:
            problems.append(f"{key!r} is not a canonical deal field (one of: {', '.join(CANONICAL_COLUMNS)})")
            continue
        if not isinstance(value, str) or not value.strip():
            problems.append(f"{key}: the CRM column must be a non-empty name, not {value!r}")
            continue
        columns[key] = value.strip()
    if problems:
        raise MappingError(f"deal mapping file {origin}: " + "; ".join(problems))
    return ColumnMapping(columns=columns, naive_timezone=zone)
