"""Type stubs of the native extension."""

from collections.abc import Sequence
from typing import Any

__version__: str

class FastLLMError(Exception):
    """Base class of every fastllm_litellm error."""

class Stats:
    """Calls and fallbacks of one patched feature."""

    def __new__(cls) -> Stats: ...
    def record_call(self) -> None: ...
    def record_fallback(self, reason: str) -> None: ...
    def snapshot(self) -> dict[str, Any]: ...
    def reset(self) -> None: ...

class Counter:
    """A LiteLLM-exact counter for one encoding and one message accounting."""

    def __new__(
        cls,
        encoding: str,
        *,
        legacy: bool = False,
        chunk_chars: int = 1024,
        max_exact_chars: int = 4_000_000,
        image: dict[str, int | float] | None = None,
        stats: Stats | None = None,
    ) -> Counter: ...
    @property
    def encoding(self) -> str: ...
    def count(self, text: str) -> int: ...
    def count_litellm_text(self, text: object) -> int | None: ...
    def count_messages(
        self,
        messages: object,
        tools: object = None,
        tool_choice: object = None,
        count_response_tokens: bool = False,
        use_default_image_token_count: bool = False,
    ) -> int | None: ...
    def count_batch(self, texts: list[str]) -> list[int]: ...

MODEL_DATA_LITELLM_VERSION: str
"""The LiteLLM release whose bundled model registry the model rules were generated from."""

def tiktoken_encoding_for_model(model: str) -> str:
    """LiteLLM's `openai_tokenizer_encoding_name(model)`."""

def uses_legacy_message_accounting(model: str) -> bool:
    """LiteLLM's `uses_legacy_message_accounting(model)`."""

def huggingface_tokenizer_kind(model: str) -> str | None:
    """LiteLLM's `litellm.utils.huggingface_tokenizer_kind(model)`."""

def has_chat_template_tool_section(model: str) -> bool:
    """Whether LiteLLM's `chat_template_tool_section(model)` is not None."""

class RateLimiter:
    """LiteLLM's v3 proxy limiter (``should_rate_limit``) on its in-memory path."""

    def __new__(
        cls, *, window_size: int = 60, fake_clock_start: float | None = None, key_ttl: str = "follow_clock"
    ) -> RateLimiter: ...
    def should_rate_limit(
        self,
        descriptors: list[dict[str, Any]],
        read_only: bool = False,
        skip_tpm_check: bool = False,
        parallel_slot_id: str | None = None,
        skip_parallel_check: bool = False,
    ) -> dict[str, Any]: ...
    @staticmethod
    def is_over_limit(response: dict[str, Any]) -> bool: ...
    def set_time(self, seconds_now: float) -> None: ...
    def advance(self, by: float) -> None: ...

class Ready:
    """A finished awaitable: ``await`` gives its value at once."""

    def __await__(self) -> Ready: ...
    def __iter__(self) -> Ready: ...
    def __next__(self) -> Any: ...

class LocalRateLimits:
    """LiteLLM's in-memory v3 rate-limit handle (the 1.110 line), held in Rust.

    Stores window starts, counters and parallel-slot registries with LiteLLM's types, TTLs and
    increment rules; ``V3Checks.should_rate_limit`` runs LiteLLM's in-memory
    ``should_rate_limit`` on them in one call. Methods it does not define are answered by ``inner``, LiteLLM's own handle.
    """

    def __new__(
        cls,
        inner: Any,
        *,
        stats: Stats | None = None,
        system_clock: Any | None = None,
        current_time: Any | None = None,
        slot_ttl: int = 3600,
    ) -> LocalRateLimits: ...
    @property
    def has_redis(self) -> bool: ...
    @property
    def system_clock(self) -> Any | None: ...
    def get_local(self, entry: Any) -> int | float | str | dict[str, float] | None: ...
    def set_local(self, entry: Any, value: int | float | str | dict[str, float], ttl_seconds: float | None) -> None: ...
    def increment(self, increment: Any) -> Ready: ...
    def increment_many(self, increments: Any) -> Ready: ...
    def atomic_check_and_increment_by_n(
        self,
        descriptors: list[dict[str, Any]],
        increments: list[dict[str, int]],
        window_size: int,
        now_int: int,
        scope_type: Any,
    ) -> dict[str, Any] | None: ...
    def atomic_check_and_increment(self, meta: list[dict[str, Any]], now_int: int) -> dict[str, Any] | None: ...
    def entry_count(self) -> int: ...
    def __getattr__(self, name: str) -> Any: ...

class RedisRateLimiter:
    """LiteLLM's v3 limiter on a Redis shared with LiteLLM proxies (``fastllm-ratelimit``'s
    ``RedisStore``, LiteLLM's keys), answering as one LiteLLM process would (memory mirror
    included). Calls block the calling thread with the GIL released."""

    def __new__(
        cls, url: str, *, window_size: int = 60, slot_ttl: int = 3600, fail_closed: bool = False
    ) -> RedisRateLimiter: ...
    def should_rate_limit(
        self,
        descriptors: list[dict[str, Any]],
        read_only: bool = False,
        skip_tpm_check: bool = False,
        parallel_slot_id: str | None = None,
        skip_parallel_check: bool = False,
    ) -> dict[str, Any]: ...
    def reserve_tpm_tokens(self, descriptors: list[dict[str, Any]], estimated_tokens: int) -> dict[str, Any]: ...
    def release_slots(self, slot_id: str, scopes: list[tuple[str, str]]) -> list[int]: ...

class V3Checks:
    """The patched ``should_rate_limit`` of LiteLLM's v3 limiter, decided natively."""

    def __new__(cls, stats: Stats) -> V3Checks: ...
    def should_rate_limit(
        self,
        handler: Any,
        descriptors: list[dict[str, Any]],
        read_only: bool,
        skip_tpm_check: bool,
        parallel_slot_id: str | None,
        skip_parallel_check: bool,
    ) -> dict[str, Any] | None:
        """The limiter's response, or ``None`` (nothing changed, the fallback counted) when
        LiteLLM must decide."""

class ModelRateLimitChecks:
    """The router's per-deployment check (``ModelRateLimitingCheck``) on a memory-only router
    cache, decided natively; the counters stay in LiteLLM's ``InMemoryCache``."""

    def __new__(
        cls,
        stats: Stats,
        dual_cache: type,
        in_memory_cache: type,
        utc_clock: Any,
        routing_args: Any,
        datetime: type,
        steps: InMemoryCacheSteps,
    ) -> ModelRateLimitChecks: ...
    def check(
        self, check: Any, deployment: Any, is_async: bool, parent_otel_span: Any = None
    ) -> tuple[str | None, Any, Any] | None:
        """``None`` when LiteLLM must decide (nothing changed, the fallback counted), else
        ``(kind, limit, usage)``: ``kind`` is ``None`` when admitted, ``"tpm"``/``"rpm"``
        when refused."""

class UsageV2Checks:
    """The usage-based-v2 strategy's per-deployment rpm check on a memory-only router cache,
    decided natively; the counters stay in LiteLLM's ``InMemoryCache``."""

    def __new__(
        cls,
        stats: Stats,
        dual_cache: type,
        in_memory_cache: type,
        utc_clock: Any,
        module: Any,
        steps: InMemoryCacheSteps,
    ) -> UsageV2Checks: ...
    def check(self, handler: Any, deployment: Any, is_async: bool) -> tuple[str | None, Any, Any] | None:
        """``None`` when LiteLLM must decide (nothing changed, the fallback counted), else
        ``(stage, limit, usage)``: ``stage`` is ``None`` when admitted, ``"local"`` or
        ``"counted"`` when refused."""

class GroupPicker:
    """A router's picks: the group's deployments minus the ones cooling down, then the
    strategy, with LiteLLM's rules: simple-shuffle (drawn from Python's own ``random`` state),
    least-busy, usage-based v1 and v2, latency-based and cost-based (their state read from
    LiteLLM's ``InMemoryCache`` with its own steps)."""

    def __new__(
        cls,
        groups: dict[
            str,
            Sequence[
                tuple[str, Any, float, float, float, str, float | None, float | None]
                | tuple[
                    str,
                    Any,
                    float,
                    float,
                    float,
                    str,
                    float | None,
                    float | None,
                    Sequence[str],
                    tuple[float | None, float | None],
                ]
            ],
        ],
        getrandbits: Any,
        copy: bool,
    ) -> GroupPicker: ...
    def __contains__(self, model: str) -> bool: ...
    def pick(self, model: str, cooling: Any = None) -> dict[str, Any] | None:
        """The deployment drawn (a fresh copy when built with ``copy``), or ``None`` (nothing
        drawn) when ``model`` is no group here or all of it is cooling down."""
    def least_busy(
        self,
        model: str,
        cooling: Any,
        cache: Any,
        steps: InMemoryCacheSteps,
        reservations: Any = None,
        reserve: tuple[Any, str | None] | None = None,
    ) -> dict[str, Any] | None:
        """The first deployment with the fewest requests in flight in ``cache`` (plus, with
        ``reservations``, its live reservations; with ``reserve``, ``(selector, tag)``, the pick
        held for the request through the selector's own writes), or ``None`` when LiteLLM must
        pick (unknown group, all cooling down, a count it reads otherwise)."""
    def usage_v2(
        self, model: str, cooling: Any, cache: Any, steps: InMemoryCacheSteps, now: Any, input_tokens: float
    ) -> dict[str, Any] | None:
        """usage-based-routing-v2: the lowest-tpm deployment within its limits (ties drawn
        with ``random.choice``), counters read from ``cache``; ``None`` when LiteLLM must pick."""
    def usage_v1(
        self, model: str, cooling: Any, cache: Any, steps: InMemoryCacheSteps, now: Any, input_tokens: float
    ) -> dict[str, Any] | None:
        """usage-based-routing (v1): the first lowest-tpm deployment within its limits, in the
        order of the cached tpm map (missing deployments added to it with 0); ``None`` when
        LiteLLM must pick."""
    def cost(
        self,
        model: str,
        cooling: Any,
        cache: Any,
        steps: InMemoryCacheSteps,
        now: Any,
        input_tokens: float,
        model_cost: dict[str, Any],
    ) -> dict[str, Any] | None:
        """cost-based-routing: the first cheapest deployment (input plus output price per
        token: the deployment's own, else from the first ``model_cost`` row of its pricing
        models that declares one, 5.0 each when unpriced) within its limits this minute, in
        the order of the cached cost map; ``None`` when LiteLLM must pick."""
    def latency(
        self,
        model: str,
        cooling: Any,
        cache: Any,
        steps: InMemoryCacheSteps,
        now: Any,
        input_tokens: float,
        stream: bool,
        buffer: float,
        ttft_percentile: float | None,
        metadata: dict[str, Any] | None,
    ) -> dict[str, Any] | None:
        """latency-based-routing (1.109, Python 3.11): LiteLLM's latency pick over the cached
        latency map; ``None`` when LiteLLM must pick."""
    def has_tpm_limits(self, model: str) -> bool: ...
    def ids(self, model: str) -> list[str]:
        """The group's deployment ids, in LiteLLM's order."""

class V3DualCacheChecks:
    """The 1.109 line's v3 ``should_rate_limit`` on a memory-only proxy cache, decided
    natively; the window starts and counters stay in LiteLLM's ``InMemoryCache``."""

    def __new__(
        cls,
        stats: Stats,
        internal_usage_cache: type,
        dual_cache: type,
        in_memory_cache: type,
        system_clock: Any,
        current_time: Any,
        module: Any,
        steps: InMemoryCacheSteps,
    ) -> V3DualCacheChecks: ...
    def should_rate_limit(
        self,
        handler: Any,
        descriptors: list[dict[str, Any]],
        read_only: bool,
        skip_tpm_check: bool,
        parallel_slot_id: str | None,
        skip_parallel_check: bool,
    ) -> dict[str, Any] | None:
        """The limiter's response, or ``None`` (nothing changed, the fallback counted) when
        LiteLLM must decide."""

class InMemoryCacheSteps:
    """What LiteLLM's ``InMemoryCache`` module calls (``heapq``'s push and pop, ``json.loads``,
    the module, the default clock's code, ``time`` and ``time.time``), for the native paths
    that run its steps."""

    def __new__(
        cls,
        heappush: Any,
        heappop: Any,
        json_loads: Any,
        module: Any,
        default_clock_code: Any,
        time_module: Any,
        time_time: Any,
    ) -> InMemoryCacheSteps: ...
