"""Which products of closed deals cannot be invoiced, and why, read from the state store."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from omie_pipeline.store.catalog import (
    ProductProblemReason,
    ProductServiceError,
    find_product_service,
    product_problems,
    products_awaiting_invoice,
    replace_service_map,
    upsert_services,
)

from .conftest import ACCOUNT, add_deals, add_invoice

NOW = datetime(2026, 11, 26, 12, tzinfo=UTC)


def _service(service_id: int, code: str, inactive: bool = False, account: str = ACCOUNT) -> dict:
    return {
        "account": account,
        "service_id": service_id,
        "integration_code": f"INT-{service_id}",
        "code": code,
        "description": f"service {code}",
        "municipal_code": None,
        "lc116_code": "1.07",
        "nbs_code": None,
        "taxation_type": "01",
        "unit_price": None,
        "inactive": inactive,
        "taxes": {"nAliqISS": "2.9"},
        "changed_at": NOW,
        "synced_at": NOW,
    }


@pytest.fixture
def catalog(store):
    with store.begin() as connection:
        upsert_services(
            connection,
            [
                _service(1, "SRV001"),
                _service(2, "SRV002", inactive=True),
                _service(3, "SRV003"),
                _service(4, "SRV003"),
                _service(5, "SRV009", account="other"),
            ],
        )
        replace_service_map(
            connection, ACCOUNT, {"GOOD": "SRV001", "OLD": "SRV002", "TWIN": "SRV003", "GHOST": "SRV009"}, NOW
        )
    return store


def test_each_kind_of_problem_is_named_with_its_deal_count(catalog) -> None:
    add_deals(
        catalog,
        ("d1", "GOOD", True),
        ("d2", "OLD", True),
        ("d3", "OLD", True),
        ("d4", "TWIN", True),
        ("d5", "GHOST", True),
        ("d6", "LEGADO-X", True),
        ("d7", "LEGADO-X", True),
        ("d8", "LEGADO-X", True),
    )
    with catalog.connect() as connection:
        problems = {problem.product_code: problem for problem in product_problems(connection, ACCOUNT)}

    assert {code: (p.reason, p.service_code, p.deals) for code, p in problems.items()} == {
        "GHOST": (ProductProblemReason.UNKNOWN_SERVICE, "SRV009", 1),
        "LEGADO-X": (ProductProblemReason.UNMAPPED, None, 3),
        "OLD": (ProductProblemReason.INACTIVE_SERVICE, "SRV002", 2),
        "TWIN": (ProductProblemReason.AMBIGUOUS_SERVICE, "SRV003", 1),
    }
    assert "LEGADO-X has no service in the service map" in problems["LEGADO-X"].message
    assert "SRV002, which is inactive" in problems["OLD"].message
    assert "SRV009, which is not in Omie's catalog" in problems["GHOST"].message


def test_invalid_deals_and_deals_already_sent_do_not_count_but_failed_invoices_do(catalog) -> None:
    add_deals(
        catalog,
        ("bad", "LEGADO-X", False),
        ("sent", "LEGADO-X", True),
        ("issued", "LEGADO-X", True),
        ("retry", "LEGADO-X", True),
        ("none", None, True),
    )
    add_invoice(catalog, "sent", "processing")
    add_invoice(catalog, "issued", "issued")
    add_invoice(catalog, "retry", "error")
    with catalog.connect() as connection:
        assert products_awaiting_invoice(connection, ACCOUNT) == {"LEGADO-X": 1}
        [problem] = product_problems(connection, ACCOUNT)
    assert (problem.product_code, problem.deals) == ("LEGADO-X", 1)


def test_other_accounts_deals_are_not_counted(catalog) -> None:
    add_deals(catalog, ("x1", "LEGADO-X", True), account="other")
    with catalog.connect() as connection:
        assert product_problems(connection, ACCOUNT) == []


def test_find_product_service_gives_the_active_service_or_the_reason(catalog) -> None:
    with catalog.connect() as connection:
        service = find_product_service(connection, ACCOUNT, "GOOD")
        assert (service.service_id, service.code, service.taxes) == (1, "SRV001", {"nAliqISS": "2.9"})
        with pytest.raises(ProductServiceError, match="inactive") as raised:
            find_product_service(connection, ACCOUNT, "OLD")
        assert raised.value.problem.reason is ProductProblemReason.INACTIVE_SERVICE
        with pytest.raises(ProductServiceError, match="has no service in the service map"):
            find_product_service(connection, ACCOUNT, "NEW")
