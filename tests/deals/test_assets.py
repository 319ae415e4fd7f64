"""closed_deals, client_index and client_links run through Dagster against the simulator and a real store."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa

from omie_pipeline.defs.assets.clients import client_index, client_links
from omie_pipeline.defs.assets.deals import closed_deals
from omie_pipeline.defs.checks.clients import (
    client_documents_unique,
    every_valid_deal_linked_or_listed,
    one_client_per_document,
)
from omie_pipeline.defs.checks.deals import invalid_deals_listed
from omie_pipeline.defs.partitions import ACCOUNTS_PARTITION_NAME
from omie_pipeline.defs.resources import DealSourceResource, OmieResource, PipelineResource, StoreResource
from omie_pipeline.domain.deal import Deal, validate_deal_row
from omie_pipeline.domain.documents import normalise_document
from omie_pipeline.sources import open_source
from omie_pipeline.store import Store
from omie_pipeline.store.clients import save_links
from omie_pipeline.store.tables import client_links as client_links_table
from omie_pipeline.store.tables import deals
from omie_pipeline.sync.client_payload import client_problems

from .conftest import SAMPLE_CSV, seeded_clients

ACCOUNT = "demo"
ASSETS = [closed_deals, client_index, client_links]
CHECKS = [invalid_deals_listed, client_documents_unique, every_valid_deal_linked_or_listed, one_client_per_document]


def _resources(sim, store: Store, deals_csv: Path = SAMPLE_CSV) -> dict:
    config = sim.config
    return {
        "store": StoreResource(db_url=store.url),
        "omie": OmieResource(
            base_url=sim.base_url,
            app_key=config.app_key,
            app_secret=config.app_secret,
            redundant_seconds=config.redundant_seconds,
        ),
        "deal_source": DealSourceResource(url=str(deals_csv)),
        "pipeline": PipelineResource(account=ACCOUNT),
    }


@pytest.fixture
def instance():
    with dg.instance_for_test() as test_instance:
        test_instance.add_dynamic_partitions(ACCOUNTS_PARTITION_NAME, [ACCOUNT])
        yield test_instance


def _metadata(result: dg.ExecuteInJobResult, asset: str) -> dict:
    (event,) = [e for e in result.get_asset_materialization_events() if e.asset_key == dg.AssetKey(asset)]
    return {key: value.value for key, value in event.materialization.metadata.items()}


def _checks(result: dg.ExecuteInJobResult) -> dict[str, object]:
    return {evaluation.check_name: evaluation for evaluation in result.get_asset_check_evaluations()}


def _sample_expectations(sim) -> tuple[int, int, int]:
    """From the sample file and the simulator's seed: deals to match, deals to create, distinct clients to create."""
    deals = [
        result
        for row in open_source(str(SAMPLE_CSV)).read(since=None)
        if isinstance(result := validate_deal_row(row.values, ACCOUNT), Deal) and result.status == "won"
    ]
    with sim.state.lock:
        in_omie = {normalise_document(record["cnpj_cpf"]) for record in sim.state.clients.values()}
    matched = [deal for deal in deals if deal.client.document and deal.client.document.number in in_omie]
    creatable = [
        deal
        for deal in deals
        if deal.client.document and deal.client.document.number not in in_omie and not client_problems(_Flat(deal))
    ]
    return len(matched), len(creatable), len({deal.client.document.number for deal in creatable})


class _Flat:
    """A Deal seen as a stored row (flat client columns), as `client_problems` reads it."""

    def __init__(self, deal: Deal) -> None:
        self.__dict__.update(deal.as_row())


def test_sample_deals_flow_through_dagster_with_metadata_and_checks(make_sim, store: Store, instance) -> None:
    sim = make_sim(seed=2026, clients=60)  # the demo's Omie, whose seed holds some of the sample's clients
    to_match, to_create, clients_to_create = _sample_expectations(sim)
    assert to_match > 0 and to_create > 0

    result = dg.materialize(ASSETS + CHECKS, partition_key=ACCOUNT, instance=instance, resources=_resources(sim, store))

    assert result.success
    deals = _metadata(result, "closed_deals")
    assert (deals["rows_read"], deals["valid"], deals["invalid"], deals["not_closed_ignored"]) == (44, 28, 13, 3)
    assert deals["issues_by_reason"]["check_digits"] == 2 and deals["open_validation_issues"] == 15
    index = _metadata(result, "client_index")
    assert index["dagster/row_count"] == 60 and index["omie_calls/ListarClientes"] == 1
    links = _metadata(result, "client_links")
    assert (links["matched"], links["created"], links["adopted"]) == (to_match, to_create, 0)
    assert links["clients_created"] == clients_to_create == len(sim.state.clients) - 60
    assert links["omie_calls/IncluirCliente"] == clients_to_create
    assert links["deals_with_issues"] == 28 - to_match - to_create
    assert links["open_issues/missing"] >= 1 and links["open_issues/too_long_for_omie"] == 1
    checks = _checks(result)
    assert set(checks) == {check.check_key.name for check in CHECKS}
    assert all(evaluation.passed for evaluation in checks.values())

    again = dg.materialize(ASSETS + CHECKS, partition_key=ACCOUNT, instance=instance, resources=_resources(sim, store))
    assert again.success
    assert _metadata(again, "closed_deals")["rows_read"] == 3  # the overlap window and two unreadable dates
    relinked = _metadata(again, "client_links")
    assert relinked["omie_calls"] == 0 and relinked["created"] == 0
    assert len(sim.state.clients) == 60 + clients_to_create


def test_full_refresh_is_one_config_flag(make_sim, store: Store, instance, tmp_path: Path) -> None:
    sim = make_sim(seed=5, clients=5)
    resources = _resources(sim, store)
    assert (
        _metadata(
            dg.materialize([closed_deals], partition_key=ACCOUNT, instance=instance, resources=resources),
            "closed_deals",
        )["rows_read"]
        == 44
    )
    incremental = dg.materialize([closed_deals], partition_key=ACCOUNT, instance=instance, resources=resources)
    assert _metadata(incremental, "closed_deals")["pull"] == "incremental"
    full = dg.materialize(
        [closed_deals],
        partition_key=ACCOUNT,
        instance=instance,
        resources=resources,
        run_config={"ops": {"closed_deals": {"config": {"full_refresh": True}}}},
    )
    metadata = _metadata(full, "closed_deals")
    assert metadata["pull"] == "full" and metadata["rows_read"] == 44


def test_checks_catch_split_links_and_duplicate_clients_without_stopping_the_run(
    make_sim, store: Store, instance
) -> None:
    sim = make_sim(seed=6, clients=8)
    (original,) = seeded_clients(sim, 1)
    with sim.state.lock:
        twin = dict(original, codigo_cliente_omie=sim.state.sequences.take("client_id"), codigo_cliente_integracao="")
        sim.state.put_client(twin)
    first = dg.materialize(ASSETS + CHECKS, partition_key=ACCOUNT, instance=instance, resources=_resources(sim, store))
    assert first.success  # a duplicate in Omie is a warning, not a stop
    duplicates = _checks(first)["client_documents_unique"]
    assert not duplicates.passed and duplicates.severity == dg.AssetCheckSeverity.WARN

    with store.connect() as connection:
        links = connection.execute(sa.select(client_links_table).where(client_links_table.c.account == ACCOUNT)).all()
    by_document: dict[str, list] = {}
    for link in links:
        by_document.setdefault(link.document, []).append(link)
    document, split = next((doc, group) for doc, group in sorted(by_document.items()) if len(group) >= 2)
    kept = split[0].codigo_cliente_omie
    split = [link.deal_id for link in split]
    with store.begin() as connection:  # one deal of the document linked elsewhere: a client since merged away
        save_links(
            connection,
            [
                {
                    "account": ACCOUNT,
                    "deal_id": split[0],
                    "document": document,
                    "codigo_cliente_omie": 999_999,
                    "codigo_cliente_integracao": None,
                    "how": "matched",
                    "linked_at": datetime.now(UTC),
                }
            ],
        )

    # The check sees the split (run without the linking, which would settle it), and fails without failing the run.
    seen = dg.materialize(
        ASSETS + CHECKS,
        partition_key=ACCOUNT,
        instance=instance,
        resources=_resources(sim, store),
        selection=dg.AssetSelection.checks(one_client_per_document) | dg.AssetSelection.assets(client_index),
    )
    assert seen.success
    conflict = _checks(seen)["one_client_per_document"]
    assert not conflict.passed and conflict.severity == dg.AssetCheckSeverity.WARN
    assert conflict.metadata["documents_with_two_clients"].value == 1

    # Linking decides the document again: the deal follows the client Omie still has.
    relinked = dg.materialize(
        [client_links, one_client_per_document, every_valid_deal_linked_or_listed],
        partition_key=ACCOUNT,
        instance=instance,
        resources=_resources(sim, store),
    )
    assert relinked.success and all(evaluation.passed for evaluation in _checks(relinked).values())
    assert _metadata(relinked, "client_links")["relinked"] == 1
    with store.connect() as connection:
        assert set(
            connection.execute(
                sa.select(client_links_table.c.codigo_cliente_omie).where(
                    client_links_table.c.account == ACCOUNT, client_links_table.c.document == document
                )
            ).scalars()
        ) == {kept}


def test_a_deal_left_unaccounted_is_an_error_that_does_not_stop_the_run(make_sim, store: Store, instance) -> None:
    sim = make_sim(seed=7, clients=4)
    moment = datetime.now(UTC)
    with store.begin() as connection:  # a valid deal nobody linked nor listed: what the check exists to catch
        connection.execute(
            deals.insert().values(
                account=ACCOUNT,
                deal_id="UNSEEN",
                status="won",
                is_valid=True,
                document="11444855000128",
                document_kind="cnpj",
                updated_at=moment,
                pulled_at=moment,
            )
        )
    result = dg.materialize(
        ASSETS + CHECKS,
        partition_key=ACCOUNT,
        instance=instance,
        resources=_resources(sim, store),
        selection=dg.AssetSelection.checks(every_valid_deal_linked_or_listed) | dg.AssetSelection.assets(client_index),
    )
    assert result.success
    unaccounted = _checks(result)["every_valid_deal_linked_or_listed"]
    assert not unaccounted.passed and unaccounted.severity == dg.AssetCheckSeverity.ERROR
    assert "UNSEEN" in unaccounted.description
    # Inside emission_job no client check may stop the invoices of the account's other deals.
    assert [spec.name for check in CHECKS for spec in check.check_specs if spec.blocking] == []


def test_an_unreadable_omie_client_is_counted_not_a_failed_index(make_sim, store: Store, instance) -> None:
    sim = make_sim(seed=8, clients=6)
    (broken,) = seeded_clients(sim, 1)
    with sim.state.lock:
        sim.state.clients[broken["codigo_cliente_omie"]]["info"]["dInc"] = "00/13/2026"
    result = dg.materialize([client_index], partition_key=ACCOUNT, instance=instance, resources=_resources(sim, store))
    assert result.success
    index = _metadata(result, "client_index")
    assert (index["clients_listed"], index["clients_unreadable_skipped"]) == (5, 1)
    assert (
        str(broken["codigo_cliente_omie"]) in index["unreadable_clients"] and "info.dInc" in index["unreadable_clients"]
    )
