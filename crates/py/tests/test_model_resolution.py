"""Differential test: fastllm's model rules against the installed LiteLLM's.

For every candidate model name, the Rust answers (through ``fastllm_litellm._native``) must
equal LiteLLM's own functions:

- ``tiktoken_encoding_for_model`` == ``openai_tokenizer_encoding_name``
- ``uses_legacy_message_accounting`` == ``uses_legacy_message_accounting``
- ``huggingface_tokenizer_kind`` == ``litellm.utils.huggingface_tokenizer_kind``
- ``has_chat_template_tool_section`` == ``chat_template_tool_section(m) is not None``

Candidates: every key of LiteLLM's bundled ``model_cost``, each with provider/region prefixes
stripped and added, fine-tuned (``ft:``) forms, tiktoken's own model names and prefixes,
unlisted versioned names, other providers' names, and variants that probe Python ``re``
semantics (case-insensitive Unicode equivalents, non-ASCII decimal digits, ``$`` before a
final newline).

The Rust rules read data generated from one LiteLLM release
(``_native.MODEL_DATA_LITELLM_VERSION``, see ``scripts/gen_model_data.py``) and implement that
release's rules. On that release every candidate must match. On another supported line the
Rust answers are still the generated release's, and that line's registry and rules differ:

- 1.109.3's registry lists a different set of models (and ``azure_llms`` has one more key),
  so names can resolve differently; the test requires fewer than 1% of the candidates to
  differ in encoding, legacy accounting or HuggingFace kind (0 differ today);
- 1.109.3's ``chat_template_tool_section`` lacks 1.110.2's Grok 4.1/4.3 and DeepSeek V4.1
  patterns (a strict subset of them), so the Rust answer is True for names where 1.109.3 says
  False, never the reverse; the test checks that direction and prints the count (about 470
  of the candidates, many of them the deliberate pattern variants below), instead of
  requiring equality.

Nothing else is loosened on the other line; everything that differs is printed.

This file imports LiteLLM itself with the bundled registry (``LITELLM_LOCAL_MODEL_COST_MAP``)
and offline mode, so it works with or without a ``conftest.py``.
"""

from __future__ import annotations

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("LITELLM_OFFLINE_MODE", "true")

import importlib.metadata  # noqa: E402
import re  # noqa: E402
import sys  # noqa: E402
import unicodedata  # noqa: E402
from collections.abc import Callable, Iterable  # noqa: E402
from functools import cache  # noqa: E402

import litellm  # noqa: E402
import pytest  # noqa: E402
from litellm.litellm_core_utils import token_counter as litellm_token_counter  # noqa: E402
from litellm.litellm_core_utils.prompt_templates.chat_template_tools import (  # noqa: E402
    chat_template_tool_section,
)
from litellm.utils import huggingface_tokenizer_kind  # noqa: E402
from tiktoken.model import MODEL_PREFIX_TO_ENCODING, MODEL_TO_ENCODING  # noqa: E402

from fastllm_litellm import _native  # noqa: E402

LITELLM_VERSION = importlib.metadata.version("litellm")
SAME_LINE = LITELLM_VERSION == _native.MODEL_DATA_LITELLM_VERSION
# On a line other than the generated one, at most this share of candidates may differ.
OTHER_LINE_MAX_MISMATCH_RATE = 0.01
# (generated line, tested line) -> how the generated line's chat-template tool patterns differ:
# "added" means they match a strict superset of the tested line's names.
KNOWN_TOOL_SECTION_CHANGE = {("1.110.2", "1.109.3"): "added"}
# LiteLLM raising on a candidate skips it; none does today.
MAX_SKIPPED = 10

PREFIXES = ("openai/", "azure/", "azure/eu/")

OTHER_PROVIDERS = (
    "claude-3-haiku-20240307",
    "anthropic/claude-3-5-sonnet",
    "claude-3-5-sonnet",
    "claude-sonnet-4-5",
    "gemini/gemini-1.5-pro",
    "mistral/mistral-large",
    "unknown-model",
    "",
    "deepseek/deepseek-chat",
    "deepseek-chat",
    "deepseek-reasoner:free",
    "openrouter/deepseek/deepseek-chat",
    "llama-3-70b",
    "meta-llama/Llama-2-70b-chat-hf",
    "replicate/meta/llama",
    "command-r",
    "command-r-plus",
    "cohere/command-r",
    "/",
    "//",
    "ft:",
    "ft:/",
    "ft::",
    "azure/",
    "azure/ft:",
    "azure//gpt-4o",
    "gpt-4o/",
    "openai/gpt-4o/",
    "\n",
    "gpt-4o\n",
)

VERSIONED = (
    "gpt-5.9",
    "openai/gpt-6.2",
    "o7-mini",
    "gpt-5",
    "gpt-6",
    "gpt-10",
    "gpt-12.1-pro",
    "gpt-1",
    "gpt-19",
    "gpt-4.9",
    "gpt-4.5",
    "o1",
    "o5",
    "o10-preview",
    "o0",
    "omni",
    "azure/gpt-7",
    "azure/eu/o9-mini",
    "gpt-6\n",
    "gpt-6\n\n",
    "gpt-6x",
    "text-embedding-ada-002-v2",
    "gpt-4-0613-custom",
    "gpt-3.5-turbo-0301",
    "text-davinci-003",
    "gpt2",
    "openai/gpt2",
)

# Strings around the patterns LiteLLM matches with `re` (and `str.lower()` for Llama), for
# the case and digit variants below.
PATTERN_PROBES = (
    "deepseek-v4",
    "deepseek-v4-1",
    "deepseek-v4p1",
    "deepseek-v4.1",
    "deepseek-v4_1x",
    "deepseek-v4p",
    "deepseek-v4p2",
    "deepseek-v40",
    "deepseek-chat",
    "deepseek/deepseek-reasoner",
    "deepseek-flash:free",
    "x/deepseek-chat",
    "deepseek_chat_v3",
    "deepseek.v4",
    "qwen3.5",
    "qwen35-max",
    "qwen3_5",
    "qwen3.55",
    "grok-4.1",
    "grok-4-1-fast",
    "grok-4.10",
    "grok-4.1.2",
    "grok-4.3",
    "grok-4-3x",
    "llama-2-7b",
    "llama-3.1",
    "replicate",
    "gpt-5",
    "gpt-12-mini",
    "o3-pro",
    "o7",
)


def all_code_points() -> Iterable[str]:
    return (chr(cp) for cp in range(sys.maxunicode + 1) if not 0xD800 <= cp <= 0xDFFF)


@cache
def ignorecase_equivalents() -> dict[str, tuple[str, ...]]:
    """For each ASCII letter, the other characters Python's `re.IGNORECASE` matches it with."""
    letter = re.compile("[a-z]", re.IGNORECASE)
    found: dict[str, list[str]] = {}
    for ch in all_code_points():
        if letter.fullmatch(ch):
            for ascii_letter in "abcdefghijklmnopqrstuvwxyz":
                if ch != ascii_letter and re.fullmatch(ascii_letter, ch, re.IGNORECASE):
                    found.setdefault(ascii_letter, []).append(ch)
    return {key: tuple(value) for key, value in found.items()}


@cache
def decimal_digits() -> dict[str, tuple[str, ...]]:
    """For each ASCII digit, the other characters Python's `re` matches with `\\d` of that value."""
    digit = re.compile(r"\d")
    found: dict[str, list[str]] = {}
    for ch in all_code_points():
        if digit.fullmatch(ch) and not ch.isascii():
            found.setdefault(str(unicodedata.decimal(ch)), []).append(ch)
    return {key: tuple(value) for key, value in found.items()}


def pattern_variants() -> Iterable[str]:
    letters = ignorecase_equivalents()
    digits = decimal_digits()
    for probe in PATTERN_PROBES:
        yield probe
        yield probe.upper()
        yield probe + "\n"
        yield probe + "\n\n"
        yield "provider/" + probe
        for index, ch in enumerate(probe):
            for other in letters.get(ch, ()) + digits.get(ch, ()):
                yield probe[:index] + other + probe[index + 1 :]
        for zero in ("0", *digits["0"]):
            yield probe + zero
    # Decimal digits of later Unicode versions than many Pythons know (Kawi, Kirat Rai):
    # `\d` follows the Python LiteLLM runs on.
    for extra in ("\U00011f51", "\U00016d71"):
        yield "qwen3.5" + extra
        yield "gpt-1" + extra


def candidates() -> list[str]:
    cost_keys = tuple(litellm.model_cost)
    names: dict[str, None] = {}

    def add(values: Iterable[str]) -> None:
        names.update(dict.fromkeys(values))

    add(cost_keys)
    for key in cost_keys:
        stripped = key
        for prefix in PREFIXES:
            if key.startswith(prefix):
                stripped = key.removeprefix(prefix)
                add([stripped])
        add(prefix + stripped for prefix in PREFIXES)
        add([key.rsplit("/", 1)[-1], key.split("/", 1)[-1]])
    for model in sorted(litellm.open_ai_chat_completion_models) + list(litellm.azure_llms):
        base = model.rsplit("/", 1)[-1]
        add(
            [
                f"ft:{base}:my-org::abc123",
                f"ft:{base}",
                f"openai/ft:{base}:my-org:custom:id",
                f"azure/ft:{base}:org::id",
                base.replace("-3.5", "-35"),
                base.replace("-35", "-3.5"),
            ]
        )
    for name in MODEL_TO_ENCODING:
        add([name, f"{name}-x", f"azure/{name}", f"openai/{name}-2099"])
    for prefix in MODEL_PREFIX_TO_ENCODING:
        add([prefix, f"{prefix}x", f"azure/{prefix}next"])
    add(VERSIONED)
    add(OTHER_PROVIDERS)
    add(pattern_variants())
    return list(names)


def litellm_answers(model: str) -> tuple[str, bool, str | None, bool]:
    return (
        litellm_token_counter.openai_tokenizer_encoding_name(model),
        litellm_token_counter.uses_legacy_message_accounting(model),
        huggingface_tokenizer_kind(model),
        chat_template_tool_section(model) is not None,
    )


def fastllm_answers(model: str) -> tuple[str, bool, str | None, bool]:
    return (
        _native.tiktoken_encoding_for_model(model),
        _native.uses_legacy_message_accounting(model),
        _native.huggingface_tokenizer_kind(model),
        _native.has_chat_template_tool_section(model),
    )


FIELDS = ("encoding", "legacy", "huggingface_kind", "tool_section")


def compare(
    models: Iterable[str], expected: Callable[[str], tuple[object, ...]]
) -> tuple[int, list[tuple[str, str, object, object]], list[tuple[str, str]]]:
    count = 0
    mismatches: list[tuple[str, str, object, object]] = []
    skipped: list[tuple[str, str]] = []
    for model in models:
        count += 1
        try:
            want = expected(model)
        except Exception as error:  # noqa: BLE001  # LiteLLM raising: skip, but count
            skipped.append((model, repr(error)))
            continue
        got = fastllm_answers(model)
        mismatches.extend(
            (model, field, w, g) for field, w, g in zip(FIELDS, want, got, strict=True) if w != g
        )
    return count, mismatches, skipped


def report(count: int, mismatches: list[tuple[str, str, object, object]], skipped: list[tuple[str, str]]) -> str:
    lines = [
        f"litellm {LITELLM_VERSION} (Rust data from {_native.MODEL_DATA_LITELLM_VERSION}): "
        f"{count} candidates, {len(mismatches)} mismatches, {len(skipped)} skipped",
        *(f"  {model!r}: {field}: litellm={want!r} fastllm={got!r}" for model, field, want, got in mismatches[:20]),
        *(f"  skipped {model!r}: {error}" for model, error in skipped[:5]),
    ]
    return "\n".join(lines)


def test_model_resolution_matches_litellm(capsys: pytest.CaptureFixture[str]) -> None:
    models = candidates()
    count, mismatches, skipped = compare(models, litellm_answers)
    summary = report(count, mismatches, skipped)
    with capsys.disabled():
        print("\n" + summary)
    assert count > len(litellm.model_cost)
    assert len(skipped) <= MAX_SKIPPED, summary
    if SAME_LINE:
        assert not mismatches, summary
        return
    # A different LiteLLM line: the Rust answers are those of the generated line (see the
    # module docstring), so registry-driven answers may differ for a few names ...
    registry_mismatches = {model for model, field, *_ in mismatches if field != "tool_section"}
    assert len(registry_mismatches) < OTHER_LINE_MAX_MISMATCH_RATE * count, summary
    # ... and chat-template tool sections differ by the patterns one line added.
    tool_section_mismatches = [(want, got) for _, field, want, got in mismatches if field == "tool_section"]
    if KNOWN_TOOL_SECTION_CHANGE.get((_native.MODEL_DATA_LITELLM_VERSION, LITELLM_VERSION)) == "added":
        assert all(want is False and got is True for want, got in tool_section_mismatches), summary
    else:
        assert len(tool_section_mismatches) < OTHER_LINE_MAX_MISMATCH_RATE * count, summary


def test_model_data_version_is_a_supported_line() -> None:
    from fastllm_litellm._versions import SUPPORTED

    assert _native.MODEL_DATA_LITELLM_VERSION in SUPPORTED


@pytest.mark.parametrize(
    ("model", "encoding", "kind", "tool_section"),
    [
        ("gpt-4o", "o200k_base", None, False),
        ("gpt-4", "cl100k_base", None, False),
        ("openai/gpt-5.9", "o200k_base", None, False),
        ("openai/gpt-6.2", "o200k_base", None, False),
        ("o7-mini", "o200k_base", None, False),
        ("ft:gpt-4o:org::id", "o200k_base", None, False),
        ("azure/eu/gpt-4o", "o200k_base", None, False),
        ("claude-3-5-sonnet", "cl100k_base", None, False),
        ("claude-sonnet-4-5", "cl100k_base", "anthropic", False),
        ("gemini/gemini-1.5-pro", "cl100k_base", None, False),
        ("deepseek/deepseek-chat", "cl100k_base", "deepseek", True),
        ("llama-3-70b", "cl100k_base", "llama3", False),
        ("", "cl100k_base", None, False),
    ],
)
def test_known_answers(model: str, encoding: str, kind: str | None, tool_section: bool) -> None:
    assert _native.tiktoken_encoding_for_model(model) == encoding
    assert _native.huggingface_tokenizer_kind(model) == kind
    assert _native.has_chat_template_tool_section(model) is tool_section
    assert _native.uses_legacy_message_accounting(model) is False
