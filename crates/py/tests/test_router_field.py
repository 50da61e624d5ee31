"""The ``router`` feature on the requests and deployments its users send, property-based.

Each example draws a router (a strategy, deployments with provider-shaping ``litellm_params``,
prices and ``model_info`` fields) and a request (a random subset of the OpenAI chat-completions
parameters, LiteLLM's per-call parameters and the metadata LiteLLM's proxy attaches), runs the
same picks on LiteLLM as installed and then patched, from the same ``random.seed``, and asserts:
the picks (and the request as each pick left it, and the cooldowns) are equal; a draw with
nothing that steers is served natively on every pick (no fallback); a draw with one thing that
steers (a ``ROUTING_FIELDS`` entry) hands every pick back, with that entry as the reason.
"""

from __future__ import annotations

import asyncio
import copy
import random
from typing import Any

import importlib
import pkgutil

import hypothesis.internal
import litellm
import pytest
from litellm.litellm_core_utils.logging_worker import GLOBAL_LOGGING_WORKER
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

# Hypothesis imports some of its modules lazily, mid-run; CPython 3.11's parser can fail on
# such an import deep inside LiteLLM's call stack ("AST constructor recursion depth mismatch"),
# so they are all imported here, up front.
for _module in pkgutil.walk_packages(hypothesis.internal.__path__, "hypothesis.internal."):
    try:
        importlib.import_module(_module.name)
    except ImportError:
        pass
from litellm.router_strategy import lowest_cost as cost_module
from litellm.router_strategy import lowest_latency as latency_module
from litellm.router_strategy import lowest_tpm_rpm as v1_module
from litellm.router_strategy import lowest_tpm_rpm_v2 as v2_module
from test_router_patch import (  # noqa: F401 - no_global_callbacks is an autouse fixture here too
    MESSAGES,
    _FrozenDatetime,
    assert_traces_equal,
    cooldowns,
    deployments,
    no_global_callbacks,
)

import fastllm_litellm
from fastllm_litellm import _router

STRATEGIES = list(_router.ROUTING_STRATEGIES)
EXAMPLES = 10
# No shrinking: each example runs two routers through a trace, and a failing draw is printed
# as drawn (shrinking one costs minutes).
PHASES = (Phase.explicit, Phase.reuse, Phase.generate)


@pytest.fixture(autouse=True)
def frozen_minutes(monkeypatch: pytest.MonkeyPatch) -> None:
    """The stateful strategies key their counts by the minute: one fixed minute for both runs
    (a trace that straddles a minute would compare two different states)."""
    import datetime as dt

    fixed = dt.datetime(2026, 11, 28, 9, 41, 7, tzinfo=dt.timezone.utc)
    monkeypatch.setattr(v2_module, "get_utc_datetime", lambda: fixed)
    for module in (v1_module, cost_module, latency_module):
        monkeypatch.setattr(module, "datetime", _FrozenDatetime)

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
WEB_SEARCH_TOOL = {"type": "web_search_preview"}
IMAGE_MESSAGES = [
    {
        "role": "user",
        "content": [
            {"type": "text", "text": "what is in this picture?"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="}},
        ],
    }
]
TEXT_PARTS_MESSAGES = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": [{"type": "text", "text": "hello"}, {"type": "text", "text": "there"}]},
    {"role": "assistant", "content": None, "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}]},
    {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
]



def _round3(value: float) -> float:
    return round(value, 3)


# Named functions rather than anonymous ones in the strategies: Hypothesis parses an anonymous
# function's source to describe a failing example, and CPython 3.11's parser can fail there.
small_float = st.floats(min_value=0, max_value=2, allow_nan=False).map(_round3)

OPENAI_PARAMS: dict[str, st.SearchStrategy[Any]] = {
    "temperature": small_float,
    "top_p": st.floats(min_value=0, max_value=1).map(_round3),
    "n": st.integers(1, 3),
    "stop": st.sampled_from(["\n", ["END", "###"]]),
    "max_tokens": st.integers(1, 4096),
    "max_completion_tokens": st.integers(1, 4096),
    "presence_penalty": st.floats(min_value=-2, max_value=2).map(_round3),
    "frequency_penalty": st.floats(min_value=-2, max_value=2).map(_round3),
    "logit_bias": st.dictionaries(st.sampled_from(["50256", "198", "11"]), st.integers(-100, 100), max_size=2),
    "logprobs": st.booleans(),
    "top_logprobs": st.integers(0, 5),
    "user": st.text(alphabet="abcdef0123456789-", min_size=1, max_size=12),
    "seed": st.integers(0, 2**31),
    "tools": st.sampled_from([[WEATHER_TOOL], [WEATHER_TOOL, WEB_SEARCH_TOOL]]),
    "tool_choice": st.sampled_from(["auto", "none", "required"]),
    "parallel_tool_calls": st.booleans(),
    "response_format": st.sampled_from([{"type": "json_object"}, {"type": "text"}]),
    "stream": st.booleans(),
    "stream_options": st.just({"include_usage": True}),
    "reasoning_effort": st.sampled_from(["low", "medium", "high"]),
}
LITELLM_PARAMS: dict[str, st.SearchStrategy[Any]] = {
    "timeout": st.sampled_from([10, 30.5, 600]),
    "num_retries": st.integers(0, 3),
    "caching": st.booleans(),
    "litellm_call_id": st.uuids().map(str),
    "litellm_trace_id": st.uuids().map(str),
    "fallbacks": st.just(["other"]),
    "context_window_fallbacks": st.just([{"g": ["other"]}]),
    "max_fallbacks": st.integers(0, 5),
    "cooldown_time": st.sampled_from([5, 60.0]),
    "disable_fallbacks": st.booleans(),
    "api_key": st.just("sk-per-call"),
    "allowed_model_region": st.sampled_from(["eu", "us"]),
    "litellm_session_id": st.uuids().map(str),
    "previous_response_id": st.just("resp_abc123"),
    "enable_prompt_caching": st.booleans(),
}


def _auth(models: list[str]) -> Any:
    from litellm.proxy._types import UserAPIKeyAuth

    return UserAPIKeyAuth(api_key="hashed-key", user_role="proxy_admin", models=models)


PROXY_METADATA: dict[str, st.SearchStrategy[Any]] = {
    "user_api_key": st.just("88dc28d0f030c55ed4ab77ed8faf098196cb1c05df778539800c9f1243fe6b4b"),
    "user_api_key_alias": st.sampled_from(["ci-key", None]),
    "user_api_key_team_id": st.sampled_from(["team-a", None]),
    "user_api_key_team_alias": st.just("research"),
    "user_api_key_user_id": st.just("user-1"),
    "user_api_key_org_id": st.sampled_from(["org-1", None]),
    "user_api_key_end_user_id": st.just("end-user-7"),
    "user_api_key_spend": st.floats(min_value=0, max_value=100).map(_round3),
    "user_api_key_max_budget": st.sampled_from([None, 10.0]),
    "user_api_key_metadata": st.just({"env": "prod"}),
    "user_api_key_team_metadata": st.just({}),
    "user_api_key_auth": st.sampled_from([[], ["g"], ["some-access-group"]]).map(_auth),
    "headers": st.just({"content-type": "application/json", "user-agent": "OpenAI/Python 1.99.0"}),
    "endpoint": st.just("http://127.0.0.1:4000/chat/completions"),
    "requester_ip_address": st.just("127.0.0.1"),
    "user_agent": st.just("OpenAI/Python 1.99.0"),
    "litellm_api_version": st.just("1.110.2"),
    "tags": st.sampled_from([["prod"], ["eu", "batch"]]),
    "model_group": st.just("g"),
    "trace": st.just("x"),
    "requester_metadata": st.just({"trace": "x"}),
    "spend_logs_metadata": st.just({"job": "nightly"}),
}

DEPLOYMENT_PARAMS: dict[str, st.SearchStrategy[Any]] = {
    "api_base": st.sampled_from(["https://api.openai.com/v1", "https://eu.example.test/v1"]),
    "api_version": st.just("2024-06-01"),
    "organization": st.just("org-example"),
    "drop_params": st.booleans(),
    "extra_headers": st.just({"x-team": "research"}),
    "region_name": st.sampled_from(["eu", "us-east-1"]),
    "timeout": st.sampled_from([30, 60.0]),
    "stream_timeout": st.just(10),
    "max_retries": st.integers(0, 3),
    "max_tokens": st.sampled_from([1024, 4096]),
    "temperature": small_float,
    "aws_region_name": st.just("us-east-1"),
    "vertex_project": st.just("proj"),
    "max_parallel_requests": st.integers(1, 50),
    "input_cost_per_token": st.sampled_from([0, 1e-07, 2.5e-06, 5e-06, 3]),
    "output_cost_per_token": st.sampled_from([0, 4e-07, 1e-05, 2]),
    "base_model": st.sampled_from(["gpt-4o", "gpt-4o-mini", "azure/gpt-4o", "fastllm-unknown"]),
}
DEPLOYMENT_INFO: dict[str, st.SearchStrategy[Any]] = {
    "mode": st.just("chat"),
    "base_model": st.sampled_from(["gpt-4o", "gpt-4o-mini", "gpt-3.5-turbo", "fastllm-unknown"]),
    "max_tokens": st.just(4096),
    "max_input_tokens": st.just(128000),
    "max_output_tokens": st.just(16384),
    "input_cost_per_token": st.just(1e-06),
    "output_cost_per_token": st.just(2e-06),
    "supports_vision": st.booleans(),
    "supports_function_calling": st.booleans(),
    "supports_response_schema": st.booleans(),
    "litellm_provider": st.just("openai"),
    "description": st.just("a deployment"),
}
MODELS = ["openai/gpt-4o", "openai/gpt-4o-mini", "openai/gpt-3.5-turbo", "openai/fastllm-unpriced"]

# One request-side entry that steers, each as (what to add, the reason's start).
STEERING_DRAWS: dict[str, tuple[dict[str, Any], str]] = {
    "_router_weights": ({"_router_weights": {"g": {"g-1": 2.0}}}, "a request with _router_weights"),
    "routing_strategy": ({"routing_strategy": "least-busy"}, "a request with routing_strategy"),
    "_excluded_deployment_ids": ({"_excluded_deployment_ids": ["g-0"]}, "a request with _excluded_deployment_ids"),
    "_retry_skipped_deployment_ids": (
        {"_retry_skipped_deployment_ids": ["g-1"]},
        "a request with _retry_skipped_deployment_ids",
    ),
    "_target_order": ({"_target_order": 1}, "a request with _target_order"),
    "enable_tag_filtering": (
        {"enable_tag_filtering": True, "metadata": {"tags": ["prod"]}},
        "a request with enable_tag_filtering",
    ),
    "_routing_plugin_candidate_models": (
        {"metadata": {"_routing_plugin_candidate_models": ["openai/gpt-4o"]}},
        "a request whose metadata has _routing_plugin_candidate_models",
    ),
    "image": ({"messages": IMAGE_MESSAGES}, "a request with an image"),
}


def subset(options: dict[str, st.SearchStrategy[Any]], max_size: int | None = None) -> st.SearchStrategy[dict[str, Any]]:
    """A random subset of ``options``' keys, each with a value drawn from its strategy."""
    names = sorted(options)

    def values(chosen: list[str]) -> st.SearchStrategy[dict[str, Any]]:
        return st.fixed_dictionaries({name: options[name] for name in chosen})

    return st.lists(st.sampled_from(names), unique=True, max_size=max_size or len(names)).flatmap(values)


@st.composite
def model_lists(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Three deployments of group ``g`` (and one of ``other``), each with drawn fields."""
    model_list = deployments("g", 3) + deployments("other", 1)
    for deployment in model_list:
        deployment["litellm_params"]["model"] = draw(st.sampled_from(MODELS))
        deployment["litellm_params"].update(draw(subset(DEPLOYMENT_PARAMS, 6)))
        deployment["model_info"].update(draw(subset(DEPLOYMENT_INFO, 6)))
    return model_list


@st.composite
def requests(draw: st.DrawFn) -> dict[str, Any]:
    """A request: chat-completions parameters, per-call parameters, proxy metadata."""
    request = {**draw(subset(OPENAI_PARAMS, 8)), **draw(subset(LITELLM_PARAMS, 5))}
    metadata = draw(subset(PROXY_METADATA, 12))
    if metadata or draw(st.booleans()):
        request["metadata"] = metadata
    request["messages"] = draw(st.sampled_from([MESSAGES, TEXT_PARTS_MESSAGES]))
    return request


def picks_for(strategy: str) -> list[str]:
    # LiteLLM makes no sync cost-based pick (it raises), so that entry point is left out there.
    sync = [] if strategy == "cost-based-routing" else ["sync"]
    if strategy == "latency-based-routing":
        # A call's latency is measured on the clock, so it differs between any two runs of
        # LiteLLM itself: the latencies are recorded here, and acompletion's pick comes last.
        return [*sync, "async", "select", "latency", *sync, "async", "select", "acompletion"]
    return [*sync, "async", "select", "acompletion", *sync, "async", "select"]


def record_latencies(router: Any) -> None:
    """Fixed latencies (and times to first token) for the group's deployments, recorded by
    LiteLLM's own latency handler."""
    import datetime as dt

    start = dt.datetime(2026, 11, 28, 9, 41, 0)
    for index, (seconds, ttft) in enumerate([(1.5, 0.4), (0.7, 0.3), (2.5, None)]):
        kwargs: dict[str, Any] = {
            "litellm_params": {"metadata": {"model_group": "g"}, "model_info": {"id": f"g-{index}"}}
        }
        if ttft is not None:
            kwargs["stream"] = True
            kwargs["completion_start_time"] = start + dt.timedelta(seconds=ttft)
        router.lowestlatency_logger.log_success_event(kwargs, None, start, start + dt.timedelta(seconds=seconds))


async def one(router: Any, kind: str, request: dict[str, Any]) -> Any:
    """One pick (or call) with ``request``; what it returned, and the request as it left it."""
    request = copy.deepcopy(request)
    messages = request.get("messages", MESSAGES)
    try:
        if kind == "sync":
            picked = router.get_available_deployment("g", messages=messages, request_kwargs=request)
        elif kind == "async":
            picked = await router.async_get_available_deployment("g", messages=messages, request_kwargs=request)
        elif kind == "select":
            picked = await router.select("g", request, messages=messages)
        elif kind == "latency":
            record_latencies(router)
            return None
        else:
            kwargs = {k: v for k, v in request.items() if k != "messages"}
            response = await router.acompletion(model="g", messages=messages, mock_response="fine", **kwargs)
            if kwargs.get("stream"):
                chunks = [chunk async for chunk in response]
                answer = ("stream", len(chunks) > 0, chunks[0]._hidden_params.get("model_id") if chunks else None)
            else:
                answer = ("response", response.choices[0].message.content, response._hidden_params.get("model_id"))
            # The strategies record the call's success on LiteLLM's logging worker, later: the
            # next pick reads it once it is recorded (LiteLLM's own pick awaits before reading,
            # the native one does not, so an unfinished record would race differently).
            await GLOBAL_LOGGING_WORKER.flush()
            return answer
    except Exception as error:  # noqa: BLE001 - the type is compared
        return ("raise", type(error).__name__)
    return ("deployment", copy.deepcopy(picked), _comparable(request))


def _comparable(request: dict[str, Any]) -> Any:
    """The request as a pick left it, with the proxy's auth object as its fields."""
    out = dict(request)
    metadata = out.get("metadata")
    if isinstance(metadata, dict) and "user_api_key_auth" in metadata:
        out["metadata"] = {**metadata, "user_api_key_auth": metadata["user_api_key_auth"].model_dump()}
    return out


def run(
    strategy: str,
    model_list: list[dict[str, Any]],
    request: dict[str, Any],
    seed: int,
    patched: bool,
    router_kwargs: dict[str, Any] | None = None,
) -> list[Any]:
    if patched:
        fastllm_litellm.patch(["router"])
    try:
        settings = {"num_retries": 0, **(router_kwargs or {})}
        router = litellm.Router(model_list=copy.deepcopy(model_list), routing_strategy=strategy, **settings)
        loop = asyncio.new_event_loop()
        try:
            random.seed(seed)
            trace = [(kind, loop.run_until_complete(one(router, kind, request)), cooldowns(router)) for kind in picks_for(strategy)]
            trace.append(("random", random.random()))
        finally:
            loop.close()
            router.retire()
        return trace
    finally:
        fastllm_litellm.unpatch(["router"])


def compare(
    strategy: str,
    model_list: list[dict[str, Any]],
    request: dict[str, Any],
    seed: int,
    *,
    must_pick: bool = True,
    router_kwargs: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Runs both sides, asserts equal traces; the patched side's router stats."""
    saved_callbacks = list(litellm.callbacks)
    try:
        baseline = run(strategy, model_list, request, seed, patched=False, router_kwargs=router_kwargs)
        fastllm_litellm.reset_stats()
        patched = run(strategy, model_list, request, seed, patched=True, router_kwargs=router_kwargs)
        stats = dict(fastllm_litellm.status()["features"]["router"])
    finally:
        litellm.callbacks[:] = saved_callbacks
    assert_traces_equal(patched, baseline)
    # The draws must reach a pick: a trace of nothing but errors would compare nothing.
    if must_pick:
        assert any(step[1] and step[1][0] in ("deployment", "response", "stream") for step in baseline[:-1]), baseline
    return stats


@pytest.mark.parametrize("strategy", STRATEGIES)
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, phases=PHASES)
@given(model_list=model_lists(), request=requests(), seed=st.integers(0, 2**16))
def test_realistic_requests_are_served_natively(strategy: str, model_list: list, request: dict, seed: int) -> None:
    """Nothing drawn here steers: every pick is the patch's, and equal to LiteLLM's."""
    stats = compare(strategy, model_list, request, seed)
    assert stats["fallbacks"] == 0, (stats["last_fallback_reason"], request, model_list)
    # Every pick went through the patch (a failed call's fallback to `other` picks once more).
    assert stats["calls"] >= len([kind for kind in picks_for(strategy) if kind != "latency"]), stats


@pytest.mark.parametrize("strategy", STRATEGIES)
@settings(max_examples=EXAMPLES // 2, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, phases=PHASES)
@given(
    model_list=model_lists(),
    request=requests(),
    steering=st.sampled_from(sorted(STEERING_DRAWS)),
    seed=st.integers(0, 2**16),
)
def test_steering_requests_hand_back(strategy: str, model_list: list, request: dict, steering: str, seed: int) -> None:
    """One steering entry in an otherwise realistic request: every pick is LiteLLM's (with
    that entry as the reason), and the answers are equal."""
    extra, reason = STEERING_DRAWS[steering]
    request = copy.deepcopy(request)
    for name, value in extra.items():
        if name == "metadata":
            request["metadata"] = {**request.get("metadata", {}), **value}
        else:
            request[name] = value
    # (A steering entry may leave LiteLLM nothing to pick, e.g. an order no deployment has:
    # then both sides raise alike.)
    stats = compare(strategy, model_list, request, seed, must_pick=False)
    # Every direct pick hands back (acompletion may consume a routing key before its pick,
    # as LiteLLM's own call does, and then its pick is served).
    direct = [kind for kind in picks_for(strategy) if kind in ("sync", "async", "select")]
    assert stats["fallbacks"] >= len(direct), stats
    assert stats["last_fallback_reason"].startswith(reason), stats


# Router settings LiteLLM's proxy passes when it builds its Router from a config (a timeout,
# retries, fallbacks, invalid deployments skipped), none of which changes a first pick.
PROXY_ROUTER_SETTINGS = {
    "timeout": 600,
    "num_retries": 2,
    "retry_after": 0,
    "allowed_fails": 3,
    "cooldown_time": 30,
    "ignore_invalid_deployments": True,
    "fallbacks": [{"g": ["other"]}],
}


@pytest.mark.parametrize("strategy", STRATEGIES)
@settings(max_examples=3, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, phases=PHASES)
@given(model_list=model_lists(), request=requests(), seed=st.integers(0, 2**16))
def test_proxy_router_settings_are_served_natively(
    strategy: str, model_list: list, request: dict, seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A router with the settings the proxy gives it, and a configured ``request_timeout``
    (which 1.109 keeps on the router as its per-attempt timeout): served natively, equal picks."""
    monkeypatch.setattr(litellm, "request_timeout", 321.0)
    stats = compare(strategy, model_list, request, seed, router_kwargs=PROXY_ROUTER_SETTINGS)
    assert stats["fallbacks"] == 0, (stats["last_fallback_reason"], request, model_list)
    assert stats["calls"] >= len([kind for kind in picks_for(strategy) if kind != "latency"]), stats


STEERING_DEPLOYMENT_FIELDS = [
    ("model_info", "team_id", "team-a"),
    ("model_info", "access_groups", ["some-access-group"]),
    ("model_info", "tpm", 100),
    ("model_info", "supports_web_search", False),
    ("litellm_params", "order", 1),
    ("litellm_params", "tags", ["prod"]),
]


@pytest.mark.parametrize("where,name,value", STEERING_DEPLOYMENT_FIELDS, ids=[f[1] for f in STEERING_DEPLOYMENT_FIELDS])
@settings(max_examples=3, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, phases=PHASES)
@given(model_list=model_lists(), request=requests(), seed=st.integers(0, 2**16))
def test_steering_deployment_fields_hand_back(where: str, name: str, value: Any, model_list: list, request: dict, seed: int) -> None:
    """A deployment field that steers hands every pick of its router back, named as the reason."""
    model_list = copy.deepcopy(model_list)
    model_list[1][where][name] = value
    stats = compare("simple-shuffle", model_list, request, seed)
    assert stats["calls"] == stats["fallbacks"] > 0, stats
    assert stats["last_fallback_reason"] == f"a deployment with {where}.{name}", stats


def test_cost_routing_reads_deployment_prices() -> None:
    """cost-based-routing with prices only in litellm_params (and base_model rows): the cheapest
    by its own price is picked natively, as LiteLLM picks it."""
    model_list = deployments("g", 3) + deployments("other", 1)
    prices = [(5e-06, 1e-05), (1e-07, 4e-07), (0, 0)]
    for deployment, (cost_in, cost_out) in zip(model_list, prices, strict=False):
        deployment["litellm_params"].update(
            model="openai/fastllm-unpriced", input_cost_per_token=cost_in, output_cost_per_token=cost_out
        )
    model_list[2]["model_info"]["base_model"] = "gpt-4o-mini"
    request = {"temperature": 0.2, "user": "u", "metadata": {"trace": "x"}, "messages": MESSAGES}
    stats = compare("cost-based-routing", model_list, request, 5)
    assert stats["fallbacks"] == 0, stats
    baseline = run("cost-based-routing", model_list, request, 5, patched=False)
    picked = {step[1][1]["model_info"]["id"] for step in baseline[:-1] if step[1][0] == "deployment"}
    assert picked == {"g-1"}, picked


def test_every_steering_entry_is_documented() -> None:
    """The one list names a reason and a LiteLLM source for every entry, and the gates read it."""
    for field in _router.ROUTING_FIELDS:
        assert field.where in ("request", "metadata", "litellm_params", "model_info"), field
        assert field.effect in ("steers", "neutral", "reproduced"), field
        assert field.reason and field.source, field
    steering = {f.name for f in _router.ROUTING_FIELDS if f.where == "request" and f.effect == "steers"}
    assert steering - {"messages"} == _router._STEERING_REQUEST
    for name in ("temperature", "max_tokens", "user", "tools", "stream", "metadata", "timeout"):
        assert _router._request_steers({name: 1}) is None or name == "metadata"
    for name in _router._STEERING_REQUEST:
        assert _router._request_steers({name: True}) is not None, name


@pytest.mark.parametrize("request_fields", [{"max_fallbacks": -1}, {"fallbacks": 5}, {"num_retries": "x"}])
def test_request_fields_litellm_refuses_raise_alike(request_fields: dict[str, Any]) -> None:
    """A retry or fallback field whose value LiteLLM's request reader refuses (1.110 raises
    before it picks) gets LiteLLM's answer on every entry point: equal traces, and on 1.110
    the direct picks hand back with that reason."""
    request = {**request_fields, "messages": MESSAGES}
    stats = compare("simple-shuffle", deployments("g", 3) + deployments("other", 1), request, 3, must_pick=False)
    if isinstance(_router._line(litellm), _router._RustCoreLine):
        baseline = run("simple-shuffle", deployments("g", 3) + deployments("other", 1), request, 3, patched=False)
        if any(step[1] == ("raise", "BadRequestError") for step in baseline[:-1]):
            assert stats["last_fallback_reason"] == "request fields LiteLLM's router refuses", stats
