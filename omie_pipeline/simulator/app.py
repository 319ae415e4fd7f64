"""`Simulator`: start the simulated Omie on a port, steer and observe it, stop it."""

from __future__ import annotations

import threading
from types import TracebackType
from typing import Any

from omie_pipeline.simulator import control
from omie_pipeline.simulator.companies import Company
from omie_pipeline.simulator.config import SimulatorConfig
from omie_pipeline.simulator.engine import Engine
from omie_pipeline.simulator.server import SimHTTPServer
from omie_pipeline.simulator.state import SimState

TICK_SECONDS = 0.05


class Simulator:
    """The Omie API simulator, usable in-process (tests, demo, benchmarks) or from the CLI.

    >>> with Simulator(SimulatorConfig(seed=7)) as sim:   # starts on a free port
    ...     sim.base_url                                  # "http://127.0.0.1:PORT/api/v1/"
    """

    def __init__(self, config: SimulatorConfig | None = None) -> None:
        self.engine = Engine(config or SimulatorConfig())
        self._server: SimHTTPServer | None = None
        self._threads: list[threading.Thread] = []
        self._host = ""
        self._port = 0

    @property
    def config(self) -> SimulatorConfig:
        return self.engine.config

    def start(self, host: str = "127.0.0.1", port: int = 0) -> Simulator:
        """Listen on host:port (port 0 = a free port) and serve in background threads."""
        if self._server is not None:
            raise RuntimeError("simulator already started")
        self.engine.stopping.clear()
        self._server = SimHTTPServer((host, port), self.engine)
        self._host, self._port = host, self._server.server_address[1]
        self.engine.documents_url = f"{self.root_url}_sim/docs/"
        serve = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, name="omie-sim-http", daemon=True
        )
        ticker = threading.Thread(target=self._tick, name="omie-sim-nfse", daemon=True)
        self._threads = [serve, ticker]
        for thread in self._threads:
            thread.start()
        return self

    def _tick(self) -> None:
        while not self.engine.stopping.wait(TICK_SECONDS):
            self.engine.tick()

    def stop(self) -> None:
        """Stop serving, interrupt injected delays and close open connections."""
        if self._server is None:
            return
        self.engine.stopping.set()
        self._server.shutdown()
        self._server.close_connections()
        self._server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._server = None
        self._threads = []

    def wait(self) -> None:
        """Block until the simulator is stopped (the CLI's foreground mode)."""
        self.engine.stopping.wait()

    def __enter__(self) -> Simulator:
        if self._server is None:
            self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return self._port

    @property
    def root_url(self) -> str:
        if self._server is None:
            raise RuntimeError("simulator not started")
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self._port}/"

    @property
    def base_url(self) -> str:
        """Where an Omie client points instead of https://app.omie.com.br/api/v1/."""
        return f"{self.root_url}api/v1/"

    @property
    def control_url(self) -> str:
        return f"{self.root_url}_sim/"

    @property
    def state(self) -> SimState:
        """The in-memory data (clients, services, orders, nfses) of the first (or only) company;
        hold `state.lock` to read it consistently while calls run."""
        self.engine.tick()
        return self.engine.state

    @property
    def credentials(self) -> list[tuple[str, str]]:
        """(app_key, app_secret) of every company served, in configuration order."""
        return [(company.app_key, company.identity.app_secret) for company in self.engine.companies.values()]

    def company(self, app_key: str) -> Company:
        """The company selected by `app_key`: its `state` (data), `config` and `identity`."""
        self.engine.tick()
        return self.engine.company(app_key)

    def stats(self) -> dict[str, Any]:
        """Same dict as GET /_sim/stats."""
        self.engine.tick()
        return self.engine.stats_snapshot()

    def set_faults(self, **settings: Any) -> dict[str, Any]:
        """Same as POST /_sim/faults; returns the faults now active."""
        self.engine.faults.configure(settings)
        return self.engine.faults.snapshot()

    def reset(self) -> None:
        """Same as POST /_sim/reset: fresh seed data, limits, counters and faults."""
        self.engine.reset()

    def update_service(self, code: int | str, app_key: str | None = None, **impostos: Any) -> dict[str, Any]:
        """Same as POST /_sim/services: change a catalog service's tax fields at runtime, in the
        company of `app_key` or, when None, in every company."""
        return control.update_service(self.engine, code, app_key, **impostos)
