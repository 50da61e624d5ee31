"""Rust hot paths for LiteLLM, patched in place with identical answers.

``import fastllm_litellm`` changes nothing by itself. Call :func:`patch` to route LiteLLM's
hot paths through Rust, :func:`unpatch` to restore every original object, and :func:`status`
to see what is patched and how often a call was handed back to LiteLLM's own code::

    import fastllm_litellm

    fastllm_litellm.patch()                     # or patch(features=["token_counter", "router"])
    ...                                         # litellm.token_counter & co. now count in Rust,
                                                # the proxy's v3 limiter decides in Rust,
                                                # and a Router's picks are made in Rust
    fastllm_litellm.status()["features"]["token_counter"]["calls"]
    fastllm_litellm.unpatch()

A feature this install cannot take (a missing optional dependency, a LiteLLM module that does
not import) is left unpatched and :func:`status` says why (``"applicable"``, ``"reason"``);
:func:`patch` does not raise for it. The LiteLLM proxy runs patched from its first import
with the ``fastllm-litellm proxy [LiteLLM proxy CLI arguments]`` console script (or
``python -m fastllm_litellm proxy ...``); ``$FASTLLM_LITELLM_STATUS_FILE`` makes a patched
process write :func:`status` there as JSON, and the ``fastllm_litellm`` logger reports each
feature's first fallback (WARNING) and a periodic summary (INFO).
"""

from fastllm_litellm._native import FastLLMError
from fastllm_litellm._versions import DEFAULT as DEFAULT_LITELLM_VERSION
from fastllm_litellm._versions import SUPPORTED as SUPPORTED_LITELLM_VERSIONS
from fastllm_litellm.patch import (
    ENV_VAR,
    FEATURES,
    UnknownFeatureError,
    count_tokens_batch,
    patch,
    reset_stats,
    status,
    unpatch,
)

__all__ = [
    "DEFAULT_LITELLM_VERSION",
    "ENV_VAR",
    "FEATURES",
    "SUPPORTED_LITELLM_VERSIONS",
    "FastLLMError",
    "UnknownFeatureError",
    "count_tokens_batch",
    "patch",
    "reset_stats",
    "status",
    "unpatch",
]
