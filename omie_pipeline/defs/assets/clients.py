"""`client_index` (the mirror of Omie's clients) and `client_links` (each closed deal's Omie client)."""

import dagster as dg

from omie_pipeline.defs.assets.deals import closed_deals
from omie_pipeline.defs.metadata import MAX_TABLE_ROWS, duplicates_table, markdown_table
from omie_pipeline.defs.partitions import accounts
from omie_pipeline.defs.resources import OmieResource, PipelineResource, StoreResource, account_client
from omie_pipeline.defs.retries import READ_RETRY, retry_only_transient
from omie_pipeline.omie import errors
from omie_pipeline.store.clients import link_counts
from omie_pipeline.store.deals import open_issue_counts
from omie_pipeline.sync.client_index import refresh_client_index
from omie_pipeline.sync.clients import CLIENT_STAGE, link_clients

GROUP = "clients"


class ClientIndexConfig(dg.Config):
    full_refresh: bool = False  # list every client instead of those changed since the last listing


@dg.asset(partitions_def=accounts, pool="omie_api", group_name=GROUP, kinds={"omie"}, retry_policy=READ_RETRY)
def client_index(
    context: dg.AssetExecutionContext,
    config: ClientIndexConfig,
    omie: OmieResource,
    store: StoreResource,
    pipeline: PipelineResource,
) -> dg.MaterializeResult:
    """Omie's clients of one account by CPF/CNPJ, listed in pages and refreshed by change date."""
    account = context.partition_key
    with retry_only_transient():
        refreshed = refresh_client_index(
            account_client(omie, store, pipeline, account),
            store.store(),
            account,
            full_refresh=config.full_refresh,
        )
    duplicates = refreshed.duplicates_for_people()
    if refreshed.skipped:
        context.log.warning(
            "%d Omie client record(s) could not be read and were skipped: %s",
            len(refreshed.skipped),
            "; ".join(
                f"{skip.codigo_cliente_omie}: {', '.join(skip.fields)}" for skip in refreshed.skipped[:MAX_TABLE_ROWS]
            ),
        )
    if duplicates:
        context.log.warning(
            "%d document(s) held by more than one Omie client: %s",
            len(duplicates),
            "; ".join(f"{doc}: {ids}" for doc, ids in list(duplicates.items())[:MAX_TABLE_ROWS]),
        )
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": refreshed.total,
            "listing": "full" if refreshed.full else f"changed since {refreshed.since:%d/%m/%Y}",
            "clients_listed": refreshed.listed,
            "clients_removed": refreshed.removed,
            "documents_registered_twice": len(duplicates),
            "clients_unreadable_skipped": len(refreshed.skipped),
            **_calls_metadata(refreshed.calls),
            **(
                {"unreadable_clients": dg.MetadataValue.md(_skipped_table(refreshed.skipped))}
                if refreshed.skipped
                else {}
            ),
            **({"registered_twice": dg.MetadataValue.md(duplicates_table(duplicates))} if duplicates else {}),
        }
    )


@dg.asset(partitions_def=accounts, pool="omie_api", group_name=GROUP, kinds={"omie"}, deps=[closed_deals, client_index])
def client_links(
    context: dg.AssetExecutionContext, omie: OmieResource, store: StoreResource, pipeline: PipelineResource
) -> dg.MaterializeResult:
    """Each valid closed deal's Omie client: matched by CPF/CNPJ, or created once; else an issue."""
    account = context.partition_key
    try:
        linked = link_clients(account_client(omie, store, pipeline, account), store.store(), account)
    except errors.OmieError as error:
        raise dg.Failure(description=f"Omie stopped the linking: {error}", allow_retries=False) from error
    with store.store().connect() as connection:
        totals = link_counts(connection, account)
        open_by_reason = open_issue_counts(connection, account, CLIENT_STAGE)
    return dg.MaterializeResult(
        metadata={
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
        }
    )


def _calls_metadata(calls: dict[str, int]) -> dict[str, int]:
    return {"omie_calls": sum(calls.values()), **{f"omie_calls/{method}": count for method, count in calls.items()}}


def _skipped_table(skipped) -> str:
    return markdown_table(
        ("Omie client", "fields that cannot be read"),
        [(skip.codigo_cliente_omie, ", ".join(skip.fields)) for skip in skipped],
    )


CLIENT_ASSETS = [client_index, client_links]
