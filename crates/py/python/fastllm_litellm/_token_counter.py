"""The ``token_counter`` feature: ``litellm.token_counter`` counted in Rust.

LiteLLM's ``token_counter`` (``litellm.litellm_core_utils.token_counter``, re-exported by
``litellm.utils`` and bound by name across LiteLLM) is swapped everywhere it is bound. A model
is resolved to a native counter by LiteLLM's own rules (:class:`_Resolver`: its tiktoken
encoding, legacy message accounting, image settings and extrapolation bounds, read from
LiteLLM itself); a model LiteLLM counts with a HuggingFace tokenizer, a custom tokenizer, a
chat-template tool rendering, or any input the counter does not reproduce goes to LiteLLM's
own function and counts as a fallback. :func:`count_tokens_batch` counts many texts with the
same rules, in parallel. The inline token estimate (:func:`inline_offload`) lets the v3 limiter
run a natively counted estimate on the event loop.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import os
import warnings
from collections.abc import Callable
from contextvars import ContextVar
from types import ModuleType
from typing import Any

from fastllm_litellm import _compat, _feature, _native
from fastllm_litellm._feature import STATS, Binding, Feature, NotApplicable, lock, patched, swap_everywhere

_ENCODINGS = frozenset(("r50k_base", "p50k_base", "p50k_edit", "cl100k_base", "o200k_base", "o200k_harmony"))
_TOKEN_COUNTER_PARAMETERS = (
    ("model", ""),
    ("custom_tokenizer", None),
    ("text", None),
    ("messages", None),
    ("count_response_tokens", False),
    ("tools", None),
    ("tool_choice", None),
    ("use_default_image_token_count", False),
    ("default_token_count", None),
)
_IMAGE_SETTINGS = (
    "DEFAULT_IMAGE_TOKEN_COUNT",
    "DEFAULT_IMAGE_WIDTH",
    "DEFAULT_IMAGE_HEIGHT",
    "MAX_IMAGE_URL_DOWNLOAD_SIZE_MB",
    "MAX_SHORT_SIDE_FOR_IMAGE_HIGH_RES",
    "MAX_LONG_SIDE_FOR_IMAGE_HIGH_RES",
)

_resolver: _Resolver | None = None

_OPENAI_TOKENIZER = "openai_tokenizer"
# The environment variable behind LiteLLM's `is_offline_mode()`; part of the resolver's cache key.
_OFFLINE_ENV = "LITELLM_OFFLINE_MODE"


class _Resolver:
    """Model name → native counter, by LiteLLM's own rules, cached while its registries hold."""

    def __init__(self, litellm: ModuleType, core: ModuleType, stats: _native.Stats) -> None:
        utils = importlib.import_module("litellm.utils")
        tools = importlib.import_module("litellm.litellm_core_utils.prompt_templates.chat_template_tools")
        self._litellm = litellm
        self._encoding_name = core.openai_tokenizer_encoding_name
        self._legacy = core.uses_legacy_message_accounting
        self._hf_kind = utils.huggingface_tokenizer_kind
        # What `_return_huggingface_tokenizer` loads even offline (it ships with LiteLLM), and
        # its offline switch: any other HuggingFace kind is counted with tiktoken offline.
        self._bundled_hf = frozenset(utils._BUNDLED_TOKENIZER_LOAD_LOCKS)
        self._utils = utils
        self._tool_section = tools.chat_template_tool_section
        self._stats = stats
        self._chunk_chars = inspect.signature(core._get_tiktoken_count_function).parameters["chunk_size"].default
        self._max_exact_chars = (
            inspect.signature(core._get_extrapolating_count_function).parameters["max_exact_chars"].default
        )
        tiles = inspect.signature(core.calculate_tiles_needed).parameters
        self._image = {name: getattr(core, name) for name in _IMAGE_SETTINGS}
        self._image["MAX_TILE_WIDTH"] = tiles["tile_width"].default
        self._image["MAX_TILE_HEIGHT"] = tiles["tile_height"].default
        self._cache: dict[object, _native.Counter | None] = {}
        self._fingerprint: tuple[object, ...] | None = None

    def fingerprint(self) -> tuple[object, ...]:
        litellm = self._litellm
        cost = litellm.model_cost
        return (
            id(cost),
            len(cost),
            len(litellm.open_ai_chat_completion_models),
            len(litellm.azure_llms),
            len(litellm.anthropic_models),
            len(litellm.cohere_models),
            litellm.disable_hf_tokenizer_download,
            os.environ.get(_OFFLINE_ENV),
        )

    def __call__(self, model: object) -> _native.Counter | None:
        fingerprint = self.fingerprint()
        if fingerprint != self._fingerprint:
            self._cache = {}
            self._fingerprint = fingerprint
        cache = self._cache
        try:
            return cache[model]
        except KeyError:
            counter = cache[model] = self._resolve(model)
            return counter
        except TypeError:  # an unhashable model: LiteLLM decides
            return None

    def openai_tokenizer(self, model: object) -> _native.Counter | None:
        """The counter for ``model`` with a ``custom_tokenizer`` of type ``openai_tokenizer``
        (what ``litellm.utils.select_tokenizer`` returns for a tiktoken model, and what the
        proxy's ``/utils/token_counter`` passes): LiteLLM's ``_get_exact_count_function``
        then counts with ``openai_tokenizer_encoding(model)`` whatever the dict's
        ``tokenizer`` holds, and never with a HuggingFace tokenizer."""
        return self((model, _OPENAI_TOKENIZER))

    def _resolve(self, model: object) -> _native.Counter | None:
        hf_applies = True
        if isinstance(model, tuple) and len(model) == 2 and model[1] is _OPENAI_TOKENIZER:
            model, hf_applies = model[0], False
        if not isinstance(model, str):
            return None
        if hf_applies and self._litellm.disable_hf_tokenizer_download is not True:
            kind = self._hf_kind(model)
            # LiteLLM's `_select_tokenizer_helper`: a kind it bundles always loads; any other
            # kind is downloaded from the HuggingFace hub, except in offline mode, where it
            # counts with tiktoken like any other model.
            if kind is not None and (kind in self._bundled_hf or not self._utils.is_offline_mode()):
                return None  # a HuggingFace tokenizer: LiteLLM's own code counts
        if self._tool_section(model) is not None:
            return None  # a chat-template tool rendering this crate does not reproduce
        encoding = self._encoding_name(model)
        if encoding not in _ENCODINGS:
            return None
        return _native.Counter(
            encoding,
            legacy=bool(self._legacy(model)),
            chunk_chars=self._chunk_chars,
            max_exact_chars=self._max_exact_chars,
            image=self._image,
            stats=self._stats,
        )


def _token_counter_mismatch(core: ModuleType) -> str | None:
    """Why this LiteLLM's token_counter cannot be patched, or None."""
    try:
        parameters = inspect.signature(core.token_counter).parameters
    except (TypeError, ValueError) as error:
        return f"cannot read token_counter's signature: {error}"
    found = tuple((p.name, p.default) for p in parameters.values())
    if found != _TOKEN_COUNTER_PARAMETERS:
        return f"token_counter's parameters are {found}, expected {_TOKEN_COUNTER_PARAMETERS}"
    base = inspect.signature(core.calculate_img_tokens).parameters.get("base_tokens")
    if base is None or base.default != 85:
        return "calculate_img_tokens no longer defaults base_tokens to 85"
    needed = (
        "openai_tokenizer_encoding_name",
        "uses_legacy_message_accounting",
        "_get_tiktoken_count_function",
        "_get_extrapolating_count_function",
        "calculate_tiles_needed",
        *_IMAGE_SETTINGS,
    )
    missing = [name for name in needed if not hasattr(core, name)]
    return f"missing {', '.join(missing)}" if missing else None


def _make_token_counter(
    original: Callable[..., int], litellm: ModuleType, resolve: _Resolver, stats: _native.Stats
) -> Callable[..., int]:
    @functools.wraps(original)
    def token_counter(
        model="",
        custom_tokenizer=None,
        text=None,
        messages=None,
        count_response_tokens=False,
        tools=None,
        tool_choice=None,
        use_default_image_token_count=False,
        default_token_count=None,
    ):
        if litellm.disable_token_counter is True:
            return 0
        try:
            if custom_tokenizer is None:
                counter = resolve(model)
            elif type(custom_tokenizer) is dict and custom_tokenizer.get("type") == _OPENAI_TOKENIZER:
                counter = resolve.openai_tokenizer(model)
            else:
                counter = None
            if counter is None:
                stats.record_fallback(
                    f"model {model!r}"
                    if custom_tokenizer is None
                    else f"model {model!r} with an openai_tokenizer"
                    if type(custom_tokenizer) is dict and custom_tokenizer.get("type") == _OPENAI_TOKENIZER
                    else "custom tokenizer"
                )
            elif text is None:
                if messages is not None:
                    n = counter.count_messages(
                        messages,
                        tools,
                        tool_choice,
                        count_response_tokens is not False,
                        bool(use_default_image_token_count),
                    )
                    if n is not None:
                        return n
                else:
                    stats.record_fallback("neither text nor messages")
            elif messages is None and not tools and not tool_choice:
                n = counter.count_litellm_text(text)
                if n is not None:
                    return n
            else:
                stats.record_fallback("arguments LiteLLM rejects")
        except Exception as error:  # noqa: BLE001 - any failure of ours goes to LiteLLM
            stats.record_fallback(f"{type(error).__name__}: {error}")
        handed_back = _inline_estimate.get()
        if handed_back is not None:
            # Inside a token estimate run inline on the event loop: LiteLLM's own counter may
            # download an image or a tokenizer, so the estimate goes back to its worker thread.
            handed_back.append(model)
            raise _RunInThread
        return original(
            model,
            custom_tokenizer,
            text,
            messages,
            count_response_tokens,
            tools,
            tool_choice,
            use_default_image_token_count,
            default_token_count,
        )

    return token_counter


def install(litellm: ModuleType, explicit: bool, feature: Feature) -> None:
    """The ``token_counter`` feature's patcher (see :mod:`fastllm_litellm._feature`)."""
    global _resolver
    core = importlib.import_module("litellm.litellm_core_utils.token_counter")
    utils = importlib.import_module("litellm.utils")
    # Applies when the functions it reproduces have verified fingerprints (fastllm_litellm._compat)
    # and token_counter takes the parameters the replacement passes on.
    reason = _compat.check("token_counter")
    if reason is None and (mismatch := _token_counter_mismatch(core)) is not None:
        reason = f"litellm {_feature.litellm_version()}: {mismatch}"
    if reason is not None:
        warnings.warn(f"fastllm_litellm: not patching token_counter: {reason}", RuntimeWarning, stacklevel=4)
        raise NotApplicable(reason)
    stats = STATS["token_counter"]
    resolver = _Resolver(litellm, core, stats)
    _resolver = resolver
    for original in (core.token_counter, utils.token_counter):
        replacement = _make_token_counter(core.token_counter, litellm, resolver, stats)
        feature.replacements[id(original)] = (original, replacement)
    swap_everywhere(feature, feature.replacements)
    # `litellm.token_counter` is a lazy attribute until first read: bind it explicitly.
    if "token_counter" not in litellm.__dict__:
        feature.bindings.append(Binding(litellm, "token_counter", None, False))
        litellm.token_counter = feature.replacements[id(utils.token_counter)][1]


class _RunInThread(BaseException):
    """Raised by the patched ``token_counter`` inside an inline token estimate when LiteLLM's
    own counter must run. A ``BaseException``, so LiteLLM's ``except Exception`` fallbacks in
    the estimate do not take it for a counting error."""


# Set while a token estimate runs inline: the patched token_counter appends to the list, and
# raises _RunInThread, instead of calling LiteLLM's own counter there.
_inline_estimate: ContextVar[list[object] | None] = ContextVar("fastllm_inline_estimate", default=None)


def inline_offload(original: Callable[..., Any]) -> Callable[..., Any]:
    """The limiter's ``offload_token_count``: while token_counter is patched, the estimate runs
    inline on the event loop instead of hopping to a worker thread and back, which costs more
    than the native count itself. The same function gets the same arguments and its result
    or exception is the awaited one.

    Only native counts run inline. An estimate that needs LiteLLM's own counter (which may
    download a remote image or a tokenizer) is stopped there and run again, from the start,
    through LiteLLM's own offload on its worker thread; a call of the estimate's that LiteLLM's
    ``token_counter`` answered is then counted twice in ``status()`` (one fallback each time).
    Without the token_counter patch, LiteLLM's hop stays."""

    @functools.wraps(original)
    def offload_token_count(function):
        if "token_counter" not in patched:
            return original(function)

        async def inline(*args, **kwargs):
            handed_back: list[object] = []
            token = _inline_estimate.set(handed_back)
            try:
                result = function(*args, **kwargs)
            except _RunInThread:
                pass
            except BaseException:
                if not handed_back:
                    raise
            finally:
                _inline_estimate.reset(token)
            # Also when the estimate swallowed the signal: its answer may be a fallback of its own.
            if handed_back:
                return await original(function)(*args, **kwargs)
            return result

        return inline

    return offload_token_count


def count_tokens_batch(model: str, texts: list[str]) -> list[int]:
    """``[litellm.token_counter(model=model, text=t) for t in texts]``, in parallel in Rust with
    the GIL released. Models LiteLLM counts with a HuggingFace tokenizer are counted by LiteLLM.

    Raises:
        TypeError: ``model`` is not a str, or ``texts`` is not a list of str.
    """
    global _resolver
    if not isinstance(model, str):
        raise TypeError(f"model must be str, not {type(model).__name__}")
    if not isinstance(texts, list):
        raise TypeError(f"texts must be a list of str, not {type(texts).__name__}")
    litellm = _feature.import_litellm()
    if litellm.disable_token_counter is True:
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise TypeError(f"texts[{i}] must be str, not {type(text).__name__}")
        return [0] * len(texts)
    with lock:
        if _resolver is None:
            core = importlib.import_module("litellm.litellm_core_utils.token_counter")
            _resolver = _Resolver(litellm, core, STATS["token_counter"])
        resolver = _resolver
    counter = resolver(model)
    if counter is None:
        core = importlib.import_module("litellm.litellm_core_utils.token_counter")
        original = _original_token_counter(core)
        out = []
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise TypeError(f"texts[{i}] must be str, not {type(text).__name__}")
            out.append(original(model=model, text=text))
        return out
    try:
        return counter.count_batch(texts)
    except UnicodeEncodeError:
        # A str with lone surrogates: LiteLLM counts it (tiktoken replaces them); Rust cannot.
        core = importlib.import_module("litellm.litellm_core_utils.token_counter")
        original = _original_token_counter(core)
        out = []
        for text in texts:
            try:
                out.append(counter.count(text))
            except UnicodeEncodeError:
                out.append(original(model=model, text=text))
        return out


def _original_token_counter(core: ModuleType) -> Callable[..., int]:
    feature = patched.get("token_counter")
    if feature is not None:
        for original, replacement in feature.replacements.values():
            if core.token_counter is replacement:
                return original  # type: ignore[return-value]
    return core.token_counter
