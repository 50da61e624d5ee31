"""Print the fingerprints of the LiteLLM code each fastllm part replaces or reproduces, for the
installed litellm, and how they compare with the verified ones.

    PYTHONPATH=crates/py/python python scripts/fingerprints.py            # compare and print
    PYTHONPATH=crates/py/python python scripts/fingerprints.py --write    # record as verified

Adding a release: install it, run this, read the diff of every function it reports as
changed (``diff -u`` between the two releases' files), run ``make test-releases``, and only
then record it with ``--write`` (which adds the release to
``crates/py/python/fastllm_litellm/_fingerprints.py``).
"""

from __future__ import annotations

import argparse
import ast
import importlib.metadata
import os
import pprint
import sys
import types

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("LITELLM_OFFLINE_MODE", "true")

from fastllm_litellm import _compat  # noqa: E402

TABLE = os.path.join(os.path.dirname(_compat.__file__), "_fingerprints.py")


def _version_key(version: str) -> tuple:
    return tuple(int(part) if part.isdigit() else part for part in version.split("."))


def _parse(path: str) -> ast.Module | None:
    try:
        with open(path, encoding="utf-8") as handle:
            return ast.parse(handle.read())
    except (OSError, SyntaxError):
        return None


def _closure(target: str) -> list[str]:
    """``target`` and what it calls among its class's methods and its module's functions,
    transitively (read from the installed source)."""
    name, _, qualname = target.partition(":")
    root = _compat.resolve(target)
    module = sys.modules.get(name)
    path = getattr(module, "__file__", None)
    tree = _parse(path) if path else None
    if isinstance(root, str) or tree is None:
        return [target]
    owner = qualname.rpartition(".")[0]
    functions = {node.name: node for node in tree.body if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}
    methods: dict[str, ast.AST] = {}
    if owner:
        cls = next((node for node in tree.body if isinstance(node, ast.ClassDef) and node.name == owner), None)
        if cls is not None:
            methods = {node.name: node for node in cls.body if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}
    # The root may be bound under another name (a decorator applied by assignment): start from
    # the functions of its wrapped chain that this file defines.
    todo = []
    for function in _compat._chain(root):
        if function.__code__.co_filename == path:
            last = function.__qualname__.rpartition(".")[2]
            todo.append(("method" if last in methods and owner else "function", last))
    seen: set[tuple[str, str]] = set()
    while todo:
        kind, member = todo.pop()
        if (kind, member) in seen:
            continue
        seen.add((kind, member))
        node = methods.get(member) if kind == "method" else functions.get(member)
        if node is None:
            continue
        for sub in ast.walk(node):
            if isinstance(sub, ast.Attribute) and isinstance(sub.value, ast.Name):
                if sub.value.id in ("self", "cls", owner) and sub.attr in methods:
                    todo.append(("method", sub.attr))
            elif isinstance(sub, ast.Name) and sub.id in functions:
                todo.append(("function", sub.id))
    targets = [target]
    for kind, member in sorted(seen):
        expanded = f"{name}:{owner}.{member}" if kind == "method" else f"{name}:{member}"
        if expanded not in targets and _compat.resolve(expanded) not in (_compat.MISSING,):
            targets.append(expanded)
    return targets


def _alternative(part: str) -> tuple[str, ...] | None:
    for anchor, targets in _compat.PARTS[part]:
        if not isinstance(_compat.resolve(anchor), str):
            return targets
    return None


def profile(part: str) -> dict[str, str] | None:
    """The fingerprints of ``part``'s targets in this install (None: no alternative applies)."""
    roots = _alternative(part)
    if roots is None:
        return None
    targets: dict[str, str] = {}
    for root in roots:
        for target in _closure(root.rstrip("*")) if root.endswith("*") else [root]:
            targets[target] = _compat.fingerprint(target)
    return targets


def _matches(expected: object, found: str) -> bool:
    return found == expected if isinstance(expected, str) else found in expected


def _record(profiles: list[dict], release: str, current: dict[str, str]) -> None:
    """Adds ``release`` to the set its fingerprints match, or to a set they differ from in one
    target only (the target that set already varies in, if any), or as a new set."""
    exact = [p for p in profiles if set(p["targets"]) == set(current) and all(_matches(f, current[t]) for t, f in p["targets"].items())]
    for profile in exact or profiles:
        targets = profile["targets"]
        if set(targets) != set(current):
            continue
        differing = [t for t, expected in targets.items() if not _matches(expected, current[t])]
        varying = [t for t, expected in targets.items() if not isinstance(expected, str)]
        if len(differing) > 1 or (differing and varying and differing != varying):
            continue
        for target in differing:
            known = targets[target]
            targets[target] = [*([known] if isinstance(known, str) else known), current[target]]
        if release not in profile["releases"]:
            profile["releases"] = tuple(sorted({*profile["releases"], release}, key=_version_key))
        return
    profiles.append({"releases": (release,), "targets": current})


def _render(verified: dict) -> str:
    body = pprint.pformat(verified, width=110, sort_dicts=False)
    return (
        '"""The fingerprints of the LiteLLM sources each part was verified against.\n\n'
        "Generated by ``scripts/fingerprints.py --write``; see ``fastllm_litellm._compat``.\n"
        '"""\n\n'
        "# fmt: off\n"
        f"VERIFIED: dict = {body}\n"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="record this release's fingerprints as verified")
    parser.add_argument("--show", action="store_true", help="print every target's fingerprint")
    args = parser.parse_args()
    release = importlib.metadata.version("litellm")
    try:
        from fastllm_litellm._fingerprints import VERIFIED
    except ImportError:
        VERIFIED = {}
    verified = {part: [dict(p) for p in profiles] for part, profiles in VERIFIED.items()}
    print(f"litellm {release}")
    for part in _compat.PARTS:
        current = profile(part)
        if current is None:
            print(f"  {part}: no alternative's module imports here")
            continue
        reason = _compat.check(part)
        print(f"  {part}: {len(current)} targets, " + ("verified" if reason is None else f"NOT verified: {reason}"))
        profiles = verified.setdefault(part, [])
        closest = min(
            profiles,
            key=lambda p: sum(not _matches(f, current.get(t, "")) for t, f in p["targets"].items())
            + len(set(current) - set(p["targets"])),
            default=None,
        )
        if closest is not None and reason is not None:
            for target in sorted(set(current) | set(closest["targets"])):
                if not _matches(closest["targets"].get(target, ""), current.get(target, "")):
                    print(f"    {target}: {current.get(target)} (verified on {', '.join(closest['releases'])}: {closest['targets'].get(target)})")
        if args.show:
            for target, value in current.items():
                print(f"    {target}: {value}")
        if args.write:
            _record(profiles, release, current)
    if args.write:
        with open(TABLE, "w", encoding="utf-8") as handle:
            handle.write(_render(verified))
        print(f"wrote {TABLE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
