"""The `omie-pipeline simulator` command, and the rule that the simulator never uses the Omie client."""

from __future__ import annotations

import ast
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

import omie_pipeline.simulator as simulator_package

SIMULATOR_DIR = Path(simulator_package.__file__).parent


def _ignoring_sigint() -> None:
    """What a shell does to a command started in the background: SIGINT ignored by inheritance."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.parametrize("started", [None, _ignoring_sigint], ids=["foreground", "sigint-ignored-by-inheritance"])
def test_cli_prints_url_and_credentials_serves_and_stops_on_interrupt(started):
    command = [
        str(Path(sys.executable).parent / "omie-pipeline"),
        "simulator",
        "--port",
        "0",
        "--clients",
        "3",
        "--app-key",
        "k-123",
        "--app-secret",
        "s-456",
        "--window-seconds",
        "2",
        "--nfse-delay",
        "0.1",
        "0.2",
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=started)
    try:
        banner = [process.stdout.readline() for _ in range(3)]
        base_url = re.search(r"Base URL: (\S+)", banner[0]).group(1)
        assert "k-123" in banner[1] and "s-456" in banner[2]
        envelope = {"call": "ListarClientes", "app_key": "k-123", "app_secret": "s-456", "param": [{"pagina": 1}]}
        body = requests.post(base_url + "geral/clientes/", json=envelope, timeout=5).json()
        assert body["total_de_registros"] == 3

        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=10)
        assert process.returncode == 0, err
        assert "stopped" in out
    finally:
        if process.poll() is None:  # never leave a simulator behind, whatever failed above
            process.kill()
            process.communicate()


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_simulator_imports_nothing_from_the_omie_client():
    files = sorted(SIMULATOR_DIR.rglob("*.py"))
    assert len(files) > 10
    for path in files:
        project = {name for name in _imported_modules(path) if name.startswith("omie_pipeline")}
        allowed = {name for name in project if name.startswith(("omie_pipeline.simulator", "omie_pipeline.domain"))}
        assert project == allowed, f"{path.name} imports {sorted(project - allowed)}"
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, omie_pipeline.simulator; "
            "print(sorted(m for m in sys.modules if m.startswith('omie_pipeline.omie')))",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert loaded.stdout.strip() == "[]"
