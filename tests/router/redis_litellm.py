"""LiteLLM's half of the interop test in router/redis_litellm.rs.

Runs real `litellm.Router`s on the Redis at $REDIS_HOST:$REDIS_PORT while the Rust test runs
fastllm's `Router` and `RedisState` on the same server, so that each side acts on what the other
wrote: cooldowns (`deployment:{id}:cooldown`) and usage-based-v2 counters
(`{id}:{model}:tpm|rpm:{HH-MM}`). Needs a Python with litellm 1.109.3 or 1.110.2.

    REDIS_HOST=127.0.0.1 REDIS_PORT=PORT python redis_litellm.py

Prints `READY <litellm version>` once LiteLLM is imported, then answers one JSON command per
stdin line with one JSON line on stdout, until `{"op": "exit"}` or the end of stdin. Every
command carries the `model_list` (and `routing_strategy`) to build its router from:

* `fail` {group, cooldown_time}: a new Router (`num_retries=0`, `cooldown_time`) makes one
  `acompletion` on `group` whose mocked answer is a 429 (`litellm.RateLimitError`): LiteLLM's own
  failure path cools the picked deployment down. Answers {failed: id, error: str(e) first line,
  own_picks: what that router picks afterwards}.
* `picks` {group, n, router}: `n` `get_available_deployment` and `n` awaited
  `async_get_available_deployment` picks, on a new Router (`router: "fresh"`) or on one kept
  under that name across commands. Answers {sync: ids, async: ids, minutes: [UTC HH-MM at the
  first and at the last pick]}.
* `until_skipped` {group, avoid, router, limit_secs, n}: picks 20 at a time on the kept router
  until a batch has no `avoid` (the router re-read Redis), at most `limit_secs`, then `n` + `n`
  picks as in `picks`. Answers that, plus {noticed_after: seconds, or null}.
* `success` {group}: a new Router makes one `acompletion` with `mock_response="hi"`: LiteLLM
  counts the request and, after the call, the mocked usage's tokens. Answers {id, total_tokens,
  minutes}.

The process ends on its own after $LITELLM_INTEROP_LIMIT_SECS (default 240) whatever happens.
"""

import asyncio
import importlib.metadata
import json
import os
import signal
import sys
import time
import warnings

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("LITELLM_OFFLINE_MODE", "true")
# The default SIGALRM action ends the process: the Rust side never waits on a stuck LiteLLM.
signal.alarm(int(os.environ.get("LITELLM_INTEROP_LIMIT_SECS", "240")))

import litellm  # noqa: E402

# `async_get_available_deployment` and `cooldown_cache` warn that they are deprecated.
warnings.simplefilter("ignore", DeprecationWarning)

MESSAGES = [{"role": "user", "content": "hi"}]
KEPT: dict[str, litellm.Router] = {}


def router(command: dict) -> litellm.Router:
    kwargs = {
        "model_list": command["model_list"],
        "redis_host": os.environ["REDIS_HOST"],
        "redis_port": int(os.environ["REDIS_PORT"]),
        "num_retries": 0,
    }
    if "cooldown_time" in command:
        kwargs["cooldown_time"] = command["cooldown_time"]
    if "routing_strategy" in command:
        kwargs["routing_strategy"] = command["routing_strategy"]
    return litellm.Router(**kwargs)


def named_router(command: dict) -> litellm.Router:
    name = command.get("router", "fresh")
    if name == "fresh":
        return router(command)
    if name not in KEPT:
        KEPT[name] = router(command)
    return KEPT[name]


def utc_minute() -> str:
    # LiteLLM's `get_utc_datetime().strftime("%H-%M")`.
    return time.strftime("%H-%M", time.gmtime())


async def picks(r: litellm.Router, group: str, n: int) -> dict:
    first = utc_minute()
    sync = {r.get_available_deployment(group)["model_info"]["id"] for _ in range(n)}
    asynchronous = set()
    for _ in range(n):
        picked = await r.async_get_available_deployment(group, request_kwargs={})
        asynchronous.add(picked["model_info"]["id"])
    return {"sync": sorted(sync), "async": sorted(asynchronous), "minutes": [first, utc_minute()]}


async def run(command: dict) -> dict:
    op = command["op"]
    group = command.get("group")
    if op == "fail":
        r = router(command)
        error = litellm.RateLimitError(message="x", llm_provider="openai", model="gpt-4o")
        try:
            await r.acompletion(model=group, messages=MESSAGES, mock_response=error)
        except litellm.RateLimitError as e:
            # Both lines name the deployment that failed on the exception.
            failed = getattr(e, "failed_deployment_id", None)
            message = str(e).splitlines()[0]
        else:
            raise SystemExit("the mocked 429 did not fail the call")
        own = await picks(r, group, 20)
        return {"failed": failed, "error": message, "own_picks": own}
    if op == "picks":
        return await picks(named_router(command), group, command["n"])
    if op == "until_skipped":
        r = named_router(command)
        started = time.monotonic()
        noticed = None
        while time.monotonic() - started < command["limit_secs"]:
            batch = {r.get_available_deployment(group)["model_info"]["id"] for _ in range(20)}
            if command["avoid"] not in batch:
                noticed = time.monotonic() - started
                break
            await asyncio.sleep(0.05)
        answer = await picks(r, group, command["n"])
        answer["noticed_after"] = noticed
        return answer
    if op == "success":
        r = router(command)
        first = utc_minute()
        response = await r.acompletion(model=group, messages=MESSAGES, mock_response="hi")
        return {
            "id": response._hidden_params["model_id"],
            "total_tokens": response.usage.total_tokens,
            "minutes": [first, utc_minute()],
        }
    raise SystemExit(f"unknown op {op!r}")


async def main() -> None:
    print("READY", importlib.metadata.version("litellm"), flush=True)
    while True:
        # Read on a thread: LiteLLM finishes its Redis writes in tasks on this loop.
        line = await asyncio.to_thread(sys.stdin.readline)
        if not line:
            return
        command = json.loads(line)
        if command["op"] == "exit":
            return
        print(json.dumps(await run(command)), flush=True)


asyncio.run(main())
