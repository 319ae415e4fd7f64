"""The `omie-pipeline` command: a click group whose subcommands live in one module per concern."""

import click


@click.group()
@click.version_option(package_name="omie-pipeline")
def main() -> None:
    """Closed CRM deals to Omie clients and NFS-e, exactly once."""


def _register_subcommands() -> None:
    """Import each concern's command module; each adds its commands to `main`."""
    from omie_pipeline.cli import simulator  # noqa: F401
    from omie_pipeline.cli import connection  # noqa: F401
    from omie_pipeline.cli import run  # noqa: F401
    from omie_pipeline.cli import services  # noqa: F401
    from omie_pipeline.cli import invoices  # noqa: F401
    from omie_pipeline.cli import deals  # noqa: F401
    from omie_pipeline.cli import report  # noqa: F401


_register_subcommands()
