"""The ``router`` feature against LiteLLM's own ``Router``, on the installed line.

Each trace runs twice from the same ``random.seed``: on LiteLLM as installed, then patched,
each time on a fresh router built from the same arguments. Every pick (sync, the deprecated
async pick, ``select``), every ``acompletion(mock_response=...)`` outcome, the cooldown set
after every step and the ``random`` state at the end must be equal.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import copy
import datetime as dt
import inspect
import random
from typing import Any

import litellm
import litellm.integrations.custom_logger
import pytest
from litellm.litellm_core_utils.logging_worker import GLOBAL_LOGGING_WORKER
from litellm.litellm_core_utils.thread_pool_executor import executor as logging_executor
from litellm.router_strategy import lowest_cost as cost_module
from litellm.router_strategy import lowest_latency as latency_module
from litellm.router_strategy import lowest_tpm_rpm as v1_module
from litellm.router_strategy import lowest_tpm_rpm_v2 as v2_module

import fastllm_litellm
from fastllm_litellm import _router

MESSAGES = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "hello there"},
    {"role": "user", "content": "how are you?"},
]

EMBEDDING_INPUTS = [
    ["hello there", "how are you today?"],
    "one text " * 40,
    ["a caption", "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="],
]

LINE = _router._line(litellm)
# Both supported lines have a router core the feature knows; anything else is a failure here.
assert not isinstance(LINE, str), LINE


@pytest.fixture(autouse=True)
def no_global_callbacks():
    """Each test starts without the callbacks earlier tests' routers left in litellm.callbacks
    (a routing callback that filters deployments rightly sends async picks to LiteLLM), and
    leaves them as it found them."""
    saved = list(litellm.callbacks)
    litellm.callbacks.clear()
    try:
        yield
    finally:
        litellm.callbacks[:] = saved


def deployments(group: str, n: int, **params: Any) -> list[dict[str, Any]]:
    """``n`` deployments of ``group``; ``params`` values may be lists (one value per deployment)."""
    out = []
    for i in range(n):
        litellm_params: dict[str, Any] = {"model": f"openai/{group}-{i}", "api_key": "sk-test"}
        for name, value in params.items():
            chosen = value[i % len(value)] if isinstance(value, list) else value
            if chosen is not None:
                litellm_params[name] = chosen
        out.append({"model_name": group, "litellm_params": litellm_params, "model_info": {"id": f"{group}-{i}"}})
    return out


def failure(kind: str) -> Exception:
    if kind == "429":
        return litellm.RateLimitError(message="slow down", llm_provider="openai", model="gpt-4o")
    if kind == "401":
        return litellm.AuthenticationError(message="bad key", llm_provider="openai", model="gpt-4o")
    if kind == "timeout":
        return litellm.Timeout(message="timed out", model="gpt-4o", llm_provider="openai")
    raise AssertionError(kind)


def cooldowns(router: Any) -> list[str]:
    ids = [d["model_info"]["id"] for d in router.get_model_list()]
    active = router.health().cooldowns.get_active_cooldowns(model_ids=ids, parent_otel_span=None)
    return sorted(model_id for model_id, _ in active)


def outcome(value: Any) -> Any:
    """What a step returned, comparable across runs (with the request dict the pick was
    given, as the pick left it)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, tuple):
        return tuple(outcome(item) for item in value)
    if isinstance(value, dict):
        return ("deployment", copy.deepcopy(value))
    if isinstance(value, BaseException):
        return ("raise", type(value).__name__)
    content = value.choices[0].message.content
    return ("response", content, value._hidden_params.get("model_id"))


async def step(router: Any, op: tuple) -> Any:
    kind, model = op[0], op[1]
    try:
        if kind == "sync":
            return router.get_available_deployment(model)
        if kind == "sync_messages":
            return router.get_available_deployment(model, messages=MESSAGES)
        if kind == "sync_input":
            # An embedding-style input: plain texts, or one with an image (which 1.110 counts
            # with the deployments' backend models).
            return router.get_available_deployment(model, input=EMBEDDING_INPUTS[op[2]])
        if kind == "async":
            request: dict[str, Any] = {"metadata": {"model_group": model}}
            picked = await router.async_get_available_deployment(model, request_kwargs=request, messages=MESSAGES)
            return picked, request
        if kind == "select":
            request = {}
            return await router.select(model, request, messages=MESSAGES), request
        if kind == "ok":
            return await router.acompletion(model=model, messages=MESSAGES, mock_response="fine")
        if kind == "fail":
            return await router.acompletion(model=model, messages=MESSAGES, mock_response=failure(op[2]))
        if kind == "completion":
            return router.completion(model=model, messages=MESSAGES, mock_response="fine")
        if kind == "completion_fail":
            return router.completion(model=model, messages=MESSAGES, mock_response=failure(op[2]))
        if kind == "completion_quiet":
            # A sync completion whose success the strategies' handlers do not record (they
            # record it on LiteLLM's worker threads, whose timing differs between any two runs
            # of LiteLLM itself): the pick, and its least-busy reservation, are what is compared.
            saved = {name: list(getattr(litellm, name)) for name in ("callbacks", "input_callback")}
            for name, callbacks in saved.items():
                getattr(litellm, name)[:] = [
                    cb for cb in callbacks if not type(cb).__module__.startswith("litellm.router_strategy")
                ]
            # The handlers stay out until the logging threads and tasks this call started are done.
            futures: list[concurrent.futures.Future] = []
            submit = logging_executor.submit

            def tracked(*args: Any, **kwargs: Any) -> concurrent.futures.Future:
                future = submit(*args, **kwargs)
                futures.append(future)
                return future

            logging_executor.submit = tracked  # type: ignore[method-assign]
            try:
                return router.completion(model=model, messages=MESSAGES, mock_response="fine")
            finally:
                del logging_executor.submit
                concurrent.futures.wait(futures, timeout=30)
                await GLOBAL_LOGGING_WORKER.flush()
                for name, callbacks in saved.items():
                    getattr(litellm, name)[:] = callbacks
        if kind == "busy":
            # A request starts (+1) or ends (-1) on deployment `index`, through LiteLLM's own
            # least-busy handler, as its callbacks would count it.
            _, _, index, delta = op
            handler = router.leastbusy_logger
            kwargs = {"litellm_params": {"metadata": {"model_group": model}, "model_info": {"id": f"{model}-{index}"}}}
            if delta > 0:
                handler.log_pre_api_call(model, MESSAGES, kwargs)
            else:
                handler.log_success_event(kwargs, None, None, None)
            return None
        if kind == "reserve":
            # 1.110: a pick that holds a reservation, made by LiteLLM's own handler (1.109's
            # handler holds none).
            if "reserve" not in inspect.signature(router.leastbusy_logger.get_available_deployments).parameters:
                return None
            picked = router.leastbusy_logger.get_available_deployments(
                model, [d for d in router.get_model_list() if d["model_name"] == model], reserve=True, call_id=op[2]
            )
            return picked["model_info"]["id"]
        if kind == "sync_reserving":
            # 1.110: a sync pick made where a routed call site asks picks to hold (the patched
            # pick holds it too, through LiteLLM's own reservation writes).
            from litellm.router_strategy import least_busy

            if not hasattr(least_busy, "picks_reserve"):
                return None
            with least_busy.picks_reserve(True):
                return router.get_available_deployment(model, request_kwargs={"litellm_call_id": op[2]})
        if kind == "usage":
            # Tokens or requests counted this minute on deployment `index`, through the router
            # cache's own increment (what usage-based-v2's success callbacks write).
            _, _, index, what, amount = op
            handler = router.lowesttpm_logger_v2
            deployment = next(d for d in router.get_model_list() if d["model_info"]["id"] == f"{model}-{index}")
            minute = v2_module.get_utc_datetime().strftime("%H-%M")
            key = f"{model}-{index}:{deployment['litellm_params']['model']}:{what}:{minute}"
            handler.router_cache.increment_cache(key=key, value=amount)
            return None
        if kind == "latency":
            # A call that took `seconds` (and, on a stream, `ttft` to its first token) on
            # deployment `index`, recorded by LiteLLM's own latency handler.
            _, _, index, seconds, ttft = op
            start = dt.datetime(2026, 11, 28, 9, 41, 0)
            kwargs: dict[str, Any] = {
                "litellm_params": {"metadata": {"model_group": model}, "model_info": {"id": f"{model}-{index}"}}
            }
            if ttft is not None:
                kwargs["stream"] = True
                kwargs["completion_start_time"] = start + dt.timedelta(seconds=ttft)
            router.lowestlatency_logger.log_success_event(kwargs, None, start, start + dt.timedelta(seconds=seconds))
            return None
        if kind == "v1_usage":
            # A call that used `tokens` on deployment `index`, recorded by LiteLLM's own
            # usage-based (v1) handler.
            _, _, index, tokens = op
            kwargs = {"litellm_params": {"metadata": {"model_group": model}, "model_info": {"id": f"{model}-{index}"}}}
            router.lowesttpm_logger.log_success_event(kwargs, {"usage": {"total_tokens": tokens}}, None, None)
            return None
        if kind == "cost_usage":
            # The same, recorded by LiteLLM's own cost-based handler.
            _, _, index, tokens = op
            kwargs = {"litellm_params": {"metadata": {"model_group": model}, "model_info": {"id": f"{model}-{index}"}}}
            usage = litellm.Usage(prompt_tokens=tokens, completion_tokens=0, total_tokens=tokens)
            router.lowestcost_logger.log_success_event(kwargs, litellm.ModelResponse(usage=usage), None, None)
            return None
        if kind == "price":
            # The cost map's row of `model` replaced (None: removed), or one price in it changed
            # in place.
            _, key, row, *in_place = op
            if in_place:
                litellm.model_cost[key][row] = in_place[0]
            elif row is None:
                litellm.model_cost.pop(key, None)
            else:
                litellm.model_cost[key] = dict(row)
            return None
        if kind == "select_stream":
            request = {"stream": True}
            return await router.select(model, request, messages=MESSAGES), request
        if kind == "store":
            # A count written straight into the router cache (odd values included).
            _, _, index, value = op
            router.leastbusy_logger.router_cache.set_cache(f"{model}_request_count:{model}-{index}", value, local_only=True)
            return None
    except Exception as error:  # noqa: BLE001 - the type is compared
        return error
    raise AssertionError(kind)


def run(router_kwargs: dict[str, Any], ops: list[tuple], seed: int, patched: bool) -> list[Any]:
    if patched:
        fastllm_litellm.patch(["router"])
    try:
        router = litellm.Router(**copy.deepcopy(router_kwargs))
        loop = asyncio.new_event_loop()
        try:
            random.seed(seed)
            trace = []
            for op in ops:
                trace.append((op, outcome(loop.run_until_complete(step(router, op))), cooldowns(router)))
            trace.append(("random", random.random()))
        finally:
            loop.close()
            # Its strategy handlers leave litellm.callbacks, so the next run starts from the same
            # global state (they would otherwise count and filter for the next router too).
            router.retire()
        return trace
    finally:
        fastllm_litellm.unpatch(["router"])


def assert_same(router_kwargs: dict[str, Any], ops: list[tuple], seed: int, *, served: bool = True) -> None:
    baseline = run(router_kwargs, ops, seed, patched=False)
    fastllm_litellm.reset_stats()
    patched = run(router_kwargs, ops, seed, patched=True)
    assert_traces_equal(patched, baseline)
    stats = fastllm_litellm.status()["features"]["router"]
    if served:
        assert stats["calls"] > stats["fallbacks"], stats
    else:
        assert stats["calls"] == stats["fallbacks"] > 0, stats


def assert_traces_equal(patched: list[Any], baseline: list[Any]) -> None:
    """The first step where the traces differ, said briefly (pytest's own rendering of two
    long nested traces is unreadable, and can fail outright)."""
    if patched == baseline:
        return
    for i, (ours, theirs) in enumerate(zip(patched, baseline, strict=True)):
        if ours != theirs:
            raise AssertionError(f"step {i} differs:\n  patched:  {ours!r:.600}\n  baseline: {theirs!r:.600}")
    raise AssertionError("traces differ")


def random_ops(rng: random.Random, groups: list[str], n: int) -> list[tuple]:
    ops: list[tuple] = []
    for _ in range(n):
        kind = rng.choices(
            ["sync", "sync_messages", "async", "select", "ok", "fail", "completion", "completion_fail"],
            weights=[5, 2, 5, 5, 2, 1, 1, 1],
        )[0]
        op: tuple = (kind, rng.choice(groups))
        if kind in ("fail", "completion_fail"):
            op += (rng.choice(["429", "401", "timeout"]),)
        ops.append(op)
    return ops


CONFIGS = {
    "uniform": deployments("g", 5),
    "weight": deployments("g", 6, weight=[1, 3, 0.5]),
    "rpm": deployments("g", 4, rpm=[10, 300, 50, 1]),
    "tpm": deployments("g", 4, tpm=[1000, 20, 999, 5]),
    "weight-zero-then-rpm": deployments("g", 3, weight=0, rpm=[5, 7, None]),
    "mixed-groups": deployments("g", 3, weight=[1, 2]) + deployments("h", 20, rpm=[1, 10, 100]) + deployments("one", 1),
}


@pytest.mark.parametrize("name", sorted(CONFIGS))
@pytest.mark.parametrize("seed", [1, 7, 2024])
def test_seeded_traces_equal(name: str, seed: int) -> None:
    model_list = CONFIGS[name]
    groups = sorted({d["model_name"] for d in model_list})
    ops = random_ops(random.Random(seed * 31 + len(name)), groups, 60)
    assert_same({"model_list": model_list, "num_retries": 0, "cooldown_time": 600}, ops, seed)


def test_plain_traces_never_fall_back() -> None:
    """Picks and successful calls of every entry point, mixed: all served natively, none handed
    back (a router's own counters filling up must not look like a settings change)."""
    ops = [("sync", "g"), ("async", "g"), ("select", "g"), ("ok", "g"), ("completion", "g"), ("sync_messages", "g")] * 8
    assert_same({"model_list": deployments("g", 5, weight=[2, 1]), "num_retries": 0}, ops, 21)
    stats = fastllm_litellm.status()["features"]["router"]
    assert stats["fallbacks"] == 0, stats
    # Every pick went through the patch, once: the four direct picks, acompletion's and the
    # sync completion's (on 1.110 through the core's pre-route step), on both lines.
    assert stats["calls"] == 8 * 6, stats


def test_sync_completions_pick_through_the_patch() -> None:
    """Sync ``completion`` calls alone, from a seed, over weighted and rpm-weighted groups:
    the same deployments and random state as LiteLLM's own, every pick the patch's."""
    model_list = deployments("g", 5, weight=[2, 1, 0.5]) + deployments("h", 4, rpm=[10, 300, 50, 1])
    ops = [("completion", "g"), ("completion", "h")] * 40
    assert_same({"model_list": model_list, "num_retries": 0}, ops, 11)
    stats = fastllm_litellm.status()["features"]["router"]
    assert stats == {**stats, "calls": 80, "fallbacks": 0}, stats


class _DropFirst(litellm.integrations.custom_logger.CustomLogger):
    """A routing callback that filters: it drops the first deployment offered."""

    async def async_filter_deployments(self, model, healthy_deployments, messages, request_kwargs=None, parent_otel_span=None):
        return healthy_deployments[1:]


def test_filtering_callbacks_fall_back_on_async_picks() -> None:
    callback = _DropFirst()
    litellm.callbacks.append(callback)
    try:
        ops = [("async", "g"), ("select", "g"), ("ok", "g"), ("sync", "g")] * 6
        baseline = run({"model_list": deployments("g", 3), "num_retries": 0}, ops, 17, patched=False)
        fastllm_litellm.reset_stats()
        assert_traces_equal(run({"model_list": deployments("g", 3), "num_retries": 0}, ops, 17, patched=True), baseline)
        ids = {step[1][0][1]["model_info"]["id"] for step in baseline if step[0][0] == "select"}
        assert "g-0" not in ids  # the filter acted
        stats = fastllm_litellm.status()["features"]["router"]
        # The async picks and acompletion's go to LiteLLM (the filter must run); the sync pick,
        # which runs no routing callback, is still served.
        assert stats["fallbacks"] >= 18
        assert stats["calls"] > stats["fallbacks"]
    finally:
        litellm.callbacks.remove(callback)


class _KeepAll(litellm.integrations.custom_logger.CustomLogger):
    """A routing callback that overrides the filter with the identity (as proxy hooks that opt
    out of filtering do)."""

    async def async_filter_deployments(self, model, healthy_deployments, messages, request_kwargs=None, parent_otel_span=None):
        return healthy_deployments


def test_identity_filters_keep_async_picks_served() -> None:
    """A callback whose filter returns the deployments unchanged (here, and the proxy's own
    model-budget hook, whose filter LiteLLM wraps with a service target) does not send async
    picks to LiteLLM: the answers are the same either way."""
    callbacks: list[object] = [_KeepAll()]
    try:
        from litellm.proxy.hooks.model_max_budget_limiter import _PROXY_VirtualKeyModelMaxBudgetLimiter
    except ImportError:  # the proxy's dependencies are not installed
        pass
    else:
        from litellm.caching.dual_cache import DualCache

        callbacks.append(_PROXY_VirtualKeyModelMaxBudgetLimiter(dual_cache=DualCache()))
    litellm.callbacks.extend(callbacks)
    ops = [("async", "g"), ("select", "g"), ("ok", "g")] * 8
    assert_same({"model_list": deployments("g", 4, weight=[1, 2]), "num_retries": 0}, ops, 19)
    assert fastllm_litellm.status()["features"]["router"]["fallbacks"] == 0


@pytest.mark.parametrize("kind", ["429", "401", "timeout"])
def test_cooldown_rules_equal(kind: str) -> None:
    """Failures cool deployments down by LiteLLM's rules; picks then skip them, alike."""
    ops = [("fail", "g", kind)] * 3 + [("sync", "g"), ("async", "g"), ("select", "g")] * 10
    ops += [("fail", "g", kind)] * 6 + [("sync", "g"), ("select", "g")] * 5
    # Sync completions fail, cool down and pick the same way.
    ops += [("completion_fail", "g", kind)] * 4 + [("completion", "g"), ("sync", "g")] * 5
    for allowed_fails in (None, 0, 2):
        kwargs: dict[str, Any] = {"model_list": deployments("g", 4, rpm=[5, 50]), "num_retries": 0, "cooldown_time": 600}
        if allowed_fails is not None:
            kwargs["allowed_fails"] = allowed_fails
        assert_same(kwargs, ops, 11)


def test_every_deployment_cooling_raises_alike() -> None:
    ops = [("fail", "g", "429")] * 8 + [("sync", "g"), ("async", "g"), ("select", "g"), ("ok", "g")]
    assert_same({"model_list": deployments("g", 2), "num_retries": 0, "cooldown_time": 600}, ops, 3)


def test_bad_input_raises_like_litellm() -> None:
    """Unknown models, an empty model list and odd argument types raise LiteLLM's exceptions."""
    ops = [("sync", "nope"), ("async", "nope"), ("select", "nope"), ("sync", 5), ("select", None)]
    assert_same({"model_list": deployments("g", 3), "num_retries": 0}, ops, 5, served=False)
    assert_same({"model_list": [], "num_retries": 0}, [("sync", "g"), ("select", "g")], 5, served=False)


def test_deployments_without_ids_and_negative_weights_pick_like_litellm() -> None:
    """Deployments without ids get LiteLLM's own hashed ids, and are served; a negative weight,
    which LiteLLM picks with as it stands, sends the router's picks to LiteLLM."""
    ops = random_ops(random.Random(11), ["g"], 30)
    no_ids = deployments("g", 4, weight=[1, 2])
    for deployment in no_ids:
        del deployment["model_info"]
    assert_same({"model_list": no_ids, "num_retries": 0}, ops, 3)
    negative = deployments("g", 3, weight=[-1, 2, 1])
    assert_same({"model_list": negative, "num_retries": 0}, ops, 3, served=False)


def least_busy_ops(rng: random.Random, n: int, size: int) -> list[tuple]:
    ops: list[tuple] = []
    for _ in range(n):
        kind = rng.choices(
            ["busy", "sync", "async", "select", "fail", "store", "reserve", "sync_reserving", "completion_quiet"],
            weights=[6, 3, 3, 3, 1, 1, 2, 2, 2],
        )[0]
        if kind in ("reserve", "sync_reserving"):
            ops.append((kind, "g", f"call-{len(ops)}"))
        elif kind == "busy":
            ops.append(("busy", "g", rng.randrange(size), rng.choice([1, 1, -1])))
        elif kind == "fail":
            ops.append(("fail", "g", rng.choice(["429", "401"])))
        elif kind == "store":
            ops.append(("store", "g", rng.randrange(size), rng.choice([2, 0, 1.7, -1, "3", None, 2**60])))
        else:
            ops.append((kind, "g"))
    return ops


def usage_v2_ops(rng: random.Random, n: int, size: int) -> list[tuple]:
    ops: list[tuple] = []
    for _ in range(n):
        kind = rng.choices(
            ["usage", "sync", "sync_messages", "async", "select", "fail", "completion_quiet"], weights=[6, 3, 2, 3, 3, 1, 2]
        )[0]
        if kind == "usage":
            what = rng.choice(["tpm", "rpm"])
            amount = rng.choice([1, 2, 50, 300, 1500]) if what == "tpm" else 1
            ops.append(("usage", "g", rng.randrange(size), what, amount))
        elif kind == "fail":
            ops.append(("fail", "g", rng.choice(["429", "401"])))
        else:
            ops.append((kind, "g"))
    return ops


@pytest.fixture
def frozen_usage_minute(monkeypatch: pytest.MonkeyPatch) -> None:
    """usage-based-v2 keys its counters by the UTC minute: one fixed minute for both runs."""
    import datetime as dt

    fixed = dt.datetime(2026, 11, 28, 9, 41, 7, tzinfo=dt.timezone.utc)
    monkeypatch.setattr(v2_module, "get_utc_datetime", lambda: fixed)


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_usage_v2_traces_equal(seed: int, frozen_usage_minute: None) -> None:
    """usage-based-routing-v2: tpm/rpm counters moved through the router cache, deployments
    with and without tpm/rpm limits (so picks skip the ones over them, and prompt tokens
    count), ties drawn at random, failures cooling deployments down; equal at every step, and
    served natively on both lines."""
    ops = usage_v2_ops(random.Random(seed), 80, 5)
    model_list = deployments("g", 5, tpm=[None, 400, 1000, None, 60], rpm=[None, 3, None, 5, None])
    kwargs = {"model_list": model_list, "num_retries": 0, "cooldown_time": 600, "routing_strategy": "usage-based-routing-v2"}
    assert_same(kwargs, ops, seed)


def latency_ops(rng: random.Random, n: int, size: int) -> list[tuple]:
    ops: list[tuple] = []
    for _ in range(n):
        kind = rng.choices(
            ["latency", "sync", "sync_messages", "async", "select", "select_stream", "fail"], weights=[6, 3, 1, 3, 3, 2, 1]
        )[0]
        if kind == "latency":
            seconds = rng.choice([0.1, 0.25, 0.5, 1.0, 2.0, 0.3333333])
            ttft = rng.choice([None, None, 0.05, 0.2, 0.7])
            ops.append(("latency", "g", rng.randrange(size), seconds, ttft))
        elif kind == "fail":
            ops.append(("fail", "g", rng.choice(["429", "401"])))
        else:
            ops.append((kind, "g"))
    return ops


class _FrozenDatetime(dt.datetime):
    @classmethod
    def now(cls, tz=None):
        return cls(2026, 11, 28, 9, 41, 7, tzinfo=tz)


@pytest.fixture
def frozen_latency_minute(monkeypatch: pytest.MonkeyPatch) -> None:
    """The latency map keys its tpm/rpm by the local minute: one fixed minute for both runs."""
    monkeypatch.setattr(latency_module, "datetime", _FrozenDatetime)


@pytest.mark.parametrize(
    "args", [{}, {"lowest_latency_buffer": 0.5}, {"ttft_percentile": 0.5}], ids=["plain", "buffer", "ttft-p50"]
)
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_latency_traces_equal(seed: int, args: dict[str, Any], frozen_latency_minute: None) -> None:
    """latency-based-routing: latencies and times to first token recorded by LiteLLM's own
    handler, rpm limits that fill up within the minute, a tpm limit the prompt is over,
    streams, the buffer and the TTFT percentile, failures cooling deployments down; equal
    at every step, including the
    `_latency_per_deployment` LiteLLM writes into the request's metadata. Served natively on
    both lines under Python 3.11."""
    ops = latency_ops(random.Random(seed), 80, 5)
    model_list = deployments(
        "g",
        5,
        rpm=[None, 4, None, 6, None],
        tpm=[None, None, 10, None, 5000],
        api_base=[None, "https://a.example", "https://b.example"],
    )
    kwargs = {
        "model_list": model_list,
        "num_retries": 0,
        "cooldown_time": 600,
        "routing_strategy": "latency-based-routing",
        "routing_strategy_args": args,
    }
    served = "latency-based-routing" in LINE.strategies
    assert_same(kwargs, ops, seed, served=served)


@pytest.mark.parametrize("seed", [3, 4, 5, 6])
def test_least_busy_traces_equal(seed: int) -> None:
    """least-busy: in-flight counts moved by LiteLLM's own handler (and odd stored counts),
    picks that hold reservations (1.110: LiteLLM's own, and patched sync and endpoint picks
    that hold theirs), failures cooling deployments down, and every pick entry point; equal at
    every step, and served natively."""
    ops = least_busy_ops(random.Random(seed), 80, 5)
    kwargs = {"model_list": deployments("g", 5), "num_retries": 0, "cooldown_time": 600, "routing_strategy": "least-busy"}
    assert_same(kwargs, ops, seed)


@pytest.mark.parametrize("strategy", ["usage-based-routing", "cost-based-routing"])
def test_lowest_strategies_across_groups_trace_equal(strategy: str) -> None:
    """usage-based (v1) and cost-based routing over two groups, with every entry point and
    failures cooling deployments down: equal at every step, and served natively (cost-based
    has no sync pick in LiteLLM: it raises, and so does the patched one). Calls that succeed
    are left out: they record usage minutes on LiteLLM's logging worker, whose timing differs
    between any two runs of LiteLLM itself."""
    rng = random.Random(len(strategy))
    ops = [op for op in random_ops(rng, ["g", "h"], 60) if op[0] not in ("ok", "completion")]
    model_list = deployments("g", 4, rpm=[100, 1000], tpm=[10**6]) + deployments("h", 2)
    kwargs = {"model_list": model_list, "num_retries": 0, "cooldown_time": 600, "routing_strategy": strategy}
    assert_same(kwargs, ops, 5)


@pytest.fixture
def frozen_lowest_minute(monkeypatch: pytest.MonkeyPatch) -> None:
    """usage-based (v1) and cost-based routing key their counts by the local minute: one
    fixed minute for both runs."""
    monkeypatch.setattr(v1_module, "datetime", _FrozenDatetime)
    monkeypatch.setattr(cost_module, "datetime", _FrozenDatetime)


def lowest_ops(rng: random.Random, n: int, size: int, usage: str) -> list[tuple]:
    ops: list[tuple] = []
    for _ in range(n):
        kind = rng.choices(
            [usage, "sync", "sync_messages", "sync_input", "async", "select", "fail", "completion_quiet"],
            weights=[6, 3, 2, 2, 3, 3, 1, 2],
        )[0]
        if kind == usage:
            ops.append((usage, "g", rng.randrange(size), rng.choice([1, 5, 40, 300, 1500])))
        elif kind == "sync_input":
            ops.append((kind, "g", rng.randrange(len(EMBEDDING_INPUTS))))
        elif kind == "fail":
            ops.append(("fail", "g", rng.choice(["429", "401"])))
        else:
            ops.append((kind, "g"))
    return ops


@pytest.mark.parametrize(
    "limits",
    [{"rpm": [None, 3, None, 5, 0]}, {"tpm": [None, 400, 1000, 10, 0], "rpm": [None, 3, None, 5, None]}],
    ids=["rpm", "tpm-rpm"],
)
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_usage_v1_traces_equal(seed: int, limits: dict[str, Any], frozen_lowest_minute: None) -> None:
    """usage-based-routing (v1): tokens and requests counted by LiteLLM's own handler, rpm
    and tpm limits (zero included, which v1 keeps as a limit) that fill up within the
    minute, prompts counted against them, failures cooling deployments down; equal at every
    step, including the tpm map LiteLLM adds unused deployments to. Served natively."""
    ops = lowest_ops(random.Random(seed), 80, 5, "v1_usage")
    kwargs = {
        "model_list": deployments("g", 5, **limits),
        "num_retries": 0,
        "cooldown_time": 600,
        "routing_strategy": "usage-based-routing",
    }
    assert_same(kwargs, ops, seed)


PRICED = "openai/fastllm-test-priced"


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_cost_traces_equal(seed: int, frozen_lowest_minute: None) -> None:
    """cost-based-routing: deployments priced by the cost map (an aliased row, a row with no
    output price, no row at all, a row the trace adds, changes in place and removes), rpm
    and tpm limits (a zero one is no limit here) filled by LiteLLM's own handler, failures
    cooling deployments down; equal at every step. Served natively on every async pick."""
    rng = random.Random(seed)
    ops: list[tuple] = [("price", PRICED, None)]
    for op in lowest_ops(rng, 80, 6, "cost_usage"):
        ops.append(op)
        if rng.random() < 0.08:
            ops.append(rng.choice([
                ("price", PRICED, {"input_cost_per_token": 1e-7, "output_cost_per_token": 2e-7}),
                ("price", PRICED, {"input_cost_per_token": 3e-5}),
                ("price", PRICED, "output_cost_per_token", 4e-6),
                ("price", PRICED, None),
            ]))
    ops.append(("price", PRICED, None))
    models = ["gpt-4o", "gpt-4o-mini", "gpt-4o-mini", PRICED, "text-embedding-3-small", "openai/fastllm-unpriced"]
    model_list = deployments("g", 6, rpm=[None, 3, 0, 5, None, 4], tpm=[None, 200, None, 0, 50, None])
    for deployment, model in zip(model_list, models, strict=True):
        deployment["litellm_params"]["model"] = model
    kwargs = {"model_list": model_list, "num_retries": 0, "cooldown_time": 600, "routing_strategy": "cost-based-routing"}
    try:
        assert_same(kwargs, ops, seed)
    finally:
        litellm.model_cost.pop(PRICED, None)


@pytest.mark.parametrize(
    "router_kwargs",
    [
        {"enable_pre_call_checks": True},
        {"model_group_alias": {"alias": "g"}},
        {"routing_groups": [{"group_name": "rg", "models": ["g"], "routing_strategy": "least-busy"}]},
    ],
    ids=["pre-call-checks", "alias", "routing-group"],
)
def test_other_settings_fall_back(router_kwargs: dict[str, Any]) -> None:
    ops = [("sync", "g"), ("async", "g"), ("select", "g")] * 4
    kwargs = {"model_list": deployments("g", 3, rpm=[1, 9]), "num_retries": 0, **router_kwargs}
    assert_same(kwargs, ops, 9, served=False)


@pytest.mark.parametrize(
    "deployment_extra",
    [
        {"litellm_params": {"order": 2}},
        {"litellm_params": {"tags": ["eu"]}},
        {"model_info": {"blocked": True}},
        {"model_info": {"team_id": "t1"}},
        {"model_info": {"tpm": 10}},
        {"litellm_params": {"weight": "3"}},
    ],
    ids=["order", "tags", "blocked", "team", "info-tpm", "str-weight"],
)
def test_deployment_fields_fall_back(deployment_extra: dict[str, Any]) -> None:
    model_list = deployments("g", 3)
    for section, values in deployment_extra.items():
        model_list[1][section].update(values)
    ops = [("sync", "g"), ("select", "g"), ("async", "g")] * 4
    assert_same({"model_list": model_list, "num_retries": 0}, ops, 13, served=False)


def test_request_kwargs_that_route_fall_back() -> None:
    """A request key that steers (per-request weights) hands the pick back with its reason;
    metadata tags without tag filtering do not steer, so that pick is served."""
    fastllm_litellm.patch(["router"])
    try:
        router = litellm.Router(model_list=deployments("g", 3), num_retries=0)
        fastllm_litellm.reset_stats()
        asyncio.run(router.select("g", {"metadata": {"tags": ["eu"]}}))
        assert fastllm_litellm.status()["features"]["router"]["fallbacks"] == 0
        asyncio.run(router.select("g", {"_router_weights": {"g": {"g-0": 1.0}}}))
        stats = fastllm_litellm.status()["features"]["router"]
        assert stats["fallbacks"] == 1
        assert stats["last_fallback_reason"] == "a request with _router_weights (it steers the pick)"
        try:
            router.get_available_deployment("g", specific_deployment=True)
        except Exception:  # noqa: BLE001 - LiteLLM's answer to a pick by a name that is no id
            pass
        assert fastllm_litellm.status()["features"]["router"]["fallbacks"] == 2
    finally:
        fastllm_litellm.unpatch(["router"])


def test_registry_changes_rebuild_the_picker() -> None:
    """A deployment added or removed after picks is seen by the next pick, as LiteLLM sees it."""

    def trace(patched: bool) -> list[Any]:
        if patched:
            fastllm_litellm.patch(["router"])
        try:
            router = litellm.Router(model_list=deployments("g", 3, weight=[1, 2, 3]), num_retries=0)
            random.seed(4)
            picks = [router.get_available_deployment("g")["model_info"]["id"] for _ in range(20)]
            router.add_deployment(litellm.types.router.Deployment(**deployments("g", 5, weight=9)[4]))
            picks += [router.get_available_deployment("g")["model_info"]["id"] for _ in range(20)]
            router.delete_deployment(id="g-0")
            picks += [router.get_available_deployment("g")["model_info"]["id"] for _ in range(20)]
            return picks
        finally:
            fastllm_litellm.unpatch(["router"])

    baseline = trace(False)
    assert "g-4" in baseline
    assert trace(True) == baseline


def test_router_built_before_patch_is_served() -> None:
    router = litellm.Router(model_list=deployments("g", 4, weight=[1, 5]), num_retries=0)
    random.seed(8)
    baseline = [router.get_available_deployment("g") for _ in range(30)]
    fastllm_litellm.patch(["router"])
    try:
        fastllm_litellm.reset_stats()
        random.seed(8)
        assert [router.get_available_deployment("g") for _ in range(30)] == baseline
        assert fastllm_litellm.status()["features"]["router"]["calls"] == 30
        assert fastllm_litellm.status()["features"]["router"]["fallbacks"] == 0
        assert isinstance(router, litellm.Router)
    finally:
        fastllm_litellm.unpatch(["router"])


_CALLBACK_LISTS = (
    "callbacks",
    "success_callback",
    "failure_callback",
    "_async_success_callback",
    "_async_failure_callback",
    "input_callback",
    "service_callback",
)


def _callback_lists() -> dict[str, list[int]]:
    return {name: [id(cb) for cb in getattr(litellm, name, None) or []] for name in _CALLBACK_LISTS}


def test_first_native_pick_leaves_litellm_callbacks_alone() -> None:
    """Building the first picker reads a default router's settings from a router it builds;
    that router registers nothing that stays in LiteLLM's global callback lists (on 1.109 a
    router adds its usage and cooldown callbacks there, which then run on every later call:
    a second success callback per proxy request)."""
    saved_reference = LINE.reference
    LINE.reference = None
    router = litellm.Router(model_list=deployments("g", 3, weight=[1, 2, 3]), num_retries=0)
    fastllm_litellm.patch(["router"])
    try:
        fastllm_litellm.reset_stats()
        before = _callback_lists()
        router.get_available_deployment("g")
        assert LINE.reference is not None
        assert fastllm_litellm.status()["features"]["router"] == {
            **fastllm_litellm.status()["features"]["router"],
            "calls": 1,
            "fallbacks": 0,
        }
        assert _callback_lists() == before
    finally:
        fastllm_litellm.unpatch(["router"])
        if saved_reference is not None:
            LINE.reference = saved_reference


def test_unpatch_restores_every_original() -> None:
    cls = LINE.core_class
    names = (
        "get_available_deployment",
        "__setattr__",
        "__delattr__",
        "select",
        "_pre_route",
        "_answer_select_sync",
        "_routing_inputs",
        "_custom_pick_sync",
        "_core_async_get_available_deployment",
    )
    before = {name: cls.__dict__.get(name) for name in names}
    fastllm_litellm.patch(["router"])
    replaced = [name for name in names if cls.__dict__.get(name) is not before[name]]
    # 1.109: the two picks; 1.110: the sync pick, select, the endpoints' pre-route, the sync
    # strategy step, and the sync calls' routing document and custom pick; both: the attribute
    # hooks that drop a stale picker.
    assert len(replaced) == fastllm_litellm.status()["features"]["router"]["bindings"] in (4, 8)
    fastllm_litellm.unpatch(["router"])
    assert {name: cls.__dict__.get(name) for name in names} == before
    for name in names:
        assert cls.__dict__.get(name) is before[name]
