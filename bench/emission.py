"""How many invoices one account issues per Omie window, against the per-method limit.

Starts the Omie simulator with a short window, syncs its catalog and tax rates into a temporary
SQLite store, maps a product, places N closed deals linked to Omie clients, and runs the issuing
step once (`sync.invoices.issue_invoices`: intent, IncluirOS, ValidarOS, FaturarOS per deal).
Each invoice costs one call of each of those three methods, so the per-method limit is also the
most invoices a window can hold. Prints the invoices completed per full window against that limit,
and the calls the simulator rejected (429, 425, redundant, concurrency), which must be 0.

`--latency SECONDS` makes every Omie answer take that long: the run then shows whether the calls
kept in flight (4 per emission write, omie/pacing.py) fill the per-method limit when Omie is slow.
The peak of calls in flight per method, as the simulator saw them, is printed too.

    .venv/bin/python bench/emission.py --invoices 200 --window 5 --per-method 40
    .venv/bin/python bench/emission.py --invoices 480 --window 30 --per-method 120 --latency 1

Invoices per window = the mean number of invoices whose FaturarOS was accepted in each full
window, windows laid end to end from the first one accepted (the last, partial window left out).
The start-up before it (intents recorded, their keys looked up in Omie, the first deals' calls)
is printed apart: it is paid once per run, not per window.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa

from omie_pipeline.domain.documents import normalise_document
from omie_pipeline.domain.taxes import Regime
from omie_pipeline.omie import OmieClient, OmieLimits
from omie_pipeline.simulator import Simulator, SimulatorConfig
from omie_pipeline.store import Store
from omie_pipeline.store.catalog import list_services, replace_service_map
from omie_pipeline.store.invoices import list_invoices
from omie_pipeline.store.tables import client_links, deals
from omie_pipeline.sync.catalog import sync_catalog
from omie_pipeline.sync.invoices import IssueSettings, Outcome, issue_invoices
from omie_pipeline.sync.tax_rates import sync_tax_rates

ACCOUNT = "bench"
PRODUCT = "BENCH-SERVICE"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=200, help="deals to invoice (default 200)")
    parser.add_argument("--window", type=float, default=5.0, help="Omie's window in seconds (default 5)")
    parser.add_argument("--per-method", type=int, default=40, help="calls allowed per method per window (default 40)")
    parser.add_argument("--per-ip", type=int, default=960, help="calls allowed per IP per window (default 960)")
    parser.add_argument(
        "--workers",
        type=int,
        default=IssueSettings().workers,
        help=f"deals handled at once (default {IssueSettings().workers})",
    )
    parser.add_argument("--latency", type=float, default=0.0, help="seconds every Omie answer takes (default 0)")
    return parser.parse_args()


def place_deals(store: Store, sim: Simulator, count: int) -> None:
    """N closed, valid deals, each linked to one of the simulator's clients."""
    with sim.state.lock:
        clients = [
            dict(record)
            for _, record in sorted(sim.state.clients.items())
            if record.get("email") and record.get("cep") and record.get("inativo") != "S"
        ]
    now = datetime.now(UTC)
    deal_rows, link_rows = [], []
    for index in range(count):
        client = clients[index % len(clients)]
        document = normalise_document(client["cnpj_cpf"])
        deal_id = f"B{index:06d}"
        deal_rows.append(
            {
                "account": ACCOUNT,
                "deal_id": deal_id,
                "status": "won",
                "closed_at": now,
                "updated_at": now,
                "amount": Decimal("1500.00"),
                "product_code": PRODUCT,
                "description": f"Bench deal {deal_id}",
                "legal_name": client["razao_social"],
                "document": document,
                "email": client["email"],
                "street": client["endereco"],
                "number": client["endereco_numero"],
                "district": client["bairro"],
                "city": client["cidade"],
                "state": client["estado"],
                "zip": client["cep"].replace("-", ""),
                "is_valid": True,
                "pulled_at": now,
            }
        )
        link_rows.append(
            {
                "account": ACCOUNT,
                "deal_id": deal_id,
                "document": document,
                "codigo_cliente_omie": client["codigo_cliente_omie"],
                "how": "matched",
                "linked_at": now,
            }
        )
    with store.begin() as connection:
        connection.execute(sa.insert(deals), deal_rows)
        connection.execute(sa.insert(client_links), link_rows)


def per_full_window(moments: list[float], started: float, window: float) -> list[int]:
    """Events in each full window from `started` (the last, partial window left out)."""
    if not moments:
        return []
    windows = int((max(moments) - started) // window)
    counts = [0] * max(windows, 0)
    for moment in moments:
        slot = int((moment - started) // window)
        if slot < windows:
            counts[slot] += 1
    return counts


def main() -> None:
    args = parse_args()
    config = SimulatorConfig(
        clients=50,
        window_seconds=args.window,
        redundant_seconds=args.window,
        per_method_limit=args.per_method,
        per_ip_limit=args.per_ip,
        nfse_delay=(0.5, 1.0),
        latency=(args.latency, args.latency),
    )
    limits = OmieLimits(window_seconds=args.window, per_method=args.per_method, per_ip=args.per_ip)
    with tempfile.TemporaryDirectory() as folder, Simulator(config) as sim:
        store = Store(f"sqlite:///{Path(folder) / 'bench.sqlite'}")
        client = OmieClient(
            sim.base_url,
            config.app_key,
            config.app_secret,
            limits=limits,
            timeout=(2, 10),
            redundant_seconds=args.window,
        )
        sync_catalog(client, store, ACCOUNT)
        sync_tax_rates(client, store, ACCOUNT, confirmed_regime=Regime.LUCRO_PRESUMIDO)
        with store.begin() as connection:
            service = next(s for s in list_services(connection, ACCOUNT) if s.integration_code == "SRV-CONSULTORIA")
            replace_service_map(connection, ACCOUNT, {PRODUCT: service.code}, datetime.now(UTC))
        place_deals(store, sim, args.invoices)
        time.sleep(args.window)  # start with empty windows: the set-up calls are out of the way
        before = sim.stats()

        started_wall = datetime.now(UTC)
        started = time.monotonic()
        summary = issue_invoices(
            client,
            store,
            ACCOUNT,
            settings=IssueSettings(workers=args.workers, redundant_interval=timedelta(seconds=args.window)),
        )
        elapsed = time.monotonic() - started
        after = sim.stats()
        with store.connect() as connection:
            submitted = [invoice.submitted_at for invoice in list_invoices(connection, ACCOUNT) if invoice.submitted_at]
        with sim.state.lock:
            orders, invoiced = len(sim.state.orders), sum(1 for o in sim.state.orders.values() if o.faturada)
        client.close()
        store.dispose()

    moments = [started + (moment - started_wall).total_seconds() for moment in submitted]
    first = min(moments, default=started)
    windows = per_full_window(moments, first, args.window)
    achieved = sum(windows) / len(windows) if windows else float(len(moments))
    rejected = sum(after["rejected"].values()) - sum(before["rejected"].values())
    calls = {
        method: after["calls"].get(method, 0) - before["calls"].get(method, 0)
        for method in ("IncluirOS", "ValidarOS", "FaturarOS")
    }
    peaks = {method: after["peak_concurrency"].get(method, 0) for method in calls}
    print(
        f"{summary.count(Outcome.SUBMITTED)} invoices submitted of {args.invoices} deals in {elapsed:.1f} s; "
        f"{args.workers} workers, window {args.window:g} s, per-method limit {args.per_method}, "
        f"{args.latency:g} s an answer"
    )
    print(f"most calls in flight: {peaks}")
    print(f"calls: {calls}; Omie holds {orders} OS, {invoiced} invoiced (one per deal: {orders == args.invoices})")
    print(f"start-up: {first - started:.1f} s before the first invoice; invoices per full window after: {windows}")
    print(
        f"invoices per window: {achieved:.1f} / limit {args.per_method} (ratio {achieved / args.per_method:.2f}), "
        f"rejected {rejected}"
    )


if __name__ == "__main__":
    main()
