"""Materialise `nfse_invoices` for one account in a process of its own, as a Dagster run would.

Used by the test of two runs at once; prints the run's outcome counts as one JSON line.

    python tests/invoices/run_asset.py BASE_URL APP_KEY APP_SECRET DB_URL ACCOUNT WINDOW REDUNDANT PACING_URL
"""

from __future__ import annotations

import json
import sys

import dagster as dg

from omie_pipeline.defs.assets.invoices import nfse_invoices
from omie_pipeline.defs.partitions import ACCOUNTS_PARTITION_NAME
from omie_pipeline.defs.resources import OmieResource, PipelineResource, StoreResource


def main(
    base_url: str,
    app_key: str,
    app_secret: str,
    db_url: str,
    account: str,
    window: str,
    redundant: str,
    pacing_url: str,
) -> None:
    resources = {
        "omie": OmieResource(
            base_url=base_url,
            app_key=app_key,
            app_secret=app_secret,
            window_seconds=float(window),
            redundant_seconds=float(redundant),
            pacing_url=pacing_url,
        ),
        "store": StoreResource(db_url=db_url),
        "pipeline": PipelineResource(account=account),
    }
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(ACCOUNTS_PARTITION_NAME, [account])
        result = dg.materialize([nfse_invoices], partition_key=account, instance=instance, resources=resources)
        metadata = result.asset_materializations_for_node("nfse_invoices")[0].metadata
    print(
        json.dumps(
            {
                "success": result.success,
                **{key: entry.value for key, entry in metadata.items() if key.startswith("outcome_")},
            }
        )
    )


if __name__ == "__main__":
    main(*sys.argv[1:])
