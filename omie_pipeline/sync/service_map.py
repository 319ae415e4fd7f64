"""The product -> service map: which Omie service (by its `cCodigo`) a CRM product is invoiced as.

The file is YAML, one `PRODUCT_CODE: SERVICE_CODE` line per product. It decides the tax treatment
of every invoice, so it is read strictly: a key or value that YAML would read as something other
than text (`1001`, `0012` -- octal! --, `yes`, `null`), an empty code, a nested value or a product
written twice is reported with its line and left out, while every good line still loads. A product
left out is then unmapped, which the catalog check reports by name before anything is invoiced.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import yaml

from omie_pipeline.domain.timeutil import now_utc
from omie_pipeline.i18n import N_, _
from omie_pipeline.store import Store
from omie_pipeline.store.catalog import replace_service_map

PROJECT_ROOT = Path(__file__).resolve().parents[2]
PRODUCT_CODE_MAX = 128
SERVICE_CODE_MAX = 60
_STRING_TAG = "tag:yaml.org,2002:str"
_YAML_TYPE_NAMES = {
    "tag:yaml.org,2002:int": N_("a number"),
    "tag:yaml.org,2002:float": N_("a number"),
    "tag:yaml.org,2002:bool": N_("a yes/no value"),
    "tag:yaml.org,2002:timestamp": N_("a date"),
}
_PRODUCT_CODE = N_("the product code")
_SERVICE_CODE = N_("the service code")


class ServiceMapError(ValueError):
    """The map file as a whole cannot be used (missing, not YAML, not a mapping)."""


@dataclass(frozen=True)
class MapProblem:
    """One line of the map file that was left out, and why."""

    line: int
    product_code: str
    message: str

    def __str__(self) -> str:
        return _("line {line} ({product}): {message}").format(
            line=self.line, product=self.product_code, message=self.message
        )


@dataclass
class ServiceMap:
    """What a map file holds: the good entries and the lines left out."""

    path: Path
    entries: dict[str, str] = field(default_factory=dict)
    problems: list[MapProblem] = field(default_factory=list)


def read_service_map(path: str | Path) -> ServiceMap:
    """Read and check a map file; raises ServiceMapError only when nothing in it can be used."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ServiceMapError(
            _("service map {path} does not exist; create it or set OMIE_PIPELINE_SERVICE_MAP").format(path=path)
        ) from None
    except (OSError, UnicodeDecodeError) as error:
        raise ServiceMapError(_("service map {path} cannot be read: {error}").format(path=path, error=error)) from None
    return parse_service_map(text, path)


def parse_service_map(text: str, path: str | Path = "<service map>") -> ServiceMap:
    """The entries and problems of map text (see the module docstring for the rules)."""
    result = ServiceMap(path=Path(path))
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as error:
        raise ServiceMapError(
            _("service map {path} is not valid YAML: {error}").format(path=path, error=error)
        ) from None
    if root is None:
        return result
    if not isinstance(root, yaml.MappingNode):
        raise ServiceMapError(
            _("service map {path} must be lines of PRODUCT_CODE: SERVICE_CODE, not {kind} (line {line})").format(
                path=path, kind=_node_kind(root), line=_line(root)
            )
        )

    seen_on: dict[str, list[int]] = {}
    candidates: dict[str, str] = {}
    for key_node, value_node in root.value:
        line = _line(key_node)
        product = _scalar_text(key_node)
        if product is None:
            shown = key_node.value if isinstance(key_node, yaml.ScalarNode) else _node_kind(key_node)
            result.problems.append(MapProblem(line, str(shown), _not_text(_PRODUCT_CODE, key_node)))
            continue
        seen_on.setdefault(product, []).append(line)
        problem = _entry_problem(product, value_node)
        if problem:
            result.problems.append(MapProblem(line, product, problem))
            continue
        candidates[product] = _scalar_text(value_node) or ""

    for product, lines in seen_on.items():
        if len(lines) > 1:
            listed = ", ".join(str(number) for number in lines)
            result.problems.append(
                MapProblem(
                    lines[-1],
                    product,
                    _("written {count} times (lines {lines}); keep one line, none of them is loaded").format(
                        count=len(lines), lines=listed
                    ),
                )
            )
            candidates.pop(product, None)
    result.entries = dict(sorted(candidates.items()))
    result.problems.sort(key=lambda problem: problem.line)
    return result


def service_map_path(configured: str | Path) -> Path:
    """The map file OMIE_PIPELINE_SERVICE_MAP names. A relative path is read from the current folder
    when it is there, else from the project folder, where the default `config/service_map.yaml` ships."""
    path = Path(configured).expanduser()
    if path.is_absolute() or path.exists():
        return path.resolve()
    return PROJECT_ROOT / path


def load_service_map(store: Store, account: str, path: str | Path, now: datetime | None = None) -> ServiceMap:
    """Read the map file and make it the account's map in the store (all rows replaced at once)."""
    service_map = read_service_map(path)
    with store.begin() as connection:
        replace_service_map(connection, account, service_map.entries, now or now_utc())
    return service_map


def _entry_problem(product: str, value_node: yaml.Node) -> str | None:
    if not product:
        return _("the product code is empty")
    if len(product) > PRODUCT_CODE_MAX:
        return _("the product code is longer than {limit} characters").format(limit=PRODUCT_CODE_MAX)
    service = _scalar_text(value_node)
    if service is None:
        return _not_text(_SERVICE_CODE, value_node)
    if not service:
        return _("the service code is empty; write the Omie service's code (cCodigo), e.g. SRV001")
    if len(service) > SERVICE_CODE_MAX:
        return _("the service code is longer than {limit} characters").format(limit=SERVICE_CODE_MAX)
    return None


def _scalar_text(node: yaml.Node) -> str | None:
    """The stripped text of a scalar YAML reads as a string; None for anything else."""
    if isinstance(node, yaml.ScalarNode) and node.tag == _STRING_TAG:
        return node.value.strip()
    return None


def _not_text(what: str, node: yaml.Node) -> str:
    """Why the code `what` (`_PRODUCT_CODE` or `_SERVICE_CODE`, untranslated) is not text."""
    if isinstance(node, yaml.ScalarNode):
        if node.tag == "tag:yaml.org,2002:null":
            return _("{what} is missing").format(what=_(what))
        kind = _(_YAML_TYPE_NAMES[node.tag]) if node.tag in _YAML_TYPE_NAMES else _("something other than text")
        return _("{what} '{value}' is read by YAML as {kind}; put it in quotes: '{value}'").format(
            what=_(what), value=node.value, kind=kind
        )
    return _("{what} must be a single code, not {kind}").format(what=_(what), kind=_node_kind(node))


def _node_kind(node: yaml.Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return _("a mapping")
    if isinstance(node, yaml.SequenceNode):
        return _("a list")
    return _("a single value")


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1
