"""Generate `crates/tokencount/src/litellm/model_data.rs` from an installed LiteLLM.

The Rust module `fastllm_tokencount::model` mirrors the rules LiteLLM uses to pick a
tokenizer and the message accounting for a model name. Those rules read LiteLLM's bundled
model registry and tiktoken's model tables; this script copies exactly the facts they read
into sorted static arrays.

Run it with the python of a LiteLLM environment, from the repository root:

    LITELLM_LOCAL_MODEL_COST_MAP=True LITELLM_OFFLINE_MODE=true \
        /tmp/envs/v110/bin/python scripts/gen_model_data.py

The output is formatted with `rustfmt` (it must be on PATH), so `cargo fmt --all` leaves it
unchanged. Pass `--check` to fail (exit 1) when the file on disk differs from what would be
written, and `--output PATH` to write elsewhere.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import re
import subprocess
import sys
import unicodedata
from collections.abc import Iterable, Mapping
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("LITELLM_OFFLINE_MODE", "true")

import litellm  # noqa: E402
from litellm import constants  # noqa: E402
from litellm.litellm_core_utils import token_counter  # noqa: E402
from tiktoken import model as tiktoken_model  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = ROOT / "crates" / "tokencount" / "src" / "litellm" / "model_data.rs"

# The providers whose every registry entry is kept (the rules read their provider, mode and
# `supports_pdf_input`); entries of other providers are kept only where their mode can change
# an answer (see `reachable_non_chat_entries`).
KEPT_PROVIDERS = frozenset({"openai", "azure", "text-completion-openai"})


def rust_str(value: str) -> str:
    """A Rust string literal for `value`."""
    out = []
    for ch in value:
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif " " <= ch <= "~":
            out.append(ch)
        else:
            out.append(f"\\u{{{ord(ch):x}}}")
    return '"' + "".join(out) + '"'


def rust_opt_str(value: str | None) -> str:
    return "None" if value is None else f"Some({rust_str(value)})"


def sorted_unique(names: Iterable[str], what: str) -> list[str]:
    names = list(names)
    for name in names:
        if not isinstance(name, str):
            raise SystemExit(f"{what}: {name!r} is not a str")
    if len(set(names)) != len(names):
        raise SystemExit(f"{what}: duplicate names")
    # Python orders str by code point, the same order as Rust's byte-wise `str` order.
    return sorted(names)


def str_array(name: str, doc: str, values: list[str]) -> str:
    body = "".join(f"    {rust_str(v)},\n" for v in values)
    return f"/// {doc}\npub(crate) static {name}: &[&str] = &[\n{body}];\n"


def pair_array(name: str, doc: str, pairs: list[tuple[str, str]]) -> str:
    body = "".join(f"    ({rust_str(a)}, {rust_str(b)}),\n" for a, b in pairs)
    return f"/// {doc}\npub(crate) static {name}: &[(&str, &str)] = &[\n{body}];\n"


def model_cost() -> Mapping[str, Mapping[str, object]]:
    cost = litellm.model_cost
    if not isinstance(cost, Mapping):
        raise SystemExit("litellm.model_cost is not a mapping")
    for key, entry in cost.items():
        if not isinstance(key, str) or not isinstance(entry, Mapping):
            raise SystemExit(f"model_cost[{key!r}] is not a str -> mapping entry")
        # The rules compare these with `==` and `in frozenset(...)`: a str or None keeps them exact.
        for field in ("litellm_provider", "mode"):
            if not isinstance(entry.get(field), (str, type(None))):
                raise SystemExit(f"model_cost[{key!r}][{field!r}] is not a str or None")
    return cost


def last_segment(name: str) -> str:
    return name.rsplit("/", 1)[-1]


def reachable_non_chat_entries(cost: Mapping[str, Mapping[str, object]]) -> set[str]:
    """Registry keys outside `KEPT_PROVIDERS` whose entry can change an answer.

    Such an entry is read only by `_is_listed_non_chat_model(name)`, which looks up `name` and
    `azure/{name}` and asks whether the mode is set and not a chat mode (the provider checks of
    `_is_azure_openai_chat_model` / `_is_azure_openai_text_model` need `azure`). An entry whose
    mode is unset or a chat mode answers like a missing one, so only non-chat entries matter,
    and only where `name` can be `openai_tokenizer_encoding_name`'s `model_to_use`: the last
    segment of a listed OpenAI name, a name matching `_VERSIONED_OPENAI_MODEL`, an Azure
    deployment name (`azure/{name}` is in the registry), or a `_fix_model_name` result, and
    only when tiktoken does not know `name`. This over-approximates those names, which only
    keeps extra entries.
    """
    listed = set(litellm.azure_llms) | set(litellm.open_ai_chat_completion_models)
    listed |= {key for key in cost if token_counter._is_azure_openai_text_model(key)}
    names = {last_segment(name) for name in listed}
    names |= {key.removeprefix("azure/") for key in cost if key.startswith("azure/")}
    names |= {"gpt-3.5-turbo"} | set(litellm.open_ai_chat_completion_models)
    names |= {key.replace("-35", "-3.5") for key in litellm.azure_llms}
    versioned = token_counter._VERSIONED_OPENAI_MODEL

    def reachable(name: str) -> bool:
        # `openai_tokenizer_encoding_name` consults the registry only for names that neither
        # contain `gpt-4o` nor are known to tiktoken, directly or as a `-` suffixed variant.
        return (
            (name in names or versioned.match(name) is not None)
            and "gpt-4o" not in name
            and token_counter._tiktoken_encoding_name(name) is None
            and token_counter._suffixed_variant_encoding_name(name) is None
        )

    chat_modes = constants.OPENAI_CHAT_MODES
    return {
        key
        for key, entry in cost.items()
        if entry.get("litellm_provider") not in KEPT_PROVIDERS
        and entry.get("mode") is not None
        and entry.get("mode") not in chat_modes
        and (reachable(key) or (key.startswith("azure/") and reachable(key.removeprefix("azure/"))))
    }


def python_digit_ranges() -> list[tuple[int, int]]:
    """The code points Python's `re` matches with `\\d` in a str pattern, as inclusive ranges."""
    digit = re.compile(r"\d")
    ranges: list[tuple[int, int]] = []
    for cp in range(sys.maxunicode + 1):
        if 0xD800 <= cp <= 0xDFFF or not digit.match(chr(cp)):
            continue
        if ranges and ranges[-1][1] == cp - 1:
            ranges[-1] = (ranges[-1][0], cp)
        else:
            ranges.append((cp, cp))
    return ranges


def generate() -> str:
    litellm_version = importlib.metadata.version("litellm")
    tiktoken_version = importlib.metadata.version("tiktoken")
    cost = model_cost()

    chat_modes = sorted(constants.OPENAI_CHAT_MODES)
    text_modes = sorted(token_counter._TEXT_MODEL_MODES)
    model_to_encoding = [
        (name, tiktoken_model.MODEL_TO_ENCODING[name])
        for name in sorted_unique(tiktoken_model.MODEL_TO_ENCODING, "MODEL_TO_ENCODING")
    ]
    # Dict order, not sorted: `encoding_name_for_model` takes the first prefix that matches.
    prefix_to_encoding = list(tiktoken_model.MODEL_PREFIX_TO_ENCODING.items())
    openai_chat = sorted_unique(litellm.open_ai_chat_completion_models, "open_ai_chat_completion_models")
    azure_llms = sorted_unique(litellm.azure_llms, "azure_llms")
    anthropic = sorted_unique(litellm.anthropic_models, "anthropic_models")
    cohere = sorted_unique(litellm.cohere_models, "cohere_models")

    kept = {key for key, entry in cost.items() if entry.get("litellm_provider") in KEPT_PROVIDERS}
    extra = reachable_non_chat_entries(cost)
    cost_rows = []
    for key in sorted_unique(kept | extra, "model_cost"):
        entry = cost[key]
        provider = entry.get("litellm_provider")
        mode = entry.get("mode")
        # Read only as `entry.get("supports_pdf_input") is True` for Azure entries.
        pdf = provider == "azure" and entry.get("supports_pdf_input") is True
        cost_rows.append(f"    ({rust_str(key)}, {rust_opt_str(provider)}, {rust_opt_str(mode)}, {str(pdf).lower()}),\n")

    digits = python_digit_ranges()

    regenerate = (
        "LITELLM_LOCAL_MODEL_COST_MAP=True LITELLM_OFFLINE_MODE=true <litellm-venv>/bin/python "
        "scripts/gen_model_data.py"
    )
    parts = [
        "// @generated by scripts/gen_model_data.py -- do not edit by hand.\n",
        f"// Source: litellm {litellm_version}, tiktoken {tiktoken_version}, "
        f"Python {sys.version.split()[0]} (Unicode {unicodedata.unidata_version}).\n",
        f"// Regenerate: {regenerate}\n",
        "\n",
        "//! The registry facts LiteLLM's model rules read, copied from one LiteLLM release.\n",
        "//!\n",
        "//! Every `&[&str]` and the first column of every `&[(&str, ...)]` is sorted (byte-wise)\n",
        "//! and duplicate-free, for binary search, except `TIKTOKEN_MODEL_PREFIX_TO_ENCODING`,\n",
        "//! which keeps tiktoken's order because the first matching prefix wins.\n",
        "\n",
        "/// The LiteLLM release this data was generated from.\n",
        f"pub(crate) const LITELLM_VERSION: &str = {rust_str(litellm_version)};\n",
        "\n",
        pair_array(
            "TIKTOKEN_MODEL_TO_ENCODING",
            "`tiktoken.model.MODEL_TO_ENCODING`: exact model name to encoding name.",
            model_to_encoding,
        ),
        "\n",
        pair_array(
            "TIKTOKEN_MODEL_PREFIX_TO_ENCODING",
            "`tiktoken.model.MODEL_PREFIX_TO_ENCODING` in its own (first match wins) order.",
            prefix_to_encoding,
        ),
        "\n",
        str_array("OPENAI_CHAT_MODES", "`litellm.constants.OPENAI_CHAT_MODES`.", chat_modes),
        "\n",
        str_array("TEXT_MODEL_MODES", "`token_counter._TEXT_MODEL_MODES`.", text_modes),
        "\n",
        str_array(
            "OPEN_AI_CHAT_COMPLETION_MODELS",
            "`litellm.open_ai_chat_completion_models`.",
            openai_chat,
        ),
        "\n",
        str_array(
            "AZURE_LLMS",
            "The keys of `litellm.azure_llms` (the rules test membership only).",
            azure_llms,
        ),
        "\n",
        str_array("ANTHROPIC_MODELS", "`litellm.anthropic_models`.", anthropic),
        "\n",
        str_array("COHERE_MODELS", "`litellm.cohere_models`.", cohere),
        "\n",
        "/// `litellm.model_cost` entries as `(key, litellm_provider, mode, azure_pdf)`, where\n",
        "/// `azure_pdf` is `provider == \"azure\" and supports_pdf_input is True`.\n",
        "///\n",
        "/// Holds every entry of the `openai`, `azure` and `text-completion-openai` providers, plus\n",
        "/// the entries of other providers with a non-chat mode under a name the rules can look up\n",
        f"/// ({len(extra)} in this release); every other entry answers the rules as a missing one does.\n",
        "#[rustfmt::skip]\n",
        "pub(crate) static MODEL_COST: &[(&str, Option<&str>, Option<&str>, bool)] = &[\n",
        *cost_rows,
        "];\n",
        "\n",
        "/// The code points Python's `re` matches with `\\d` (decimal digits, category `Nd`) in the\n",
        "/// Unicode database of the generating Python, as inclusive ranges.\n",
        "#[rustfmt::skip]\n",
        "pub(crate) static PYTHON_DECIMAL_DIGITS: &[(char, char)] = &[\n",
        *(f"    ('\\u{{{lo:x}}}', '\\u{{{hi:x}}}'),\n" for lo, hi in digits),
        "];\n",
    ]
    return rustfmt("".join(parts))


def rustfmt(source: str) -> str:
    """`source` as `cargo fmt` would format it."""
    done = subprocess.run(
        ["rustfmt", "--edition", "2024", "--emit", "stdout"],
        input=source,
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    if done.returncode != 0:
        raise SystemExit(f"rustfmt failed:\n{done.stderr}")
    return done.stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--check", action="store_true", help="compare with the file instead of writing it")
    args = parser.parse_args()
    text = generate()
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        if current != text:
            print(f"{args.output} is out of date; regenerate it", file=sys.stderr)
            return 1
        return 0
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
