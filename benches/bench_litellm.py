"""Side-by-side benchmark: LiteLLM as installed vs LiteLLM patched by fastllm_litellm.

Both sides run in this one process: the original functions are captured before ``patch()``,
the patched ones after it, and every row times them in interleaved rounds (baseline, patched,
then patched, baseline, ...) with ``time.perf_counter_ns``. A row prints a speedup only when
both sides returned equal outputs; otherwise it prints MISMATCH. Each row also prints its
native share: of the calls its patched rounds made into the feature(s) the row exercises, the
part served natively rather than handed back to LiteLLM (``fastllm_litellm.status()`` deltas).

The router rows run twice: plain (bare deployments, a request with only messages) and
realistic (priced deployments with provider settings, limits and model_info, and requests as
SDK users and LiteLLM's proxy send them). The long-text token rows count text that ships with
CPython: prose from its reference documentation, a module's source, and CJK prose.

Run it through ``make bench`` (``LITELLM_VERSION=1.109.3 make bench`` for the other line).
Options: ``--rounds N`` (default 21), ``--json PATH`` to save the rows, and
``BENCH_FILTER=text`` in the environment to run only the rows whose section or name contains
``text`` (sections: token, rate, check, router; e.g. ``BENCH_FILTER=realistic``).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import platform
import random
import re
import statistics
import sys
import sysconfig
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("LITELLM_OFFLINE_MODE", "true")

import litellm  # noqa: E402
from litellm.litellm_core_utils import token_counter as core  # noqa: E402

import fastllm_litellm  # noqa: E402

MODEL = "gpt-4o"


@dataclass
class Row:
    function: str
    baseline_us: float
    patched_us: float
    equal: bool
    baseline_error: str | None = None  # the baseline could not run this row at all
    # Over the row's patched rounds: calls its feature(s) served natively, and all the calls
    # they received (native + handed back to LiteLLM). 0 of 0 when no patched path is counted.
    native: int = 0
    handled: int = 0

    @property
    def speedup(self) -> float:
        return self.baseline_us / self.patched_us

    @property
    def native_share(self) -> str:
        if self.handled == 0:
            return "—"
        if self.native == self.handled:
            return "100%"
        return f"{100 * self.native / self.handled:.1f}%"


def _feature_counts(features: tuple[str, ...]) -> tuple[int, int]:
    """``(native calls, native calls + fallbacks)`` recorded so far, summed over ``features``."""
    entries = fastllm_litellm.status()["features"]
    native = sum(entries[name]["calls"] for name in features)
    return native, native + sum(entries[name]["fallbacks"] for name in features)


class Share:
    """The native share of ``features`` over the stretches run inside :meth:`measure` (the
    patched rounds), read from ``fastllm_litellm.status()`` around them, outside the timing."""

    def __init__(self, *features: str) -> None:
        self.features = features
        self.native = self.handled = 0

    @contextlib.contextmanager
    def measure(self) -> Iterator[None]:
        native, handled = _feature_counts(self.features)
        try:
            yield
        finally:
            native_after, handled_after = _feature_counts(self.features)
            self.native += native_after - native
            self.handled += handled_after - handled

    def row(self, row: Row) -> Row:
        row.native, row.handled = self.native, self.handled
        return row


def selected(name: str) -> bool:
    """Whether ``BENCH_FILTER`` (unset: every row) is part of ``name``, ignoring case."""
    return os.environ.get("BENCH_FILTER", "").lower() in name.lower()


def _timed(fn: Callable[[], object], calls: int) -> tuple[float, object]:
    start = time.perf_counter_ns()
    for _ in range(calls):
        out = fn()
    return (time.perf_counter_ns() - start) / calls / 1000, out


def compare(
    name: str,
    baseline: Callable[[], object],
    patched: Callable[[], object],
    rounds: int,
    budget_s: float = 0.02,
    features: tuple[str, ...] = (),
) -> Row:
    """Median per-call time of each side over interleaved rounds, whether outputs agree, and
    the native share of ``features`` over the patched rounds."""
    expected, got = baseline(), patched()
    # Calls per round so that one round of the slower side takes about `budget_s`.
    probe, _ = _timed(baseline, 1)
    calls = max(1, int(budget_s * 1e6 / max(probe, 0.05)))
    base_times, patch_times = [], []
    equal = expected == got
    share = Share(*features)
    for r in range(rounds):
        order = ((baseline, base_times, contextlib.nullcontext), (patched, patch_times, share.measure))
        for fn, times, measure in order if r % 2 == 0 else reversed(order):
            with measure():
                t, out = _timed(fn, calls)
            times.append(t)
            equal = equal and out == expected
    return share.row(Row(name, statistics.median(base_times), statistics.median(patch_times), equal))


def compare_async(
    name: str, baseline, patched, rounds: int, calls: int = 2000, setup=None, features: tuple[str, ...] = ()
) -> Row:
    """``compare`` for coroutine functions: each round awaits ``calls`` calls of each side
    inside one event loop; the last outputs of every round must agree. ``setup(side)``, if
    given, runs before each side's round ("baseline" or "patched")."""

    async def run() -> Row:
        base_times, patch_times, equal = [], [], True
        share = Share(*features)
        for r in range(rounds):
            outs = {}
            order = (
                ("baseline", baseline, base_times, contextlib.nullcontext),
                ("patched", patched, patch_times, share.measure),
            )
            for tag, fn, times, measure in order if r % 2 == 0 else reversed(order):
                if setup is not None:
                    setup(tag)
                with measure():
                    start = time.perf_counter_ns()
                    for _ in range(calls):
                        out = await fn()
                    times.append((time.perf_counter_ns() - start) / calls / 1000)
                outs[tag] = out
            equal = equal and outs["baseline"] == outs["patched"]
        return share.row(Row(name, statistics.median(base_times), statistics.median(patch_times), equal))

    import asyncio

    return asyncio.run(run())


def _v3_limiters(handler_cls, **kwargs):
    """Two of LiteLLM's own v3 limiters: one built unpatched, one built patched."""
    from litellm.caching.dual_cache import DualCache
    from litellm.proxy.utils import InternalUsageCache

    # A day-long window (LiteLLM reads LITELLM_RATE_LIMIT_WINDOW_SIZE when a limiter is built):
    # the two limiters' 60 s windows would start at different moments and roll over at
    # different call counts on a slow run, and their answers (remaining counts) would differ.
    saved = os.environ.get("LITELLM_RATE_LIMIT_WINDOW_SIZE")
    os.environ["LITELLM_RATE_LIMIT_WINDOW_SIZE"] = "86400"
    try:
        fastllm_litellm.unpatch()
        theirs = handler_cls(InternalUsageCache(DualCache()), **kwargs)
        fastllm_litellm.patch(["token_counter", "rate_limit"])
        ours = handler_cls(InternalUsageCache(DualCache()), **kwargs)
        fastllm_litellm.unpatch()
    finally:
        if saved is None:
            del os.environ["LITELLM_RATE_LIMIT_WINDOW_SIZE"]
        else:
            os.environ["LITELLM_RATE_LIMIT_WINDOW_SIZE"] = saved
    assert theirs.window_size == ours.window_size == 86400
    return theirs, ours


def _sides(side: str) -> None:
    """Baseline rounds run LiteLLM as installed, patched rounds run it patched."""
    if side == "baseline":
        fastllm_litellm.unpatch()
    else:
        fastllm_litellm.patch(["token_counter", "rate_limit"])


def _threaded_checks(handler, descriptors, threads: int, per_thread: int) -> tuple[int, float, str | None]:
    """``threads`` threads, each running ``per_thread`` checks in its own event loop: the
    number admitted, the seconds taken, and the first error raised (if any)."""
    import asyncio
    import threading

    admitted: list[int] = []
    errors: list[str] = []

    def worker() -> None:
        async def run() -> int:
            ok = 0
            for _ in range(per_thread):
                r = await handler.should_rate_limit(descriptors)
                ok += r["overall_code"] == "OK"
            return ok

        try:
            admitted.append(asyncio.run(run()))
        except Exception as error:  # noqa: BLE001 - reported in the table
            errors.append(f"{type(error).__name__}: " + re.sub(r" object at 0x[0-9a-f]+", "", str(error)))

    # Daemon threads, joined with a deadline: a limiter that deadlocks across loops must not
    # hang the benchmark.
    workers = [threading.Thread(target=worker, daemon=True) for _ in range(threads)]
    start = time.perf_counter()
    for w in workers:
        w.start()
    deadline = time.monotonic() + 60
    for w in workers:
        w.join(timeout=max(0.0, deadline - time.monotonic()))
    if any(w.is_alive() for w in workers):
        errors.append("a thread hung (no progress for 60 s)")
    return sum(admitted), time.perf_counter() - start, errors[0] if errors else None


def rate_limit_rows(rounds: int) -> list[Row]:
    """LiteLLM's v3 limiter as installed vs the same limiter patched (``rate_limit``)."""
    import asyncio

    import litellm.proxy.hooks.parallel_request_limiter_v3 as v3

    from fastllm_litellm import _native, _rate_limit

    big = 10**12
    one_key = [{"key": "api_key", "value": "k1", "rate_limit": {"requests_per_unit": big}}]
    three = [
        {"key": "api_key", "value": "k1", "rate_limit": {"requests_per_unit": big, "tokens_per_unit": big}},
        {"key": "user", "value": "u1", "rate_limit": {"requests_per_unit": big, "tokens_per_unit": big}},
        {"key": "team", "value": "t1", "rate_limit": {"requests_per_unit": big, "tokens_per_unit": big}},
    ]
    handler_cls = v3._PROXY_MaxParallelRequestsHandler_v3
    rows = []
    own_keyspace = _rate_limit._rate_limit_mismatch(v3) is None  # 1.110: the keyspace moves to Rust
    on_dual_cache = not own_keyspace and _rate_limit._dual_cache_limiter_mismatch(v3) is None  # 1.109
    if not own_keyspace and not on_dual_cache:
        # A limiter the patch does not take: compare the native limiter.
        for name, descriptors in (("v3 should_rate_limit, 1 key rpm", one_key), ("v3 should_rate_limit, 3 descriptors rpm+tpm", three)):
            from litellm.caching.dual_cache import DualCache
            from litellm.proxy.utils import InternalUsageCache

            theirs = handler_cls(InternalUsageCache(DualCache()))
            ours = _native.RateLimiter(window_size=theirs.window_size)

            async def baseline(theirs=theirs, descriptors=descriptors):
                return await theirs.should_rate_limit(descriptors)

            async def native(ours=ours, descriptors=descriptors):
                return ours.should_rate_limit(descriptors)

            rows.append(compare_async(name + " (native limiter, unpatched line)", baseline, native, rounds))
        return rows

    for name, descriptors in (("v3 should_rate_limit, 1 key rpm", one_key), ("v3 should_rate_limit, 3 descriptors rpm+tpm", three)):
        theirs, ours = _v3_limiters(handler_cls)
        rows.append(
            compare_async(
                name,
                lambda theirs=theirs, descriptors=descriptors: theirs.should_rate_limit(descriptors),
                lambda ours=ours, descriptors=descriptors: ours.should_rate_limit(descriptors),
                rounds,
                setup=_sides,
                features=("rate_limit",),
            )
        )

    # Checks per second with N asyncio tasks checking one key at once.
    for tasks in (1, 10, 100):
        theirs, ours = _v3_limiters(handler_cls)
        per_task = max(1, 20_000 // tasks)  # enough work per task that task start-up does not dominate

        async def burst(handler, tasks=tasks, per_task=per_task):
            async def worker():
                ok = 0
                for _ in range(per_task):
                    r = await handler.should_rate_limit(one_key)
                    ok += r["overall_code"] == "OK"
                return ok

            return sum(await asyncio.gather(*(worker() for _ in range(tasks))))

        row = compare_async(
            f"checks/s, {tasks} asyncio task{'s' if tasks > 1 else ''} (per check)",
            lambda theirs=theirs, burst=burst: burst(theirs),
            lambda ours=ours, burst=burst: burst(ours),
            rounds,
            calls=1,
            setup=_sides,
            features=("rate_limit",),
        )
        n = tasks * per_task
        rows.append(Row(row.function, row.baseline_us / n, row.patched_us / n, row.equal, native=row.native, handled=row.handled))

    # Checks per second with N Python threads, each with its own event loop, on one limiter:
    # on the 1.110 line only, whose patched limiter keeps its state behind a Rust lock (the
    # 1.109 line's state stays in LiteLLM's cache, which is one event loop's).
    for threads in (1, 2, 4) if own_keyspace else ():
        theirs, ours = _v3_limiters(handler_cls)
        per_thread = 20_000 // threads
        times: dict[str, list[float]] = {"baseline": [], "patched": []}
        admitted: dict[str, int] = {}
        error = None
        share = Share("rate_limit")
        for r in range(max(3, rounds // 3)):
            order = (("baseline", theirs), ("patched", ours))
            for side, handler in order if r % 2 == 0 else reversed(order):
                if side == "baseline" and error is not None:
                    continue
                _sides(side)
                with share.measure() if side == "patched" else contextlib.nullcontext():
                    n, elapsed, failure = _threaded_checks(handler, one_key, threads, per_thread)
                if failure is not None:
                    error = failure
                    continue
                times[side].append(elapsed * 1e6 / (threads * per_thread))
                admitted[side] = n
        name = f"checks/s, {threads} thread{'s' if threads > 1 else ''}, a loop each (per check)"
        patched_us = statistics.median(times["patched"])
        if error is not None:
            rows.append(share.row(Row(name, float("nan"), patched_us, admitted["patched"] == threads * per_thread, error)))
        else:
            equal = admitted["baseline"] == admitted["patched"] == threads * per_thread
            rows.append(share.row(Row(name, statistics.median(times["baseline"]), patched_us, equal)))

    # LiteLLM's whole pre-call hook: descriptors for key, user and team, the checks, and the
    # TPM reservation of the request's token estimate.
    try:
        from litellm.proxy._types import UserAPIKeyAuth
        import litellm.proxy.proxy_server  # noqa: F401 - the hook reads the proxy's router
    except ImportError as error:
        print(f"(pre-call hook row skipped: {error})")
        return rows

    async def no_tags(names):
        return {}

    resolvers = {
        "tag_rate_limit_resolver": no_tags,
        "model_group_resolver": lambda model: None,
        "counted_models_resolver": lambda model, team: (model,),
        "media_model_resolver": lambda model, team: (),
        "ptu_team_ceiling_resolver": lambda team, group: None,
        "fail_closed_resolver": lambda: False,
        "force_hash_tag_grouping_resolver": lambda: False,
    }
    theirs, ours = _v3_limiters(handler_cls, **resolvers)
    user = UserAPIKeyAuth(
        api_key="sk-bench", user_id="u1", team_id="t1", rpm_limit=big, tpm_limit=big,
        user_rpm_limit=big, user_tpm_limit=big, team_rpm_limit=big, team_tpm_limit=big,
    )
    messages = [
        {"role": "system", "content": "You are a helpful assistant for a rate-limited gateway."},
        {"role": "user", "content": "How many tokens does this request reserve before it reaches the provider?"},
    ]
    from litellm.caching.dual_cache import DualCache

    async def hook(handler):
        data = {"model": MODEL, "messages": messages, "max_tokens": 256}
        out = await handler.async_pre_call_hook(user, DualCache(), data, "completion")
        return out is None or {k: v for k, v in out.items() if k != "metadata"}

    rows.append(
        compare_async(
            "v3 async_pre_call_hook (key+user+team rpm/tpm, TPM reservation)",
            lambda: hook(theirs),
            lambda: hook(ours),
            rounds,
            calls=300,
            setup=_sides,
            features=("rate_limit", "token_counter"),
        )
    )
    fastllm_litellm.unpatch()
    return rows


def router_check_rows(rounds: int) -> list[Row]:
    """The router's per-deployment check (``enforce_model_rate_limits``): LiteLLM's
    ``ModelRateLimitingCheck`` as installed vs patched (``rate_limit``), on both lines."""
    from litellm.caching.dual_cache import DualCache
    from litellm.router_utils.pre_call_checks.model_rate_limit_check import ModelRateLimitingCheck

    big = 10**12
    deployment = {
        "model_name": "gpt-4o",
        "litellm_params": {"model": "openai/gpt-4o", "rpm": big, "tpm": big},
        "model_info": {"id": "deployment-1"},
    }
    theirs, ours = ModelRateLimitingCheck(DualCache()), ModelRateLimitingCheck(DualCache())

    def outcome(run):
        try:
            return "admitted" if run() is deployment else "other"
        except Exception as error:  # noqa: BLE001 - compared as text
            return f"{type(error).__name__}: {error}"

    async def async_outcome(check):
        try:
            return "admitted" if await check.async_pre_call_check(deployment) is deployment else "other"
        except Exception as error:  # noqa: BLE001 - compared as text
            return f"{type(error).__name__}: {error}"

    rows = [
        compare_async(
            "router deployment check, async (rpm+tpm)",
            lambda: async_outcome(theirs),
            lambda: async_outcome(ours),
            rounds,
            setup=_sides,
            features=("rate_limit",),
        )
    ]
    # Sync: one side unpatched, the other patched, switched per round as above.
    sync_times: dict[str, list[float]] = {"baseline": [], "patched": []}
    equal = True
    share = Share("rate_limit")
    for r in range(rounds):
        outs = {}
        order = (("baseline", theirs), ("patched", ours))
        for side, check in order if r % 2 == 0 else reversed(order):
            _sides(side)
            with share.measure() if side == "patched" else contextlib.nullcontext():
                t, out = _timed(lambda check=check: outcome(lambda: check.pre_call_check(deployment)), 2000)
            sync_times[side].append(t)
            outs[side] = out
        equal = equal and outs["baseline"] == outs["patched"] == "admitted"
    fastllm_litellm.unpatch()
    rows.append(
        share.row(
            Row(
                "router deployment check, sync (rpm+tpm)",
                statistics.median(sync_times["baseline"]),
                statistics.median(sync_times["patched"]),
                equal,
            )
        )
    )

    # The usage-based-v2 strategy's own rpm check, which it runs on every pick's deployment.
    import warnings

    from litellm.router_strategy.lowest_tpm_rpm_v2 import LowestTPMLoggingHandler_v2

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # its Redis sync task, never started here
        v2_theirs, v2_ours = LowestTPMLoggingHandler_v2(DualCache()), LowestTPMLoggingHandler_v2(DualCache())

    async def v2_outcome(handler):
        try:
            return "admitted" if await handler.async_pre_call_check(deployment, None) is deployment else "other"
        except Exception as error:  # noqa: BLE001 - compared as text
            return f"{type(error).__name__}: {error}"

    rows.append(
        compare_async(
            "usage-based-v2 deployment check, async (rpm)",
            lambda: v2_outcome(v2_theirs),
            lambda: v2_outcome(v2_ours),
            rounds,
            setup=_sides,
            features=("rate_limit",),
        )
    )
    fastllm_litellm.unpatch()
    return rows


ROUTER_CHAT = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "What is the capital of France?"},
    {"role": "assistant", "content": "Paris is the capital of France."},
]


def _router_sides(side: str, features: tuple[str, ...] = ("router",)) -> None:
    if side == "baseline":
        fastllm_litellm.unpatch()
    else:
        fastllm_litellm.patch(list(features))


def _seeded(run: Callable[[], object], n: int, seed: int) -> list[object]:
    """``n`` results of ``run`` after ``random.seed(seed)``, then the next ``random.random()``:
    equal on both sides only if both drew the same deployments from the same random state."""
    random.seed(seed)
    out = [run() for _ in range(n)]
    return [*out, random.random()]


from fastllm_litellm._router import ROUTING_STRATEGIES as ROUTER_STRATEGIES  # noqa: E402
# Priced models for cost-based routing's rows (cost-map keys; a model not in it costs the default).
COST_MODELS = ("gpt-4o", "gpt-4o-mini", "gpt-3.5-turbo", "openai/gpt-4o-unpriced", "azure/gpt-4o")


# Two tools as an SDK user declares them (also the token rows' tool chat).
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Get the current weather for a city",
            "parameters": {
                "type": "object",
                "properties": {
                    "city": {"type": "string", "description": "City name"},
                    "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                    "days": {"type": "integer", "description": "Forecast days"},
                },
                "required": ["city"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "search",
            "description": "Search the web",
            "parameters": {
                "type": "object",
                "properties": {"query": {"type": "string"}, "limit": {"type": "integer"}},
                "required": ["query"],
            },
        },
    },
]


@dataclass
class RouterInputs:
    """What one set of router rows sends: the deployments, and the requests (cycled in order)."""

    name: str  # "" for the plain rows, else the part of the row label that says what they are
    model_list: list[dict[str, Any]]
    # Per request: the request kwargs a pick receives (None: the plain pick, which has none).
    requests: list[dict[str, Any] | None]
    concurrencies: tuple[int, ...]  # of the acompletion rows
    completions_per_round: int = 200


def _plain_inputs(strategy: str) -> RouterInputs:
    """Twenty bare deployments (weights only) and a request that carries only its messages."""
    model_list = [
        {
            "model_name": "gpt-4o",
            "litellm_params": {"model": f"openai/gpt-4o-{i}", "api_key": "sk-bench", "weight": 1 + i % 4},
            "model_info": {"id": f"deployment-{i}"},
        }
        for i in range(20)
    ]
    if strategy == "cost-based-routing":
        for i, deployment in enumerate(model_list):
            deployment["litellm_params"]["model"] = COST_MODELS[i % len(COST_MODELS)]
    return RouterInputs("", model_list, [None], (1, 10, 50))


def _realistic_model_list() -> list[dict[str, Any]]:
    """Twelve deployments of one group as a gateway's config lists them: OpenAI and Azure
    endpoints, each with its negotiated price, rpm/tpm quota, timeouts and retries, and the
    model_info a proxy config gives them (``db_model`` False: listed in the config file)."""
    model_list = []
    for i in range(12):
        azure = i % 3 != 0
        params: dict[str, Any] = {
            "model": f"azure/gpt-4o-{i}" if azure else "openai/gpt-4o",
            "api_key": f"sk-bench-{i}",
            "api_base": f"https://gw-{i}.openai.azure.com" if azure else "https://api.openai.com/v1",
            "timeout": 600.0 if azure else 60.0,
            "stream_timeout": 120.0,
            "max_retries": 2 + i % 2,
            "rpm": 6_000 + 1_000 * (i % 4),
            "tpm": 2_000_000 + 500_000 * (i % 3),
            "input_cost_per_token": (2.5 - 0.125 * (i % 5)) / 1e6,
            "output_cost_per_token": (10.0 - 0.5 * (i % 5)) / 1e6,
        }
        if azure:
            params["api_version"] = "2024-10-21"
        else:
            params["organization"] = "org-bench"
        model_list.append(
            {
                "model_name": "gpt-4o",
                "litellm_params": params,
                "model_info": {
                    "id": f"gw-gpt-4o-{i:02d}",
                    "mode": "chat",
                    "base_model": "azure/gpt-4o" if azure else "gpt-4o",
                    "db_model": False,
                    "supports_function_calling": True,
                    "max_input_tokens": 128_000,
                },
            }
        )
    return model_list


# What LiteLLM's proxy puts in a request's metadata before its router picks (the key's logged
# fields, the caller's headers, the route and the caller's address).
PROXY_METADATA: dict[str, Any] = {
    "user_api_key_hash": "2f0e5c7b1d9a43f8a6c1e0b7d5f3a9c2e4b6d8f0a1c3e5b7d9f1a3c5e7b9d1f3",
    "user_api_key_alias": "web-app-prod",
    "user_api_key_team_id": "team-search",
    "user_api_key_team_alias": "search",
    "user_api_key_user_id": "user-1234",
    "user_api_key_org_id": None,
    "user_api_key_end_user_id": None,
    "user_api_key_spend": 12.75,
    "user_api_key_max_budget": 500.0,
    "user_api_key_metadata": {},
    "user_api_key_team_metadata": {},
    "user_api_key_request_route": "/v1/chat/completions",
    "headers": {
        "host": "127.0.0.1:4000",
        "user-agent": "OpenAI/Python 1.54.4",
        "content-type": "application/json",
        "accept": "application/json",
        "x-stainless-lang": "python",
        "x-stainless-retry-count": "0",
    },
    "endpoint": "http://127.0.0.1:4000/v1/chat/completions",
    "requester_ip_address": "127.0.0.1",
    "user_agent": "OpenAI/Python 1.54.4",
    "requester_metadata": {},
    "global_max_parallel_requests": None,
}

REALISTIC_CHAT = [
    {"role": "system", "content": "You are the support assistant of an online bookshop. Answer briefly and cite the order number."},
    {"role": "user", "content": "Hi, my order #48213 says shipped but the tracking link is dead. Can you check?"},
    {"role": "assistant", "content": "Order #48213 left our warehouse on Monday with DHL; the carrier has not scanned it yet."},
    {"role": "user", "content": "OK. If it does not arrive by Friday, can I get a refund or a replacement?"},
]


def _realistic_requests() -> list[dict[str, Any]]:
    """Four requests as clients send them through LiteLLM's proxy (its metadata on each):
    sampling and length settings with a user id, tools, a stream, and a JSON-mode request."""
    base = {
        "model": "gpt-4o",
        "messages": REALISTIC_CHAT,
        "metadata": PROXY_METADATA,
        "litellm_call_id": "7d3f9a52-1c4e-4b8a-9e21-5f6a7b8c9d0e",
    }
    return [
        {**base, "temperature": 0.2, "max_tokens": 512, "user": "user-1234"},
        {**base, "temperature": 0.0, "tools": TOOLS, "tool_choice": "auto", "parallel_tool_calls": False, "user": "user-1234"},
        {**base, "stream": True, "stream_options": {"include_usage": True}, "max_completion_tokens": 1024, "top_p": 0.9},
        {**base, "response_format": {"type": "json_object"}, "seed": 42, "n": 1, "presence_penalty": 0.1, "frequency_penalty": 0.2},
    ]


def _realistic_inputs(strategy: str) -> RouterInputs:
    return RouterInputs("realistic", _realistic_model_list(), _realistic_requests(), (10,), completions_per_round=100)


def router_rows(rounds: int) -> list[Row]:
    """The router's pick per strategy the patch serves: LiteLLM's ``Router`` as installed vs
    patched (``router``), on plain inputs and on realistic ones. Simple-shuffle picks are
    random, so parity is checked on seeded sequences: the same seed must give the same
    deployments (and leave the same random state) on both sides. Then the sides are timed in
    interleaved rounds."""
    rows = []
    # The rows above leave their objects (v3 limiters, strategy handlers) in litellm.callbacks;
    # one that filters deployments rightly sends async picks to LiteLLM. A gateway's router does
    # not run with those, so these rows start without them, and put them back after.
    saved = list(litellm.callbacks)
    litellm.callbacks.clear()
    try:
        for inputs in (_plain_inputs, _realistic_inputs):
            for strategy in ROUTER_STRATEGIES:
                router_inputs = inputs(strategy)
                if selected(f"router {strategy} {router_inputs.name or 'plain'}"):
                    rows += _strategy_rows(strategy, rounds, router_inputs)
    finally:
        litellm.callbacks[:] = saved
    fastllm_litellm.unpatch()
    return rows


def _strategy_handler(router: Any, strategy: str) -> object:
    """The router's handler that records calls for ``strategy`` (None for simple-shuffle)."""
    attribute = {
        "least-busy": "leastbusy_logger",
        "usage-based-routing": "lowesttpm_logger",
        "usage-based-routing-v2": "lowesttpm_logger_v2",
        "latency-based-routing": "lowestlatency_logger",
        "cost-based-routing": "lowestcost_logger",
    }.get(strategy)
    return None if attribute is None else getattr(router, attribute)


def _seed_strategy_state(router: Any, strategy: str, model_list: list[dict[str, Any]]) -> None:
    """Usage, requests in flight or latencies on every deployment, through LiteLLM's own
    handlers, so the stateful strategies choose among unequal deployments."""
    ids = [deployment["model_info"]["id"] for deployment in model_list]

    def call_kwargs(i: int) -> dict[str, Any]:
        """What LiteLLM's handlers read of a call: its group and deployment (a fresh dict each)."""
        return {"litellm_params": {"metadata": {"model_group": "gpt-4o"}, "model_info": {"id": ids[i]}}}

    if strategy == "usage-based-routing":
        # Tokens used this minute on every deployment, through LiteLLM's own handler.
        for i in range(len(ids)):
            router.lowesttpm_logger.log_success_event(call_kwargs(i), {"usage": {"total_tokens": (i * 37) % 11 * 100}}, None, None)
    if strategy == "cost-based-routing":
        # The same, through the cost-based handler.
        for i in range(len(ids)):
            tokens = (i * 37) % 11 * 100
            usage = litellm.Usage(prompt_tokens=tokens, completion_tokens=0, total_tokens=tokens)
            router.lowestcost_logger.log_success_event(call_kwargs(i), litellm.ModelResponse(usage=usage), None, None)
    if strategy == "least-busy":
        # Requests in flight on most deployments, counted by LiteLLM's own handler.
        for i in range(len(ids)):
            for _ in range((i * 7) % 5 + 1):
                router.leastbusy_logger.log_pre_api_call("gpt-4o", ROUTER_CHAT, call_kwargs(i))
    if strategy == "usage-based-routing-v2":
        # Tokens and requests this minute on every deployment, through the router cache's own
        # increment (what the strategy's success callbacks write).
        from litellm.router_strategy.lowest_tpm_rpm_v2 import get_utc_datetime

        minute = get_utc_datetime().strftime("%H-%M")
        for i, deployment in enumerate(model_list):
            prefix = f"{ids[i]}:{deployment['litellm_params']['model']}"
            router.lowesttpm_logger_v2.router_cache.increment_cache(key=f"{prefix}:tpm:{minute}", value=(i * 37) % 11 * 100)
            router.lowesttpm_logger_v2.router_cache.increment_cache(key=f"{prefix}:rpm:{minute}", value=1)
    if strategy == "latency-based-routing":
        # Five recorded latencies per deployment, through LiteLLM's own handler.
        import datetime as dt

        start = dt.datetime.now()
        for i in range(len(ids)):
            for k in range(5):
                router.lowestlatency_logger.log_success_event(
                    call_kwargs(i), None, start, start + dt.timedelta(seconds=0.1 + ((i * 7 + k) % 13) / 10)
                )


def _utc_minute() -> str:
    """The UTC minute that the usage-based strategies key their counts by."""
    return time.strftime("%H-%M", time.gmtime())


def _calls_per_round(run: Callable[[], object], budget_s: float = 0.02) -> int:
    """Calls of ``run`` that take about ``budget_s`` (at least 20, at most 1000)."""
    probe, _ = _timed(run, 20)
    return max(20, min(1000, int(budget_s * 1e6 / max(probe, 0.05))))


def _strategy_rows(strategy: str, rounds: int, inputs: RouterInputs) -> list[Row]:
    import asyncio
    import itertools

    from litellm.litellm_core_utils.logging_worker import GLOBAL_LOGGING_WORKER

    realistic = inputs.name != ""
    # The realistic rows run as a user runs fastllm: `patch()`'s features, so a strategy that
    # counts the prompt's tokens against tpm limits counts them natively too (the native column
    # counts both features' calls). The plain rows patch the router alone, as they always have.
    features = ("router", "token_counter", "rate_limit") if realistic else ("router",)

    def sides(side: str) -> None:
        _router_sides(side, features)

    router = litellm.Router(model_list=inputs.model_list, num_retries=0, routing_strategy=strategy)
    _seed_strategy_state(router, strategy, inputs.model_list)
    loop = asyncio.new_event_loop()
    requests = inputs.requests
    turn = itertools.count()  # which request the next call sends (restarted for each parity run)

    def next_request() -> dict[str, Any] | None:
        return requests[next(turn) % len(requests)]

    def parity(run: Callable[[], object]) -> bool:
        nonlocal turn
        for _ in range(2):
            sequences = {}
            minute = _utc_minute()
            for side in ("baseline", "patched"):
                sides(side)
                turn = itertools.count()
                sequences[side] = _seeded(run, 300, seed=2024)
            if _utc_minute() == minute:
                break  # else the usage strategies' per-minute counts changed between the sides: again
        return sequences["baseline"] == sequences["patched"]

    if realistic:

        def sync_pick():
            request = next_request()
            return router.get_available_deployment("gpt-4o", messages=request["messages"], request_kwargs=request)

        async def select_one():
            request = next_request()
            return await router.select("gpt-4o", request, messages=request["messages"])

    else:

        def sync_pick():
            return router.get_available_deployment("gpt-4o")

        async def select_one():
            return await router.select("gpt-4o", {}, messages=ROUTER_CHAT)

    async def select_many(calls: int) -> float:
        start = time.perf_counter_ns()
        if realistic:
            for _ in range(calls):
                await select_one()
        else:
            # The plain pick awaited directly, as these rows have always timed it.
            for _ in range(calls):
                await router.select("gpt-4o", {}, messages=ROUTER_CHAT)
        return (time.perf_counter_ns() - start) / calls / 1000

    def select_once():
        return loop.run_until_complete(select_one())

    rows = []
    # LiteLLM has no sync cost-based pick (it raises): that strategy has the async row only.
    has_sync = strategy != "cost-based-routing"
    sync_equal = parity(sync_pick) if has_sync else False
    select_equal = parity(select_once)
    # Calls per round: the plain rows keep their fixed counts; the realistic ones take about
    # 20 ms a side, since LiteLLM may answer either side's picks there.
    calls = {"sync": {"baseline": 200, "patched": 1000}, "select": {"baseline": 200, "patched": 1000}}
    if realistic:
        for side in ("baseline", "patched"):
            sides(side)
            if has_sync:
                calls["sync"][side] = _calls_per_round(sync_pick)
            calls["select"][side] = _calls_per_round(select_once)
    times: dict[str, dict[str, list[float]]] = {"sync": {"baseline": [], "patched": []}, "select": {"baseline": [], "patched": []}}
    shares = {"sync": Share(*features), "select": Share(*features)}
    for r in range(rounds):
        order = ("baseline", "patched") if r % 2 == 0 else ("patched", "baseline")
        for side in order:
            sides(side)
            if has_sync:
                with shares["sync"].measure() if side == "patched" else contextlib.nullcontext():
                    times["sync"][side].append(_timed(sync_pick, calls["sync"][side])[0])
            with shares["select"].measure() if side == "patched" else contextlib.nullcontext():
                times["select"][side].append(loop.run_until_complete(select_many(calls["select"][side])))
    if realistic:
        n = len(inputs.model_list)
        labels = {
            "sync": f"router get_available_deployment, {strategy}, realistic requests, {n} priced deployments",
            "select": f"router async select, {strategy}, realistic requests, {n} priced deployments",
        }
    else:
        labels = {
            "sync": f"router pick, {strategy}, sync (20 deployments)",
            "select": f"router pick, {strategy}, async select + 3-message chat",
        }
    for key, equal in (("sync", sync_equal), ("select", select_equal)):
        if times[key]["baseline"]:
            base_us, patch_us = statistics.median(times[key]["baseline"]), statistics.median(times[key]["patched"])
            rows.append(shares[key].row(Row(labels[key], base_us, patch_us, equal)))

    async def complete(request: dict[str, Any] | None) -> tuple[object, object]:
        """One acompletion(mock_response): its text (a stream read to its end) and deployment."""
        if request is None:
            response = await router.acompletion(model="gpt-4o", messages=ROUTER_CHAT, mock_response="ok")
            return response.choices[0].message.content, response._hidden_params.get("model_id")
        # The proxy builds each request's metadata afresh, and the router writes into it; the
        # call id is left to LiteLLM, which makes one per call.
        extra = {key: value for key, value in request.items() if key not in ("model", "messages", "metadata", "litellm_call_id")}
        response = await router.acompletion(
            model="gpt-4o", messages=request["messages"], metadata=dict(request["metadata"]), mock_response="ok", **extra
        )
        if request.get("stream"):
            text = "".join([chunk.choices[0].delta.content or "" async for chunk in response if chunk.choices])
        else:
            text = response.choices[0].message.content
        return text, response._hidden_params.get("model_id")

    # acompletion(mock_response=...) end to end: per-request wall time at each concurrency.
    async def completions(concurrency: int, total: int) -> tuple[float, list[object]]:
        ids: list[object] = []

        async def worker(n: int) -> None:
            for _ in range(n):
                ids.append(await complete(next_request()))

        start = time.perf_counter_ns()
        await asyncio.gather(*(worker(total // concurrency) for _ in range(concurrency)))
        # The requests' queued logging is part of their cost: it finishes inside this round, so
        # none of it spills into the next round (the other side's).
        await GLOBAL_LOGGING_WORKER.flush()
        return (time.perf_counter_ns() - start) / total / 1000, ids

    # Parity: one request at a time from the same seed answers from the same deployments. The
    # stateful strategies' counts and latencies move when LiteLLM's handlers record a call, on
    # its logging worker and threads, so two runs of LiteLLM itself do not pick alike while they
    # record: for this check the router's strategy handler records nothing (it is out of
    # LiteLLM's callback lists), so both sides pick from the state set up above, by their rules.
    handler = _strategy_handler(router, strategy)
    paused = {name: list(getattr(litellm, name)) for name in ("callbacks", "input_callback")}
    if handler is not None:
        for name in paused:
            getattr(litellm, name)[:] = [cb for cb in paused[name] if cb is not handler]
    seeded: dict[str, list[object]] = {}
    try:
        for _ in range(2):
            minute = _utc_minute()
            for side in ("baseline", "patched"):
                sides(side)
                turn = itertools.count()
                random.seed(7)
                seeded[side] = loop.run_until_complete(completions(1, 50))[1] + [random.random()]
            if _utc_minute() == minute:
                break  # else the usage strategies' per-minute counts changed between the sides: again
    finally:
        for name, saved in paused.items():
            getattr(litellm, name)[:] = saved
    completion_equal = seeded["baseline"] == seeded["patched"]
    completion_rounds = max(3, rounds // 3)
    total = inputs.completions_per_round
    for concurrency in inputs.concurrencies:
        per_request: dict[str, list[float]] = {"baseline": [], "patched": []}
        share = Share(*features)
        answered = True
        for r in range(completion_rounds):
            order = ("baseline", "patched") if r % 2 == 0 else ("patched", "baseline")
            for side in order:
                sides(side)
                gc.collect()  # each round starts without the previous round's garbage
                with share.measure() if side == "patched" else contextlib.nullcontext():
                    took, ids = loop.run_until_complete(completions(concurrency, total))
                per_request[side].append(took)
                answered = answered and len(ids) == total and all(content == "ok" for content, _ in ids)
        label = (
            f"router acompletion(mock_response), {strategy}, realistic requests, concurrency {concurrency} (per request)"
            if realistic
            else f"router acompletion(mock_response), {strategy}, concurrency {concurrency} (per request)"
        )
        base_us, patch_us = statistics.median(per_request["baseline"]), statistics.median(per_request["patched"])
        rows.append(share.row(Row(label, base_us, patch_us, completion_equal and answered)))
    fastllm_litellm.unpatch()
    # Every `completions` run flushed its calls' logging on this loop, so it closes with none pending.
    loop.close()
    router.retire()
    return rows


# CPython's standard library, as installed with the interpreter running this script.
STDLIB = sysconfig.get_paths()["stdlib"]
CODE_FILE = "functools.py"


def reference_prose(chars: int = 40_000) -> str:
    """English prose: the Python Language Reference's topics as ``pydoc`` shows them (CPython's
    Lib/pydoc_data/topics.py), whole topics in key order until about ``chars`` characters."""
    from pydoc_data.topics import topics

    parts, size = [], 0
    for key in sorted(topics):
        if size >= chars:
            break
        parts.append(topics[key])
        size += len(topics[key])
    return "\n\n".join(parts)


def cjk_prose() -> str | None:
    """Chinese, Japanese and Korean prose (with some English), CPython's codec test texts in
    UTF-8 (Lib/test/cjkencodings/*-utf8.txt), each distinct text once; None without them."""
    folder = os.path.join(STDLIB, "test", "cjkencodings")
    try:
        names = sorted(name for name in os.listdir(folder) if name.endswith("-utf8.txt"))
    except FileNotFoundError:
        return None
    texts = []
    for name in names:
        with open(os.path.join(folder, name), encoding="utf-8") as f:
            texts.append(f.read())
    return "\n".join(dict.fromkeys(texts)) or None


def source_code() -> str:
    """Python code as written by people: one whole module of CPython's standard library."""
    with open(os.path.join(STDLIB, CODE_FILE), encoding="utf-8") as f:
        return f.read()


def _about(tokens: int) -> str:
    return f"~{round(tokens, -2):,}" if tokens >= 1000 else str(tokens)


def token_rows(rounds: int, original: Callable[..., int], patched: Callable[..., int]) -> list[Row]:
    """``token_counter`` as installed vs patched, on chats and on text as found in the wild."""
    chat = [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "What is the capital of France?"},
        {"role": "assistant", "content": "Paris is the capital of France."},
    ]
    tool_chat = [*chat, {"role": "user", "content": "And the weather there tomorrow?"}]
    prose, code, cjk = reference_prose(), source_code(), cjk_prose()
    # 1000 short texts: the first 1000 distinct non-empty lines of the whole reference text.
    lines = dict.fromkeys(line.strip() for line in reference_prose(10**9).splitlines() if line.strip())
    shorts = list(lines)[:1000]
    token = ("token_counter",)
    # (label, model, text) of the long texts.
    texts = [
        (
            f"token_counter, {_about(original(model=MODEL, text=prose))}-token English prose (CPython pydoc_data topics)",
            MODEL,
            prose,
        ),
        (f"token_counter, {_about(original(model='gpt-4', text=prose))}-token English prose, cl100k (gpt-4)", "gpt-4", prose),
        (f"token_counter, {_about(original(model=MODEL, text=code))}-token Python code (CPython Lib/{CODE_FILE})", MODEL, code),
    ]
    if cjk is not None:
        label = f"token_counter, {_about(original(model=MODEL, text=cjk))}-token CJK prose (CPython test/cjkencodings)"
        texts.append((label, MODEL, cjk))
    else:
        print(f"(CJK prose row skipped: no {os.path.join(STDLIB, 'test', 'cjkencodings')})")
    rows = []
    if selected("token_counter, 3-message chat"):
        rows.append(
            compare(
                "token_counter, 3-message chat",
                lambda: original(model=MODEL, messages=chat),
                lambda: patched(model=MODEL, messages=chat),
                rounds,
                features=token,
            )
        )
    if selected("token_counter, chat with 2 tools + tool_choice"):
        rows.append(
            compare(
                "token_counter, chat with 2 tools + tool_choice",
                lambda: original(model=MODEL, messages=tool_chat, tools=TOOLS, tool_choice="auto"),
                lambda: patched(model=MODEL, messages=tool_chat, tools=TOOLS, tool_choice="auto"),
                rounds,
                features=token,
            )
        )
    for label, model, text in texts:
        if selected(label):
            rows.append(
                compare(
                    label,
                    lambda model=model, text=text: original(model=model, text=text),
                    lambda model=model, text=text: patched(model=model, text=text),
                    rounds,
                    budget_s=0.05,
                    features=token,
                )
            )
    label = "1000 short texts (reference lines): loop vs count_tokens_batch"
    if selected(label):
        # count_tokens_batch is fastllm_litellm's own API, not a patched LiteLLM path: no share.
        rows.append(
            compare(
                label,
                lambda: [original(model=MODEL, text=t) for t in shorts],
                lambda: fastllm_litellm.count_tokens_batch(MODEL, shorts),
                rounds,
                budget_s=0.05,
            )
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=21)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()

    original = core.token_counter
    fastllm_litellm.patch(features=["token_counter"])
    patched = core.token_counter
    assert patched is not original and litellm.token_counter is not original

    rows = token_rows(args.rounds, original, patched)
    stats = fastllm_litellm.status()
    fastllm_litellm.unpatch()
    if selected("rate_limit"):
        rows += rate_limit_rows(args.rounds)
    if selected("router check"):
        rows += router_check_rows(args.rounds)
    limit_stats = fastllm_litellm.status()["features"]["rate_limit"]
    fastllm_litellm.reset_stats()
    rows += router_rows(args.rounds)
    router_stats = fastllm_litellm.status()["features"]["router"]

    print(
        f"\nlitellm {stats['litellm_version']} | fastllm_litellm | Python {platform.python_version()} | "
        f"{platform.machine()} | {os.cpu_count()} cores | median of {args.rounds} interleaved rounds\n"
    )
    if not rows:
        print(f"no row matches BENCH_FILTER={os.environ.get('BENCH_FILTER')!r}")
        sys.exit(1)
    width = max(len(row.function) for row in rows)
    print(f"| {'function':<{width}} | {'baseline µs':>12} | {'patched µs':>11} | {'speedup':>8} | equal | {'native':>6} |")
    print("|" + "-" * (width + 2) + "|" + "-" * 13 + ":|" + "-" * 12 + ":|" + "-" * 9 + ":|:-----:|" + "-" * 7 + ":|")
    notes = []
    for row in rows:
        if row.baseline_error is not None:
            notes.append(f"{row.function}: LiteLLM as installed fails: {row.baseline_error}")
            print(
                f"| {row.function:<{width}} | {'error¹':>12} | {row.patched_us:11.1f} | {'n/a':>8} | {'—':^5} | "
                f"{row.native_share:>6} |"
            )
            continue
        # Two decimals below 10x, so a ratio near 1 shows which side it is on.
        ratio = (f"{row.speedup:7.2f}x" if row.speedup < 10 else f"{row.speedup:7.1f}x") if row.equal else "MISMATCH"
        print(
            f"| {row.function:<{width}} | {row.baseline_us:12.1f} | {row.patched_us:11.1f} | {ratio:>8} | "
            f"{'yes' if row.equal else 'no':^5} | {row.native_share:>6} |"
        )
    for note in dict.fromkeys(notes):
        print(f"\n¹ {note}")
    print(
        "\nnative: of the calls a row's patched rounds made into its feature(s) (token_counter, rate_limit or "
        "router), the share served natively, not handed back to LiteLLM; — where the row counts no patched path "
        "(fastllm_litellm's own count_tokens_batch, or the native limiter called directly)."
    )
    tc = stats["features"]["token_counter"]
    print(f"\ntoken_counter: {tc['calls']} patched calls, {tc['fallbacks']} fallbacks")
    print(f"rate_limit: {limit_stats['calls']} native checks, {limit_stats['fallbacks']} fallbacks")
    print(f"router: {router_stats['calls']} patched picks, {router_stats['fallbacks']} fallbacks")
    if args.json:
        with open(args.json, "w") as f:
            saved = [asdict(r) | {"speedup": r.speedup, "native_share": r.native_share} for r in rows]
            json.dump({"litellm": stats["litellm_version"], "rows": saved}, f, indent=2)
    if not all(row.equal for row in rows if row.baseline_error is None):
        sys.exit(1)


if __name__ == "__main__":
    main()
