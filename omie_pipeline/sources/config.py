"""Choosing the deal source from configuration: a `.csv` path, or a SQLAlchemy URL and a table."""

from __future__ import annotations

from pathlib import Path

from omie_pipeline.settings import Settings
from omie_pipeline.sources.base import DealSource, SourceError
from omie_pipeline.sources.csv_source import CsvDealSource
from omie_pipeline.sources.mapping import load_mapping
from omie_pipeline.sources.sql_source import SqlDealSource


def open_source(url: str | None, table: str | None = None, mapping_path: Path | str | None = None) -> DealSource:
    """The source for SALESOS_DEALS_URL / _TABLE / _MAPPING.

    A value ending in `.csv` (any case) is a file path; anything else must be a SQLAlchemy URL,
    which then needs a table, view or query.
    """
    if not url or not url.strip():
        raise SourceError("no deal source configured: set SALESOS_DEALS_URL to a .csv file or a SQLAlchemy URL")
    url = url.strip()
    mapping = load_mapping(mapping_path)
    if url.lower().endswith(".csv"):
        path = Path(url.removeprefix("file://"))
        if not path.is_file():
            raise SourceError(f"deals CSV file {path.expanduser().resolve()} does not exist")
        return CsvDealSource(path, mapping)
    if "://" not in url:
        raise SourceError("SALESOS_DEALS_URL is neither a .csv file path nor a SQLAlchemy URL (dialect://...)")
    return SqlDealSource(url, table or "", mapping)


def source_from_settings(settings: Settings) -> DealSource:
    return open_source(settings.salesos_deals_url, settings.salesos_deals_table, settings.salesos_deals_mapping)
