"""Dagster wiring: assets, checks, jobs, schedules, sensors and resources. The work lives elsewhere."""
