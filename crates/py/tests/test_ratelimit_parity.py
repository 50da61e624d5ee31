"""Differential traces: LiteLLM's own v3 limiter vs fastllm's, decision by decision.

Both limiters run in memory under one fake clock: LiteLLM's through its injectable
``time_provider``, ours through ``fake_clock_start``/``advance``. LiteLLM's in-memory cache
expires keys by the real clock, which does not move meaningfully during a trace, so ours runs
with ``key_ttl="never"``. Every response dict (overall code, and per status: code, limit,
remaining, type, descriptor) must be equal at every step.
"""

from __future__ import annotations

import asyncio
import datetime
import random

import pytest

from fastllm_litellm import _native

from litellm.caching.dual_cache import DualCache  # noqa: E402
from litellm.proxy.hooks.parallel_request_limiter_v3 import (  # noqa: E402
    _PROXY_MaxParallelRequestsHandler_v3 as LiteLLMLimiter,
)
from litellm.proxy.utils import InternalUsageCache  # noqa: E402

START = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
SCOPES = (("api_key", "k1"), ("user", "u1"), ("team", "t1"), ("end_user", "e1"))


def _random_descriptors(rng: random.Random) -> list[dict]:
    out = []
    for key, value in rng.sample(SCOPES, rng.randint(1, len(SCOPES))):
        rate_limit = {
            "requests_per_unit": rng.choice([None, 1, 2, 3, 5, 8]),
            "tokens_per_unit": rng.choice([None, None, 2, 4, 10]),
            "max_parallel_requests": rng.choice([None, None, 1, 2, 3]),
            "window_size": rng.choice([None, 60, 30]),
        }
        out.append({"key": key, "value": value, "rate_limit": rate_limit})
    return out


def _trace(seed: int, steps: int = 60) -> list[tuple[str, object]]:
    rng = random.Random(seed)
    descriptors = _random_descriptors(rng)
    ops: list[tuple[str, object]] = []
    for step in range(steps):
        if rng.random() < 0.25:
            ops.append(("advance", rng.choice([1, 5, 20, 31, 59, 60, 61, 125])))
        subset = rng.sample(descriptors, rng.randint(1, len(descriptors)))
        ops.append(
            (
                "check",
                {
                    "descriptors": subset,
                    "read_only": rng.random() < 0.15,
                    "skip_tpm_check": rng.random() < 0.3,
                    "skip_parallel_check": rng.random() < 0.2,
                    "parallel_slot_id": f"slot-{seed}-{step}",
                },
            )
        )
    return ops


async def _replay(seed: int) -> int:
    now = [START]
    theirs = LiteLLMLimiter(InternalUsageCache(DualCache()), time_provider=lambda: now[0])
    ours = _native.RateLimiter(
        window_size=theirs.window_size, fake_clock_start=START.timestamp(), key_ttl="never"
    )
    checks = 0
    for op, arg in _trace(seed):
        if op == "advance":
            now[0] += datetime.timedelta(seconds=arg)
            ours.advance(arg)
            continue
        expected = await theirs.should_rate_limit(
            [dict(d) for d in arg["descriptors"]],
            read_only=arg["read_only"],
            skip_tpm_check=arg["skip_tpm_check"],
            parallel_slot_id=arg["parallel_slot_id"],
            skip_parallel_check=arg["skip_parallel_check"],
        )
        got = ours.should_rate_limit(
            arg["descriptors"],
            read_only=arg["read_only"],
            skip_tpm_check=arg["skip_tpm_check"],
            parallel_slot_id=arg["parallel_slot_id"],
            skip_parallel_check=arg["skip_parallel_check"],
        )
        assert dict(got) == dict(expected), f"seed {seed}, step {checks}: {arg}"
        checks += 1
    return checks


@pytest.mark.parametrize("seed", range(40))
def test_should_rate_limit_traces_match_litellm(seed: int) -> None:
    checks = asyncio.run(_replay(seed))
    assert checks >= 60


def test_traces_reach_refusals_and_rollovers() -> None:
    """The traces are not all-OK: some steps refuse, and some refusals are lifted by time."""

    async def outcomes() -> list[str]:
        codes = []
        for seed in range(40):
            now = [START]
            theirs = LiteLLMLimiter(InternalUsageCache(DualCache()), time_provider=lambda: now[0])
            for op, arg in _trace(seed):
                if op == "advance":
                    now[0] += datetime.timedelta(seconds=arg)
                    codes.append("advance")
                    continue
                r = await theirs.should_rate_limit([dict(d) for d in arg["descriptors"]], parallel_slot_id=arg["parallel_slot_id"])
                codes.append(r["overall_code"])
        return codes

    codes = asyncio.run(outcomes())
    assert codes.count("OVER_LIMIT") > 100
    assert codes.count("OK") > 100


def test_bad_descriptors_raise_clear_errors() -> None:
    limiter = _native.RateLimiter(fake_clock_start=0.0)
    with pytest.raises(TypeError):
        limiter.should_rate_limit("not a list")
    with pytest.raises(TypeError):
        limiter.should_rate_limit([{"key": 1, "value": "v", "rate_limit": None}])
    with pytest.raises(ValueError):
        limiter.should_rate_limit([{"key": "k", "value": "v", "rate_limit": {"requests_per_unit": -1}}])
    with pytest.raises(ValueError):
        _native.RateLimiter(window_size=0)
    with pytest.raises(ValueError):
        _native.RateLimiter(key_ttl="sometimes")
    with pytest.raises(TypeError):
        _native.RateLimiter().advance(1.0)  # no fake clock
