"""The registry of features: :func:`patch`, :func:`unpatch`, :func:`status`, :func:`reset_stats`.

Each feature lives in its own module and is listed in ``_PATCHERS`` under its name:

- ``token_counter``: ``fastllm_litellm._token_counter``;
- ``rate_limit``: ``fastllm_litellm._rate_limit``;
- ``router``: ``fastllm_litellm._router``.

To add a feature: name it in ``fastllm_litellm._feature.FEATURES`` (which also gives it its
call and fallback counters, ``STATS[name]``), write ``fastllm_litellm._<name>.py`` with an
``install(litellm, explicit, feature)`` patcher as ``fastllm_litellm._feature`` describes
(LiteLLM cache steps shared with other features come from ``fastllm_litellm._caches``), and
list it in ``_PATCHERS``. This module only applies the patchers, restores what they
installed, and reports: every replacement shows the original's signature, a feature that
cannot patch is recorded with its reason, never raised. Feature modules import nothing from
this module; ``tests/test_package_layout.py`` checks the package has no import cycle.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Callable, Iterable
from types import ModuleType
from typing import Any

from fastllm_litellm import _feature, _native, _rate_limit, _router, _status, _token_counter
from fastllm_litellm._feature import FEATURES, Feature, NotApplicable, keep_signature, restore
from fastllm_litellm._token_counter import count_tokens_batch  # noqa: F401 - part of this module's API

ENV_VAR = "FASTLLM_LITELLM_FEATURES"
"""Comma-separated features :func:`patch` applies when called without ``features``."""


class UnknownFeatureError(_native.FastLLMError, ValueError):
    """A feature name that :data:`FEATURES` does not list."""


# Each patcher installs its bindings into the feature it is given, or raises NotApplicable.
_PATCHERS: dict[str, Callable[[ModuleType, bool, Feature], None]] = {
    "token_counter": _token_counter.install,
    "rate_limit": _rate_limit.install,
    "router": _router.install,
}

_lock = _feature.lock
_patched = _feature.patched
_stats = _feature.STATS
# Per feature, why the last patch() did not apply it (or the parts of it it skipped).
_not_applied: dict[str, tuple[bool, str]] = {}


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
                litellm = _feature.import_litellm()
            except Exception as error:  # noqa: BLE001 - reported per feature, never raised
                unavailable = f"litellm does not import: {type(error).__name__}: {error}"
                warnings.warn(f"fastllm_litellm: nothing patched: {unavailable}", RuntimeWarning, stacklevel=2)
        for name in names:
            if name not in _patched:
                _patch_one(name, litellm, explicit, unavailable)
        done = sorted(_patched)
    _status.start()
    return done


def _patch_one(name: str, litellm: ModuleType | None, explicit: bool, unavailable: str | None) -> None:
    """Patch feature ``name``, or record why it does not apply; never raises."""
    if litellm is None:
        _not_applied[name] = (False, unavailable or "litellm does not import")
        return
    feature = Feature()
    try:
        _PATCHERS[name](litellm, explicit, feature)
    except NotApplicable as error:
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
                    shown = keep_signature(current, binding.original)
                    if shown is not current and isinstance(binding.module, type):
                        setattr(binding.module, binding.name, shown)
        _patched[name] = feature
        if feature.skipped:
            _not_applied[name] = (True, "; ".join(feature.skipped))
        else:
            _not_applied.pop(name, None)
        return
    restore(feature)
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
                restore(feature)
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
    return {"litellm_version": _feature.litellm_version() if "litellm" in sys.modules else None, "features": features}


def reset_stats() -> None:
    """Set every feature's call and fallback counts back to zero."""
    for stats in _stats.values():
        stats.reset()


_status.read_from(status)
