"""`omie-pipeline simulator`: run the local Omie API simulator in the foreground."""

from __future__ import annotations

import signal

import click

from omie_pipeline.cli import main
from omie_pipeline.i18n import _, ngettext
from omie_pipeline.simulator import Simulator, SimulatorConfig, derived_companies
from omie_pipeline.simulator.config import REGIMES


@main.command("simulator")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8765, show_default=True, type=int, help="Port to listen on (0 = any free port).")
@click.option("--seed", default=7, show_default=True, type=int, help="Seed of the data and of every random draw.")
@click.option("--clients", default=50, show_default=True, type=click.IntRange(min=0), help="Existing clients to seed.")
@click.option("--app-key", default="1234567890", show_default=True, help="The app_key the simulator accepts.")
@click.option("--app-secret", default="sim-secret", show_default=True, help="The app_secret the simulator accepts.")
@click.option(
    "--companies",
    default=1,
    show_default=True,
    type=click.IntRange(min=1),
    help="Companies served, each its own key pair and data: keys --app-key + n - 1, secrets "
    "--app-secret-n (n from 2), seeds --seed + n - 1. With more than one, only the keys are printed.",
)
@click.option(
    "--window-seconds",
    default=60.0,
    show_default=True,
    type=click.FloatRange(min=0.001),
    help="Rate-limit window (Omie: 60 s).",
)
@click.option(
    "--redundant-seconds",
    default=None,
    type=click.FloatRange(min=0),
    help="Interval in which a repeated identical call is refused (default: the window).",
)
@click.option(
    "--nfse-delay",
    nargs=2,
    type=float,
    default=(1.0, 5.0),
    show_default=True,
    metavar="MIN MAX",
    help="Seconds from FaturarOS to the final RPS status.",
)
@click.option(
    "--rejection-rate",
    default=0.0,
    show_default=True,
    type=click.FloatRange(0.0, 1.0),
    help="Share of RPS the prefeitura rejects (003) while it is up.",
)
@click.option(
    "--regime",
    default="Lucro Presumido",
    show_default=True,
    type=click.Choice(REGIMES),
    help="The company's tax regime (decides the catalog's PIS/COFINS and retentions).",
)
@click.option(
    "--latency",
    nargs=2,
    type=float,
    default=(0.0, 0.0),
    show_default=True,
    metavar="MIN MAX",
    help="Seconds added to every answer, drawn uniformly.",
)
@click.option(
    "--pdf-link-seconds",
    default=600.0,
    show_default=True,
    type=click.FloatRange(min=0.001),
    help="How long a PDF link from StatusOS or ObterNFSe opens the file (then 403).",
)
def simulator_command(
    host: str,
    port: int,
    seed: int,
    clients: int,
    app_key: str,
    app_secret: str,
    companies: int,
    window_seconds: float,
    redundant_seconds: float | None,
    nfse_delay: tuple[float, float],
    rejection_rate: float,
    regime: str,
    latency: tuple[float, float],
    pdf_link_seconds: float,
) -> None:
    """Serve a simulated Omie API (same paths, calls, faults and limits) until interrupted."""
    try:
        config = SimulatorConfig(
            seed=seed,
            clients=clients,
            app_key=app_key,
            app_secret=app_secret,
            window_seconds=window_seconds,
            redundant_seconds=window_seconds if redundant_seconds is None else redundant_seconds,
            nfse_delay=nfse_delay,
            rejection_rate=rejection_rate,
            regime=regime,
            latency=latency,
            pdf_link_seconds=pdf_link_seconds,
            companies=derived_companies(companies, app_key, app_secret, seed, clients, regime) if companies > 1 else (),
        )
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    sim = Simulator(config)
    try:
        sim.start(host=host, port=port)
    except OSError as exc:
        raise click.ClickException(
            _("cannot listen on {host}:{port}: {reason}").format(host=host, port=port, reason=exc.strerror or exc)
        ) from None
    # Both signals stop it explicitly: a shell starts background commands with SIGINT ignored,
    # and Python then never raises KeyboardInterrupt, so Ctrl+C or `kill -INT` would do nothing.
    for stop_signal in (signal.SIGINT, signal.SIGTERM):
        signal.signal(stop_signal, lambda *_signal: sim.engine.stopping.set())
    # "Base URL: " stays as it is in every language: scripts and tests read the URL after it.
    click.echo(_("Omie simulator listening.") + f" Base URL: {sim.base_url}")
    if config.companies:
        keys = ", ".join(company.app_key for company in config.companies)
        click.echo(
            ngettext(
                "  {count} company, app_key: {keys} (secret: see --help)",
                "  {count} companies, app_keys: {keys} (secrets: see --help)",
                len(config.companies),
            ).format(count=len(config.companies), keys=keys)
        )
    else:
        click.echo(f"  app_key:    {config.app_key}")
        click.echo(f"  app_secret: {config.app_secret}")
    click.echo(_("  control:    {url} (stats, faults, reset, seed, services)").format(url=sim.control_url))
    click.echo(
        _("  seed {seed}, {clients}, regime {regime}, window {window} s, NFS-e delay {low}-{high} s").format(
            seed=config.seed,
            clients=ngettext("{count} client", "{count} clients", config.clients).format(count=config.clients),
            regime=config.regime,
            window=f"{config.window_seconds:g}",
            low=f"{nfse_delay[0]:g}",
            high=f"{nfse_delay[1]:g}",
        )
    )
    click.echo(_("Press Ctrl+C to stop."))
    try:
        sim.wait()
    finally:
        sim.stop()
        click.echo(_("Omie simulator stopped."))
