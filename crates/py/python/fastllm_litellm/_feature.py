"""What a feature of :func:`fastllm_litellm.patch` is made of, and the state the features share.

A feature is one module (``_token_counter``, ``_rate_limit``, ``_router``) whose ``install``
patcher the registry in ``fastllm_litellm.patch`` lists. ``install(litellm, explicit, feature)``
gets LiteLLM's top module, whether the caller named the feature, and an empty
:class:`Feature`; it swaps LiteLLM's objects for its replacements, recording each original in
``feature.bindings`` (:func:`swap_everywhere` does so for every module-level binding), and
counts every call and every fallback in its ``STATS[name]``. It raises :class:`NotApplicable`
when this install cannot take it; the registry then restores whatever it recorded
(:func:`restore`), as it does on :func:`fastllm_litellm.unpatch`.
"""

from __future__ import annotations

import functools
import importlib
import importlib.metadata
import inspect
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from fastllm_litellm import _native

FEATURES: tuple[str, ...] = ("token_counter", "rate_limit", "router")
"""Every feature :func:`fastllm_litellm.patch` knows."""

STATS: dict[str, _native.Stats] = {name: _native.Stats() for name in FEATURES}
"""Per feature, its calls and fallbacks (what :func:`fastllm_litellm.status` reports)."""

patched: dict[str, Feature] = {}
"""The features patched now, by name, with what each installed."""

lock = threading.RLock()
"""Held while features are patched or unpatched, and while the token counter's resolver is built."""


@dataclass
class Binding:
    """One name a feature rebound: ``module.name`` was ``original`` (absent unless ``present``)."""

    module: ModuleType
    name: str
    original: object
    present: bool


@dataclass
class Feature:
    """What one feature installed: its bindings, and each original's replacement by the original's id."""

    bindings: list[Binding] = field(default_factory=list)
    replacements: dict[int, tuple[object, object]] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    """Parts of the feature this install does not take, and why (the rest is patched)."""


class NotApplicable(Exception):
    """Raised by a patcher: this feature does not apply to this install, for ``reason``.

    The one way a patcher says "not applicable": :func:`fastllm_litellm.patch` catches it,
    installs nothing for the feature (bindings a patcher made before raising are restored),
    and :func:`fastllm_litellm.status` reports ``"applicable": False`` with ``str(reason)``.
    Any other exception a patcher raises (a LiteLLM module that fails to import, a missing
    optional dependency, an error of ours) is reported the same way, with the exception's type
    and text as the reason. A check that decides applicability per patched function (its
    source, its signature) raises this from the patcher, before or after part of the feature
    is installed. A patcher that applies in part records the parts it skips in
    ``Feature.skipped`` instead."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def keep_signature(replacement: object, original: object) -> object:
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


def import_litellm() -> ModuleType:
    """LiteLLM's top module (imported here, not when fastllm_litellm is)."""
    try:
        return importlib.import_module("litellm")
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError("fastllm_litellm needs the litellm package: pip install litellm") from error


@functools.lru_cache(maxsize=1)
def litellm_version() -> str | None:
    """The installed LiteLLM release, or None."""
    # Read once: importlib.metadata parses the installed METADATA file (about 2 ms), and
    # status() names the release every time the launcher's status file is written.
    try:
        return importlib.metadata.version("litellm")
    except importlib.metadata.PackageNotFoundError:
        return None


def litellm_modules() -> list[ModuleType]:
    """Every LiteLLM module imported so far."""
    return [
        module
        for name, module in sys.modules.copy().items()
        if isinstance(module, ModuleType) and (name == "litellm" or name.startswith("litellm."))
    ]


def swap_everywhere(feature: Feature, originals: dict[int, tuple[object, object]]) -> None:
    """Replace every module-level binding of each original with its replacement."""
    for module in litellm_modules():
        namespace = getattr(module, "__dict__", {})
        for name, value in namespace.copy().items():  # a copy: another thread may import meanwhile
            pair = originals.get(id(value))
            if pair is not None and value is pair[0]:
                feature.bindings.append(Binding(module, name, value, True))
                setattr(module, name, pair[1])


def restore(feature: Feature) -> None:
    """Put back every original ``feature`` replaced, by identity, in reverse order."""
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
    for module in litellm_modules() if back else ():
        namespace = getattr(module, "__dict__", {})
        for name, value in namespace.copy().items():  # a copy: another thread may import meanwhile
            pair = back.get(id(value))
            if pair is not None and value is pair[0]:
                setattr(module, name, pair[1])
