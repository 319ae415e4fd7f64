"""On-call operations on one invoice: wait for it, bill it again, cancel it (the bodies of the on-call jobs).

Launched from the Dagster UI's launchpad (`invoice_wait_job`, `invoice_retry_job`,
`invoice_cancel_job`) with the same settings as the CLI commands `omie-pipeline invoices wait` /
`retry` / `cancel`; they call the same plain functions. A run fails when the invoice ends in error,
is still processing at the timeout, cannot be billed again (nothing changed since the refusal, or
Omie refused a step), or Omie refuses the cancellation, so that the run-failure alert tells
someone, with the reason and the fix in the failure's text.
"""

from dataclasses import dataclass

import dagster as dg

from omie_pipeline.defs.resources import OmieResource, PipelineResource, StoreResource, account_client
from omie_pipeline.omie import OmieClient
from omie_pipeline.sync.invoice_actions import (
    DEFAULT_WAIT_SECONDS,
    CancelRefusedError,
    InvoiceActionError,
    WaitExit,
    cancel_invoice,
    wait_for_invoice,
)
from omie_pipeline.sync.invoice_resend import resend_invoice
from omie_pipeline.sync.invoices import InvoiceSteps, IssueSettings, Outcome


class InvoiceWaitConfig(dg.Config):
    deal_id: str
    timeout: float = DEFAULT_WAIT_SECONDS  # seconds
    account: str = ""  # empty: the pipeline resource's account (OMIE_PIPELINE_ACCOUNT)


class InvoiceRetryConfig(dg.Config):
    deal_id: str
    requested_by: str = ""  # empty: the run's user tag, else "dagster run <id>"
    account: str = ""


class InvoiceCancelConfig(dg.Config):
    deal_id: str
    reason: str  # 15 to 255 characters, recorded with who and when
    requested_by: str = ""  # empty: the run's user tag, else "dagster run <id>"
    account: str = ""
    confirm_timeout: float = 120.0  # seconds to wait for Omie's confirmation


@dataclass(frozen=True)
class _Request:
    """A person's request run from the launchpad: the account it is for, who asks, and that account's client."""

    account: str
    requested_by: str
    client: OmieClient


def _request(
    context: dg.OpExecutionContext,
    config: InvoiceRetryConfig | InvoiceCancelConfig,
    omie: OmieResource,
    store: StoreResource,
    pipeline: PipelineResource,
) -> _Request:
    """The config's account (else the pipeline's) and who asks (the config's name, else the run's user, else the
    run itself): every request is recorded with its author."""
    account = config.account or pipeline.account
    requested_by = config.requested_by or context.run.tags.get("dagster/user") or f"dagster run {context.run.run_id}"
    return _Request(account, requested_by, account_client(omie, store, pipeline, account))


def _invoice_metadata(invoice) -> dict[str, object]:
    return {
        "status": invoice.status,
        "nfse_number": invoice.nfse_number or "",
        "verification_code": invoice.verification_code or "",
        "omie_os_id": str(invoice.omie_os_id or ""),
        **({"link": dg.MetadataValue.url(invoice.portal_url)} if invoice.portal_url else {}),
        **({"last_error": invoice.last_error, "fix": invoice.fix or ""} if invoice.last_error else {}),
    }


@dg.op(pool="omie_api")
def wait_for_nfse(
    context: dg.OpExecutionContext,
    config: InvoiceWaitConfig,
    omie: OmieResource,
    store: StoreResource,
    pipeline: PipelineResource,
) -> None:
    """Poll Omie (one request per redundancy interval) until the invoice is final or the timeout."""
    account = config.account or pipeline.account
    try:
        result = wait_for_invoice(
            account_client(omie, store, pipeline, account),
            store.store(),
            account,
            config.deal_id,
            timeout=config.timeout,
            interval=omie.redundant_interval(),
            on_poll=lambda invoice: context.log.info("deal %s: %s", invoice.deal_id, invoice.status),
        )
    except InvoiceActionError as problem:
        raise dg.Failure(description=str(problem)) from problem
    metadata = {**_invoice_metadata(result.invoice), "polls": result.polls, "waited_seconds": result.waited_seconds}
    code = result.exit_code
    if code is WaitExit.ERROR:
        raise dg.Failure(
            description=f"deal {config.deal_id}: the invoice is in error: {result.invoice.last_error}. "
            f"Fix: {result.invoice.fix}",
            metadata=metadata,
        )
    if code is WaitExit.STILL_PROCESSING:
        raise dg.Failure(
            description=f"deal {config.deal_id}: still {result.invoice.status} after "
            f"{config.timeout:.0f} s; the status refresh keeps following it",
            metadata=metadata,
        )
    context.log.info("deal %s: %s", config.deal_id, result.invoice.status)
    context.log_event(dg.AssetObservation(asset_key="nfse_status", partition=account, metadata=metadata))


@dg.op(pool="omie_api")
def retry_nfse(
    context: dg.OpExecutionContext,
    config: InvoiceRetryConfig,
    omie: OmieResource,
    store: StoreResource,
    pipeline: PipelineResource,
) -> None:
    """Bill one refused NFS-e again on its OS, corrected from the deal as it is now."""
    request = _request(context, config, omie, store, pipeline)
    steps = InvoiceSteps(
        request.client,
        store.store(),
        request.account,
        IssueSettings(redundant_interval=omie.redundant_interval()),
        f"dagster:{context.run.run_id}",
    )
    try:
        result = resend_invoice(steps, config.deal_id, requested_by=request.requested_by)
    except InvoiceActionError as problem:
        raise dg.Failure(description=str(problem)) from problem
    if result.outcome not in (Outcome.RESENT, Outcome.ADOPTED):
        raise dg.Failure(description=f"deal {config.deal_id}: {result.outcome.value}: {result.detail}")
    context.log.info("deal %s: %s: %s", config.deal_id, result.outcome.value, result.detail)


@dg.op(pool="omie_api")
def cancel_nfse(
    context: dg.OpExecutionContext,
    config: InvoiceCancelConfig,
    omie: OmieResource,
    store: StoreResource,
    pipeline: PipelineResource,
) -> None:
    """Cancel one issued NFS-e in Omie, recording who, when and why."""
    request = _request(context, config, omie, store, pipeline)
    try:
        result = cancel_invoice(
            request.client,
            store.store(),
            request.account,
            config.deal_id,
            reason=config.reason,
            requested_by=request.requested_by,
            interval=omie.redundant_interval(),
            confirm_timeout=config.confirm_timeout,
        )
    except CancelRefusedError as refused:
        raise dg.Failure(description=f"{refused} Fix: {refused.fix}") from refused
    except (InvoiceActionError, ValueError) as problem:
        raise dg.Failure(description=str(problem)) from problem
    context.log.info(result.message)
    context.log_event(
        dg.AssetObservation(
            asset_key="nfse_status",
            partition=request.account,
            metadata={**_invoice_metadata(result.invoice), "cancel_confirmed": result.confirmed},
        )
    )
