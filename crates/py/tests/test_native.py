"""Direct tests of ``fastllm_litellm._native``: ``Counter`` and ``Stats``."""

from __future__ import annotations

import threading

import pytest
from conftest import ORIGINAL
from corpus import CJK_PIECES, CODE_PIECES, EMOJI_PIECES, SPECIAL_PIECES, UNICODE_PIECES, WHITESPACE_PIECES
from litellm.litellm_core_utils import token_counter as core
from litellm.rust_bridge.tokenizer import get_encoding

import fastllm_litellm
from fastllm_litellm import _native

TEXTS = [
    "",
    "hello world",
    *UNICODE_PIECES,
    *EMOJI_PIECES,
    *CODE_PIECES,
    *CJK_PIECES,
    *WHITESPACE_PIECES,
    *SPECIAL_PIECES,
    "a" * 3000,
    "the quick brown fox " * 120,
    ("naïve 中文 👍🏽 it's " * 400),
    " " * 5000 + "x",
]


def _litellm_count(encoding_name: str, text: str, chunk: int = 1024) -> int:
    """LiteLLM's chunked count with its own encoding object."""
    encoding = get_encoding(encoding_name)
    return sum(core._encoding_count(encoding, text[i : i + chunk]) for i in range(0, len(text), chunk))


@pytest.mark.parametrize("encoding", ["o200k_base", "cl100k_base", "p50k_base", "p50k_edit", "o200k_harmony"])
def test_counter_matches_litellm_encodings(encoding):
    counter = _native.Counter(encoding)
    assert counter.encoding == encoding
    for text in TEXTS:
        assert counter.count(text) == _litellm_count(encoding, text), repr(text[:80])
    assert counter.count_batch(TEXTS) == [_litellm_count(encoding, t) for t in TEXTS]


# tiktoken's r50k_base counts (1024-char chunks, special tokens as text), computed once with
# tiktoken 0.14 from tiktoken-rs 0.12.1's assets/r50k_base.tiktoken: LiteLLM does not bundle
# r50k_base and tests run offline.
R50K = [
    ("", 0),
    ("hello world", 2),
    ("Hello, world! It's 2024.", 8),
    ("  leading and trailing  ", 6),
    ("<|endoftext|>", 7),
    ("it's we'LL they'Re", 8),
    ("naïve café ſ e\u0301", 8),
    ("你好，世界", 11),
    ("👨\u200d👩\u200d👧\u200d👦 👍🏽", 19),
    ("def f(x):\n\treturn x ** 2\n", 12),
    ("\r\n\r\n   \t x", 9),
    ("12345678901234567890", 9),
    ("a" * 3000, 750),
    ("the quick brown fox " * 120, 484),
]


def test_counter_r50k_known_counts():
    counter = _native.Counter("r50k_base")
    assert counter.encoding == "r50k_base"
    for text, expected in R50K:
        assert counter.count(text) == expected, repr(text[:40])


def test_chunking_follows_chunk_chars():
    text = "ab " * 2000
    whole = _native.Counter("cl100k_base", chunk_chars=4096)
    small = _native.Counter("cl100k_base", chunk_chars=7)
    assert whole.count(text) == _litellm_count("cl100k_base", text, 4096)
    assert small.count(text) == _litellm_count("cl100k_base", text, 7)
    assert small.count(text) != whole.count(text)
    # chunks are counted in Python characters, not UTF-8 bytes
    multibyte = "中" * 1500 + "👍🏽" * 700
    assert _native.Counter("o200k_base").count(multibyte) == _litellm_count("o200k_base", multibyte)


def test_max_exact_chars_extrapolates_like_litellm():
    text = ("extrapolate me, 外推 " * 200)[:3_333]
    counter = _native.Counter("o200k_base", max_exact_chars=1_000)
    encoding = get_encoding("o200k_base")
    exact = core._get_tiktoken_count_function(lambda t: core._encoding_count(encoding, t))
    expected = core._get_extrapolating_count_function(exact, max_exact_chars=1_000)(text)
    assert counter.count(text) == expected
    assert counter.count(text) != _native.Counter("o200k_base").count(text) or expected == exact(text)


def test_counter_matches_token_counter_text_and_messages():
    counter = _native.Counter("o200k_base")
    assert counter.count_litellm_text("hello there") == ORIGINAL(model="gpt-4o", text="hello there")
    text = ["a", 1, None, "b c", "中文"]
    assert counter.count_litellm_text(text) == ORIGINAL(model="gpt-4o", text=text)
    messages = [{"role": "user", "content": "hi", "name": "bob"}]
    assert counter.count_messages(messages) == ORIGINAL(model="gpt-4o", messages=messages)
    assert counter.count_messages(messages, None, "none", False, False) == ORIGINAL(
        model="gpt-4o", messages=messages, tool_choice="none"
    )
    assert counter.count_messages(messages, count_response_tokens=True) == ORIGINAL(
        model="gpt-4o", messages=messages, count_response_tokens=True
    )
    # gpt-3.5-turbo-0301's accounting: 4 per message instead of 3, -1 per name instead of +1
    legacy = _native.Counter("cl100k_base", legacy=True)
    current = _native.Counter("cl100k_base")
    assert current.count_messages(messages) == ORIGINAL(model="gpt-4", messages=messages)
    assert legacy.count_messages(messages) == current.count_messages(messages) + 1 - 2
    two = [*messages, {"role": "assistant", "content": "hello"}]
    assert legacy.count_messages(two) == current.count_messages(two) + 2 - 2


def test_unsupported_inputs_return_none_and_record_a_fallback():
    stats = _native.Stats()
    counter = _native.Counter("o200k_base", stats=stats)
    assert counter.count_litellm_text(123) is None
    assert counter.count_messages("not a list") is None
    assert counter.count_messages([1]) is None
    assert counter.count_messages([{"role": "user", "content": [{"type": "document"}]}]) is None
    snapshot = stats.snapshot()
    assert snapshot["calls"] == 4
    assert snapshot["fallbacks"] == 4
    assert "document" in snapshot["last_fallback_reason"]
    ok = [{"role": "user", "content": "ok"}]
    assert counter.count_messages(ok) == ORIGINAL(model="gpt-4o", messages=ok)
    assert stats.snapshot()["calls"] == 5
    assert stats.snapshot()["fallbacks"] == 4


def test_image_settings_are_read():
    messages = [{"role": "user", "content": [{"type": "image_url", "image_url": "https://x/y.png"}]}]
    default = _native.Counter("o200k_base")
    custom = _native.Counter("o200k_base", image={"DEFAULT_IMAGE_TOKEN_COUNT": 1234})
    assert default.count_messages(messages, use_default_image_token_count=True) == ORIGINAL(
        model="gpt-4o", messages=messages, use_default_image_token_count=True
    )
    assert custom.count_messages(messages, use_default_image_token_count=True) - default.count_messages(
        messages, use_default_image_token_count=True
    ) == 1234 - core.DEFAULT_IMAGE_TOKEN_COUNT


def test_counter_rejects_bad_construction():
    with pytest.raises(ValueError, match="unknown encoding"):
        _native.Counter("nope")
    with pytest.raises(ValueError):
        _native.Counter("gpt2")
    with pytest.raises(ValueError):
        _native.Counter("o200k_base", chunk_chars=0)
    with pytest.raises(ValueError):
        _native.Counter("o200k_base", max_exact_chars=0)
    with pytest.raises((ValueError, OverflowError)):
        _native.Counter("o200k_base", chunk_chars=-1)
    with pytest.raises(ValueError):
        _native.Counter("o200k_base", image={"NOT_A_SETTING": 1})
    with pytest.raises(ValueError):
        _native.Counter("o200k_base", image={"MAX_TILE_WIDTH": 0})
    with pytest.raises(TypeError):
        _native.Counter(5)
    with pytest.raises(TypeError):
        _native.Counter("o200k_base", stats="not stats")


def test_counter_rejects_bad_arguments():
    counter = _native.Counter("o200k_base")
    with pytest.raises(TypeError):
        counter.count(123)
    with pytest.raises(TypeError):
        counter.count(None)
    with pytest.raises(TypeError):
        counter.count(b"bytes")
    with pytest.raises(TypeError):
        counter.count_batch("abc")
    with pytest.raises(TypeError):
        counter.count_batch(["a", 1])
    with pytest.raises(TypeError):
        counter.count_batch(("a", "b"))
    assert counter.count_batch([]) == []


def test_counter_repr_and_immutability():
    counter = _native.Counter("cl100k_base")
    assert repr(counter) == 'Counter(encoding="cl100k_base")'
    with pytest.raises(AttributeError):
        counter.encoding = "o200k_base"
    assert counter.encoding == "cl100k_base"


def test_count_batch_releases_the_gil_and_is_consistent():
    counter = _native.Counter("o200k_base")
    texts = [f"{i} " + "parallel counting 並列 " * (i % 40) for i in range(2_000)]
    expected = [counter.count(t) for t in texts]
    results: list[list[int]] = []

    def work() -> None:
        results.append(counter.count_batch(texts))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert results == [expected] * 4


def test_stats():
    stats = _native.Stats()
    assert stats.snapshot() == {"calls": 0, "fallbacks": 0, "last_fallback_reason": None}
    stats.record_call()
    stats.record_call()
    stats.record_fallback("first reason")
    stats.record_fallback("second reason ✓")
    assert stats.snapshot() == {"calls": 4, "fallbacks": 2, "last_fallback_reason": "second reason ✓"}
    stats.reset()
    assert stats.snapshot() == {"calls": 0, "fallbacks": 0, "last_fallback_reason": None}
    with pytest.raises(TypeError):
        stats.record_fallback(5)


def test_stats_are_thread_safe():
    stats = _native.Stats()

    def work() -> None:
        for i in range(2_000):
            if i % 4:
                stats.record_call()
            else:
                stats.record_fallback("r")

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert stats.snapshot() == {"calls": 16_000, "fallbacks": 4_000, "last_fallback_reason": "r"}


def test_error_classes():
    assert issubclass(fastllm_litellm.FastLLMError, Exception)
    assert fastllm_litellm.FastLLMError is _native.FastLLMError
    assert issubclass(fastllm_litellm.UnknownFeatureError, ValueError)
    assert issubclass(fastllm_litellm.UnknownFeatureError, fastllm_litellm.FastLLMError)
    assert isinstance(_native.__version__, str) and _native.__version__


def _ready(value_list=None):
    """A finished native coroutine, from the rate-limit handle's `increment_many`."""
    return _native.LocalRateLimits(object()).increment_many(value_list or [])


def test_ready_is_a_finished_coroutine_for_asyncio():
    import asyncio
    import collections.abc

    async def main():
        assert await _ready() == ()
        assert await asyncio.create_task(_ready()) == ()
        assert await asyncio.gather(_ready(), _ready()) == [(), ()]
        assert await asyncio.wait_for(_ready(), 1) == ()

    asyncio.run(main())
    assert isinstance(_ready(), collections.abc.Coroutine)
    assert asyncio.iscoroutine(_ready())


def test_ready_behaves_like_an_unstarted_coroutine():
    done = _ready()
    with pytest.raises(StopIteration) as stop:
        done.send(None)
    assert stop.value.value == ()
    with pytest.raises(RuntimeError, match="cannot reuse already awaited coroutine"):
        done.send(None)
    with pytest.raises(TypeError, match="non-None value"):
        _ready().send(1)
    with pytest.raises(KeyError):
        _ready().throw(KeyError("k"))
    with pytest.raises(ValueError, match="v"):
        _ready().throw(ValueError, "v")
    closed = _ready()
    closed.close()
    with pytest.raises(RuntimeError):
        closed.send(None)


def test_stubs_describe_the_native_module() -> None:
    """``_native.pyi`` names every public class and function of the module, and every method a
    stub declares exists at run time."""
    import ast
    from pathlib import Path

    stub = ast.parse((Path(_native.__file__).parent / "_native.pyi").read_text())
    declared: dict[str, set[str]] = {}
    for node in stub.body:
        if isinstance(node, ast.ClassDef):
            declared[node.name] = {n.name for n in node.body if isinstance(n, ast.FunctionDef)}
        elif isinstance(node, ast.FunctionDef):
            declared[node.name] = set()
    public = {name for name in dir(_native) if not name.startswith("_") and callable(getattr(_native, name))}
    assert public == set(declared), (public ^ set(declared))
    for name, methods in declared.items():
        runtime = getattr(_native, name)
        # Dunder methods are type slots, not attributes, on native classes.
        missing = {m for m in methods if not m.startswith("__") and not hasattr(runtime, m)}
        assert not missing, (name, missing)
