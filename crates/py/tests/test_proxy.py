"""The LiteLLM proxy as its users run it: started by the launcher with every feature on,
a realistic config (priced deployments with model_info, rpm/tpm, the router's
``enforce_model_rate_limits`` check, the proxy's v3 rate limiter with key limits from
``custom_auth``), LiteLLM's own ``network_mock`` upstream, real requests, and the status file."""

from __future__ import annotations

import importlib.metadata
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
import tomllib
from pathlib import Path

import httpx
import pytest

import fastllm_litellm

MASTER_KEY = "sk-fastllm-0123456789abcdef0123456789abcdef"
PACKAGE_ROOT = Path(fastllm_litellm.__file__).resolve().parent.parent
PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"
START_TIMEOUT = 240.0

# Key limits without a database: LiteLLM's custom_auth returns the key the v3 limiter reads.
AUTH_MODULE = """
from litellm.proxy._types import UserAPIKeyAuth


async def user_api_key_auth(request, api_key):
    return UserAPIKeyAuth(
        api_key=api_key,
        user_id="fastllm-proxy-test",
        rpm_limit=100000,
        tpm_limit=100000000,
        max_parallel_requests=1000,
    )
"""


def _config(strategy: str, callbacks: str = "") -> str:
    deployments = []
    for index, (model_name, model, price_in, price_out) in enumerate(
        (
            ("gpt-4o", "openai/gpt-4o", 0.0000025, 0.00001),
            ("gpt-4o", "openai/gpt-4o", 0.000003, 0.000012),
            ("gpt-4o-mini", "openai/gpt-4o-mini", 0.00000015, 0.0000006),
            ("gpt-4o-mini", "openai/gpt-4o-mini", 0.0000002, 0.0000008),
        )
    ):
        deployments.append(
            f"""
  - model_name: {model_name}
    litellm_params:
      model: {model}
      api_key: sk-fake-{index}
      rpm: 100000
      tpm: 100000000
      timeout: 30
      input_cost_per_token: {price_in:.10f}
      output_cost_per_token: {price_out:.10f}
    model_info:
      id: {model_name}-{index}
      mode: chat
      base_model: {model.split('/')[1]}
      max_input_tokens: 128000"""
        )
    return (
        "model_list:"
        + "".join(deployments)
        + f"""
litellm_settings:
  network_mock: true{callbacks}
router_settings:
  routing_strategy: {strategy}
  optional_pre_call_checks: ["enforce_model_rate_limits"]
general_settings:
  master_key: {MASTER_KEY}
  custom_auth: limits_auth.user_api_key_auth
"""
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Proxy:
    def __init__(self, directory: Path, args: list[str], env: dict[str, str]) -> None:
        self.directory = directory
        self.port = _free_port()
        self.status_file = directory / "status.json"
        self.log = directory / "proxy.log"
        environment = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, (str(PACKAGE_ROOT), os.environ.get("PYTHONPATH")))),
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",
            "LITELLM_OFFLINE_MODE": "true",
            "FASTLLM_LITELLM_STATUS_FILE": str(self.status_file),
            "FASTLLM_LITELLM_STATUS_INTERVAL": "1",
            **env,
        }
        environment.pop("FASTLLM_LITELLM_FEATURES", None)
        environment.update(env)
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                [*args, "--config", "config.yaml", "--host", "127.0.0.1", "--port", str(self.port)],
                cwd=directory,
                env=environment,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.url = f"http://127.0.0.1:{self.port}"

    def wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"the proxy exited with {self.process.returncode}:\n{self.tail()}")
            try:
                if httpx.get(f"{self.url}/health/liveliness", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise AssertionError(f"the proxy did not answer within {START_TIMEOUT}s:\n{self.tail()}")

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-6000:]

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=30)

    def status(self) -> dict:
        return json.loads(self.status_file.read_text())


def _start(tmp_path_factory, name: str, strategy: str, launcher: list[str], callbacks: bool = False, extra=()):
    directory = tmp_path_factory.mktemp(name)
    (directory / "config.yaml").write_text(
        _config(strategy, '\n  callbacks: ["fastllm_hook.handler"]' if callbacks else "")
    )
    (directory / "limits_auth.py").write_text(AUTH_MODULE)
    (directory / "fastllm_hook.py").write_text(HOOK_MODULE)
    proxy = Proxy(directory, [*launcher, *extra], {})
    try:
        proxy.wait_ready()
    except BaseException:
        proxy.stop()
        raise
    return proxy


# The console script when the installed wheel has it (`make test` installs a fresh wheel),
# else the same entry point through `python -m`.
_SCRIPT = Path(sys.executable).with_name("fastllm-litellm")
LAUNCHER = [str(_SCRIPT), "proxy"] if _SCRIPT.exists() else [sys.executable, "-m", "fastllm_litellm", "proxy"]
# What the `litellm` console script runs (litellm_cli.main:proxy_server).
LITELLM_CLI = [sys.executable, "-c", "from litellm.proxy.proxy_cli import run_server; run_server()"]

# The `callbacks:` route: a module the config lists, which patches when LiteLLM imports it.
HOOK_MODULE = """
import fastllm_litellm
from litellm.integrations.custom_logger import CustomLogger

fastllm_litellm.patch()
handler = CustomLogger()
"""


@pytest.fixture(scope="module")
def proxy(tmp_path_factory):
    started = _start(tmp_path_factory, "proxy", "simple-shuffle", LAUNCHER)
    yield started
    started.stop()


HEADERS = {"Authorization": f"Bearer {MASTER_KEY}"}
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["c", "f"]}},
            "required": ["city"],
        },
    },
}


def _requests(count: int) -> list[tuple[str, dict]]:
    """Chat completions as applications send them, and the proxy's token counter endpoint."""
    out: list[tuple[str, dict]] = []
    for i in range(count):
        model = ("gpt-4o", "gpt-4o-mini")[i % 2]
        messages = [
            {"role": "system", "content": "You are a concise assistant for a travel company."},
            {"role": "user", "content": f"Suggest a weekend plan for Lisbon, variant {i}. Keep it short."},
        ]
        body: dict = {"model": model, "messages": messages}
        kind = i % 6
        if kind == 1:
            body |= {"temperature": 0.3, "max_tokens": 128, "top_p": 0.9}
        elif kind == 2:
            body |= {"user": f"customer-{i % 7}", "metadata": {"trace": f"t-{i}", "session": "s1"}}
        elif kind == 3:
            body |= {"tools": [WEATHER_TOOL], "tool_choice": "auto", "temperature": 0}
        elif kind == 4:
            body |= {"stream": True, "max_tokens": 64, "stream_options": {"include_usage": True}}
        elif kind == 5:
            out.append(("/utils/token_counter", {"model": model, "messages": messages}))
            body |= {"n": 1, "presence_penalty": 0.1, "seed": 7, "response_format": {"type": "text"}}
        out.append(("/v1/chat/completions", body))
    return out


def _send(proxy: Proxy, count: int) -> int:
    sent = 0
    with httpx.Client(base_url=proxy.url, headers=HEADERS, timeout=60) as client:
        for path, body in _requests(count):
            if body.get("stream"):
                with client.stream("POST", path, json=body) as response:
                    text = "".join(response.iter_text())
                assert response.status_code == 200, text[:2000]
                assert text.rstrip().endswith("data: [DONE]"), text[-500:]
            else:
                response = client.post(path, json=body)
                assert response.status_code == 200, response.text[:2000]
                payload = response.json()
                if path == "/utils/token_counter":
                    assert payload["total_tokens"] > 0, payload
                else:
                    assert payload["choices"][0]["message"] is not None, payload
                    assert "x-litellm-overhead-duration-ms" in response.headers
            sent += 1
    return sent


def _settled_status(proxy: Proxy) -> dict:
    """The status file once two writes a second apart agree (the thread writes every second)."""
    previous = None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        time.sleep(1.2)
        current = proxy.status()["features"]
        if current == previous:
            return current
        previous = current
    raise AssertionError(f"the status file kept changing: {previous}")


def _shares(features: dict) -> dict[str, tuple[int, int, float, str | None]]:
    return {
        name: (
            entry["calls"],
            entry["fallbacks"],
            (entry["calls"] - entry["fallbacks"]) / entry["calls"] if entry["calls"] else 0.0,
            entry["last_fallback_reason"],
        )
        for name, entry in features.items()
    }


def test_the_console_script_is_declared():
    scripts = tomllib.loads(PYPROJECT.read_text())["project"]["scripts"]
    assert scripts == {"fastllm-litellm": "fastllm_litellm._cli:main"}
    from fastllm_litellm import _cli

    assert callable(_cli.main)
    assert _cli.main(["--help"]) == 0
    assert _cli.main(["nope"]) == 2


def test_starts_with_every_feature_and_the_rate_limit_hooks(proxy):
    """Every feature patched before the proxy built its v3 limiter (whose constructor
    arguments LiteLLM chooses from its signature), and the proxy serves."""
    status = proxy.status()
    assert status["litellm_version"] == importlib.metadata.version("litellm")
    for name in fastllm_litellm.FEATURES:
        entry = status["features"][name]
        assert entry["patched"] is True, (name, entry)
        assert entry["applicable"] is True and entry["bindings"] > 0, (name, entry)
    log = proxy.tail()
    assert "missing 1 required positional argument" not in log
    assert "Traceback" not in log, log


def test_realistic_traffic_is_served_natively(proxy):
    before = _shares(_settled_status(proxy))
    sent = _send(proxy, 60)
    assert sent == 70  # 60 chat completions, 10 token counts
    _assert_native(before, _shares(_settled_status(proxy)))


def _assert_native(before: dict, after: dict) -> None:
    ratios = {}
    for name in ("router", "rate_limit", "token_counter"):
        calls = after[name][0] - before[name][0]
        fallbacks = after[name][1] - before[name][1]
        assert calls > 0, (name, after[name])
        ratios[name] = ((calls - fallbacks) / calls, calls, fallbacks, after[name][3])
    print("native share per feature (share, calls, fallbacks, last reason):", ratios)
    for name, (share, calls, fallbacks, reason) in ratios.items():
        assert share >= 0.99, f"{name}: {calls - fallbacks} of {calls} native; last fallback: {reason}"


def test_the_callbacks_module_route(tmp_path_factory):
    """`litellm --config` (LiteLLM's own CLI, no launcher) with a `callbacks:` module that
    calls patch() at import: it starts with every feature on, and serves patched."""
    started = _start(tmp_path_factory, "callbacks", "simple-shuffle", LITELLM_CLI, callbacks=True)
    try:
        status = started.status()
        for name in fastllm_litellm.FEATURES:
            assert status["features"][name]["patched"] is True, (name, status["features"][name])
        assert "missing 1 required positional argument" not in started.tail()
        before = _shares(_settled_status(started))
        assert _send(started, 24) == 28
        _assert_native(before, _shares(_settled_status(started)))
    finally:
        started.stop()


def test_uvicorn_workers_each_patch(tmp_path_factory):
    """--num_workers 2: uvicorn starts each worker as a new interpreter; the launcher's app
    factory patches in each, and each writes its own status file (<path>.<pid>)."""
    started = _start(tmp_path_factory, "workers", "simple-shuffle", LAUNCHER, extra=["--num_workers", "2"])
    try:
        assert _send(started, 12) == 14
        time.sleep(2.5)
        workers = [
            json.loads(path.read_text())["features"]
            for path in started.directory.glob("status.json.*")
            if path.suffix[1:].isdigit()
        ]
        assert len(workers) == 2, list(started.directory.iterdir())
        for features in workers:
            for name in fastllm_litellm.FEATURES:
                assert features[name]["patched"] is True, (name, features[name])
        served = {name: sum(f[name]["calls"] for f in workers) for name in ("rate_limit", "router")}
        assert served["rate_limit"] > 0 and served["router"] >= 14, served
        assert sum(f["rate_limit"]["fallbacks"] for f in workers) == 0, workers
    finally:
        started.stop()
