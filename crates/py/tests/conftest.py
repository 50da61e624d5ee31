"""Session setup: an offline LiteLLM, imported once, and its original ``token_counter`` objects
captured before anything is patched."""

from __future__ import annotations

import copy
import importlib
import os
import sys
from typing import Any

# Before LiteLLM is imported: the bundled cost map, no network.
os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
os.environ["LITELLM_OFFLINE_MODE"] = "true"
os.environ.pop("FASTLLM_LITELLM_FEATURES", None)

import gc  # noqa: E402

import litellm  # noqa: E402
import litellm.compression.compress  # noqa: E402  (a by-name binding, imported before any patch)
import litellm.llms.openai.common_utils  # noqa: E402
import litellm.utils  # noqa: E402
import pytest  # noqa: E402
from litellm.litellm_core_utils import token_counter as core  # noqa: E402

import fastllm_litellm  # noqa: E402
from fastllm_litellm import _rate_limit, _router  # noqa: E402

patch_module = importlib.import_module("fastllm_litellm.patch")

ORIGINAL = core.token_counter
"""LiteLLM's own ``token_counter`` (the core function), captured before any patch."""
ORIGINAL_UTILS = litellm.utils.token_counter
"""``litellm.utils.token_counter``, captured before any patch."""
ORIGINAL_LITELLM_ATTR = litellm.__dict__.get("token_counter", None)
HAD_LITELLM_ATTR = "token_counter" in litellm.__dict__

# Every binding the patch must swap, by (module, attribute) -> original object.
BY_NAME_MODULES = ("litellm.compression.compress", "litellm.llms.openai.common_utils")
ORIGINAL_BINDINGS = {
    name: sys.modules[name].__dict__["token_counter"] for name in BY_NAME_MODULES
}

assert fastllm_litellm.status()["features"]["token_counter"]["patched"] is False
assert ORIGINAL.__module__ == "litellm.litellm_core_utils.token_counter"


def assert_originals_restored() -> None:
    """Every binding is LiteLLM's original object again."""
    assert core.token_counter is ORIGINAL
    assert litellm.utils.token_counter is ORIGINAL_UTILS
    for name, original in ORIGINAL_BINDINGS.items():
        assert sys.modules[name].__dict__["token_counter"] is original, name
    if HAD_LITELLM_ATTR:
        assert litellm.__dict__["token_counter"] is ORIGINAL_LITELLM_ATTR
    else:
        assert "token_counter" not in litellm.__dict__
    assert fastllm_litellm.status()["features"]["token_counter"]["patched"] is False


def outcome(function: Any, kwargs: dict[str, Any]) -> tuple[str, Any]:
    """``("ok", value)`` or ``("raise", exception type)`` of ``function(**deepcopy(kwargs))``."""
    try:
        return "ok", function(**copy.deepcopy(kwargs))
    except Exception as error:  # noqa: BLE001 - the type is what is compared
        return "raise", type(error)


def _default_patched() -> list[str]:
    """What ``patch()`` with no arguments patches on this install: rate_limit whenever either
    of its parts (the v3 proxy limiter, the router's deployment check) applies, and router
    whenever this is one of the two router cores it knows."""
    parts = []
    try:
        v3 = importlib.import_module("litellm.proxy.hooks.parallel_request_limiter_v3")
    except ImportError:
        pass
    else:
        parts.append(_rate_limit._rate_limit_mismatch(v3) is None)
    checks = importlib.import_module(_rate_limit._MODEL_CHECK_MODULE)
    parts.append(_rate_limit._model_check_mismatch(checks) is None)

    router = [] if isinstance(_router._line(litellm), str) else ["router"]
    return sorted(["token_counter", *(["rate_limit"] if any(parts) else []), *router])


DEFAULT_PATCHED = _default_patched()


def _patch() -> None:
    fastllm_litellm.unpatch()
    assert fastllm_litellm.patch(["token_counter"]) == ["token_counter"]
    assert core.token_counter is not ORIGINAL
    assert litellm.utils.token_counter is not ORIGINAL_UTILS
    patch_module.reset_stats()


def _unpatch() -> None:
    assert fastllm_litellm.unpatch() == []
    assert_originals_restored()


@pytest.fixture
def patched():
    """token_counter patched (with zeroed stats) for one test, then restored by identity."""
    _patch()
    yield
    _unpatch()


@pytest.fixture(scope="module")
def patched_module():
    """token_counter patched for a whole test module, then restored by identity."""
    _patch()
    yield
    _unpatch()


@pytest.fixture
def stats():
    """A callable returning the token_counter feature's current status entry."""
    return lambda: fastllm_litellm.status()["features"]["token_counter"]


@pytest.fixture(autouse=True)
def _litellm_settings_restored():
    """No test leaves LiteLLM's global switches changed."""
    before = (litellm.disable_token_counter, litellm.disable_hf_tokenizer_download)
    yield
    assert (litellm.disable_token_counter, litellm.disable_hf_tokenizer_download) == before


# --------------------------------------------------------------------------------------------
# LiteLLM's v3 pre-call hook, for the rate-limit tests of both lines


async def _no_tags(names):
    return {}


# The limiter's resolvers, set so the hook does not reach the proxy's router or database.
HOOK_RESOLVERS = {
    "tag_rate_limit_resolver": _no_tags,
    "model_group_resolver": lambda model: None,
    "counted_models_resolver": lambda model, team: (model,),
    "media_model_resolver": lambda model, team: (),
    "ptu_team_ceiling_resolver": lambda team, group: None,
    "fail_closed_resolver": lambda: False,
    "force_hash_tag_grouping_resolver": lambda: False,
}


async def run_pre_call_hook(handler, user, data):
    """The hook's outcome for a completion request: its error, or its result without metadata."""
    from litellm.caching.dual_cache import DualCache

    try:
        out = await handler.async_pre_call_hook(user, DualCache(), data, "completion")
    except Exception as error:  # noqa: BLE001 - compared between the two limiters
        return ("raise", type(error).__name__, getattr(error, "status_code", None), str(getattr(error, "detail", error)))
    return ("ok", out if not isinstance(out, dict) else {k: v for k, v in out.items() if k != "metadata"})


# CPython 3.11.7 (this machine's and CI's) can raise "AST constructor recursion depth mismatch" when a
# finaliser runs inside the AST constructor. The tests leave router coroutines and loops for
# the collector; Hypothesis' pytest plugin imports its observability module in the closing
# summary, after the last test. So: that module is imported now, and the collector runs once
# when the session finishes, before the summary.
try:
    import hypothesis.internal.observability  # noqa: E402, F401
except ImportError:  # a venv without Hypothesis: its plugin is not there either
    pass


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    gc.collect()
