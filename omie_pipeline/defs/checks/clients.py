"""Checks of the client assets.

No check here blocks: they run inside `emission_job`, and one client merged or deleted in Omie (a
matter of data, listed as issues on the deals concerned) must not stop the invoices of every other
deal of the account.
"""

import dagster as dg

from omie_pipeline.defs.assets.clients import client_index, client_links
from omie_pipeline.defs.metadata import MAX_TABLE_ROWS, duplicates_table
from omie_pipeline.defs.partitions import accounts
from omie_pipeline.defs.resources import StoreResource
from omie_pipeline.domain.documents import mask_document
from omie_pipeline.i18n import _, ngettext
from omie_pipeline.store.clients import (
    conflicting_links,
    duplicate_documents,
    valid_deals_without_outcome,
)


@dg.asset_check(
    asset=client_index,
    name="client_documents_unique",
    partitions_def=accounts,
    description="No CPF/CNPJ is registered for two Omie clients (deals of such a document are not linked).",
)
def client_documents_unique(context: dg.AssetCheckExecutionContext, store: StoreResource) -> dg.AssetCheckResult:
    with store.store().connect() as connection:
        duplicates = {
            mask_document(doc): ids for doc, ids in duplicate_documents(connection, context.partition_key).items()
        }
    return dg.AssetCheckResult(
        passed=not duplicates,
        severity=dg.AssetCheckSeverity.WARN,
        description=_("every document belongs to one Omie client")
        if not duplicates
        else ngettext(
            "{count} document registered twice in Omie: merge them there",
            "{count} documents registered twice in Omie: merge them there",
            len(duplicates),
        ).format(count=len(duplicates)),
        metadata={
            "documents_registered_twice": len(duplicates),
            **({"registered_twice": dg.MetadataValue.md(duplicates_table(duplicates))} if duplicates else {}),
        },
    )


@dg.asset_check(
    asset=client_links,
    name="every_valid_deal_linked_or_listed",
    partitions_def=accounts,
    description="No valid closed deal is left without an Omie client or an open issue saying why. "
    "ERROR: such a deal is a fault of the pipeline, not of the data; not blocking, since "
    "the other deals are fine.",
)
def every_valid_deal_linked_or_listed(
    context: dg.AssetCheckExecutionContext, store: StoreResource
) -> dg.AssetCheckResult:
    with store.store().connect() as connection:
        missing = valid_deals_without_outcome(connection, context.partition_key)
    return dg.AssetCheckResult(
        passed=not missing,
        severity=dg.AssetCheckSeverity.ERROR,
        description=_("every valid closed deal is linked or listed with its reason")
        if not missing
        else ngettext(
            "{count} valid deal neither linked nor listed: {deals}",
            "{count} valid deals neither linked nor listed: {deals}",
            len(missing),
        ).format(count=len(missing), deals=", ".join(missing[:MAX_TABLE_ROWS])),
        metadata={"deals_unaccounted": len(missing)},
    )


@dg.asset_check(
    asset=client_links,
    name="one_client_per_document",
    partitions_def=accounts,
    description="All deals of one CPF/CNPJ not yet invoiced are linked to the same Omie client. "
    "WARN: a split comes from clients merged or duplicated in Omie; linking decides the "
    "document again and lists its deals with the fix.",
)
def one_client_per_document(context: dg.AssetCheckExecutionContext, store: StoreResource) -> dg.AssetCheckResult:
    with store.store().connect() as connection:
        conflicts = {
            mask_document(doc): ids for doc, ids in conflicting_links(connection, context.partition_key).items()
        }
    return dg.AssetCheckResult(
        passed=not conflicts,
        severity=dg.AssetCheckSeverity.WARN,
        description=_("each document is linked to one Omie client")
        if not conflicts
        else ngettext(
            "{count} document linked to different Omie clients: decided again on the next linking",
            "{count} documents linked to different Omie clients: decided again on the next linking",
            len(conflicts),
        ).format(count=len(conflicts)),
        metadata={
            "documents_with_two_clients": len(conflicts),
            **({"conflicts": dg.MetadataValue.md(duplicates_table(conflicts))} if conflicts else {}),
        },
    )


CLIENT_CHECKS = [client_documents_unique, every_valid_deal_linked_or_listed, one_client_per_document]
