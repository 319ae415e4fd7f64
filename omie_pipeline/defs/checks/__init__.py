"""Asset checks, one module per asset group (the same groups as `defs/assets/`).

No check of this project blocks. Dagster's blocking holds back the assets downstream of the
check's asset in the same run; each of our invariants sits on the last asset its job materialises,
so blocking would only fail a run whose work is already done, and moving a check upstream so that
emission waits on it would stop every deal of the account for a fault that the deal-by-deal
protocol already contains:

- `nfse_invoices_one_os_and_nfse_each` (emission): two deals on one OS or one NFS-e is a fault of
  the pipeline, never of the data. Issuing claims each intent before its call, so a duplicate
  cannot spread to other deals; holding every other deal back would not undo it.
- `tax_rates_follow_rules` and `mapped_services_have_rates` (catalog): issuing already refuses,
  deal by deal, a service without rates in force or with rates against the regime's rules (an
  issue with its fix); waiting on them would hold back the deals of every other service.
- The report's own checks (`reconciliation_report_every_deal_once`, `..._totals_match_store`, in
  `defs/assets/report.py`): nothing is downstream of the report.

- The freshness checks (`freshness.py`: statuses while invoices are open, catalog, tax rates):
  they judge whether the refresh runs happen at all, so they run in a job of their own.

These eight are declared non-blocking with ERROR severity, and the `failed_checks` sensor alerts on
each once per streak of failed evaluations (again only after it has passed in between), on the
same channels as a stuck invoice. Every other check is a matter of data for people to look at in
the UI (WARN), or an ERROR that the reconciliation issues already carry to finance.
"""
