"""`client_index` (the mirror of Omie's clients) and `client_links` (each closed deal's Omie client).

No check here blocks: they run inside `emission_job`, and one client merged or deleted in Omie (a
matter of data, listed as issues on the deals concerned) must not stop the invoices of every other
deal of the account.
"""


import dagster as dg

from omie_pipeline.defs.assets.deals import closed_deals
from omie_pipeline.defs.metadata import MAX_TABLE_ROWS, markdown_table
from omie_pipeline.defs.partitions import accounts
from omie_pipeline.defs.resources import OmieResource, StoreResource
from omie_pipeline.defs.retries import READ_RETRY, retry_only_transient
from omie_pipeline.domain.documents import mask_document
from omie_pipeline.omie import errors
from omie_pipeline.store.clients import conflicting_links, duplicate_documents, link_counts, valid_deals_without_outcome
from omie_pipeline.store.deals import open_issue_counts
from omie_pipeline.sync.client_index import refresh_client_index
from omie_pipeline.sync.clients import CLIENT_STAGE, link_clients

GROUP = "clients"


class ClientIndexConfig(dg.Config):
    full_refresh: bool = False  # list every client instead of those changed since the last listing


@dg.asset(partitions_def=accounts, pool="omie_api", group_name=GROUP, kinds={"omie"}, retry_policy=READ_RETRY)
def client_index(
    context: dg.AssetExecutionContext, config: ClientIndexConfig, omie: OmieResource, store: StoreResource
) -> dg.MaterializeResult:
    """Omie's clients of one account by CPF/CNPJ, listed in pages and refreshed by change date."""
    account = context.partition_key
    with retry_only_transient():
        refreshed = refresh_client_index(omie.client(store.store()), store.store(), account,
                                         full_refresh=config.full_refresh)
    duplicates = refreshed.duplicates_for_people()
    if refreshed.skipped:
        context.log.warning("%d Omie client record(s) could not be read and were skipped: %s", len(refreshed.skipped),
                            "; ".join(f"{skip.codigo_cliente_omie}: {', '.join(skip.fields)}"
                                      for skip in refreshed.skipped[:MAX_TABLE_ROWS]))
    if duplicates:
        context.log.warning("%d document(s) held by more than one Omie client: %s", len(duplicates),
                            "; ".join(f"{doc}: {ids}" for doc, ids in list(duplicates.items())[:MAX_TABLE_ROWS]))
    return dg.MaterializeResult(metadata={
        "dagster/row_count": refreshed.total,
        "listing": "full" if refreshed.full else f"changed since {refreshed.since:%d/%m/%Y}",
        "clients_listed": refreshed.listed,
        "clients_removed": refreshed.removed,
        "documents_registered_twice": len(duplicates),
        "clients_unreadable_skipped": len(refreshed.skipped),
        **_calls_metadata(refreshed.calls),
        **({"unreadable_clients": dg.MetadataValue.md(_skipped_table(refreshed.skipped))} if refreshed.skipped else {}),
        **({"registered_twice": dg.MetadataValue.md(_duplicates_table(duplicates))} if duplicates else {}),
    })


@dg.asset_check(asset=client_index, name="client_documents_unique", partitions_def=accounts,
                description="No CPF/CNPJ is registered for two Omie clients (deals of such a document are not linked).")
def client_documents_unique(context: dg.AssetCheckExecutionContext, store: StoreResource) -> dg.AssetCheckResult:
    with store.store().connect() as connection:
        duplicates = {mask_document(doc): ids for doc, ids in duplicate_documents(connection, context.partition_key).items()}
    return dg.AssetCheckResult(
        passed=not duplicates,
        severity=dg.AssetCheckSeverity.WARN,
        description="every document belongs to one Omie client" if not duplicates
        else f"{len(duplicates)} document(s) registered twice in Omie: merge them there",
        metadata={
            "documents_registered_twice": len(duplicates),
            **({"registered_twice": dg.MetadataValue.md(_duplicates_table(duplicates))} if duplicates else {}),
        },
    )


@dg.asset(partitions_def=accounts, pool="omie_api", group_name=GROUP, kinds={"omie"},
          deps=[closed_deals, client_index])
def client_links(context: dg.AssetExecutionContext, omie: OmieResource, store: StoreResource) -> dg.MaterializeResult:
    """Each valid closed deal's Omie client: matched by CPF/CNPJ, or created once; else an issue."""
    account = context.partition_key
    try:
        linked = link_clients(omie.client(store.store()), store.store(), account)
    except errors.OmieError as error:
        raise dg.Failure(description=f"Omie stopped the linking: {error}", allow_retries=False) from error
    with store.store().connect() as connection:
        totals = link_counts(connection, account)
        open_by_reason = open_issue_counts(connection, account, CLIENT_STAGE)
    return dg.MaterializeResult(metadata={
        "dagster/row_count": sum(totals.values()),
        "deals_considered": linked.deals,
        "documents": linked.documents,
        "matched": linked.linked["matched"],
        "created": linked.linked["created"],
        "adopted": linked.linked["adopted"],
        "clients_created": linked.clients_created,
        "clients_adopted": linked.clients_adopted,
        "deals_with_issues": linked.deals_with_issues,
        "refused_awaiting_crm_fix": linked.awaiting_fix,
        "client_gone_awaiting_omie_fix": linked.awaiting_omie,
        "relinked": linked.relinked,
        "unlinked": linked.unlinked,
        "issues_by_reason": dg.MetadataValue.json(dict(linked.issues_by_reason)),
        "links_total": dg.MetadataValue.json(totals),
        "open_client_issues": sum(open_by_reason.values()),
        **{f"open_issues/{reason}": count for reason, count in sorted(open_by_reason.items())},
        **_calls_metadata(linked.calls),
    })


@dg.asset_check(asset=client_links, name="every_valid_deal_linked_or_listed", partitions_def=accounts,
                description="No valid closed deal is left without an Omie client or an open issue saying why. "
                            "ERROR: such a deal is a fault of the pipeline, not of the data; not blocking, since "
                            "the other deals are fine.")
def every_valid_deal_linked_or_listed(context: dg.AssetCheckExecutionContext, store: StoreResource) -> dg.AssetCheckResult:
    with store.store().connect() as connection:
        missing = valid_deals_without_outcome(connection, context.partition_key)
    return dg.AssetCheckResult(
        passed=not missing,
        severity=dg.AssetCheckSeverity.ERROR,
        description="every valid closed deal is linked or listed with its reason" if not missing
        else f"{len(missing)} valid deal(s) neither linked nor listed: {', '.join(missing[:MAX_TABLE_ROWS])}",
        metadata={"deals_unaccounted": len(missing)},
    )


@dg.asset_check(asset=client_links, name="one_client_per_document", partitions_def=accounts,
                description="All deals of one CPF/CNPJ not yet invoiced are linked to the same Omie client. "
                            "WARN: a split comes from clients merged or duplicated in Omie; linking decides the "
                            "document again and lists its deals with the fix.")
def one_client_per_document(context: dg.AssetCheckExecutionContext, store: StoreResource) -> dg.AssetCheckResult:
    with store.store().connect() as connection:
        conflicts = {mask_document(doc): ids for doc, ids in conflicting_links(connection, context.partition_key).items()}
    return dg.AssetCheckResult(
        passed=not conflicts,
        severity=dg.AssetCheckSeverity.WARN,
        description="each document is linked to one Omie client" if not conflicts
        else f"{len(conflicts)} document(s) linked to different Omie clients: decided again on the next linking",
        metadata={
            "documents_with_two_clients": len(conflicts),
            **({"conflicts": dg.MetadataValue.md(_duplicates_table(conflicts))} if conflicts else {}),
        },
    )



def _calls_metadata(calls: dict[str, int]) -> dict[str, int]:
    return {"omie_calls": sum(calls.values()), **{f"omie_calls/{method}": count for method, count in calls.items()}}


def _skipped_table(skipped) -> str:
    return markdown_table(("Omie client", "fields that cannot be read"),
                          [(skip.codigo_cliente_omie, ", ".join(skip.fields)) for skip in skipped])


def _duplicates_table(duplicates: dict[str, list[int]]) -> str:
    return markdown_table(("document", "Omie clients"),
                          [(document, ", ".join(str(i) for i in ids)) for document, ids in duplicates.items()])


CLIENT_ASSETS = [client_index, client_links]
CLIENT_CHECKS = [client_documents_unique, every_valid_deal_linked_or_listed, one_client_per_document]
