"""Our own work on N closed deals, without Omie: pull, client index, client linking, report, files.

Generates N deals (`sample_data.generate`, about N/3 clients, a few spoiled) into a CSV in a child
process, so that the deals held in memory for the CSV do not count towards this process's peak.
Then, each phase timed in CPU seconds (`time.process_time`), with the statements and commits the
store saw (SQLAlchemy `before_cursor_execute` and `commit` events; an executemany is one statement,
and so is each `COPY` of rows into PostgreSQL, which SQLAlchemy does not see):

- pull: `pull_deals` from the CSV (validation, deal and issue writes);
- index: the client mirror as `refresh_client_index` stores it -- `save_listed_clients`, its
  `WRITE_BATCH` rows per transaction, the cycle collector paused -- seeded directly (no Omie
  listing): one client for each document of the deals (every hundredth inactive, so that linking
  also records issues) and filler clients up to M in all. Only the storing counts: making the rows
  up from the CSV stands in for Omie's listing and is reported apart (`index_setup`);
- link: `link_clients`; every document is in the mirror, so it makes no Omie call (checked);
- report: `build_report` for every day;
- files: `write_report` (HTML, CSV, XLSX, open items).

Peak memory is the process's maximum resident set (`resource.getrusage`), read at the end;
`peak_mb_after` holds it as it stood after each phase (so `link` is the peak of pull, index and
link). Prints one JSON line:

    .venv/bin/python bench/local.py --deals 10000
    {"deals": 10000, "clients": 200000, "db": "sqlite", "cpu_s": ..., "peak_mb": ..., "phases": {...},
     "statements": ..., "commits": ...}

Defaults: 10,000 deals, 200,000 clients, SQLite in a temporary folder; `--postgres` uses a fresh
database on 127.0.0.1:5432 (dropped afterwards).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa

ACCOUNT = "bench"
POSTGRES_ADMIN = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deals", type=int, default=10_000, help="closed deals to pull (default 10000)")
    parser.add_argument("--clients", type=int, default=200_000, help="clients in the mirror (default 200000)")
    parser.add_argument("--postgres", action="store_true", help="a fresh PostgreSQL database instead of SQLite")
    parser.add_argument("--write-csv", type=Path, help=argparse.SUPPRESS)  # the child process's job
    return parser.parse_args()


def write_csv(path: Path, count: int) -> None:
    from omie_pipeline.runner.demo import write_generated_deals

    write_generated_deals(path, count)


class Counts:
    """Statements and commits the store's engine saw, by phase."""

    def __init__(self, engine: sa.Engine) -> None:
        from omie_pipeline.store import upsert

        self.statements: Counter[str] = Counter()
        self.commits: Counter[str] = Counter()
        self.phase = "setup"
        sa.event.listen(engine, "before_cursor_execute", self._statement)
        sa.event.listen(engine, "commit", self._commit)
        copy_into = upsert.copy_into

        def counted_copy(*args) -> None:  # a COPY goes through the driver's cursor, past SQLAlchemy's events
            self._statement()
            copy_into(*args)

        upsert.copy_into = counted_copy

    def _statement(self, *_args) -> None:
        self.statements[self.phase] += 1

    def _commit(self, *_args) -> None:
        self.commits[self.phase] += 1


@contextmanager
def database(postgres: bool, folder: Path) -> Iterator[str]:
    if not postgres:
        yield f"sqlite:///{folder / 'bench.sqlite'}"
        return
    admin = sa.create_engine(POSTGRES_ADMIN, isolation_level="AUTOCOMMIT")
    name = f"bench_local_{uuid.uuid4().hex[:8]}"
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield sa.make_url(POSTGRES_ADMIN).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def mirror_rows(csv_path: Path, clients: int, moment) -> Iterator[list[dict]]:
    """The mirror as a listing would leave it, in batches: the deals' documents first, then filler."""
    import csv

    from omie_pipeline.domain.documents import normalise_document
    from omie_pipeline.sync.client_index import WRITE_BATCH

    holders: dict[str, str] = {}
    with csv_path.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            number = normalise_document(row["document"])
            if number and number not in holders:
                holders[number] = row["legal_name"]
    documents = list(holders.items())
    batch: list[dict] = []
    for position in range(max(clients, len(documents))):
        if position < len(documents):
            document, name = documents[position]
        else:
            document, name = f"F{position:013d}", f"Cliente {position}"
        batch.append(
            {
                "account": ACCOUNT,
                "codigo_cliente_omie": 1_000_000 + position,
                "codigo_cliente_integracao": None,
                "document": document,
                "legal_name": name,
                "trade_name": name,
                "inactive": position % 100 == 99 and position < len(documents),
                "billing_gaps": None,
                "changed_at": moment,
                "synced_at": moment,
            }
        )
        if len(batch) >= WRITE_BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def main() -> None:
    args = parse_args()
    if args.write_csv:
        write_csv(args.write_csv, args.deals)
        return

    from omie_pipeline.collector import collector_paused
    from omie_pipeline.domain.timeutil import now_utc
    from omie_pipeline.omie import OmieClient
    from omie_pipeline.reports.build import build_report
    from omie_pipeline.reports.files import write_report
    from omie_pipeline.sources.csv_source import CsvDealSource
    from omie_pipeline.store import Store
    from omie_pipeline.sync.client_index import save_listed_clients
    from omie_pipeline.sync.clients import link_clients
    from omie_pipeline.sync.deals import pull_deals

    with tempfile.TemporaryDirectory() as name, database(args.postgres, Path(name)) as url:
        folder = Path(name)
        csv_path = folder / "deals.csv"
        subprocess.run(
            [sys.executable, __file__, "--deals", str(args.deals), "--write-csv", str(csv_path)],
            check=True,
            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)},
        )
        store = Store(url)
        nowhere = OmieClient("http://127.0.0.1:9", "bench", "bench", timeout=(0.1, 0.1))  # never called
        counts = Counts(store.engine)
        phases: dict[str, float] = {}
        peaks: dict[str, float] = {}
        now = now_utc() + timedelta(minutes=1)

        @contextmanager
        def phase(label: str) -> Iterator[None]:
            counts.phase = label
            started = time.process_time()
            yield
            phases[label] = round(time.process_time() - started, 2)
            peaks[label] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
            counts.phase = "between"

        with phase("pull"):
            pulled = pull_deals(CsvDealSource(csv_path), store, ACCOUNT, full_refresh=True, now=now)
        with phase("index"), collector_paused():  # as `refresh_client_index` runs
            phases["index_setup"] = 0.0
            batches = mirror_rows(csv_path, args.clients, now)
            while True:
                made = time.process_time()
                batch = next(batches, None)
                phases["index_setup"] += time.process_time() - made
                if batch is None:
                    break
                save_listed_clients(store, batch)
        phases["index"] = round(phases["index"] - phases["index_setup"], 2)
        phases["index_setup"] = round(phases["index_setup"], 2)
        with phase("link"):
            linked = link_clients(nowhere, store, ACCOUNT, now=now)
        if sum(linked.calls.values()):
            raise SystemExit(f"linking called Omie ({linked.calls}): a document is missing from the mirror")
        with phase("report"):
            report = build_report(store, ACCOUNT, None, now, closed_statuses=("won",), stuck_after_minutes=120)
        with phase("files"):
            write_report(report, folder / "reports")
        store.dispose()

    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    measured = ("pull", "index", "link", "report", "files")
    result = {
        "deals": args.deals,
        "clients": args.clients,
        "db": "postgresql" if args.postgres else "sqlite",
        "cpu_s": round(sum(phases[label] for label in measured), 2),
        "peak_mb": round(peak_kb / 1024, 1),
        "peak_mb_after": peaks,
        "phases": phases,
        "statements": sum(counts.statements[label] for label in measured),
        "commits": sum(counts.commits[label] for label in measured),
        "by_phase": {
            label: {"statements": counts.statements[label], "commits": counts.commits[label]} for label in measured
        },
        "valid": pulled.valid,
        "invalid": pulled.invalid,
        "linked": sum(linked.linked.values()),
        "link_issues": linked.deals_with_issues,
        "report_deals": len(report.deals),
        "open_items": len(report.open_items),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
