"""LiteLLM's half of the interop check in ratelimit/redis.rs (`shared_limit_with_litellm`).

Runs LiteLLM's v3 limiter (`_PROXY_MaxParallelRequestsHandler_v3` on a real `RedisCache`)
against the Redis at $REDIS_URL, while the Rust test runs fastllm's `RedisStore` on the same
keys. Needs a Python with litellm==1.109.3 (the limiter and its Lua scripts in pure Python)
or 1.110.2 (the same scripts, sent by its native Redis store), plus the proxy modules the
limiter imports (fastapi, orjson, backoff, redis).

    REDIS_URL=redis://127.0.0.1:PORT/0 python redis_interop.py MODE N LIMIT VALUE ESTIMATE PAUSE_MS

MODE rpm: N `should_rate_limit` on [{api_key:VALUE} requests_per_unit=LIMIT].
MODE tpm: N `reserve_tpm_tokens(ESTIMATE)` on [{team:VALUE} tokens_per_unit=LIMIT].
MODE parallel: N `should_rate_limit` on [{user:VALUE} max_parallel_requests=LIMIT], slot ids
`py-<i>`, never released (the Rust side counts them afterwards).
The N calls run in 4 concurrent lanes, each pausing PAUSE_MS between its calls, so that they
interleave with the Rust side's (which is paced the same way).

The window is $LITELLM_RATE_LIMIT_WINDOW_SIZE (the Rust side sets it to its own). Prints
`READY` once LiteLLM is imported and Redis answers, waits for one line on stdin (so both sides
start together), runs, and prints one JSON line: {"litellm": version, "admitted": k, "refused": m}.
"""

import asyncio
import importlib.metadata
import json
import os
import sys

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("LITELLM_OFFLINE_MODE", "true")

from litellm import DualCache  # noqa: E402
from litellm.caching.redis_cache import RedisCache  # noqa: E402
from litellm.proxy.hooks.parallel_request_limiter_v3 import (  # noqa: E402
    _PROXY_MaxParallelRequestsHandler_v3 as Limiter,
)
from litellm.proxy.utils import InternalUsageCache  # noqa: E402


async def main() -> None:
    mode, n, limit, value = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    estimate, pause = int(sys.argv[5]), int(sys.argv[6]) / 1000
    redis_cache = RedisCache(url=os.environ["REDIS_URL"])
    limiter = Limiter(
        InternalUsageCache(DualCache(redis_cache=redis_cache)),
        # Fail open, no slot grouping: LiteLLM's defaults, pinned so the proxy's settings
        # modules are not consulted.
        fail_closed_resolver=lambda: False,
        force_hash_tag_grouping_resolver=lambda: False,
    )
    # 1.109.3 registers its scripts on the limiter; 1.110 sends them through its native store.
    store = getattr(limiter, "rate_limits", None)
    on_redis = (
        getattr(limiter, "batch_rate_limiter_script", None) is not None
        or (store is not None and store.has_redis)
    )
    if not on_redis:
        raise SystemExit("LiteLLM's limiter is not using Redis")
    if not await redis_cache.ping():
        raise SystemExit("Redis did not answer PING")
    print("READY", flush=True)
    sys.stdin.readline()

    if mode == "rpm":
        descriptors = [{"key": "api_key", "value": value, "rate_limit": {"requests_per_unit": limit}}]

        async def one(i: int) -> bool:
            response = await limiter.should_rate_limit(descriptors, parallel_slot_id=f"py-{i}")
            return response["overall_code"] == "OK"

    elif mode == "tpm":
        descriptors = [{"key": "team", "value": value, "rate_limit": {"tokens_per_unit": limit}}]

        async def one(i: int) -> bool:
            response = await limiter.reserve_tpm_tokens(descriptors, estimate)
            return response["overall_code"] == "OK"

    elif mode == "parallel":
        descriptors = [{"key": "user", "value": value, "rate_limit": {"max_parallel_requests": limit}}]

        async def one(i: int) -> bool:
            response = await limiter.should_rate_limit(descriptors, parallel_slot_id=f"py-{i}")
            return response["overall_code"] == "OK"

    else:
        raise SystemExit(f"unknown mode {mode!r}")

    lanes = 4

    async def lane(first: int) -> int:
        admitted = 0
        for i in range(first, n, lanes):
            admitted += await one(i)
            await asyncio.sleep(pause)
        return admitted

    admitted = sum(await asyncio.gather(*(lane(first) for first in range(lanes))))
    print(
        json.dumps(
            {
                "litellm": importlib.metadata.version("litellm"),
                "admitted": admitted,
                "refused": n - admitted,
            }
        ),
        flush=True,
    )


asyncio.run(main())
