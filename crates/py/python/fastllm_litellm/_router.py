"""The ``router`` feature: a ``litellm.Router``'s pick in one native call.

LiteLLM's pick walks a long chain of filters (aliases, routing groups, access groups, teams,
tags, regions, health checks, cooldowns, blocked and paused deployments, media, order,
exclusions), most of which only act when a setting, a deployment field or a request key turns
them on. ``ROUTING_FIELDS`` below is the one list of what that chain reads from a request and a
deployment: for each entry, whether it steers the pick (the pick then goes to LiteLLM), is
reproduced by the native pick, or is neutral, why, and the LiteLLM file and function it comes
from. A request goes through natively unless it carries an entry that steers (every other key
is one no pick reads: the chat-completions parameters, LiteLLM's per-call parameters, the
proxy's metadata); a deployment is served when each of its fields is an entry that does not
steer. With the settings a default router has (apart from those that do not change a pick),
that leaves two steps: drop the deployments cooling down, then the strategy. That is what the
native picker runs, for every strategy LiteLLM has: simple-shuffle, least-busy, usage-based
(v1 and v2), latency-based and cost-based. It reads the strategies' state where LiteLLM keeps
it (their ``InMemoryCache``, with that cache's own steps; least-busy's reservations under
their lock; the cost map and the deployments' own prices), draws from Python's own ``random``
state, and writes what LiteLLM's pick writes, so it returns the very deployment LiteLLM returns
after the same draws and leaves the same state behind. Anything else goes to LiteLLM's own pick
and counts as a fallback, with the entry that sent it there as the reason.

The picker is built per router core and kept until the core's registry or settings change
(any attribute written on the core drops it).
"""

from __future__ import annotations

import dataclasses
import datetime
import dis
import functools
import random
import sys
import warnings
import weakref
from contextvars import ContextVar
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import ModuleType
from typing import Any

from fastllm_litellm import _compat, _native
from fastllm_litellm._caches import cache_steps
from fastllm_litellm._feature import STATS, Binding, Feature, NotApplicable

SIMPLE_SHUFFLE = "simple-shuffle"
ROUTING_STRATEGIES: tuple[str, ...] = (
    SIMPLE_SHUFFLE,
    "least-busy",
    "usage-based-routing",
    "usage-based-routing-v2",
    "latency-based-routing",
    "cost-based-routing",
)
"""Every routing strategy the feature serves (on Python 3.11 for latency-based), in LiteLLM's
order; the tests and benchmarks draw from it."""

# Router settings that never change which deployment a pick returns.
_NEUTRAL_SETTINGS = frozenset(
    {
        "num_retries",
        "max_fallbacks",
        "timeout",
        "stream_timeout",
        "retry_after",
        "cooldown_time",
        "allowed_fails",
        "set_verbose",
        "debug_level",
        "_registry_version",
        "_settings_version",
        "_core_registry_version",
        "explicit_allowed_fails",
        # Where a failed call goes next: read after a failure, to choose the next group
        # (router_python_core.py's and router_rust's fallback paths), never by a first pick,
        # which is the only pick the patch answers (a fallback hop's pick is LiteLLM's).
        "fallbacks",
        "context_window_fallbacks",
        "content_policy_fallbacks",
        "default_fallbacks",
        # Awaited before a cross-group fallback attempt (the proxy sets both): a fallback's
        # target, never the first pick (router.py Router.__init__'s docs; router_rust/core.py).
        "fallback_access_check",
        "fallback_budget_check",
        # 1.109 (the proxy sets these): the timeout as the caller passed it; a changeset
        # in progress (its depth, 0 after); the auto-router count limit and whether invalid
        # deployments are skipped, both read only when deployments are added; the optional
        # pre-call checks, which run as routing callbacks (an async pick hands back while one
        # of them filters deployments: `filters_deployments`).
        "_explicit_timeout",
        # 1.109: the per-attempt timeout (router_python_core.py PythonCore.__init__ sets it
        # from the configured request_timeout when a timeout is given; the proxy gives one).
        "request_timeout",
        "_core_applying",
        "auto_router_capability_limit",
        "ignore_invalid_deployments",
        "optional_callbacks",
        # The strategies' own arguments: latency-based reads its buffer and TTFT percentile
        # from its selector; the rest (TTLs, list sizes) only shape what is recorded.
        "routing_strategy_args",
        # Counters and caches a router fills as it serves.
        "fail_calls",
        "total_calls",
        "success_calls",
        "deployment_stats",
        "_core_deployment_latency_map",
        "_zero_cost_cache",
        # A cache of the routing groups' rows, filled on first use; the groups themselves are
        # compared through _core_routing_groups.
        "_routing_group_rows",
    }
)

# The one list: what LiteLLM's pick reads from a request and a deployment, and what the patch
# does with it. ``where``: "request" (a top-level request key), "metadata" (a key of the
# request's ``metadata`` or ``litellm_metadata``), "litellm_params" or "model_info" (a
# deployment field). ``effect``: "steers" (the pick goes to LiteLLM), "reproduced" (the native
# pick reads it as LiteLLM does) or "neutral" (no pick reads it, or it only acts together with
# a setting or deployment field that already sends the pick to LiteLLM). A request key that is
# not listed goes through natively (the chat-completions parameters, LiteLLM's per-call
# parameters, the proxy's metadata); a deployment field that is not listed sends the router's
# picks to LiteLLM, because the pick path reads many ``model_info`` fields (capabilities,
# teams, reservations, environments) and a field is only let through once it is known here.
# Sources: 1.109 ``litellm/router_python_core.py`` (``PythonCore``) and 1.110
# ``litellm/router_rust/core.py`` (``RustCore``, ``_Selection``) with the modules they call.


@dataclasses.dataclass(frozen=True)
class RoutingField:
    """One entry of ``ROUTING_FIELDS``."""

    where: str
    name: str
    effect: str
    reason: str
    source: str


_PY = "router_python_core.py PythonCore"
_RS = "router_rust/core.py"
_HEALTHY = f"{_PY}._core_async_get_healthy_deployments; {_RS} _Selection"
ROUTING_FIELDS: tuple[RoutingField, ...] = (
    # -- request keys that steer ---------------------------------------------------------------
    RoutingField("request", "specific_deployment", "steers", "a pick of one deployment by name or id",
                 f"{_PY}._common_checks_available_deployment; {_RS} _request_start_fields"),
    RoutingField("request", "routing_strategy", "steers", "a per-request strategy override",
                 f"{_PY}._get_request_routing_strategy_override; {_RS} _request_start_fields"),
    RoutingField("request", "_router_weights", "steers", "per-request deployment weights",
                 f"router_strategy/simple_shuffle.py _scoped_weights; {_RS} RequestStartFields.router_weights"),
    RoutingField("request", "_target_order", "steers", "the order tier a retry or fallback targets",
                 f"{_HEALTHY} (get_order_filtered_deployments); {_RS} _request_narrowing"),
    RoutingField("request", "_excluded_deployment_ids", "steers", "deployments a weighted failover already tried",
                 f"{_HEALTHY} (get_excluded_filtered_deployments); {_RS} _request_narrowing"),
    RoutingField("request", "_retry_skipped_deployment_ids", "steers", "deployments that refused this request",
                 f"{_HEALTHY} (as_retry_skipped_deployment_ids); {_RS} _request_narrowing"),
    RoutingField("request", "_encrypted_content_affinity_pinned", "steers", "a pin to the deployment that made "
                 "the encrypted content", f"{_PY}._async_get_available_deployment"),
    RoutingField("request", "enable_tag_filtering", "steers", "tag routing turned on for this request (the tags "
                 "then steer)", f"router_strategy/tag_based_routing.py get_deployments_for_tag; {_RS} "
                 "RustCore._routing_fields"),
    RoutingField("request", "audio", "steers", "audio input, which drops deployments that refuse media",
                 f"{_PY}._without_decisions_deployments_refusing_media"),
    RoutingField("request", "videos", "steers", "video input, which drops deployments that refuse media",
                 f"{_PY}._without_decisions_deployments_refusing_media"),
    RoutingField("request", "messages", "steers", "only with an image part: it drops deployments that declare "
                 "no vision (model_info or the cost map); text messages are neutral",
                 f"{_PY}._without_declared_text_only_deployments; {_RS} RustCore._routing_fields (has_image)"),
    # -- request keys that do not change a pick --------------------------------------------------
    RoutingField("request", "stream", "reproduced", "latency-based reads time to first token on a stream",
                 "router_strategy/lowest_latency.py async_get_available_deployments"),
    RoutingField("request", "tools", "neutral", "a web-search tool drops only deployments whose "
                 "model_info.supports_web_search is false, a field that steers below",
                 "litellm_core_utils/routing_common_utils.py filter_web_search_deployments; "
                 f"{_RS} _Selection (web_search)"),
    RoutingField("request", "allowed_model_region", "neutral", "acts only in the pre-call checks "
                 "(enable_pre_call_checks, a setting that sends picks to LiteLLM)",
                 f"{_PY}._pre_call_checks; {_RS} _region_routable"),
    RoutingField("request", "previous_response_id", "neutral", "read only by routing callbacks that filter "
                 "deployments (deployment affinity, prompt caching), which send async picks to LiteLLM",
                 "router_utils/pre_call_checks/deployment_affinity_check.py"),
    RoutingField("request", "enable_prompt_caching", "neutral", "read only by the prompt-caching routing "
                 "callback, which sends async picks to LiteLLM",
                 "router_utils/pre_call_checks/prompt_caching_deployment_check.py"),
    RoutingField("request", "litellm_session_id", "neutral", "read only by the session-affinity routing "
                 "callback, which sends async picks to LiteLLM",
                 "router_utils/pre_call_checks/deployment_affinity_check.py"),
    RoutingField("request", "num_retries", "neutral", "retries after a failure; the first pick is the same "
                 "(1.110 validates it: a sync pick or select that carries it is checked with LiteLLM's own "
                 "reader first)", f"{_RS} _start_fields (request_retry_fields)"),
    RoutingField("request", "fallbacks", "neutral", "the groups a failed call moves to, not this pick "
                 "(validated as num_retries is)", f"{_RS} RequestStartFields"),
    RoutingField("request", "context_window_fallbacks", "neutral", "as fallbacks", f"{_RS} RequestStartFields"),
    RoutingField("request", "content_policy_fallbacks", "neutral", "as fallbacks", f"{_RS} RequestStartFields"),
    RoutingField("request", "max_fallbacks", "neutral", "as fallbacks", f"{_RS} RequestStartFields"),
    RoutingField("request", "disable_fallbacks", "neutral", "as fallbacks", f"{_RS} RequestStartFields"),
    RoutingField("request", "model_group_retry_policy", "neutral", "as num_retries",
                 f"{_RS} RustCore._group_policy_fields"),
    RoutingField("request", "cooldown_time", "neutral", "how long a failed deployment cools down, not this "
                 "pick (validated as num_retries is)", f"{_RS} RequestStartFields"),
    RoutingField("request", "litellm_logging_obj", "neutral", "a failed pick's failure logging",
                 f"{_PY}._async_get_available_deployment"),
    RoutingField("request", "_context_compaction_state", "neutral", "armed by the pre-routing hook, which "
                 "runs before the native pick on 1.110 and writes nothing for a plain request on 1.109",
                 f"{_PY}._core_async_pre_routing_hook (arm_compaction)"),
    # -- metadata ------------------------------------------------------------------------------
    RoutingField("metadata", "tags", "neutral", "steers only with tag filtering on (the router setting, the "
                 "request's enable_tag_filtering, or a deployment's model_info.enable_tag_filtering, which all "
                 "send picks to LiteLLM)", "router_strategy/tag_based_routing.py get_deployments_for_tag"),
    RoutingField("metadata", "user_api_key_team_id", "neutral", "narrows only to deployments with a "
                 "model_info.team_id or reservations (fields that steer)",
                 "litellm_core_utils/routing_common_utils.py get_request_team_id, filter_team_based_models"),
    RoutingField("metadata", "user_api_key_auth", "neutral", "narrows a key limited to access groups only to "
                 "deployments with model_info.access_groups (a field that steers); an admin's only to team "
                 "deployments", f"{_PY}._filter_deployments_by_model_access_groups; router_rust/steps/access.py "
                 "caller_fields"),
    RoutingField("metadata", "_routing_plugin_candidate_models", "steers", "routing plugins' narrowed pool",
                 f"{_PY}._filter_by_routing_plugin_candidates"),
    RoutingField("metadata", "_client_output_ceiling", "steers", "LiteLLM's pick restores the caller's output "
                 "ceiling from it (a write the native pick does not make)",
                 f"{_PY}._core_async_pre_routing_hook (_restore_client_output_ceiling)"),
    RoutingField("metadata", "_autorouter_baseline_route", "steers", "cleared by LiteLLM's pick (auto-router "
                 "state)", f"{_PY}._record_routing_decision"),
    RoutingField("metadata", "routing_decision", "steers", "cleared by LiteLLM's pick (auto-router state)",
                 f"{_PY}._record_routing_decision"),
    RoutingField("metadata", "_session_deployment_affinity_ttl", "steers", "cleared by LiteLLM's pick",
                 f"{_PY}._core_async_pre_routing_hook"),
    RoutingField("metadata", "_consumed_request_tags", "steers", "cleared by LiteLLM's pick",
                 f"{_PY}._core_async_pre_routing_hook"),
    RoutingField("metadata", "model_group", "neutral", "telemetry (the pick's attributes)",
                 f"{_PY}._deployment_pick_attributes"),
    RoutingField("metadata", "attempted_retries", "neutral", "telemetry", f"{_PY}._deployment_pick_attributes"),
    # -- deployment litellm_params ---------------------------------------------------------------
    *(
        RoutingField("litellm_params", name, "reproduced", reason, source)
        for name, reason, source in (
            ("model", "the cost-map key, usage-based-v2's counter key", "router_strategy/*"),
            ("weight", "simple-shuffle's weights", "router_strategy/simple_shuffle.py _metric_weight"),
            ("rpm", "simple-shuffle's weights and the stateful strategies' limits", "router_strategy/*"),
            ("tpm", "simple-shuffle's weights and the stateful strategies' limits", "router_strategy/*"),
            ("input_cost_per_token", "cost-based's own price (when truthy)",
             "router_strategy/lowest_cost.py async_get_available_deployments"),
            ("output_cost_per_token", "cost-based's own price (when truthy)",
             "router_strategy/lowest_cost.py async_get_available_deployments"),
            ("base_model", "a cost-map key before the model (cost-based); the vision check (image requests "
             "steer)", "litellm_core_utils/deployment_pricing.py deployment_pricing_models"),
        )
    ),
    *(
        RoutingField("litellm_params", name, "neutral", "shapes the provider call only",
                     "litellm/main.py completion (read after the pick)")
        for name in (
            "api_key", "api_base", "api_version", "organization", "custom_llm_provider", "timeout",
            "stream_timeout", "max_retries", "mock_response", "drop_params", "extra_headers", "headers",
            "max_tokens", "max_completion_tokens", "temperature", "top_p", "seed", "stop",
            "aws_access_key_id", "aws_secret_access_key", "aws_session_token", "aws_region_name",
            "aws_profile_name", "aws_role_name", "aws_session_name", "aws_bedrock_runtime_endpoint",
            "vertex_project", "vertex_location", "vertex_credentials", "azure_ad_token", "tenant_id",
            "client_id", "client_secret", "input_cost_per_second", "output_cost_per_second",
            "max_parallel_requests", "litellm_credential_name",
        )
    ),
    RoutingField("litellm_params", "region_name", "neutral", "read only by the region pre-call check "
                 "(enable_pre_call_checks)", "litellm/utils.py is_region_allowed"),
    RoutingField("litellm_params", "order", "steers", "only the lowest order is picked",
                 "litellm/utils.py get_order_filtered_deployments"),
    RoutingField("litellm_params", "tags", "steers", "tag routing", "router_strategy/tag_based_routing.py"),
    RoutingField("litellm_params", "use_in_pass_through", "steers", "when true: pass-through filtering",
                 f"{_PY}._filter_pass_through_deployments"),
    # -- deployment model_info -----------------------------------------------------------------
    RoutingField("model_info", "id", "reproduced", "the deployment's id", "router_strategy/*"),
    RoutingField("model_info", "base_model", "reproduced", "cost-based's first cost-map key",
                 "litellm_core_utils/deployment_pricing.py deployment_pricing_models"),
    *(
        RoutingField("model_info", name, "neutral", reason, source)
        for name, reason, source in (
            ("mode", "the endpoint kind; read by health checks and the route capability filter of other "
             "endpoints", f"{_PY}._without_deployments_that_cannot_serve_route"),
            ("max_tokens", "context windows: the pre-call checks only", f"{_PY}._pre_call_checks"),
            ("max_input_tokens", "context windows: the pre-call checks only", f"{_PY}._pre_call_checks"),
            ("max_output_tokens", "context windows: the pre-call checks only", f"{_PY}._pre_call_checks"),
            ("input_cost_per_token", "spend tracking; cost-based reads litellm_params and the cost map",
             "router_strategy/lowest_cost.py"),
            ("output_cost_per_token", "spend tracking", "router_strategy/lowest_cost.py"),
            ("litellm_provider", "model info listing", f"{_PY}.get_model_group_info"),
            ("description", "model info listing", f"{_PY}.get_model_group_info"),
            ("supports_vision", "drops deployments only for image requests (which steer)",
             f"{_PY}._deployment_declares_no_vision"),
            ("supports_function_calling", "the pre-call checks and model info only", f"{_PY}._pre_call_checks"),
            ("supports_parallel_function_calling", "model info only", f"{_PY}.get_model_group_info"),
            ("supports_response_schema", "the pre-call checks and model info only", f"{_PY}._pre_call_checks"),
            ("supports_tool_choice", "model info only", f"{_PY}.get_model_group_info"),
            ("supports_system_messages", "model info only", f"{_PY}.get_model_group_info"),
            ("supports_prompt_caching", "the prompt-caching callback only", "prompt_caching_deployment_check.py"),
            ("supports_reasoning", "model info only", f"{_PY}.get_model_group_info"),
        )
    ),
    RoutingField("model_info", "supports_web_search", "steers", "a web-search request drops deployments "
                 "that declare false", "routing_common_utils.py filter_web_search_deployments"),
    RoutingField("model_info", "team_id", "steers", "team-owned deployments",
                 "routing_common_utils.py filter_team_based_models"),
    RoutingField("model_info", "team_public_model_name", "steers", "team-owned deployments",
                 "routing_common_utils.py filter_team_based_models"),
    RoutingField("model_info", "access_groups", "steers", "access-group callers",
                 f"{_PY}._filter_deployments_by_model_access_groups"),
    RoutingField("model_info", "tpm", "steers", "a fallback limit of the stateful strategies",
                 "router_strategy/lowest_cost.py, lowest_tpm_rpm.py"),
    RoutingField("model_info", "rpm", "steers", "a fallback limit of the stateful strategies",
                 "router_strategy/lowest_cost.py, lowest_tpm_rpm.py"),
    RoutingField("model_info", "enable_tag_filtering", "steers", "tag routing",
                 f"{_RS} RustCore._model_tag_filtering"),
    RoutingField("model_info", "blocked", "steers", "a paused deployment", f"{_PY}._filter_blocked_deployments"),
    RoutingField("model_info", "supported_environments", "steers", "environment filtering",
                 f"{_PY} model_info_is_active_for_environment"),
)


def _fields(where: str, *effects: str) -> frozenset[str]:
    return frozenset(f.name for f in ROUTING_FIELDS if f.where == where and f.effect in effects)


_STEERING_REQUEST = _fields("request", "steers") - {"messages"}
_STEERING_METADATA = _fields("metadata", "steers")
_SERVED_PARAMS = _fields("litellm_params", "neutral", "reproduced")
_SERVED_INFO = _fields("model_info", "neutral", "reproduced")
# The request keys 1.110's `_start_fields` validates (a value it refuses raises before any pick).
_VALIDATED_REQUEST = frozenset(
    {"num_retries", "fallbacks", "context_window_fallbacks", "content_policy_fallbacks", "max_fallbacks",
     "disable_fallbacks", "model_group_retry_policy", "cooldown_time"}
)
# LiteLLM adds these flags to every deployment itself, always False.
_DEFAULT_FALSE_PARAMS = frozenset(
    {
        "allow_client_keepalive_override",
        "use_in_pass_through",
        "use_litellm_proxy",
        "use_xai_oauth",
        "merge_reasoning_content_in_choices",
    }
)
_DEFAULT_FALSE_INFO = frozenset({"db_model", "member_auto_router"})
_MARKER_PREFIX = "auto_router/"

_MISSING = object()


class _NeedsDeployments(Exception):
    """A prompt count that asked for the group's backend models (media in an embedding input)."""

# The strategies whose pick is the first lowest-scoring deployment of a cached map, and the
# attribute each core keeps their selector under.
_LOWEST_ATTRIBUTES = {"usage-based-routing": "lowesttpm_logger", "cost-based-routing": "lowestcost_logger"}

# Set while LiteLLM's own select runs after the patched one declined the pick.
_declined: ContextVar[bool] = ContextVar("fastllm_router_declined", default=False)


def _settings_signature(values: dict[str, object]) -> dict[str, object]:
    """The scalar settings, and whether each container setting is empty."""
    signature: dict[str, object] = {}
    for name, value in values.items():
        if name in _NEUTRAL_SETTINGS or name.removeprefix("_core_") in _NEUTRAL_SETTINGS:
            continue
        if value is None or type(value) in (bool, str, int, float):
            signature[name] = value
        elif isinstance(value, (Mapping, list, tuple, set, frozenset)):
            signature[name] = ("empty", len(value) == 0)
    return signature


def _plain_copy(value: object) -> object:
    """``value`` with every mapping and list in it as a plain dict and list."""
    if isinstance(value, Mapping):
        return {key: _plain_copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain_copy(item) for item in value]
    return value


def _weight(params: dict, name: str) -> float:
    """LiteLLM's ``_metric_weight``; raises for what it raises on (the router is then not plain)."""
    value = params.get(name)
    if value is None:
        return 0.0
    if isinstance(value, (int, float)):
        weight = float(value)
        if weight != weight or weight < 0 or weight == float("inf"):
            raise ValueError(f"a {name} the picker does not take")
        return weight
    raise TypeError(f"Deployment {name} must be numeric")


def _own_price(params: dict, name: str) -> float | None:
    """A deployment's own ``litellm_params`` price as cost-based routing takes it (only when
    truthy); raises for one the native sum would not add as Python does."""
    value = params.get(name)
    if not value:
        return None
    if type(value) is float and value == value and abs(value) != float("inf"):
        return value
    if type(value) is int and abs(value) < 2**52:
        return float(value)
    raise ValueError(f"a litellm_params.{name} the picker does not add")


def _plain_deployment(deployment: object) -> tuple | str:
    """``(group, id, weight, rpm, tpm, model, tpm limit, rpm limit, pricing models, own
    prices)`` of a deployment whose every field is one ``ROUTING_FIELDS`` lets through, else
    why not. The weights are ``_metric_weight``'s (absent: 0.0), the limits the usage
    strategies' (absent: None, unlimited), the pricing models and prices cost-based's."""
    if type(deployment) is not dict or not set(deployment) <= {"model_name", "litellm_params", "model_info"}:
        return "a deployment with fields beyond model_name, litellm_params and model_info"
    params = deployment.get("litellm_params")
    info = deployment.get("model_info")
    group = deployment.get("model_name")
    if type(params) is not dict or type(info) is not dict or type(group) is not str:
        return "a deployment without plain litellm_params, model_info and model_name"
    for name, value in params.items():
        if name not in _SERVED_PARAMS and not (name in _DEFAULT_FALSE_PARAMS and value is False):
            return f"a deployment with litellm_params.{name}"
    for name, value in info.items():
        if name not in _SERVED_INFO and not (name in _DEFAULT_FALSE_INFO and value is False):
            return f"a deployment with model_info.{name}"
    model = params.get("model")
    deployment_id = info.get("id")
    if type(model) is not str or model.startswith(_MARKER_PREFIX) or type(deployment_id) is not str:
        return "a deployment whose model or id is not a plain str"
    try:
        weights = tuple(_weight(params, name) for name in ("weight", "rpm", "tpm"))
        prices = (_own_price(params, "input_cost_per_token"), _own_price(params, "output_cost_per_token"))
    except (TypeError, ValueError) as error:
        return str(error)
    if ":" in deployment_id:
        return "a deployment id with ':' (usage-based-v2 splits its keys on ':')"
    # deployment_pricing_models: model_info.base_model or litellm_params.base_model, then the
    # model, blanks and repeats dropped; a base_model that is no str counts as unset only if falsy.
    base_model = info.get("base_model") or params.get("base_model")
    if base_model is not None and type(base_model) is not str:
        return "a deployment whose base_model is not a str"
    pricing = tuple(dict.fromkeys(name for name in (base_model, model) if name))
    limits = tuple(None if params.get(name) is None else float(params[name]) for name in ("tpm", "rpm"))
    return (group, deployment_id, *weights, model, *limits, pricing, prices)


_IGNORED_OPS = frozenset({"RESUME", "NOP", "CACHE", "RETURN_GENERATOR", "POP_TOP", "COPY_FREE_VARS", "MAKE_CELL"})
_identity_filters: dict[object, bool] = {}


def _returns_its_deployments(function: object) -> bool:
    """Whether ``function`` is an ``async_filter_deployments`` whose whole body is
    ``return healthy_deployments`` (as proxy hooks that opt out of filtering write it): read
    from its bytecode, once per function."""
    known = _identity_filters.get(function)
    if known is not None:
        return known
    wrapped = getattr(function, "__wrapped__", None)
    if wrapped is not None and getattr(function, "__code__", None) is _service_target_wrapper_code():
        # LiteLLM's `with_service_target` only sets a context variable around the call.
        result = _returns_its_deployments(wrapped)
        _identity_filters[function] = result
        return result
    code = getattr(function, "__code__", None)
    result = False
    if code is not None and code.co_argcount >= 3 and code.co_varnames[2] == "healthy_deployments":
        body = [(i.opname, i.argval) for i in dis.get_instructions(function) if i.opname not in _IGNORED_OPS]
        result = body == [("LOAD_FAST", "healthy_deployments"), ("RETURN_VALUE", None)]
    _identity_filters[function] = result
    return result


@functools.cache
def _service_target_wrapper_code() -> object:
    """The code of the coroutine wrapper LiteLLM's ``with_service_target`` puts around a method."""
    try:
        from litellm._internal_context import with_service_target
    except ImportError:
        return None

    async def probe(self, model, healthy_deployments, messages):  # pragma: no cover - never called
        return healthy_deployments

    return getattr(with_service_target("fastllm-probe")(probe), "__code__", None)


def _any_filter(callbacks: Iterable[object]) -> bool:
    """Whether any of the routing ``callbacks`` would narrow an async pick's deployments: a
    ``CustomLogger`` overriding ``async_filter_deployments`` with anything but the identity."""
    from litellm.integrations.custom_logger import CustomLogger

    base = CustomLogger.async_filter_deployments
    for callback in callbacks:
        if isinstance(callback, CustomLogger):
            method = type(callback).async_filter_deployments
            if method is not base and not _returns_its_deployments(method):
                return True
    return False


def _selector_memory(selector: object, handler_type: type, dual_type: type, memory_type: type) -> Any:
    """The ``InMemoryCache`` of a strategy selector's router cache, when the selector and its
    cache are exactly LiteLLM's own classes and the cache has no Redis; else None."""
    if type(selector) is not handler_type:
        return None
    cache = selector.router_cache  # type: ignore[attr-defined]
    if type(cache) is not dual_type or cache.redis_cache is not None:
        return None
    memory = cache.in_memory_cache
    return memory if type(memory) is memory_type else None


def _latency_state(selector: object, module: ModuleType, dual_type: type, memory_type: type) -> tuple | None:
    """``(cache, module, buffer, ttft percentile)`` of a plain latency selector, or None."""
    memory = _selector_memory(selector, module.LowestLatencyLoggingHandler, dual_type, memory_type)
    if memory is None:
        return None
    args = selector.routing_args  # type: ignore[attr-defined]
    buffer, percentile = args.lowest_latency_buffer, args.ttft_percentile
    if type(buffer) not in (int, float) or (percentile is not None and type(percentile) is not float):
        return None
    return memory, module, float(buffer), percentile


class _Entry:
    """A core's picker and the versions it was built for."""

    __slots__ = ("picker", "reason", "strategy", "version")

    def __init__(
        self, version: tuple, picker: _native.GroupPicker | None, reason: str | None, strategy: str | None
    ) -> None:
        self.version = version
        self.picker = picker
        self.reason = reason
        self.strategy = strategy


class _Line:
    """What differs between the two LiteLLM lines: where a core keeps its deployments, its
    settings, its versions and its cooldowns."""

    copy: bool
    # Every strategy of ROUTING_STRATEGIES, on both lines. latency-based averages with
    # Python's `sum`, a plain left fold of doubles up to 3.11 (3.12 compensates): the native
    # average is that fold, so it serves 3.11 only.
    strategies: frozenset[str] = frozenset(
        name for name in ROUTING_STRATEGIES if name != "latency-based-routing" or sys.version_info[:2] == (3, 11)
    )
    strategy_setting: str
    # The attribute that holds a strategy's selector (None on a router of another strategy).
    selector_attributes: dict[object, str] = {}

    def __init__(self, core_class: type) -> None:
        self.core_class = core_class
        self.reference: dict[str, object] | None = None
        # The strategy modules and cache classes both lines share (imported when the feature
        # is patched in, not when fastllm_litellm is imported).
        from litellm.caching.dual_cache import DualCache
        from litellm.caching.in_memory_cache import InMemoryCache
        from litellm.router_strategy import least_busy, lowest_cost, lowest_latency, lowest_tpm_rpm, lowest_tpm_rpm_v2

        self._least_busy = least_busy
        self._least_busy_types = (least_busy.LeastBusyLoggingHandler, DualCache, InMemoryCache)
        self._latency = lowest_latency
        self._usage_v2 = lowest_tpm_rpm_v2
        self._lowest = {
            "usage-based-routing": (lowest_tpm_rpm, lowest_tpm_rpm.LowestTPMLoggingHandler),
            "cost-based-routing": (lowest_cost, lowest_cost.LowestCostLoggingHandler),
        }

    def version(self, core: Any) -> tuple: ...

    def settings(self, core: Any) -> dict[str, object]: ...

    def deployments(self, core: Any) -> list: ...

    def cooling(self, core: Any, picker: _native.GroupPicker, model: str) -> object: ...

    def shared_state(self, core: Any) -> bool: ...

    def least_busy_state(self, core: Any, request_kwargs: object, endpoint: bool, is_async: bool) -> tuple | None:
        """``(cache, reservations, reserve)``: the ``InMemoryCache`` the router's least-busy
        selector counts requests in flight in; (1.110) its reservation store, lock, clock and
        TTL; and ``(selector, tag)`` when LiteLLM's pick would hold the pick for the request
        (``endpoint``: an endpoint's pick). None when that selector is not the plain one the
        native read reproduces."""
        return None

    def usage_v2_state(self, core: Any) -> tuple | None:
        """``(cache, module)``: the ``InMemoryCache`` the usage-based-v2 selector counts in,
        and its module; None when that selector is not the plain one the native read reproduces."""
        module = self._usage_v2
        _, dual_type, memory_type = self._least_busy_types
        selector = self.selector(core, "lowesttpm_logger_v2")
        memory = _selector_memory(selector, module.LowestTPMLoggingHandler_v2, dual_type, memory_type)
        return None if memory is None else (memory, module)

    def input_tokens(self, module: ModuleType, messages: object, input: object) -> float | None:
        """The prompt's tokens as the stateful strategies count them against tpm limits, or
        None where this line counts them in a way the patch does not reproduce."""
        return None

    def latency_state(self, core: Any) -> tuple | None:
        """``(cache, module, buffer, ttft percentile)`` of the router's latency selector, or None."""
        _, dual_type, memory_type = self._least_busy_types
        return _latency_state(self.selector(core, "lowestlatency_logger"), self._latency, dual_type, memory_type)

    def selector(self, core: Any, attribute: str) -> object:
        """The router's strategy selector held under ``attribute`` (None if it has none)."""
        return None

    def lowest_state(self, core: Any, strategy: str) -> tuple | None:
        """``(cache, module)`` of the router's usage-based (v1) or cost-based selector: the
        ``InMemoryCache`` it counts in and its module; None when that selector is not the plain
        one the native read reproduces."""
        module, handler = self._lowest[strategy]
        _, dual_type, memory_type = self._least_busy_types
        memory = _selector_memory(self.selector(core, _LOWEST_ATTRIBUTES[strategy]), handler, dual_type, memory_type)
        return None if memory is None else (memory, module)

    def filters_deployments(self, core: Any) -> bool:
        """Whether an async pick would run a routing callback's ``async_filter_deployments``
        (the base ``CustomLogger``'s keeps every deployment, so only overrides count)."""
        ...

    def refuses(self, core: Any, request_kwargs: object, messages: object) -> bool:
        """Whether LiteLLM's own pick would refuse the request's fields before picking (a
        value its request reader rejects). Asked for the picks that are not an endpoint's (an
        endpoint's request was read before its pick)."""
        return False

    def reference_settings(self, litellm: ModuleType) -> dict[str, object]:
        """A default router's settings, built once.

        The router built to read them is retired at once (``Router.retire``, LiteLLM's own
        release of a router it no longer uses): on 1.109 a new router adds its usage and
        cooldown callbacks to LiteLLM's global callback lists, and left there they would run
        on every later call of the process (a success callback per request in the proxy)."""
        if self.reference is None:
            router = litellm.Router(
                model_list=[
                    {
                        "model_name": "fastllm-reference",
                        "litellm_params": {"model": "openai/fastllm-reference", "api_key": "unused"},
                        "model_info": {"id": "fastllm-reference"},
                    }
                ]
            )
            try:
                self.reference = _settings_signature(self.settings(router._core))
            finally:
                retire = getattr(router, "retire", None)
                if callable(retire):
                    retire()
        return self.reference


class _PythonCoreLine(_Line):
    """1.109: ``PythonCore`` keeps its settings as attributes and serves the model list's own
    dicts; cooldowns live in the cooldown cache's ``InMemoryCache``."""

    copy = False
    strategy_setting = "_core_routing_strategy"
    selector_attributes = {
        "least-busy": "leastbusy_logger",
        "usage-based-routing-v2": "lowesttpm_logger_v2",
        "latency-based-routing": "lowestlatency_logger",
        **_LOWEST_ATTRIBUTES,
    }

    def version(self, core: Any) -> tuple:
        return (core._registry_version, core._settings_version)

    def selector(self, core: Any, attribute: str) -> object:
        return core.__dict__.get(attribute)

    def input_tokens(self, module: ModuleType, messages: object, input: object) -> float:
        # `_common_checks_available_deployment`: LiteLLM's token_counter, 0 when it raises.
        try:
            return float(module.token_counter(messages=messages, text=input))
        except Exception:
            return 0.0

    def least_busy_state(self, core: Any, request_kwargs: object, endpoint: bool, is_async: bool) -> tuple | None:
        memory = _selector_memory(self.selector(core, "leastbusy_logger"), *self._least_busy_types)
        return None if memory is None else (memory, None, None)

    def settings(self, core: Any) -> dict[str, object]:
        return dict(vars(core))

    def deployments(self, core: Any) -> list:
        return list(core._core_model_list)

    def shared_state(self, core: Any) -> bool:
        return getattr(core._core_cooldown_cache.cache, "redis_cache", None) is not None

    def filters_deployments(self, core: Any) -> bool:
        return _any_filter(core._routing_callbacks())

    def cooling(self, core: Any, picker: _native.GroupPicker, model: str) -> object:
        cooldowns = core._core_cooldown_cache
        if not cooldowns.in_memory_cache.cache_dict:
            return None
        from litellm.router_utils import cooldown_handlers

        return set(cooldown_handlers.get_cooldown_deployments(ctx=core._core_ctx, parent_otel_span=None))


class _RustCoreLine(_Line):
    """1.110: ``RustCore`` keeps its settings in ``_resolved`` and serves a fresh copy of the
    deployment per pick; cooldowns live in LiteLLM's native cooldown store."""

    copy = True
    strategy_setting = "routing_strategy"

    def selector(self, core: Any, attribute: str) -> object:
        return core._selectors.attribute(attribute)

    def least_busy_state(self, core: Any, request_kwargs: object, endpoint: bool, is_async: bool) -> tuple | None:
        handler_type, dual_type, memory_type = self._least_busy_types
        module = self._least_busy
        selector = self.selector(core, "leastbusy_logger")
        memory = _selector_memory(selector, handler_type, dual_type, memory_type)
        store = getattr(selector, "_reservations", None)
        if memory is None or type(store) is not memory_type:
            return None
        # Whether LiteLLM's pick holds it for the request: an endpoint's pick unless its call
        # site says not to, a sync pick only when its call site says to, `select` never.
        if endpoint:
            holds = module.pick_reserves(True)
        else:
            holds = not is_async and module.pick_reserves(False)
        reserve = None
        if holds and request_kwargs:
            call_id = module.call_id_of(module.CALL_IDENTITY.validate_python(request_kwargs))
            reserve = (selector, call_id if call_id is not None else module._PICK_OWNER.get())
        ttl = module.SELECTION_RESERVATION_TTL_SECONDS
        return memory, (store, module._RESERVATIONS_LOCK, selector._clock, float(ttl)), reserve

    def version(self, core: Any) -> tuple:
        return (core._hosted._registry_version, id(core._handle), id(core._resolved))

    def input_tokens(self, module: ModuleType, messages: object, input: object) -> float | None:
        # The selectors' `embedding_aware_token_count(messages, input, backend models)`, 0 when
        # it raises. It asks for the deployments' backend models only for media in an
        # embedding input; that count is left to LiteLLM.
        def backend_models() -> Sequence[str]:
            raise _NeedsDeployments

        try:
            return float(module.embedding_aware_token_count(messages, input, backend_models))
        except _NeedsDeployments:
            return None
        except Exception:
            return 0.0

    def settings(self, core: Any) -> dict[str, object]:
        resolved = core._resolved
        values = {field.name: getattr(resolved, field.name) for field in dataclasses.fields(resolved)}
        values["_custom_strategy"] = core.__dict__.get("_custom_strategy")
        values["_core_async_get_available_deployment"] = core.__dict__.get("_core_async_get_available_deployment")
        return values

    def deployments(self, core: Any) -> list:
        # The hosted list's entries are live views; a pick serves a plain copy of one.
        return [_plain_copy(entry) for entry in core.model_list]

    def shared_state(self, core: Any) -> bool:
        return bool(core._cooldowns.cooldown_store.has_redis)

    def refuses(self, core: Any, request_kwargs: object, messages: object) -> bool:
        # `_Selection` reads the request with `_routing_fields` (`_start_fields` validates
        # fallbacks, retries and cooldowns and raises on a value it refuses): asked only when
        # the request carries one of those keys.
        if type(request_kwargs) is not dict or _VALIDATED_REQUEST.isdisjoint(request_kwargs):
            return False
        try:
            core._routing_fields(request_kwargs, messages)
        except Exception:
            return True
        return False

    def filters_deployments(self, core: Any) -> bool:
        # The list `has_filters` walks; with an overriding filter in it LiteLLM also asks a
        # prompt caching check, which _any_filter counts as a filter too.
        return _any_filter(core._opt.routing_callbacks())

    def cooling(self, core: Any, picker: _native.GroupPicker, model: str) -> object:
        store = core._cooldowns.cooldown_store
        if not store._handle.snapshot():
            return None
        return {model_id for model_id, _ in store.active_sync(tuple(picker.ids(model)))}


_lines: dict[type, _Line] = {}


def _line(litellm: ModuleType) -> _Line | str:
    """This install's line (one object per core class, so a default router's settings are
    read once per process), or why the router feature does not apply to it."""
    try:
        from litellm.router_rust.core import RustCore as core_class
    except ImportError:
        try:
            from litellm.router_python_core import PythonCore as core_class
        except ImportError:
            return "neither litellm.router_rust.core.RustCore nor litellm.router_python_core.PythonCore exists"
    line = _lines.get(core_class)
    if line is None:
        kind = _RustCoreLine if core_class.__name__ == "RustCore" else _PythonCoreLine
        line = _lines.setdefault(core_class, kind(core_class))
    return line


class RouterPatch:
    """The patched picks of one line, with their per-core pickers."""

    def __init__(self, litellm: ModuleType, line: _Line, stats: _native.Stats) -> None:
        self.litellm = litellm
        self.line = line
        self.stats = stats
        self.entries: weakref.WeakKeyDictionary[object, _Entry] = weakref.WeakKeyDictionary()
        self.getrandbits = random._inst.getrandbits  # type: ignore[attr-defined]
        self.steps = cache_steps()

    def forget(self, core: object) -> None:
        self.entries.pop(core, None)

    def _build(self, core: Any, version: tuple) -> _Entry:
        line = self.line
        reason: str | None = None
        strategy: object = None
        try:
            settings = _settings_signature(line.settings(core))
            reference = line.reference_settings(self.litellm)
            strategy = settings.get(line.strategy_setting)
            if strategy not in line.strategies:
                reason = f"a routing strategy the picker does not serve on this line ({strategy!r})"
            else:
                differing = sorted(
                    name
                    for name in set(settings) | set(reference)
                    if name not in (line.strategy_setting, line.selector_attributes.get(strategy))
                    and settings.get(name, _MISSING) != reference.get(name, _MISSING)
                )
                if differing:
                    reason = f"router settings that may change a pick: {', '.join(differing[:5])}"
            if reason is None and line.shared_state(core):
                reason = "a router whose cooldowns are shared in Redis"
            groups: dict[str, list] = {}
            if reason is None:
                for deployment in line.deployments(core):
                    plain = _plain_deployment(deployment)
                    if isinstance(plain, str):
                        reason = plain
                        break
                    group, deployment_id, *rest = plain
                    groups.setdefault(group, []).append((deployment_id, deployment, *rest))
            if reason is None:
                ids = [member[0] for members in groups.values() for member in members]
                if len(set(ids)) != len(ids) or set(ids) & set(groups):
                    reason = "deployment ids that repeat or name a model group"
            picker = None if reason is not None else _native.GroupPicker(groups, self.getrandbits, line.copy)
        except Exception as error:  # an install this code does not know: LiteLLM picks
            picker, reason = None, f"a router this patch cannot read ({type(error).__name__}: {error})"
        entry = _Entry(version, picker, reason, None if picker is None else strategy)
        self.entries[core] = entry
        return entry

    def _prompt_tokens(
        self, picker: _native.GroupPicker, model: str, module: ModuleType, messages: object, input: object
    ) -> float | None:
        """The prompt's tokens a stateful strategy checks tpm limits with (0 when the group has
        none), or None (the fallback counted) where this line counts them its own way."""
        if not picker.has_tpm_limits(model):
            return 0.0
        tokens = self.line.input_tokens(module, messages, input)
        if tokens is None:
            self.stats.record_fallback("tpm limits and media in an embedding input (counted with the deployments' backend models)")
        return tokens

    def _clock_and_tokens(
        self, picker: _native.GroupPicker, model: str, module: ModuleType, messages: object, input: object
    ) -> tuple[datetime.datetime, float] | None:
        """The strategy module's ``datetime.now()`` (LiteLLM keys its minute by it; the picker
        formats it natively) and the prompt's tokens, or None (the fallback counted)."""
        now = module.datetime.now()
        if type(now) is not module.datetime:
            self.stats.record_fallback("a clock the native pick does not read")
            return None
        tokens = self._prompt_tokens(picker, model, module, messages, input)
        return None if tokens is None else (now, tokens)

    def pick(
        self,
        core: Any,
        model: object,
        specific_deployment: object,
        request_kwargs: object,
        is_async: bool,
        endpoint: bool = False,
        messages: object = None,
        input: object = None,
        candidates: object = None,
        strategy: object = None,
    ) -> object:
        """The deployment, or None when LiteLLM's own pick must answer (the fallback counted).
        ``is_async``: the async chain, which also runs the routing callbacks' filters.
        ``endpoint``: an endpoint's pick (acompletion and the other endpoints), which least-busy
        holds for the request on 1.110. ``candidates``: the ids a core's ``strategy`` step asks
        ``strategy`` to pick among (instead of the group less its cooldowns)."""
        stats = self.stats
        if type(model) is not str or specific_deployment not in (None, False):
            stats.record_fallback("a pick of a specific deployment or a non-str model")
            return None
        steers = _request_steers(request_kwargs)
        if steers is None and _carries_media(messages, request_kwargs):
            steers = "a request with an image (deployments that declare no vision are dropped)"
        if steers is None and not endpoint and self.line.refuses(core, request_kwargs, messages):
            steers = "request fields LiteLLM's router refuses"
        if steers is not None:
            stats.record_fallback(steers)
            return None
        litellm = self.litellm
        if litellm.model_alias_map:
            stats.record_fallback("litellm.model_alias_map is set")
            return None
        try:
            version = self.line.version(core)
            entry = self.entries.get(core)
            if entry is None or entry.version != version:
                entry = self._build(core, version)
            picker = entry.picker
            if picker is None:
                stats.record_fallback(entry.reason or "a router the picker does not serve")
                return None
            if model not in picker:
                stats.record_fallback("a model that is not one of the router's groups")
                return None
            if is_async and self.line.filters_deployments(core):
                stats.record_fallback("a routing callback that filters deployments")
                return None
            if candidates is None:
                cooling = self.line.cooling(core, picker, model)
            else:
                # A core's strategy step: its candidates are the group's deployments left
                # after its own cooldown and filter steps.
                cooling = _left_out(picker.ids(model), candidates) if strategy == entry.strategy else _MISSING
                if cooling is _MISSING:
                    stats.record_fallback("a strategy step this picker does not answer")
                    return None
            if entry.strategy == SIMPLE_SHUFFLE:
                picked = picker.pick(model, cooling)
            elif is_async and litellm.service_callback:
                stats.record_fallback("service callbacks, which LiteLLM's async pick reports to")
                return None
            elif entry.strategy == "usage-based-routing-v2":
                state = self.line.usage_v2_state(core)
                if state is None:
                    stats.record_fallback("a usage-based-v2 selector the native read does not reproduce")
                    return None
                cache, module = state
                now = module.get_utc_datetime()  # its minute keys the counters (formatted natively)
                if type(now) is not datetime.datetime:
                    stats.record_fallback("a clock the native pick does not read")
                    return None
                tokens = self._prompt_tokens(picker, model, module, messages, input)
                if tokens is None:
                    return None
                picked = picker.usage_v2(model, cooling, cache, self.steps, now, tokens)
                if picked is None:
                    stats.record_fallback("usage or limits the native pick leaves to LiteLLM (or none within them)")
                    return None
            elif entry.strategy in _LOWEST_ATTRIBUTES:
                usage_v1 = entry.strategy == "usage-based-routing"
                if not (usage_v1 or is_async):
                    stats.record_fallback("a sync cost-based pick, which LiteLLM does not make (it raises)")
                    return None
                state = self.line.lowest_state(core, entry.strategy)
                if state is None:
                    stats.record_fallback(f"a {entry.strategy} selector the native read does not reproduce")
                    return None
                cache, module = state
                clocked = self._clock_and_tokens(picker, model, module, messages, input)
                if clocked is None:
                    return None
                now, tokens = clocked
                if usage_v1:
                    picked = picker.usage_v1(model, cooling, cache, self.steps, now, tokens)
                else:
                    picked = picker.cost(model, cooling, cache, self.steps, now, tokens, module.litellm.model_cost)
                if picked is None:
                    stats.record_fallback("usage, prices or limits the native pick leaves to LiteLLM (or none within them)")
                    return None
            elif entry.strategy == "latency-based-routing":
                state = self.line.latency_state(core)
                metadata = None
                if request_kwargs is not None and "metadata" in request_kwargs:
                    metadata = request_kwargs["metadata"]
                    if type(metadata) is not dict:
                        state = None
                if state is None:
                    stats.record_fallback("a latency selector or request the native pick does not reproduce")
                    return None
                cache, module, buffer, percentile = state
                clocked = self._clock_and_tokens(picker, model, module, messages, input)
                if clocked is None:
                    return None
                now, tokens = clocked
                stream = request_kwargs is not None and request_kwargs.get("stream") is True
                picked = picker.latency(model, cooling, cache, self.steps, now, tokens, stream, buffer, percentile, metadata)
                if picked is None:
                    stats.record_fallback("latencies or limits the native pick leaves to LiteLLM (or none within them)")
                    return None
            else:  # least-busy
                state = self.line.least_busy_state(core, request_kwargs, endpoint, is_async)
                if state is None:
                    stats.record_fallback("a least-busy selector the native read does not reproduce")
                    return None
                cache, reservations, reserve = state
                picked = picker.least_busy(model, cooling, cache, self.steps, reservations, reserve)
                if picked is None:
                    stats.record_fallback("a count or cooldown state the native read leaves to LiteLLM")
                    return None
        except Exception as error:
            stats.record_fallback(f"{type(error).__name__}: {error}")
            return None
        if picked is None:
            stats.record_fallback("every deployment of the group is cooling down")
            return None
        stats.record_call()
        return picked


def _left_out(ids: list[str], candidates: object) -> set[str] | None | object:
    """The group's ids a strategy step's ``candidates`` leave out (None: none), or ``_MISSING``
    when they are not a subsequence of the group's ids in its order."""
    if type(candidates) is not list or not candidates:
        return _MISSING
    position = 0
    for candidate in candidates:
        try:
            position = ids.index(candidate, position) + 1
        except ValueError:
            return _MISSING
    if len(candidates) == len(ids):
        return None
    return set(ids).difference(candidates)


def _carries_media(messages: object, request_kwargs: object) -> bool:
    """Whether the pick's messages (or input) may hold an image, as LiteLLM's own
    ``request_contains_image_content`` reads them; a list of text-only messages is walked here,
    anything else asks LiteLLM's reader."""
    # `messages or request.get("messages") or request.get("input")`, as both lines read it
    # (the pick's own `input` argument is not read).
    source = messages
    if not source and type(request_kwargs) is dict:
        source = request_kwargs.get("messages") or request_kwargs.get("input")
    if not source or type(source) is str:
        return False
    if type(source) is list:
        for message in source:
            if type(message) is not dict:
                return _contains_image(source)
            content = message.get("content")
            if content is not None and type(content) is not str:
                return _contains_image(source)
        return False
    return _contains_image(source)


@functools.cache
def _image_reader() -> Callable[[object], bool]:
    from litellm.litellm_core_utils.prompt_templates.common_utils import request_contains_image_content

    return request_contains_image_content


def _contains_image(source: object) -> bool:
    try:
        return bool(_image_reader()(source))
    except Exception:  # LiteLLM's reader raises on this input: leave the pick to LiteLLM
        return True


def _request_steers(request_kwargs: object) -> str | None:
    """Why a request's keys send its pick to LiteLLM (``ROUTING_FIELDS``' steering request and
    metadata entries), or None."""
    if not request_kwargs:
        return None
    if type(request_kwargs) is not dict:
        return "request kwargs that are not a dict"
    if not _STEERING_REQUEST.isdisjoint(request_kwargs):
        for name in _STEERING_REQUEST.intersection(request_kwargs):
            value = request_kwargs[name]
            # The media filters read `bool(...)`; the rest act on any value but None (and an
            # `enable_tag_filtering` of False is off, as everywhere it is read).
            if name in ("audio", "videos", "enable_tag_filtering", "specific_deployment"):
                if value:
                    return f"a request with {name} (it steers the pick)"
            elif value is not None:
                return f"a request with {name} (it steers the pick)"
    for bucket in ("metadata", "litellm_metadata"):
        metadata = request_kwargs.get(bucket)
        if metadata is None:
            continue
        if type(metadata) is not dict:
            return f"a request whose {bucket} is not a dict"
        if not _STEERING_METADATA.isdisjoint(metadata):
            name = min(_STEERING_METADATA.intersection(metadata))
            return f"a request whose {bucket} has {name} (it steers the pick)"
    return None


def install(litellm: ModuleType, explicit: bool, feature: Feature) -> None:
    """The ``router`` feature's patcher (see :mod:`fastllm_litellm._feature`): the router
    core's picks, on both lines."""
    installed: list[tuple[type, str, object]] = []
    reason = _compat.check("router")  # the pick path's fingerprints (fastllm_litellm._compat)
    try:
        if reason is None:
            reason = patch_router(litellm, STATS["router"], installed)
    finally:  # what it installed before an error is restored with the feature
        for owner, name, original in installed:
            feature.bindings.append(Binding(owner, name, original, True))  # type: ignore[arg-type]
    if reason is not None:
        if explicit:
            warnings.warn(f"fastllm_litellm: router is not patched: {reason}", RuntimeWarning, stacklevel=4)
        raise NotApplicable(reason)


def patch_router(litellm: ModuleType, stats: _native.Stats, bindings: list) -> str | None:
    """Installs the patched picks; appends ``(owner, name, original)`` for each to ``bindings``.
    Returns why the feature does not apply, or None."""
    line = _line(litellm)
    if isinstance(line, str):
        return line
    state = RouterPatch(litellm, line, stats)
    cls = line.core_class
    if isinstance(line, _RustCoreLine):
        replacements = _rust_core_picks(cls, state)
    else:
        replacements = _python_core_picks(cls, state)
    for name in ("__setattr__", "__delattr__"):
        original = cls.__dict__[name]

        def make(original: Callable[..., Any]) -> Callable[..., Any]:
            @functools.wraps(original)
            def invalidate(self, *args):
                state.forget(self)
                return original(self, *args)

            return invalidate

        replacements[name] = make(original)
    for name, replacement in replacements.items():
        bindings.append((cls, name, cls.__dict__[name]))
        setattr(cls, name, replacement)
    return None


def _sync_pick(original: Callable[..., Any], pick: Callable[..., Any]) -> Callable[..., Any]:
    """A core's patched ``get_available_deployment`` (the same signature on both lines)."""

    @functools.wraps(original)
    def get_available_deployment(self, model, messages=None, input=None, specific_deployment=False, request_kwargs=None):
        picked = pick(self, model, specific_deployment, request_kwargs, False, messages=messages, input=input)
        if picked is not None:
            return picked
        # 1.110's own pick asks the strategy step below too: it must not count a second fallback.
        token = _declined.set(True)
        try:
            return original(
                self,
                model=model,
                messages=messages,
                input=input,
                specific_deployment=specific_deployment,
                request_kwargs=request_kwargs,
            )
        finally:
            _declined.reset(token)

    return get_available_deployment


def _python_core_picks(cls: type, state: RouterPatch) -> dict[str, Callable[..., Any]]:
    original_sync = cls.__dict__["get_available_deployment"]
    original_async = cls.__dict__["_core_async_get_available_deployment"]
    pick = state.pick

    @functools.wraps(original_async)
    async def _core_async_get_available_deployment(
        self, model, request_kwargs, messages=None, input=None, specific_deployment=False
    ):
        picked = pick(self, model, specific_deployment, request_kwargs, True, messages=messages, input=input)
        if picked is None:
            return await original_async(
                self,
                model=model,
                request_kwargs=request_kwargs,
                messages=messages,
                input=input,
                specific_deployment=specific_deployment,
            )
        return picked

    return {
        "get_available_deployment": _sync_pick(original_sync, pick),
        "_core_async_get_available_deployment": _core_async_get_available_deployment,
    }


_PRE_ROUTE_INPUTS = ("messages", "input", "specific_deployment")


def _rust_core_picks(cls: type, state: RouterPatch) -> dict[str, Callable[..., Any]]:
    original_sync = cls.__dict__["get_available_deployment"]
    original_select = cls.__dict__["select"]
    pick = state.pick


    @functools.wraps(original_select)
    async def select(
        self,
        model,
        request_kwargs=None,
        *,
        kind="pick",
        specific_deployment=None,
        messages=None,
        input=None,
        health_check_probe=False,
        **options,
    ):
        if kind == "pick" and not options:
            picked = pick(self, model, specific_deployment, request_kwargs, True, messages=messages, input=input)
            if picked is not None:
                return picked
        # LiteLLM's own selection asks _pre_route below too: it must not count a second fallback.
        token = _declined.set(True)
        try:
            return await original_select(
                self,
                model,
                request_kwargs,
                kind=kind,
                specific_deployment=specific_deployment,
                messages=messages,
                input=input,
                health_check_probe=health_check_probe,
                **options,
            )
        finally:
            _declined.reset(token)

    original_pre_route = cls.__dict__["_pre_route"]
    from litellm.router_rust import core as core_module

    as_document = core_module._custom_pick
    no_input = core_module._NO_INPUT

    def custom_pick(core, step: dict, request: object, given: Sequence[object], is_async: bool) -> object:
        # A pre-route step's pick, as the core's custom-strategy document, or None: the first
        # attempt's only (a fallback hop routes its own group), and not while LiteLLM's own
        # selection runs after a declined pick. ``given``: (messages, input,
        # specific_deployment) as the step's caller passed them, else the request's own.
        if step.get("fallback_depth") not in (None, 0) or _declined.get():
            return None
        plain = type(request) is dict
        messages, input, specific = (
            (request.get(name) if plain else None) if value is no_input else value
            for name, value in zip(_PRE_ROUTE_INPUTS, given)
        )
        picked = pick(core, step.get("model"), specific, request, is_async, True, messages=messages, input=input)
        return None if picked is None else as_document(picked)

    @functools.wraps(original_pre_route)
    async def _pre_route(self, step, request, *args, pass_through=False, call_type=None, **kwargs):
        # An endpoint's pick (acompletion and the other async endpoints): LiteLLM's pre-routing
        # runs first, as it would; only when it routes nothing does the pick come from here,
        # handed to the Rust core as its custom-strategy answer.
        routed = await original_pre_route(
            self, step, request, *args, pass_through=pass_through, call_type=call_type, **kwargs
        )
        if routed is not None or pass_through or type(step) is not dict:
            return routed
        given = [args[k] if len(args) > k else kwargs.get(name, no_input) for k, name in enumerate(_PRE_ROUTE_INPUTS)]
        return custom_pick(self, step, request, given, True)

    original_inputs = cls.__dict__["_routing_inputs"]

    @functools.wraps(original_inputs)
    def _routing_inputs(self, plan, request, prepared, model, overrides):
        # A sync routed call (`completion` and the other sync endpoints) of a simple-shuffle
        # router: LiteLLM's core picks it without a host step, unless the call pre-routes. With
        # `pre_routes` it asks the host's custom pick first (below), which answers with the
        # patched pick; declined, it answers nothing and the core picks as it would have.
        fields = original_inputs(self, plan, request, prepared, model, overrides)
        if (
            plan.sync
            and type(fields) is dict
            and "pre_routes" not in fields
            and self._resolved.routing_strategy == SIMPLE_SHUFFLE
            and self.__dict__.get("_custom_strategy") is None
        ):
            fields["pre_routes"] = True
        return fields

    original_custom_sync = cls.__dict__["_custom_pick_sync"]

    @functools.wraps(original_custom_sync)
    def _custom_pick_sync(self, step, request, messages=no_input, input=no_input, specific_deployment=no_input):
        if self._custom_strategy is not None or type(step) is not dict:
            return original_custom_sync(self, step, request, messages, input, specific_deployment)
        # Only the calls `_routing_inputs` made pre-route reach here without a custom strategy.
        return custom_pick(self, step, request, (messages, input, specific_deployment), False)

    original_answer_sync = cls.__dict__["_answer_select_sync"]

    @functools.wraps(original_answer_sync)
    def _answer_select_sync(self, step, request, messages, input):
        # A sync routed call's strategy step (`completion` with a stateful strategy: the Rust
        # core asks the host to pick among the candidates it left): answered with the id.
        if type(step) is dict and step.get("stage") == "strategy" and not _declined.get() and _plain_strategy_step(step):
            picked = pick(
                self,
                step.get("model"),
                None,
                request,
                False,
                messages=messages,
                input=input,
                candidates=step.get("candidates"),
                strategy=step.get("strategy"),
            )
            if picked is not None:
                return [picked["model_info"]["id"]]
        return original_answer_sync(self, step, request, messages, input)

    return {
        "get_available_deployment": _sync_pick(original_sync, pick),
        "select": select,
        "_pre_route": _pre_route,
        "_answer_select_sync": _answer_select_sync,
        "_routing_inputs": _routing_inputs,
        "_custom_pick_sync": _custom_pick_sync,
    }


# The keys of a 1.110 strategy step the patch answers, and the values the others must have.
_STRATEGY_STEP_KEYS = frozenset({"kind", "pool", "stage", "strategy", "model_group", "model", "scope", "group", "candidates", "events"})


def _plain_strategy_step(step: dict) -> bool:
    """A strategy step of the router's default strategy over one group's deployments (no
    routing group, no per-request override, no entries sharing an id, nothing pooled)."""
    return (
        _STRATEGY_STEP_KEYS.issuperset(step)
        and step.get("scope") == "default"
        and step.get("group") is None
        and step.get("pool") == []
        and step.get("events") == []
        and step.get("model") == step.get("model_group")
    )
