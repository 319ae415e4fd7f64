"""Fixtures for alert tests: local HTTP receivers, invoices placed in the store, a fixed moment.

A receiver is a real HTTP server on 127.0.0.1 (a thread) that records what it is sent and can
answer 500 or hang longer than the client's timeout, as a broken Slack or webhook would.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import sqlalchemy as sa

from omie_pipeline.alerts.messages import InvoiceFacts, RunFailureFacts
from omie_pipeline.store import Store
from omie_pipeline.store.alerts import AlertRecord
from omie_pipeline.store.tables import alerts_sent, deals, invoices

NOW = datetime(2026, 11, 20, 18, 0, tzinfo=UTC)  # 15:00 in São Paulo
CPF = "529.982.247-25"
CPF_DIGITS = "52998224725"
MASKED_CPF = "***.982.247-**"
CNPJ = "11.222.333/0001-81"


def invoice_facts(**changes) -> InvoiceFacts:
    """A processing invoice of deal D-1 (acme) for a person with a CPF, with `changes` applied."""
    values = dict(
        account="acme",
        deal_id="D-1",
        status="processing",
        since=NOW - timedelta(minutes=65),
        status_changed_at=NOW - timedelta(minutes=50),
        submitted_at=NOW - timedelta(minutes=65),
        omie_os_id=4711,
        os_number="000123",
        rps_status="002",
        gross_amount=Decimal("1234.50"),
        client_name="Maria Souza",
        client_document=CPF,
        last_checked_at=NOW - timedelta(minutes=3),
    )
    values.update(changes)
    return InvoiceFacts(**values)


def run_facts(**changes) -> RunFailureFacts:
    """A retried emission run of acme that failed on its credentials, with `changes` applied."""
    values = dict(
        run_id="r-2",
        root_run_id="r-1",
        job_name="emission_job",
        account="acme",
        partition_key="acme",
        step_key="nfse_invoices",
        error_class="AuthenticationError",
        error_message="A chave de acesso não está preenchida ou não é válida.",
        failed_at=NOW,
        started_at=NOW - timedelta(minutes=2),
        retry_number=1,
        run_url="http://dagster.example:3000/runs/r-2",
    )
    values.update(changes)
    return RunFailureFacts(**values)


def alert_records(connection: sa.Connection, account: str | None = None) -> list[AlertRecord]:
    """Every alert record (of one account), oldest first: what the tests check was recorded."""
    query = sa.select(alerts_sent).order_by(alerts_sent.c.created_at, alerts_sent.c.id)
    if account is not None:
        query = query.where(alerts_sent.c.account == account)
    return [AlertRecord.from_row(row) for row in connection.execute(query)]


@pytest.fixture(autouse=True)
def alert_environment(monkeypatch) -> None:
    """The deployment's own account is `acme`; no webhook comes from the developer's environment."""
    monkeypatch.setenv("OMIE_PIPELINE_ACCOUNT", "acme")
    for name in ("OMIE_PIPELINE_SLACK_WEBHOOK_URL", "OMIE_PIPELINE_ALERT_WEBHOOK_URL", "OMIE_APP_SECRET"):
        monkeypatch.delenv(name, raising=False)


@dataclass
class Receiver:
    """What a local webhook receiver was sent; `mode` is ok, fail (HTTP 500) or hang."""

    url: str = ""
    token: str = ""
    mode: str = "ok"
    fail_next: int = 0  # answer 500 to this many requests, then behave as `mode`
    hang_seconds: float = 2.0
    requests: list[dict[str, Any]] = field(default_factory=list)  # every request received
    delivered: list[dict[str, Any]] = field(default_factory=list)  # bodies answered with 2xx
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, body: dict[str, Any]) -> str:
        with self.lock:
            self.requests.append(body)
            if self.fail_next > 0:
                self.fail_next -= 1
                return "fail"
            return self.mode

    def delivered_keys(self) -> list[str]:
        return [body.get("key") or body["blocks"][-1]["elements"][0]["text"].split("`")[1] for body in self.delivered]


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length) or b"{}")
            behaviour = receiver.record(body) if self.path.endswith(receiver.token) else "fail"
            if behaviour == "hang":
                time.sleep(receiver.hang_seconds)
            try:
                if behaviour == "fail":
                    self.send_response(500)
                    self.end_headers()
                    self.wfile.write(b"internal error")
                    return
                with receiver.lock:
                    receiver.delivered.append(body)
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up waiting (a hang test)

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def make_receiver() -> Iterator:
    servers: list[ThreadingHTTPServer] = []

    def make(path: str = "hooks") -> Receiver:
        receiver = Receiver(token=f"secret{uuid.uuid4().hex}")
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(receiver))
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        servers.append(server)
        receiver.url = f"http://127.0.0.1:{server.server_address[1]}/{path}/T000/B000/{receiver.token}"
        return receiver

    yield make
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def slack(make_receiver) -> Receiver:
    return make_receiver("services")


@pytest.fixture
def webhook(make_receiver) -> Receiver:
    return make_receiver("hooks")


def place_invoice(
    store: Store,
    deal_id: str,
    status: str,
    *,
    account: str = "acme",
    changed_at: datetime,
    submitted_at: datetime | None = None,
    last_error: str | None = None,
    fix: str | None = None,
    document: str | None = CPF,
    os_id: int | None = 4711,
    client_name: str = "Maria Souza",
) -> None:
    """An invoice (and its deal) as the pipeline would have left it."""
    with store.begin() as connection:
        connection.execute(
            deals.insert().values(
                account=account,
                deal_id=deal_id,
                status="won",
                amount=Decimal("1500.00"),
                legal_name=client_name,
                document=document,
                is_valid=True,
                pulled_at=changed_at - timedelta(hours=1),
            )
        )
        connection.execute(
            invoices.insert().values(
                account=account,
                deal_id=deal_id,
                idempotency_key=f"{account}-{deal_id}",
                status=status,
                gross_amount=Decimal("1500.00"),
                net_amount=Decimal("1425.00"),
                omie_os_id=os_id,
                os_number=str(os_id) if os_id else None,
                rps_status="002" if status == "processing" else None,
                last_error=last_error,
                fix=fix,
                created_at=changed_at - timedelta(minutes=1),
                submitted_at=submitted_at,
                status_changed_at=changed_at,
            )
        )


def set_status(
    store: Store,
    deal_id: str,
    status: str,
    changed_at: datetime,
    *,
    account: str = "acme",
    last_error: str | None = None,
) -> None:
    with store.begin() as connection:
        connection.execute(
            invoices.update()
            .where(invoices.c.account == account, invoices.c.deal_id == deal_id)
            .values(status=status, status_changed_at=changed_at, last_error=last_error)
        )
