"""Differential traces on a real Redis: LiteLLM's own v3 limiter vs fastllm's ``RedisStore``.

LiteLLM's limiter (``_PROXY_MaxParallelRequestsHandler_v3`` on a ``RedisCache``) runs on
database 0 of a throwaway ``redis-server``, fastllm's ``_native.RedisRateLimiter`` on database 1
of the same server, so both read one clock: Redis's ``TIME``, which both anchor their windows on.
Each trace replays checks, TPM reservations and slot releases in phases; between phases both
wait past the window, so every rollover happens for both. Within a phase (well under a second)
no window can end. Every decision, limit and remaining count must be equal at every step.
"""

from __future__ import annotations

import asyncio
import random
import shutil
import socket
import subprocess
import time

import pytest

from fastllm_litellm import _native

WINDOW = 2  # seconds: short, so a trace sees rollovers without a long test

pytest.importorskip("litellm.proxy.hooks.parallel_request_limiter_v3")
from litellm import DualCache  # noqa: E402
from litellm.caching.redis_cache import RedisCache  # noqa: E402
from litellm.proxy.utils import InternalUsageCache  # noqa: E402

SCOPES = (("api_key", "k1"), ("user", "u1"), ("team", "t1"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_redis(port: int) -> subprocess.Popen:
    """A throwaway redis-server on loopback ``port``, answering PING."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (make test's CI installs it)")
    server = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2) as c:
                c.sendall(b"PING\r\n")
                if c.recv(16).startswith(b"+PONG"):
                    return server
        except OSError:
            pass
        if time.monotonic() > deadline:
            server.kill()
            raise AssertionError("redis-server did not start")
        time.sleep(0.05)


def _stop(server: subprocess.Popen) -> None:
    server.kill()
    server.wait(timeout=10)


@pytest.fixture(scope="module")
def redis_url():
    port = _free_port()
    server = _start_redis(port)
    yield f"redis://127.0.0.1:{port}"
    _stop(server)


def _limiter(url: str, monkeypatch):
    from litellm.proxy.hooks.parallel_request_limiter_v3 import _PROXY_MaxParallelRequestsHandler_v3

    monkeypatch.setenv("LITELLM_RATE_LIMIT_WINDOW_SIZE", str(WINDOW))
    limiter = _PROXY_MaxParallelRequestsHandler_v3(
        InternalUsageCache(DualCache(redis_cache=RedisCache(url=f"{url}/0"))),
        fail_closed_resolver=lambda: False,
        force_hash_tag_grouping_resolver=lambda: False,
    )
    store = getattr(limiter, "rate_limits", None)
    assert getattr(limiter, "batch_rate_limiter_script", None) is not None or store.has_redis
    assert limiter.window_size == WINDOW
    return limiter


def _decisions(response: dict) -> tuple:
    """What both limiters answer: the overall code and every status (LiteLLM's reservation
    bookkeeping, ``reservation_windows``, is its own and is not compared)."""
    assert "unverified" not in response, response
    return response["overall_code"], [dict(s) for s in response["statuses"]]


def _descriptors(rng: random.Random) -> list[dict]:
    return [
        {
            "key": key,
            "value": value,
            "rate_limit": {
                "requests_per_unit": rng.choice([None, 1, 2, 3, 5]),
                "tokens_per_unit": rng.choice([None, 5, 20]),
                "max_parallel_requests": rng.choice([None, None, 1, 2]),
            },
        }
        for key, value in rng.sample(SCOPES, rng.randint(1, len(SCOPES)))
    ]


async def _replay(
    url: str, monkeypatch, seed: int, phases: int = 3, steps: int = 12, reserve: float = 0.2
) -> dict[str, int]:
    rng = random.Random(seed)
    theirs = _limiter(url, monkeypatch)
    ours = _native.RedisRateLimiter(f"{url}/1", window_size=WINDOW)
    # Distinct keys per trace, so traces do not share windows.
    descriptors = [dict(d, value=f"{d['value']}-{seed}") for d in _descriptors(rng)]
    seen = {"check": 0, "over": 0, "reserve": 0, "release": 0}
    held: list[tuple[str, list[tuple[str, str]]]] = []
    for phase in range(phases):
        if phase:
            await asyncio.sleep(WINDOW + 0.6)
        started = time.monotonic()
        for step in range(steps):
            subset = rng.sample(descriptors, rng.randint(1, len(descriptors)))
            roll = rng.random()
            if roll < reserve:
                n = rng.choice([1, 4, 9])
                a = await theirs.reserve_tpm_tokens([dict(d) for d in subset], n)
                b = ours.reserve_tpm_tokens(subset, n)
                seen["reserve"] += 1
            elif roll < reserve + 0.1 and held:
                slot, scopes = held.pop(rng.randrange(len(held)))
                await theirs._release_parallel_request_slots(_acquisition(slot, scopes))
                ours.release_slots(slot, scopes)
                seen["release"] += 1
                continue
            else:
                kwargs = {
                    "read_only": rng.random() < 0.15,
                    "skip_tpm_check": rng.random() < 0.3,
                    "parallel_slot_id": f"slot-{seed}-{phase}-{step}",
                }
                a = await theirs.should_rate_limit([dict(d) for d in subset], **kwargs)
                b = ours.should_rate_limit(subset, **kwargs)
                seen["check"] += 1
                seen["over"] += a["overall_code"] == "OVER_LIMIT"
                gauged = [(d["key"], d["value"]) for d in subset if d["rate_limit"]["max_parallel_requests"] is not None]
                if a["overall_code"] == "OK" and not kwargs["read_only"] and gauged:
                    held.append((kwargs["parallel_slot_id"], gauged))
            assert _decisions(b) == _decisions(a), f"seed {seed}, phase {phase}, step {step}"
        # A phase must stay well inside one window for the comparison to be about semantics.
        assert time.monotonic() - started < 0.8, "a phase took too long to compare windows"
    return seen


def _acquisition(slot: str, scopes: list[tuple[str, str]]) -> dict:
    """LiteLLM's ``ParallelSlotAcquisition`` for a slot on these scopes' gauges: gauge scopes on
    the 1.110 line, gauge keys on the 1.109 line."""
    try:
        from litellm.redis.stores.rate_limits import RateLimitScope
    except ImportError:
        return {"slot_id": slot, "counter_keys": [f"{{{k}:{v}}}:max_parallel_requests" for k, v in scopes]}
    return {"slot_id": slot, "gauges": tuple(RateLimitScope(k, v) for k, v in scopes)}


def _has_release_api() -> bool:
    from litellm.proxy.hooks.parallel_request_limiter_v3 import _PROXY_MaxParallelRequestsHandler_v3

    return hasattr(_PROXY_MaxParallelRequestsHandler_v3, "_release_parallel_request_slots")


@pytest.mark.parametrize("seed", range(6))
def test_redis_traces_match_litellm(redis_url, monkeypatch, seed: int) -> None:
    if not _has_release_api():
        pytest.skip("this LiteLLM line has no _release_parallel_request_slots")
    seen = asyncio.run(_replay(redis_url, monkeypatch, seed))
    assert seen["check"] >= 10


def test_redis_traces_reach_refusals_and_rollovers(redis_url, monkeypatch) -> None:
    if not _has_release_api():
        pytest.skip("this LiteLLM line has no _release_parallel_request_slots")
    totals: dict[str, int] = {}
    for seed in range(100, 104):
        for name, n in asyncio.run(_replay(redis_url, monkeypatch, seed, phases=2)).items():
            totals[name] = totals.get(name, 0) + n
    assert totals["over"] >= 5 and totals["check"] - totals["over"] >= 5
    assert totals["reserve"] >= 3 and totals["release"] >= 1


def test_redis_limiter_rejects_bad_settings() -> None:
    with pytest.raises(ValueError):
        _native.RedisRateLimiter("http://not-redis", window_size=60)
    with pytest.raises(ValueError):
        _native.RedisRateLimiter("redis://127.0.0.1:1", window_size=0)
    with pytest.raises(ValueError):
        _native.RedisRateLimiter("redis://127.0.0.1:1", slot_ttl=-5)


def test_redis_down_fails_open_or_closed() -> None:
    """Nothing listens on the port: fail open admits with the reason, fail closed refuses."""
    port = _free_port()
    d = [{"key": "api_key", "value": "down", "rate_limit": {"requests_per_unit": 1}}]
    open_ = _native.RedisRateLimiter(f"redis://127.0.0.1:{port}/0").should_rate_limit(d)
    assert open_["overall_code"] == "OK" and "unverified" in open_
    closed = _native.RedisRateLimiter(f"redis://127.0.0.1:{port}/0", fail_closed=True).should_rate_limit(d)
    assert closed["overall_code"] == "OVER_LIMIT" and closed["statuses"] == [] and "unverified" in closed


def test_two_limiters_on_one_redis_admit_exactly_the_limit(redis_url) -> None:
    """Two limiters (two processes' worth of mirrors) on one Redis, 4 threads each, 2,000
    checks per thread on one key with limit 500: 500 admitted in all."""
    import threading

    limiters = [_native.RedisRateLimiter(f"{redis_url}/2", window_size=3600) for _ in range(2)]
    d = [{"key": "api_key", "value": "shared-two", "rate_limit": {"requests_per_unit": 500}}]
    admitted = []

    def worker(limiter) -> None:
        admitted.append(sum(limiter.should_rate_limit(d)["overall_code"] == "OK" for _ in range(2000)))

    threads = [threading.Thread(target=worker, args=(lim,)) for lim in limiters for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(admitted) == 500


def test_redis_killed_mid_load_then_restarted() -> None:
    """Kill redis-server under load: fail open keeps admitting (unverified), fail closed
    refuses; a restarted server on the same port is used again without a new limiter."""
    import threading

    port = _free_port()
    server = _start_redis(port)
    url = f"redis://127.0.0.1:{port}/0"
    opened = _native.RedisRateLimiter(url, window_size=3600)
    closed = _native.RedisRateLimiter(url, window_size=3600, fail_closed=True)
    d = [{"key": "api_key", "value": "fault", "rate_limit": {"requests_per_unit": 10**9, "max_parallel_requests": 10**6}}]
    stop = threading.Event()
    seen = {"open_unverified": 0, "closed_refused": 0, "verified": 0, "errors": 0}

    def load(limiter, fail_closed: bool) -> None:
        while not stop.is_set():
            try:
                r = limiter.should_rate_limit(d)
            except Exception:  # noqa: BLE001 - counted: the limiter must never raise here
                seen["errors"] += 1
                continue
            if "unverified" not in r:
                seen["verified"] += 1
            elif fail_closed:
                assert r["overall_code"] == "OVER_LIMIT"
                seen["closed_refused"] += 1
            else:
                assert r["overall_code"] == "OK"
                seen["open_unverified"] += 1
            time.sleep(0.002)

    threads = [threading.Thread(target=load, args=(lim, fc)) for lim, fc in ((opened, False), (closed, True))]
    for t in threads:
        t.start()
    try:
        time.sleep(0.3)
        assert seen["verified"] > 0
        _stop(server)
        deadline = time.monotonic() + 15
        while seen["open_unverified"] < 5 or seen["closed_refused"] < 5:
            assert time.monotonic() < deadline, seen
            time.sleep(0.05)
        server = _start_redis(port)
        before = seen["verified"]
        deadline = time.monotonic() + 15
        while seen["verified"] < before + 10:
            assert time.monotonic() < deadline, f"no recovery after the restart: {seen}"
            time.sleep(0.05)
    finally:
        stop.set()
        for t in threads:
            t.join()
        _stop(server)
    assert seen["errors"] == 0


def test_redis_limiter_bad_input() -> None:
    limiter = _native.RedisRateLimiter("redis://127.0.0.1:1/0")
    with pytest.raises(TypeError):
        limiter.should_rate_limit("not a list")
    with pytest.raises(TypeError):
        limiter.should_rate_limit([{"key": 1, "value": "v"}])
    with pytest.raises(ValueError):
        limiter.should_rate_limit([{"key": "k", "value": "v", "rate_limit": {"requests_per_unit": -1}}])
    with pytest.raises(ValueError):
        limiter.should_rate_limit([{"key": "k", "value": "v", "rate_limit": {"window_size": 10**12}}])
    with pytest.raises(ValueError):
        _native.RedisRateLimiter("redis://127.0.0.1:1/0", window_size=10**12)
