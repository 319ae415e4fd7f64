"""The integration codes sent to Omie, which are what make retries safe.

Omie refuses a second client with the same `codigo_cliente_integracao` and a second OS with the
same `cCodIntOS`. Both codes are therefore pure functions of what identifies the thing: a rerun, a
retry after a timeout, or a second process computes the same code and Omie answers "already
registered" instead of creating a duplicate. Changing either formula would make every existing
client and invoice look new, so they must never change.
"""

from __future__ import annotations

import hashlib
import json
import re

from omie_pipeline.domain.documents import Document, parse_document

_PLAIN_ACCOUNT = re.compile(r"[A-Za-z0-9]{1,24}")


def _account_tag(account: str) -> str:
    """The account as it appears in a client code: itself when short and plain, else a hash.

    Codes only need to be unique inside one Omie company, but carrying the account makes a client
    created by this pipeline recognisable in Omie's screens.
    """
    if _PLAIN_ACCOUNT.fullmatch(account):
        return account.upper()
    return "H" + hashlib.sha256(account.encode("utf-8")).hexdigest()[:12].upper()


def client_integration_code(account: str, document: Document | str) -> str:
    """`OP-<ACCOUNT>-<document>`, e.g. `OP-MAIN-12ABC34501DE35`; at most 42 characters,
    within the 60 of Omie's `codigo_cliente_integracao`.

    A string document is parsed first, so an invalid one raises InvalidDocumentError rather than
    producing a code for a client that can never be registered.
    """
    number = (document if isinstance(document, Document) else parse_document(document)).number
    return f"OP-{_account_tag(account)}-{number}"


def invoice_idempotency_key(account: str, deal_id: str, issue: int = 1) -> str:
    """`OS` + 16 upper-case hex characters of sha256(account, deal_id): 18 characters.

    It is sent as `cCodIntOS`, whose maximum length Omie does not document; 18 characters fit the
    shortest integration-code fields seen in its API (20), and 64 bits of hash make a collision
    among even ten million deals about one in a million. Hashing also keeps deal ids that hold
    characters Omie might not accept out of the code. The JSON list keeps ("a-b", "c") and
    ("a", "b-c") apart.

    `issue` counts the deal's notes: a deal whose note was cancelled and is reissued gets a new
    OS, whose code must differ from the cancelled one's (Omie keeps that code on the cancelled OS),
    so the second note hashes (account, deal_id, 2), and so on. The first keeps the original formula.
    """
    if not account or not deal_id:
        raise ValueError("an idempotency key needs both the account and the deal id")
    if issue < 1:
        raise ValueError(f"a deal's notes are counted from 1; got {issue}")
    parts: list[object] = [account, deal_id] if issue == 1 else [account, deal_id, issue]
    digest = hashlib.sha256(json.dumps(parts, ensure_ascii=False).encode("utf-8")).hexdigest()
    return "OS" + digest[:16].upper()
