"""Whether this install's LiteLLM is one the patch reproduces, decided per patched part.

Each part of a feature names the LiteLLM code it replaces or reproduces natively (``PARTS``):
functions and methods (with the methods and module functions they call, expanded once by
``scripts/fingerprints.py`` from LiteLLM's own source), whole classes, and whole modules where
the native code reproduces the module as a whole (the token counter, the caches, the routing
strategies). Every one of those has a fingerprint: the sha256 of its source text, lines
stripped of trailing whitespace. ``_fingerprints.VERIFIED`` holds, per part, the fingerprint
sets of the LiteLLM releases the patch was checked against (their differential tests passed,
and every difference between releases was read). A part whose fingerprints equal none of
them is not applicable, with the first differing function and this release as the reason.
Releases whose sets differ in one target only share a set, that target listing each of their
fingerprints (so every combination the set accepts is one a verified release has).

How each kind of target is fingerprinted:

* a function or method: its source block, from its first decorator line to the last line of its
  body, for every function along its ``__wrapped__`` chain (a decorator that wraps it is part
  of what runs). The block's end is found from the last line of the code object's line table,
  then extended over the lines indented deeper than its ``def``, so it is the textual block on
  every Python version, and it costs microseconds (no tokenizer, and no ``inspect.getsource``,
  which walks ``sys.modules``). Blocks are cached per code object;
* a class: from its ``class`` line to the end of its last member;
* a module: its whole source file;
* a compiled module (``compiled:<name>``): it has no source, and its bytes differ per platform
  and build, so its mark is the release of the distribution that ships it together with the
  sha256 of its type stub (``<name>.pyi``, the interface its Python wrapper is written
  against). A compiled part is therefore verified per release, never assumed.

A fingerprint is the first 16 hex digits of the sha256. A function this package installed in
LiteLLM's place is skipped along the chain (told by where its code lives: ``functools.wraps``
copies the original's ``__module__``), so a part reads LiteLLM's own code even while another
feature is patched in. Missing targets fingerprint as ``"missing"`` (a verified set may require
one to be absent) and modules that fail to import as ``"unimportable"``. Nothing here raises:
a failure to read a fingerprint makes the part not applicable, with the error as the reason.

The expansion of a target (``*``) follows the calls its source makes to its own class's
methods and its own module's functions. Code of other modules on the same path is listed
explicitly, as a function, a class or a whole module.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import importlib.metadata
import importlib.util
import linecache
import os
import re
import sys
import types
from collections.abc import Iterable, Mapping, Sequence

MISSING = "missing"
UNIMPORTABLE = "unimportable"
UNREADABLE = "unreadable"

_STRATEGIES = tuple(
    f"litellm.router_strategy.{name}"
    for name in ("simple_shuffle", "least_busy", "lowest_tpm_rpm", "lowest_tpm_rpm_v2", "lowest_latency", "lowest_cost")
)
_CACHES = ("litellm.caching.in_memory_cache", "litellm.caching.dual_cache")
_V3 = "litellm.proxy.hooks.parallel_request_limiter_v3:_PROXY_MaxParallelRequestsHandler_v3"

PARTS: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    # The counter reproduces token_counter.py as a whole (message, tool and image accounting,
    # the chunked and extrapolating counts), with the model resolvers it reads, and the
    # encodings LiteLLM counts with (its compiled tokenizer, loaded by rust_bridge.tokenizer).
    "token_counter": (
        (
            "litellm.litellm_core_utils.token_counter",
            (
                "litellm.litellm_core_utils.token_counter",
                "litellm.utils:token_counter*",
                "litellm.utils:huggingface_tokenizer_kind*",
                "litellm.utils:select_tokenizer*",
                "litellm.utils:_return_huggingface_tokenizer",
                "litellm.litellm_core_utils.offline_mode:is_offline_mode",
                "litellm.litellm_core_utils.prompt_templates.chat_template_tools:chat_template_tool_section*",
                "litellm.rust_bridge.tokenizer",
                "compiled:litellm.rust_bridge._native",
            ),
        ),
    ),
    # The v3 proxy limiter. 1.110: the keyspace of its memory-only RateLimitStore (a compiled
    # handle) moves to Rust, and its checks run natively. 1.109: its checks run natively over
    # the proxy's DualCache.
    "rate_limit.v3": (
        (
            "litellm.redis.stores.rate_limits",
            (
                f"{_V3}.__init__*",
                f"{_V3}.should_rate_limit*",
                f"{_V3}._atomic_check_and_increment_in_memory*",
                f"{_V3}.atomic_check_and_increment_by_n*",
                f"{_V3}._acquire_parallel_slots_in_memory*",
                f"{_V3}._in_memory_cache_sliding_window*",
                f"{_V3}._get_current_time*",
                "litellm.proxy.hooks.parallel_request_limiter_v3:offload_token_count*",
                "litellm.redis.stores.rate_limits",
                "litellm.redis.stores.rate_limits.handle",
                "litellm.redis.stores.rate_limits.types",
                *_CACHES,
                "compiled:litellm.rust_bridge._native",
            ),
        ),
        (
            "litellm.proxy.hooks.parallel_request_limiter_v3",
            (
                f"{_V3}.__init__*",
                f"{_V3}.should_rate_limit*",
                f"{_V3}._get_current_time*",
                f"{_V3}._in_memory_cache_sliding_window*",
                f"{_V3}.is_cache_list_over_limit*",
                f"{_V3}._collect_windowed_keys_and_gauges*",
                f"{_V3}._batch_get_counter_values*",
                "litellm.proxy.hooks.parallel_request_limiter_v3:_sibling_counter_keys*",
                "litellm.proxy.hooks.parallel_request_limiter_v3:offload_token_count*",
                "litellm.proxy.utils:InternalUsageCache",
                *_CACHES,
            ),
        ),
    ),
    # The router's `enforce_model_rate_limits` check, reproduced as a whole with its cache.
    "rate_limit.model_check": (
        (
            "litellm.router_utils.pre_call_checks.model_rate_limit_check",
            ("litellm.router_utils.pre_call_checks.model_rate_limit_check", *_CACHES),
        ),
    ),
    # The usage-based-v2 strategy's per-deployment check, with its clock and cache.
    "rate_limit.usage_v2": (
        (
            "litellm.router_strategy.lowest_tpm_rpm_v2",
            ("litellm.router_strategy.lowest_tpm_rpm_v2", "litellm.utils:get_utc_datetime*", *_CACHES),
        ),
    ),
    # The router core's picks: the methods patched (and what they call), every strategy the
    # native picker emulates, the caches and cooldown state it reads, the routing-callback
    # filter test. 1.110: the compiled router core filters and steps around the pick.
    "router": (
        (
            "litellm.router_rust.core",
            (
                *(
                    f"litellm.router_rust.core:RustCore.{name}*"
                    for name in (
                        "get_available_deployment",
                        "select",
                        "_pre_route",
                        "_routing_inputs",
                        "_custom_pick_sync",
                        "_answer_select_sync",
                        "__setattr__",
                        "__delattr__",
                    )
                ),
                "litellm.router_rust.core:_custom_pick*",
                "litellm.litellm_core_utils.token_counter:embedding_aware_token_count*",
                "litellm.redis.stores.router_cooldowns",
                "litellm.integrations.custom_logger:CustomLogger.async_filter_deployments",
                "litellm._internal_context:with_service_target*",
                *_STRATEGIES,
                *_CACHES,
                "compiled:litellm.rust_bridge._native",
            ),
        ),
        (
            "litellm.router_python_core",
            (
                *(
                    f"litellm.router_python_core:PythonCore.{name}*"
                    for name in (
                        "get_available_deployment",
                        "_core_async_get_available_deployment",
                        "_routing_callbacks",
                        "__setattr__",
                        "__delattr__",
                    )
                ),
                "litellm.router_utils.cooldown_handlers:get_cooldown_deployments*",
                "litellm.integrations.custom_logger:CustomLogger.async_filter_deployments",
                "litellm._internal_context:with_service_target*",
                *_STRATEGIES,
                *_CACHES,
            ),
        ),
    ),
}
"""Per part, its alternatives (one per LiteLLM line): the module whose presence selects it,
and the targets read there. A trailing ``*`` adds what the target calls among its class's
methods and its module's functions (expanded by ``scripts/fingerprints.py``)."""

FEATURE_PARTS: dict[str, tuple[str, ...]] = {
    "token_counter": ("token_counter",),
    "rate_limit": ("rate_limit.v3", "rate_limit.model_check", "rate_limit.usage_v2"),
    "router": ("router",),
}
"""The parts each feature of :data:`fastllm_litellm.patch.FEATURES` patches."""


# --------------------------------------------------------------------------------------------
# fingerprints


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def _normalise(lines: Iterable[str]) -> str:
    out = [line.rstrip() for line in lines]
    while out and not out[-1]:
        out.pop()
    return "\n".join(out)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _last_line(code: types.CodeType) -> int:
    """A line of the body of ``code``: the last its line table names (the lines after it that
    belong to the block are found by indentation)."""
    last = code.co_firstlineno
    for _, _, line in code.co_lines():
        if line is not None and line > last:
            last = line
    return last


def _extend(lines: Sequence[str], start: int, last: int) -> int:
    """The end (exclusive, 0-based) of the block whose header is at ``start`` and whose body
    reaches line ``last`` (1-based): every following line indented deeper, or blank."""
    indent = _indent(lines[start])
    end = last
    while end < len(lines) and (not lines[end].strip() or _indent(lines[end]) > indent):
        end += 1
    return end


_PACKAGE = os.path.dirname(os.path.abspath(__file__))


def _ours(function: object) -> bool:
    """A replacement this package installed (``functools.wraps`` gives it the original's
    ``__module__``, so it is told by where its code lives), or its signature forwarder."""
    code = getattr(function, "__code__", None)
    return hasattr(function, "__fastllm_replacement__") or (
        code is not None and os.path.dirname(os.path.abspath(code.co_filename)) == _PACKAGE
    )


def _chain(obj: object) -> list[types.FunctionType]:
    """The Python functions of ``obj`` along its ``__wrapped__`` chain, this package's skipped."""
    functions = []
    seen = set()
    while obj is not None and id(obj) not in seen:
        seen.add(id(obj))
        if isinstance(obj, (staticmethod, classmethod)):
            obj = obj.__func__
            continue
        if isinstance(obj, property):
            obj = obj.fget
            continue
        if isinstance(obj, types.FunctionType) and not _ours(obj):
            functions.append(obj)
        obj = getattr(obj, "__wrapped__", None)
    return functions


def _function_span(function: types.FunctionType) -> tuple[list[str], int, int] | None:
    code = function.__code__
    lines = linecache.getlines(code.co_filename)
    start = code.co_firstlineno - 1
    if not lines or not 0 <= start < len(lines):
        return None
    return lines, start, _extend(lines, start, _last_line(code))


# id(code) -> (code, its block). By identity: code objects compare equal across files.
_blocks: dict[int, tuple[types.CodeType, str | None]] = {}


def _function_block(function: types.FunctionType) -> str | None:
    code = function.__code__
    known = _blocks.get(id(code))
    if known is not None and known[0] is code:
        return known[1]
    span = _function_span(function)
    block = None if span is None else _normalise(span[0][span[1] : span[2]])
    _blocks[id(code)] = (code, block)
    return block


def _function_fingerprint(obj: object) -> str:
    functions = _chain(obj)
    if not functions:
        return UNREADABLE
    blocks = [_function_block(function) for function in functions]
    if None in blocks:
        return UNREADABLE
    return _digest("\n\0\n".join(blocks))  # type: ignore[arg-type]


def _class_fingerprint(cls: type) -> str:
    module = sys.modules.get(cls.__module__)
    path = getattr(module, "__file__", None)
    lines = linecache.getlines(path) if path else []
    header = re.compile(rf"\s*class\s+{re.escape(cls.__name__)}\b")
    start = next((i for i, line in enumerate(lines) if header.match(line)), None)
    if start is None:
        return UNREADABLE
    end = start + 1
    for member in vars(cls).values():
        for function in _chain(member):
            span = _function_span(function) if function.__code__.co_filename == path else None
            if span is not None and span[1] > start:
                end = max(end, span[2])
    return _digest(_normalise(lines[start : _extend(lines, start, end)]))


def _module_fingerprint(module: types.ModuleType) -> str:
    path = getattr(module, "__file__", None)
    lines = linecache.getlines(path) if path else []
    return _digest(_normalise(lines)) if lines else UNREADABLE


def _compiled_fingerprint(name: str) -> str:
    spec = importlib.util.find_spec(name)
    origin = getattr(spec, "origin", None)
    if not origin:
        return MISSING
    stub = os.path.join(os.path.dirname(origin), name.rpartition(".")[2] + ".pyi")
    try:
        with open(stub, encoding="utf-8") as handle:
            text = handle.read()
    except OSError:
        return UNREADABLE
    distribution = name.partition(".")[0]
    release = _release(distribution)
    if release is None:
        return UNREADABLE
    return _digest(f"{distribution}=={release}\n{_normalise(text.splitlines())}")


@functools.cache
def _release(distribution: str = "litellm") -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def _module(name: str) -> types.ModuleType | str:
    module = sys.modules.get(name)
    if module is not None:
        return module
    try:
        if importlib.util.find_spec(name) is None:
            return MISSING
    except ModuleNotFoundError as error:  # a package on the way is absent, or needs what is
        absent = error.name or ""
        return MISSING if name == absent or name.startswith(absent + ".") else UNIMPORTABLE
    except Exception:  # noqa: BLE001 - a package on the way fails to import
        return UNIMPORTABLE
    try:
        return importlib.import_module(name)
    except Exception:  # noqa: BLE001 - an optional dependency missing, or a module that fails
        return UNIMPORTABLE


def resolve(target: str) -> object:
    """The object ``target`` names (a module, class or function), or ``MISSING`` /
    ``UNIMPORTABLE``."""
    name, _, qualname = target.rstrip("*").partition(":")
    module = _module(name)
    if isinstance(module, str) or not qualname:
        return module
    obj: object = module
    for part in qualname.split("."):
        namespace = obj.__dict__ if isinstance(obj, type) else vars(obj)
        if part not in namespace:
            return MISSING
        obj = namespace[part]
    return obj


# target -> (the object it resolved to, its fingerprint): read again when the object changes.
_known: dict[str, tuple[object, str]] = {}


def fingerprint(target: str) -> str:
    """The fingerprint of ``target`` (``"module"``, ``"module:qualname"`` or
    ``"compiled:module"``) in this install. Never raises."""
    try:
        obj = None if target.startswith("compiled:") else resolve(target)
        known = _known.get(target)
        if known is not None and (known[0] is obj or _ours(obj)):
            # Patched in since it was read: the fingerprint is still the original's.
            return known[1]
        if obj is None:
            found = _compiled_fingerprint(target.removeprefix("compiled:"))
        elif isinstance(obj, str):
            return obj
        elif isinstance(obj, types.ModuleType):
            found = _module_fingerprint(obj)
        elif isinstance(obj, type):
            found = _class_fingerprint(obj)
        else:
            found = _function_fingerprint(obj)
        _known[target] = (obj, found)
        return found
    except Exception as error:  # noqa: BLE001 - a fingerprint that cannot be read is no match
        return f"{UNREADABLE} ({type(error).__name__})"


# --------------------------------------------------------------------------------------------
# verification


def _releases(names: Sequence[str]) -> str:
    return ", ".join(names)


def _matches(expected: object, found: str) -> bool:
    return found == expected if type(expected) is str else found in expected  # type: ignore[operator]


def check(part: str, verified: Mapping[str, Sequence[Mapping[str, object]]] | None = None) -> str | None:
    """None when this install's LiteLLM matches a verified fingerprint set of ``part``, else
    why not: the first target that differs from the closest verified set, and this release.
    ``verified`` defaults to :data:`fastllm_litellm._fingerprints.VERIFIED`. Never raises."""
    try:
        if verified is None:
            from fastllm_litellm._fingerprints import VERIFIED as verified
        profiles = verified.get(part, ())
        if not profiles:
            return f"no verified LiteLLM sources for {part}"
        for profile in profiles:
            targets: Mapping[str, object] = profile["targets"]  # type: ignore[assignment]
            if all(_matches(expected, fingerprint(target)) for target, expected in targets.items()):
                return None
        # Not applicable: the reason names the closest set's first difference.
        best: tuple[int, str, str, Mapping[str, object]] | None = None
        for profile in profiles:
            targets = profile["targets"]  # type: ignore[assignment]
            differing = [(t, f) for t, e in targets.items() if not _matches(e, f := fingerprint(t))]
            if differing and (best is None or len(differing) < best[0]):
                best = (len(differing), *differing[0], profile)
        assert best is not None
        count, target, found, profile = best
        releases = _releases(profile["releases"])  # type: ignore[arg-type]
        more = f" and {count - 1} more" if count > 1 else ""
        return f"litellm {_release()}: {target} is {found}, not the source verified on litellm {releases}{more}"
    except Exception as error:  # noqa: BLE001 - never let a check break patch()
        return f"cannot fingerprint LiteLLM's {part} ({type(error).__name__}: {error})"


def check_feature(feature: str) -> dict[str, str | None]:
    """:func:`check` for every part of ``feature``."""
    return {part: check(part) for part in FEATURE_PARTS.get(feature, ())}
