"""Where deals come from: a CSV export or a SQL table, view or query, behind one interface.

source = open_source("crm.csv")                      # or a SQLAlchemy URL plus a table
for row in source.read(since=None):                   # SourceRow: canonical names, raw values
    ...
"""

from omie_pipeline.sources.base import DealSource, SourceError, SourceRow
from omie_pipeline.sources.config import open_source, source_from_settings
from omie_pipeline.sources.csv_source import CsvDealSource
from omie_pipeline.sources.mapping import ColumnMapping, MappingError, load_mapping
from omie_pipeline.sources.sql_source import SqlDealSource

__all__ = [
    "ColumnMapping",
    "CsvDealSource",
    "DealSource",
    "MappingError",
    "SourceError",
    "SourceRow",
    "SqlDealSource",
    "load_mapping",
    "open_source",
    "source_from_settings",
]
