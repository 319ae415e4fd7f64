"""`FakeOmie`: an in-memory Omie behind `OmieClient`'s public methods, for fast unit tests.

It answers with the client's own pydantic models (every answer is a raw Omie-shaped dict read
through `omie_pipeline.omie.models`, so a shape the models refuse fails here as it would over
HTTP), pages its listings with the client's `walk_pages`, and raises the client's errors. It has
no clock of its own beyond "now", no pacing and no network: what Omie decides on its own time is
decided by the test, e.g. a note is issued when the test calls `issue_note`.

The HTTP simulator (`omie_pipeline.simulator`) stays the examiner of the wire protocol; this fake
imports nothing from it. Scripted failures (`fail_next`) stand in for Omie's faults and refusals,
and `lose_answer` for a write applied by Omie whose answer never came back.
"""

from __future__ import annotations

import threading
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from pydantic import BaseModel, ValidationError

from omie_pipeline.domain.documents import normalise_document
from omie_pipeline.domain.timeutil import SAO_PAULO
from omie_pipeline.omie import errors, paging
from omie_pipeline.omie.models import (
    ClientInput,
    ClientRecord,
    ClientStatus,
    CompanyRecord,
    InvalidRecord,
    NfseDocument,
    NfseRecord,
    OsActionStatus,
    OsRecord,
    OsStatus,
    OsStatusDetail,
    ServiceRecord,
    omie_date,
)
from omie_pipeline.omie.paging import PREFIXED_PAGES, SNAKE_PAGES, PageTags, walk_pages

CENT = Decimal("0.01")
# OS item tax tags Omie fills in from the rate it is sent: (rate tag, value tag).
ITEM_TAXES = (
    ("nAliqISS", "nValorISS"),
    ("nAliqIRRF", "nValorIRRF"),
    ("nAliqPIS", "nValorPIS"),
    ("nAliqCOFINS", "nValorCOFINS"),
    ("nAliqCSLL", "nValorCSLL"),
    ("nAliqINSS", "nValorINSS"),
)
NOTE_VALUES = (
    ("nValorISS", "nValorISS"),
    ("nValorPIS", "nValorPIS"),
    ("nValorCOFINS", "nValorCOFINS"),
    ("nValorIRRF", "nValorIR"),
    ("nValorCSLL", "nValorCSLL"),
    ("nValorINSS", "nValorINSS"),
)


def _now() -> datetime:
    return datetime.now(SAO_PAULO)


def _hour(moment: datetime) -> str:
    return moment.strftime("%H:%M:%S")


def _money(value: Any) -> Decimal:
    return Decimal(str(value or 0)).quantize(CENT, ROUND_HALF_UP)


@dataclass
class FakeOrder:
    """One OS as the fake holds it: the order sent, Omie's ids and its billing life."""

    n_cod_os: int
    number: str
    sent: dict[str, Any]
    created: datetime
    changed: datetime
    invoiced: datetime | None = None
    cancelled: datetime | None = None
    rps_status: str = ""  # "" none yet, 002 sent, 003 rejected, 004 issued, 005 cancelled
    messages: list[dict[str, str]] = field(default_factory=list)
    note_id: int | None = None

    @property
    def key(self) -> str:
        return str(self.sent.get("Cabecalho", {}).get("cCodIntOS") or "")


class FakeOmie:
    """An Omie company in memory: clients, one company, a service catalog, orders and their notes.

    `page_sizes` works as `OmieClient`'s. Every call is counted (`calls`, `metrics()`); `requests`
    keeps each call's method and parameters for tests that assert what was asked.
    """

    base_url = "fake://omie/"

    def __init__(
        self, *, company: Mapping[str, Any] | None = None, page_sizes: Mapping[str, int] | None = None
    ) -> None:
        self.page_sizes = paging.page_sizes(page_sizes)
        self.company: dict[str, Any] = {
            "codigo_empresa": 1,
            "cnpj": "11222333000181",
            "razao_social": "Fake Serviços Ltda",
            "nome_fantasia": "Fake",
            "cidade": "SAO PAULO (SP)",
            "estado": "SP",
            "inscricao_municipal": "12345",
            "gera_nfse": "S",
            **dict(company or {}),
        }
        self.clients: dict[int, dict[str, Any]] = {}
        self.services: dict[int, dict[str, Any]] = {}
        self.orders: dict[int, FakeOrder] = {}
        self.notes: dict[int, dict[str, Any]] = {}
        self.calls: Counter[str] = Counter()
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self._failures: dict[str, deque[tuple[errors.OmieError, bool]]] = defaultdict(deque)
        self._ids = iter(range(1000, 10**9))
        self._lock = threading.RLock()

    # --- what the test arranges --------------------------------------------------------------

    def add_client(self, document: str, **fields: Any) -> int:
        """A client already in Omie, billable unless `fields` say otherwise; returns its id."""
        with self._lock:
            client_id = next(self._ids)
            digits = normalise_document(document)
            now = _now()
            self.clients[client_id] = {
                "codigo_cliente_omie": client_id,
                "codigo_cliente_integracao": "",
                "cnpj_cpf": digits,
                "razao_social": f"Client {client_id}",
                "nome_fantasia": f"Client {client_id}",
                "pessoa_fisica": "S" if len(digits) == 11 else "N",
                "endereco": "Rua A",
                "endereco_numero": "1",
                "bairro": "Centro",
                "cidade": "SAO PAULO (SP)",
                "estado": "SP",
                "cep": "01001000",
                "email": f"client{client_id}@example.com",
                "inativo": "N",
                "info": {
                    "dInc": omie_date(now.date()),
                    "hInc": _hour(now),
                    "dAlt": omie_date(now.date()),
                    "hAlt": _hour(now),
                },
                **fields,
            }
            return client_id

    def add_service(
        self, code: str, description: str = "Consultoria", *, service_code: str = "1.07", **taxes: Any
    ) -> int:
        """A catalog service with its integration code and tax tags (`nAliqISS=2`, `cRetIR="S"`...)."""
        with self._lock:
            service_id = next(self._ids)
            now = _now()
            self.services[service_id] = {
                "intListar": {"nCodServ": service_id, "cCodIntServ": code},
                "cabecalho": {
                    "cDescricao": description,
                    "cCodigo": code,
                    "cCodServMun": service_code,
                    "cCodLC116": service_code,
                    "nPrecoUnit": "0",
                },
                "descricao": {"cDescrCompleta": description},
                "impostos": {"nAliqISS": "2", "cRetISS": "N", **{tag: str(value) for tag, value in taxes.items()}},
                "info": {
                    "dInc": omie_date(now.date()),
                    "hInc": _hour(now),
                    "dAlt": omie_date(now.date()),
                    "hAlt": _hour(now),
                    "inativo": "N",
                },
            }
            return service_id

    def fail_next(self, method: str, error: errors.OmieError, *, times: int = 1, applied: bool = False) -> None:
        """The next `times` calls of `method` raise `error`; with `applied`, after doing what they ask."""
        with self._lock:
            self._failures[method].extend([(error, applied)] * times)

    def lose_answer(self, method: str, key: str | None = None) -> None:
        """The next write of `method` is applied by Omie, and its answer lost (OutcomeUnknownError)."""
        self.fail_next(
            method,
            errors.OutcomeUnknownError(f"{method}: no answer", method=method, integration_code=key),
            applied=True,
        )

    def issue_note(self, n_cod_os: int, *, at: datetime | None = None) -> dict[str, Any]:
        """The prefeitura authorises the invoiced OS's RPS: its NFS-e exists and is listed as F."""
        with self._lock:
            order = self.orders[n_cod_os]
            if order.invoiced is None:
                raise AssertionError(f"OS {n_cod_os} was never invoiced")
            moment = at or _now()
            order.rps_status, order.changed, order.note_id = "004", moment, next(self._ids)
            order.messages.append(self._message("SUCESSO", "100", "RPS autorizado", moment))
            items = order.sent.get("ServicosPrestados") or []
            values = {
                tag: str(sum((_money(item.get("impostos", {}).get(source)) for item in items), Decimal(0)))
                for source, tag in NOTE_VALUES
            }
            gross = self._gross(order)
            self.notes[order.note_id] = {
                "Cabecalho": {
                    "nNumeroNFSe": str(order.note_id),
                    "cStatusNFSe": "F",
                    "nCodNF": order.note_id,
                    "cCodigoVerifNFSe": f"V{order.note_id}",
                    "nValorNFSe": str(gross),
                    "nCodigoCliente": order.sent.get("Cabecalho", {}).get("nCodCli"),
                },
                "OrdemServico": {"nCodigoOS": n_cod_os, "nNumeroOS": order.number, "nValorOS": str(gross)},
                "RPS": {"nNumeroRPS": str(n_cod_os), "cStatusRPS": "004"},
                "Valores": {"nValorTotalServicos": str(gross), **values},
                "Emissao": {"cDataEmissao": omie_date(moment.date()), "cHoraEmissao": _hour(moment)},
            }
            return self.notes[order.note_id]

    def reject_note(self, n_cod_os: int, message: str, correction: str = "", *, code: str = "E160") -> None:
        """The prefeitura rejects the invoiced OS's RPS (status 003); a rejected RPS is never listed."""
        with self._lock:
            order = self.orders[n_cod_os]
            moment = _now()
            order.rps_status, order.changed = "003", moment
            order.messages.append(self._message("ERRO", code, message, moment, correction))

    def order_by_key(self, key: str) -> FakeOrder | None:
        with self._lock:
            return next((order for order in self.orders.values() if order.key == key), None)

    # --- the client's interface: connection ----------------------------------------------------

    def __enter__(self) -> FakeOmie:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Nothing to release; here so that callers may close the fake like a client."""

    def metrics(self) -> dict[str, dict[str, Any]]:
        """Calls per method, in `CallMetrics.snapshot`'s shape (the fake never retries or waits)."""
        with self._lock:
            return {
                method: {
                    "calls": count,
                    "retries": 0,
                    "cache_hits": 0,
                    "faults": {},
                    "pacing_wait_seconds": 0.0,
                    "retry_wait_seconds": 0.0,
                }
                for method, count in sorted(self.calls.items())
            }

    def page_size(self, method: str, asked: int | None = None) -> int:
        size = self.page_sizes[method]
        return size if asked is None else min(size, asked)

    def call(self, path: str, method: str, param: Mapping[str, Any], *, fresh: bool = False) -> dict[str, Any]:
        """The raw answer of the listings callers page themselves (`ListarClientes`)."""
        if method != "ListarClientes":
            raise NotImplementedError(f"FakeOmie.call answers ListarClientes only, not {method}")
        self._enter(method, param)
        with self._lock:
            records = [
                dict(record)
                for _, record in sorted(self.clients.items())
                if _changed_since(record.get("info", {}), param, "filtrar_por_data_de")
            ]
            wanted = normalise_document(str((param.get("clientesFiltro") or {}).get("cnpj_cpf") or ""))
            if wanted:
                records = [record for record in records if record["cnpj_cpf"] == wanted]
        return _page(records, param, SNAKE_PAGES, "clientes_cadastro")

    # --- clients -----------------------------------------------------------------------------

    def list_clients(
        self, changed_since: date | datetime | None = None, page_size: int | None = None
    ) -> Iterator[ClientRecord]:
        param = {"filtrar_por_data_de": omie_date(_day(changed_since))} if changed_since else {}
        for record in walk_pages(
            lambda page: self.call("geral/clientes/", "ListarClientes", page),
            param,
            SNAKE_PAGES,
            "clientes_cadastro",
            self.page_size("ListarClientes", page_size),
        ):
            yield ClientRecord.model_validate(record)

    def find_client_by_document(self, document: str) -> ClientRecord | None:
        wanted = normalise_document(document)
        if not wanted:
            raise ValueError("document is empty")
        answer = self.call("geral/clientes/", "ListarClientes", {"clientesFiltro": {"cnpj_cpf": wanted}})
        found = answer["clientes_cadastro"]
        return ClientRecord.model_validate(found[0]) if found else None

    def get_client(
        self, *, codigo_cliente_omie: int | None = None, codigo_cliente_integracao: str | None = None
    ) -> ClientRecord:
        key = _one_key(codigo_cliente_omie=codigo_cliente_omie, codigo_cliente_integracao=codigo_cliente_integracao)
        self._enter("ConsultarCliente", key)
        with self._lock:
            record = self._client_by(**key)
            if record is None:
                raise errors.NotFoundError(
                    f"Cliente não cadastrado para o código {next(iter(key.values()))}", method="ConsultarCliente"
                )
            return ClientRecord.model_validate(record)

    def include_client(self, client: ClientInput | Mapping[str, Any]) -> ClientStatus:
        param = client.to_param() if isinstance(client, ClientInput) else dict(client)
        self._enter("IncluirCliente", param, lambda: self._include_client(param))
        return self._include_client(param)

    def alter_client(self, client: ClientInput | Mapping[str, Any]) -> ClientStatus:
        param = client.to_param() if isinstance(client, ClientInput) else dict(client)
        self._enter("AlterarCliente", param)
        with self._lock:
            record = self._client_by(
                codigo_cliente_omie=param.get("codigo_cliente_omie"),
                codigo_cliente_integracao=param.get("codigo_cliente_integracao"),
            )
            if record is None:
                raise errors.NotFoundError("Cliente não cadastrado", method="AlterarCliente")
            record.update({tag: value for tag, value in param.items() if value is not None})
            return _client_status(record, "Cliente alterado com sucesso!")

    def upsert_client_by_document(self, client: ClientInput | Mapping[str, Any]) -> ClientStatus:
        param = client.to_param() if isinstance(client, ClientInput) else dict(client)
        if not str(param.get("cnpj_cpf") or "").strip():
            raise ValueError("upsert_client_by_document needs cnpj_cpf")
        self._enter("UpsertClienteCpfCnpj", param)
        with self._lock:
            existing = self._client_by_document(str(param["cnpj_cpf"]))
            if existing is None:
                return self._include_client(param)
            existing.update({tag: value for tag, value in param.items() if value is not None})
            return _client_status(existing, "Cliente alterado com sucesso!")

    # --- companies and catalog -------------------------------------------------------------------

    def list_companies(self, page_size: int | None = None) -> Iterator[CompanyRecord]:
        self._enter("ListarEmpresas", {})
        yield CompanyRecord.model_validate(self.company)

    def get_company(self, codigo_empresa: int) -> CompanyRecord:
        self._enter("ConsultarEmpresa", {"codigo_empresa": codigo_empresa})
        if codigo_empresa != self.company["codigo_empresa"]:
            raise errors.NotFoundError(f"Empresa {codigo_empresa} não cadastrada", method="ConsultarEmpresa")
        return CompanyRecord.model_validate(self.company)

    def list_services(
        self, changed_since: date | datetime | None = None, page_size: int | None = None
    ) -> Iterator[ServiceRecord]:
        param = {"dAlteracaoInicial": omie_date(_day(changed_since))} if changed_since else {}

        def fetch(page: dict[str, Any]) -> dict[str, Any]:
            self._enter("ListarCadastroServico", page)
            with self._lock:
                records = [
                    record
                    for _, record in sorted(self.services.items())
                    if _changed_since(record["info"], page, "dAlteracaoInicial")
                ]
            return _page(records, page, PREFIXED_PAGES, "cadastros")

        for record in walk_pages(
            fetch, param, PREFIXED_PAGES, "cadastros", self.page_size("ListarCadastroServico", page_size)
        ):
            yield ServiceRecord.model_validate(record)

    def get_service(self, *, nCodServ: int | None = None, cCodIntServ: str | None = None) -> ServiceRecord:
        key = _one_key(nCodServ=nCodServ, cCodIntServ=cCodIntServ)
        self._enter("ConsultarCadastroServico", key)
        with self._lock:
            for record in self.services.values():
                if record["intListar"].get("nCodServ") == nCodServ or (
                    cCodIntServ and record["intListar"].get("cCodIntServ") == cCodIntServ
                ):
                    return ServiceRecord.model_validate(record)
        raise errors.NotFoundError("Serviço não cadastrado", method="ConsultarCadastroServico")

    # --- service orders ----------------------------------------------------------------------

    def include_os(self, order: BaseModel | Mapping[str, Any]) -> OsStatus:
        param = order.model_dump(exclude_none=True, by_alias=True) if isinstance(order, BaseModel) else dict(order)
        self._enter("IncluirOS", param, lambda: self._include_os(param))
        return self._include_os(param)

    def alter_os(self, order: BaseModel | Mapping[str, Any]) -> OsStatus:
        param = order.model_dump(exclude_none=True, by_alias=True) if isinstance(order, BaseModel) else dict(order)
        self._enter("AlterarOS", param, lambda: self._alter_os(param))
        return self._alter_os(param)

    def get_os(self, *, cCodIntOS: str | None = None, nCodOS: int | None = None, cNumOS: str | None = None) -> OsRecord:
        key = _one_key(cCodIntOS=cCodIntOS, nCodOS=nCodOS, cNumOS=cNumOS)
        self._enter("ConsultarOS", key)
        return OsRecord.model_validate(self._os_record(self._order(key, "ConsultarOS")))

    def os_status(
        self,
        *,
        nCodOS: int | None = None,
        cCodIntOS: str | None = None,
        with_messages: bool = True,
        documents: bool = False,
        fresh: bool = False,
    ) -> OsStatusDetail:
        key = _one_key(nCodOS=nCodOS, cCodIntOS=cCodIntOS)
        self._enter("StatusOS", {**key, "lMsg": with_messages, "lPdfDest": documents})
        with self._lock:
            order = self._order(key, "StatusOS")
            return OsStatusDetail.model_validate(self._status_detail(order, with_messages, documents))

    def list_os(
        self,
        changed_since: date | datetime | None = None,
        *,
        status: str | None = None,
        invoiced_from: date | None = None,
        invoiced_to: date | None = None,
        integration_codes: Sequence[str] = (),
        os_ids: Sequence[int] = (),
        page_size: int | None = None,
        on_invalid: Callable[[InvalidRecord], None] | None = None,
    ) -> Iterator[OsRecord]:
        if status is not None and status not in ("F", "N", "C"):
            raise ValueError(f"status must be F, N or C; got {status!r}")
        since = _day(changed_since) if changed_since is not None else None
        codes, ids = set(integration_codes), {int(n) for n in os_ids}

        def wanted(order: FakeOrder) -> bool:
            billed = "C" if order.cancelled else "F" if order.invoiced else "N"
            day = order.invoiced.date() if order.invoiced is not None else None
            return (
                (since is None or order.changed.astimezone(SAO_PAULO).date() >= since)
                and (not (codes or ids) or order.key in codes or order.n_cod_os in ids)
                and (status is None or status == billed)
                and (invoiced_from is None or (day is not None and day >= invoiced_from))
                and (invoiced_to is None or (day is not None and day <= invoiced_to))
            )

        def fetch(page: dict[str, Any]) -> dict[str, Any]:
            self._enter("ListarOS", page)
            with self._lock:
                records = [self._os_record(order) for _, order in sorted(self.orders.items()) if wanted(order)]
            return _page(records, page, SNAKE_PAGES, "osCadastro")

        for record in walk_pages(fetch, {}, SNAKE_PAGES, "osCadastro", self.page_size("ListarOS", page_size)):
            read = _read(OsRecord, record, on_invalid, "ListarOS", str(record["Cabecalho"].get("nCodOS")))
            if read is not None:
                yield read

    # --- invoicing ---------------------------------------------------------------------------

    def validate_os(self, *, nCodOS: int | None = None, cCodIntOS: str | None = None) -> OsActionStatus:
        key = _one_key(nCodOS=nCodOS, cCodIntOS=cCodIntOS)
        self._enter("ValidarOS", key)
        order = self._order(key, "ValidarOS")
        return _action(order, "OS validada com sucesso!")

    def invoice_os(self, *, nCodOS: int | None = None, cCodIntOS: str | None = None) -> OsActionStatus:
        key = _one_key(nCodOS=nCodOS, cCodIntOS=cCodIntOS)
        self._enter("FaturarOS", key, lambda: self._invoice(key))
        return self._invoice(key)

    def cancel_os(
        self, *, nCodOS: int | None = None, cCodIntOS: str | None = None, cancel_nfse: bool = True
    ) -> OsActionStatus:
        key = _one_key(nCodOS=nCodOS, cCodIntOS=cCodIntOS)
        self._enter("CancelarOS", {**key, "cCancelarNfse": "S" if cancel_nfse else "N"})
        with self._lock:
            order = self._order(key, "CancelarOS")
            if order.cancelled is not None:
                raise errors.RefusedError("A Ordem de Serviço já está cancelada", method="CancelarOS", status_code="1")
            moment = _now()
            order.cancelled, order.changed, order.rps_status = moment, moment, "005" if order.note_id else ""
            if order.note_id is not None:
                self.notes[order.note_id]["Cabecalho"]["cStatusNFSe"] = "C"
                self.notes[order.note_id]["Cancelamento"] = {
                    "cDataCancelamento": omie_date(moment.date()),
                    "cHoraCancelamento": _hour(moment),
                }
            return _action(order, "OS cancelada com sucesso!")

    # --- NFS-e -------------------------------------------------------------------------------

    def list_nfse(
        self,
        issued_from: date,
        issued_to: date,
        *,
        nCodigoOS: int | None = None,
        status: str | None = None,
        page_size: int | None = None,
        on_invalid: Callable[[InvalidRecord], None] | None = None,
    ) -> Iterator[NfseRecord]:
        if issued_to < issued_from:
            raise ValueError(f"issued_to {issued_to} is before issued_from {issued_from}")

        def wanted(note: dict[str, Any]) -> bool:
            issued = datetime.strptime(note["Emissao"]["cDataEmissao"], "%d/%m/%Y").date()
            return (
                issued_from <= issued <= issued_to
                and (nCodigoOS is None or note["OrdemServico"]["nCodigoOS"] == nCodigoOS)
                and (status is None or note["Cabecalho"]["cStatusNFSe"] == status)
            )

        def fetch(page: dict[str, Any]) -> dict[str, Any]:
            self._enter("ListarNFSEs", page)
            with self._lock:
                records = [note for _, note in sorted(self.notes.items()) if wanted(note)]
            return _page(records, page, PREFIXED_PAGES, "nfseEncontradas")

        for record in walk_pages(
            fetch, {}, PREFIXED_PAGES, "nfseEncontradas", self.page_size("ListarNFSEs", page_size)
        ):
            read = _read(NfseRecord, record, on_invalid, "ListarNFSEs", f"nCodNF {record['Cabecalho'].get('nCodNF')}")
            if read is not None:
                yield read

    def get_nfse_document(self, nIdNf: int) -> NfseDocument:
        self._enter("ObterNFSe", {"nIdNf": nIdNf})
        with self._lock:
            note = self.notes.get(nIdNf)
            if note is None:
                raise errors.NotFoundError(f"NFS-e {nIdNf} não encontrada", method="ObterNFSe")
            number = note["Cabecalho"]["nNumeroNFSe"]
            return NfseDocument.model_validate(
                {
                    "cNumOs": note["OrdemServico"]["nNumeroOS"],
                    "cNumNFSe": number,
                    "cCodStatus": "0",
                    "cXmlNFSe": f'<?xml version="1.0"?><CompNfse><Numero>{number}</Numero></CompNfse>',
                    "cLinkPortal": f"https://nfse.example/{number}",
                }
            )

    # --- inside ------------------------------------------------------------------------------

    def _enter(self, method: str, param: Mapping[str, Any], apply: Callable[[], Any] | None = None) -> None:
        """Count the call, then raise the failure scripted for it, if any (after `apply` when applied)."""
        with self._lock:
            self.calls[method] += 1
            self.requests.append((method, dict(param)))
            scripted = self._failures[method].popleft() if self._failures[method] else None
        if scripted is None:
            return
        error, applied = scripted
        if applied and apply is not None:
            apply()
        raise error

    def _client_by(
        self, *, codigo_cliente_omie: int | None = None, codigo_cliente_integracao: str | None = None
    ) -> dict[str, Any] | None:
        if codigo_cliente_omie is not None:
            return self.clients.get(int(codigo_cliente_omie))
        return next(
            (
                record
                for record in self.clients.values()
                if codigo_cliente_integracao and record["codigo_cliente_integracao"] == codigo_cliente_integracao
            ),
            None,
        )

    def _client_by_document(self, document: str) -> dict[str, Any] | None:
        digits = normalise_document(document)
        return next((record for record in self.clients.values() if record["cnpj_cpf"] == digits), None)

    def _include_client(self, param: dict[str, Any]) -> ClientStatus:
        with self._lock:
            code = str(param.get("codigo_cliente_integracao") or "")
            same = self._client_by(codigo_cliente_integracao=code) if code else None
            if same is not None:
                raise errors.AlreadyExistsError(
                    f"Cliente já cadastrado para o Código de Integração [{code}] com o Id "
                    f"[{same['codigo_cliente_omie']}] !",
                    existing_id=same["codigo_cliente_omie"],
                    integration_code=code,
                    method="IncluirCliente",
                )
            document = str(param.get("cnpj_cpf") or "")
            holder = self._client_by_document(document) if document else None
            if holder is not None:
                raise errors.AlreadyExistsError(
                    f"Cliente já cadastrado para o CPF/CNPJ [{document}] com o Id [{holder['codigo_cliente_omie']}] !",
                    existing_id=holder["codigo_cliente_omie"],
                    method="IncluirCliente",
                )
            fields = {tag: value for tag, value in param.items() if value is not None}
            client_id = self.add_client(document, **{**fields, "cnpj_cpf": normalise_document(document)})
            return _client_status(self.clients[client_id], "Cliente cadastrado com sucesso!")

    def _include_os(self, param: dict[str, Any]) -> OsStatus:
        with self._lock:
            key = str(param.get("Cabecalho", {}).get("cCodIntOS") or "")
            existing = self.order_by_key(key) if key else None
            if existing is not None:
                raise errors.AlreadyExistsError(
                    f"Ordem de Serviço já cadastrada para o Código de Integração [{key}] com o Id "
                    f"[{existing.n_cod_os}] !",
                    existing_id=existing.n_cod_os,
                    integration_code=key,
                    method="IncluirOS",
                )
            n_cod_os, moment = next(self._ids), _now()
            order = FakeOrder(n_cod_os, f"{len(self.orders) + 1:06d}", _with_omie_taxes(param), moment, moment)
            self.orders[n_cod_os] = order
            return OsStatus.model_validate(
                {
                    "cCodIntOS": key,
                    "nCodOS": n_cod_os,
                    "cNumOS": order.number,
                    "cCodStatus": "0",
                    "cDescStatus": "OS cadastrada com sucesso!",
                }
            )

    def _alter_os(self, param: dict[str, Any]) -> OsStatus:
        """AlterarOS: an order not billed, or whose RPS was rejected, takes the blocks sent; each item
        sent names the `nSeqItem` (1-based) it replaces the fields of."""
        with self._lock:
            header = param.get("Cabecalho", {})
            order = self._order(_one_key(nCodOS=header.get("nCodOS"), cCodIntOS=header.get("cCodIntOS")), "AlterarOS")
            if order.cancelled is not None or (order.invoiced is not None and order.rps_status != "003"):
                raise errors.RefusedError(
                    f"A OS {order.number} já foi faturada e não pode ser alterada!", method="AlterarOS"
                )
            items = [dict(item) for item in order.sent.get("ServicosPrestados", [])]
            for item in param.get("ServicosPrestados", []):
                changes = {tag: value for tag, value in item.items() if tag not in ("nSeqItem", "cAcaoItem")}
                items[int(item["nSeqItem"]) - 1].update(changes)
            sent = {**order.sent, **{block: value for block, value in param.items() if block != "Cabecalho"}}
            sent["Cabecalho"] = {
                **order.sent.get("Cabecalho", {}),
                **{k: v for k, v in header.items() if k != "nCodOS"},
            }
            order.sent = _with_omie_taxes({**sent, "ServicosPrestados": items})
            order.changed = _now()
            return OsStatus.model_validate(
                {
                    "cCodIntOS": order.key,
                    "nCodOS": order.n_cod_os,
                    "cNumOS": order.number,
                    "cCodStatus": "0",
                    "cDescStatus": "OS alterada com sucesso!",
                }
            )

    def _invoice(self, key: dict[str, Any]) -> OsActionStatus:
        with self._lock:
            order = self._order(key, "FaturarOS")
            if order.invoiced is not None and order.rps_status != "003":  # a rejected RPS may be billed again
                raise errors.RefusedError(f"A OS {order.number} já foi faturada!", method="FaturarOS", status_code="1")
            moment = _now()
            order.invoiced, order.changed, order.rps_status = moment, moment, "002"
            return _action(order, "OS faturada com sucesso!")

    def _order(self, key: dict[str, Any], method: str) -> FakeOrder:
        with self._lock:
            ((tag, value),) = key.items()
            for order in self.orders.values():
                if (
                    (tag == "nCodOS" and order.n_cod_os == int(value))
                    or (tag == "cCodIntOS" and order.key == value)
                    or (tag == "cNumOS" and order.number == value)
                ):
                    return order
        raise errors.NotFoundError(f"Ordem de Serviço não cadastrada para o {tag} [{value}]", method=method)

    def _gross(self, order: FakeOrder) -> Decimal:
        return sum(
            (
                _money(Decimal(str(item.get("nQtde") or 1)) * _money(item.get("nValUnit")))
                for item in order.sent.get("ServicosPrestados") or []
            ),
            Decimal(0),
        )

    def _os_record(self, order: FakeOrder) -> dict[str, Any]:
        header = {
            **order.sent.get("Cabecalho", {}),
            "nCodOS": order.n_cod_os,
            "cNumOS": order.number,
            "nValorTotal": str(self._gross(order)),
        }
        return {
            "Cabecalho": header,
            "InformacoesAdicionais": order.sent.get("InformacoesAdicionais", {}),
            "ServicosPrestados": order.sent.get("ServicosPrestados", []),
            "InfoCadastro": {
                "cFaturada": "S" if order.invoiced else "N",
                "cCancelada": "S" if order.cancelled else "N",
                "dDtInc": omie_date(order.created.date()),
                "cHrInc": _hour(order.created),
                "dDtAlt": omie_date(order.changed.date()),
                "cHrAlt": _hour(order.changed),
                **(
                    {"dDtFat": omie_date(order.invoiced.date()), "cHrFat": _hour(order.invoiced)}
                    if order.invoiced
                    else {}
                ),
                **(
                    {"dDtCanc": omie_date(order.cancelled.date()), "cHrCanc": _hour(order.cancelled)}
                    if order.cancelled
                    else {}
                ),
            },
        }

    def _status_detail(self, order: FakeOrder, with_messages: bool, documents: bool) -> dict[str, Any]:
        detail: dict[str, Any] = {
            "cCodIntOS": order.key,
            "nCodOS": order.n_cod_os,
            "cNumOS": order.number,
            "cFaturada": "S" if order.invoiced else "N",
            "cCancelada": "S" if order.cancelled else "N",
            "nValorTot": str(self._gross(order)),
            "ListaRpsNfse": [],
        }
        if order.invoiced:
            detail.update(dDtFat=omie_date(order.invoiced.date()), cHrFat=_hour(order.invoiced))
        if order.cancelled:
            detail.update(dDtCanc=omie_date(order.cancelled.date()), cHrCanc=_hour(order.cancelled))
        if order.rps_status:
            number = str(order.note_id) if order.note_id else ""
            rps: dict[str, Any] = {
                "nRps": str(order.n_cod_os),
                "cStatusRps": order.rps_status,
                "nNfse": number,
                "cCodVerif": f"V{number}" if number else "",
                "cUrlNfse": f"https://nfse.example/{number}" if number else "",
                "mensagens": list(order.messages) if with_messages else [],
            }
            if documents and number:
                rps["cUrlPdfDest"] = f"https://pdf.example/{number}.pdf"
            detail["ListaRpsNfse"].append(rps)
        return detail

    @staticmethod
    def _message(situation: str, code: str, text: str, moment: datetime, correction: str = "") -> dict[str, str]:
        return {
            "cSituacao": situation,
            "cCodigo": code,
            "cDescricao": text,
            "cCorrecao": correction,
            "dData": omie_date(moment.date()),
            "hHora": _hour(moment),
        }


def _with_omie_taxes(param: dict[str, Any]) -> dict[str, Any]:
    """The order as Omie keeps it: each item's tax values computed from the rates it was sent."""
    kept = dict(param)
    items = []
    for item in param.get("ServicosPrestados") or []:
        base = _money(Decimal(str(item.get("nQtde") or 1)) * _money(item.get("nValUnit")))
        taxes = dict(item.get("impostos") or {})
        for rate_tag, value_tag in ITEM_TAXES:
            if taxes.get(rate_tag) not in (None, ""):
                taxes[value_tag] = str(_money(base * Decimal(str(taxes[rate_tag])) / 100))
        items.append({**item, "impostos": taxes})
    kept["ServicosPrestados"] = items
    return kept


def _client_status(record: dict[str, Any], description: str) -> ClientStatus:
    return ClientStatus.model_validate(
        {
            "codigo_cliente_omie": record["codigo_cliente_omie"],
            "codigo_cliente_integracao": record["codigo_cliente_integracao"],
            "codigo_status": "0",
            "descricao_status": description,
        }
    )


def _action(order: FakeOrder, description: str) -> OsActionStatus:
    return OsActionStatus.model_validate(
        {"cCodIntOS": order.key, "nCodOS": order.n_cod_os, "cCodStatus": "0", "cDescStatus": description}
    )


def _page(records: list[dict[str, Any]], param: Mapping[str, Any], tags: PageTags, field_name: str) -> dict[str, Any]:
    """One page of `records` as Omie answers it; past the end, Omie's 5113 fault."""
    page, size = int(param.get(tags.page, 1)), int(param.get(tags.size, 50))
    total_pages = max(1, -(-len(records) // size))
    if page > total_pages:
        raise errors.NoRecordsError(f"Não existem registros para a página [{page}]!")
    chunk = records[(page - 1) * size : page * size]
    return {tags.page: page, tags.total_pages: total_pages, tags.size: len(chunk), field_name: chunk}


def _day(moment: date | datetime | None) -> date | None:
    if isinstance(moment, datetime):
        return moment.astimezone(SAO_PAULO).date()
    return moment


def _changed_since(info: Mapping[str, Any], param: Mapping[str, Any], tag: str) -> bool:
    since = param.get(tag)
    if not since:
        return True
    changed = info.get("dAlt") or info.get("dInc")
    return changed is None or datetime.strptime(changed, "%d/%m/%Y") >= datetime.strptime(since, "%d/%m/%Y")


def _one_key(**candidates: Any) -> dict[str, Any]:
    given = {name: value for name, value in candidates.items() if value not in (None, "")}
    if len(given) != 1:
        raise ValueError(f"give exactly one of {', '.join(candidates)}; got {', '.join(given) or 'none'}")
    return given


def _read(
    model: type[BaseModel],
    record: dict[str, Any],
    on_invalid: Callable[[InvalidRecord], None] | None,
    method: str,
    record_id: str,
) -> Any:
    try:
        return model.model_validate(record)
    except ValidationError as error:
        if on_invalid is None:
            raise
        on_invalid(InvalidRecord.of(method, record_id, error))
        return None
