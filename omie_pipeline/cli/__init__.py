"""The `omie-pipeline` command: a click group whose subcommands live in one module per concern."""

import click


class _Commands(click.Group):
    """The command group; configuration that cannot be used ends any command with one line.

    A malformed or unreachable store URL, a deal source that cannot be read or a setting that
    cannot be parsed is the operator's to fix: the message names the variable, and a traceback
    would only bury it.
    """

    def invoke(self, ctx: click.Context):
        from omie_pipeline.i18n import _, set_language
        from omie_pipeline.settings import SettingsError, load_language
        from omie_pipeline.sources.base import SourceError
        from omie_pipeline.store import StoreUnavailableError

        try:
            set_language(load_language())
            return super().invoke(ctx)
        except (SettingsError, SourceError, StoreUnavailableError) as problem:
            click.echo(_("Error: {problem}").format(problem=problem), err=True)
            ctx.exit(2)


@click.group(cls=_Commands)
@click.version_option(package_name="omie-pipeline")
def main() -> None:
    """Closed CRM deals to Omie clients and NFS-e, exactly once."""


def _register_subcommands() -> None:
    """Import each concern's command module; each adds its commands to `main`."""
    from omie_pipeline.cli import (
        accounts,  # noqa: F401
        connection,  # noqa: F401
        deals,  # noqa: F401
        invoices,  # noqa: F401
        report,  # noqa: F401
        run,  # noqa: F401
        services,  # noqa: F401
        simulator,  # noqa: F401
    )


_register_subcommands()
