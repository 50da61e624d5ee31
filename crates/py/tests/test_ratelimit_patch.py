"""The ``rate_limit`` patch against LiteLLM's own v3 limiter, on the line that takes it (1.110).

Two limiters of LiteLLM's own class run side by side under one fake clock: one built with
LiteLLM's own in-memory handle injected (``rate_limit_store=``), which the patch leaves alone,
so every call of it runs LiteLLM's own code; and one built while patched, whose keyspace lives
in Rust and whose ``should_rate_limit`` is decided there. Traces mix checks, TPM reservations,
refunds, slot releases and clock moves, driven through LiteLLM's own methods; every response
and every stored entry must be equal after every step.
"""

from __future__ import annotations

import asyncio
import datetime
import inspect
import random
import threading

import pytest

import fastllm_litellm
from fastllm_litellm import _native, _rate_limit
from conftest import HOOK_RESOLVERS, run_pre_call_hook

v3 = pytest.importorskip("litellm.proxy.hooks.parallel_request_limiter_v3")
if _rate_limit._rate_limit_mismatch(v3) is not None:  # the 1.109 line keeps its state in DualCache
    pytest.skip(f"rate_limit does not apply: {_rate_limit._rate_limit_mismatch(v3)}", allow_module_level=True)

from litellm.caching.dual_cache import DualCache  # noqa: E402
from litellm.proxy.utils import InternalUsageCache  # noqa: E402
from litellm.redis.stores.connection import connect  # noqa: E402
from litellm.redis.stores.rate_limits import RateLimitScope, RateLimitStore  # noqa: E402

Handler = v3._PROXY_MaxParallelRequestsHandler_v3
START = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
SCOPES = (("api_key", "k1"), ("user", "u1"), ("team", "t1"), ("end_user", "e1"))
SUFFIXES = ("window", "requests", "tokens", "max_parallel_requests")


@pytest.fixture
def patched():
    fastllm_litellm.reset_stats()
    assert fastllm_litellm.patch(["rate_limit"])
    yield
    fastllm_litellm.unpatch(["rate_limit"])


def _pair(now: list[datetime.datetime]):
    theirs = Handler(
        InternalUsageCache(DualCache()),
        time_provider=lambda: now[0],
        rate_limit_store=RateLimitStore(connect(None).rate_limits(None)),
    )
    ours = Handler(InternalUsageCache(DualCache()), time_provider=lambda: now[0])
    assert type(theirs.rate_limits._handle) is not _native.LocalRateLimits
    assert type(ours.rate_limits._handle) is _native.LocalRateLimits
    return theirs, ours


def _entries(scope: RateLimitScope):
    return (scope.window, scope.counter("requests"), scope.counter("tokens"), scope.gauge)


def _dump(handler) -> list[object]:
    out = []
    for key, value in SCOPES:
        out.extend(handler.rate_limits.local(_entries(RateLimitScope(key, value))))
    return out


def _descriptors(rng: random.Random) -> list[dict]:
    out = []
    for key, value in rng.sample(SCOPES, rng.randint(1, len(SCOPES))):
        out.append(
            {
                "key": key,
                "value": value,
                "rate_limit": {
                    "requests_per_unit": rng.choice([None, 0, 1, 2, 3, 5, 8]),
                    "tokens_per_unit": rng.choice([None, None, 4, 10, 50]),
                    "max_parallel_requests": rng.choice([None, None, 0, 1, 2, 3]),
                    "window_size": rng.choice([None, 0, 60, 30]),
                },
            }
        )
    # Edge shapes LiteLLM accepts: no limits at all, an empty or missing rate_limit, and a
    # second descriptor for a scope already listed (LiteLLM keeps the later one's limits).
    roll = rng.random()
    if roll < 0.15:
        out.append({"key": "api_key", "value": "k1", "rate_limit": rng.choice([None, {}])})
    elif roll < 0.25:
        out.append({"key": "team", "value": "t1"})
    elif roll < 0.45:
        dup = dict(rng.choice(out))
        dup["rate_limit"] = {
            "requests_per_unit": rng.choice([None, 1, 4]),
            "tokens_per_unit": rng.choice([None, 7]),
            "max_parallel_requests": rng.choice([None, 2]),
        }
        out.append(dup)
    return out


async def _replay(seed: int, steps: int = 80) -> dict[str, int]:
    rng = random.Random(seed)
    now = [START]
    theirs, ours = _pair(now)
    descriptors = _descriptors(rng)
    held: list[str] = []
    seen = {"check": 0, "over": 0, "reserve": 0, "atomic": 0, "refund": 0, "release": 0}
    for step in range(steps):
        roll = rng.random()
        if roll < 0.15:
            now[0] += datetime.timedelta(seconds=rng.choice([1, 5, 20, 31, 59, 60, 61, 125]))
            continue
        subset = rng.sample(descriptors, rng.randint(1, len(descriptors)))
        if roll < 0.25:
            n = rng.choice([1, 3, 7, 20])
            a = await theirs.reserve_tpm_tokens([dict(d) for d in subset], n)
            b = await ours.reserve_tpm_tokens([dict(d) for d in subset], n)
            seen["reserve"] += 1
            # A reservation reaches the atomic step when a descriptor has a token limit.
            seen["atomic"] += any((d.get("rate_limit") or {}).get("tokens_per_unit") is not None for d in subset)
        elif roll < 0.32:
            scopes = [(d["key"], d["value"]) for d in subset]
            n = rng.choice([1, 2, 5])
            a = await theirs._refund_reserved_tokens(scopes, n)
            b = await ours._refund_reserved_tokens(scopes, n)
            seen["refund"] += 1
        elif roll < 0.42 and held:
            slot = held.pop(rng.randrange(len(held)))
            gauges = tuple(RateLimitScope(k, v) for k, v in SCOPES)
            a = await theirs._release_parallel_request_slots({"gauges": gauges, "slot_id": slot})
            b = await ours._release_parallel_request_slots({"gauges": gauges, "slot_id": slot})
            seen["release"] += 1
        else:
            kwargs = {
                "read_only": rng.random() < 0.15,
                "skip_tpm_check": rng.random() < 0.3,
                "skip_parallel_check": rng.random() < 0.2,
                "parallel_slot_id": f"slot-{seed}-{step}",
            }
            a = await theirs.should_rate_limit([dict(d) for d in subset], **kwargs)
            b = await ours.should_rate_limit([dict(d) for d in subset], **kwargs)
            seen["check"] += 1
            seen["over"] += a["overall_code"] == "OVER_LIMIT"
            if a["overall_code"] == "OK" and not kwargs["read_only"]:
                held.append(kwargs["parallel_slot_id"])
        assert b == a, f"seed {seed}, step {step}"
        assert _dump(ours) == _dump(theirs), f"seed {seed}, step {step}: stored entries differ"
    return seen


@pytest.mark.parametrize("seed", range(60))
def test_traces_through_litellms_limiter_match(patched, seed: int) -> None:
    seen = asyncio.run(_replay(seed))
    assert seen["check"] >= 30


@pytest.mark.parametrize("window", ["7", "30"])
def test_traces_honour_the_window_size_setting(patched, monkeypatch, window: str) -> None:
    """LITELLM_RATE_LIMIT_WINDOW_SIZE, read by LiteLLM's constructor, drives the native path
    too (the traces move the clock by 1 to 125 s, so short windows roll over often)."""
    monkeypatch.setenv("LITELLM_RATE_LIMIT_WINDOW_SIZE", window)
    for seed in range(200, 210):
        asyncio.run(_replay(seed))
    _, ours = _pair([START])
    assert ours.window_size == int(window)


def test_traces_exercise_every_operation(patched) -> None:
    totals: dict[str, int] = {}
    for seed in range(60):
        for name, n in asyncio.run(_replay(seed)).items():
            totals[name] = totals.get(name, 0) + n
    assert totals["over"] > 100 and totals["check"] - totals["over"] > 100
    assert totals["reserve"] > 50 and totals["refund"] > 30 and totals["release"] > 30
    stats = fastllm_litellm.status()["features"]["rate_limit"]
    # Every check and reservation of the patched limiter was decided natively; the baseline's
    # (LiteLLM's own store) went to LiteLLM: a fallback per check, two per reservation (the
    # reservation, then LiteLLM's in-memory step it calls).
    natives = stats["calls"] - stats["fallbacks"]
    assert natives == totals["check"] + totals["atomic"]
    assert stats["fallbacks"] == totals["check"] + 2 * totals["atomic"]
    assert totals["atomic"] > 30
    assert stats["last_fallback_reason"].startswith("a limiter with Redis, an injected store")


def test_handle_matches_litellms_own_handle() -> None:
    """get/set/increment on random entries, values and TTLs: same values as LiteLLM's handle."""
    from litellm.redis.stores.rate_limits import CounterIncrement

    theirs = connect(None).rate_limits(None)
    ours = _native.LocalRateLimits(connect(None).rate_limits(None))
    rng = random.Random(7)
    scopes = [RateLimitScope("api_key", f"k{i}") for i in range(3)]
    values = [0, 1, -3, 2**40, 2.5, -0.5, "17", "x", {"a": 1.0, "b": 2.5}, {}]

    async def run() -> None:
        for step in range(3000):
            entry = rng.choice(_entries(rng.choice(scopes)))
            op = rng.random()
            if op < 0.35:
                value, ttl = rng.choice(values), rng.choice([None, 60, 3600, 0, -1])
                theirs.set_local(entry, value, ttl)
                ours.set_local(entry, value, ttl)
            elif op < 0.7:
                counter = rng.choice(scopes).counter(rng.choice(["requests", "tokens"]))
                inc = CounterIncrement(counter, rng.choice([1, 5, 2.5, -1]), rng.choice([None, 60]))
                if rng.random() < 0.5:
                    assert await ours.increment(inc) == await theirs.increment(inc), step
                else:
                    assert await ours.increment_many([inc, inc]) == await theirs.increment_many([inc, inc]), step
            assert ours.get_local(entry) == theirs.get_local(entry), step
            got, want = ours.get_local(entry), theirs.get_local(entry)
            assert type(got) is type(want), step

    asyncio.run(run())


def test_handle_refuses_what_litellms_handle_refuses() -> None:
    ours = _native.LocalRateLimits(connect(None).rate_limits(None))
    entry = RateLimitScope("api_key", "k").counter("requests")
    for bad in (True, 10**30, [1], {"a": "x"}, {1: 2.0}, None):
        with pytest.raises(TypeError):
            ours.set_local(entry, bad, 60)
    with pytest.raises(ValueError):
        ours.set_local(entry, 1, float("nan"))
    with pytest.raises(OverflowError):
        ours.set_local(entry, 1, float("inf"))
    with pytest.raises(AttributeError):
        ours.get_local("not an entry")
    assert ours.get_local(entry) is None  # nothing was stored by the refused calls
    assert ours.entry_count() == 0
    assert bool(ours)  # truthy when empty, like LiteLLM's handle


def test_patch_and_unpatch_restore_the_class_exactly() -> None:
    before = dict(Handler.__dict__)
    assert "rate_limit" in fastllm_litellm.patch(["rate_limit"])
    assert Handler.__dict__["should_rate_limit"] is not before["should_rate_limit"]
    assert Handler.__dict__["__init__"] is not before["__init__"]
    # The limiter's __init__, should_rate_limit, two reservation methods and offload_token_count;
    # pre_call_check and async_pre_call_check of the router check and of usage-based-v2.
    assert fastllm_litellm.status()["features"]["rate_limit"]["bindings"] == 9
    # The patched method is a coroutine function, as LiteLLM's is.
    assert asyncio.iscoroutinefunction(Handler.should_rate_limit)
    assert inspect.iscoroutinefunction(Handler.should_rate_limit)
    fastllm_litellm.unpatch(["rate_limit"])
    assert Handler.__dict__["should_rate_limit"] is before["should_rate_limit"]
    assert Handler.__dict__["__init__"] is before["__init__"]
    assert dict(Handler.__dict__) == before


def test_a_limiter_built_while_patched_stays_exact_after_unpatch(patched) -> None:
    """Its keyspace stays in Rust; LiteLLM's own code then runs on it and answers the same."""
    now = [START]
    theirs, ours = _pair(now)
    fastllm_litellm.unpatch(["rate_limit"])
    d = [{"key": "api_key", "value": "k1", "rate_limit": {"requests_per_unit": 2, "max_parallel_requests": 5}}]

    async def run() -> None:
        for i in range(4):
            a = await theirs.should_rate_limit(d, parallel_slot_id=f"s{i}")
            b = await ours.should_rate_limit(d, parallel_slot_id=f"s{i}")
            assert a == b
        assert _dump(ours) == _dump(theirs)

    asyncio.run(run())


class _Descriptor(dict):
    """A dict subclass: LiteLLM reads it through its own methods, so the native path hands it back."""


def test_unsupported_input_falls_back_and_is_counted(patched) -> None:
    now = [START]
    theirs, ours = _pair(now)
    rpm = "".join(["requests", "_per_unit"])  # equal to LiteLLM's key, but not the interned object
    cases = [
        # (descriptors, keyword arguments, whether ours hands the call to LiteLLM)
        ([{"key": "api_key", "value": "k1", "rate_limit": {"requests_per_unit": 2.0}}], {}, True),  # a float limit
        (({"key": "api_key", "value": "k1", "rate_limit": {"requests_per_unit": 2}},), {}, True),  # a tuple
        ([_Descriptor(key="api_key", value="k1", rate_limit={"requests_per_unit": 2})], {}, True),
        ([{"key": "api_key", "value": "k1", "rate_limit": {"requests_per_unit": 2, 7: 1}}], {}, True),
        ([{"key": "api_key", "value": "k1", "rate_limit": {"requests_per_unit": 2}}], {"read_only": 1}, True),
        ([{"key": "api_key", "value": "k1", "rate_limit": {"requests_per_unit": 2}}], {"parallel_slot_id": 3}, True),
        ([{"key": "api_key", "value": "k1", "rate_limit": {rpm: 2, "note": "x"}}], {}, False),
        ([{"key": "api_key", "value": "k2", "rate_limit": {"requests_per_unit": 2}}], {"read_only": True}, False),
    ]

    async def run() -> None:
        for descriptors, kwargs, handed_back in cases:
            fastllm_litellm.reset_stats()
            assert await ours.should_rate_limit(descriptors, **kwargs) == await theirs.should_rate_limit(
                descriptors, **kwargs
            )
            stats = fastllm_litellm.status()["features"]["rate_limit"]
            # Theirs is LiteLLM's own store, always a fallback; ours only when it hands back.
            assert stats["fallbacks"] == 1 + handed_back, (descriptors, kwargs)
            assert stats["last_fallback_reason"]
            assert _dump(ours) == _dump(theirs)

    asyncio.run(run())


def test_bad_input_raises_litellms_errors(patched) -> None:
    now = [START]
    theirs, ours = _pair(now)

    async def both(descriptors):
        errors = []
        for handler in (theirs, ours):
            try:
                await handler.should_rate_limit(descriptors)
            except Exception as error:  # noqa: BLE001 - compared below
                errors.append(type(error))
            else:
                errors.append(None)
        return errors

    for descriptors in (
        [{"value": "v"}],
        [{"key": "k", "value": "v", "rate_limit": {"requests_per_unit": "x"}}],
        [{"key": "api_key", "value": 5, "rate_limit": {"requests_per_unit": 2}}],  # LiteLLM's handle takes str only
        5,
    ):
        theirs_error, ours_error = asyncio.run(both(descriptors))
        assert theirs_error is not None and ours_error is theirs_error


def test_threads_never_over_admit(patched) -> None:
    """8 Python threads x 10,000 checks, each thread with its own event loop, on one patched
    limiter: exactly the limit is admitted."""
    now = [START]
    _, ours = _pair(now)
    limit = 1000
    d = [{"key": "api_key", "value": "hot", "rate_limit": {"requests_per_unit": limit}}]
    admitted = []

    def worker() -> None:
        async def run() -> int:
            n = 0
            for _ in range(10_000):
                r = await ours.should_rate_limit(d)
                n += r["overall_code"] == "OK"
            return n

        admitted.append(asyncio.run(run()))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(admitted) == limit
    # Like LiteLLM's: the first refusal passes the local pre-check and counts; the pre-check
    # refuses every later one without counting it.
    assert ours.rate_limits.local((RateLimitScope("api_key", "hot").counter("requests"),)) == (limit + 1,)


def test_pre_call_hook_matches_litellm(patched) -> None:
    """LiteLLM's whole pre-call hook (descriptors, checks, TPM reservation with the token
    estimate) on both limiters: the same outcome for every request, the same stored state."""
    pytest.importorskip("litellm.proxy.proxy_server")
    from litellm.proxy._types import UserAPIKeyAuth

    fastllm_litellm.patch(["token_counter", "rate_limit"])
    try:
        now = [START]
        theirs = Handler(
            InternalUsageCache(DualCache()),
            time_provider=lambda: now[0],
            rate_limit_store=RateLimitStore(connect(None).rate_limits(None)),
            **HOOK_RESOLVERS,
        )
        ours = Handler(InternalUsageCache(DualCache()), time_provider=lambda: now[0], **HOOK_RESOLVERS)
        assert type(ours.rate_limits._handle) is _native.LocalRateLimits
        rng = random.Random(3)
        user = UserAPIKeyAuth(
            api_key="sk-hook", user_id="u1", team_id="t1", rpm_limit=40, tpm_limit=3000,
            max_parallel_requests=1000, user_rpm_limit=30, team_tpm_limit=5000,
        )
        outcomes, stored = [], 0
        for step in range(120):
            if rng.random() < 0.1:
                now[0] += datetime.timedelta(seconds=rng.choice([5, 30, 61]))
            words = " ".join(rng.choice(["hello", "rate", "limit", "token", "ünïcode", "東京", "🚀"]) for _ in range(rng.randint(1, 60)))
            data = {"model": "gpt-4o", "messages": [{"role": "user", "content": words}]}
            if rng.random() < 0.3:
                data["max_tokens"] = rng.choice([16, 256, 2048])
            a = asyncio.run(run_pre_call_hook(theirs, user, dict(data)))
            b = asyncio.run(run_pre_call_hook(ours, user, dict(data)))
            assert b == a, f"step {step}"
            outcomes.append(a[0])
            scopes = [("api_key", user.api_key), ("user", "u1"), ("team", "t1")]
            for key, value in scopes:
                entries = _entries(RateLimitScope(key, value))
                mine = ours.rate_limits.local(entries[:3])
                assert mine == theirs.rate_limits.local(entries[:3]), f"step {step}"
                stored += sum(v is not None for v in mine)
        assert outcomes.count("raise") > 10 and outcomes.count("ok") > 10, outcomes
        assert stored > 300  # the compared entries are the ones the hook writes
        assert fastllm_litellm.status()["features"]["rate_limit"]["calls"] >= 120
    finally:
        fastllm_litellm.unpatch(["token_counter"])


def _estimate(calls: list[int], **count):
    """A token estimate as LiteLLM's limiter offloads it: records the thread of every run."""

    def estimate(messages):
        import litellm

        calls.append(threading.get_ident())
        return litellm.token_counter(messages=messages, **count)

    return estimate


def test_inline_estimates_run_on_the_loop_when_counted_natively(patched) -> None:
    messages = [{"role": "user", "content": "how many tokens is this?"}]
    fastllm_litellm.patch(["token_counter", "rate_limit"])
    try:
        calls: list[int] = []

        async def run() -> int:
            return await v3.offload_token_count(_estimate(calls, model="gpt-4o"))(messages)

        got = asyncio.run(run())
        assert calls == [threading.get_ident()]  # once, on the loop's thread
    finally:
        fastllm_litellm.unpatch(["token_counter"])
    # LiteLLM's own offload (unpatched): its worker thread, the same count.
    theirs: list[int] = []
    assert asyncio.run(v3.offload_token_count(_estimate(theirs, model="gpt-4o"))(messages)) == got
    assert len(theirs) == 1 and theirs[0] != threading.get_ident()


@pytest.mark.parametrize("swallow", [False, True])
def test_inline_estimates_hand_litellms_own_counts_to_its_thread(patched, swallow: bool) -> None:
    """An estimate that needs LiteLLM's own counter (here a custom tokenizer; in the field a
    remote image it downloads) must not run it on the event loop: it runs again on LiteLLM's
    worker thread, also when the estimate catches the signal itself."""
    import litellm
    from tokenizers import Tokenizer, models, pre_tokenizers

    vocab = {"[UNK]": 0, "counted": 1, "by": 2, "code": 3}
    word_level = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    word_level.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = litellm.utils.create_tokenizer(word_level.to_str())
    messages = [{"role": "user", "content": "counted by LiteLLM's own code"}]
    expected = _estimate([], model="gpt-4o", custom_tokenizer=tokenizer)(messages)

    def estimate_of(calls):
        inner = _estimate(calls, model="gpt-4o", custom_tokenizer=tokenizer)
        if not swallow:
            return inner

        def swallowing(messages):
            try:
                return inner(messages)
            except BaseException:  # noqa: BLE001 - an estimate that falls back on anything
                return -1

        return swallowing

    fastllm_litellm.patch(["token_counter", "rate_limit"])
    try:
        fastllm_litellm.reset_stats()
        calls: list[int] = []

        async def run() -> int:
            return await v3.offload_token_count(estimate_of(calls))(messages)

        assert asyncio.run(run()) == expected
        loop_thread = threading.get_ident()
        assert calls[0] == loop_thread and len(calls) == 2 and calls[1] != loop_thread, calls
        stats = fastllm_litellm.status()["features"]["token_counter"]
        assert stats["fallbacks"] == 2  # the stopped inline attempt and the counted call
    finally:
        fastllm_litellm.unpatch(["token_counter"])
