"""One OS process calling a simulated Omie through a shared pacing ledger (tests/omie/test_shared_pacing.py).

`consult URL KEY SECRET PACING_URL PER_METHOD PER_IP WINDOW START IDS...` looks up each client id
after the wall-clock moment START and prints how many calls failed.
`hold PACING_URL WINDOW_NAME LEASE` takes one in-flight place, prints "held", and sleeps until killed.
"""

from __future__ import annotations

import json
import sys
import time

from omie_pipeline.omie import OmieClient, OmieLimits, errors
from omie_pipeline.omie.ledger import ledger_for
from omie_pipeline.omie.ledger_contract import Reservation


def consult(base_url, app_key, secret, pacing_url, per_method, per_ip, window, start, *ids) -> None:
    limits = OmieLimits(window_seconds=float(window), per_method=int(per_method), per_ip=int(per_ip))
    client = OmieClient(
        base_url, app_key, secret, limits=limits, timeout=(1.0, 3.0), max_retries=0, pacing_url=pacing_url
    )
    time.sleep(max(0.0, float(start) - time.time()))
    failed = 0
    for client_id in ids:
        try:
            client.get_client(codigo_cliente_omie=int(client_id))
        except errors.OmieError:
            failed += 1
    print(json.dumps({"failed": failed}))


def hold(pacing_url, window_name, lease) -> None:
    claim = Reservation(
        token="held-by-a-process-that-dies",
        method_window=window_name,
        method_limit=100,
        in_flight_cap=1,
        ip_window=window_name + ":ip",
        ip_limit=100,
        window_seconds=1.0,
        deadline=time.time() + float(lease),
    )
    assert ledger_for(pacing_url).reserve(claim) is None
    print("held", flush=True)
    time.sleep(600)


if __name__ == "__main__":
    {"consult": consult, "hold": hold}[sys.argv[1]](*sys.argv[2:])
