"""Per-part applicability from source fingerprints (``fastllm_litellm._compat``).

The fingerprints of this install's LiteLLM are the verified ones; a function whose source
differs, or a table that no longer lists this install's fingerprint, makes that part not
applicable, with the function and the release in the reason, and ``patch()`` never raises.
"""

from __future__ import annotations

import copy
import importlib
import importlib.metadata
import inspect
import sys
import textwrap
import time
import types

import litellm
import litellm.utils
import pytest

import fastllm_litellm
from fastllm_litellm import _compat, _fingerprints, _versions
from conftest import assert_originals_restored

RELEASE = importlib.metadata.version("litellm")

# What patch() imports for each part before it is checked.
_MODULES = (
    "litellm.litellm_core_utils.token_counter",
    "litellm.router_utils.pre_call_checks.model_rate_limit_check",
    "litellm.router_strategy.lowest_tpm_rpm_v2",
    "litellm.router_utils.cooldown_handlers",
    "litellm.proxy.hooks.parallel_request_limiter_v3",
)
for _name in _MODULES:
    importlib.import_module(_name)


def _function_targets() -> list[tuple[str, object]]:
    out = []
    for profiles in _fingerprints.VERIFIED.values():
        for profile in profiles:
            for target in profile["targets"]:
                obj = _compat.resolve(target)
                if not target.startswith("compiled:") and not isinstance(obj, (str, type, types.ModuleType)):
                    out.append((target, obj))
    return out


def test_every_part_is_verified_on_this_release() -> None:
    for part in _compat.PARTS:
        assert _compat.check(part) is None, part
        assert any(RELEASE in profile["releases"] for profile in _fingerprints.VERIFIED[part]), part


def test_every_release_is_verified_for_every_part() -> None:
    assert set(_versions.SUPPORTED) <= set(_versions.RELEASES)
    assert _versions.DEFAULT in _versions.SUPPORTED
    for part in _compat.PARTS:
        listed = {release for profile in _fingerprints.VERIFIED[part] for release in profile["releases"]}
        assert listed == set(_versions.RELEASES), part


def test_each_feature_lists_its_parts() -> None:
    assert set(_compat.FEATURE_PARTS) == set(fastllm_litellm.FEATURES)
    assert sorted(p for parts in _compat.FEATURE_PARTS.values() for p in parts) == sorted(_compat.PARTS)


def test_function_blocks_are_the_source_inspect_reads() -> None:
    """The cheap block (code object's line table, then indentation) is exactly the block
    ``inspect`` reads with its tokenizer, for every function fingerprinted here."""
    targets = _function_targets()
    assert len(targets) > 100
    for target, obj in targets:
        functions = _compat._chain(obj)
        assert functions, target
        for function in functions:
            lines, start, end = _compat._function_span(function)
            theirs = "".join(inspect.getsourcelines(function.__code__)[0])
            assert "".join(lines[start:end]).rstrip() == theirs.rstrip(), (target, function.__qualname__)


_TRICKY = textwrap.dedent(
    '''
    import functools


    def decorate(f):
        @functools.wraps(f)
        def inner(*args, **kwargs):
            return f(*args, **kwargs)

        return inner


    @decorate
    def long_header(
        a,
        b=(
            1,
            2,
        ),
    ) -> int:
        """doc"""
        return a + sum(b)

        # a trailing comment in the body


    def nested_last(x):
        if x:
            pass
        def inner():
            return [
                x,
            ]


    class Holder:
        value = 1

        def method(self):
            return (
                self.value
            )

        other = staticmethod(lambda: 2)


    def one_liner(): return 3
    '''
)


@pytest.fixture
def tricky(tmp_path, monkeypatch):
    path = tmp_path / "fastllm_compat_tricky.py"
    path.write_text(_TRICKY)
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("fastllm_compat_tricky")
    yield module
    sys.modules.pop("fastllm_compat_tricky", None)


def test_blocks_of_awkward_layouts_match_inspect(tricky) -> None:
    for name in ("long_header", "nested_last", "one_liner", "decorate"):
        for function in _compat._chain(getattr(tricky, name)):
            lines, start, end = _compat._function_span(function)
            assert "".join(lines[start:end]).rstrip() == inspect.getsource(function.__code__).rstrip(), name
    # A decorated function's fingerprint covers the wrapper and the function it wraps.
    assert len(_compat._chain(tricky.long_header)) == 2
    class_block = _compat._class_fingerprint(tricky.Holder)
    assert class_block == _compat._digest(_compat._normalise(inspect.getsource(tricky.Holder).splitlines()))


def test_a_changed_body_changes_the_fingerprint(tmp_path, monkeypatch) -> None:
    monkeypatch.syspath_prepend(str(tmp_path))
    seen = set()
    for i, body in enumerate(["return 1", "return 2", "return 1  ", "return 1\n    # note"]):
        name = f"fastllm_compat_body{i}"
        (tmp_path / f"{name}.py").write_text(f"def f():\n    {body}\n")
        module = importlib.import_module(name)
        seen.add(_compat.fingerprint(f"{name}:f"))
        sys.modules.pop(name)
    # Trailing whitespace is not a change; a new line in the body is.
    assert len(seen) == 3


def test_missing_and_unimportable_targets_never_raise(tmp_path, monkeypatch) -> None:
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "fastllm_compat_broken.py").write_text("raise RuntimeError('no optional dependency')\n")
    assert _compat.fingerprint("fastllm_compat_broken:f") == _compat.UNIMPORTABLE
    assert _compat.fingerprint("fastllm_compat_absent_module:f") == _compat.MISSING
    assert _compat.fingerprint("litellm.utils:no_such_function_here") == _compat.MISSING
    assert _compat.fingerprint("compiled:fastllm_compat_absent_module") == _compat.MISSING
    assert _compat.check("rate_limit.v3", {"rate_limit.v3": "not a list of profiles"}) is not None
    assert "no verified" in _compat.check("router", {})


def test_a_compiled_module_is_marked_by_its_release_and_stub() -> None:
    mark = _compat.fingerprint("compiled:litellm.rust_bridge._native")
    assert len(mark) == 16 and int(mark, 16) >= 0
    stub = inspect.getfile(importlib.import_module("litellm.rust_bridge")).replace("__init__.py", "_native.pyi")
    with open(stub, encoding="utf-8") as handle:
        text = handle.read()
    assert mark == _compat._digest(f"litellm=={RELEASE}\n{_compat._normalise(text.splitlines())}")


def test_an_unverified_fingerprint_names_the_function_and_release() -> None:
    table = copy.deepcopy(_fingerprints.VERIFIED)
    for profile in table["rate_limit.usage_v2"]:
        profile["targets"]["litellm.utils:get_utc_datetime"] = "0" * 16
    reason = _compat.check("rate_limit.usage_v2", table)
    assert reason is not None
    assert f"litellm {RELEASE}" in reason and "litellm.utils:get_utc_datetime" in reason
    assert _compat.check("rate_limit.usage_v2") is None


def test_checks_are_cheap_once_read() -> None:
    for part in _compat.PARTS:
        _compat.check(part)
    start = time.perf_counter()
    for part in _compat.PARTS:
        assert _compat.check(part) is None
    assert time.perf_counter() - start < 0.1


def _rewritten(function, tmp_path, monkeypatch, name):
    """``function`` compiled from a source file with one more line in its body: the same
    behaviour, another fingerprint."""
    source = textwrap.dedent(inspect.getsource(function))
    header_end = source.index(":\n", source.index(")")) + 2
    source = source[:header_end] + "    _ = None\n" + source[header_end:]
    path = tmp_path / f"{name}.py"
    path.write_text(source)
    namespace = dict(function.__globals__)
    exec(compile(source, str(path), "exec"), namespace)  # noqa: S102 - the test's own rewrite
    return namespace[function.__name__]


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_a_changed_litellm_function_makes_its_feature_not_applicable(tmp_path, monkeypatch) -> None:
    fastllm_litellm.unpatch()
    original = litellm.utils.huggingface_tokenizer_kind
    changed = _rewritten(original, tmp_path, monkeypatch, "fastllm_compat_hf")
    monkeypatch.setattr(litellm.utils, "huggingface_tokenizer_kind", changed)
    patched = fastllm_litellm.patch(["token_counter", "router"])
    try:
        entry = fastllm_litellm.status()["features"]["token_counter"]
        assert "token_counter" not in patched and not entry["patched"]
        assert entry["applicable"] is False
        assert "litellm.utils:huggingface_tokenizer_kind" in entry["reason"] and RELEASE in entry["reason"]
        # The other feature is decided on its own functions.
        assert "router" in patched
    finally:
        fastllm_litellm.unpatch()
    monkeypatch.setattr(litellm.utils, "huggingface_tokenizer_kind", original)
    assert fastllm_litellm.patch(["token_counter"]) == ["token_counter"]
    assert fastllm_litellm.status()["features"]["token_counter"]["applicable"] is True
    fastllm_litellm.unpatch()
    assert_originals_restored()


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("feature", sorted(_compat.FEATURE_PARTS))
def test_a_table_without_this_release_hands_the_feature_back(monkeypatch, feature: str) -> None:
    table = copy.deepcopy(_fingerprints.VERIFIED)
    for part in _compat.FEATURE_PARTS[feature]:
        for profile in table[part]:
            first = next(iter(profile["targets"]))
            profile["targets"][first] = "f" * 16
    monkeypatch.setattr(_fingerprints, "VERIFIED", table)
    fastllm_litellm.unpatch()
    try:
        patched = fastllm_litellm.patch([feature])
        entry = fastllm_litellm.status()["features"][feature]
        assert patched == [] and not entry["patched"] and entry["applicable"] is False, entry
        assert f"litellm {RELEASE}" in entry["reason"], entry
    finally:
        fastllm_litellm.unpatch()
    monkeypatch.undo()
    assert fastllm_litellm.patch([feature]) == [feature]
    assert fastllm_litellm.status()["features"][feature]["applicable"] is True
    fastllm_litellm.unpatch()


def test_patched_methods_are_read_through_to_litellms_own() -> None:
    """With the router and rate_limit patched in (replacements made with ``functools.wraps``,
    which copies the original's ``__module__``, and signature forwarders), their targets
    still fingerprint as LiteLLM's own methods, even read afresh."""
    fastllm_litellm.unpatch()
    assert fastllm_litellm.patch(["router", "rate_limit"]) == ["rate_limit", "router"]
    try:
        _compat._known.clear()
        for part in ("router", "rate_limit.v3", "rate_limit.model_check", "rate_limit.usage_v2"):
            assert _compat.check(part) is None, part
    finally:
        fastllm_litellm.unpatch()
