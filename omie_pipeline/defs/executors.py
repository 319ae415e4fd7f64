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
# A step is acknowledged once it has run, so that a worker busy with a long step (an account's
# emission waiting on Omie) reserves no other step meanwhile: another account's steps go to a free
# worker instead of queueing behind it. The same settings are in deploy/celery.yaml for the workers.
WORKER_SETTINGS = {"task_acks_late": True, "worker_prefetch_multiplier": 1}


def build_executor(settings: Settings) -> dg.ExecutorDefinition:
    """The executor of every job of the code location, as `OMIE_PIPELINE_EXECUTOR` says."""
    if settings.omie_pipeline_executor == "celery":
        from dagster_celery import celery_executor  # installed with the `deploy` extra, only where used

        config: dict = {"broker": {"env": BROKER_VARIABLE}, "config_source": WORKER_SETTINGS}
        if settings.omie_pipeline_celery_backend is not None:
            config["backend"] = {"env": BACKEND_VARIABLE}
        return celery_executor.configured(config, name="celery")
    return dg.multiprocess_executor
