"""A sync with a recognisable app secret, webhook URLs with secret paths and the bad-input corpus
(CPFs among its clients), then a scan of everything it produced: its output, the Dagster home
(storage included), the store dumped to text, the report files (the XLSX unzipped) and the alert
payloads a local receiver got. The secret and the webhook paths appear nowhere; unmasked CPFs only
in the store tables that must keep them (docs/runbook.md, "Personal data")."""

from __future__ import annotations

import json
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import sqlalchemy as sa

from omie_pipeline.store.tables import metadata

from .corpus import CPFS, build_corpus, write_corpus
from .processes import start_sync, sync_env

ACCOUNT = "acme"
SECRET = "s3cr3t-VALUE-xyz"
SLACK_PATH = "/services/T0SECRET/B0SECRET/sl4ckT0kenPath"
HOOK_PATH = "/hooks/wh-t0ken-9f8e7d"
# Tables whose rows must hold the CPF itself (see docs/runbook.md).
CPF_TABLES = {"deals", "omie_clients", "client_links"}


class Receiver(BaseHTTPRequestHandler):
    received: list[tuple[str, bytes]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        Receiver.received.append((self.path, body))
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args) -> None:
        pass


def cpf_forms() -> list[str]:
    """Each corpus CPF as typed (formatted) and as stored (digits)."""
    forms = []
    for number in CPFS:
        forms += [number, "".join(ch for ch in number if ch.isdigit())]
    return forms


def dump_store(db_url: str) -> dict[str, str]:
    """Every table of the store as text, one row a line."""
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as connection:
            return {
                table.name: "\n".join(repr(tuple(row)) for row in connection.execute(sa.select(table)))
                for table in metadata.sorted_tables
            }
    finally:
        engine.dispose()


def files_text(folder: Path) -> dict[str, str]:
    """Every file under `folder` as text (bytes decoded leniently; XLSX unzipped)."""
    found = {}
    for path in folder.rglob("*"):
        if not path.is_file():
            continue
        if path.suffix == ".xlsx":
            with zipfile.ZipFile(path) as archive:
                for name in archive.namelist():
                    found[f"{path}!{name}"] = archive.read(name).decode("utf-8", errors="replace")
        found[str(path)] = path.read_bytes().decode("utf-8", errors="replace")
    return found


def test_nothing_produced_carries_the_secret_or_an_unmasked_cpf(make_sim, tmp_path: Path) -> None:
    sim = make_sim(
        app_secret=SECRET,
        rejection_rate=0.4,
        seed=3,
        nfse_delay=(0.2, 0.8),
        redundant_seconds=1.0,
        window_seconds=60.0,
        per_method_limit=240,
        per_ip_limit=960,
    )
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    Receiver.received = []
    base = f"http://127.0.0.1:{server.server_port}"
    db_url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    (tmp_path / "input").mkdir()
    deals_csv = write_corpus(tmp_path / "input" / "deals.csv", build_corpus(ACCOUNT))
    env = sync_env(
        sim,
        tmp_path / "home",
        db_url,
        deals_csv,
        tmp_path / "reports",
        OMIE_PIPELINE_SLACK_WEBHOOK_URL=base + SLACK_PATH,
        OMIE_PIPELINE_ALERT_WEBHOOK_URL=base + HOOK_PATH,
    )
    log = tmp_path / "sync.log"
    try:
        process = start_sync(env, log)
        code = process.wait(timeout=240)
    finally:
        server.shutdown()
        server.server_close()
    output = log.read_text(encoding="utf-8", errors="replace")
    assert code == 0, output[-3000:]
    assert Receiver.received, "no alert reached the receiver: the scan would prove nothing about alerts"
    assert {path for path, _ in Receiver.received} == {SLACK_PATH, HOOK_PATH}

    produced = {"sync output": output}
    produced.update(files_text(tmp_path / "home"))
    produced.update(files_text(tmp_path / "reports"))
    produced.update({f"alert to {path}": body.decode("utf-8") for path, body in Receiver.received})
    assert any("storage" in name for name in produced), "the Dagster storage was not scanned"
    store = dump_store(db_url)
    secrets = [SECRET, SLACK_PATH, HOOK_PATH, "sl4ckT0kenPath", "wh-t0ken-9f8e7d"]
    leaks = [
        f"{name}: {secret}"
        for name, text in {**produced, **{f"table {k}": v for k, v in store.items()}}.items()
        for secret in secrets
        if secret in text
    ]
    assert not leaks, leaks
    cpf_leaks = [f"{name}: {cpf}" for name, text in produced.items() for cpf in cpf_forms() if cpf in text]
    cpf_leaks += [
        f"table {name}: {cpf}"
        for name, text in store.items()
        if name not in CPF_TABLES
        for cpf in cpf_forms()
        if cpf in text
    ]
    assert not cpf_leaks, cpf_leaks
    for name in CPF_TABLES:  # the scan looks for the forms the store really holds
        assert any(cpf in store[name] for cpf in cpf_forms()), name
    payloads = [json.loads(body) for path, body in Receiver.received if path == HOOK_PATH]
    assert payloads
