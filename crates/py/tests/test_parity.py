"""The patched ``token_counter`` answers exactly what LiteLLM's own function answers.

Every corpus case is counted by the original captured before the patch and by three patched
bindings: ``litellm.token_counter``, the core module's ``token_counter`` and a module that
bound it by name at import (``litellm.compression.compress``). Where the original raises,
the patched function raises the same exception type.
"""

from __future__ import annotations

import importlib.metadata

import litellm
import sys
import pytest
from conftest import ORIGINAL, outcome, patch_module
from corpus import CASES, MODELS
from litellm.litellm_core_utils import token_counter as core

import fastllm_litellm

pytestmark = pytest.mark.usefixtures("patched_module")

NATIVE_CASES = [case for case in CASES if case["native"]]


def test_corpus_is_large_and_varied():
    assert len(CASES) >= 600
    assert len({case["id"] for case in CASES}) == len(CASES)
    models = {case["kwargs"].get("model") for case in CASES}
    assert set(MODELS) <= models
    assert len(NATIVE_CASES) >= 500


@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_parity(case):
    kwargs = case["kwargs"]
    expected = outcome(ORIGINAL, kwargs)
    assert litellm.token_counter is not ORIGINAL
    got = outcome(litellm.token_counter, kwargs)
    assert got == expected, f"{case['id']}: litellm.token_counter(**{kwargs!r:.600})"
    if expected[0] == "ok":
        assert isinstance(got[1], int)
        assert got[1] >= 0 or kwargs.get("default_token_count") is not None


@pytest.mark.parametrize("case", CASES[::7], ids=[case["id"] for case in CASES[::7]])
def test_parity_through_every_binding(case):
    kwargs = case["kwargs"]
    expected = outcome(ORIGINAL, kwargs)
    for binding in (core.token_counter, sys.modules["litellm.compression.compress"].token_counter):
        assert binding is not ORIGINAL
        assert outcome(binding, kwargs) == expected


@pytest.mark.parametrize("case", NATIVE_CASES, ids=[case["id"] for case in NATIVE_CASES])
def test_native_path_serves_supported_inputs(case, stats):
    """Inputs the Rust side models are counted there: one call, no fallback."""
    patch_module.reset_stats()
    litellm.token_counter(**case["kwargs"])
    entry = stats()
    assert entry["calls"] == 1
    assert entry["fallbacks"] == 0, entry["last_fallback_reason"]


def test_plain_chat_is_native(stats):
    patch_module.reset_stats()
    messages = [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "What is the capital of France?"},
    ]
    assert litellm.token_counter(model="gpt-4o", messages=messages) == ORIGINAL(model="gpt-4o", messages=messages)
    entry = stats()
    assert (entry["calls"], entry["fallbacks"], entry["last_fallback_reason"]) == (1, 0, None)
    assert entry["patched"] is True
    assert entry["bindings"] >= 4


def test_fallback_share_over_corpus(stats):
    patch_module.reset_stats()
    for case in CASES:
        outcome(litellm.token_counter, case["kwargs"])
    entry = stats()
    assert entry["calls"] == len(CASES)
    expected_fallbacks = len(CASES) - len(NATIVE_CASES)
    assert entry["fallbacks"] <= expected_fallbacks
    assert entry["fallbacks"] / entry["calls"] < 0.2
    assert fastllm_litellm.status()["litellm_version"] == importlib.metadata.version("litellm")


LEGACY_MODEL = "gpt-3.5-turbo-0301"
LEGACY_CASES = [
    case
    for case in CASES
    if case["kwargs"].get("model") == LEGACY_MODEL or (case["native"] and "name" in repr(case["kwargs"].get("messages")))
]


def test_parity_with_legacy_accounting(stats):
    """With gpt-3.5-turbo-0301 listed as an OpenAI chat model, LiteLLM prices its messages with
    the legacy constants (4 per message, -1 per name); the patch must notice the registry change
    and follow."""
    models = litellm.open_ai_chat_completion_models
    assert LEGACY_MODEL not in models
    assert not core.uses_legacy_message_accounting(LEGACY_MODEL)
    assert len(LEGACY_CASES) >= 50
    plain = [{"role": "user", "name": "bob", "content": "hi"}]
    before = litellm.token_counter(model=LEGACY_MODEL, messages=plain)
    models.add(LEGACY_MODEL)
    try:
        assert core.uses_legacy_message_accounting(LEGACY_MODEL)
        assert ORIGINAL(model=LEGACY_MODEL, messages=plain) == before + 1 - 2
        patch_module.reset_stats()
        mismatches = []
        for case in LEGACY_CASES:
            kwargs = {**case["kwargs"], "model": LEGACY_MODEL}
            got, expected = outcome(litellm.token_counter, kwargs), outcome(ORIGINAL, kwargs)
            if got != expected:
                mismatches.append((case["id"], got, expected))
        entry = stats()
        assert entry["calls"] == len(LEGACY_CASES)
        assert entry["fallbacks"] <= sum(not case["native"] for case in LEGACY_CASES)
        assert not mismatches, mismatches
    finally:
        models.discard(LEGACY_MODEL)
    assert litellm.token_counter(model=LEGACY_MODEL, messages=plain) == before
