"""Side-by-side benchmark: LiteLLM as installed vs LiteLLM patched by fastllm_litellm.

Both sides run in this one process: the original functions are captured before ``patch()``,
the patched ones after it, and every row times them in interleaved rounds (baseline, patched,
then patched, baseline, ...) with ``time.perf_counter_ns``. A row prints a speedup only when
both sides returned equal outputs; otherwise it prints MISMATCH.

Run it through ``make bench`` (``LITELLM_VERSION=1.109.3 make bench`` for the other line).
Options: ``--rounds N`` (default 21), ``--json PATH`` to save the rows.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import random
import re
import statistics
import sys
import time
from collections.abc import Callable
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

    @property
    def speedup(self) -> float:
        return self.baseline_us / self.patched_us


def _timed(fn: Callable[[], object], calls: int) -> tuple[float, object]:
    start = time.perf_counter_ns()
    for _ in range(calls):
        out = fn()
    return (time.perf_counter_ns() - start) / calls / 1000, out


def compare(name: str, baseline: Callable[[], object], patched: Callable[[], object], rounds: int, budget_s: float = 0.02) -> Row:
    """Median per-call time of each side over interleaved rounds, and whether outputs agree."""
    expected, got = baseline(), patched()
    # Calls per round so that one round of the slower side takes about `budget_s`.
    probe, _ = _timed(baseline, 1)
    calls = max(1, int(budget_s * 1e6 / max(probe, 0.05)))
    base_times, patch_times = [], []
    equal = expected == got
    for r in range(rounds):
        order = ((baseline, base_times), (patched, patch_times))
        for fn, times in order if r % 2 == 0 else reversed(order):
            t, out = _timed(fn, calls)
            times.append(t)
            equal = equal and out == expected
    return Row(name, statistics.median(base_times), statistics.median(patch_times), equal)


def compare_async(name: str, baseline, patched, rounds: int, calls: int = 2000, setup=None) -> Row:
    """``compare`` for coroutine functions: each round awaits ``calls`` calls of each side
    inside one event loop; the last outputs of every round must agree. ``setup(side)``, if
    given, runs before each side's round ("baseline" or "patched")."""

    async def run() -> Row:
        base_times, patch_times, equal = [], [], True
        for r in range(rounds):
            outs = {}
            order = (("baseline", baseline, base_times), ("patched", patched, patch_times))
            for tag, fn, times in order if r % 2 == 0 else reversed(order):
                if setup is not None:
                    setup(tag)
                start = time.perf_counter_ns()
                for _ in range(calls):
                    out = await fn()
                times.append((time.perf_counter_ns() - start) / calls / 1000)
                outs[tag] = out
            equal = equal and outs["baseline"] == outs["patched"]
        return Row(name, statistics.median(base_times), statistics.median(patch_times), equal)

    import asyncio

    return asyncio.run(run())


def _v3_limiters(handler_cls, **kwargs):
    """Two of LiteLLM's own v3 limiters: one built unpatched, one built patched."""
    from litellm.caching.dual_cache import DualCache
    from litellm.proxy.utils import InternalUsageCache

    fastllm_litellm.unpatch()
    theirs = handler_cls(InternalUsageCache(DualCache()), **kwargs)
    fastllm_litellm.patch(["token_counter", "rate_limit"])
    ours = handler_cls(InternalUsageCache(DualCache()), **kwargs)
    fastllm_litellm.unpatch()
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

    from fastllm_litellm import _native

    patch_module = sys.modules["fastllm_litellm.patch"]
    big = 10**12
    one_key = [{"key": "api_key", "value": "k1", "rate_limit": {"requests_per_unit": big}}]
    three = [
        {"key": "api_key", "value": "k1", "rate_limit": {"requests_per_unit": big, "tokens_per_unit": big}},
        {"key": "user", "value": "u1", "rate_limit": {"requests_per_unit": big, "tokens_per_unit": big}},
        {"key": "team", "value": "t1", "rate_limit": {"requests_per_unit": big, "tokens_per_unit": big}},
    ]
    handler_cls = v3._PROXY_MaxParallelRequestsHandler_v3
    rows = []
    own_keyspace = patch_module._rate_limit_mismatch(v3) is None  # 1.110: the keyspace moves to Rust
    on_dual_cache = not own_keyspace and patch_module._dual_cache_limiter_mismatch(v3) is None  # 1.109
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
        )
        n = tasks * per_task
        rows.append(Row(row.function, row.baseline_us / n, row.patched_us / n, row.equal))

    # Checks per second with N Python threads, each with its own event loop, on one limiter:
    # on the 1.110 line only, whose patched limiter keeps its state behind a Rust lock (the
    # 1.109 line's state stays in LiteLLM's cache, which is one event loop's).
    for threads in (1, 2, 4) if own_keyspace else ():
        theirs, ours = _v3_limiters(handler_cls)
        per_thread = 20_000 // threads
        times: dict[str, list[float]] = {"baseline": [], "patched": []}
        admitted: dict[str, int] = {}
        error = None
        for r in range(max(3, rounds // 3)):
            order = (("baseline", theirs), ("patched", ours))
            for side, handler in order if r % 2 == 0 else reversed(order):
                if side == "baseline" and error is not None:
                    continue
                _sides(side)
                n, elapsed, failure = _threaded_checks(handler, one_key, threads, per_thread)
                if failure is not None:
                    error = failure
                    continue
                times[side].append(elapsed * 1e6 / (threads * per_thread))
                admitted[side] = n
        name = f"checks/s, {threads} thread{'s' if threads > 1 else ''}, a loop each (per check)"
        patched_us = statistics.median(times["patched"])
        if error is not None:
            rows.append(Row(name, float("nan"), patched_us, admitted["patched"] == threads * per_thread, error))
        else:
            equal = admitted["baseline"] == admitted["patched"] == threads * per_thread
            rows.append(Row(name, statistics.median(times["baseline"]), patched_us, equal))

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
        )
    ]
    # Sync: one side unpatched, the other patched, switched per round as above.
    sync_times: dict[str, list[float]] = {"baseline": [], "patched": []}
    equal = True
    for r in range(rounds):
        outs = {}
        order = (("baseline", theirs), ("patched", ours))
        for side, check in order if r % 2 == 0 else reversed(order):
            _sides(side)
            t, out = _timed(lambda check=check: outcome(lambda: check.pre_call_check(deployment)), 2000)
            sync_times[side].append(t)
            outs[side] = out
        equal = equal and outs["baseline"] == outs["patched"] == "admitted"
    fastllm_litellm.unpatch()
    rows.append(
        Row(
            "router deployment check, sync (rpm+tpm)",
            statistics.median(sync_times["baseline"]),
            statistics.median(sync_times["patched"]),
            equal,
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
        )
    )
    fastllm_litellm.unpatch()
    return rows


ROUTER_CHAT = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "What is the capital of France?"},
    {"role": "assistant", "content": "Paris is the capital of France."},
]


def _router_sides(side: str) -> None:
    if side == "baseline":
        fastllm_litellm.unpatch()
    else:
        fastllm_litellm.patch(["router"])


def _seeded(run: Callable[[], object], n: int, seed: int) -> list[object]:
    """``n`` results of ``run`` after ``random.seed(seed)``, then the next ``random.random()``:
    equal on both sides only if both drew the same deployments from the same random state."""
    random.seed(seed)
    out = [run() for _ in range(n)]
    return [*out, random.random()]


ROUTER_STRATEGIES = (
    "simple-shuffle",
    "least-busy",
    "usage-based-routing",
    "usage-based-routing-v2",
    "latency-based-routing",
    "cost-based-routing",
)
# Priced models for cost-based routing's rows (cost-map keys; a model not in it costs the default).
COST_MODELS = ("gpt-4o", "gpt-4o-mini", "gpt-3.5-turbo", "openai/gpt-4o-unpriced", "azure/gpt-4o")


def router_rows(rounds: int) -> list[Row]:
    """The router's pick over 20 deployments, per strategy the patch serves: LiteLLM's
    ``Router`` as installed vs patched (``router``). Simple-shuffle picks are random, so parity
    is checked on seeded sequences: the same seed must give the same deployments (and leave
    the same random state) on both sides. Then the sides are timed in interleaved rounds."""
    rows = []
    # The rows above leave their objects (v3 limiters, strategy handlers) in litellm.callbacks;
    # one that filters deployments rightly sends async picks to LiteLLM. A gateway's router does
    # not run with those, so these rows start without them, and put them back after.
    saved = list(litellm.callbacks)
    litellm.callbacks.clear()
    try:
        for strategy in ROUTER_STRATEGIES:
            rows += _strategy_rows(strategy, rounds)
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


def _strategy_rows(strategy: str, rounds: int) -> list[Row]:
    import asyncio

    from litellm.litellm_core_utils.logging_worker import GLOBAL_LOGGING_WORKER

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
    router = litellm.Router(model_list=model_list, num_retries=0, routing_strategy=strategy)
    usage_kwargs = [
        {"litellm_params": {"metadata": {"model_group": "gpt-4o"}, "model_info": {"id": f"deployment-{i}"}}} for i in range(20)
    ]
    if strategy == "usage-based-routing":
        # Tokens used this minute on every deployment, through LiteLLM's own handler.
        for i in range(20):
            router.lowesttpm_logger.log_success_event(usage_kwargs[i], {"usage": {"total_tokens": (i * 37) % 11 * 100}}, None, None)
    if strategy == "cost-based-routing":
        # The same, through the cost-based handler.
        for i in range(20):
            tokens = (i * 37) % 11 * 100
            usage = litellm.Usage(prompt_tokens=tokens, completion_tokens=0, total_tokens=tokens)
            router.lowestcost_logger.log_success_event(usage_kwargs[i], litellm.ModelResponse(usage=usage), None, None)
    if strategy == "least-busy":
        # Requests in flight on most deployments, counted by LiteLLM's own handler.
        for i in range(20):
            for _ in range((i * 7) % 5 + 1):
                router.leastbusy_logger.log_pre_api_call(
                    "gpt-4o",
                    ROUTER_CHAT,
                    {"litellm_params": {"metadata": {"model_group": "gpt-4o"}, "model_info": {"id": f"deployment-{i}"}}},
                )
    if strategy == "usage-based-routing-v2":
        # Tokens and requests this minute on every deployment, through the router cache's own
        # increment (what the strategy's success callbacks write).
        from litellm.router_strategy.lowest_tpm_rpm_v2 import get_utc_datetime

        minute = get_utc_datetime().strftime("%H-%M")
        for i in range(20):
            prefix = f"deployment-{i}:openai/gpt-4o-{i}"
            router.lowesttpm_logger_v2.router_cache.increment_cache(key=f"{prefix}:tpm:{minute}", value=(i * 37) % 11 * 100)
            router.lowesttpm_logger_v2.router_cache.increment_cache(key=f"{prefix}:rpm:{minute}", value=1)
    if strategy == "latency-based-routing":
        # Five recorded latencies per deployment, through LiteLLM's own handler.
        import datetime as dt

        start = dt.datetime.now()
        for i in range(20):
            for k in range(5):
                router.lowestlatency_logger.log_success_event(
                    {"litellm_params": {"metadata": {"model_group": "gpt-4o"}, "model_info": {"id": f"deployment-{i}"}}},
                    None,
                    start,
                    start + dt.timedelta(seconds=0.1 + ((i * 7 + k) % 13) / 10),
                )
    loop = asyncio.new_event_loop()

    def parity(run: Callable[[], object]) -> bool:
        sequences = {}
        for side in ("baseline", "patched"):
            _router_sides(side)
            sequences[side] = _seeded(run, 300, seed=2024)
        return sequences["baseline"] == sequences["patched"]

    def sync_pick():
        return router.get_available_deployment("gpt-4o")

    async def select_many(calls: int) -> float:
        start = time.perf_counter_ns()
        for _ in range(calls):
            await router.select("gpt-4o", {}, messages=ROUTER_CHAT)
        return (time.perf_counter_ns() - start) / calls / 1000

    def select_once():
        return loop.run_until_complete(router.select("gpt-4o", {}, messages=ROUTER_CHAT))

    rows = []
    # LiteLLM has no sync cost-based pick (it raises): that strategy has the async row only.
    has_sync = strategy != "cost-based-routing"
    sync_equal = parity(sync_pick) if has_sync else False
    select_equal = parity(select_once)
    times: dict[str, dict[str, list[float]]] = {"sync": {"baseline": [], "patched": []}, "select": {"baseline": [], "patched": []}}
    for r in range(rounds):
        order = ("baseline", "patched") if r % 2 == 0 else ("patched", "baseline")
        for side in order:
            _router_sides(side)
            if has_sync:
                times["sync"][side].append(_timed(sync_pick, 1000 if side == "patched" else 200)[0])
            times["select"][side].append(loop.run_until_complete(select_many(1000 if side == "patched" else 200)))
    for key, label, equal in (
        ("sync", f"router pick, {strategy}, sync (20 deployments)", sync_equal),
        ("select", f"router pick, {strategy}, async select + 3-message chat", select_equal),
    ):
        if times[key]["baseline"]:
            rows.append(Row(label, statistics.median(times[key]["baseline"]), statistics.median(times[key]["patched"]), equal))
    # acompletion(mock_response=...) end to end: per-request wall time at each concurrency.
    async def completions(concurrency: int, total: int) -> tuple[float, list[object]]:
        ids: list[object] = []

        async def worker(n: int) -> None:
            for _ in range(n):
                response = await router.acompletion(model="gpt-4o", messages=ROUTER_CHAT, mock_response="ok")
                ids.append((response.choices[0].message.content, response._hidden_params.get("model_id")))

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
        for side in ("baseline", "patched"):
            _router_sides(side)
            random.seed(7)
            seeded[side] = loop.run_until_complete(completions(1, 50))[1] + [random.random()]
    finally:
        for name, saved in paused.items():
            getattr(litellm, name)[:] = saved
    completion_equal = seeded["baseline"] == seeded["patched"]
    completion_rounds = max(3, rounds // 3)
    for concurrency in (1, 10, 50):
        per_request: dict[str, list[float]] = {"baseline": [], "patched": []}
        answered = True
        for r in range(completion_rounds):
            order = ("baseline", "patched") if r % 2 == 0 else ("patched", "baseline")
            for side in order:
                _router_sides(side)
                gc.collect()  # each round starts without the previous round's garbage
                took, ids = loop.run_until_complete(completions(concurrency, 200))
                per_request[side].append(took)
                answered = answered and len(ids) == 200 and all(content == "ok" for content, _ in ids)
        rows.append(
            Row(
                f"router acompletion(mock_response), {strategy}, concurrency {concurrency} (per request)",
                statistics.median(per_request["baseline"]),
                statistics.median(per_request["patched"]),
                completion_equal and answered,
            )
        )
    fastllm_litellm.unpatch()
    # Every `completions` run flushed its calls' logging on this loop, so it closes with none pending.
    loop.close()
    router.retire()
    return rows


def mixed_text(words: int, seed: int) -> str:
    """Deterministic prose with code, numbers, accents, CJK and emoji."""
    rng = random.Random(seed)
    vocab = (
        "the of and to in is that for it as was with be by on not he this are or his from at which but have an they "
        "you were her all she there would their we him been has when who will more no if out so said what up its "
        "about into than them can only other new some could time these two may then do first any my now such like "
        "our over man me even most made after also did many before must through back years where much your way well "
        "deployment router latency throughput tokenizer request response model provider gateway budget fallback "
        "café naïve résumé über Straße 東京 日本語 中文 한국어 😀 🚀 👩‍💻 "
        "fn let mut return Ok(()) {} => == != <= >= && || :: -> #include <stdio.h> SELECT * FROM WHERE "
        "2024 3.14159 42 1,000,000 0x7fff 192.168.0.1 don't it's we'll they're I'm"
    ).split()
    out, line = [], 0
    for i in range(words):
        out.append(rng.choice(vocab))
        line += 1
        if line > rng.randint(8, 20):
            out.append(rng.choice(["\n", "\n\n", ".\n", ". "]))
            line = 0
    return " ".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=21)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()

    original = core.token_counter
    fastllm_litellm.patch(features=["token_counter"])
    patched = core.token_counter
    assert patched is not original and litellm.token_counter is not original

    chat = [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "What is the capital of France?"},
        {"role": "assistant", "content": "Paris is the capital of France."},
    ]
    tools = [
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
    tool_chat = [*chat, {"role": "user", "content": "And the weather there tomorrow?"}]
    long_text = mixed_text(7000, seed=7)
    shorts = [f"Short prompt {i}: {mixed_text(6, seed=i)}" for i in range(1000)]

    rows = [
        compare(
            "token_counter, 3-message chat",
            lambda: original(model=MODEL, messages=chat),
            lambda: patched(model=MODEL, messages=chat),
            args.rounds,
        ),
        compare(
            "token_counter, chat with 2 tools + tool_choice",
            lambda: original(model=MODEL, messages=tool_chat, tools=tools, tool_choice="auto"),
            lambda: patched(model=MODEL, messages=tool_chat, tools=tools, tool_choice="auto"),
            args.rounds,
        ),
        compare(
            f"token_counter, ~{original(model=MODEL, text=long_text) // 1000}k-token text",
            lambda: original(model=MODEL, text=long_text),
            lambda: patched(model=MODEL, text=long_text),
            args.rounds,
            budget_s=0.05,
        ),
        compare(
            "token_counter, ~10k-token text, cl100k (gpt-4)",
            lambda: original(model="gpt-4", text=long_text),
            lambda: patched(model="gpt-4", text=long_text),
            args.rounds,
            budget_s=0.05,
        ),
        compare(
            "1000 short texts: loop vs count_tokens_batch",
            lambda: [original(model=MODEL, text=t) for t in shorts],
            lambda: fastllm_litellm.count_tokens_batch(MODEL, shorts),
            args.rounds,
            budget_s=0.05,
        ),
    ]
    stats = fastllm_litellm.status()
    fastllm_litellm.unpatch()
    rows += rate_limit_rows(args.rounds)
    rows += router_check_rows(args.rounds)
    fastllm_litellm.reset_stats()
    rows += router_rows(args.rounds)
    router_stats = fastllm_litellm.status()["features"]["router"]

    print(
        f"\nlitellm {stats['litellm_version']} | fastllm_litellm | Python {platform.python_version()} | "
        f"{platform.machine()} | {os.cpu_count()} cores | median of {args.rounds} interleaved rounds\n"
    )
    width = max(len(row.function) for row in rows)
    print(f"| {'function':<{width}} | {'baseline µs':>12} | {'patched µs':>11} | {'speedup':>8} | equal |")
    print("|" + "-" * (width + 2) + "|" + "-" * 13 + ":|" + "-" * 12 + ":|" + "-" * 9 + ":|:-----:|")
    notes = []
    for row in rows:
        if row.baseline_error is not None:
            notes.append(f"{row.function}: LiteLLM as installed fails: {row.baseline_error}")
            print(f"| {row.function:<{width}} | {'error¹':>12} | {row.patched_us:11.1f} | {'n/a':>8} | {'—':^5} |")
            continue
        # Two decimals below 10x, so a ratio near 1 shows which side it is on.
        ratio = (f"{row.speedup:7.2f}x" if row.speedup < 10 else f"{row.speedup:7.1f}x") if row.equal else "MISMATCH"
        print(
            f"| {row.function:<{width}} | {row.baseline_us:12.1f} | {row.patched_us:11.1f} | {ratio:>8} | "
            f"{'yes' if row.equal else 'no':^5} |"
        )
    for note in dict.fromkeys(notes):
        print(f"\n¹ {note}")
    tc = stats["features"]["token_counter"]
    print(f"\ntoken_counter: {tc['calls']} patched calls, {tc['fallbacks']} fallbacks")
    rl = fastllm_litellm.status()["features"]["rate_limit"]
    print(f"rate_limit: {rl['calls']} native checks, {rl['fallbacks']} fallbacks")
    print(f"router: {router_stats['calls']} patched picks, {router_stats['fallbacks']} fallbacks")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"litellm": stats["litellm_version"], "rows": [asdict(r) | {"speedup": r.speedup} for r in rows]}, f, indent=2)
    if not all(row.equal for row in rows if row.baseline_error is None):
        sys.exit(1)


if __name__ == "__main__":
    main()
