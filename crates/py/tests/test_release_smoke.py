"""A smoke differential per feature, for every verified LiteLLM release (``make test-releases``
runs it on the releases the full suites do not cover; it also runs with them).

Per feature: it patches and applies here (its fingerprints are verified ones), and a short
trace gives LiteLLM's own answers, served natively: token counts of a third of the parity corpus; a
router pick trace per strategy against an unpatched router from the same ``random.seed``; the
v3 limiter's trace of this line, and the router's ``ModelRateLimitingCheck`` and
usage-based-v2 checks. Plain inputs are never handed back. The traces are the full suites'
own, with fewer seeds.
"""

from __future__ import annotations

import asyncio
import gc
import importlib
import random

import litellm
import pytest

import fastllm_litellm
import test_router_checks as checks_suite
import test_router_patch as router_suite
from conftest import ORIGINAL
from corpus import CASES
from fastllm_litellm import _compat, _rate_limit
from test_router_patch import (  # noqa: F401 - fixtures, used by name
    frozen_latency_minute,
    frozen_lowest_minute,
    frozen_usage_minute,
    no_global_callbacks,
)

V3 = importlib.import_module("litellm.proxy.hooks.parallel_request_limiter_v3")


@pytest.fixture(autouse=True)
def _finalised():
    """The routers' logging coroutines a test leaves behind are finalised when it ends: left
    to a later collection, their finalisers can run inside a later ``ast.parse`` (pytest
    rewriting a module it imports), which CPython 3.11 then fails with "AST constructor
    recursion depth mismatch"."""
    yield
    gc.collect()


def _status(feature: str) -> dict:
    return fastllm_litellm.status()["features"][feature]


@pytest.fixture
def only(request):
    """The feature named by the test's parameter patched, with zeroed counts, then unpatched."""

    def patch(feature: str) -> dict:
        fastllm_litellm.unpatch()
        fastllm_litellm.reset_stats()
        assert fastllm_litellm.patch([feature]) == [feature]
        entry = _status(feature)
        assert entry["applicable"] is True and entry["reason"] is None, entry
        return entry

    yield patch
    fastllm_litellm.unpatch()


@pytest.mark.parametrize("feature", sorted(_compat.FEATURE_PARTS))
def test_every_part_is_verified_and_applies(feature: str, only) -> None:
    for part, reason in _compat.check_feature(feature).items():
        assert reason is None, (part, reason)
    only(feature)


# --------------------------------------------------------------------------------------------
# token_counter


def test_token_counts_equal_and_native(only) -> None:
    only("token_counter")
    native = [case for case in CASES if case["native"]][::3]
    assert len(native) > 150
    for case in native:
        kwargs = case["kwargs"]
        assert litellm.token_counter(**kwargs) == ORIGINAL(**kwargs), case.get("id", kwargs)
    entry = _status("token_counter")
    assert entry["calls"] == len(native) and entry["fallbacks"] == 0, entry


# --------------------------------------------------------------------------------------------
# router: one pick trace per strategy, patched against unpatched from the same seed


def _plain_ops(n: int) -> list[tuple]:
    return [("sync", "g"), ("async", "g"), ("select", "g")] * n


@pytest.mark.parametrize(
    "strategy,params",
    [
        ("simple-shuffle", {"weight": [2, 1, 1]}),
        ("least-busy", {}),
        ("usage-based-routing-v2", {"tpm": [None, 400, 1000], "rpm": [None, 3, 50]}),
        ("usage-based-routing", {"rpm": [100, 1000]}),
        ("latency-based-routing", {"rpm": [None, 40]}),
    ],
)
def test_plain_picks_equal_and_native(
    strategy: str, params: dict, frozen_usage_minute, frozen_latency_minute, frozen_lowest_minute
) -> None:
    kwargs = {"model_list": router_suite.deployments("g", 5, **params), "num_retries": 0, "routing_strategy": strategy}
    served = strategy in router_suite.LINE.strategies
    router_suite.assert_same(kwargs, _plain_ops(8), 11, served=served)
    entry = _status("router")
    if served:
        assert entry["calls"] == 3 * 8 and entry["fallbacks"] == 0, entry


def test_cost_based_async_picks_equal_and_native(frozen_lowest_minute) -> None:
    model_list = router_suite.deployments("g", 4)
    for deployment, model in zip(model_list, ["gpt-4o", "gpt-4o-mini", "gpt-4.1-mini", "gpt-4o-mini"], strict=True):
        deployment["litellm_params"]["model"] = model
    kwargs = {"model_list": model_list, "num_retries": 0, "routing_strategy": "cost-based-routing"}
    router_suite.assert_same(kwargs, [("async", "g"), ("select", "g")] * 8, 5)
    entry = _status("router")
    assert entry["calls"] == 16 and entry["fallbacks"] == 0, entry


def test_simple_shuffle_trace_with_failures_and_calls() -> None:
    router_suite.test_seeded_traces_equal("mixed-groups", 7)
    router_suite.test_plain_traces_never_fall_back()


def test_stateful_strategy_traces(frozen_usage_minute, frozen_latency_minute, frozen_lowest_minute) -> None:
    router_suite.test_least_busy_traces_equal(3)
    router_suite.test_usage_v2_traces_equal(1, None)
    router_suite.test_usage_v1_traces_equal(2, {"rpm": [None, 3, None, 5, 0]}, None)
    router_suite.test_latency_traces_equal(1, {}, None)


def test_cost_trace(frozen_lowest_minute) -> None:
    router_suite.test_cost_traces_equal(2, None)


# --------------------------------------------------------------------------------------------
# rate_limit: the v3 limiter of this line, the router's two per-deployment checks


def test_v3_limiter_trace(only) -> None:
    if _rate_limit._rate_limit_mismatch(V3) is None:
        suite = importlib.import_module("test_ratelimit_patch")
        only("rate_limit")
        seen = asyncio.run(suite._replay(3))
        assert seen["check"] >= 30, seen
    else:
        assert _rate_limit._dual_cache_limiter_mismatch(V3) is None
        suite = importlib.import_module("test_ratelimit_dualcache")
        only("rate_limit")
        seen = suite._trace(3)
        assert seen["OK"] > 20 and seen["OVER_LIMIT"] > 20, seen
    entry = _status("rate_limit")
    # 1.110: the trace's reference limiter has LiteLLM's own store injected, and each of its
    # calls is counted as handed back; the patched one's are native.
    assert entry["calls"] > entry["fallbacks"], entry


def test_v3_limiter_plain_descriptors_are_native(only) -> None:
    """Integer rpm/tpm limits over the usual scopes: every check decided natively."""
    only("rate_limit")
    handler = V3._PROXY_MaxParallelRequestsHandler_v3(
        internal_usage_cache=importlib.import_module("litellm.proxy.utils").InternalUsageCache(
            importlib.import_module("litellm.caching.dual_cache").DualCache()
        )
    )
    descriptors = [
        {"key": "api_key", "value": "k1", "rate_limit": {"requests_per_unit": 5, "tokens_per_unit": 1000, "window_size": 60}},
        {"key": "user", "value": "u1", "rate_limit": {"requests_per_unit": 3, "window_size": 60}},
    ]

    async def run() -> list[str]:
        return [
            (await handler.should_rate_limit([dict(d) for d in descriptors], parallel_slot_id=f"s{i}"))["overall_code"]
            for i in range(6)
        ]

    assert asyncio.run(run()) == ["OK", "OK", "OK", "OVER_LIMIT", "OVER_LIMIT", "OVER_LIMIT"]
    entry = _status("rate_limit")
    assert entry["calls"] >= 6 and entry["fallbacks"] == 0, entry


def test_model_rate_limit_check_trace(only) -> None:
    only("rate_limit")
    seen = checks_suite._trace(2)
    assert seen["returned"] > 20 and seen["raised"] > 20, seen
    entry = _status("rate_limit")
    assert 0 < entry["fallbacks"] < entry["calls"], entry


def test_model_rate_limit_check_plain_deployments_are_native(only) -> None:
    only("rate_limit")
    clock = checks_suite.Clock()
    theirs, ours = checks_suite._check(clock), checks_suite._check(clock)
    deployments = [
        {"model_name": "g", "litellm_params": {"model": f"openai/m{i}", "rpm": rpm, "tpm": 10_000}, "model_info": {"id": f"m{i}"}}
        for i, rpm in enumerate([2, 5, 100])
    ]
    rng = random.Random(4)
    outcomes = set()
    for step in range(60):
        deployment = rng.choice(deployments)
        a = checks_suite._outcome(lambda: checks_suite.ORIGINAL_SYNC(theirs, deployment))
        b = checks_suite._outcome(lambda: ours.pre_call_check(deployment))
        assert a == b, step
        outcomes.add(a[0])
        theirs_state, ours_state = checks_suite._state(theirs), checks_suite._state(ours)
        assert ours_state == theirs_state, step
    assert outcomes == {"returned", "raised"}
    entry = _status("rate_limit")
    assert entry["calls"] == 60 and entry["fallbacks"] == 0, entry


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_usage_v2_check_trace(only) -> None:
    only("rate_limit")
    checks_suite.v2_trace_within_a_minute(1)
    entry = _status("rate_limit")
    assert 0 < entry["fallbacks"] < entry["calls"], entry
