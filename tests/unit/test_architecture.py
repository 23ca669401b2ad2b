"""The shape of ``messenger/``: dependencies point one way, no import cycle between its
packages (imports inside functions and ``TYPE_CHECKING`` blocks included), no module too
long to read. Read from the source with ``ast``: nothing is imported or run."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "messenger"
MAX_MODULE_LINES = 400

#: The layers, bottom up (docs/architecture.md): a unit may import its own layer or lower.
LAYERS: dict[str, int] = {
    # what everything stands on
    "__version__": 0,
    "config": 0,
    "i18n": 0,
    "errors": 0,
    "metrics": 0,
    "logs": 0,
    "state": 0,
    "presence": 0,
    "client_ip": 0,
    "memory": 0,
    "backends": 0,
    "subscribers": 0,
    "redis_pipe": 0,
    # persistence (models, migrations config, domain events recorded on the session)
    "db": 1,
    # the domain
    "accounts": 2,
    "branches": 2,
    "inboxes": 2,
    "routing": 2,
    "visitors": 2,
    "attachments": 2,
    "conversations": 2,
    "api_tokens": 2,
    "contacts": 2,
    "replies": 2,
    "startup": 2,
    "webhooks": 2,
    "mail": 2,
    "reports": 2,
    "audit": 2,
    "privacy": 2,
    # live fan-out and the unit of work that publishes after commit
    "realtime": 3,
    # HTTP: the Widget API, the integration API, the dashboard, operational endpoints, the demo
    "widget": 4,
    "api": 4,
    "dashboard": 4,
    "system": 4,
    "demo": 4,
    "error_handlers": 4,
    "templating": 4,
    "security_headers": 4,
    "api_docs": 4,
    # the composition root and the release checklist
    "app": 5,
    "checks": 5,
    "worker": 5,
    # the command line
    "cli": 6,
    "__main__": 6,
}


def _unit(module: str) -> str:
    """``messenger.widget.service`` → ``widget``; ``messenger.app`` → ``app``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "messenger"


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "messenger":
                found |= {f"messenger.{alias.name}" for alias in node.names}
            elif node.module.startswith("messenger."):
                found.add(node.module)
        elif isinstance(node, ast.ImportFrom) and node.level > 0:
            pytest.fail(f"{path}: relative import; write messenger.… in full")
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("messenger.")}
    return found


def _modules() -> dict[str, Path]:
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules[name] = path
    return modules


def package_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in _modules().items():
        source = _unit(name)
        for target in map(_unit, _imports(path)):
            if target not in {source, "messenger"}:
                graph[source].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one member (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_cycle_finder_finds_a_planted_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_between_packages() -> None:
    assert cycles(package_graph()) == []


def test_every_package_has_a_layer() -> None:
    units = {_unit(name) for name in _modules()} - {"messenger"}
    assert units - LAYERS.keys() == set(), "place the new package in LAYERS (and the docs)"


def test_dependencies_point_down_the_layers() -> None:
    upward = sorted(
        f"{source} (layer {LAYERS[source]}) imports {target} (layer {LAYERS[target]})"
        for source, targets in package_graph().items()
        for target in targets
        if LAYERS.get(target, 99) > LAYERS.get(source, -1)
    )
    assert upward == []


def test_no_module_is_too_long_to_read() -> None:
    long = sorted(
        f"{path.relative_to(PACKAGE.parent)}: {lines} lines"
        for path in PACKAGE.rglob("*.py")
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    )
    assert long == []
