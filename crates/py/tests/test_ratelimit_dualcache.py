"""The ``rate_limit`` patch of the 1.109 line's v3 limiter, whose window starts and counters
live in the proxy's shared ``DualCache``.

Two limiters of LiteLLM's own class, each on its own memory-only cache, run under one fake
clock (the limiter's ``time_provider`` and its cache's clock): one through the class's original
``should_rate_limit`` (LiteLLM's code), one through the patched one. Traces mix descriptors with
rpm and tpm limits over several scopes, per-descriptor window sizes, ``skip_tpm_check``, window
rollovers, read-only checks and the inputs the native path hands back (gauges, float limits);
every response and every cache entry, expiry and heap entry must be equal after every step.
"""

from __future__ import annotations

import asyncio
import datetime
import random

import pytest

import fastllm_litellm
from fastllm_litellm import _rate_limit
from conftest import HOOK_RESOLVERS, run_pre_call_hook

v3 = pytest.importorskip("litellm.proxy.hooks.parallel_request_limiter_v3")
if _rate_limit._dual_cache_limiter_mismatch(v3) is not None:
    pytest.skip(
        f"not the DualCache-backed limiter: {_rate_limit._dual_cache_limiter_mismatch(v3)}", allow_module_level=True
    )

from litellm.caching.dual_cache import DualCache  # noqa: E402
from litellm.caching.in_memory_cache import InMemoryCache  # noqa: E402
from litellm.proxy.utils import InternalUsageCache  # noqa: E402

Handler = v3._PROXY_MaxParallelRequestsHandler_v3
assert not fastllm_litellm.status()["features"]["rate_limit"]["patched"]
ORIGINAL = Handler.__dict__["should_rate_limit"]
START = datetime.datetime(2026, 5, 1, 8, 0, 0, tzinfo=datetime.timezone.utc)
SCOPES = (("api_key", "k1"), ("user", "u1"), ("team", "t1"))


@pytest.fixture
def patched():
    fastllm_litellm.reset_stats()
    assert "rate_limit" in fastllm_litellm.patch(["rate_limit"])
    yield
    fastllm_litellm.unpatch(["rate_limit"])


def _limiter(now: list[datetime.datetime], max_size: int = 200):
    memory = InMemoryCache(max_size_in_memory=max_size, clock=lambda: now[0].timestamp())
    return Handler(InternalUsageCache(DualCache(in_memory_cache=memory)), time_provider=lambda: now[0])


def _state(handler) -> tuple:
    memory = handler.internal_usage_cache.dual_cache.in_memory_cache
    return dict(memory.cache_dict), dict(memory.ttl_dict), sorted(memory.expiration_heap)


def _descriptors(rng: random.Random) -> list[dict]:
    out = []
    for key, value in rng.sample(SCOPES, rng.randint(1, 3)):
        limits: dict = {}
        if rng.random() < 0.8:
            limits["requests_per_unit"] = rng.randint(1, 6)
        if rng.random() < 0.5:
            limits["tokens_per_unit"] = rng.randint(1, 8)
        if rng.random() < 0.15:
            limits["window_size"] = rng.choice([10, 30])
        if rng.random() < 0.06:
            limits["max_parallel_requests"] = 3  # the gauge path: LiteLLM's
        if rng.random() < 0.04:
            limits["requests_per_unit"] = 2.0  # a float limit: LiteLLM's
        out.append({"key": key, "value": value, "rate_limit": limits})
    if rng.random() < 0.2 and out:
        out.append(dict(out[0]))  # the same scope twice: the last one's limits count
    return out


def _trace(seed: int, max_size: int = 200) -> dict[str, int]:
    rng = random.Random(seed)
    now = [START]
    theirs, ours = _limiter(now, max_size), _limiter(now, max_size)
    seen = {"OK": 0, "OVER_LIMIT": 0}

    async def run() -> None:
        for step in range(250):
            if rng.random() < 0.1:
                now[0] += datetime.timedelta(seconds=rng.choice([5, 30, 61]))
                continue
            descriptors = _descriptors(rng)
            kwargs = {"parallel_slot_id": f"slot-{step}"}  # a generated one is random
            if rng.random() < 0.2:
                kwargs["skip_tpm_check"] = True
            if rng.random() < 0.15:
                kwargs["read_only"] = True
            if rng.random() < 0.1:
                kwargs["skip_parallel_check"] = True
            a = await ORIGINAL(theirs, descriptors, **kwargs)
            b = await ours.should_rate_limit(descriptors, **kwargs)
            assert b == a, f"seed {seed} step {step}: {descriptors} {kwargs}"
            assert _state(ours) == _state(theirs), f"seed {seed} step {step}"
            seen[a["overall_code"]] += 1

    asyncio.run(run())
    return seen


@pytest.mark.parametrize("seed", range(16))
def test_traces_match_litellms_limiter(patched, seed: int) -> None:
    seen = _trace(seed)
    assert seen["OK"] > 20 and seen["OVER_LIMIT"] > 20, seen
    stats = fastllm_litellm.status()["features"]["rate_limit"]
    assert stats["calls"] > 2 * stats["fallbacks"] > 0, stats


def test_traces_with_a_small_cache_evict_as_litellms(patched) -> None:
    for seed in range(4):
        _trace(100 + seed, max_size=4)


def test_traces_honour_the_window_size_setting(patched, monkeypatch) -> None:
    monkeypatch.setenv("LITELLM_RATE_LIMIT_WINDOW_SIZE", "20")
    now = [START]
    theirs, ours = _limiter(now), _limiter(now)
    assert ours.window_size == 20
    d = [{"key": "api_key", "value": "k1", "rate_limit": {"requests_per_unit": 2}}]

    async def run() -> None:
        for step in range(12):
            now[0] += datetime.timedelta(seconds=7)
            assert await ours.should_rate_limit(d) == await ORIGINAL(theirs, d), step
            assert _state(ours) == _state(theirs), step

    asyncio.run(run())


def test_a_stored_value_litellm_rejects_raises_the_same(patched) -> None:
    now = [START]
    theirs, ours = _limiter(now), _limiter(now)
    d = [{"key": "api_key", "value": "k1", "rate_limit": {"requests_per_unit": 5}}]
    for handler in (theirs, ours):
        handler.internal_usage_cache.dual_cache.in_memory_cache.set_cache("{api_key:k1}:window", "soon", ttl=60)

    async def outcome(call):
        try:
            return ("ok", await call())
        except Exception as error:  # noqa: BLE001 - compared below
            return ("raised", type(error), str(error))

    a = asyncio.run(outcome(lambda: ORIGINAL(theirs, d)))
    b = asyncio.run(outcome(lambda: ours.should_rate_limit(d)))
    assert a == b and a[0] == "raised", (a, b)
    assert _state(ours) == _state(theirs)


def test_a_held_limiter_lock_is_waited_for(patched) -> None:
    """LiteLLM's sliding window runs under the limiter's asyncio lock: while another task
    holds it, the check waits (through LiteLLM's own method) instead of going around it."""
    now = [START]
    ours = _limiter(now)
    d = [{"key": "api_key", "value": "k1", "rate_limit": {"requests_per_unit": 5}}]
    order: list[str] = []

    async def holder() -> None:
        async with ours._check_and_increment_lock:
            order.append("held")
            await asyncio.sleep(0.05)
            order.append("released")

    async def checker() -> None:
        await asyncio.sleep(0)
        response = await ours.should_rate_limit(d)
        order.append(response["overall_code"])

    async def run() -> None:
        await asyncio.gather(holder(), checker())

    fastllm_litellm.reset_stats()
    asyncio.run(run())
    # The pre-check reads before the lock, the count waits for it.
    assert order == ["held", "released", "OK"], order
    assert fastllm_litellm.status()["features"]["rate_limit"]["fallbacks"] == 1


def test_patch_and_unpatch_restore_the_class_exactly() -> None:
    before = dict(Handler.__dict__)
    assert "rate_limit" in fastllm_litellm.patch(["rate_limit"])
    assert Handler.__dict__["should_rate_limit"] is not before["should_rate_limit"]
    assert asyncio.iscoroutinefunction(Handler.should_rate_limit)
    fastllm_litellm.unpatch(["rate_limit"])
    assert dict(Handler.__dict__) == before


def test_pre_call_hook_matches_litellm() -> None:
    """LiteLLM's whole pre-call hook (descriptors, checks, the TPM reservation with its token
    estimate, run inline while patched) on two limiters, one run with LiteLLM as installed and
    one patched: the same outcome for every request, the same cache."""
    pytest.importorskip("litellm.proxy.proxy_server")
    from litellm.proxy._types import UserAPIKeyAuth

    now = [START]

    def limiter():
        memory = InMemoryCache(clock=lambda: now[0].timestamp())
        return Handler(InternalUsageCache(DualCache(in_memory_cache=memory)), time_provider=lambda: now[0], **HOOK_RESOLVERS)

    theirs, ours = limiter(), limiter()
    rng = random.Random(5)
    user = UserAPIKeyAuth(
        api_key="sk-hook", user_id="u1", team_id="t1", rpm_limit=40, tpm_limit=3000,
        user_rpm_limit=30, team_tpm_limit=5000,
    )
    outcomes = []
    fastllm_litellm.reset_stats()
    try:
        for step in range(100):
            if rng.random() < 0.1:
                now[0] += datetime.timedelta(seconds=rng.choice([5, 30, 61]))
            words = " ".join(rng.choice(["hello", "rate", "limit", "ünïcode", "東京", "🚀"]) for _ in range(rng.randint(1, 60)))
            data = {"model": "gpt-4o", "messages": [{"role": "user", "content": words}]}
            if rng.random() < 0.3:
                data["max_tokens"] = rng.choice([16, 256, 2048])
            fastllm_litellm.unpatch()
            a = asyncio.run(run_pre_call_hook(theirs, user, dict(data)))
            fastllm_litellm.patch(["token_counter", "rate_limit"])
            b = asyncio.run(run_pre_call_hook(ours, user, dict(data)))
            assert b == a, f"step {step}"
            assert _state(ours) == _state(theirs), f"step {step}"
            outcomes.append(a[0])
    finally:
        fastllm_litellm.unpatch()
    assert outcomes.count("raise") > 10 and outcomes.count("ok") > 10, outcomes
    assert fastllm_litellm.status()["features"]["rate_limit"]["calls"] >= 100


@pytest.mark.parametrize("read_only", [False, True])
def test_a_cache_read_that_raises_is_swallowed_as_litellms(patched, read_only: bool) -> None:
    """An expiry the clock cannot be compared with makes the cache's reads raise: LiteLLM's
    wrappers swallow that (a batch read answers None, a read None, a write is dropped after
    its value is stored), and so does the native path, with the same state after."""
    now = [START]
    theirs, ours = _limiter(now), _limiter(now)
    d = [
        {"key": "api_key", "value": "k1", "rate_limit": {"requests_per_unit": 3, "tokens_per_unit": 5}},
        {"key": "user", "value": "u1", "rate_limit": {"requests_per_unit": 2}},
    ]

    async def run() -> None:
        for step in range(6):
            for handler in (theirs, ours):
                memory = handler.internal_usage_cache.dual_cache.in_memory_cache
                memory.cache_dict["{user:u1}:requests"] = 1
                memory.ttl_dict["{user:u1}:requests"] = "not a time"
            a = await ORIGINAL(theirs, d, read_only=read_only)
            b = await ours.should_rate_limit(d, read_only=read_only)
            assert b == a, step
            assert _state(ours)[:2] == _state(theirs)[:2], step

    fastllm_litellm.reset_stats()
    asyncio.run(run())
    assert fastllm_litellm.status()["features"]["rate_limit"]["fallbacks"] == 0


@pytest.mark.parametrize("seed", range(6))
def test_gauge_traces_match_litellms_limiter(patched, seed: int) -> None:
    """max_parallel_requests gauges: acquisitions (native), releases through LiteLLM's own
    in-memory release, slot-TTL expiry, read-only counts and generated slot ids."""
    rng = random.Random(seed)
    now = [START]
    theirs, ours = _limiter(now), _limiter(now)
    held: list[str] = []
    seen = {"OK": 0, "OVER_LIMIT": 0}

    async def run() -> None:
        for step in range(200):
            roll = rng.random()
            if roll < 0.05:
                now[0] += datetime.timedelta(seconds=rng.choice([30, 3700]))  # past the slot TTL
                continue
            if roll < 0.3 and held:
                slot = held.pop(rng.randrange(len(held)))
                keys = [f"{{{key}:{value}}}:max_parallel_requests" for key, value in SCOPES]
                for handler in (theirs, ours):
                    await handler._release_parallel_request_slots_in_memory(keys, slot, None)
                assert _state(ours) == _state(theirs), f"seed {seed} step {step}"
                continue
            descriptors = []
            for key, value in rng.sample(SCOPES, rng.randint(1, 3)):
                limits = {"max_parallel_requests": rng.randint(1, 4)}
                if rng.random() < 0.4:
                    limits["requests_per_unit"] = rng.randint(3, 12)
                descriptors.append({"key": key, "value": value, "rate_limit": limits})
            kwargs = {"read_only": rng.random() < 0.15}
            slot = f"slot-{step}"
            kwargs["parallel_slot_id"] = slot
            a = await ORIGINAL(theirs, descriptors, **kwargs)
            b = await ours.should_rate_limit(descriptors, **kwargs)
            assert b == a, f"seed {seed} step {step}: {descriptors} {kwargs}"
            assert _state(ours) == _state(theirs), f"seed {seed} step {step}"
            seen[a["overall_code"]] += 1
            if a["overall_code"] == "OK" and not kwargs["read_only"]:
                held.append(slot)

    asyncio.run(run())
    assert seen["OK"] > 20 and seen["OVER_LIMIT"] > 10, seen
    assert fastllm_litellm.status()["features"]["rate_limit"]["fallbacks"] == 0


def test_a_generated_slot_id_goes_through_the_modules_uuid(patched, monkeypatch) -> None:
    """Without a slot id, LiteLLM names the slot `uuid.uuid4().hex` through its module's `uuid`;
    so does the native path (here both see the same replaced generator)."""
    import types
    import uuid

    ids = iter(range(100))
    monkeypatch.setattr(v3, "uuid", types.SimpleNamespace(uuid4=lambda: uuid.UUID(int=next(ids))))
    now = [START]
    theirs, ours = _limiter(now), _limiter(now)
    d = [{"key": "api_key", "value": "k1", "rate_limit": {"max_parallel_requests": 5}}]

    async def run() -> None:
        for step in range(3):
            a = await ORIGINAL(theirs, d)
            b = await ours.should_rate_limit(d)
            assert a == b, step

    asyncio.run(run())
    key = "{api_key:k1}:max_parallel_requests"
    ours_slots = ours.internal_usage_cache.dual_cache.in_memory_cache.cache_dict[key]
    theirs_slots = theirs.internal_usage_cache.dual_cache.in_memory_cache.cache_dict[key]
    # Two limiters drew from one generator in turn: each registry holds its own three ids.
    assert len(ours_slots) == len(theirs_slots) == 3 and not set(ours_slots) & set(theirs_slots)
    assert all(int(slot, 16) < 100 for slot in ours_slots)  # from the replaced generator
