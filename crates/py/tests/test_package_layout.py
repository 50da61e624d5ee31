"""The package's shape: one module per feature, each listed in the registry, and no import
cycle between the package's modules (imports at module level and inside functions alike)."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

import fastllm_litellm

PACKAGE = "fastllm_litellm"
ROOT = Path(fastllm_litellm.__file__).resolve().parent
INIT = "__init__"


def _modules() -> dict[str, Path]:
    """The package's Python modules by name (``__init__`` for the package itself)."""
    return {path.stem: path for path in sorted(ROOT.glob("*.py"))}


def _known() -> set[str]:
    """The names an import can reach inside the package: its Python modules and its native one."""
    return set(_modules()) | {path.name.split(".", 1)[0] for path in ROOT.glob("_native.*")}


def _target(dotted: str, known: set[str]) -> str | None:
    """The package module an absolute import of ``dotted`` runs, or None outside the package."""
    if dotted == PACKAGE:
        return INIT
    if dotted.startswith(PACKAGE + "."):
        name = dotted[len(PACKAGE) + 1 :].split(".", 1)[0]
        return name if name in known else INIT
    return None


def _imports(path: Path, known: set[str]) -> set[str]:
    """Every package module ``path`` imports, wherever the import statement stands
    (``import``, ``from ... import``, relative imports, ``importlib.import_module("...")``)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(t for alias in node.names if (t := _target(alias.name, known)) is not None)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative to this package (its modules sit at the top level)
                base = f"{PACKAGE}.{base}" if base else PACKAGE
            if base == PACKAGE:  # `from fastllm_litellm import x`: module x, or a name of __init__
                found.update(alias.name if alias.name in known else INIT for alias in node.names)
            elif (t := _target(base, known)) is not None:
                found.add(t)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
            and (t := _target(node.args[0].value, known)) is not None
        ):
            found.add(t)
    return found


def _graph() -> dict[str, set[str]]:
    known = _known()
    graph = {name: _imports(path, known) - {name} for name, path in _modules().items()}
    for name in known - set(graph):  # the native module imports nothing of ours
        graph[name] = set()
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph`` (its modules in order, the first repeated last), or None."""
    done: set[str] = set()
    path: list[str] = []
    on_path: set[str] = set()

    def visit(node: str) -> list[str] | None:
        path.append(node)
        on_path.add(node)
        for successor in sorted(graph.get(node, ())):
            if successor in on_path:
                return path[path.index(successor) :] + [successor]
            if successor not in done:
                found = visit(successor)
                if found is not None:
                    return found
        path.pop()
        on_path.discard(node)
        done.add(node)
        return None

    for start in sorted(graph):
        if start not in done:
            found = visit(start)
            if found is not None:
                return found
    return None


def test_the_cycle_finder_finds_cycles_and_only_cycles():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None
    assert _cycle({"patch": {"_router"}, "_router": {"_caches", "patch"}, "_caches": set()}) == [
        "_router",
        "patch",
        "_router",
    ]


def test_imports_are_read_wherever_they_stand(tmp_path):
    source = tmp_path / "probe.py"
    source.write_text(
        "import fastllm_litellm\n"
        "from fastllm_litellm import _native, FastLLMError\n"
        "def later():\n"
        "    from fastllm_litellm.patch import status\n"
        "    from . import _router\n"
        "    import fastllm_litellm._status as s\n"
        "    importlib.import_module('fastllm_litellm._compat')\n"
        "    import litellm\n",
        encoding="utf-8",
    )
    assert _imports(source, _known()) == {INIT, "_native", "patch", "_router", "_status", "_compat"}


def test_the_package_has_no_import_cycle():
    graph = _graph()
    assert {"patch", "_feature", "_caches", "_token_counter", "_rate_limit", "_router"} <= set(graph)
    assert _cycle(graph) is None, f"import cycle: {' -> '.join(_cycle(graph) or ())}"


def test_features_sit_below_the_registry():
    """The registry imports the features; no feature module imports the registry (nor the
    package's ``__init__``, which imports the registry)."""
    graph = _graph()
    for name in fastllm_litellm.FEATURES:
        assert f"_{name}" in graph["patch"], name
        assert not {"patch", INIT} & graph[f"_{name}"], (name, graph[f"_{name}"])
    assert not {"patch", INIT} & (graph["_feature"] | graph["_caches"] | graph["_status"])


@pytest.mark.parametrize("name", fastllm_litellm.FEATURES)
def test_each_feature_module_is_registered(name):
    registry = importlib.import_module(f"{PACKAGE}.patch")
    module = importlib.import_module(f"{PACKAGE}._{name}")
    assert registry._PATCHERS[name] is module.install
    assert module.install.__module__ == module.__name__


def test_the_registry_lists_every_feature_and_nothing_else():
    registry = importlib.import_module(f"{PACKAGE}.patch")
    assert list(registry._PATCHERS) == list(fastllm_litellm.FEATURES)
    assert set(fastllm_litellm.FEATURES) == {
        name[1:] for name in _modules() if (ROOT / f"{name}.py").read_text(encoding="utf-8").count("\ndef install(")
    }
