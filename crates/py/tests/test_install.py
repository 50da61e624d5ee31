"""What patch() promises any install: the originals' signatures, never raising for one
feature's trouble (reported "not applicable" in status()), and what a patched process tells
its operator (the status file, the ``fastllm_litellm`` logger, the launcher's workers)."""

from __future__ import annotations

import importlib
import inspect
import json
import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import litellm
import pytest
from conftest import assert_originals_restored, patch_module
from litellm.litellm_core_utils import token_counter as core
from litellm.utils import select_tokenizer

import fastllm_litellm
from fastllm_litellm import _cli, _feature, _status, _token_counter

PACKAGE_ROOT = Path(fastllm_litellm.__file__).resolve().parent.parent


@pytest.fixture
def everything():
    fastllm_litellm.unpatch()
    patched = fastllm_litellm.patch(list(fastllm_litellm.FEATURES))
    try:
        yield patched
    finally:
        fastllm_litellm.unpatch()
        assert_originals_restored()


def _views(function: object) -> tuple[object, object]:
    out = []
    for view in (inspect.getfullargspec, inspect.signature):
        try:
            out.append(view(function))  # type: ignore[operator]
        except (TypeError, ValueError) as error:
            out.append(f"{type(error).__name__}: {error}")
    return tuple(out)  # type: ignore[return-value]


def test_every_binding_shows_the_original_signature(everything):
    assert everything == sorted(fastllm_litellm.FEATURES)
    checked = {}
    for name, feature in patch_module._patched.items():
        checked[name] = 0
        for binding in feature.bindings:
            if not binding.present:
                continue
            current = vars(binding.module)[binding.name]
            assert current is not binding.original, (name, binding.name)
            assert _views(current) == _views(binding.original), (name, binding.module, binding.name)
            if isinstance(binding.module, type):  # what LiteLLM reads off the class
                assert _views(getattr(binding.module, binding.name)) == _views(
                    binding.original.__get__(None, binding.module)  # type: ignore[attr-defined]
                    if hasattr(binding.original, "__get__")
                    else binding.original
                ), (name, binding.module, binding.name)
            checked[name] += 1
    assert all(checked[name] > 0 for name in fastllm_litellm.FEATURES), checked


def test_the_proxy_builds_its_v3_limiter_with_the_arguments_it_reads():
    """LiteLLM's ProxyLogging._add_proxy_hooks passes a hook the arguments named by
    getfullargspec(hook).args: the patched limiter must name the same ones."""
    hooks = pytest.importorskip("litellm.proxy.hooks")
    hook = hooks.PROXY_HOOKS["parallel_request_limiter"]
    before = inspect.getfullargspec(hook)
    fastllm_litellm.patch(["rate_limit"])
    try:
        assert any(b.module is hook for b in patch_module._patched["rate_limit"].bindings)
        assert inspect.getfullargspec(hook) == before
        from litellm.caching.dual_cache import DualCache
        from litellm.proxy.utils import InternalUsageCache

        available = {"internal_usage_cache": InternalUsageCache(DualCache()), "prisma_client": None}
        built = hook(**{k: v for k, v in available.items() if k in inspect.getfullargspec(hook).args})
        assert isinstance(built, hook)
    finally:
        fastllm_litellm.unpatch()


def test_a_feature_that_fails_to_patch_is_reported_and_the_others_patch(monkeypatch):
    cls = type(litellm.Router(model_list=[]))
    sentinel = object()

    def broken(litellm_module, explicit, feature):
        feature.bindings.append(_feature.Binding(cls, "_fastllm_probe", None, False))
        cls._fastllm_probe = sentinel
        raise ModuleNotFoundError("No module named 'redis'")

    monkeypatch.setitem(patch_module._PATCHERS, "router", broken)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        patched = fastllm_litellm.patch()
    try:
        assert "router" not in patched and "token_counter" in patched
        assert "_fastllm_probe" not in cls.__dict__  # what it installed before failing is gone
        entry = fastllm_litellm.status()["features"]["router"]
        assert entry["patched"] is False and entry["applicable"] is False
        assert entry["reason"] == "ModuleNotFoundError: No module named 'redis'"
        # named explicitly, it also warns
        with pytest.warns(RuntimeWarning, match="router is not patched: ModuleNotFoundError"):
            fastllm_litellm.patch(["router"])
    finally:
        fastllm_litellm.unpatch()
    assert_originals_restored()


def test_a_patcher_says_not_applicable_with_its_reason(monkeypatch):
    def not_here(litellm_module, explicit, feature):
        raise _feature.NotApplicable("this LiteLLM's pick is not the one reproduced")

    monkeypatch.setitem(patch_module._PATCHERS, "router", not_here)
    assert "router" not in fastllm_litellm.patch()
    try:
        entry = fastllm_litellm.status()["features"]["router"]
        assert (entry["applicable"], entry["reason"]) == (False, "this LiteLLM's pick is not the one reproduced")
        assert fastllm_litellm.status()["features"]["token_counter"]["applicable"] is True
    finally:
        fastllm_litellm.unpatch()
    monkeypatch.undo()
    fastllm_litellm.patch(["router"])  # it applies again: the reason goes
    try:
        entry = fastllm_litellm.status()["features"]["router"]
        assert (entry["patched"], entry["applicable"], entry["reason"]) == (True, True, None)
    finally:
        fastllm_litellm.unpatch()
    assert_originals_restored()


def test_litellm_that_does_not_import_is_reported_not_raised(monkeypatch):
    def fails():
        raise ImportError("fastllm_litellm needs the litellm package: pip install litellm")

    monkeypatch.setattr(_feature, "import_litellm", fails)
    with pytest.warns(RuntimeWarning, match="nothing patched"):
        assert fastllm_litellm.patch() == []
    for entry in fastllm_litellm.status()["features"].values():
        assert entry["applicable"] is False and "litellm does not import" in entry["reason"]
    with pytest.raises(patch_module.UnknownFeatureError):
        fastllm_litellm.patch(["nope"])
    with pytest.raises(TypeError):
        fastllm_litellm.patch(5)  # type: ignore[arg-type]


def _run(code: str, env: dict[str, str], timeout: float = 180) -> subprocess.CompletedProcess[str]:
    environment = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, (str(PACKAGE_ROOT), os.environ.get("PYTHONPATH")))),
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "LITELLM_OFFLINE_MODE": "true",
        **env,
    }
    for name in ("FASTLLM_LITELLM_FEATURES", "FASTLLM_LITELLM_STATUS_FILE", "LITELLM_LOG"):
        if name not in env:
            environment.pop(name, None)
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], env=environment, capture_output=True, text=True, timeout=timeout
    )


@pytest.mark.parametrize("blocked", [("redis", "fastapi"), ("redis",)])
def test_without_the_proxy_dependencies_patch_succeeds_and_says_why(blocked):
    """As if they were not installed (importing them raises): patch() with the default
    features does not raise, and status() says which part of rate_limit does not apply."""
    result = _run(
        f"""
        import sys
        for name in {blocked!r}:
            sys.modules[name] = None
        import fastllm_litellm
        patched = fastllm_litellm.patch()
        entry = fastllm_litellm.status()["features"]["rate_limit"]
        feature = sys.modules["fastllm_litellm.patch"]._patched["rate_limit"]
        v3 = any(getattr(b.module, "__name__", "") == "_PROXY_MaxParallelRequestsHandler_v3" for b in feature.bindings)
        print("PATCHED", patched)
        print("V3", v3)
        print("RATE_LIMIT", entry["applicable"], entry["reason"])
        """,
        {},
    )
    assert result.returncode == 0, result.stderr[-4000:]
    assert "'token_counter'" in result.stdout and "'router'" in result.stdout
    reason = result.stdout.split("RATE_LIMIT ", 1)[1]
    assert reason.startswith("True ")  # the router's deployment checks still patch
    if "V3 True" in result.stdout:  # 1.110's limiter imports without redis, and patches
        assert reason == "True None\n", result.stdout
    else:
        assert "the v3 limiter" in reason, result.stdout
        assert any(name in reason for name in blocked) or "unimportable" in reason, result.stdout
    if "fastapi" in blocked:
        assert "V3 False" in result.stdout  # the proxy's own modules need it on both lines


def test_status_file_and_logger(tmp_path):
    path = tmp_path / "status.json"
    result = _run(
        """
        import json, os, sys, time
        import fastllm_litellm
        from fastllm_litellm import patch as _p
        patch = sys.modules["fastllm_litellm.patch"]
        fastllm_litellm.patch(["token_counter"])
        import litellm
        assert litellm.token_counter(model="gpt-4o", text="hello") == 1
        time.sleep(1.0)
        first = json.load(open(os.environ["FASTLLM_LITELLM_STATUS_FILE"]))
        assert first == fastllm_litellm.status(), (first, fastllm_litellm.status())
        stats = patch._stats["token_counter"]
        stats.record_fallback("first reason")
        time.sleep(1.5)
        stats.record_fallback("second reason")
        time.sleep(1.5)
        litellm.token_counter(model="gpt-4o", text="hello again")
        print("DONE")
        """,
        {
            "FASTLLM_LITELLM_STATUS_FILE": str(path),
            "FASTLLM_LITELLM_STATUS_INTERVAL": "0.5",
            "LITELLM_LOG": "INFO",
        },
    )
    assert result.returncode == 0, result.stderr[-4000:]
    assert "DONE" in result.stdout
    output = result.stdout + result.stderr
    warnings_logged = [line for line in output.splitlines() if "handed a call back" in line]
    assert len(warnings_logged) == 1, output[-3000:]  # the first fallback only, once
    assert "token_counter" in warnings_logged[0] and "first reason" in warnings_logged[0]
    assert "WARNING" in warnings_logged[0]
    summaries = [line for line in output.splitlines() if "token_counter 4 calls, 2 fallbacks, 50.00% native" in line]
    assert summaries, output[-3000:]
    final = json.loads(path.read_text())  # written at exit, after the last call
    entry = final["features"]["token_counter"]
    assert (entry["calls"], entry["fallbacks"], entry["last_fallback_reason"]) == (4, 2, "second reason")
    assert not list(tmp_path.glob("*.tmp*"))


def test_the_logger_is_quiet_at_litellms_default_level(tmp_path):
    result = _run(
        """
        import sys, time
        import fastllm_litellm
        fastllm_litellm.patch(["token_counter"])
        sys.modules["fastllm_litellm.patch"]._stats["token_counter"].record_fallback("why")
        time.sleep(1.5)
        """,
        {"FASTLLM_LITELLM_STATUS_INTERVAL": "0.3"},
    )
    assert result.returncode == 0, result.stderr[-4000:]
    output = result.stdout + result.stderr
    assert "handed a call back to LiteLLM's own code: why" in output  # WARNING: shown
    assert "% native" not in output  # INFO summaries: not at the default level


def test_status_path_per_worker(monkeypatch, tmp_path):
    monkeypatch.setenv("FASTLLM_LITELLM_STATUS_FILE", str(tmp_path / "s-{pid}.json"))
    assert _status.status_path() == str(tmp_path / f"s-{os.getpid()}.json")
    monkeypatch.setenv("FASTLLM_LITELLM_STATUS_FILE", str(tmp_path / "s.json"))
    monkeypatch.setattr(_status, "_worker", False)
    assert _status.status_path() == str(tmp_path / "s.json")
    monkeypatch.setattr(_status, "_worker", True)
    assert _status.status_path() == str(tmp_path / f"s.json.{os.getpid()}")
    monkeypatch.delenv("FASTLLM_LITELLM_STATUS_FILE")
    assert _status.status_path() is None
    assert _status.write_status() is False
    assert _status.write_status(str(tmp_path / "missing-dir" / "s.json")) is False  # never raises


def test_the_launcher_routes_uvicorn_workers_through_the_patch(monkeypatch):
    uvicorn = pytest.importorskip("uvicorn")
    seen = []
    monkeypatch.setattr(uvicorn, "run", lambda app, *args, **kwargs: seen.append((app, args, kwargs)))
    monkeypatch.delenv(_cli._TARGET_ENV, raising=False)
    _cli._route_uvicorn_workers()
    _cli._route_uvicorn_workers()  # once
    uvicorn.run("litellm_cli.main:proxy_worker_app", factory=True, workers=2, port=1)
    assert seen[-1] == ("fastllm_litellm._cli:worker_app", (), {"factory": True, "workers": 2, "port": 1})
    assert os.environ[_cli._TARGET_ENV] == "litellm_cli.main:proxy_worker_app|factory"
    uvicorn.run("litellm.proxy.proxy_server:app", workers=1)
    assert seen[-1] == ("fastllm_litellm._cli:worker_app", (), {"factory": True, "workers": 1})
    assert os.environ[_cli._TARGET_ENV] == "litellm.proxy.proxy_server:app|app"
    other = object()
    uvicorn.run(other, workers=1)
    assert seen[-1] == (other, (), {"workers": 1})
    # a worker patches before it loads the app it was given
    monkeypatch.setenv(_cli._TARGET_ENV, "json:dumps|app")
    fastllm_litellm.unpatch()
    try:
        assert _cli.worker_app() is json.dumps
        assert fastllm_litellm.status()["features"]["token_counter"]["patched"] is True
    finally:
        fastllm_litellm.unpatch()
    assert_originals_restored()


MODELS = ("gpt-4o", "gpt-4o-mini", "gpt-4", "gpt-3.5-turbo-0301", "o1-mini", "claude-3-5-sonnet-20240620", "my-model")
MESSAGES = [
    {"role": "system", "content": "You are concise."},
    {"role": "user", "content": "Plan a weekend in Lisbon – héllo 🌞", "name": "bob"},
]
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Weather in a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
]


def test_openai_tokenizer_custom_tokenizer_counts_natively_and_equal(everything):
    """The proxy's /utils/token_counter passes select_tokenizer(model) as custom_tokenizer;
    of type openai_tokenizer, LiteLLM counts with the model's own encoding, and so does the
    patch."""
    original = _token_counter._original_token_counter(core)
    cases = []
    for model in MODELS:
        chosen = select_tokenizer(model=model)
        for tokenizer in (chosen, {"type": "openai_tokenizer", "tokenizer": None}):
            for kwargs in ({"messages": MESSAGES}, {"messages": MESSAGES, "tools": TOOLS}, {"text": "hello " * 40}):
                cases.append((model, tokenizer, kwargs))
    fastllm_litellm.reset_stats()
    native_expected = 0
    for model, tokenizer, kwargs in cases:
        assert litellm.token_counter(model=model, custom_tokenizer=tokenizer, **kwargs) == original(
            model=model, custom_tokenizer=tokenizer, **kwargs
        ), (model, tokenizer["type"], kwargs)
        if tokenizer["type"] == "openai_tokenizer":
            native_expected += 1
    entry = fastllm_litellm.status()["features"]["token_counter"]
    assert entry["calls"] == len(cases)
    served = entry["calls"] - entry["fallbacks"]
    assert served >= native_expected - 3 * 2 * 1, entry  # at most one model's openai cases go back
    # a HuggingFace custom tokenizer is LiteLLM's
    before = entry["fallbacks"]
    hf = {"type": "huggingface_tokenizer", "tokenizer": importlib.import_module("tokenizers").Tokenizer.from_str(
        json.dumps({"version": "1.0", "model": {"type": "WordLevel", "vocab": {"[UNK]": 0, "a": 1}, "unk_token": "[UNK]"}})
    )}
    assert litellm.token_counter(model="gpt-4o", custom_tokenizer=hf, text="a a b") == original(
        model="gpt-4o", custom_tokenizer=hf, text="a a b"
    )
    entry = fastllm_litellm.status()["features"]["token_counter"]
    assert entry["fallbacks"] == before + 1 and entry["last_fallback_reason"] == "custom tokenizer"


def test_forked_children_report_on_their_own(tmp_path):
    """A fork (gunicorn's workers) while the reporting thread runs: the child is never left
    with a lock the thread held, restarts its own thread, and writes <path>.<pid>."""
    result = _run(
        """
        import os, sys, time
        import fastllm_litellm
        fastllm_litellm.patch(["token_counter"])
        children = []
        for _ in range(20):
            pid = os.fork()
            if pid == 0:
                import litellm
                litellm.token_counter(model="gpt-4o", text="child")
                assert fastllm_litellm.status()["features"]["token_counter"]["calls"] >= 1
                time.sleep(0.1)
                os._exit(0)  # no atexit: the thread's own writes made the file
            children.append(pid)
            time.sleep(0.01)
        deadline = time.monotonic() + 60
        for pid in children:
            while True:
                done, status = os.waitpid(pid, os.WNOHANG)
                if done:
                    assert status == 0, status
                    break
                assert time.monotonic() < deadline, "a forked child hung"
                time.sleep(0.02)
        print("CHILDREN", " ".join(map(str, children)))
        """,
        {"FASTLLM_LITELLM_STATUS_FILE": str(tmp_path / "status.json"), "FASTLLM_LITELLM_STATUS_INTERVAL": "0.01"},
        timeout=240,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    children = result.stdout.split("CHILDREN ", 1)[1].split()
    assert len(children) == 20
    written = {path.name for path in tmp_path.iterdir()}
    assert "status.json" in written
    assert any(f"status.json.{pid}" in written for pid in children), written
    # a child killed by os._exit mid-write may leave its temporary file; never a torn status
    assert not [name for name in written if name.startswith("status.json.tmp")], written
    for name in written - {"status.json"}:
        if ".tmp" not in name:
            assert json.loads((tmp_path / name).read_text())["features"]["token_counter"]["patched"] is True


def test_should_rate_limit_takes_its_arguments_as_litellm_does():
    """The patched should_rate_limit binds positional and keyword arguments by LiteLLM's
    parameters, and a call LiteLLM rejects raises LiteLLM's own TypeError."""
    import asyncio

    v3 = pytest.importorskip("litellm.proxy.hooks.parallel_request_limiter_v3")
    from litellm.caching.dual_cache import DualCache
    from litellm.proxy.utils import InternalUsageCache

    cls = v3._PROXY_MaxParallelRequestsHandler_v3
    descriptors = [
        {"key": "api_key", "value": "k", "rate_limit": {"requests_per_unit": 5, "tokens_per_unit": None}},
    ]

    async def calls(handler):
        out = []
        for args, kwargs in (
            ((descriptors,), {}),
            ((descriptors, None, True), {}),
            ((), {"descriptors": descriptors, "read_only": False, "skip_tpm_check": True}),
            ((descriptors,), {"parallel_slot_id": "s1", "skip_parallel_check": True}),
        ):
            response = await handler.should_rate_limit(*args, **kwargs)
            out.append(response)
        errors = []
        for args, kwargs in (((), {}), ((descriptors,), {"bogus": 1}), ((descriptors,) * 8, {})):
            with pytest.raises(TypeError) as caught:
                await handler.should_rate_limit(*args, **kwargs)
            errors.append(str(caught.value).split("()", 1)[-1])
        return out, errors

    theirs = asyncio.run(calls(cls(internal_usage_cache=InternalUsageCache(DualCache()))))
    fastllm_litellm.patch(["rate_limit"])
    try:
        fastllm_litellm.reset_stats()
        ours = asyncio.run(calls(cls(internal_usage_cache=InternalUsageCache(DualCache()))))
        entry = fastllm_litellm.status()["features"]["rate_limit"]
        assert entry["calls"] >= 4 and entry["fallbacks"] == 0, entry
    finally:
        fastllm_litellm.unpatch()
    assert ours == theirs
