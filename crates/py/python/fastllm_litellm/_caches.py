"""LiteLLM's cache steps, for the native paths that run them.

The rate-limit checks (the 1.109 line's DualCache-backed v3 limiter, the router's
per-deployment check, usage-based-v2's check) and the router's stateful strategies read and
write LiteLLM's ``InMemoryCache`` / ``DualCache`` state in Rust. They run that cache's own
steps (its expiry heap, its JSON decoding, its clock) through the handle built here, so the
state they leave behind is the one LiteLLM's own code leaves.
"""

from __future__ import annotations

import sys

from fastllm_litellm import _native


def cache_steps() -> _native.InMemoryCacheSteps:
    """What LiteLLM's ``InMemoryCache`` module calls, for the native paths that run its steps."""
    import heapq
    import json
    import time

    from litellm.caching.in_memory_cache import InMemoryCache

    module = sys.modules[InMemoryCache.__module__]
    default_clock = InMemoryCache(max_size_in_memory=1)._clock
    return _native.InMemoryCacheSteps(
        heapq.heappush, heapq.heappop, json.loads, module, default_clock.__code__, time, time.time
    )
