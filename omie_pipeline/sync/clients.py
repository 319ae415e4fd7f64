"""Linking each valid closed deal to its Omie client, creating the client when Omie has none.

Per document (several deals of one client share one lookup and at most one creation), counting
only the clients active in Omie:
- found in the client mirror: linked (`matched`);
- held by two or more Omie clients: linked to the one carrying this pipeline's integration code if
  there is one, else a deal issue naming the ids to merge -- never a silent pick;
- held only by inactive clients: a deal issue (reactivate it, or give the document to the client
  kept) -- never a link to an inactive client nor a second client;
- not found, for deals that were linked to a client Omie no longer has (merged or deleted): a deal
  issue, since registering the client again may well duplicate the one it was merged into;
- not found: registered with `IncluirCliente` under `client_integration_code(account, document)`
  (`created`). Omie refuses a second client with the same integration code or the same CPF/CNPJ,
  so a rerun, a retry after a lost answer, or a second run at the same time gets "already
  registered" with the existing id, which is adopted (`adopted`), never a second client.

`IncluirCliente` rather than `UpsertClienteCpfCnpj`: an upsert would overwrite a client that
finance maintains in Omie with whatever the CRM holds, and it answers "changed" where an
inclusion answers "already registered with id N", which is the signal a concurrent run needs.

Links are looked at again until the deal is invoiced: when the mirror shows the linked client gone
or inactive, and when deals of one document are linked to different clients, the document's deals
are decided again together as above, so they end linked to one client or listed with an issue.

A deal that cannot be linked gets a client issue saying what to fix (and loses a link it had, so
that it is not invoiced to a client that is no longer right); one deal's failure never
stops the others. Only account-wide failures (credentials, a block) stop the run. A registration
Omie refused is not sent again until one of the client's deals changes in the CRM.
"""

from __future__ import annotations

import logging
import random
from collections import Counter, defaultdict
from collections.abc import Iterator
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from omie_pipeline.collector import collect_young, collector_paused
from omie_pipeline.domain.keys import client_integration_code
from omie_pipeline.domain.privacy import redact_cpfs
from omie_pipeline.domain.timeutil import now_utc
from omie_pipeline.i18n import _
from omie_pipeline.omie import errors
from omie_pipeline.omie.client import OmieClient
from omie_pipeline.omie.models import ClientRecord
from omie_pipeline.store import Store
from omie_pipeline.store.clients import (
    IndexedClient,
    client_index,
    clients_with_document,
    current_links,
    deals_of_document_to_link,
    deals_to_link,
    deals_without_document_to_link,
    remove_links,
    save_links,
    save_omie_clients,
)
from omie_pipeline.store.deals import (
    IssueRecord,
    open_issue_times,
    record_issues,
    resolve_issues_not_seen,
)
from omie_pipeline.sync.client_payload import (
    OMIE_TAG_TO_FIELD,
    client_input,
    client_problems,
)
from omie_pipeline.sync.duplicates import names_document, names_integration_code
from omie_pipeline.sync.omie_calls import CallCounter

log = logging.getLogger("omie_pipeline.sync.clients")

CLIENT_STAGE = "client"
REFUSED = "omie_refused"
CLIENT_GONE = "client_gone"
CLIENT_INACTIVE = "client_inactive"
_NOTHING_SEEN: frozenset[tuple[str, str]] = frozenset()
"""What a linked deal shows: no client issue (shared, not one empty set per deal)."""
WRITE_BATCH = 5000
"""Deals read in one page, and whose outcomes are stored in one transaction: a few statements per
batch instead of per document, and memory that grows with the batch, not with the deals to link."""
FATAL_ERRORS = (errors.AuthenticationError, errors.BlockedError, errors.MisuseRiskError)
"""Failures of the whole account: going on would only add to Omie's misuse count."""


@dataclass
class LinkSummary:
    """What one linking pass did; deal counts by outcome, client counts by Omie action."""

    deals: int = 0
    documents: int = 0
    linked: Counter[str] = field(default_factory=Counter)  # deals by how: matched, created, adopted
    clients_created: int = 0
    clients_adopted: int = 0
    deals_with_issues: int = 0
    awaiting_fix: int = 0  # refused by Omie before and unchanged in the CRM since: not sent again
    awaiting_omie: int = 0  # their client left Omie, listed before, and Omie still has none for them
    relinked: int = 0  # deals moved from a client gone, inactive or contradicting the others to the right one
    unlinked: int = 0  # deals whose link was dropped because their client is no longer known to be right
    issues_by_reason: Counter[str] = field(default_factory=Counter)
    calls: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class _Outcome:
    """How one document ended: a client id and how it was found, or the issues to record."""

    omie_id: int | None = None
    how: str | None = None
    integration_code: str | None = None
    issues: tuple[tuple[str, str, str, str], ...] = ()  # field, reason, message, fix


def link_clients(
    client: OmieClient,
    store: Store,
    account: str,
    *,
    now: datetime | None = None,
    rng: random.Random | None = None,
) -> LinkSummary:
    """Give every valid closed deal not yet linked (or whose document changed) its Omie client, and
    look again at links not invoiced yet whose client left Omie, was inactivated or contradicts the
    document's other links.

    Reads the client mirror (refresh it first with `refresh_client_index`). Documents to create
    are taken in random order, so that two runs at once mostly work on different clients and
    find each other's work in the store instead of both asking Omie.
    """
    moment = now or now_utc()
    counter = CallCounter(client)
    summary = LinkSummary()
    with store.connect() as connection:
        refused = open_issue_times(connection, account, CLIENT_STAGE, REFUSED)
        gone = open_issue_times(connection, account, CLIENT_STAGE, CLIENT_GONE)
    writes = _Writes(store, account, summary, moment)
    for group in _without_document(store, account):
        summary.deals += len(group)
        writes.add(None, group, _Outcome(issues=(_no_document(),)))
    to_create: list[str] = []
    with collector_paused():
        for groups in _by_document(store, account):
            with store.connect() as connection:
                index = client_index(connection, account, groups)
            for document, group in groups.items():
                summary.deals += len(group)
                summary.documents += 1
                outcome = _choose(index.get(document, []), account, document)
                if outcome is None:
                    to_create.append(document)
                else:
                    writes.add(document, group, outcome)
            collect_young()
        writes.flush()
    (rng or random.Random()).shuffle(to_create)
    for document in to_create:
        with store.connect() as connection:
            # Read again with the client's columns (the pages hold only what deciding from the mirror needs).
            group = deals_of_document_to_link(connection, account, document, client_columns=True)
            registered = clients_with_document(connection, account, document)
        if not group:  # another run linked them meanwhile
            continue
        if _refused_and_unchanged(group, refused):
            summary.awaiting_fix += len(group)
            continue
        outcome = _choose(registered, account, document)
        if outcome is None and _lost_their_client(group, gone):
            outcome = _client_gone(group)
            if outcome is None:  # already listed by an earlier run: waits for Omie to hold the client
                summary.awaiting_omie += len(group)
                continue
        outcome = outcome or _register(client, account, document, group)
        # Stored at once: what Omie now holds must not wait on the next document's call.
        writes.add(document, group, outcome)
        writes.flush()
    summary.calls = counter.calls()
    log.info(
        "clients of %s: %d deals over %d documents; linked %s; %d clients created, %d adopted; %d deals with issues",
        account,
        summary.deals,
        summary.documents,
        dict(summary.linked),
        summary.clients_created,
        summary.clients_adopted,
        summary.deals_with_issues,
    )
    return summary


def _without_document(store: Store, account: str) -> Iterator[list[Any]]:
    """The deals to link that have no document, `WRITE_BATCH` at a time."""
    after = None
    while True:
        with store.connect() as connection:
            page = deals_without_document_to_link(connection, account, after=after, limit=WRITE_BATCH)
        if not page:
            return
        yield page
        after = page[-1].deal_id


def _by_document(store: Store, account: str) -> Iterator[dict[str, list[Any]]]:
    """The deals to link that have a document, grouped by it, about `WRITE_BATCH` deals at a time (a
    document's deals are never split): memory grows with the page, not with the deals to link. The
    documents whose client must be registered in Omie are kept until the pages are read (each costs Omie
    calls; its deals are read again, whole, then); the others are decided from the mirror and stored page
    by page."""
    after = None
    while True:
        with store.connect() as connection:
            page = deals_to_link(connection, account, after=after, limit=WRITE_BATCH)
            if not page:
                return
            after = page[-1].document
            if len(page) == WRITE_BATCH:  # the last document's deals may go on past the page
                page = [deal for deal in page if deal.document != after]
                page.extend(deals_of_document_to_link(connection, account, after))
        groups: dict[str, list[Any]] = defaultdict(list)
        for deal in page:
            groups[deal.document].append(deal)
        yield groups


def _refused_and_unchanged(group: list[Any], refused: dict[str, datetime]) -> bool:
    """Omie refused this client and none of its deals changed in the CRM since: sending the same
    registration again would only be refused again, and count towards Omie's misuse block."""
    return all(deal.deal_id in refused and _recency(deal) <= refused[deal.deal_id] for deal in group)


def _lost_their_client(group: list[Any], gone: dict[str, datetime]) -> bool:
    """Every deal of the document was linked to a client Omie no longer has: found now, or listed by an
    earlier run and unchanged in the CRM since (a deal changed since is treated as new)."""
    return all(
        deal.previous_client is not None or (deal.deal_id in gone and _recency(deal) <= gone[deal.deal_id])
        for deal in group
    )


def _client_gone(group: list[Any]) -> _Outcome | None:
    """The issue for deals whose client left Omie; None when an earlier run already listed it."""
    lost = sorted({int(deal.previous_client) for deal in group if deal.previous_client is not None})
    if not lost:
        return None
    ids = ", ".join(str(omie_id) for omie_id in lost)
    return _Outcome(
        issues=(
            (
                "client",
                CLIENT_GONE,
                _(
                    "the deal was linked to Omie client {ids}, which Omie no longer has (merged into another client "
                    "or deleted), and no active client in Omie holds the deal's CPF/CNPJ; it is not registered again, "
                    "as that could duplicate the client it was merged into"
                ).format(ids=ids),
                _(
                    "in Omie, put the CPF/CNPJ on the client that should receive the invoice (or register it again); "
                    "the deal is linked on the next run"
                ),
            ),
        )
    )


def _choose(candidates: list[IndexedClient], account: str, document: str) -> _Outcome | None:
    """The active client the mirror holds for a document; an issue when it holds several, or only
    inactive ones; None when it holds none."""
    if not candidates:
        return None
    inactive = [candidate for candidate in candidates if candidate.inactive]
    candidates = [candidate for candidate in candidates if not candidate.inactive]
    if not candidates:
        ids = ", ".join(str(candidate.codigo_cliente_omie) for candidate in inactive)
        return _Outcome(
            issues=(
                (
                    "client",
                    CLIENT_INACTIVE,
                    _(
                        "the client is inactive in Omie ({ids}): the deal is not linked to it, and no second client "
                        "is registered for the same CPF/CNPJ"
                    ).format(ids=ids),
                    _(
                        "reactivate client {ids} in Omie, or, if it was replaced, put the CPF/CNPJ on the active "
                        "client that should receive the invoice; the deal is linked on the next run"
                    ).format(ids=ids),
                ),
            )
        )
    if len(candidates) == 1:
        only = candidates[0]
        return _Outcome(only.codigo_cliente_omie, "matched", only.codigo_cliente_integracao)
    ours = client_integration_code(account, document)
    own = [candidate for candidate in candidates if candidate.codigo_cliente_integracao == ours]
    if len(own) == 1:
        return _Outcome(own[0].codigo_cliente_omie, "matched", ours)
    ids = ", ".join(str(candidate.codigo_cliente_omie) for candidate in candidates)
    return _Outcome(
        issues=(
            (
                "document",
                "registered_twice",
                _(
                    "the document is registered for {count} clients in Omie ({ids}); the deal is not linked to any of "
                    "them rather than to a guess"
                ).format(count=len(candidates), ids=ids),
                _(
                    "merge clients {ids} in Omie (keep one, inactivate or delete the others); the deal is linked on "
                    "the next run"
                ).format(ids=ids),
            ),
        )
    )


def _recency(deal: Any) -> datetime:
    return deal.updated_at or datetime.min.replace(tzinfo=UTC)


def _no_document() -> tuple[str, str, str, str]:
    return (
        "document",
        "missing",
        _("the deal has no CPF or CNPJ: the client cannot be found in or registered with Omie"),
        _("fill the client's CPF or CNPJ in the CRM; the deal is linked on the next run"),
    )


def _register(client: OmieClient, account: str, document: str, group: list[Any]) -> _Outcome:
    """Create the document's client in Omie from the newest complete deal, or say what is missing."""
    newest_first = sorted(group, key=_recency, reverse=True)
    source = next((deal for deal in newest_first if not client_problems(deal)), None)
    if source is None:
        problems = client_problems(newest_first[0])
        return _Outcome(issues=tuple((p.field, p.reason, p.message, p.fix) for p in problems))
    code = client_integration_code(account, document)
    param = client_input(source, code)
    try:
        return _include(client, param, code, document)
    except FATAL_ERRORS:
        raise
    except errors.ValidationError as error:
        return _Outcome(issues=(_refused(error),))
    except errors.OmieError as error:
        return _Outcome(issues=(_failed(error),))


def _include(client: OmieClient, param: Any, code: str, document: str, *, attempts: int = 2) -> _Outcome:
    """IncluirCliente; "already registered" adopts; so does any other refusal naming the integration
    code or the CPF/CNPJ (Omie's wording varies, and may come as status "1" inside HTTP 200) and a
    lost answer, once the client is looked up; a lost answer with nothing found is sent once more."""
    try:
        status = client.include_client(param)
        return _Outcome(status.codigo_cliente_omie, "created", code)
    except errors.AlreadyExistsError as error:
        if error.existing_id:
            return _Outcome(error.existing_id, "adopted", error.integration_code)
        found = client.get_client(codigo_cliente_integracao=code)
        return _Outcome(found.codigo_cliente_omie, "adopted", code)
    except (errors.RefusedError, errors.NotFoundError, errors.ValidationError) as refusal:
        if not (names_integration_code(refusal, code) or names_document(refusal, document)):
            raise
        found = _look_up(client, code, document)
        if found is None:
            raise
        return _Outcome(found.codigo_cliente_omie, "adopted", found.codigo_cliente_integracao or None)
    except errors.OutcomeUnknownError as lost:
        found = _look_up(client, code, document)
        if found is None:
            if attempts <= 1:
                raise lost from None
            log.info("client %s: not registered after a lost answer; sending once more", redact_cpfs(code))
            return _include(client, param, code, document, attempts=attempts - 1)
        return _Outcome(found.codigo_cliente_omie, "adopted", found.codigo_cliente_integracao or None)


def _look_up(client: OmieClient, code: str, document: str) -> ClientRecord | None:
    """The active client Omie holds under this integration code, else under this CPF/CNPJ."""
    try:
        found: ClientRecord | None = client.get_client(codigo_cliente_integracao=code)
    except errors.NotFoundError:
        found = client.find_client_by_document(document) if document else None
    return found if found is not None and found.inativo.strip().upper() != "S" else None


def _refused(error: errors.ValidationError) -> tuple[str, str, str, str]:
    field_name = OMIE_TAG_TO_FIELD.get(error.field or "", "client")
    said = redact_cpfs(error.faultstring or error.message)
    fix = (
        _("correct {field} of the client in the CRM; the deal is retried on the next run").format(field=field_name)
        if field_name != "client"
        else _("correct the client's data in the CRM as Omie's message says")
    )
    return (field_name, REFUSED, _("Omie refused to register the client: {said}").format(said=said), fix)


def _failed(error: errors.OmieError) -> tuple[str, str, str, str]:
    said = redact_cpfs(error.faultstring or error.message)
    if isinstance(error, errors.RefusedError | errors.NotFoundError | errors.AlreadyExistsError):
        return (
            "client",
            REFUSED,
            _("Omie refused to register the client: {said}").format(said=said),
            _("read Omie's message; if the client's data is wrong, correct it in the CRM"),
        )
    return (
        "client",
        "omie_unavailable",
        _("Omie did not answer the registration ({kind}): {said}").format(kind=error.kind, said=said),
        _("nothing to fix: the client is registered (or found) on the next run"),
    )


class _Writes:
    """Outcomes decided from the mirror, stored a batch at a time: links (and the clients created or
    adopted, in the mirror) or issues, with the issues no longer seen resolved -- one statement of each
    kind per batch, in one transaction."""

    def __init__(self, store: Store, account: str, summary: LinkSummary, moment: datetime) -> None:
        self.store = store
        self.account = account
        self.summary = summary
        self.moment = moment
        self.pending: list[tuple[str | None, list[Any], _Outcome]] = []
        self.deals = 0

    def add(self, document: str | None, group: list[Any], outcome: _Outcome) -> None:
        self.pending.append((document, group, outcome))
        self.deals += len(group)
        if self.deals >= WRITE_BATCH:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        linked = [
            (document, group, outcome) for document, group, outcome in self.pending if outcome.omie_id is not None
        ]
        failed = [(document, group, outcome) for document, group, outcome in self.pending if outcome.omie_id is None]
        with self.store.begin() as connection:
            seen = self._link(connection, linked)
            open_for = self._list_issues(connection, failed, seen)
            resolve_issues_not_seen(connection, self.account, CLIENT_STAGE, seen, self.moment)
        for (_document, _group, outcome), deal_ids in zip(failed, open_for, strict=True):
            self.summary.deals_with_issues += len(deal_ids)
            for _field, reason, _message, _fix in outcome.issues:
                self.summary.issues_by_reason[reason] += len(deal_ids)
        self.pending = []
        self.deals = 0

    def _link(
        self, connection: Any, linked: list[tuple[str | None, list[Any], _Outcome]]
    ) -> dict[str, AbstractSet[tuple[str, str]]]:
        """Store the links (and the clients registered or adopted); their deals have no client issue left."""
        clients, links = [], []
        seen: dict[str, AbstractSet[tuple[str, str]]] = {}
        for document, group, outcome in linked:
            if outcome.how in ("created", "adopted"):
                newest = max(group, key=_recency)
                clients.append(
                    {
                        "account": self.account,
                        "codigo_cliente_omie": outcome.omie_id,
                        "codigo_cliente_integracao": outcome.integration_code,
                        "document": document,
                        "legal_name": newest.legal_name,
                        "trade_name": newest.trade_name or newest.legal_name,
                        "inactive": False,
                        "changed_at": self.moment,
                        "synced_at": self.moment,
                    }
                )
                if outcome.how == "created":
                    self.summary.clients_created += 1
                else:
                    self.summary.clients_adopted += 1
            self.summary.relinked += sum(
                1 for deal in group if deal.previous_client is not None and deal.previous_client != outcome.omie_id
            )
            for deal in group:
                links.append(
                    {
                        "account": self.account,
                        "deal_id": deal.deal_id,
                        "document": document,
                        "codigo_cliente_omie": outcome.omie_id,
                        "codigo_cliente_integracao": outcome.integration_code,
                        "how": outcome.how,
                        "linked_at": self.moment,
                    }
                )
                seen[deal.deal_id] = _NOTHING_SEEN
            self.summary.linked[outcome.how] += len(group)
        if clients:
            save_omie_clients(connection, clients)
        save_links(connection, links)
        return seen

    def _list_issues(
        self,
        connection: Any,
        failed: list[tuple[str | None, list[Any], _Outcome]],
        seen: dict[str, AbstractSet[tuple[str, str]]],
    ) -> list[list[str]]:
        """Record the issues of deals that could not be linked and drop their links; `seen` gets what each
        deal showed. Deals another run linked in the meantime have nothing to report."""
        now_linked = current_links(
            connection, self.account, [deal.deal_id for _document, group, _outcome in failed for deal in group]
        )
        issues: list[IssueRecord] = []
        open_for: list[list[str]] = []
        for document, group, outcome in failed:
            deal_ids = [deal.deal_id for deal in group if not _linked_meanwhile(deal, document, now_linked)]
            open_for.append(deal_ids)
            shown = {(field_name, reason) for field_name, reason, _message, _fix in outcome.issues}
            for deal_id in deal_ids:
                seen[deal_id] = shown
                issues.extend(
                    IssueRecord(
                        deal_id=deal_id, stage=CLIENT_STAGE, field=field_name, reason=reason, message=message, fix=fix
                    )
                    for field_name, reason, message, fix in outcome.issues
                )
        self.summary.unlinked += remove_links(connection, self.account, [d for ids in open_for for d in ids])
        record_issues(connection, self.account, issues, self.moment)
        return open_for


def _linked_meanwhile(deal: Any, document: str | None, now_linked: dict[str, tuple[str, int]]) -> bool:
    """The deal's link under this document is not the one this run read: another run made it."""
    link = now_linked.get(deal.deal_id)
    return document is not None and link is not None and link[0] == document and link[1] != deal.previous_client
