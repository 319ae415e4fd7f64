"""The one Dagster `Definitions` of the project, built from explicit lists (no module scanning)."""

from __future__ import annotations

import dagster as dg

from omie_pipeline.defs.assets.catalog import CATALOG_ASSETS, CATALOG_CHECKS
from omie_pipeline.defs.resources import OmieResource, StoreResource


def build_definitions() -> dg.Definitions:
    return dg.Definitions(
        assets=[*CATALOG_ASSETS],
        asset_checks=[*CATALOG_CHECKS],
        jobs=[],
        schedules=[],
        sensors=[],
        resources={"store": StoreResource(), "omie": OmieResource()},
    )


defs = build_definitions()
