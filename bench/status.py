"""Omie calls one status refresh makes for K open invoices, against the ideal (pages of the listings).

Starts the Omie simulator with a short window, issues K deals (intent, IncluirOS, ValidarOS,
FaturarOS), lets the prefeitura answer every RPS, then runs one status refresh
(`sync.invoice_status.refresh_statuses`) and counts the calls the simulator saw during it. With
`--rejected R`, about R of the notes are rejected: a rejected note is never listed, so its OS is
asked for by ListarOS (a page of ids per call) and it costs one StatusOS once the grace has passed
(`--grace 0` asks at once). `--page-size N` sets the page of ListarNFSEs and ListarOS (the client's
default otherwise, as OMIE_PAGE_SIZES would). Prints one JSON line:

    .venv/bin/python bench/status.py --open-notes 1000
    {"open_notes": 1000, "calls": 10, "by_method": {"ListarNFSEs": 10}, "ideal": 10, ...}
    .venv/bin/python bench/status.py --open-notes 10000

`ideal` = ceil(K listed notes / page size) pages of ListarNFSEs + ceil(open OS without a listed note
/ page size) pages of ListarOS + the notes the listings cannot settle (rejections past the grace).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from emission import ACCOUNT, PRODUCT, place_deals

from omie_pipeline.domain.taxes import Regime
from omie_pipeline.domain.timeutil import now_utc
from omie_pipeline.omie import OmieClient, OmieLimits
from omie_pipeline.simulator import Simulator, SimulatorConfig
from omie_pipeline.store import Store
from omie_pipeline.store.catalog import list_services, replace_service_map
from omie_pipeline.store.invoices import status_counts
from omie_pipeline.sync.catalog import sync_catalog
from omie_pipeline.sync.invoice_status import RefreshSettings, refresh_statuses
from omie_pipeline.sync.invoices import IssueSettings, issue_invoices
from omie_pipeline.sync.tax_rates import sync_tax_rates

LISTINGS = ("ListarNFSEs", "ListarOS")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--open-notes", type=int, default=1000, help="invoices open before the refresh (default 1000)")
    parser.add_argument("--rejected", type=float, default=0.0, help="share the prefeitura rejects (default 0)")
    parser.add_argument(
        "--grace",
        type=float,
        default=0.0,
        help="minutes before a pending invoice is asked about one by one (default 0: at once)",
    )
    parser.add_argument(
        "--page-size", type=int, default=None, help="page size of ListarNFSEs and ListarOS (default: the client's)"
    )
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    window = 1.0  # a short window, so that issuing K deals takes seconds; the refresh's calls are what is counted
    config = SimulatorConfig(
        clients=50,
        window_seconds=window,
        redundant_seconds=window,
        per_method_limit=240,
        per_ip_limit=960,
        nfse_delay=(0.1, 0.3),
        rejection_rate=args.rejected,
    )
    limits = OmieLimits(window_seconds=window, per_method=240, per_ip=960)
    with tempfile.TemporaryDirectory() as folder, Simulator(config) as sim:
        store = Store(f"sqlite:///{Path(folder) / 'bench.sqlite'}")
        sizes = {name: args.page_size for name in LISTINGS} if args.page_size else None
        client = OmieClient(
            sim.base_url,
            config.app_key,
            config.app_secret,
            limits=limits,
            timeout=(2, 10),
            redundant_seconds=window,
            page_sizes=sizes,
        )
        sync_catalog(client, store, ACCOUNT)
        sync_tax_rates(client, store, ACCOUNT, confirmed_regime=Regime.LUCRO_PRESUMIDO)
        with store.begin() as connection:
            service = next(s for s in list_services(connection, ACCOUNT) if s.integration_code == "SRV-CONSULTORIA")
            replace_service_map(connection, ACCOUNT, {PRODUCT: service.code}, now_utc())
        place_deals(store, sim, args.open_notes)
        issue_invoices(client, store, ACCOUNT, settings=IssueSettings(redundant_interval=timedelta(seconds=window)))
        time.sleep(1.0)
        sim.engine.tick()  # every RPS reaches its final status
        time.sleep(window)
        before = sim.stats()["calls"]
        started = time.monotonic()
        summary = refresh_statuses(
            client,
            store,
            ACCOUNT,
            settings=RefreshSettings(
                redundant_interval=timedelta(seconds=window), status_grace=timedelta(minutes=args.grace)
            ),
        )
        seconds = time.monotonic() - started
        after = sim.stats()["calls"]
        with store.connect() as connection:
            settled = status_counts(connection, ACCOUNT)
        page_sizes = {name: client.page_size(name) for name in LISTINGS}
        client.close()
        store.dispose()
    by_method = {
        method: count - before.get(method, 0)
        for method, count in Counter(after).items()
        if count - before.get(method, 0)
    }
    not_listed = settled.get("error", 0)
    # An empty NFS-e listing still costs its first page; ListarOS is asked only for what the notes leave open.
    pages = math.ceil(max(summary.listed["ListarNFSEs"], 1) / page_sizes["ListarNFSEs"]) + math.ceil(
        summary.listed["ListarOS"] / page_sizes["ListarOS"]
    )
    print(
        json.dumps(
            {
                "open_notes": args.open_notes,
                "calls": sum(by_method.values()),
                "by_method": by_method,
                "ideal": pages + not_listed,
                "settled": settled,
                "status_requests": summary.status_requests,
                "page_sizes": page_sizes,
                "seconds": round(seconds, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
