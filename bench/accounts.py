"""Several accounts calling Omie at full speed at once, each from its own process, on one host.

Starts one simulator serving N companies with a short window, then one process per account sends
`--calls` `ConsultarCliente` calls (each for a different client of its company) through its own
`OmieClient`; all processes pace themselves through one shared ledger (a SQLite file, the embedded
default, or `--pacing-url redis://...`). Each account may use its per-method budget, but together
they are held to the per-IP budget of the host. Prints one JSON line: per account, the answers per
full window, the busiest window and the calls Omie refused; for the host, the busiest window of
all accounts together against the per-IP limit.

    .venv/bin/python bench/accounts.py --accounts 2
    .venv/bin/python bench/accounts.py --accounts 4
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import tempfile
import time
from pathlib import Path

from omie_pipeline.omie import OmieClient, OmieLimits
from omie_pipeline.simulator import Simulator, SimulatorConfig
from omie_pipeline.simulator.config import derived_companies


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=2, help="accounts (companies) calling at once (default 2)")
    parser.add_argument("--calls", type=int, default=150, help="calls per account (default 150)")
    parser.add_argument("--window", type=float, default=5.0, help="Omie's window in seconds (default 5)")
    parser.add_argument("--per-method", type=int, default=60, help="calls allowed per key and method per window")
    parser.add_argument("--per-ip", type=int, default=120, help="calls allowed per IP per window, all keys")
    parser.add_argument("--pacing-url", default="", help="shared ledger (default: a SQLite file)")
    return parser.parse_args()


def _account(base_url: str, key: str, secret: str, ids: list[int], limits: tuple, pacing_url: str, out) -> None:
    window, per_method, per_ip = limits
    paced = OmieLimits(window_seconds=window, per_method=per_method, per_ip=per_ip)
    client = OmieClient(base_url, key, secret, limits=paced, timeout=(2, 20), pacing_url=pacing_url)
    stamps = []
    for client_id in ids:
        client.get_client(codigo_cliente_omie=client_id)
        stamps.append(time.time())
    client.close()
    out.put((key, stamps))


def main() -> None:
    args = parse_args()
    companies = derived_companies(args.accounts, "5550001000", "bench-secret", seed=11, clients=args.calls)
    config = SimulatorConfig(
        companies=companies,
        window_seconds=args.window,
        per_method_limit=args.per_method,
        per_ip_limit=args.per_ip,
        latency=(0.0, 0.005),
    )
    limits = (args.window, args.per_method, args.per_ip)
    with tempfile.TemporaryDirectory() as folder, Simulator(config) as sim:
        pacing_url = args.pacing_url or f"sqlite:///{Path(folder) / 'pacing.sqlite'}"
        context = multiprocessing.get_context("spawn")
        results = context.Queue()
        workers = []
        for key, secret in sim.credentials:
            ids = sorted(sim.company(key).state.clients)[: args.calls]
            workers.append(
                context.Process(target=_account, args=(sim.base_url, key, secret, ids, limits, pacing_url, results))
            )
        started = time.time()
        for worker in workers:
            worker.start()
        stamps = dict(results.get(timeout=3600) for _ in workers)
        for worker in workers:
            worker.join()
        stats = sim.stats()
    accounts = {}
    for key, times in stamps.items():
        windows = _per_full_window(times, started, args.window)
        accounts[key] = {
            "calls": len(times),
            "answers_per_full_window": windows,
            "busiest_window": _busiest(sorted(times), args.window),
            "per_method_limit": args.per_method,
            "rejected": sum(stats["companies"][key]["rejected"].values()),
        }
    every = sorted(t for times in stamps.values() for t in times)
    host_busiest = _busiest(every, args.window)
    print(
        json.dumps(
            {
                "accounts": args.accounts,
                "window_seconds": args.window,
                "per_ip_limit": args.per_ip,
                "host_busiest_window": host_busiest,
                "host_mean_per_full_window": round(
                    sum(_per_full_window(every, started, args.window))
                    / max(1, len(_per_full_window(every, started, args.window))),
                    1,
                ),
                "rejected": sum(stats["rejected"].values()),
                "seconds": round(max(every) - started, 1),
                "per_account": accounts,
            }
        )
    )


def _per_full_window(stamps: list[float], started: float, window: float) -> list[int]:
    full = int((max(stamps) - started) // window)
    counts = [0] * full
    for stamp in stamps:
        index = int((stamp - started) // window)
        if index < full:
            counts[index] += 1
    return counts


def _busiest(stamps: list[float], window: float) -> int:
    """The most answers inside any interval of `window` seconds."""
    best = start = 0
    for end, stamp in enumerate(stamps):
        while stamp - stamps[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


if __name__ == "__main__":
    main()
