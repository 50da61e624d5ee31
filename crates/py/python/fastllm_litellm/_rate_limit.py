"""The ``rate_limit`` feature: LiteLLM's rate-limit checks decided in Rust.

Three parts, each patched where this install takes it and otherwise skipped (listed in
:func:`fastllm_litellm.status`'s ``reason``):

- the proxy's v3 limiter (``litellm.proxy.hooks.parallel_request_limiter_v3``): on the 1.110
  line its memory-only keyspace moves to Rust (``_native.LocalRateLimits``) and
  ``should_rate_limit`` decides there; on the 1.109 line its state stays in the proxy's
  DualCache and ``should_rate_limit`` runs that cache's steps natively. Its token estimate runs
  inline while ``token_counter`` is patched (``_token_counter.inline_offload``);
- the router's per-deployment check (``ModelRateLimitingCheck``);
- the usage-based-v2 strategy's per-deployment check.

Anything the native path does not reproduce goes to LiteLLM's own method and counts as a
fallback.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import warnings
from collections.abc import Callable
from datetime import datetime
from types import ModuleType
from typing import Any

from fastllm_litellm import _compat, _feature, _native
from fastllm_litellm._caches import cache_steps
from fastllm_litellm._feature import STATS, Binding, Feature, NotApplicable, restore
from fastllm_litellm._token_counter import inline_offload

_V3_MODULE = "litellm.proxy.hooks.parallel_request_limiter_v3"
_V3_CLASS = "_PROXY_MaxParallelRequestsHandler_v3"
_SHOULD_RATE_LIMIT_PARAMETERS = (
    ("self", inspect.Parameter.empty),
    ("descriptors", inspect.Parameter.empty),
    ("parent_otel_span", None),
    ("read_only", False),
    ("skip_tpm_check", False),
    ("parallel_slot_id", None),
    ("skip_parallel_check", False),
)


def _rate_limit_mismatch(v3: ModuleType) -> str | None:
    """Why this LiteLLM's v3 limiter cannot take the native keyspace, or None."""
    cls = getattr(v3, _V3_CLASS, None)
    if cls is None:
        return f"{_V3_MODULE} has no {_V3_CLASS}"
    store = getattr(v3, "RateLimitStore", None)
    if store is None:
        return "the v3 limiter keeps its counters in DualCache, not in a RateLimitStore handle (the 1.109 line)"
    found = tuple((p.name, p.default) for p in inspect.signature(cls.should_rate_limit).parameters.values())
    if found != _SHOULD_RATE_LIMIT_PARAMETERS:
        return f"should_rate_limit's parameters are {found}, expected {_SHOULD_RATE_LIMIT_PARAMETERS}"
    if "rate_limit_store" not in inspect.signature(cls.__init__).parameters:
        return "the v3 limiter's constructor takes no rate_limit_store"
    if not isinstance(getattr(v3, "RateLimitScope", None), type):
        return "the v3 limiter module has no RateLimitScope"
    if not isinstance(getattr(v3, "PARALLEL_REQUEST_SLOT_TTL_SECONDS", None), int):
        return "PARALLEL_REQUEST_SLOT_TTL_SECONDS is missing"
    for name in (
        "_get_current_time",
        "_in_memory_cache_sliding_window",
        "_acquire_parallel_slots_in_memory",
        "_atomic_check_and_increment_in_memory",
        "atomic_check_and_increment_by_n",
    ):
        if not callable(getattr(cls, name, None)):
            return f"the v3 limiter has no {name}"
    return None


def install(litellm: ModuleType, explicit: bool, feature: Feature) -> None:
    """The ``rate_limit`` feature's patcher (see :mod:`fastllm_litellm._feature`): the v3
    proxy limiter and the router's per-deployment checks, on both lines; each part
    this install cannot take (its module does not import, it does not match, or patching it
    fails) is skipped and listed in ``feature.skipped``, with a warning when the feature was
    named explicitly. Not applicable when no part applies."""

    def v3_limiter(v3: ModuleType) -> tuple[Callable[[Feature, ModuleType], None] | None, str | None]:
        if (unverified := _compat.check("rate_limit.v3")) is not None:
            return None, unverified
        reason = _rate_limit_mismatch(v3)
        if reason is None:
            return _patch_v3_limiter, None  # 1.110: the keyspace moves to Rust
        if _dual_cache_limiter_mismatch(v3) is None:
            return _patch_v3_dual_cache_limiter, None  # 1.109: the state stays in DualCache
        return None, reason

    def when(mismatch, patcher, part):
        return lambda module: (
            (patcher, None) if (reason := mismatch(module) or _compat.check(part)) is None else (None, reason)
        )

    parts = (
        (
            "the v3 limiter",
            _V3_MODULE,
            v3_limiter,
            "; it needs LiteLLM's proxy dependencies (fastapi, orjson, backoff, redis)",
        ),
        (
            "the router's deployment check",
            _MODEL_CHECK_MODULE,
            when(_model_check_mismatch, _patch_model_rate_limit_check, "rate_limit.model_check"),
            "",
        ),
        (
            "the usage-based-v2 check",
            _USAGE_V2_MODULE,
            when(_usage_v2_mismatch, _patch_usage_v2_check, "rate_limit.usage_v2"),
            "",
        ),
    )
    skipped = feature.skipped
    for label, name, choose, hint in parts:
        try:
            module = importlib.import_module(name)
        except Exception as error:  # noqa: BLE001 - a module that does not import is a skipped part
            skipped.append(f"{label}: cannot import {name} ({type(error).__name__}: {error}){hint}")
            continue
        mark = len(feature.bindings)
        try:
            patcher, reason = choose(module)
            if patcher is None:
                skipped.append(f"{label} on litellm {_feature.litellm_version()}: {reason}")
            else:
                patcher(feature, module)
        except Exception as error:  # noqa: BLE001 - the part is skipped, what it installed restored
            restore(Feature(bindings=feature.bindings[mark:]))
            del feature.bindings[mark:]
            skipped.append(f"{label}: {type(error).__name__}: {error}{hint}")
    if explicit:
        for why in skipped:
            warnings.warn(f"fastllm_litellm: rate_limit does not patch {why}", RuntimeWarning, stacklevel=4)
    if not feature.bindings:
        raise NotApplicable("; ".join(skipped) or "no part of it applies")


def _make_should_rate_limit(original_check: Callable[..., Any], decide: Callable[..., Any]) -> Callable[..., Any]:
    """The v3 limiter's patched ``should_rate_limit``: ``decide`` (a native call) answers, or
    returns None (the fallback counted, nothing changed) and LiteLLM's own method does.

    Where LiteLLM's method is a decorator's ``(*args, **kwargs)`` wrapper
    (``with_service_target``), the replacement takes ``(*args, **kwargs)`` too and binds them
    by the method's own parameters, so it shows both of the original's signatures without a
    forwarding coroutine (see :func:`fastllm_litellm._feature.keep_signature`); a call those
    parameters reject goes to LiteLLM's method, which raises its own ``TypeError``."""

    async def explicit(
        self,
        descriptors,
        parent_otel_span=None,
        read_only=False,
        skip_tpm_check=False,
        parallel_slot_id=None,
        skip_parallel_check=False,
    ):
        response = decide(self, descriptors, read_only, skip_tpm_check, parallel_slot_id, skip_parallel_check)
        if response is None:
            return await original_check(
                self, descriptors, parent_otel_span, read_only, skip_tpm_check, parallel_slot_id, skip_parallel_check
            )
        return response

    try:
        own = inspect.signature(original_check, follow_wrapped=False)
    except (TypeError, ValueError):
        own = None
    shape = [(n, p.kind) for n, p in own.parameters.items()] if own is not None else []
    if shape != [("args", inspect.Parameter.VAR_POSITIONAL), ("kwargs", inspect.Parameter.VAR_KEYWORD)]:
        return functools.wraps(original_check)(explicit)

    def arguments(
        self,
        descriptors,
        parent_otel_span=None,
        read_only=False,
        skip_tpm_check=False,
        parallel_slot_id=None,
        skip_parallel_check=False,
    ):
        return self, descriptors, parent_otel_span, read_only, skip_tpm_check, parallel_slot_id, skip_parallel_check

    async def should_rate_limit(*args, **kwargs):
        try:
            self, descriptors, span, read_only, skip_tpm_check, slot_id, skip_parallel = arguments(*args, **kwargs)
        except TypeError:
            return await original_check(*args, **kwargs)
        response = decide(self, descriptors, read_only, skip_tpm_check, slot_id, skip_parallel)
        if response is None:
            return await original_check(self, descriptors, span, read_only, skip_tpm_check, slot_id, skip_parallel)
        return response

    return functools.wraps(original_check)(should_rate_limit)


def _patch_v3_limiter(feature: Feature, v3: ModuleType) -> None:
    cls = getattr(v3, _V3_CLASS)
    stats = STATS["rate_limit"]
    original_init = cls.__dict__["__init__"]
    original_check = cls.__dict__["should_rate_limit"]
    init_signature = inspect.signature(original_init)
    store_type = v3.RateLimitStore
    slot_ttl = v3.PARALLEL_REQUEST_SLOT_TTL_SECONDS
    local_type = _native.LocalRateLimits
    now_of = cls._get_current_time

    @functools.wraps(original_init)
    def __init__(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        try:
            injected = init_signature.bind(self, *args, **kwargs).arguments.get("rate_limit_store")
        except TypeError:
            return
        store = self.rate_limits
        handle = getattr(store, "_handle", None)
        # Only LiteLLM's own memory-only store moves to Rust; an injected store is the caller's.
        if injected is None and handle is not None and not store.has_redis and type(handle) is not local_type:
            provider = getattr(self, "_time_provider", None)
            clock = provider if provider is not None and provider == datetime.now else None
            self.rate_limits = store_type(
                local_type(handle, stats=stats, system_clock=clock, current_time=now_of, slot_ttl=slot_ttl)
            )

    should_rate_limit = _make_should_rate_limit(original_check, _native.V3Checks(stats).should_rate_limit)

    original_atomic = cls.__dict__["_atomic_check_and_increment_in_memory"]

    @functools.wraps(original_atomic)
    def _atomic_check_and_increment_in_memory(self, per_counter_meta):
        response = _on_native_keyspace(
            self,
            lambda handle: handle.atomic_check_and_increment(
                per_counter_meta, int(self._get_current_time().timestamp())
            ),
        )
        return original_atomic(self, per_counter_meta) if response is None else response

    original_by_n = cls.__dict__["atomic_check_and_increment_by_n"]
    scope_type = v3.RateLimitScope

    @functools.wraps(original_by_n)
    async def atomic_check_and_increment_by_n(self, descriptors, increments, parent_otel_span=None):
        response = _on_native_keyspace(
            self,
            lambda handle: handle.atomic_check_and_increment_by_n(
                descriptors, increments, self.window_size, int(self._get_current_time().timestamp()), scope_type
            ),
        )
        if response is None:
            return await original_by_n(self, descriptors, increments, parent_otel_span)
        return response

    def _on_native_keyspace(self, decide):
        """``decide(handle)`` for a limiter whose keyspace is in Rust, else None; every None
        (not ours, unsupported input, an error of ours) is counted as a fallback."""
        handle = getattr(getattr(self, "rate_limits", None), "_handle", None)
        if type(handle) is not local_type:
            stats.record_fallback("a limiter with Redis, an injected store, or built before patch()")
            return None
        try:
            return decide(handle)
        except Exception as error:  # noqa: BLE001 - any failure of ours goes to LiteLLM
            stats.record_fallback(f"{type(error).__name__}: {error}")
            return None

    for name, original, replacement in (
        ("__init__", original_init, __init__),
        ("should_rate_limit", original_check, should_rate_limit),
        ("_atomic_check_and_increment_in_memory", original_atomic, _atomic_check_and_increment_in_memory),
        ("atomic_check_and_increment_by_n", original_by_n, atomic_check_and_increment_by_n),
    ):
        feature.bindings.append(Binding(cls, name, original, True))  # type: ignore[arg-type]
        setattr(cls, name, replacement)
    offload = v3.__dict__.get("offload_token_count")
    if callable(offload):
        feature.bindings.append(Binding(v3, "offload_token_count", offload, True))
        v3.offload_token_count = inline_offload(offload)


# The 1.109 line's v3 limiter, whose state lives in the proxy's shared DualCache.


def _dual_cache_limiter_mismatch(v3: ModuleType) -> str | None:
    """Why this LiteLLM's v3 limiter is not the DualCache-backed one (the 1.109 line) the
    native path reproduces, or None."""
    cls = getattr(v3, _V3_CLASS, None)
    if cls is None:
        return f"{_V3_MODULE} has no {_V3_CLASS}"
    if getattr(v3, "RateLimitStore", None) is not None:
        return "the v3 limiter keeps its counters in a RateLimitStore handle"
    found = tuple((p.name, p.default) for p in inspect.signature(cls.should_rate_limit).parameters.values())
    if found != _SHOULD_RATE_LIMIT_PARAMETERS:
        return f"should_rate_limit's parameters are {found}, expected {_SHOULD_RATE_LIMIT_PARAMETERS}"
    if "internal_usage_cache" not in inspect.signature(cls.__init__).parameters:
        return "the v3 limiter's constructor takes no internal_usage_cache"
    for name in (
        "_get_current_time",
        "_in_memory_cache_sliding_window",
        "is_cache_list_over_limit",
        "_collect_windowed_keys_and_gauges",
        "_batch_get_counter_values",
    ):
        if not callable(getattr(cls, name, None)):
            return f"the v3 limiter has no {name}"
    if not callable(getattr(v3, "_sibling_counter_keys", None)):
        return "the v3 limiter module has no _sibling_counter_keys"
    return None


def _patch_v3_dual_cache_limiter(feature: Feature, v3: ModuleType) -> None:
    from litellm.caching.dual_cache import DualCache
    from litellm.caching.in_memory_cache import InMemoryCache
    from litellm.proxy.utils import InternalUsageCache

    cls = getattr(v3, _V3_CLASS)
    original_check = cls.__dict__["should_rate_limit"]
    decide = _native.V3DualCacheChecks(
        STATS["rate_limit"],
        InternalUsageCache,
        DualCache,
        InMemoryCache,
        datetime.now,
        cls.__dict__["_get_current_time"],
        v3,
        cache_steps(),
    ).should_rate_limit
    should_rate_limit = _make_should_rate_limit(original_check, decide)

    feature.bindings.append(Binding(cls, "should_rate_limit", original_check, True))  # type: ignore[arg-type]
    cls.should_rate_limit = should_rate_limit
    offload = v3.__dict__.get("offload_token_count")
    if callable(offload):
        feature.bindings.append(Binding(v3, "offload_token_count", offload, True))
        v3.offload_token_count = inline_offload(offload)


# The router's per-deployment check (`enforce_model_rate_limits`), both lines.
_MODEL_CHECK_MODULE = "litellm.router_utils.pre_call_checks.model_rate_limit_check"
_MODEL_CHECK_CLASS = "ModelRateLimitingCheck"


def _model_check_mismatch(checks: ModuleType) -> str | None:
    """Why this LiteLLM's ModelRateLimitingCheck is not the one the native path reproduces."""
    cls = getattr(checks, _MODEL_CHECK_CLASS, None)
    if not isinstance(cls, type):
        return f"{_MODEL_CHECK_MODULE} has no {_MODEL_CHECK_CLASS}"
    expected = {
        "pre_call_check": ("self", "deployment"),
        "async_pre_call_check": ("self", "deployment", "parent_otel_span"),
        "__init__": ("self", "dual_cache", "clock"),
    }
    for name, parameters in expected.items():
        method = cls.__dict__.get(name)
        if not callable(method):
            return f"{_MODEL_CHECK_CLASS} has no {name}"
        found = tuple(inspect.signature(method).parameters)
        if found != parameters:
            return f"{_MODEL_CHECK_CLASS}.{name} takes {found}, expected {parameters}"
    if not isinstance(getattr(getattr(checks, "RoutingArgs", None), "ttl", None), int):
        return "RoutingArgs.ttl is missing"
    if not isinstance(getattr(checks, "DualCache", None), type):
        return "the check module has no DualCache"
    return None


def _patch_model_rate_limit_check(feature: Feature, checks: ModuleType) -> None:
    import datetime as dt

    import httpx
    from litellm.caching.in_memory_cache import InMemoryCache
    from litellm.types.router import RouterErrors

    cls = getattr(checks, _MODEL_CHECK_CLASS)
    stats = STATS["rate_limit"]
    utc_clock = inspect.signature(cls.__init__).parameters["clock"].default
    decide = _native.ModelRateLimitChecks(
        stats,
        checks.DualCache,
        InMemoryCache,
        utc_clock,
        checks.RoutingArgs,
        dt.datetime,
        cache_steps(),
    ).check
    original_sync = cls.__dict__["pre_call_check"]
    original_async = cls.__dict__["async_pre_call_check"]

    def refusal(deployment, kind, limit, usage, *, is_async):
        """The RateLimitError LiteLLM's check raises for `kind` ("tpm"/"rpm") over `limit`."""
        model_id = deployment.get("model_info", {}).get("id")
        group = deployment.get("model_name", "")
        extra = {"num_retries": 0} if is_async else {}
        return checks.litellm.RateLimitError(
            message=f"Model rate limit exceeded. {kind.upper()} limit={limit}, current usage={usage}",
            llm_provider="",
            model=deployment.get("litellm_params", {}).get("model"),
            response=httpx.Response(
                status_code=429,
                content=f"{RouterErrors.user_defined_ratelimit_error.value} {kind} limit={limit}. "
                f"current usage={usage}. id={model_id}, model_group={group}",
                headers={"retry-after": str(60)},
                request=httpx.Request(method="model_rate_limit_check", url="https://github.com/BerriAI/litellm"),
            ),
            **extra,
        )

    @functools.wraps(original_sync)
    def pre_call_check(self, deployment):
        verdict = decide(self, deployment, False)
        if verdict is None:
            return original_sync(self, deployment)
        kind, limit, usage = verdict
        if kind is None:
            return deployment
        raise refusal(deployment, kind, limit, usage, is_async=False)

    @functools.wraps(original_async)
    async def async_pre_call_check(self, deployment, parent_otel_span=None):
        verdict = decide(self, deployment, True, parent_otel_span)
        if verdict is None:
            return await original_async(self, deployment, parent_otel_span)
        kind, limit, usage = verdict
        if kind is None:
            return deployment
        raise refusal(deployment, kind, limit, usage, is_async=True)

    for name, original, replacement in (
        ("pre_call_check", original_sync, pre_call_check),
        ("async_pre_call_check", original_async, async_pre_call_check),
    ):
        feature.bindings.append(Binding(cls, name, original, True))  # type: ignore[arg-type]
        setattr(cls, name, replacement)


# The usage-based-v2 strategy's per-deployment check, both lines.
_USAGE_V2_MODULE = "litellm.router_strategy.lowest_tpm_rpm_v2"
_USAGE_V2_CLASS = "LowestTPMLoggingHandler_v2"


def _usage_v2_mismatch(module: ModuleType) -> str | None:
    """Why this LiteLLM's usage-based-v2 check is not the one the native path reproduces."""
    cls = getattr(module, _USAGE_V2_CLASS, None)
    if not isinstance(cls, type):
        return f"{_USAGE_V2_MODULE} has no {_USAGE_V2_CLASS}"
    expected = {
        "pre_call_check": ("self", "deployment"),
        "async_pre_call_check": ("self", "deployment", "parent_otel_span"),
        "_increment_value_in_current_window": ("self", "key", "value", "ttl"),
        "add_to_in_memory_keys_to_update": ("self", "key"),
    }
    for name, parameters in expected.items():
        method = getattr(cls, name, None)
        if not callable(method):
            return f"{_USAGE_V2_CLASS} has no {name}"
        found = tuple(inspect.signature(method).parameters)
        if found != parameters:
            return f"{_USAGE_V2_CLASS}.{name} takes {found}, expected {parameters}"
    if not callable(getattr(module, "get_utc_datetime", None)):
        return "the strategy module has no get_utc_datetime"
    return None


def _patch_usage_v2_check(feature: Feature, module: ModuleType) -> None:
    import httpx
    from litellm.caching.dual_cache import DualCache
    from litellm.caching.in_memory_cache import InMemoryCache
    from litellm.types.router import RouterErrors
    from litellm.utils import get_utc_datetime

    cls = getattr(module, _USAGE_V2_CLASS)
    decide = _native.UsageV2Checks(
        STATS["rate_limit"],
        DualCache,
        InMemoryCache,
        get_utc_datetime,
        module,
        cache_steps(),
    ).check
    original_sync = cls.__dict__["pre_call_check"]
    original_async = cls.__dict__["async_pre_call_check"]
    request = functools.partial(httpx.Request, method="tpm_rpm_limits", url="https://github.com/BerriAI/litellm")

    def refusal(deployment, stage, limit, usage, *, is_async):
        """The RateLimitError the strategy's check raises at `stage` ("local"/"counted")."""
        content = f"{RouterErrors.user_defined_ratelimit_error.value} rpm limit={limit}. current usage={usage}"
        if stage == "local" and not is_async:
            model_id = deployment.get("model_info", {}).get("id")
            content += (
                f". id={model_id}, model_group={deployment.get('model_name', '')}. "
                "Get the model info by calling 'router.get_model_info(id)"
            )
        response = (
            httpx.Response(status_code=429, content=content, headers={"retry-after": str(60)}, request=request())
            if is_async
            else httpx.Response(status_code=429, content=content, request=request())
        )
        extra = {"num_retries": deployment.get("num_retries")} if is_async else {}
        return module.litellm.RateLimitError(
            message=f"Deployment over defined rpm limit={limit}. current usage={usage}",
            llm_provider="",
            model=deployment.get("litellm_params", {}).get("model"),
            response=response,
            **extra,
        )

    @functools.wraps(original_sync)
    def pre_call_check(self, deployment):
        verdict = decide(self, deployment, False)
        if verdict is None:
            return original_sync(self, deployment)
        stage, limit, usage = verdict
        if stage is None:
            return deployment
        raise refusal(deployment, stage, limit, usage, is_async=False)

    @functools.wraps(original_async)
    async def async_pre_call_check(self, deployment, parent_otel_span):
        verdict = decide(self, deployment, True)
        if verdict is None:
            return await original_async(self, deployment, parent_otel_span)
        stage, limit, usage = verdict
        if stage is None:
            return deployment
        raise refusal(deployment, stage, limit, usage, is_async=True)

    for name, original, replacement in (
        ("pre_call_check", original_sync, pre_call_check),
        ("async_pre_call_check", original_async, async_pre_call_check),
    ):
        feature.bindings.append(Binding(cls, name, original, True))  # type: ignore[arg-type]
        setattr(cls, name, replacement)
