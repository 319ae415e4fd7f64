"""Asset checks, one module per asset group (the same groups as `defs/assets/`).

What a blocking check blocks. Dagster holds back the assets downstream of a blocking check in the
same run, and a blocking check that fails with ERROR severity fails its step, hence the run, which
`sync_run_failures` alerts on once. Every blocking check of this project sits on the last asset its
job materialises, so what it blocks is that run's success and the alert says so:

- `nfse_invoices_one_os_and_nfse_each` (emission_job): two deals on one OS or one NFS-e is a fault
  of the pipeline, never of the data; the run fails and someone looks at it now.
- `tax_rates_follow_rules` and `mapped_services_have_rates` (catalog_job): the catalog run fails.
  The emission job does not wait on them: issuing already refuses, deal by deal, a service without
  rates in force or with rates against the regime's rules (an issue with its fix), and waiting
  would hold back every other deal of the account.
- The report's own checks (`reconciliation_report_every_deal_once`, `..._totals_match_store`, in
  `defs/assets/report.py`): the report run fails after writing its files, so finance learns that
  the day's figures cannot be trusted.

Every other check is non-blocking: a matter of data for people to look at (WARN), or a fault that
must not stop the other deals (ERROR, not blocking).
"""
