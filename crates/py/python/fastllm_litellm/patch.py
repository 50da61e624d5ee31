"""The LiteLLM patch layer: find every binding of a hot function, swap it, restore it exactly."""

from __future__ import annotations

import functools
import importlib
import importlib.metadata
import inspect
import os
import sys
import threading
import warnings
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from types import ModuleType
from typing import Any

from fastllm_litellm import _compat, _native

FEATURES: tuple[str, ...] = ("token_counter", "rate_limit", "router")
"""Every feature :func:`patch` knows."""

ENV_VAR = "FASTLLM_LITELLM_FEATURES"
"""Comma-separated features :func:`patch` applies when called without ``features``."""

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


class UnknownFeatureError(_native.FastLLMError, ValueError):
    """A feature name that :data:`FEATURES` does not list."""


@dataclass
class _Binding:
    module: ModuleType
    name: str
    original: object
    present: bool


@dataclass
class _Feature:
    bindings: list[_Binding] = field(default_factory=list)
    replacements: dict[int, tuple[object, object]] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    """Parts of the feature this install does not take, and why (the rest is patched)."""


class _NotApplicable(Exception):
    """Raised by a patcher: this feature does not apply to this install, for ``reason``.

    The one way a patcher says "not applicable": :func:`patch` catches it, installs nothing
    for the feature (bindings a patcher made before raising are restored), and
    :func:`status` reports ``"applicable": False`` with ``str(reason)``. Any other exception
    a patcher raises (a LiteLLM module that fails to import, a missing optional dependency, an
    error of ours) is reported the same way, with the exception's type and text as the
    reason. A check that decides applicability per patched function (its source, its
    signature) raises this from the patcher, before or after part of the feature is
    installed. A patcher that applies in part records the parts it skips in
    ``_Feature.skipped`` instead."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


_lock = threading.RLock()
_patched: dict[str, _Feature] = {}
_stats: dict[str, _native.Stats] = {name: _native.Stats() for name in FEATURES}
_resolver: _Resolver | None = None
# Per feature, why the last patch() did not apply it (or the parts of it it skipped).
_not_applied: dict[str, tuple[bool, str]] = {}


def _keep_signature(replacement: object, original: object) -> object:
    """``replacement``, made to show ``original``'s signature to ``inspect.signature`` and
    ``inspect.getfullargspec``; returns what to install (``replacement`` or a forwarder).

    ``functools.wraps`` makes ``inspect.signature`` follow ``__wrapped__``, but
    ``inspect.getfullargspec`` (which LiteLLM's proxy reads to choose a hook's constructor
    arguments) does not; both honour ``__signature__``, so the replacement gets the
    original's. An original that is itself a decorator's wrapper (LiteLLM's
    ``with_service_target``) shows two signatures: its own ``(*args, **kwargs)`` to
    ``getfullargspec`` and the wrapped function's to ``inspect.signature``. One
    ``__signature__`` cannot show both, so the replacement is installed behind a forwarder
    with the wrapper's own parameters that wraps the original, as the wrapper does."""
    try:
        own = inspect.signature(original, follow_wrapped=False)  # type: ignore[arg-type]
        followed = inspect.signature(original)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return replacement
    try:
        if inspect.signature(replacement, follow_wrapped=False) == own:  # type: ignore[arg-type]
            # The same parameters, and the original's annotations dict (``functools.wraps``
            # shares it): nothing to add; ``inspect.signature`` follows ``__wrapped__`` to
            # the original, as it does from the original.
            return replacement
    except (TypeError, ValueError):
        pass
    if own != followed:
        forwarder = _forwarder(replacement, original, own)
        if forwarder is not None:
            return forwarder
    try:
        replacement.__signature__ = own  # type: ignore[attr-defined]
    except (AttributeError, TypeError, ValueError):
        pass
    return replacement


def _forwarder(replacement: Any, original: Any, own: inspect.Signature) -> Callable[..., Any] | None:
    """A function with ``own``'s parameters that calls ``replacement``; None unless ``own`` is
    positional parameters without defaults, then ``*args, **kwargs`` (a decorator's wrapper)."""
    kinds = [parameter.kind for parameter in own.parameters.values()]
    names = list(own.parameters)
    if kinds[-2:] != [inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD]:
        return None
    leading = own.parameters.values()
    if any(
        p.kind is not inspect.Parameter.POSITIONAL_OR_KEYWORD or p.default is not inspect.Parameter.empty
        for p in list(leading)[:-2]
    ) or not all(name.isidentifier() for name in names):
        return None
    head = "".join(f"{name}, " for name in names[:-2])
    call = f"__replacement({head}*{names[-2]}, **{names[-1]})"
    asynchronous = inspect.iscoroutinefunction(replacement)
    source = (
        f"{'async ' if asynchronous else ''}def forward({head}*{names[-2]}, **{names[-1]}):\n"
        f"    return {'await ' if asynchronous else ''}{call}\n"
    )
    namespace: dict[str, Any] = {"__replacement": replacement}
    exec(source, namespace)  # noqa: S102 - a forwarder built from parameter names only
    forward = functools.wraps(original)(namespace["forward"])
    forward.__fastllm_replacement__ = replacement  # type: ignore[attr-defined]
    return forward


def _litellm() -> ModuleType:
    try:
        return importlib.import_module("litellm")
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError("fastllm_litellm needs the litellm package: pip install litellm") from error


@functools.lru_cache(maxsize=1)
def _litellm_version() -> str | None:
    # Read once: importlib.metadata parses the installed METADATA file (about 2 ms), and
    # status() names the release every time the launcher's status file is written.
    try:
        return importlib.metadata.version("litellm")
    except importlib.metadata.PackageNotFoundError:
        return None


def _parse_features(features: Iterable[str] | str | None) -> list[str]:
    if features is None:
        raw = os.environ.get(ENV_VAR)
        if raw is None:
            return list(FEATURES)
        features = [part.strip() for part in raw.split(",") if part.strip()]
    elif isinstance(features, str):
        features = [features]
    elif not isinstance(features, Iterable):
        raise TypeError(f"features must be a list of str, not {type(features).__name__}")
    names = list(features)
    for name in names:
        if not isinstance(name, str):
            raise TypeError(f"feature names must be str, not {type(name).__name__}")
        if name not in FEATURES:
            raise UnknownFeatureError(f"unknown feature {name!r}; known features: {', '.join(FEATURES)}")
    return names


def _litellm_modules() -> list[ModuleType]:
    return [
        module
        for name, module in sys.modules.copy().items()
        if isinstance(module, ModuleType) and (name == "litellm" or name.startswith("litellm."))
    ]


def _swap_everywhere(feature: _Feature, originals: dict[int, tuple[object, object]]) -> None:
    """Replace every module-level binding of each original with its replacement."""
    for module in _litellm_modules():
        namespace = getattr(module, "__dict__", {})
        for name, value in namespace.copy().items():  # a copy: another thread may import meanwhile
            pair = originals.get(id(value))
            if pair is not None and value is pair[0]:
                feature.bindings.append(_Binding(module, name, value, True))
                setattr(module, name, pair[1])


def _restore(feature: _Feature) -> None:
    for binding in reversed(feature.bindings):
        if binding.present:
            setattr(binding.module, binding.name, binding.original)
        elif isinstance(binding.module, type):
            if binding.name in vars(binding.module):
                delattr(binding.module, binding.name)
        else:
            binding.module.__dict__.pop(binding.name, None)
    # Modules imported while patched bound a replacement by name: give them the original.
    back = {id(replacement): (replacement, original) for original, replacement in feature.replacements.values()}
    for module in _litellm_modules() if back else ():
        namespace = getattr(module, "__dict__", {})
        for name, value in namespace.copy().items():  # a copy: another thread may import meanwhile
            pair = back.get(id(value))
            if pair is not None and value is pair[0]:
                setattr(module, name, pair[1])


# --------------------------------------------------------------------------------------------
# token_counter


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


def _patch_token_counter(litellm: ModuleType, feature: _Feature) -> None:
    global _resolver
    core = importlib.import_module("litellm.litellm_core_utils.token_counter")
    utils = importlib.import_module("litellm.utils")
    # Applies when the functions it reproduces have verified fingerprints (fastllm_litellm._compat)
    # and token_counter takes the parameters the replacement passes on.
    reason = _compat.check("token_counter")
    if reason is None and (mismatch := _token_counter_mismatch(core)) is not None:
        reason = f"litellm {_litellm_version()}: {mismatch}"
    if reason is not None:
        warnings.warn(f"fastllm_litellm: not patching token_counter: {reason}", RuntimeWarning, stacklevel=4)
        raise _NotApplicable(reason)
    stats = _stats["token_counter"]
    resolver = _Resolver(litellm, core, stats)
    _resolver = resolver
    for original in (core.token_counter, utils.token_counter):
        replacement = _make_token_counter(core.token_counter, litellm, resolver, stats)
        feature.replacements[id(original)] = (original, replacement)
    _swap_everywhere(feature, feature.replacements)
    # `litellm.token_counter` is a lazy attribute until first read: bind it explicitly.
    if "token_counter" not in litellm.__dict__:
        feature.bindings.append(_Binding(litellm, "token_counter", None, False))
        litellm.token_counter = feature.replacements[id(utils.token_counter)][1]


# --------------------------------------------------------------------------------------------
# rate_limit

_V3_MODULE = "litellm.proxy.hooks.parallel_request_limiter_v3"
_V3_CLASS = "_PROXY_MaxParallelRequestsHandler_v3"
_SHOULD_RATE_LIMIT_PARAMETERS = (
    ("self", inspect.Parameter.empty),
    ("descriptors", inspect.Parameter.empty),
    ("parent_otel_span", None),
    ("read_only", False),
    ("skip_tpm_check", False),
    ("parallel_slot_id", None),
    ("skip_parallel_check", False),
)


def _rate_limit_mismatch(v3: ModuleType) -> str | None:
    """Why this LiteLLM's v3 limiter cannot take the native keyspace, or None."""
    cls = getattr(v3, _V3_CLASS, None)
    if cls is None:
        return f"{_V3_MODULE} has no {_V3_CLASS}"
    store = getattr(v3, "RateLimitStore", None)
    if store is None:
        return "the v3 limiter keeps its counters in DualCache, not in a RateLimitStore handle (the 1.109 line)"
    found = tuple((p.name, p.default) for p in inspect.signature(cls.should_rate_limit).parameters.values())
    if found != _SHOULD_RATE_LIMIT_PARAMETERS:
        return f"should_rate_limit's parameters are {found}, expected {_SHOULD_RATE_LIMIT_PARAMETERS}"
    if "rate_limit_store" not in inspect.signature(cls.__init__).parameters:
        return "the v3 limiter's constructor takes no rate_limit_store"
    if not isinstance(getattr(v3, "RateLimitScope", None), type):
        return "the v3 limiter module has no RateLimitScope"
    if not isinstance(getattr(v3, "PARALLEL_REQUEST_SLOT_TTL_SECONDS", None), int):
        return "PARALLEL_REQUEST_SLOT_TTL_SECONDS is missing"
    for name in (
        "_get_current_time",
        "_in_memory_cache_sliding_window",
        "_acquire_parallel_slots_in_memory",
        "_atomic_check_and_increment_in_memory",
        "atomic_check_and_increment_by_n",
    ):
        if not callable(getattr(cls, name, None)):
            return f"the v3 limiter has no {name}"
    return None


def _patch_rate_limit(litellm: ModuleType, explicit: bool, feature: _Feature) -> None:
    """The v3 proxy limiter and the router's per-deployment checks, on both lines; each part
    this install cannot take (its module does not import, it does not match, or patching it
    fails) is skipped and listed in ``feature.skipped``, with a warning when the feature was
    named explicitly. Not applicable when no part applies."""

    def v3_limiter(v3: ModuleType) -> tuple[Callable[[_Feature, ModuleType], None] | None, str | None]:
        if (unverified := _compat.check("rate_limit.v3")) is not None:
            return None, unverified
        reason = _rate_limit_mismatch(v3)
        if reason is None:
            return _patch_v3_limiter, None  # 1.110: the keyspace moves to Rust
        if _dual_cache_limiter_mismatch(v3) is None:
            return _patch_v3_dual_cache_limiter, None  # 1.109: the state stays in DualCache
        return None, reason

    def when(mismatch, patcher, part):
        return lambda module: (
            (patcher, None) if (reason := mismatch(module) or _compat.check(part)) is None else (None, reason)
        )

    parts = (
        (
            "the v3 limiter",
            _V3_MODULE,
            v3_limiter,
            "; it needs LiteLLM's proxy dependencies (fastapi, orjson, backoff, redis)",
        ),
        (
            "the router's deployment check",
            _MODEL_CHECK_MODULE,
            when(_model_check_mismatch, _patch_model_rate_limit_check, "rate_limit.model_check"),
            "",
        ),
        (
            "the usage-based-v2 check",
            _USAGE_V2_MODULE,
            when(_usage_v2_mismatch, _patch_usage_v2_check, "rate_limit.usage_v2"),
            "",
        ),
    )
    skipped = feature.skipped
    for label, name, choose, hint in parts:
        try:
            module = importlib.import_module(name)
        except Exception as error:  # noqa: BLE001 - a module that does not import is a skipped part
            skipped.append(f"{label}: cannot import {name} ({type(error).__name__}: {error}){hint}")
            continue
        mark = len(feature.bindings)
        try:
            patcher, reason = choose(module)
            if patcher is None:
                skipped.append(f"{label} on litellm {_litellm_version()}: {reason}")
            else:
                patcher(feature, module)
        except Exception as error:  # noqa: BLE001 - the part is skipped, what it installed restored
            _restore(_Feature(bindings=feature.bindings[mark:]))
            del feature.bindings[mark:]
            skipped.append(f"{label}: {type(error).__name__}: {error}{hint}")
    if explicit:
        for why in skipped:
            warnings.warn(f"fastllm_litellm: rate_limit does not patch {why}", RuntimeWarning, stacklevel=4)
    if not feature.bindings:
        raise _NotApplicable("; ".join(skipped) or "no part of it applies")


def _make_should_rate_limit(original_check: Callable[..., Any], decide: Callable[..., Any]) -> Callable[..., Any]:
    """The v3 limiter's patched ``should_rate_limit``: ``decide`` (a native call) answers, or
    returns None (the fallback counted, nothing changed) and LiteLLM's own method does.

    Where LiteLLM's method is a decorator's ``(*args, **kwargs)`` wrapper
    (``with_service_target``), the replacement takes ``(*args, **kwargs)`` too and binds them
    by the method's own parameters, so it shows both of the original's signatures without a
    forwarding coroutine (see :func:`_keep_signature`); a call those parameters reject goes
    to LiteLLM's method, which raises its own ``TypeError``."""

    async def explicit(
        self,
        descriptors,
        parent_otel_span=None,
        read_only=False,
        skip_tpm_check=False,
        parallel_slot_id=None,
        skip_parallel_check=False,
    ):
        response = decide(self, descriptors, read_only, skip_tpm_check, parallel_slot_id, skip_parallel_check)
        if response is None:
            return await original_check(
                self, descriptors, parent_otel_span, read_only, skip_tpm_check, parallel_slot_id, skip_parallel_check
            )
        return response

    try:
        own = inspect.signature(original_check, follow_wrapped=False)
    except (TypeError, ValueError):
        own = None
    shape = [(n, p.kind) for n, p in own.parameters.items()] if own is not None else []
    if shape != [("args", inspect.Parameter.VAR_POSITIONAL), ("kwargs", inspect.Parameter.VAR_KEYWORD)]:
        return functools.wraps(original_check)(explicit)

    def arguments(
        self,
        descriptors,
        parent_otel_span=None,
        read_only=False,
        skip_tpm_check=False,
        parallel_slot_id=None,
        skip_parallel_check=False,
    ):
        return self, descriptors, parent_otel_span, read_only, skip_tpm_check, parallel_slot_id, skip_parallel_check

    async def should_rate_limit(*args, **kwargs):
        try:
            self, descriptors, span, read_only, skip_tpm_check, slot_id, skip_parallel = arguments(*args, **kwargs)
        except TypeError:
            return await original_check(*args, **kwargs)
        response = decide(self, descriptors, read_only, skip_tpm_check, slot_id, skip_parallel)
        if response is None:
            return await original_check(self, descriptors, span, read_only, skip_tpm_check, slot_id, skip_parallel)
        return response

    return functools.wraps(original_check)(should_rate_limit)


def _patch_v3_limiter(feature: _Feature, v3: ModuleType) -> None:
    cls = getattr(v3, _V3_CLASS)
    stats = _stats["rate_limit"]
    original_init = cls.__dict__["__init__"]
    original_check = cls.__dict__["should_rate_limit"]
    init_signature = inspect.signature(original_init)
    store_type = v3.RateLimitStore
    slot_ttl = v3.PARALLEL_REQUEST_SLOT_TTL_SECONDS
    local_type = _native.LocalRateLimits
    now_of = cls._get_current_time

    @functools.wraps(original_init)
    def __init__(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        try:
            injected = init_signature.bind(self, *args, **kwargs).arguments.get("rate_limit_store")
        except TypeError:
            return
        store = self.rate_limits
        handle = getattr(store, "_handle", None)
        # Only LiteLLM's own memory-only store moves to Rust; an injected store is the caller's.
        if injected is None and handle is not None and not store.has_redis and type(handle) is not local_type:
            provider = getattr(self, "_time_provider", None)
            clock = provider if provider is not None and provider == datetime.now else None
            self.rate_limits = store_type(
                local_type(handle, stats=stats, system_clock=clock, current_time=now_of, slot_ttl=slot_ttl)
            )

    should_rate_limit = _make_should_rate_limit(original_check, _native.V3Checks(stats).should_rate_limit)

    original_atomic = cls.__dict__["_atomic_check_and_increment_in_memory"]

    @functools.wraps(original_atomic)
    def _atomic_check_and_increment_in_memory(self, per_counter_meta):
        response = _on_native_keyspace(
            self,
            lambda handle: handle.atomic_check_and_increment(
                per_counter_meta, int(self._get_current_time().timestamp())
            ),
        )
        return original_atomic(self, per_counter_meta) if response is None else response

    original_by_n = cls.__dict__["atomic_check_and_increment_by_n"]
    scope_type = v3.RateLimitScope

    @functools.wraps(original_by_n)
    async def atomic_check_and_increment_by_n(self, descriptors, increments, parent_otel_span=None):
        response = _on_native_keyspace(
            self,
            lambda handle: handle.atomic_check_and_increment_by_n(
                descriptors, increments, self.window_size, int(self._get_current_time().timestamp()), scope_type
            ),
        )
        if response is None:
            return await original_by_n(self, descriptors, increments, parent_otel_span)
        return response

    def _on_native_keyspace(self, decide):
        """``decide(handle)`` for a limiter whose keyspace is in Rust, else None; every None
        (not ours, unsupported input, an error of ours) is counted as a fallback."""
        handle = getattr(getattr(self, "rate_limits", None), "_handle", None)
        if type(handle) is not local_type:
            stats.record_fallback("a limiter with Redis, an injected store, or built before patch()")
            return None
        try:
            return decide(handle)
        except Exception as error:  # noqa: BLE001 - any failure of ours goes to LiteLLM
            stats.record_fallback(f"{type(error).__name__}: {error}")
            return None

    for name, original, replacement in (
        ("__init__", original_init, __init__),
        ("should_rate_limit", original_check, should_rate_limit),
        ("_atomic_check_and_increment_in_memory", original_atomic, _atomic_check_and_increment_in_memory),
        ("atomic_check_and_increment_by_n", original_by_n, atomic_check_and_increment_by_n),
    ):
        feature.bindings.append(_Binding(cls, name, original, True))  # type: ignore[arg-type]
        setattr(cls, name, replacement)
    offload = v3.__dict__.get("offload_token_count")
    if callable(offload):
        feature.bindings.append(_Binding(v3, "offload_token_count", offload, True))
        v3.offload_token_count = _make_inline_offload(offload)


# The 1.109 line's v3 limiter, whose state lives in the proxy's shared DualCache.


def _dual_cache_limiter_mismatch(v3: ModuleType) -> str | None:
    """Why this LiteLLM's v3 limiter is not the DualCache-backed one (the 1.109 line) the
    native path reproduces, or None."""
    cls = getattr(v3, _V3_CLASS, None)
    if cls is None:
        return f"{_V3_MODULE} has no {_V3_CLASS}"
    if getattr(v3, "RateLimitStore", None) is not None:
        return "the v3 limiter keeps its counters in a RateLimitStore handle"
    found = tuple((p.name, p.default) for p in inspect.signature(cls.should_rate_limit).parameters.values())
    if found != _SHOULD_RATE_LIMIT_PARAMETERS:
        return f"should_rate_limit's parameters are {found}, expected {_SHOULD_RATE_LIMIT_PARAMETERS}"
    if "internal_usage_cache" not in inspect.signature(cls.__init__).parameters:
        return "the v3 limiter's constructor takes no internal_usage_cache"
    for name in (
        "_get_current_time",
        "_in_memory_cache_sliding_window",
        "is_cache_list_over_limit",
        "_collect_windowed_keys_and_gauges",
        "_batch_get_counter_values",
    ):
        if not callable(getattr(cls, name, None)):
            return f"the v3 limiter has no {name}"
    if not callable(getattr(v3, "_sibling_counter_keys", None)):
        return "the v3 limiter module has no _sibling_counter_keys"
    return None


def _patch_v3_dual_cache_limiter(feature: _Feature, v3: ModuleType) -> None:
    from litellm.caching.dual_cache import DualCache
    from litellm.caching.in_memory_cache import InMemoryCache
    from litellm.proxy.utils import InternalUsageCache

    cls = getattr(v3, _V3_CLASS)
    original_check = cls.__dict__["should_rate_limit"]
    decide = _native.V3DualCacheChecks(
        _stats["rate_limit"],
        InternalUsageCache,
        DualCache,
        InMemoryCache,
        datetime.now,
        cls.__dict__["_get_current_time"],
        v3,
        _cache_steps(),
    ).should_rate_limit
    should_rate_limit = _make_should_rate_limit(original_check, decide)

    feature.bindings.append(_Binding(cls, "should_rate_limit", original_check, True))  # type: ignore[arg-type]
    cls.should_rate_limit = should_rate_limit
    offload = v3.__dict__.get("offload_token_count")
    if callable(offload):
        feature.bindings.append(_Binding(v3, "offload_token_count", offload, True))
        v3.offload_token_count = _make_inline_offload(offload)


def _cache_steps() -> _native.InMemoryCacheSteps:
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


# The router's per-deployment check (`enforce_model_rate_limits`), both lines.
_MODEL_CHECK_MODULE = "litellm.router_utils.pre_call_checks.model_rate_limit_check"
_MODEL_CHECK_CLASS = "ModelRateLimitingCheck"


def _model_check_mismatch(checks: ModuleType) -> str | None:
    """Why this LiteLLM's ModelRateLimitingCheck is not the one the native path reproduces."""
    cls = getattr(checks, _MODEL_CHECK_CLASS, None)
    if not isinstance(cls, type):
        return f"{_MODEL_CHECK_MODULE} has no {_MODEL_CHECK_CLASS}"
    expected = {
        "pre_call_check": ("self", "deployment"),
        "async_pre_call_check": ("self", "deployment", "parent_otel_span"),
        "__init__": ("self", "dual_cache", "clock"),
    }
    for name, parameters in expected.items():
        method = cls.__dict__.get(name)
        if not callable(method):
            return f"{_MODEL_CHECK_CLASS} has no {name}"
        found = tuple(inspect.signature(method).parameters)
        if found != parameters:
            return f"{_MODEL_CHECK_CLASS}.{name} takes {found}, expected {parameters}"
    if not isinstance(getattr(getattr(checks, "RoutingArgs", None), "ttl", None), int):
        return "RoutingArgs.ttl is missing"
    if not isinstance(getattr(checks, "DualCache", None), type):
        return "the check module has no DualCache"
    return None


def _patch_model_rate_limit_check(feature: _Feature, checks: ModuleType) -> None:
    import datetime as dt

    import httpx
    from litellm.caching.in_memory_cache import InMemoryCache
    from litellm.types.router import RouterErrors

    cls = getattr(checks, _MODEL_CHECK_CLASS)
    stats = _stats["rate_limit"]
    utc_clock = inspect.signature(cls.__init__).parameters["clock"].default
    decide = _native.ModelRateLimitChecks(
        stats,
        checks.DualCache,
        InMemoryCache,
        utc_clock,
        checks.RoutingArgs,
        dt.datetime,
        _cache_steps(),
    ).check
    original_sync = cls.__dict__["pre_call_check"]
    original_async = cls.__dict__["async_pre_call_check"]

    def refusal(deployment, kind, limit, usage, *, is_async):
        """The RateLimitError LiteLLM's check raises for `kind` ("tpm"/"rpm") over `limit`."""
        model_id = deployment.get("model_info", {}).get("id")
        group = deployment.get("model_name", "")
        extra = {"num_retries": 0} if is_async else {}
        return checks.litellm.RateLimitError(
            message=f"Model rate limit exceeded. {kind.upper()} limit={limit}, current usage={usage}",
            llm_provider="",
            model=deployment.get("litellm_params", {}).get("model"),
            response=httpx.Response(
                status_code=429,
                content=f"{RouterErrors.user_defined_ratelimit_error.value} {kind} limit={limit}. "
                f"current usage={usage}. id={model_id}, model_group={group}",
                headers={"retry-after": str(60)},
                request=httpx.Request(method="model_rate_limit_check", url="https://github.com/BerriAI/litellm"),
            ),
            **extra,
        )

    @functools.wraps(original_sync)
    def pre_call_check(self, deployment):
        verdict = decide(self, deployment, False)
        if verdict is None:
            return original_sync(self, deployment)
        kind, limit, usage = verdict
        if kind is None:
            return deployment
        raise refusal(deployment, kind, limit, usage, is_async=False)

    @functools.wraps(original_async)
    async def async_pre_call_check(self, deployment, parent_otel_span=None):
        verdict = decide(self, deployment, True, parent_otel_span)
        if verdict is None:
            return await original_async(self, deployment, parent_otel_span)
        kind, limit, usage = verdict
        if kind is None:
            return deployment
        raise refusal(deployment, kind, limit, usage, is_async=True)

    for name, original, replacement in (
        ("pre_call_check", original_sync, pre_call_check),
        ("async_pre_call_check", original_async, async_pre_call_check),
    ):
        feature.bindings.append(_Binding(cls, name, original, True))  # type: ignore[arg-type]
        setattr(cls, name, replacement)


# The usage-based-v2 strategy's per-deployment check, both lines.
_USAGE_V2_MODULE = "litellm.router_strategy.lowest_tpm_rpm_v2"
_USAGE_V2_CLASS = "LowestTPMLoggingHandler_v2"


def _usage_v2_mismatch(module: ModuleType) -> str | None:
    """Why this LiteLLM's usage-based-v2 check is not the one the native path reproduces."""
    cls = getattr(module, _USAGE_V2_CLASS, None)
    if not isinstance(cls, type):
        return f"{_USAGE_V2_MODULE} has no {_USAGE_V2_CLASS}"
    expected = {
        "pre_call_check": ("self", "deployment"),
        "async_pre_call_check": ("self", "deployment", "parent_otel_span"),
        "_increment_value_in_current_window": ("self", "key", "value", "ttl"),
        "add_to_in_memory_keys_to_update": ("self", "key"),
    }
    for name, parameters in expected.items():
        method = getattr(cls, name, None)
        if not callable(method):
            return f"{_USAGE_V2_CLASS} has no {name}"
        found = tuple(inspect.signature(method).parameters)
        if found != parameters:
            return f"{_USAGE_V2_CLASS}.{name} takes {found}, expected {parameters}"
    if not callable(getattr(module, "get_utc_datetime", None)):
        return "the strategy module has no get_utc_datetime"
    return None


def _patch_usage_v2_check(feature: _Feature, module: ModuleType) -> None:
    import httpx
    from litellm.caching.dual_cache import DualCache
    from litellm.caching.in_memory_cache import InMemoryCache
    from litellm.types.router import RouterErrors
    from litellm.utils import get_utc_datetime

    cls = getattr(module, _USAGE_V2_CLASS)
    decide = _native.UsageV2Checks(
        _stats["rate_limit"],
        DualCache,
        InMemoryCache,
        get_utc_datetime,
        module,
        _cache_steps(),
    ).check
    original_sync = cls.__dict__["pre_call_check"]
    original_async = cls.__dict__["async_pre_call_check"]
    request = functools.partial(httpx.Request, method="tpm_rpm_limits", url="https://github.com/BerriAI/litellm")

    def refusal(deployment, stage, limit, usage, *, is_async):
        """The RateLimitError the strategy's check raises at `stage` ("local"/"counted")."""
        content = f"{RouterErrors.user_defined_ratelimit_error.value} rpm limit={limit}. current usage={usage}"
        if stage == "local" and not is_async:
            model_id = deployment.get("model_info", {}).get("id")
            content += (
                f". id={model_id}, model_group={deployment.get('model_name', '')}. "
                "Get the model info by calling 'router.get_model_info(id)"
            )
        response = (
            httpx.Response(status_code=429, content=content, headers={"retry-after": str(60)}, request=request())
            if is_async
            else httpx.Response(status_code=429, content=content, request=request())
        )
        extra = {"num_retries": deployment.get("num_retries")} if is_async else {}
        return module.litellm.RateLimitError(
            message=f"Deployment over defined rpm limit={limit}. current usage={usage}",
            llm_provider="",
            model=deployment.get("litellm_params", {}).get("model"),
            response=response,
            **extra,
        )

    @functools.wraps(original_sync)
    def pre_call_check(self, deployment):
        verdict = decide(self, deployment, False)
        if verdict is None:
            return original_sync(self, deployment)
        stage, limit, usage = verdict
        if stage is None:
            return deployment
        raise refusal(deployment, stage, limit, usage, is_async=False)

    @functools.wraps(original_async)
    async def async_pre_call_check(self, deployment, parent_otel_span):
        verdict = decide(self, deployment, True)
        if verdict is None:
            return await original_async(self, deployment, parent_otel_span)
        stage, limit, usage = verdict
        if stage is None:
            return deployment
        raise refusal(deployment, stage, limit, usage, is_async=True)

    for name, original, replacement in (
        ("pre_call_check", original_sync, pre_call_check),
        ("async_pre_call_check", original_async, async_pre_call_check),
    ):
        feature.bindings.append(_Binding(cls, name, original, True))  # type: ignore[arg-type]
        setattr(cls, name, replacement)


class _RunInThread(BaseException):
    """Raised by the patched ``token_counter`` inside an inline token estimate when LiteLLM's
    own counter must run. A ``BaseException``, so LiteLLM's ``except Exception`` fallbacks in
    the estimate do not take it for a counting error."""


# Set while a token estimate runs inline: the patched token_counter appends to the list, and
# raises _RunInThread, instead of calling LiteLLM's own counter there.
_inline_estimate: ContextVar[list[object] | None] = ContextVar("fastllm_inline_estimate", default=None)


def _make_inline_offload(original: Callable[..., Any]) -> Callable[..., Any]:
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
        if "token_counter" not in _patched:
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


# Each patcher installs its bindings into the feature it is given, or raises _NotApplicable.
_PATCHERS: dict[str, Callable[[ModuleType, bool, _Feature], None]] = {
    "token_counter": lambda litellm, explicit, feature: _patch_token_counter(litellm, feature),
    "rate_limit": _patch_rate_limit,
    "router": lambda litellm, explicit, feature: _patch_router(litellm, explicit, feature),
}


# --------------------------------------------------------------------------------------------
# router


def _patch_router(litellm: ModuleType, explicit: bool, feature: _Feature) -> None:
    """The router core's picks (``fastllm_litellm._router``), on both lines."""
    from fastllm_litellm import _router

    installed: list[tuple[type, str, object]] = []
    reason = _compat.check("router")  # the pick path's fingerprints (fastllm_litellm._compat)
    try:
        if reason is None:
            reason = _router.patch_router(litellm, _stats["router"], installed)
    finally:  # what it installed before an error is restored with the feature
        for owner, name, original in installed:
            feature.bindings.append(_Binding(owner, name, original, True))  # type: ignore[arg-type]
    if reason is not None:
        if explicit:
            warnings.warn(f"fastllm_litellm: router is not patched: {reason}", RuntimeWarning, stacklevel=4)
        raise _NotApplicable(reason)


# --------------------------------------------------------------------------------------------
# public API


def patch(features: Iterable[str] | str | None = None) -> list[str]:
    """Route LiteLLM's hot paths through Rust.

    ``features`` defaults to the comma-separated list in ``$FASTLLM_LITELLM_FEATURES``, or to
    every feature when that is unset. Patching twice is harmless. Returns the features now
    patched.

    A feature (or part of one) this install cannot take is skipped, and :func:`status` says
    why (``"applicable"``, ``"reason"``): ``rate_limit``'s v3 proxy limiter needs LiteLLM's
    proxy modules (fastapi, orjson, backoff, redis); its router checks
    (``ModelRateLimitingCheck``, usage-based-v2) apply without them. ``router`` patches the
    router core's picks on both lines (``fastllm_litellm._router``). A missing optional
    dependency, a LiteLLM module that fails to import, or any other error while patching one
    feature never reaches the caller: that feature is left unpatched (whatever it had
    installed restored), the others still patch. Named explicitly, a skipped feature or part
    also gives a ``RuntimeWarning`` saying why.

    Every replacement shows the original's signature to ``inspect.signature`` and
    ``inspect.getfullargspec``.

    Patching starts the ``fastllm_litellm`` logger's reports and, with
    ``$FASTLLM_LITELLM_STATUS_FILE`` set, the status file (``fastllm_litellm._status``).

    Raises:
        TypeError: ``features`` is not a str or an iterable of str.
        UnknownFeatureError: a feature name is not in :data:`FEATURES` (also a ``ValueError``).
    """
    explicit = features is not None or os.environ.get(ENV_VAR) is not None
    names = _parse_features(features)
    with _lock:
        litellm: ModuleType | None = None
        unavailable: str | None = None
        if names:
            try:
                litellm = _litellm()
            except Exception as error:  # noqa: BLE001 - reported per feature, never raised
                unavailable = f"litellm does not import: {type(error).__name__}: {error}"
                warnings.warn(f"fastllm_litellm: nothing patched: {unavailable}", RuntimeWarning, stacklevel=2)
        for name in names:
            if name not in _patched:
                _patch_one(name, litellm, explicit, unavailable)
        done = sorted(_patched)
    from fastllm_litellm import _status

    _status.start()
    return done


def _patch_one(name: str, litellm: ModuleType | None, explicit: bool, unavailable: str | None) -> None:
    """Patch feature ``name``, or record why it does not apply; never raises."""
    if litellm is None:
        _not_applied[name] = (False, unavailable or "litellm does not import")
        return
    feature = _Feature()
    try:
        _PATCHERS[name](litellm, explicit, feature)
    except _NotApplicable as error:
        reason = error.reason
    except Exception as error:  # noqa: BLE001 - one feature's failure is that feature's
        reason = f"{type(error).__name__}: {error}"
        if explicit:
            warnings.warn(f"fastllm_litellm: {name} is not patched: {reason}", RuntimeWarning, stacklevel=3)
    else:
        for binding in feature.bindings:
            if binding.present:
                current = vars(binding.module).get(binding.name)
                if current is not binding.original:
                    shown = _keep_signature(current, binding.original)
                    if shown is not current and isinstance(binding.module, type):
                        setattr(binding.module, binding.name, shown)
        _patched[name] = feature
        if feature.skipped:
            _not_applied[name] = (True, "; ".join(feature.skipped))
        else:
            _not_applied.pop(name, None)
        return
    _restore(feature)
    _not_applied[name] = (False, reason)


def unpatch(features: Iterable[str] | str | None = None) -> list[str]:
    """Restore LiteLLM's original objects, by identity, for ``features`` (default: all).

    Returns the features still patched.
    """
    names = list(FEATURES) if features is None else _parse_features(features)
    with _lock:
        for name in names:
            feature = _patched.pop(name, None)
            if feature is not None:
                _restore(feature)
        return sorted(_patched)


def status() -> dict[str, Any]:
    """What is patched, and per feature: calls, fallbacks and the last fallback's reason.

    ``{"litellm_version": str | None, "features": {name: {"patched": bool, "calls": int,
    "fallbacks": int, "last_fallback_reason": str | None, "bindings": int,
    "applicable": bool, "reason": str | None}}}``

    ``applicable`` is False when the last :func:`patch` of that feature found it does not
    apply to this install, and ``reason`` says why (a missing optional dependency, a LiteLLM
    module that does not import, a LiteLLM function that is not the one reproduced). A
    feature patched in part is applicable, and ``reason`` lists the parts it skipped.
    Otherwise ``reason`` is None.
    """
    with _lock:
        features = {}
        for name in FEATURES:
            entry = dict(_stats[name].snapshot())
            entry["patched"] = name in _patched
            entry["bindings"] = len(_patched[name].bindings) if name in _patched else 0
            applicable, reason = _not_applied.get(name, (True, None))
            entry["applicable"] = applicable
            entry["reason"] = reason
            features[name] = entry
    return {"litellm_version": _litellm_version() if "litellm" in sys.modules else None, "features": features}


def reset_stats() -> None:
    """Set every feature's call and fallback counts back to zero."""
    for stats in _stats.values():
        stats.reset()


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
    litellm = _litellm()
    if litellm.disable_token_counter is True:
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise TypeError(f"texts[{i}] must be str, not {type(text).__name__}")
        return [0] * len(texts)
    with _lock:
        if _resolver is None:
            core = importlib.import_module("litellm.litellm_core_utils.token_counter")
            _resolver = _Resolver(litellm, core, _stats["token_counter"])
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
    feature = _patched.get("token_counter")
    if feature is not None:
        for original, replacement in feature.replacements.values():
            if core.token_counter is replacement:
                return original  # type: ignore[return-value]
    return core.token_counter
