"""How close the client's pacing gets to Omie's limit without being refused.

Starts the Omie simulator with a short window, then sends N `ConsultarCliente` calls (each for a
different client, so that none is a redundant repeat) from several threads through one
`OmieClient`, and prints the rate achieved per window against the rate allowed, and how many
calls the simulator rejected (429, 425, redundant, concurrency).

    .venv/bin/python bench/pacing.py --calls 1200 --threads 8 --window 5 --per-method 240

Achieved per window = the mean number of answers in each full window of the run, windows laid
end to end from the first call (the last, partial window is left out). The busiest interval of
one window's length, anywhere in the run, is printed too: it must not exceed the limit.
"""

from __future__ import annotations

import argparse
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from omie_pipeline.omie import OmieClient, OmieLimits
from omie_pipeline.simulator import Simulator, SimulatorConfig


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1200, help="calls to send (default 1200)")
    parser.add_argument("--threads", type=int, default=8, help="threads sending them (default 8)")
    parser.add_argument("--window", type=float, default=5.0, help="Omie's window in seconds (default 5)")
    parser.add_argument("--per-method", type=int, default=240, help="calls allowed per method per window")
    parser.add_argument("--per-ip", type=int, default=960, help="calls allowed per IP per window")
    parser.add_argument("--in-flight", type=int, default=4, help="calls of one method in flight (Omie: 4)")
    parser.add_argument("--latency-ms", type=float, default=5.0, help="simulated Omie latency, upper bound")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    config = SimulatorConfig(
        clients=args.calls,
        window_seconds=args.window,
        per_method_limit=args.per_method,
        per_ip_limit=args.per_ip,
        max_concurrent_per_method=args.in_flight,
        latency=(0.0, args.latency_ms / 1000),
    )
    limits = OmieLimits(
        window_seconds=args.window, per_method=args.per_method, per_ip=args.per_ip, max_in_flight=args.in_flight
    )
    with Simulator(config) as sim:
        client = OmieClient(sim.base_url, config.app_key, config.app_secret, limits=limits, timeout=(2, 10))
        ids = sorted(sim.state.clients)[: args.calls]
        if len(ids) < args.calls:
            raise SystemExit(f"the simulator holds only {len(ids)} clients; lower --calls")
        answered: list[float] = []
        lock = threading.Lock()

        def consult(client_id: int) -> None:
            client.get_client(codigo_cliente_omie=client_id)
            with lock:
                answered.append(time.monotonic())

        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=args.threads) as pool:
            list(pool.map(consult, ids))
        elapsed = time.monotonic() - started
        stats = sim.stats()
        client.close()

    answered.sort()
    per_window = _answers_per_full_window(answered, started, args.window)
    achieved = sum(per_window) / len(per_window)
    rejected = sum(stats["rejected"].values())
    waited = client.metrics()["ConsultarCliente"]["pacing_wait_seconds"]
    print(f"{len(answered)} calls, {args.threads} threads, window {args.window:g} s, {elapsed:.1f} s in all")
    print(
        f"answers per full window: {per_window}; busiest {args.window:g} s interval: "
        f"{_busiest(answered, args.window)} (allowed {args.per_method})"
    )
    print(f"pacing wait: {waited:.1f} s over all threads; retries: {client.metrics()['ConsultarCliente']['retries']}")
    print(
        f"achieved {achieved:.0f}/{args.per_method} per window (ratio {achieved / args.per_method:.2f}), "
        f"rejected {rejected}"
    )


def _answers_per_full_window(stamps: list[float], started: float, window: float) -> list[int]:
    full_windows = int((stamps[-1] - started) // window)
    if full_windows == 0:
        raise SystemExit("the run ended inside its first window; send more calls")
    counts = [0] * full_windows
    for stamp in stamps:
        index = int((stamp - started) // window)
        if index < full_windows:
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
