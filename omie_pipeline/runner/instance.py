"""The Dagster instance a sync runs on must hold back a second emitting run of one account.

`dagster_home/dagster.yaml` allows one run at a time per account partition. A DAGSTER_HOME with no
dagster.yaml would run without that limit (and Dagster would print its missing-configuration and
telemetry banners in the middle of the sync), so a sync writes the project's instance file into a
folder that has none, and refuses an existing file that lacks the limit rather than rewrite what
an operator wrote.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import yaml
from filelock import FileLock

from omie_pipeline.defs.partitions import RUN_SLOT_TAG
from omie_pipeline.i18n import _
from omie_pipeline.settings import SettingsError

INSTANCE_TEMPLATE = Path(__file__).resolve().parents[2] / "dagster_home" / "dagster.yaml"
PARTITION_TAG = "dagster/partition"  # the older, stricter limit: every run of an account, one at a time


class InstanceConfigError(SettingsError):
    """The instance's dagster.yaml cannot be used for emission; the message says what to add."""


def prepare_instance(home: Path) -> str | None:
    """Make `home` an instance with the per-account run limit; returns what was done, or None.

    Raises InstanceConfigError when an existing dagster.yaml has no such limit or cannot be read.
    """
    config_path = home / "dagster.yaml"
    if not config_path.exists():
        home.mkdir(parents=True, exist_ok=True)
        partial = home / f".dagster.yaml.{os.getpid()}"  # renamed into place: another sync never reads half a file
        shutil.copy(INSTANCE_TEMPLATE, partial)
        os.replace(partial, config_path)
        return _(
            "wrote {path} (the folder had none): one run at a time per account, run retries, telemetry off"
        ).format(path=config_path)
    try:
        config = yaml.safe_load(config_path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as error:
        raise InstanceConfigError(
            _("DAGSTER_HOME {path} cannot be read: {error}").format(path=config_path, error=error)
        ) from None
    if not limits_one_run_per_account(config):
        raise InstanceConfigError(
            _(
                "{path} does not limit runs to one at a time per account (a tag_concurrency_limits entry for {tag} "
                "with applyLimitPerUniqueValue and limit 1, as in {template}): two emitting runs of one account "
                "could overlap, so the sync does not start; add the limit"
            ).format(path=config_path, tag=RUN_SLOT_TAG, template=INSTANCE_TEMPLATE)
        )
    return None


def create_storage(home: Path) -> None:
    """Open the instance once under a lock file in `home`, so that its storage (Dagster's SQLite
    databases and their schema) is created by one process only.

    Dagster creates that storage on first use without a lock: two syncs started at once on a new
    home both create it, and one of them fails ("table alembic_version already exists"). Once the
    storage exists, this only opens and closes it.
    """
    import dagster as dg

    with FileLock(str(home / ".storage.lock")), dg.DagsterInstance.from_config(str(home)) as instance:
        instance.get_runs(limit=1)  # runs, dynamic partitions
        instance.all_instigator_state()  # schedules and sensors
        instance.get_latest_materialization_event(dg.AssetKey("omie_pipeline_storage_check"))  # the event index


def limits_one_run_per_account(config: Any) -> bool:
    """Whether an instance configuration (parsed dagster.yaml) holds one run per account partition,
    in the `concurrency:` block or in the queued run coordinator's own settings."""
    if not isinstance(config, dict):
        return False
    places = [
        _dig(config, "concurrency", "runs", "tag_concurrency_limits"),
        _dig(config, "run_coordinator", "config", "tag_concurrency_limits"),
    ]
    return any(_is_partition_limit(entry) for place in places if isinstance(place, list) for entry in place)


def _dig(config: dict, *keys: str) -> Any:
    for key in keys:
        if not isinstance(config, dict):
            return None
        config = config.get(key)
    return config


def _is_partition_limit(entry: Any) -> bool:
    if not isinstance(entry, dict) or entry.get("key") not in (RUN_SLOT_TAG, PARTITION_TAG):
        return False
    value = entry.get("value")
    return isinstance(value, dict) and value.get("applyLimitPerUniqueValue") is True and entry.get("limit") == 1
