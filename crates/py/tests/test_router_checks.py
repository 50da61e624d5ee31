"""The ``rate_limit`` patch of the router's per-deployment check, ``ModelRateLimitingCheck``
(``enforce_model_rate_limits``), on both LiteLLM lines.

Two checks of LiteLLM's own class share nothing but a fake clock: one is run through the
class's original methods (LiteLLM's code), the other through the patched ones. Traces mix
sync and async checks over deployments with rpm/tpm limits in every place LiteLLM reads them,
success events that add tokens, minute rollovers and inputs the native path hands back; every
outcome (the deployment, or the RateLimitError and all its fields) and every cache entry with
its expiry must be equal after every step.
"""

from __future__ import annotations

import asyncio
import datetime
import random

import pytest

import fastllm_litellm
from litellm.caching.dual_cache import DualCache
from litellm.caching.in_memory_cache import InMemoryCache
from litellm.router_utils.pre_call_checks import model_rate_limit_check as checks

Check = checks.ModelRateLimitingCheck
assert not fastllm_litellm.status()["features"]["rate_limit"]["patched"]
ORIGINAL_SYNC = Check.__dict__["pre_call_check"]
ORIGINAL_ASYNC = Check.__dict__["async_pre_call_check"]
START = datetime.datetime(2026, 3, 1, 11, 59, 30, tzinfo=datetime.timezone.utc)


@pytest.fixture
def patched():
    fastllm_litellm.reset_stats()
    assert "rate_limit" in fastllm_litellm.patch(["rate_limit"])
    yield
    fastllm_litellm.unpatch(["rate_limit"])


class Clock:
    """One fake time for a check (a datetime) and its cache (a timestamp)."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime.datetime:
        return self.now

    def timestamp(self) -> float:
        return self.now.timestamp()


def _check(clock: Clock) -> Check:
    return Check(DualCache(in_memory_cache=InMemoryCache(clock=clock.timestamp)), clock=clock)


def _outcome(run) -> tuple:
    """What a check call gave: the deployment it returned, or every field of its error."""
    try:
        result = run()
        if asyncio.iscoroutine(result):
            result = asyncio.run(result)
    except Exception as error:  # noqa: BLE001 - compared field by field
        response = getattr(error, "response", None)
        return (
            "raised",
            type(error),
            str(error),
            getattr(error, "status_code", None),
            getattr(error, "llm_provider", None),
            getattr(error, "model", None),
            getattr(error, "num_retries", None),
            None if response is None else (response.status_code, response.content, dict(response.headers)),
            None if response is None else (response.request.method, str(response.request.url)),
        )
    return ("returned", id(result))


def _state(check: Check) -> tuple:
    memory = check.dual_cache.in_memory_cache
    return dict(memory.cache_dict), dict(memory.ttl_dict), sorted(memory.expiration_heap)


def _deployments(rng: random.Random) -> list[dict]:
    """Deployments whose limits sit in each place LiteLLM reads them, plus ones it hands back."""
    out = [
        {"model_name": "g", "litellm_params": {"model": "openai/a", "rpm": 3, "tpm": 400}, "model_info": {"id": "a"}},
        {"model_name": "g", "rpm": 2, "litellm_params": {"model": "openai/b"}, "model_info": {"id": "b", "tpm": 300}},
        {"model_name": "g", "litellm_params": {"model": "openai/c", "tpm": 250}, "model_info": {"id": "c"}},
        {"model_name": "h", "litellm_params": {"model": "openai/d", "rpm": 4}},  # no id: "None" in the keys
        {"litellm_params": {"model": "openai/e"}, "model_info": {"id": "e"}},  # no limits at all
        {"model_name": "g", "litellm_params": {"model": "openai/f", "rpm": 2, "tpd": 5000}, "model_info": {"id": "f"}},
        {"model_name": "g", "litellm_params": {"model": "openai/i", "itpm": 100}, "model_info": {"id": "i"}},
        {"model_name": "g", "litellm_params": {"model": "openai/j", "rpm": 2.5}, "model_info": {"id": "j"}},
    ]
    rng.shuffle(out)
    return out


def _trace(seed: int) -> dict[str, int]:
    rng = random.Random(seed)
    clock = Clock()
    theirs, ours = _check(clock), _check(clock)
    deployments = _deployments(rng)
    seen = {"returned": 0, "raised": 0, "rollover": 0}
    for step in range(400):
        roll = rng.random()
        if roll < 0.08:
            before = clock.now.minute
            clock.now += datetime.timedelta(seconds=rng.choice([7, 20, 61]))
            seen["rollover"] += clock.now.minute != before
            continue
        deployment = rng.choice(deployments)
        if roll < 0.25:
            # A success event adds the call's tokens (LiteLLM's own method on both).
            info = deployment.get("model_info", {}).get("id")
            payload = {
                "standard_logging_object": {
                    "model_id": info,
                    "total_tokens": rng.choice([10, 60, 150]),
                    "hidden_params": {"litellm_model_name": deployment["litellm_params"]["model"]},
                }
            }
            for check in (theirs, ours):
                check.log_success_event(payload, None, None, None)
        elif roll < 0.6:
            a = _outcome(lambda: ORIGINAL_SYNC(theirs, deployment))
            b = _outcome(lambda: ours.pre_call_check(deployment))
            assert a == b, f"seed {seed} step {step}: sync {deployment}"
            seen[a[0]] += 1
        else:
            a = _outcome(lambda: ORIGINAL_ASYNC(theirs, deployment))
            b = _outcome(lambda: ours.async_pre_call_check(deployment))
            assert a == b, f"seed {seed} step {step}: async {deployment}"
            seen[a[0]] += 1
        assert _state(ours) == _state(theirs), f"seed {seed} step {step}"
    return seen


@pytest.mark.parametrize("seed", range(12))
def test_traces_match_litellms_check(patched, seed: int) -> None:
    seen = _trace(seed)
    assert seen["returned"] > 20 and seen["raised"] > 20 and seen["rollover"] > 0, seen
    stats = fastllm_litellm.status()["features"]["rate_limit"]
    # The itpm, tpd and float-limit deployments went to LiteLLM's own method.
    assert 0 < stats["fallbacks"] < stats["calls"], stats


def test_the_default_utc_clock_is_read_natively(patched) -> None:
    """A check on LiteLLM's default clock: the native minute is the one LiteLLM keys by."""
    theirs = Check(DualCache())
    ours = Check(DualCache())
    deployment = {"model_name": "g", "litellm_params": {"model": "m", "rpm": 1}, "model_info": {"id": "x"}}
    for _ in range(3):
        # Retry across a minute boundary, where the two reads can see different minutes.
        a = _outcome(lambda: ORIGINAL_ASYNC(theirs, deployment))
        b = _outcome(lambda: ours.async_pre_call_check(deployment))
        if set(ours.dual_cache.in_memory_cache.cache_dict) == set(theirs.dual_cache.in_memory_cache.cache_dict):
            break
        theirs, ours = Check(DualCache()), Check(DualCache())
    assert a == b == ("returned", id(deployment))
    assert set(ours.dual_cache.in_memory_cache.cache_dict) == set(theirs.dual_cache.in_memory_cache.cache_dict)
    assert fastllm_litellm.status()["features"]["rate_limit"]["fallbacks"] == 0


def test_odd_cache_values_and_clocks_match(patched) -> None:
    """Values in the cache the check does not expect, and a clock that raises: LiteLLM's
    check admits (its `except Exception`); so does the native path, with the same state."""
    deployment = {"model_name": "g", "litellm_params": {"model": "m", "rpm": 1, "tpm": 10}, "model_info": {"id": "x"}}
    clock = Clock()
    for value in ("not a number", "7", 9.5, [1], None):
        theirs, ours = _check(clock), _check(clock)
        for check in (theirs, ours):
            for kind in ("tpm", "rpm"):
                if value is not None:
                    check.dual_cache.in_memory_cache.set_cache(f"x:m:{kind}:{clock.now:%H-%M}", value, ttl=60)
        for run_theirs, run_ours in (
            (lambda: ORIGINAL_SYNC(theirs, deployment), lambda: ours.pre_call_check(deployment)),
            (lambda: ORIGINAL_ASYNC(theirs, deployment), lambda: ours.async_pre_call_check(deployment)),
        ):
            assert _outcome(run_ours) == _outcome(run_theirs), value
            assert _state(ours) == _state(theirs), value

    def broken() -> datetime.datetime:
        raise RuntimeError("clock down")

    theirs = Check(DualCache(), clock=broken)
    ours = Check(DualCache(), clock=broken)
    assert _outcome(lambda: ours.async_pre_call_check(deployment)) == _outcome(
        lambda: ORIGINAL_ASYNC(theirs, deployment)
    ) == ("returned", id(deployment))
    assert _state(ours) == _state(theirs)


def test_inputs_it_does_not_reproduce_go_to_litellm(patched) -> None:
    clock = Clock()

    class OwnCache(DualCache):
        pass

    cases = [
        ({"model_name": "g", "litellm_params": {"model": "m", "rpm": True}}, _check),  # a bool limit
        ({"model_name": None, "litellm_params": {"model": "m", "rpm": 1}}, _check),  # fails LiteLLM's model
        ({"model_name": "g", "litellm_params": None}, _check),
        ({"model_name": "g", "litellm_params": {"model": 5, "rpm": 1}}, _check),
        ("not a dict", _check),
        (
            {"model_name": "g", "litellm_params": {"model": "m", "rpm": 1}},
            lambda clock: Check(OwnCache(in_memory_cache=InMemoryCache(clock=clock.timestamp)), clock=clock),
        ),
    ]
    for deployment, build in cases:
        fastllm_litellm.reset_stats()
        theirs, ours = build(clock), build(clock)
        for run_theirs, run_ours in (
            (lambda: ORIGINAL_SYNC(theirs, deployment), lambda: ours.pre_call_check(deployment)),
            (lambda: ORIGINAL_ASYNC(theirs, deployment), lambda: ours.async_pre_call_check(deployment)),
        ):
            assert _outcome(run_ours) == _outcome(run_theirs), deployment
        assert _state(ours) == _state(theirs), deployment
        stats = fastllm_litellm.status()["features"]["rate_limit"]
        assert stats["fallbacks"] == 2 and stats["last_fallback_reason"], (deployment, stats)


def test_patch_and_unpatch_restore_the_class_exactly() -> None:
    before = dict(Check.__dict__)
    assert "rate_limit" in fastllm_litellm.patch(["rate_limit"])
    assert Check.__dict__["pre_call_check"] is not before["pre_call_check"]
    assert asyncio.iscoroutinefunction(Check.async_pre_call_check)
    fastllm_litellm.unpatch(["rate_limit"])
    assert dict(Check.__dict__) == before


@pytest.mark.parametrize("max_size", [3, 6])
def test_a_full_cache_evicts_as_litellms(patched, max_size: int) -> None:
    """A router cache smaller than the keys a trace writes: every write evicts, and the
    eviction (LiteLLM's own, where the cache is full) leaves the same entries and heap."""
    clock = Clock()

    def small() -> Check:
        memory = InMemoryCache(max_size_in_memory=max_size, clock=clock.timestamp)
        return Check(DualCache(in_memory_cache=memory), clock=clock)

    theirs, ours = small(), small()
    rng = random.Random(max_size)
    deployments = [
        {"model_name": "g", "litellm_params": {"model": f"m{i}", "rpm": 3, "tpm": 200}, "model_info": {"id": f"d{i}"}}
        for i in range(5)
    ]
    for step in range(300):
        if rng.random() < 0.1:
            clock.now += datetime.timedelta(seconds=rng.choice([15, 45, 70]))
        deployment = rng.choice(deployments)
        a = _outcome(lambda: ORIGINAL_ASYNC(theirs, deployment))
        b = _outcome(lambda: ours.async_pre_call_check(deployment))
        assert a == b, f"step {step}"
        assert _state(ours) == _state(theirs), f"step {step}"
    assert len(ours.dual_cache.in_memory_cache.cache_dict) <= max_size


@pytest.mark.parametrize("lock_name", ["_increment_lock", "_write_lock"])
def test_a_lock_held_elsewhere_waits_as_litellms(patched, lock_name: str) -> None:
    """While another thread holds one of the cache's locks, the check waits for it (through
    LiteLLM's own method, which releases the GIL while it waits) instead of going around it."""
    import threading
    import time

    clock = Clock()
    check = _check(clock)
    deployment = {"model_name": "g", "litellm_params": {"model": "m", "rpm": 10}, "model_info": {"id": "x"}}
    lock = getattr(check.dual_cache.in_memory_cache, lock_name)
    lock.acquire()
    done = threading.Event()

    def run() -> None:
        check.pre_call_check(deployment)
        done.set()

    worker = threading.Thread(target=run)
    worker.start()
    time.sleep(0.2)
    assert not done.is_set()  # waiting on the lock, not counting around it
    assert check.dual_cache.in_memory_cache.cache_dict == {}
    lock.release()
    worker.join(timeout=10)
    assert done.is_set()
    assert list(check.dual_cache.in_memory_cache.cache_dict.values()) == [1]


# --------------------------------------------------------------------------------------------
# The usage-based-v2 strategy's check (LowestTPMLoggingHandler_v2)

from litellm.router_strategy import lowest_tpm_rpm_v2 as usage_v2  # noqa: E402

Handler = usage_v2.LowestTPMLoggingHandler_v2
V2_SYNC = Handler.__dict__["pre_call_check"]
V2_ASYNC = Handler.__dict__["async_pre_call_check"]


def _v2_state(handler) -> tuple:
    return (*_state(handler), list(handler.redis_increment_operation_queue), set(handler.in_memory_keys_to_update))


def _v2_trace(seed: int) -> dict[str, int]:
    rng = random.Random(seed)
    clock = Clock()

    def build():
        return Handler(DualCache(in_memory_cache=InMemoryCache(clock=clock.timestamp)))

    theirs, ours = build(), build()
    deployments = [
        {"model_name": "g", "litellm_params": {"model": "openai/a", "rpm": 3}, "model_info": {"id": "a"}},
        {"model_name": "g", "rpm": 2, "litellm_params": {"model": "openai/b"}, "model_info": {"id": "b"}},
        {"model_name": "g", "litellm_params": {"model": "openai/c"}, "model_info": {"id": "c", "rpm": 4.5}},
        {"model_name": "h", "litellm_params": {"model": "openai/d"}, "num_retries": 2},  # no limit: inf
        {"model_name": "g", "litellm_params": {"model": "openai/e", "rpm": "3"}, "model_info": {"id": "e"}},
        {"model_name": "g", "litellm_params": {"model": "openai/f", "rpm": 1}, "model_info": {"id": 7}},
    ]
    seen = {"returned": 0, "raised": 0}
    for step in range(300):
        if rng.random() < 0.05:
            # The cache's clock moves (expiries); the key's minute is the real UTC one.
            clock.now += datetime.timedelta(seconds=rng.choice([20, 61]))
            continue
        deployment = rng.choice(deployments)
        if rng.random() < 0.5:
            a = _outcome(lambda: V2_SYNC(theirs, deployment))
            b = _outcome(lambda: ours.pre_call_check(deployment))
        else:
            a = _outcome(lambda: V2_ASYNC(theirs, deployment, None))
            b = _outcome(lambda: ours.async_pre_call_check(deployment, None))
        assert a == b, f"seed {seed} step {step}: {deployment}"
        assert _v2_state(ours) == _v2_state(theirs), f"seed {seed} step {step}"
        seen[a[0]] += 1
    return seen


def v2_trace_within_a_minute(seed: int) -> dict[str, int]:
    """``_v2_trace(seed)``, run again when it straddles a UTC minute boundary: the keys carry
    the real UTC minute, so the two sides may then key different minutes (a boundary comes
    once a minute). Asserts the trace saw both outcomes often."""
    for attempt in range(3):
        minute = datetime.datetime.now(datetime.timezone.utc).minute
        try:
            seen = _v2_trace(seed)
        except AssertionError:
            if attempt == 2 or datetime.datetime.now(datetime.timezone.utc).minute == minute:
                raise
            continue
        if datetime.datetime.now(datetime.timezone.utc).minute == minute:
            break
    assert seen["returned"] > 20 and seen["raised"] > 20, seen
    return seen


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("seed", range(6))
def test_usage_v2_traces_match_litellms_check(patched, seed: int) -> None:
    v2_trace_within_a_minute(seed)
    stats = fastllm_litellm.status()["features"]["rate_limit"]
    # The str limit and the int id went to LiteLLM's own method; the rest was native.
    assert 0 < stats["fallbacks"] < stats["calls"], stats


def test_the_caches_default_clock_is_read_natively(patched) -> None:
    """Caches on InMemoryCache's default clock (`time.time()`, read natively): the same
    entries, with expiries from the same clock."""
    deployment = {"model_name": "g", "litellm_params": {"model": "m", "rpm": 3, "tpm": 50}, "model_info": {"id": "x"}}
    clock = Clock()
    theirs = Check(DualCache(), clock=clock)
    ours = Check(DualCache(), clock=clock)
    for _ in range(5):
        assert _outcome(lambda: ours.async_pre_call_check(deployment)) == _outcome(
            lambda: ORIGINAL_ASYNC(theirs, deployment)
        )
    a, b = _state(theirs), _state(ours)
    assert a[0] == b[0] and a[1].keys() == b[1].keys()
    assert all(abs(a[1][k] - b[1][k]) < 5 for k in a[1]), (a[1], b[1])
    assert [k for _, k in a[2]] == [k for _, k in b[2]]
    assert fastllm_litellm.status()["features"]["rate_limit"]["fallbacks"] == 0


def test_a_replaced_time_time_is_honoured(patched, monkeypatch) -> None:
    """With `time.time` replaced (as freezegun does), the cache's default clock reads the
    replacement, natively patched or not."""
    import time

    monkeypatch.setattr(time, "time", lambda: 1_000_000.0)
    deployment = {"model_name": "g", "litellm_params": {"model": "m", "rpm": 3}, "model_info": {"id": "x"}}
    clock = Clock()
    theirs = Check(DualCache(), clock=clock)
    ours = Check(DualCache(), clock=clock)
    for _ in range(4):
        assert _outcome(lambda: ours.pre_call_check(deployment)) == _outcome(lambda: ORIGINAL_SYNC(theirs, deployment))
    assert _state(ours) == _state(theirs)
    assert set(_state(ours)[1].values()) == {1_000_060.0}
