"""Side-by-side benchmark: LiteLLM as installed vs LiteLLM patched by fastllm_litellm.

Both sides run in this one process: the original functions are captured before ``patch()``,
the patched ones after it, and every row times them in interleaved rounds (baseline, patched,
then patched, baseline, ...) with ``time.perf_counter_ns``. A row prints a speedup only when
both sides returned equal outputs; otherwise it prints MISMATCH.

Run it through ``make bench`` (``LITELLM_VERSION=1.109.3 make bench`` for the other line).
Options: ``--rounds N`` (default 21), ``--json PATH`` to save the rows.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("LITELLM_OFFLINE_MODE", "true")

import litellm  # noqa: E402
from litellm.litellm_core_utils import token_counter as core  # noqa: E402

import fastllm_litellm  # noqa: E402

MODEL = "gpt-4o"


@dataclass
class Row:
    function: str
    baseline_us: float
    patched_us: float
    equal: bool

    @property
    def speedup(self) -> float:
        return self.baseline_us / self.patched_us


def _timed(fn: Callable[[], object], calls: int) -> tuple[float, object]:
    start = time.perf_counter_ns()
    for _ in range(calls):
        out = fn()
    return (time.perf_counter_ns() - start) / calls / 1000, out


def compare(name: str, baseline: Callable[[], object], patched: Callable[[], object], rounds: int, budget_s: float = 0.02) -> Row:
    """Median per-call time of each side over interleaved rounds, and whether outputs agree."""
    expected, got = baseline(), patched()
    # Calls per round so that one round of the slower side takes about `budget_s`.
    probe, _ = _timed(baseline, 1)
    calls = max(1, int(budget_s * 1e6 / max(probe, 0.05)))
    base_times, patch_times = [], []
    equal = expected == got
    for r in range(rounds):
        order = ((baseline, base_times), (patched, patch_times))
        for fn, times in order if r % 2 == 0 else reversed(order):
            t, out = _timed(fn, calls)
            times.append(t)
            equal = equal and out == expected
    return Row(name, statistics.median(base_times), statistics.median(patch_times), equal)


def compare_async(name: str, baseline, patched, rounds: int, calls: int = 2000) -> Row:
    """``compare`` for coroutine functions: each round awaits ``calls`` calls of each side
    inside one event loop; the last outputs of every round must agree."""

    async def run() -> Row:
        base_times, patch_times, equal = [], [], True
        for r in range(rounds):
            outs = {}
            order = (("b", baseline, base_times), ("p", patched, patch_times))
            for tag, fn, times in order if r % 2 == 0 else reversed(order):
                start = time.perf_counter_ns()
                for _ in range(calls):
                    out = await fn()
                times.append((time.perf_counter_ns() - start) / calls / 1000)
                outs[tag] = out
            equal = equal and dict(outs["b"]) == dict(outs["p"])
        return Row(name, statistics.median(base_times), statistics.median(patch_times), equal)

    import asyncio

    return asyncio.run(run())


def rate_limit_rows(rounds: int) -> list[Row]:
    """LiteLLM's v3 limiter vs fastllm's native limiter (the patch that routes LiteLLM's hook
    through it is not written yet, so these rows compare the two limiters directly)."""
    from litellm.caching.dual_cache import DualCache
    from litellm.proxy.hooks.parallel_request_limiter_v3 import _PROXY_MaxParallelRequestsHandler_v3
    from litellm.proxy.utils import InternalUsageCache

    from fastllm_litellm import _native

    big = 10**12
    one_key = [{"key": "api_key", "value": "k1", "rate_limit": {"requests_per_unit": big}}]
    three = [
        {"key": "api_key", "value": "k1", "rate_limit": {"requests_per_unit": big, "tokens_per_unit": big}},
        {"key": "user", "value": "u1", "rate_limit": {"requests_per_unit": big, "tokens_per_unit": big}},
        {"key": "team", "value": "t1", "rate_limit": {"requests_per_unit": big, "tokens_per_unit": big}},
    ]
    rows = []
    for name, descriptors in (("v3 should_rate_limit, 1 key rpm", one_key), ("v3 should_rate_limit, 3 descriptors rpm+tpm", three)):
        theirs = _PROXY_MaxParallelRequestsHandler_v3(InternalUsageCache(DualCache()))
        ours = _native.RateLimiter(window_size=theirs.window_size)

        async def baseline(theirs=theirs, descriptors=descriptors):
            return await theirs.should_rate_limit(descriptors)

        async def native(ours=ours, descriptors=descriptors):
            return ours.should_rate_limit(descriptors)

        rows.append(compare_async(name + " (native limiter)", baseline, native, rounds))
    return rows


def mixed_text(words: int, seed: int) -> str:
    """Deterministic prose with code, numbers, accents, CJK and emoji."""
    rng = random.Random(seed)
    vocab = (
        "the of and to in is that for it as was with be by on not he this are or his from at which but have an they "
        "you were her all she there would their we him been has when who will more no if out so said what up its "
        "about into than them can only other new some could time these two may then do first any my now such like "
        "our over man me even most made after also did many before must through back years where much your way well "
        "deployment router latency throughput tokenizer request response model provider gateway budget fallback "
        "café naïve résumé über Straße 東京 日本語 中文 한국어 😀 🚀 👩‍💻 "
        "fn let mut return Ok(()) {} => == != <= >= && || :: -> #include <stdio.h> SELECT * FROM WHERE "
        "2024 3.14159 42 1,000,000 0x7fff 192.168.0.1 don't it's we'll they're I'm"
    ).split()
    out, line = [], 0
    for i in range(words):
        out.append(rng.choice(vocab))
        line += 1
        if line > rng.randint(8, 20):
            out.append(rng.choice(["\n", "\n\n", ".\n", ". "]))
            line = 0
    return " ".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=21)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()

    original = core.token_counter
    fastllm_litellm.patch(features=["token_counter"])
    patched = core.token_counter
    assert patched is not original and litellm.token_counter is not original

    chat = [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "What is the capital of France?"},
        {"role": "assistant", "content": "Paris is the capital of France."},
    ]
    tools = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Get the current weather for a city",
                "parameters": {
                    "type": "object",
                    "properties": {
                        "city": {"type": "string", "description": "City name"},
                        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                        "days": {"type": "integer", "description": "Forecast days"},
                    },
                    "required": ["city"],
                },
            },
        },
        {
            "type": "function",
            "function": {
                "name": "search",
                "description": "Search the web",
                "parameters": {
                    "type": "object",
                    "properties": {"query": {"type": "string"}, "limit": {"type": "integer"}},
                    "required": ["query"],
                },
            },
        },
    ]
    tool_chat = [*chat, {"role": "user", "content": "And the weather there tomorrow?"}]
    long_text = mixed_text(7000, seed=7)
    shorts = [f"Short prompt {i}: {mixed_text(6, seed=i)}" for i in range(1000)]

    rows = [
        compare(
            "token_counter, 3-message chat",
            lambda: original(model=MODEL, messages=chat),
            lambda: patched(model=MODEL, messages=chat),
            args.rounds,
        ),
        compare(
            "token_counter, chat with 2 tools + tool_choice",
            lambda: original(model=MODEL, messages=tool_chat, tools=tools, tool_choice="auto"),
            lambda: patched(model=MODEL, messages=tool_chat, tools=tools, tool_choice="auto"),
            args.rounds,
        ),
        compare(
            f"token_counter, ~{original(model=MODEL, text=long_text) // 1000}k-token text",
            lambda: original(model=MODEL, text=long_text),
            lambda: patched(model=MODEL, text=long_text),
            args.rounds,
            budget_s=0.05,
        ),
        compare(
            "token_counter, ~10k-token text, cl100k (gpt-4)",
            lambda: original(model="gpt-4", text=long_text),
            lambda: patched(model="gpt-4", text=long_text),
            args.rounds,
            budget_s=0.05,
        ),
        compare(
            "1000 short texts: loop vs count_tokens_batch",
            lambda: [original(model=MODEL, text=t) for t in shorts],
            lambda: fastllm_litellm.count_tokens_batch(MODEL, shorts),
            args.rounds,
            budget_s=0.05,
        ),
    ]
    stats = fastllm_litellm.status()
    fastllm_litellm.unpatch()
    rows += rate_limit_rows(args.rounds)

    print(
        f"\nlitellm {stats['litellm_version']} | fastllm_litellm | Python {platform.python_version()} | "
        f"{platform.machine()} | {os.cpu_count()} cores | median of {args.rounds} interleaved rounds\n"
    )
    width = max(len(row.function) for row in rows)
    print(f"| {'function':<{width}} | {'baseline µs':>12} | {'patched µs':>11} | {'speedup':>8} | equal |")
    print("|" + "-" * (width + 2) + "|" + "-" * 13 + ":|" + "-" * 12 + ":|" + "-" * 9 + ":|:-----:|")
    for row in rows:
        ratio = f"{row.speedup:7.1f}x" if row.equal else "MISMATCH"
        print(
            f"| {row.function:<{width}} | {row.baseline_us:12.1f} | {row.patched_us:11.1f} | {ratio:>8} | "
            f"{'yes' if row.equal else 'no':^5} |"
        )
    tc = stats["features"]["token_counter"]
    print(f"\ntoken_counter: {tc['calls']} patched calls, {tc['fallbacks']} fallbacks")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"litellm": stats["litellm_version"], "rows": [asdict(r) | {"speedup": r.speedup} for r in rows]}, f, indent=2)
    if not all(row.equal for row in rows):
        sys.exit(1)


if __name__ == "__main__":
    main()
