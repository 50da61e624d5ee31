"""Type stubs of the native extension."""

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
