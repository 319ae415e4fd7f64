"""Settings are read in one place: the settings module, and the entry points that call it.

Everything else receives typed values (Dagster bodies through their resources), so that a test or
a run can be given settings of its own and the Dagster UI shows what a run really uses.
"""

from __future__ import annotations

import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "omie_pipeline"
# The settings module, and the entry points: the CLI, the runner (demo and sync) and the Dagster
# code location, which reads the settings once and makes them into resources.
ALLOWED = ("settings.py", "cli/", "runner/", "definitions.py")
READS = re.compile(r"\bos\.environ\b|\bos\.getenv\b|\bgetenv\(|\bload_settings\(|\benviron\.get\(")


def reads_outside_entry_points(package: Path) -> list[str]:
    found = []
    for path in sorted(package.rglob("*.py")):
        relative = path.relative_to(package).as_posix()
        if relative.startswith(ALLOWED):
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if READS.search(line):
                found.append(f"{relative}:{number}: {line.strip()}")
    return found


def test_only_the_settings_module_and_the_entry_points_read_the_environment() -> None:
    assert reads_outside_entry_points(PACKAGE) == []


def test_the_scan_finds_a_read_where_it_does_not_belong(tmp_path: Path) -> None:
    (tmp_path / "defs").mkdir()
    (tmp_path / "defs" / "sneaky.py").write_text("import os\nURL = os.environ.get('X')\n", encoding="utf-8")
    (tmp_path / "cli").mkdir()
    (tmp_path / "cli" / "main.py").write_text("settings = load_settings()\n", encoding="utf-8")
    assert reads_outside_entry_points(tmp_path) == ["defs/sneaky.py:2: URL = os.environ.get('X')"]
