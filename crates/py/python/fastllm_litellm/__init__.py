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
