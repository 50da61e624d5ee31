"""The patch layer: what it swaps, what it restores, its switches, fallbacks and bad input."""

from __future__ import annotations

import importlib
import subprocess
import sys
import textwrap
import threading
import warnings

import litellm
import litellm.utils
import pytest
from conftest import (
    BY_NAME_MODULES,
    ORIGINAL,
    ORIGINAL_BINDINGS,
    DEFAULT_PATCHED,
    ORIGINAL_UTILS,
    assert_originals_restored,
    outcome,
    patch_module,
)
from corpus import CASES, data_url, gif, jpeg, png, webp
from litellm.litellm_core_utils import token_counter as core

import fastllm_litellm
from fastllm_litellm import _feature, _token_counter

CHAT = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "What's the weather like in Paris today? ☀️"},
]

# Modules that bind token_counter by name at import time and that `import litellm` does not
# import: a module imported while patched must see the patched function.
LATE_MODULE_CANDIDATES = (
    "litellm.llms.triton.embedding.transformation",
    "litellm.llms.huggingface.rerank.transformation",
)


def _bindings() -> dict[str, object]:
    out = {
        "core": core.token_counter,
        "utils": litellm.utils.token_counter,
        "litellm": litellm.__dict__.get("token_counter"),
    }
    for name in BY_NAME_MODULES:
        out[name] = sys.modules[name].__dict__["token_counter"]
    return out


# --------------------------------------------------------------------------------------------
# what import / patch / unpatch change


def test_import_alone_patches_nothing():
    code = textwrap.dedent(
        """
        import os, sys
        os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
        os.environ["LITELLM_OFFLINE_MODE"] = "true"
        os.environ.pop("FASTLLM_LITELLM_FEATURES", None)
        import litellm, litellm.utils
        from litellm.litellm_core_utils import token_counter as core
        compress = sys.modules["litellm.compression.compress"]
        before = (id(core.token_counter), id(litellm.utils.token_counter), id(compress.token_counter),
                  id(litellm.token_counter))
        import fastllm_litellm
        after = (id(core.token_counter), id(litellm.utils.token_counter), id(compress.token_counter),
                 id(litellm.token_counter))
        assert before == after, (before, after)
        status = fastllm_litellm.status()["features"]["token_counter"]
        assert status["patched"] is False and status["bindings"] == 0, status
        print("UNCHANGED", core.token_counter.__module__)
        """
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "UNCHANGED litellm.litellm_core_utils.token_counter" in result.stdout


def test_patch_swaps_every_binding_and_unpatch_restores_identity(stats):
    before = _bindings()
    assert before["core"] is ORIGINAL
    assert before["utils"] is ORIGINAL_UTILS
    assert fastllm_litellm.patch() == DEFAULT_PATCHED
    try:
        during = _bindings()
        for name, value in during.items():
            assert value is not before[name], name
            assert callable(value)
        assert during["litellm"] is during["utils"]
        # by-name bindings of the core function get the core replacement, of utils the utils one
        for name in BY_NAME_MODULES:
            if ORIGINAL_BINDINGS[name] is ORIGINAL:
                assert during[name] is during["core"]
            else:
                assert during[name] is during["utils"]
        entry = stats()
        assert entry["patched"] is True
        assert entry["bindings"] >= 2 + len(BY_NAME_MODULES)
        # patching twice is harmless: nothing is wrapped twice
        assert fastllm_litellm.patch(["token_counter"]) == DEFAULT_PATCHED
        assert _bindings() == during
        assert stats()["bindings"] == entry["bindings"]
        assert litellm.token_counter.__wrapped__ is ORIGINAL
        assert litellm.token_counter.__name__ == "token_counter"
    finally:
        assert fastllm_litellm.unpatch() == []
    after = _bindings()
    for name, value in before.items():
        assert after[name] is value, name
    assert_originals_restored()
    assert stats()["bindings"] == 0
    # unpatching twice is harmless too
    assert fastllm_litellm.unpatch() == []
    assert fastllm_litellm.unpatch("token_counter") == []
    assert_originals_restored()


def test_patched_functions_have_the_original_signature(patched):
    import inspect

    # each binding shows its own original's signature (litellm.token_counter is utils')
    assert inspect.signature(litellm.token_counter) == inspect.signature(ORIGINAL_UTILS)
    assert inspect.getfullargspec(litellm.token_counter) == inspect.getfullargspec(ORIGINAL_UTILS)
    assert inspect.signature(core.token_counter) == inspect.signature(ORIGINAL)
    assert inspect.getfullargspec(core.token_counter) == inspect.getfullargspec(ORIGINAL)
    # positional calls work like the original's
    messages = [{"role": "user", "content": "positional"}]
    assert litellm.token_counter("gpt-4o", None, None, messages) == ORIGINAL("gpt-4o", None, None, messages)
    assert core.token_counter("gpt-4", None, "some text") == ORIGINAL("gpt-4", None, "some text")


def test_internal_call_site_bound_before_patch(patched, stats):
    compress = sys.modules["litellm.compression.compress"]
    assert compress.token_counter is not ORIGINAL_BINDINGS["litellm.compression.compress"]
    before = stats()["calls"]
    n = compress.token_counter(model="gpt-4o", messages=CHAT)
    assert n == ORIGINAL(model="gpt-4o", messages=CHAT)
    entry = stats()
    assert entry["calls"] == before + 1
    assert entry["fallbacks"] == 0
    common = sys.modules["litellm.llms.openai.common_utils"]
    assert common.token_counter(model="gpt-4", text="hello there") == ORIGINAL(model="gpt-4", text="hello there")
    assert stats()["calls"] == before + 2


def test_litellm_internal_helpers_go_through_the_patch(patched, stats):
    # litellm.utils.get_token_count calls the utils module's global `token_counter`
    n = litellm.utils.get_token_count(CHAT, "gpt-4o-mini")
    assert n == ORIGINAL(model="gpt-4o-mini", messages=CHAT)
    assert stats()["calls"] == 1
    assert stats()["fallbacks"] == 0


def test_module_imported_while_patched_binds_the_patched_function(stats):
    fresh = [name for name in LATE_MODULE_CANDIDATES if name not in sys.modules]
    assert fresh, f"every candidate module is already imported: {LATE_MODULE_CANDIDATES}"
    name = fresh[0]
    assert fastllm_litellm.patch("token_counter") == ["token_counter"]
    try:
        module = importlib.import_module(name)
        assert module.token_counter is litellm.utils.token_counter
        assert module.token_counter is not ORIGINAL_UTILS
        patch_module.reset_stats()
        assert module.token_counter(model="gpt-4o", text="late import") == ORIGINAL(model="gpt-4o", text="late import")
        assert stats()["calls"] == 1
    finally:
        fastllm_litellm.unpatch()
    assert module.token_counter is ORIGINAL_UTILS
    assert_originals_restored()


# --------------------------------------------------------------------------------------------
# feature switches


def test_features_empty_list_patches_nothing():
    assert fastllm_litellm.patch(features=[]) == []
    assert_originals_restored()


def test_features_list_and_str(stats):
    assert fastllm_litellm.FEATURES == ("token_counter", "rate_limit", "router")
    for features in (["token_counter"], "token_counter", ("token_counter",)):
        assert fastllm_litellm.patch(features=features) == ["token_counter"]
        assert core.token_counter is not ORIGINAL
        assert stats()["patched"] is True
        assert fastllm_litellm.unpatch() == []
        assert_originals_restored()


def test_env_var_selects_features(monkeypatch):
    assert fastllm_litellm.ENV_VAR == "FASTLLM_LITELLM_FEATURES"
    monkeypatch.setenv(fastllm_litellm.ENV_VAR, "")
    assert fastllm_litellm.patch() == []
    assert_originals_restored()
    monkeypatch.setenv(fastllm_litellm.ENV_VAR, " , ")
    assert fastllm_litellm.patch() == []
    assert_originals_restored()
    monkeypatch.setenv(fastllm_litellm.ENV_VAR, "token_counter")
    try:
        assert fastllm_litellm.patch() == ["token_counter"]
        assert core.token_counter is not ORIGINAL
    finally:
        fastllm_litellm.unpatch()
    assert_originals_restored()
    monkeypatch.setenv(fastllm_litellm.ENV_VAR, " token_counter , ")
    try:
        assert fastllm_litellm.patch() == ["token_counter"]
    finally:
        fastllm_litellm.unpatch()
    # an explicit argument wins over the variable
    monkeypatch.setenv(fastllm_litellm.ENV_VAR, "token_counter")
    assert fastllm_litellm.patch(features=[]) == []
    assert_originals_restored()
    monkeypatch.setenv(fastllm_litellm.ENV_VAR, "token_counter,nope")
    with pytest.raises(fastllm_litellm.UnknownFeatureError):
        fastllm_litellm.patch()
    assert_originals_restored()


def test_unknown_feature_raises():
    for features in (["nope"], "nope", ["token_counter", "routing"]):
        with pytest.raises(fastllm_litellm.UnknownFeatureError) as info:
            fastllm_litellm.patch(features=features)
        assert isinstance(info.value, ValueError)
        assert isinstance(info.value, fastllm_litellm.FastLLMError)
        assert "token_counter" in str(info.value)
        assert_originals_restored()
    with pytest.raises(ValueError):
        fastllm_litellm.unpatch(["nope"])


def test_bad_features_type_raises():
    for features in (123, 1.5, object()):
        with pytest.raises(TypeError):
            fastllm_litellm.patch(features=features)
    with pytest.raises(TypeError):
        fastllm_litellm.patch(features=["token_counter", 5])
    assert_originals_restored()


def test_unlisted_litellm_version_with_verified_sources_patches_without_a_warning(monkeypatch):
    # Applicability is read from the sources' fingerprints, not from the version string.
    monkeypatch.setattr(_feature, "litellm_version", lambda: "0.0.1")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert fastllm_litellm.patch() == DEFAULT_PATCHED
    try:
        assert core.token_counter is not ORIGINAL
        assert litellm.token_counter(model="gpt-4o", messages=CHAT) == ORIGINAL(model="gpt-4o", messages=CHAT)
    finally:
        fastllm_litellm.unpatch()
    assert_originals_restored()


def test_unlisted_litellm_version_with_other_signature_is_not_patched(monkeypatch):
    monkeypatch.setattr(_feature, "litellm_version", lambda: "0.0.1")
    monkeypatch.setattr(_token_counter, "_TOKEN_COUNTER_PARAMETERS", (("model", ""),))
    with pytest.warns(RuntimeWarning, match="not patching token_counter"):
        assert "token_counter" not in fastllm_litellm.patch()
    fastllm_litellm.unpatch()
    assert_originals_restored()


def test_supported_versions_are_listed():
    assert fastllm_litellm.DEFAULT_LITELLM_VERSION in fastllm_litellm.SUPPORTED_LITELLM_VERSIONS
    installed = importlib.import_module("importlib.metadata").version("litellm")
    assert installed in fastllm_litellm.SUPPORTED_LITELLM_VERSIONS
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a supported line patches without a warning
        assert fastllm_litellm.patch() == DEFAULT_PATCHED
    fastllm_litellm.unpatch()
    assert_originals_restored()


def test_status_shape(patched, stats):
    status = fastllm_litellm.status()
    assert set(status) == {"litellm_version", "features"}
    assert set(status["features"]) == set(fastllm_litellm.FEATURES)
    entry = status["features"]["token_counter"]
    assert set(entry) == {
        "patched",
        "calls",
        "fallbacks",
        "last_fallback_reason",
        "bindings",
        "applicable",
        "reason",
    }
    assert (entry["applicable"], entry["reason"]) == (True, None)
    assert (entry["calls"], entry["fallbacks"], entry["last_fallback_reason"]) == (0, 0, None)
    litellm.token_counter(model="gpt-4o", text="a")
    assert stats()["calls"] == 1
    patch_module.reset_stats()
    assert (stats()["calls"], stats()["fallbacks"], stats()["last_fallback_reason"]) == (0, 0, None)


# --------------------------------------------------------------------------------------------
# fallbacks


def _tiny_custom_tokenizer() -> dict:
    from tokenizers import Tokenizer, models, pre_tokenizers

    vocab = {"[UNK]": 0, "hello": 1, "world": 2, "token": 3}
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    return litellm.utils.create_tokenizer(tokenizer.to_str())


def test_custom_tokenizer_falls_back(patched, stats):
    custom = _tiny_custom_tokenizer()
    for kwargs in (
        {"model": "gpt-4o", "text": "supercalifragilistic antidisestablishmentarianism, hello world"},
        {"model": "gpt-4o", "messages": CHAT},
        {"model": "", "messages": CHAT, "tools": [{"type": "function", "function": {"name": "f"}}]},
    ):
        before = stats()
        got = litellm.token_counter(custom_tokenizer=custom, **kwargs)
        assert got == ORIGINAL(custom_tokenizer=custom, **kwargs)
        after = stats()
        assert after["calls"] == before["calls"] + 1
        assert after["fallbacks"] == before["fallbacks"] + 1
        assert after["last_fallback_reason"] == "custom tokenizer"
    # the custom tokenizer really counts: two unknown words are two tokens, not tiktoken's many
    text = "supercalifragilistic antidisestablishmentarianism"
    assert litellm.token_counter(model="gpt-4o", text=text, custom_tokenizer=custom) == 2
    assert ORIGINAL(model="gpt-4o", text=text) > 2


HUB_MODELS = ["meta-llama/llama-3-8b-instruct", "openai/llama-3.1-70b-vllm-b", "replicate/llama-2-70b"]


@pytest.mark.parametrize("model", ["deepseek/deepseek-chat"])
def test_huggingface_models_fall_back(patched, stats, model):
    # a tokenizer LiteLLM ships: it loads even offline, and LiteLLM's own code counts
    assert litellm.utils.huggingface_tokenizer_kind(model) is not None
    for kwargs in (
        {"text": "Hello, world! 你好 👍 it's a test"},
        {"messages": CHAT},
        {"messages": CHAT, "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": {}}}]},
    ):
        before = stats()["fallbacks"]
        assert outcome(litellm.token_counter, {"model": model, **kwargs}) == outcome(ORIGINAL, {"model": model, **kwargs})
        entry = stats()
        assert entry["fallbacks"] == before + 1
        assert model in entry["last_fallback_reason"]


@pytest.mark.parametrize("model", HUB_MODELS)
def test_hub_tokenizers_count_natively_offline(patched, stats, model):
    # a tokenizer LiteLLM downloads from the HuggingFace hub: offline, LiteLLM counts these
    # models with tiktoken, and so does the native counter
    assert litellm.utils.huggingface_tokenizer_kind(model) in ("llama2", "llama3")
    assert litellm.utils.is_offline_mode()
    for kwargs in (
        {"text": "Hello, world! 你好 👍 it's a test"},
        {"messages": CHAT},
        {"messages": CHAT, "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": {}}}]},
    ):
        patch_module.reset_stats()
        assert outcome(litellm.token_counter, {"model": model, **kwargs}) == outcome(ORIGINAL, {"model": model, **kwargs})
        assert (stats()["calls"], stats()["fallbacks"]) == (1, 0)


def test_hub_tokenizers_fall_back_online(patched, stats, monkeypatch):
    # online, LiteLLM tries the hub first: that call is LiteLLM's. The hub is unreachable here,
    # so its loader is made to fail at once, as it does (after its timeouts) without a network;
    # LiteLLM then remembers the failure and counts with tiktoken.
    model = "meta-llama/llama-3-8b-instruct"

    def unreachable(kind):
        raise OSError(f"the HuggingFace hub is unreachable ({kind})")

    monkeypatch.delenv("LITELLM_OFFLINE_MODE")
    monkeypatch.setattr(litellm.utils, "_load_huggingface_tokenizer", unreachable)
    assert not litellm.utils.is_offline_mode()
    patch_module.reset_stats()
    assert litellm.token_counter(model=model, messages=CHAT) == ORIGINAL(model=model, messages=CHAT)
    assert stats()["fallbacks"] == 1
    assert model in stats()["last_fallback_reason"]
    # offline again: the resolver notices, and counts natively
    monkeypatch.setenv("LITELLM_OFFLINE_MODE", "true")
    patch_module.reset_stats()
    assert litellm.token_counter(model=model, messages=CHAT) == ORIGINAL(model=model, messages=CHAT)
    assert (stats()["calls"], stats()["fallbacks"]) == (1, 0)


def test_hf_download_disabled_counts_natively(patched, stats):
    model = "claude-haiku-4-5"  # a tokenizer LiteLLM ships, so offline mode does not decide
    saved = litellm.disable_hf_tokenizer_download
    litellm.disable_hf_tokenizer_download = True
    try:
        for kwargs in ({"text": "Hello, world! it's a test"}, {"messages": CHAT}):
            patch_module.reset_stats()
            assert litellm.token_counter(model=model, **kwargs) == ORIGINAL(model=model, **kwargs)
            assert (stats()["calls"], stats()["fallbacks"]) == (1, 0)
    finally:
        litellm.disable_hf_tokenizer_download = saved
    # the resolver notices the switch flipping back
    patch_module.reset_stats()
    assert litellm.token_counter(model=model, messages=CHAT) == ORIGINAL(model=model, messages=CHAT)
    assert stats()["fallbacks"] == 1


def test_document_and_file_blocks_fall_back(patched, stats):
    cases = [
        [{"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "a plain text document"}}],
        [{"type": "document", "source": {"type": "content", "content": [{"type": "text", "text": "inner"}]}, "title": "T"}],
        [{"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0xLjQK"}}],
        [{"type": "file", "file": {"filename": "a.txt", "file_data": "data:text/plain;base64,aGVsbG8="}}],
        [{"type": "file", "file": {"file_id": "file-abc"}}],
        [{"type": "text", "text": "before"}, {"type": "file", "file": {"filename": "report.pdf"}}],
    ]
    for content in cases:
        kwargs = {"model": "gpt-4o", "messages": [{"role": "user", "content": content}]}
        before = stats()["fallbacks"]
        assert outcome(litellm.token_counter, kwargs) == outcome(ORIGINAL, kwargs)
        assert stats()["fallbacks"] == before + 1
        assert stats()["last_fallback_reason"]


def test_pydantic_messages_fall_back(patched, stats):
    from litellm.types.utils import Message

    messages = [Message(role="assistant", content="pydantic message"), {"role": "user", "content": "dict"}]
    assert litellm.token_counter(model="gpt-4o", messages=messages) == ORIGINAL(model="gpt-4o", messages=messages)
    assert stats()["fallbacks"] == 1


def test_forced_resolver_failure_falls_back(patched, stats, monkeypatch):
    def boom(self, model):
        raise RuntimeError(f"resolver exploded on {model}")

    monkeypatch.setattr(_token_counter._Resolver, "_resolve", boom)
    model = "gpt-4o-2024-08-06"  # not resolved before in this patch: the cache is empty
    for kwargs in ({"messages": CHAT}, {"text": "forced failure"}):
        before = stats()["fallbacks"]
        assert litellm.token_counter(model=model, **kwargs) == ORIGINAL(model=model, **kwargs)
        entry = stats()
        assert entry["fallbacks"] == before + 1
        assert "RuntimeError" in entry["last_fallback_reason"]
        assert "resolver exploded" in entry["last_fallback_reason"]


def test_forced_counter_failure_falls_back(patched, stats, monkeypatch):
    class ExplodingCounter:
        def __init__(self, *args, **kwargs):
            pass

        def count_messages(self, *args):
            raise ValueError("native counter exploded")

        def count_litellm_text(self, text):
            raise MemoryError("native counter out of memory")

    monkeypatch.setattr(_token_counter._native, "Counter", ExplodingCounter)
    model = "gpt-4.1-mini"
    assert litellm.token_counter(model=model, messages=CHAT) == ORIGINAL(model=model, messages=CHAT)
    assert stats()["last_fallback_reason"].startswith("ValueError: native counter exploded")
    assert litellm.token_counter(model=model, text="abc") == ORIGINAL(model=model, text="abc")
    assert stats()["last_fallback_reason"].startswith("MemoryError")
    assert stats()["fallbacks"] == 2


def test_registry_change_is_noticed(patched, stats):
    model = "my-brand-new-chat-model"
    assert litellm.token_counter(model=model, messages=CHAT) == ORIGINAL(model=model, messages=CHAT)
    models = litellm.open_ai_chat_completion_models
    assert model not in models
    models.add(model)
    try:
        assert core.openai_tokenizer_encoding_name(model) is not None
        for kwargs in ({"messages": CHAT}, {"text": "x" * 50}):
            assert litellm.token_counter(model=model, **kwargs) == ORIGINAL(model=model, **kwargs)
    finally:
        models.discard(model)
    assert litellm.token_counter(model=model, messages=CHAT) == ORIGINAL(model=model, messages=CHAT)
    assert stats()["fallbacks"] == 0


def test_default_token_count_is_honoured_on_fallback(patched):
    content = [{"type": "image_url", "image_url": {"url": "http://127.0.0.1:9/x.png", "detail": "high"}}]
    kwargs = {"model": "gpt-4o", "messages": [{"role": "user", "content": content}], "default_token_count": 11}
    assert litellm.token_counter(**kwargs) == ORIGINAL(**kwargs)
    del kwargs["default_token_count"]
    assert outcome(litellm.token_counter, kwargs) == outcome(ORIGINAL, kwargs)


def test_disable_token_counter(patched, stats):
    saved = litellm.disable_token_counter
    litellm.disable_token_counter = True
    try:
        assert ORIGINAL(model="gpt-4o", messages=CHAT) == 0
        assert litellm.token_counter(model="gpt-4o", messages=CHAT) == 0
        assert core.token_counter(model="gpt-4o", text="anything at all") == 0
        assert fastllm_litellm.count_tokens_batch("gpt-4o", ["a", "bb"]) == [0, 0]
        with pytest.raises(TypeError):
            fastllm_litellm.count_tokens_batch("gpt-4o", ["a", 5])
        assert stats()["fallbacks"] == 0
    finally:
        litellm.disable_token_counter = saved
    assert litellm.token_counter(model="gpt-4o", messages=CHAT) == ORIGINAL(model="gpt-4o", messages=CHAT) > 0


# --------------------------------------------------------------------------------------------
# bad input


def test_count_tokens_batch_rejects_bad_input():
    with pytest.raises(TypeError):
        fastllm_litellm.count_tokens_batch(123, ["a"])
    with pytest.raises(TypeError):
        fastllm_litellm.count_tokens_batch(None, ["a"])
    with pytest.raises(TypeError):
        fastllm_litellm.count_tokens_batch("gpt-4o", "abc")
    with pytest.raises(TypeError):
        fastllm_litellm.count_tokens_batch("gpt-4o", ("a", "b"))
    with pytest.raises(TypeError):
        fastllm_litellm.count_tokens_batch("gpt-4o", ["a", 5])
    with pytest.raises(TypeError):
        fastllm_litellm.count_tokens_batch("gpt-4o", [b"bytes"])
    # a HuggingFace model is counted by LiteLLM, with the same type check
    with pytest.raises(TypeError):
        fastllm_litellm.count_tokens_batch("deepseek/deepseek-chat", ["a", None])
    assert fastllm_litellm.count_tokens_batch("gpt-4o", []) == []


BAD_KWARGS = [
    {"messages": "notalist"},
    {"messages": [1, 2]},
    {"messages": [None]},
    {"messages": [{"role": "user", "content": "x"}, "y"]},
    {"messages": {"role": "user", "content": "dict, not list"}},
    {"messages": 5},
    {"text": 123},
    {"text": None, "messages": None},
    {"text": b"bytes"},
    {"text": "a", "messages": [{"role": "user", "content": "b"}]},
    {"text": "a", "messages": []},
    {"text": "a", "tools": [{"type": "function", "function": {"name": "f"}}]},
    {"text": "a", "tool_choice": {"type": "none"}},
    {"text": ["a", "b"], "tool_choice": "auto"},
    {},
    {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": 5}]}]},
    {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "", "detail": "low"}}]}]},
    {"messages": [{"role": "assistant", "tool_calls": ["function"]}]},
    {"messages": [{"role": "assistant", "tool_calls": [{"function": "not a dict"}]}]},
    {"messages": [{"role": "user", "content": [{"type": ["list"]}]}]},
    {"messages": [{"role": "user", "content": "x"}], "tools": "not a list"},
    {"messages": [{"role": "user", "content": "x"}], "tools": [{"function": {"name": "f", "parameters": {"properties": {"a": {"type": "number", "enum": [1.5]}}}}}]},
    {"messages": [{"role": "user", "content": "x"}], "tool_choice": ["not", "a", "dict"]},
    {"messages": [{"role": "user", "content": "x"}], "tool_choice": ("tuple",)},
    {"model": None, "messages": [{"role": "user", "content": "x"}]},
    {"model": ["unhashable"], "text": "x"},
    {"model": 5, "text": "x"},
]


@pytest.mark.parametrize("kwargs", BAD_KWARGS, ids=[f"bad{i}" for i in range(len(BAD_KWARGS))])
def test_bad_input_behaves_like_litellm(patched, kwargs):
    kwargs = {"model": "gpt-4o", **kwargs}
    expected = outcome(ORIGINAL, kwargs)
    assert outcome(litellm.token_counter, kwargs) == expected
    assert outcome(core.token_counter, kwargs) == expected


def test_deeply_nested_input_does_not_crash(patched):
    nested: object = "leaf"
    for _ in range(200):
        nested = {"a": [nested]}
    kwargs = {"model": "gpt-4o", "messages": [{"role": "user", "content": "x", "meta": nested}]}
    assert outcome(litellm.token_counter, kwargs) == outcome(ORIGINAL, kwargs)
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {"n": nested}}}}]
    kwargs = {"model": "gpt-4o", "messages": CHAT, "tools": tools}
    assert outcome(litellm.token_counter, kwargs) == outcome(ORIGINAL, kwargs)


def test_str_subclasses_and_dict_subclasses(patched):
    class S(str):
        pass

    class D(dict):
        pass

    kwargs = {"model": S("gpt-4o"), "messages": [D(role=S("user"), content=S("subclassed ☃"))]}
    assert litellm.token_counter(**kwargs) == ORIGINAL(**kwargs)
    assert litellm.token_counter(model="gpt-4o", text=[S("a b"), S("c")]) == ORIGINAL(model="gpt-4o", text=[S("a b"), S("c")])


# --------------------------------------------------------------------------------------------
# long texts: LiteLLM's extrapolation above TOKEN_COUNTER_MAX_EXACT_CHARS


def test_extrapolated_long_texts(patched, stats):
    limit = _token_counter._Resolver(litellm, core, _feature.STATS["token_counter"])._max_exact_chars
    assert limit > 0
    unit = "The quick brown fox — 快速的狐狸 👨\u200d👩\u200d👧 it's  \n\t"
    text = (unit * (limit // len(unit) + 50))[: limit + 12_345]
    assert len(text) > limit
    for kwargs in ({"text": text}, {"messages": [{"role": "user", "content": text}]}):
        patch_module.reset_stats()
        assert litellm.token_counter(model="gpt-4o", **kwargs) == ORIGINAL(model="gpt-4o", **kwargs)
        assert stats()["fallbacks"] == 0
    exact = "a" * limit
    assert litellm.token_counter(model="gpt-4", text=exact) == ORIGINAL(model="gpt-4", text=exact)
    assert fastllm_litellm.count_tokens_batch("gpt-4", [exact + "b"]) == [ORIGINAL(model="gpt-4", text=exact + "b")]


# --------------------------------------------------------------------------------------------
# count_tokens_batch


def test_count_tokens_batch_parity():
    import random

    rng = random.Random(7)
    short = [case["kwargs"]["text"] for case in CASES if isinstance(case["kwargs"].get("text"), str)]
    short = [t for t in short if len(t) < 2_000 and _encodable(t)]
    texts = [rng.choice(short) + str(i) * (i % 3) for i in range(1000)]
    texts += [case["kwargs"]["text"] for case in CASES if case["id"].split("-")[1] == "long_text"][:12]
    texts += ["", " ", "<|endoftext|>"]
    for model in ("gpt-4o", "gpt-4", "gpt-3.5-turbo-0301", "claude-3-5-sonnet-20240620", "", "some-unknown-model"):
        expected = [ORIGINAL(model=model, text=t) for t in texts]
        assert fastllm_litellm.count_tokens_batch(model, texts) == expected, model


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


@pytest.mark.parametrize("model", ["gpt-4o", "gpt-4", "deepseek/deepseek-chat"])
def test_count_tokens_batch_lone_surrogates(model):
    """count_tokens_batch(m, ts) is documented as [token_counter(model=m, text=t) for t in ts]:
    that holds for a str with a lone surrogate too (LiteLLM counts it)."""
    texts = ["a\ud800b", "\udfff", "ok"]
    expected = outcome(lambda: [ORIGINAL(model=model, text=t) for t in texts], {})
    assert outcome(fastllm_litellm.count_tokens_batch, {"model": model, "texts": texts}) == expected


def test_count_tokens_batch_works_patched_and_for_hf_models(patched):
    texts = ["hello world", "你好", "it's", ""]
    assert fastllm_litellm.count_tokens_batch("gpt-4o", texts) == [ORIGINAL(model="gpt-4o", text=t) for t in texts]
    model = "deepseek/deepseek-chat"
    assert fastllm_litellm.count_tokens_batch(model, texts) == [ORIGINAL(model=model, text=t) for t in texts]


# --------------------------------------------------------------------------------------------
# threads


def test_thread_safety(patched, stats):
    cases = [case for case in CASES if case["native"]][::3][:200]
    assert len(cases) == 200
    expected = [outcome(ORIGINAL, case["kwargs"]) for case in cases]
    results: list[list[tuple[str, object]] | None] = [None] * 8
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def work(slot: int) -> None:
        try:
            barrier.wait()
            order = list(range(len(cases)))
            if slot % 2:
                order.reverse()
            got: list[tuple[str, object]] = [("", None)] * len(cases)
            for i in order:
                got[i] = outcome(litellm.token_counter, cases[i]["kwargs"])
            results[slot] = got
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=work, args=(slot,)) for slot in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    for slot, got in enumerate(results):
        assert got is not None, slot
        for case, want, have in zip(cases, expected, got):
            assert have == want, (slot, case["id"])
    assert stats()["calls"] == 8 * len(cases)


def test_thread_safety_of_patch_and_batch():
    """Concurrent count_tokens_batch calls while another thread patches and unpatches."""
    texts = ["thread safety " * (i % 17) + str(i) for i in range(300)]
    expected = [ORIGINAL(model="gpt-4o", text=t) for t in texts]
    errors: list[BaseException] = []
    stop = threading.Event()

    def batch() -> None:
        try:
            for _ in range(20):
                assert fastllm_litellm.count_tokens_batch("gpt-4o", texts) == expected
        except BaseException as error:  # noqa: BLE001
            errors.append(error)

    def toggle() -> None:
        try:
            while not stop.is_set():
                fastllm_litellm.patch()
                fastllm_litellm.unpatch()
        except BaseException as error:  # noqa: BLE001
            errors.append(error)

    toggler = threading.Thread(target=toggle)
    toggler.start()
    workers = [threading.Thread(target=batch) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    stop.set()
    toggler.join(timeout=60)
    assert not errors, errors
    assert_originals_restored()


@pytest.mark.parametrize("size", [(1, 1), (1024, 768), (769, 2000), (16383, 3)])
def test_corpus_images_have_the_intended_size(size):
    """The corpus' synthetic image headers are read by LiteLLM itself with the intended size."""
    w, h = size
    assert core.get_image_dimensions(data_url("image/png", png(w, h))) == (w, h)
    assert core.get_image_dimensions(data_url("image/gif", gif(w, h))) == (w, h)
    for sof in (0xC0, 0xC2):
        for kwargs in ({}, {"app0": False}, {"dht_first": True, "fill": 2}):
            assert core.get_image_dimensions(data_url("image/jpeg", jpeg(w, h, sof, **kwargs))) == (w, h)
    for kind in ("VP8X", "VP8 ", "VP8L"):
        assert core.get_image_dimensions(data_url("image/webp", webp(w, h, kind))) == (w, h)
