"""The one Dagster `Definitions` of the project, built from explicit lists (no module scanning)."""

from __future__ import annotations

import dagster as dg

from omie_pipeline.defs.resources import StoreResource


def build_definitions() -> dg.Definitions:
    return dg.Definitions(
        assets=[],
        asset_checks=[],
        jobs=[],
        schedules=[],
        sensors=[],
        resources={"store": StoreResource()},
    )


defs = build_definitions()
