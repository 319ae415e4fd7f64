"""Runs left behind by a sync that was killed, and the `omie_api` pool slots they hold.

A sync runs its jobs inside its own process. Killed (SIGKILL, an out-of-memory kill, a power
loss), it can neither mark its run failed nor give back the pool slots its steps hold; with no
daemon watching these runs, the run stays STARTED and the slots stay taken, and every later sync
waits for them forever. So each run a sync starts is tagged with the host and process id of the
sync, and each sync first ends the runs of processes of this host that no longer exist: marked
failed, their slots freed. Slots still held by a run that has finished are freed as well.
"""

from __future__ import annotations

import logging
import os
import socket

import dagster as dg
from dagster._core.storage.dagster_run import DagsterRunStatus

log = logging.getLogger(__name__)

HOST_TAG = "omie_pipeline/sync_host"
PID_TAG = "omie_pipeline/sync_pid"
UNFINISHED = [DagsterRunStatus.NOT_STARTED, DagsterRunStatus.STARTING, DagsterRunStatus.STARTED]


def owner_tags() -> dict[str, str]:
    """Tags naming the process that runs a job in-process."""
    return {HOST_TAG: socket.gethostname(), PID_TAG: str(os.getpid())}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


def end_orphaned_runs(instance: dg.DagsterInstance) -> list[str]:
    """Mark failed the unfinished runs of dead sync processes of this host and free the pool slots
    of every finished run; returns the ids of the runs marked failed."""
    host = socket.gethostname()
    ended = []
    for run in instance.get_runs(filters=dg.RunsFilter(statuses=UNFINISHED)):
        pid = run.tags.get(PID_TAG, "")
        if run.tags.get(HOST_TAG) != host or not pid.isdigit() or _alive(int(pid)):
            continue
        instance.report_run_failed(
            run, f"the sync process that ran it (pid {pid}) ended without finishing it; marked failed by the next sync"
        )
        ended.append(run.run_id)
        log.warning("run %s of a sync process that no longer exists (pid %s) marked failed", run.run_id, pid)
    storage = instance.event_log_storage
    holders = storage.get_concurrency_run_ids() if storage.supports_global_concurrency_limits else set()
    for run_id in holders:
        run = instance.get_run_by_id(run_id)
        if run is None or run.is_finished:
            storage.free_concurrency_slots_for_run(run_id)
    return ended
