"""`omie-pipeline demo` and `omie-pipeline sync`: the whole graph once, through Dagster."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import click

from omie_pipeline.cli import main
from omie_pipeline.domain.timeutil import to_sao_paulo
from omie_pipeline.i18n import N_, _, format_number, ngettext
from omie_pipeline.reports.labels import Outcome, reason_label
from omie_pipeline.runner.graph import PassResult
from omie_pipeline.runner.summary import PipelineSummary


def _print_summary(
    summary: PipelineSummary,
    outcome: PassResult,
    calls: dict | None,
    reports: list[str],
    rejected: dict | None = None,
    injected: dict | None = None,
) -> None:
    echo = click.echo
    echo(_("Account {account}").format(account=summary.account))
    echo(_("  deals closed: {closed} (valid {valid})").format(closed=summary.deals_closed, valid=summary.deals_valid))
    echo(_("  clients: {counts}").format(counts=_counts_or_none(summary.clients, _client_link_label)))
    echo(_("  invoices: {counts}").format(counts=_counts_or_none(summary.invoices, _invoice_status_label)))
    echo(_("  issues by reason: {counts}").format(counts=_counts_or_none(summary.issues, reason_label)))
    if calls is not None:
        echo(
            _("  Omie calls: {total} ({counts})").format(
                total=sum(calls.values()), counts=", ".join(f"{m} {n}" for m, n in sorted(calls.items()))
            )
        )
    if rejected is not None:
        echo(_("  Omie calls rejected: {total}").format(total=sum(rejected.values())) + _counts(rejected))
    if injected:
        plain = {kind: n for kind, n in injected.items() if kind != "scheduled_by_kind"}
        echo(
            _("  simulator faults injected (not rejections): {counts}").format(
                counts=", ".join(f"{k} {n}" for k, n in sorted(plain.items()))
            )
            + _counts(injected.get("scheduled_by_kind", {}))
        )
    for stage in outcome.stages:
        mark = _("ok") if stage.success else _("FAILED: {error}").format(error=stage.error)
        echo(
            _("  run {job} ({run}) {seconds} s {mark}").format(
                job=stage.job, run=stage.run_id[:8], seconds=format_number(round(Decimal(stage.seconds), 1)), mark=mark
            )
        )
    for name, result in outcome.sensor_results.items():
        echo(_("  sensor {name}: {result}").format(name=name, result=result))
    if summary.held_until:
        until = max(summary.held_until.values())
        echo(
            ngettext(
                "  {count} invoice held by an interrupted run until {until} (São Paulo): no OS was recorded for "
                "it, and the first sync after that sends it",
                "  {count} invoices held by an interrupted run until {until} (São Paulo): no OS was recorded for "
                "them, and the first sync after that sends them",
                len(summary.held_until),
            ).format(count=len(summary.held_until), until=f"{to_sao_paulo(until):%H:%M}")
        )
    if summary.waiting_deals:
        waiting = summary.waiting
        until = (
            _("; paused until {until} (São Paulo)").format(until=f"{to_sao_paulo(waiting.until):%H:%M}")
            if waiting.until
            else ""
        )
        echo(
            ngettext(
                "  {count} deal waiting, nothing sent for it: {why}{until}; the first sync after that sends it",
                "  {count} deals waiting, nothing sent for them: {why}{until}; the first sync after that sends them",
                summary.waiting_deals,
            ).format(count=summary.waiting_deals, why=waiting.describe(), until=until)
        )
    if not outcome.settled and summary.waiting_on_prefeitura:
        echo(_("  some invoices are still waiting on the prefeitura; the status refresh schedule follows them"))
    for path in reports:
        echo(_("  report: {path}").format(path=path))


# How a deal's client was linked (`client_links.how`), as the summary names it.
CLIENT_LINK_LABELS = {
    "matched": N_("found in Omie"),
    "created": N_("registered in Omie"),
    "adopted": N_("already in Omie, adopted"),
}


def _client_link_label(how: str) -> str:
    return _(CLIENT_LINK_LABELS[how]) if how in CLIENT_LINK_LABELS else how


def _invoice_status_label(status: str) -> str:
    """The status as the report names it (`--json` keeps the code)."""
    try:
        return Outcome(status).short_label
    except ValueError:
        return status


def _counts_or_none(counts: dict, label: Callable[[str], str]) -> str:
    """`a 1, b 2` with each code named by `label`, in the codes' order, or the word for none."""
    return ", ".join(f"{label(name)} {n}" for name, n in sorted(counts.items())) or _("none")


def _counts(counts: dict) -> str:
    """The non-zero counts as " (a 1, b 2)", or nothing."""
    shown = ", ".join(f"{name} {n}" for name, n in sorted(counts.items()) if n)
    return f" ({shown})" if shown else ""


@main.command()
@click.option(
    "--deals", "deal_count", type=click.IntRange(min=1), help="Generate this many deals instead of the sample."
)
@click.option(
    "--deals-csv",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A CSV of deals in the canonical columns.",
)
@click.option(
    "--home",
    type=click.Path(file_okay=False, path_type=Path),
    help="DAGSTER_HOME for the demo (default: a new temporary folder).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object.")
@click.option(
    "--ui", is_flag=True, help="Then serve the Dagster UI on this demo (simulator kept running) until Ctrl+C."
)
@click.option("--port", type=int, default=3000, show_default=True, help="Port of the Dagster UI with --ui.")
@click.option(
    "--faults",
    is_flag=True,
    help="Have the simulator play Omie's throttling answers and a record refusal across the run.",
)
@click.option(
    "--accounts",
    "account_count",
    type=click.IntRange(min=1, max=9),
    default=1,
    show_default=True,
    help="Serve this many Omie companies side by side (an accounts file, one simulator serving them all).",
)
def demo(
    deal_count: int | None,
    deals_csv: Path | None,
    home: Path | None,
    as_json: bool,
    ui: bool,
    port: int,
    faults: bool,
    account_count: int,
) -> None:
    """Run the whole pipeline once on SQLite against the bundled Omie simulator."""
    from omie_pipeline.runner.demo import DemoResult, MultiDemoResult, run_demo, serve_dagster_ui

    if deal_count and deals_csv:
        raise click.UsageError(_("give --deals or --deals-csv, not both"))

    def show(result: DemoResult | MultiDemoResult) -> None:
        if as_json:
            click.echo(json.dumps(result.as_dict(), indent=2, ensure_ascii=False, default=str))
            return
        for each in result.results if isinstance(result, MultiDemoResult) else [result]:
            _print_summary(
                each.summary,
                each.pipeline,
                each.omie_calls,
                each.report_files,
                each.rejected_calls,
                each.injected_faults,
            )
        click.echo(_("Dagster home: {home}").format(home=result.home))

    def show_and_serve(result: DemoResult | MultiDemoResult) -> None:
        show(result)
        click.echo(
            _(
                "Dagster UI on http://127.0.0.1:{port} (its schedules and sensors run against the demo's "
                "simulator); Ctrl+C stops it."
            ).format(port=port),
            err=True,
        )
        serve_dagster_ui(result.home, port)

    result = run_demo(
        deals=deal_count,
        deals_csv=deals_csv,
        home=home,
        faults=faults,
        accounts=account_count,
        then=show_and_serve if ui else None,
    )
    if not ui:
        show(result)
    sys.exit(0 if result.success else 1)


@main.command()
@click.option(
    "--settle-timeout",
    type=float,
    default=300.0,
    show_default=True,
    help="Seconds to keep refreshing statuses while invoices wait on the prefeitura.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object.")
def sync(settle_timeout: float, as_json: bool) -> None:
    """Run the whole graph once against the configured Omie account and deal source."""
    from omie_pipeline.runner.sync import run_sync

    outcome, summary = run_sync(settle_timeout_seconds=settle_timeout)  # configuration errors: exit 2
    if as_json:
        data = summary.as_dict()
        data["success"] = outcome.success
        click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))
    else:
        _print_summary(summary, outcome, None, [])
    sys.exit(sync_exit_code(outcome, summary))


EXIT_DEALS_WAITING = 3
"""`sync` ran, but Omie's calls were paused (misuse guard, blocked key, a wait past the run's deadline)
and deals were left unsent: a scheduler that reads only the exit status must not see a success."""


def sync_exit_code(outcome: PassResult, summary: PipelineSummary) -> int:
    """0 every deal accounted for; 1 a run failed; 3 deals wait on a paused Omie call."""
    if not outcome.success:
        return 1
    return EXIT_DEALS_WAITING if summary.waiting_deals else 0
