"""Invoice statuses: the lifecycle and the reading of Omie's signals."""

from __future__ import annotations

import pytest

from omie_pipeline.domain.invoice_status import (
    PENDING_STATUSES,
    InvoiceStatus,
    UnknownOmieStatusError,
    can_transition,
    status_from_nfse_listing,
    status_from_rps,
)

S = InvoiceStatus


def test_vocabulary_is_the_one_users_see():
    assert [status.value for status in InvoiceStatus] == ["submitted", "processing", "issued", "error", "cancelled"]
    assert InvoiceStatus("issued") is S.ISSUED and S.ISSUED == "issued"


def test_pending_statuses_are_the_ones_the_refresh_polls():
    assert {S.SUBMITTED, S.PROCESSING} == PENDING_STATUSES


ALLOWED = {
    (S.SUBMITTED, S.PROCESSING),
    (S.SUBMITTED, S.ISSUED),
    (S.SUBMITTED, S.ERROR),
    (S.SUBMITTED, S.CANCELLED),
    (S.PROCESSING, S.ISSUED),
    (S.PROCESSING, S.ERROR),
    (S.PROCESSING, S.CANCELLED),
    (S.ISSUED, S.CANCELLED),
    (S.ERROR, S.PROCESSING),
    (S.ERROR, S.ISSUED),
    (S.ERROR, S.CANCELLED),
}


@pytest.mark.parametrize("current", list(InvoiceStatus))
@pytest.mark.parametrize("new", list(InvoiceStatus))
def test_transitions(current, new):
    allowed = current == new or (current, new) in ALLOWED
    assert can_transition(current, new) is allowed


def test_an_issued_note_never_goes_back():
    for earlier in (S.SUBMITTED, S.PROCESSING, S.ERROR):
        assert not can_transition(S.ISSUED, earlier)
    assert not any(can_transition(S.CANCELLED, status) for status in InvoiceStatus if status is not S.CANCELLED)


@pytest.mark.parametrize(
    ("rps", "billed", "cancelled", "status"),
    [
        (None, "N", "N", S.SUBMITTED),  # OS created, not billed yet
        ("", "S", "N", S.PROCESSING),  # billed, no RPS yet
        ("001", "S", "N", S.PROCESSING),
        ("002", "S", "N", S.PROCESSING),
        ("003", "S", "N", S.ERROR),
        ("004", "S", "N", S.ISSUED),
        ("005", "S", "N", S.CANCELLED),
        ("004", "S", "S", S.CANCELLED),  # the OS cancellation wins over an older RPS status
        (None, "N", "S", S.CANCELLED),
        (4, "S", "N", S.ISSUED),  # numeric codes are read as "004"
        ("4", "s", "n", S.ISSUED),
        (" 003 ", "S", None, S.ERROR),
    ],
)
def test_status_from_rps(rps, billed, cancelled, status):
    assert status_from_rps(rps, billed, cancelled) is status


@pytest.mark.parametrize("code", ["006", "999", "OK"])
def test_unknown_rps_codes_are_errors_not_guesses(code):
    with pytest.raises(UnknownOmieStatusError):
        status_from_rps(code, "S", "N")


@pytest.mark.parametrize(
    ("code", "status"),
    [("F", S.ISSUED), ("f", S.ISSUED), ("C", S.CANCELLED), ("R", S.ERROR), ("N", S.PROCESSING)],
)
def test_status_from_nfse_listing(code, status):
    assert status_from_nfse_listing(code) is status


@pytest.mark.parametrize("code", ["", None, "X", "FF"])
def test_unknown_listing_statuses_are_errors(code):
    with pytest.raises(UnknownOmieStatusError):
        status_from_nfse_listing(code)
