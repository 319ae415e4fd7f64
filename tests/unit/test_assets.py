"""Dagster assets run on the in-memory Omie: invoked directly (`build_asset_context`) and materialised
in memory with the Omie resource swapped, so the asset's own work and metadata are tested in
milliseconds; the HTTP simulator runs them in the integration layer (tests/deals, tests/invoices...)."""

from __future__ import annotations

from typing import ClassVar

import dagster as dg

from omie_pipeline.defs.assets.clients import client_index, client_links
from omie_pipeline.defs.assets.invoices import nfse_invoices, nfse_status
from omie_pipeline.defs.partitions import ACCOUNTS_PARTITION_NAME
from omie_pipeline.defs.resources import OmieResource, PipelineResource, StoreResource
from support.fake_omie import FakeOmie

from .conftest import ACCOUNT, Books


class FakeOmieResource(OmieResource):
    """The Omie resource answering from a FakeOmie registered under `fake_name` (Dagster copies
    resources, so the fake itself is found by name rather than held)."""

    fake_name: str = "default"
    fakes: ClassVar[dict[str, FakeOmie]] = {}

    def client(self, store=None, account=None, config=None) -> FakeOmie:  # one fake company: no streaks, no guard
        return self.fakes[self.fake_name]


def _resources(books: Books, name: str) -> dict:
    FakeOmieResource.fakes[name] = books.fake
    return {
        "omie": FakeOmieResource(fake_name=name, redundant_seconds=0),
        "store": StoreResource(db_url=books.store.url),
        "pipeline": PipelineResource(account=ACCOUNT),
    }


def test_client_index_invoked_directly_mirrors_omie_and_says_how_many(books: Books, request) -> None:
    resources = _resources(books, request.node.name)
    context = dg.build_asset_context(partition_key=ACCOUNT)

    result = client_index(context, **resources)

    metadata = {key: getattr(value, "value", value) for key, value in result.metadata.items()}
    assert metadata["dagster/row_count"] == 1
    assert books.fake.calls["ListarClientes"] == 1


def test_emission_then_status_materialise_in_memory_with_the_fake(books: Books, request) -> None:
    deal_id = books.add_deal()
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(ACCOUNTS_PARTITION_NAME, [ACCOUNT])
        issued = dg.materialize(
            [nfse_invoices], partition_key=ACCOUNT, instance=instance, resources=_resources(books, request.node.name)
        )
        books.fake.issue_note(books.invoice(deal_id).omie_os_id)
        refreshed = dg.materialize(
            [nfse_status], partition_key=ACCOUNT, instance=instance, resources=_resources(books, request.node.name)
        )

    assert issued.success and refreshed.success
    (emission,) = issued.asset_materializations_for_node("nfse_invoices")
    assert emission.metadata["outcome_submitted"].value == 1
    assert books.invoice(deal_id).status == "issued"
    assert books.fake.calls["IncluirOS"] == 1


def test_client_links_links_the_deal_to_the_omie_client(books: Books, request) -> None:
    books.add_deal(link=False)
    resources = _resources(books, request.node.name)
    client_index(dg.build_asset_context(partition_key=ACCOUNT), **resources)

    result = client_links(dg.build_asset_context(partition_key=ACCOUNT), **resources)

    metadata = {key: getattr(value, "value", value) for key, value in result.metadata.items()}
    assert books.fake.calls["IncluirCliente"] == 0
    assert any("matched" in key and value == 1 for key, value in metadata.items()), metadata
