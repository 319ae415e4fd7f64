"""The unit layer keeps its promises: the fake stands where the client stands, every public
function of omie_pipeline/sync/ is exercised here, and nothing here reaches for the HTTP simulator."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import omie_pipeline.sync
from omie_pipeline.omie import OmieClient
from support.fake_omie import FakeOmie

UNIT = Path(__file__).parent
SUPPORT = UNIT.parent / "support"
SYNC = Path(omie_pipeline.sync.__file__).parent


def _public_functions() -> list[tuple[str, str]]:
    found = []
    for module in sorted(SYNC.glob("*.py")):
        for node in ast.parse(module.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.FunctionDef) and not node.name.startswith("_"):
                found.append((module.name, node.name))
    return found


def test_every_public_sync_function_is_called_by_a_unit_test() -> None:
    tests = "\n".join(
        path.read_text(encoding="utf-8") for path in UNIT.glob("*.py") if path.name != Path(__file__).name
    )
    missing = [f"{module}: {name}" for module, name in _public_functions() if not re.search(rf"\b{name}\(", tests)]
    assert not missing, "sync functions no unit test calls: " + ", ".join(missing)


def test_the_unit_layer_and_the_fake_never_touch_the_simulator() -> None:
    imports = re.compile(r"^\s*(from|import)\s+(omie_pipeline\.simulator|support\.simulated_omie)", re.MULTILINE)
    fixtures = re.compile(r"def \w+\([^)]*\b(make_sim|sim)\b")
    for path in [*UNIT.glob("*.py"), SUPPORT / "fake_omie.py"]:
        if path.name == Path(__file__).name:
            continue
        text = path.read_text(encoding="utf-8")
        assert not imports.search(text), f"{path.name} imports the simulator"
        assert not fixtures.search(text), f"{path.name} uses a simulator fixture"


def test_the_fake_has_every_public_method_of_the_client_with_the_same_parameters() -> None:
    for name, method in inspect.getmembers(OmieClient, inspect.isfunction):
        if name.startswith("_"):
            continue
        assert hasattr(FakeOmie, name), f"FakeOmie lacks {name}"
        wanted = list(inspect.signature(method).parameters)
        assert list(inspect.signature(getattr(FakeOmie, name)).parameters) == wanted, name
