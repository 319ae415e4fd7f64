"""Where the steps of a run execute, chosen by the deployment rather than the code.

One machine runs each step in a subprocess of the run (Dagster's multiprocess executor). Several
machines hand the steps to Celery workers through a broker (Redis or RabbitMQ): the same jobs,
assets and resources, only this executor differs. The broker's URL may carry a password, so it is
bound as an environment variable and the UI shows its name, never its value.
"""

from __future__ import annotations

import dagster as dg

from omie_pipeline.settings import Settings

BROKER_VARIABLE = "OMIE_PIPELINE_CELERY_BROKER"
BACKEND_VARIABLE = "OMIE_PIPELINE_CELERY_BACKEND"


def build_executor(settings: Settings) -> dg.ExecutorDefinition:
    """The executor of every job of the code location, as `OMIE_PIPELINE_EXECUTOR` says."""
    if settings.omie_pipeline_executor == "celery":
        from dagster_celery import celery_executor  # installed with the `deploy` extra, only where used

        config: dict = {"broker": {"env": BROKER_VARIABLE}}
        if settings.omie_pipeline_celery_backend is not None:
            config["backend"] = {"env": BACKEND_VARIABLE}
        return celery_executor.configured(config, name="celery")
    return dg.multiprocess_executor
