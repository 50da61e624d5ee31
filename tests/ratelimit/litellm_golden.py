"""Records the answers replayed by litellm_golden.rs from LiteLLM 1.110.2 (no Redis).

Run with a Python that has litellm==1.110.2 and the proxy extras (fastapi, orjson, backoff,
redis, opentelemetry-api) importable; paste the printed lines into litellm_golden.rs.
Most traces drive the limiter with a fake `time_provider` and print compact responses. They
take far less real time than any TTL, so the memory tier never expires a key: the Rust side
uses KeyTtl::Never. With LITELLM_RATE_LIMIT_WINDOW_SIZE=2 the script instead runs one trace
against the real clock (KeyTtl::FollowClock on the Rust side)."""
import asyncio, os, sys
os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
from datetime import datetime, timezone
from litellm import DualCache
from litellm.proxy.utils import InternalUsageCache
from litellm.proxy.hooks.parallel_request_limiter_v3 import _PROXY_MaxParallelRequestsHandler_v3 as H
from litellm.redis.stores.rate_limits import RateLimitScope, CounterIncrement

class T:
    def __init__(self, t): self.t = t
    def __call__(self): return datetime.fromtimestamp(self.t, tz=timezone.utc)

def fmt(r):
    parts = []
    for s in r["statuses"]:
        parts.append(f'{s["code"]} {s["rate_limit_type"]} {s["descriptor_key"]}={s.get("descriptor_value","-")} limit={s["current_limit"]} rem={s["limit_remaining"]}')
    rw = sorted((c.scope.descriptor_key, c.scope.descriptor_value, c.kind, int(w)) for (c, w, _b) in r.get("reservation_windows", frozenset()))
    extra = "" if not rw else " windows=" + ",".join(f"{k}={v}:{kind}@{w}" for k, v, kind, w in rw)
    return f'{r["overall_code"]} [' + "; ".join(parts) + "]" + extra

def D(key, value, rpm=None, tpm=None, mpr=None, window=None):
    rl = {}
    if rpm is not None: rl["requests_per_unit"] = rpm
    if tpm is not None: rl["tokens_per_unit"] = tpm
    if mpr is not None: rl["max_parallel_requests"] = mpr
    if window is not None: rl["window_size"] = window
    return {"key": key, "value": value, "rate_limit": rl}

def new(t):
    clock = T(t)
    return H(InternalUsageCache(DualCache()), time_provider=clock), clock

def counter(h, key, value, kind):
    v = h.rate_limits.local((RateLimitScope(key, value).counter(kind),))[0]
    return "None" if v is None else str(int(float(v)))

async def main():
    out = []
    def emit(name, s): out.append((name, s))
    # 1. single rpm descriptor, over-limit then window expiry (counter stays over: pre-check refuses)
    h, c = new(1000.25)
    d = [D("api_key", "k", rpm=3)]
    for i in range(5):
        emit(f"s1.{i}", fmt(await h.should_rate_limit(d)))
    c.t = 1060.5
    emit("s1.after_window", fmt(await h.should_rate_limit(d)))
    emit("s1.counter", counter(h, "api_key", "k", "requests"))
    # 2. exactly at limit, window expiry resets
    h, c = new(2000.0)
    for i in range(3):
        emit(f"s2.{i}", fmt(await h.should_rate_limit(d)))
    c.t = 2059.9
    emit("s2.59", fmt(await h.should_rate_limit(d)))
    c.t = 2060.0
    emit("s2.60", fmt(await h.should_rate_limit(d)))
    emit("s2.read_only", fmt(await h.should_rate_limit(d, read_only=True)))
    # 3. several descriptors: non-atomic increments, statuses order, tpm counted as +1
    h, c = new(3000.0)
    d3 = [D("api_key", "k", rpm=2, tpm=100), D("team", "t", rpm=5), D("user", "u", tpm=1)]
    for i in range(3):
        emit(f"s3.{i}", fmt(await h.should_rate_limit(d3)))
    emit("s3.team_counter", counter(h, "team", "t", "requests"))
    emit("s3.skip_tpm", fmt(await h.should_rate_limit(d3, skip_tpm_check=True)))
    # 4. duplicate scope, last metadata wins
    h, c = new(4000.0)
    d4 = [D("model_per_key", "k:m", rpm=5, tpm=50), D("model_per_key", "k:m", rpm=2)]
    for i in range(2):
        emit(f"s4.{i}", fmt(await h.should_rate_limit(d4)))
    emit("s4.req", counter(h, "model_per_key", "k:m", "requests"))
    emit("s4.tok", counter(h, "model_per_key", "k:m", "tokens"))
    # 5. atomic by n: all or nothing
    h, c = new(5000.0)
    d5 = [D("api_key", "k", tpm=100), D("team", "t", rpm=3, tpm=150, window=10)]
    emit("s5.0", fmt(await h.atomic_check_and_increment_by_n(d5, [{"tokens": 60}, {"tokens": 60, "requests": 1}])))
    emit("s5.1", fmt(await h.atomic_check_and_increment_by_n(d5, [{"tokens": 50}, {"tokens": 50}])))
    emit("s5.k", counter(h, "api_key", "k", "tokens"))
    emit("s5.t", counter(h, "team", "t", "tokens"))
    emit("s5.2", fmt(await h.atomic_check_and_increment_by_n(d5, [{"tokens": 40}, {"tokens": 0, "requests": -1}])))
    c.t = 5010.0
    emit("s5.3", fmt(await h.atomic_check_and_increment_by_n(d5, [{"tokens": 0}, {"tokens": 90, "requests": 3}])))
    emit("s5.t_req", counter(h, "team", "t", "requests"))
    emit("s5.4", fmt(await h.atomic_check_and_increment_by_n(d5, [{"tokens": 0}, {"requests": 0}])))
    # 6. reserve tpm + plain settlement
    h, c = new(6000.0)
    d6 = [D("api_key", "k", rpm=10, tpm=1000), D("model_per_project_itpm", "p:m", tpm=5), D("team", "t", tpm=700)]
    emit("s6.0", fmt(await h.reserve_tpm_tokens(d6, 400)))
    emit("s6.1", fmt(await h.reserve_tpm_tokens(d6, 400)))
    ops = h._build_reservation_aware_tpm_ops(targets=[("api_key", "k"), ("team", "t"), ("user", "u")], reserved_scopes=frozenset({("api_key", "k"), ("team", "t")}), actual_tokens=150, reserved_tokens=400)
    await h.async_increment_tokens_with_ttl_preservation(ops)
    emit("s6.k", counter(h, "api_key", "k", "tokens"))
    emit("s6.t", counter(h, "team", "t", "tokens"))
    emit("s6.u", counter(h, "user", "u", "tokens"))
    emit("s6.2", fmt(await h.reserve_tpm_tokens(d6, 400)))
    # 7. gauges
    h, c = new(7000.0)
    d7 = [D("api_key", "k", rpm=100, mpr=2), D("team", "t", mpr=3)]
    emit("s7.0", fmt(await h.should_rate_limit(d7, parallel_slot_id="a")))
    emit("s7.1", fmt(await h.should_rate_limit(d7, parallel_slot_id="b")))
    emit("s7.2", fmt(await h.should_rate_limit(d7, parallel_slot_id="c")))
    emit("s7.ro", fmt(await h.should_rate_limit(d7, read_only=True)))
    await h._release_parallel_request_slots_in_memory((RateLimitScope("api_key", "k"), RateLimitScope("team", "t")), "a")
    await h._release_parallel_request_slots_in_memory((RateLimitScope("api_key", "k"), RateLimitScope("team", "t")), "a")
    emit("s7.3", fmt(await h.should_rate_limit(d7, parallel_slot_id="d")))
    c.t = 7000.0 + 3600.5
    emit("s7.4", fmt(await h.should_rate_limit(d7, parallel_slot_id="e")))
    emit("s7.skip", fmt(await h.should_rate_limit(d7, skip_parallel_check=True)))
    for name, s in out:
        print(f'    ("{name}", "{s}"),')



async def headers_and_rejection():
    """fake_time_headers_and_rejection"""
    c = T(1_795_846_011.9)
    h = H(InternalUsageCache(DualCache()), time_provider=c)
    d = [D("api_key", "k", rpm=1, mpr=5), D("tag", "a", tpm=10), D("tag", "b", tpm=20)]
    r = await h.should_rate_limit(d, parallel_slot_id="s")
    print(H._merge_ratelimit_statuses_into_additional_headers({}, r["statuses"]))
    r = await h.should_rate_limit(d, parallel_slot_id="s2")
    try:
        h._handle_rate_limit_error(r, d)
    except Exception as e:  # ProxyRateLimitError
        print(repr(e.detail), e.headers)
    d2 = [D("api_key", "k", mpr=0)]
    r = await h.should_rate_limit(d2, parallel_slot_id="s3")
    try:
        h._handle_rate_limit_error(r, d2)
    except Exception as e:
        print(repr(e.detail), e.headers)


def coalesce():
    """descriptor::tests::coalesce_keeps_first_appearance_order_and_takes_minimums"""
    from litellm.proxy.hooks.parallel_request_limiter_v3 import _coalesce_rate_limit_descriptors

    ds = [D("model_per_key", "k:a", rpm=10, window=60), D("model_per_key", "k:b", tpm=7),
          D("model_per_key", "k:a", rpm=3, mpr=2, window=5), D("model_per_key", "k:a", tpm=100)]
    for d in _coalesce_rate_limit_descriptors(ds):
        print(d)


async def real_clock_double_restart():
    """real_time_window_restarts_twice_when_its_key_expires: needs
    LITELLM_RATE_LIMIT_WINDOW_SIZE=2 set before litellm is imported."""
    import time

    h = H(InternalUsageCache(DualCache()))
    d = [D("api_key", "k", rpm=3)]
    while not 0.85 <= time.time() % 1 <= 0.9:
        await asyncio.sleep(0.002)
    base = int(time.time())

    async def go():
        r = await h.should_rate_limit(d)
        print(round(time.time() - base, 3), r["overall_code"], r["statuses"][0]["limit_remaining"])

    for at in (None, None, None, 2.05, 2.5, 2.97, None, None, None):
        while at is not None and time.time() < base + at:
            await asyncio.sleep(0.001)
        await go()


if __name__ == "__main__":
    if os.environ.get("LITELLM_RATE_LIMIT_WINDOW_SIZE") == "2":
        asyncio.run(real_clock_double_restart())
    else:
        asyncio.run(main())
        asyncio.run(headers_and_rejection())
        coalesce()
