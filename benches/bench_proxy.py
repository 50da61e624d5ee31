"""LiteLLM's proxy as installed (`litellm --config`) against the same proxy under fastllm
(`fastllm-litellm proxy --config`), on loopback.

For every routing strategy it writes one proxy config (three model groups, seven deployments
with prices, `model_info` and rpm/tpm limits, `enforce_model_rate_limits`, a long master key,
LiteLLM's `network_mock` upstream), starts both proxies, checks that they answer the same
requests with responses of the same shape, then drives them in turn (one under load at a time,
the two alternating per round) with realistic chat requests at several concurrencies, plus
streaming requests. One more config sends the deployments over HTTP to a loopback
OpenAI-compatible upstream (`proxy_upstream.py`).

Per row: requests/s, p50/p99 latency, the median of LiteLLM's own
`x-litellm-overhead-duration-ms` header, the proxy process tree's CPU time per request (utime +
stime from /proc), the patched proxy's native share per feature (from its status file), and
the patched/unpatched requests/s ratio. Every response must be a 200, or the run fails.

Knobs (environment): BENCH_PROXY_SECONDS (measured seconds per cell, 2.5),
BENCH_PROXY_WARMUP (unmeasured seconds before each cell, 0.5, longer until every connection has an
answer), BENCH_PROXY_ROUNDS (3),
BENCH_PROXY_STRATEGIES (comma list, every strategy), BENCH_PROXY_CONCURRENCY ("1,20,100"),
BENCH_PROXY_STREAM_CONCURRENCY (20; 0 drops the streaming rows),
BENCH_PROXY_UPSTREAM_CONCURRENCY (20: the HTTP-upstream config's plain and streaming rows; 0
drops that config), BENCH_PROXY_PATCHED_CMD (the patched proxy's command, instead of
`fastllm-litellm proxy`), BENCH_PROXY_RESULTS (directory, benches/results), BENCH_PROXY_PIN
(1: with two CPUs or more, the proxies run on one half of them and the client on the other; 0: no
pinning).
"""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
MASTER_KEY = "sk-fastllm-0123456789abcdef0123456789abcdef"
from fastllm_litellm._router import ROUTING_STRATEGIES as STRATEGIES  # noqa: E402 - the strategies the router feature serves
FEATURES = ("router", "rate_limit", "token_counter")
CLK_TCK = os.sysconf("SC_CLK_TCK")


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    return float(raw) if raw else default


def _env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name, "").strip()
    return [x.strip() for x in raw.split(",") if x.strip()] if raw else default


SECONDS = _env_float("BENCH_PROXY_SECONDS", 2.5)
WARMUP = _env_float("BENCH_PROXY_WARMUP", 0.5)
ROUNDS = int(_env_float("BENCH_PROXY_ROUNDS", 3))
CONCURRENCY = [int(c) for c in _env_list("BENCH_PROXY_CONCURRENCY", ["1", "20", "100"])]
STREAM_CONCURRENCY = int(_env_float("BENCH_PROXY_STREAM_CONCURRENCY", 20))
UPSTREAM_CONCURRENCY = int(_env_float("BENCH_PROXY_UPSTREAM_CONCURRENCY", 20))
STATUS_INTERVAL = 1
START_TIMEOUT = 240.0
WARMUP_LIMIT = 60.0
WINDOW_LIMIT = 60.0
REQUEST_TIMEOUT = 60.0


# --------------------------------------------------------------------------------------------
# Configs


GROUPS = (
    # (model group, provider model, base_model, input $/token, output $/token, deployment names)
    ("gpt-4o", "openai/gpt-4o", "gpt-4o", 2.5e-06, 1.0e-05, ("eastus", "westeu", "direct")),
    ("gpt-4o-mini", "openai/gpt-4o-mini", "gpt-4o-mini", 1.5e-07, 6.0e-07, ("eastus", "direct")),
    ("llama-3.1-70b", "openai/meta-llama/Llama-3.1-70B-Instruct", "meta-llama/Llama-3.1-70B-Instruct",
     8.8e-07, 8.8e-07, ("vllm-a", "vllm-b")),
)


def model_list(api_base: str | None) -> list[dict]:
    """Seven deployments in three groups, each with its own price, limits and model_info."""
    out = []
    for group, model, base_model, cost_in, cost_out, names in GROUPS:
        for i, name in enumerate(names):
            params: dict[str, Any] = {
                "model": model,
                "api_key": f"sk-upstream-{group}-{name}",
                "rpm": 600_000 + 1_000 * i,
                "tpm": 900_000_000 + 1_000_000 * i,
                "input_cost_per_token": round(cost_in * (1 + 0.05 * i), 12),
                "output_cost_per_token": round(cost_out * (1 + 0.05 * i), 12),
                "timeout": 60,
                "stream_timeout": 30,
                "max_retries": 0,
            }
            if api_base is not None:
                params["api_base"] = api_base
            elif model.startswith("openai/meta-llama"):
                params["api_base"] = f"http://{name}.inference.internal:8000/v1"
            out.append({
                "model_name": group,
                "litellm_params": params,
                "model_info": {
                    "id": f"{group}-{name}",
                    "mode": "chat",
                    "base_model": base_model,
                    "max_input_tokens": 128000,
                    "max_output_tokens": 16384,
                    "supports_function_calling": True,
                    "description": f"{group} on {name}",
                },
            })
    return out


def proxy_config(strategy: str, api_base: str | None) -> dict:
    litellm_settings: dict[str, Any] = {"drop_params": True, "num_retries": 1, "request_timeout": 60}
    if api_base is None:
        litellm_settings["network_mock"] = True
    return {
        "model_list": model_list(api_base),
        "litellm_settings": litellm_settings,
        "router_settings": {
            "routing_strategy": strategy,
            "optional_pre_call_checks": ["enforce_model_rate_limits"],
            "num_retries": 1,
            "timeout": 60,
            "allowed_fails": 5,
            "cooldown_time": 30,
        },
        "general_settings": {"master_key": MASTER_KEY},
    }


def write_config(path: Path, config: dict) -> None:
    # JSON is YAML; LiteLLM's loader reads it with yaml.safe_load.
    path.write_text(json.dumps(config, indent=2))


# --------------------------------------------------------------------------------------------
# Traffic

SYSTEM = (
    "You are a support assistant for an online electronics store. Answer briefly, cite the order "
    "number when there is one, and never promise a refund the policy does not allow."
)
CONVERSATIONS = (
    [
        {"role": "user", "content": "My order 8812 was supposed to arrive on Monday and the tracking page has not moved since Friday."},
        {"role": "assistant", "content": "I'm sorry about the delay. Could you confirm the shipping postcode on the order?"},
        {"role": "user", "content": "It's 10115, Berlin. Can you tell me where the parcel is and whether I can still cancel?"},
    ],
    [
        {"role": "user", "content": "Write a Python function that merges two sorted lists without using sort()."},
        {"role": "assistant", "content": "def merge(a, b):\n    i = j = 0\n    out = []\n    while i < len(a) and j < len(b):\n        if a[i] <= b[j]:\n            out.append(a[i]); i += 1\n        else:\n            out.append(b[j]); j += 1\n    return out + a[i:] + b[j:]"},
        {"role": "user", "content": "Now make it work for any number of lists, and add type hints."},
    ],
    [
        {"role": "user", "content": "Summarise this in two sentences: The committee met on Tuesday to review the draft budget. Members raised concerns about the maintenance line, which grew by 14% while usage fell, and asked the facilities team to return with three quotes before the next meeting."},
    ],
    [
        {"role": "user", "content": "What is the difference between a fixed window and a sliding window rate limiter?"},
        {"role": "assistant", "content": "A fixed window resets its counter at each boundary; a sliding window weighs the previous window by how much of it still overlaps."},
        {"role": "user", "content": "Which one lets through bursts at the boundary, and how large can they get?"},
        {"role": "assistant", "content": "The fixed window: up to twice the limit, split across the boundary."},
        {"role": "user", "content": "Give me a concrete example with a limit of 100 requests per minute."},
    ],
)
TOOLS = [
    {"type": "function", "function": {
        "name": "lookup_order", "description": "Look up an order's status and shipping events.",
        "parameters": {"type": "object", "properties": {
            "order_id": {"type": "string", "description": "The order number"},
            "include_events": {"type": "boolean"}}, "required": ["order_id"]}}},
    {"type": "function", "function": {
        "name": "search_docs", "description": "Search the help center.",
        "parameters": {"type": "object", "properties": {
            "query": {"type": "string"}, "limit": {"type": "integer", "minimum": 1, "maximum": 10}},
            "required": ["query"]}}},
]
TOOL_TURNS = [
    {"role": "user", "content": "Where is order 8812?"},
    {"role": "assistant", "content": None, "tool_calls": [{"id": "call_Qx81kA0", "type": "function", "function": {
        "name": "lookup_order", "arguments": "{\"order_id\": \"8812\", \"include_events\": true}"}}]},
    {"role": "tool", "tool_call_id": "call_Qx81kA0", "content": "{\"status\": \"in_transit\", \"last_event\": \"Arrived at hub Leipzig\", \"eta\": \"2026-12-09\"}"},
    {"role": "user", "content": "And can I change the delivery address?"},
]


def request_bodies(stream: bool) -> list[dict]:
    """A fixed mix of realistic chat requests; the load generator cycles through it."""
    groups = [g[0] for g in GROUPS]
    bodies = []
    for i in range(12):
        conversation = CONVERSATIONS[i % len(CONVERSATIONS)]
        body: dict[str, Any] = {
            "model": groups[i % len(groups)],
            "messages": [{"role": "system", "content": SYSTEM}, *conversation],
            "temperature": (0.2, 0.7, 1.0)[i % 3],
            "max_tokens": (256, 512, 1024)[i % 3],
            "user": f"customer-{1000 + i}",
            "metadata": {"trace_id": f"trace-{i:04d}", "session_id": f"sess-{i % 5}", "env": "staging"},
        }
        if i % 4 == 1:
            body["top_p"] = 0.9
            body["presence_penalty"] = 0.1
        if i % 3 == 2:
            body["messages"] = [{"role": "system", "content": SYSTEM}, *TOOL_TURNS]
            body["tools"] = TOOLS
            body["tool_choice"] = "auto"
        if i % 6 == 5:
            body["response_format"] = {"type": "json_object"}
            body["messages"][-1] = {**body["messages"][-1],
                                    "content": body["messages"][-1]["content"] + " Answer as JSON."}
        if stream:
            body["stream"] = True
            if i % 2 == 0:
                body["stream_options"] = {"include_usage": True}
        bodies.append(body)
    return bodies


def http_request(port: int, body: dict) -> bytes:
    data = json.dumps(body, separators=(",", ":")).encode()
    head = (
        f"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Authorization: Bearer {MASTER_KEY}\r\nContent-Type: application/json\r\n"
        f"Accept: application/json\r\nUser-Agent: fastllm-bench-proxy/1\r\nContent-Length: {len(data)}\r\n\r\n"
    )
    return head.encode() + data


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes


class Connection:
    """One keep-alive HTTP/1.1 connection over asyncio streams."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def send(self, payload: bytes, keep_body: bool) -> Response:
        if self.writer is None:
            await self.open()
        assert self.reader is not None and self.writer is not None
        self.writer.write(payload)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        parts = []
        if "content-length" in headers:
            data = await self.reader.readexactly(int(headers["content-length"]))
            if keep_body:
                parts.append(data)
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            while True:
                size = int((await self.reader.readline()).split(b";")[0], 16)
                if size == 0:
                    while (await self.reader.readline()) not in (b"\r\n", b""):
                        pass
                    break
                data = await self.reader.readexactly(size + 2)
                if keep_body:
                    parts.append(data[:-2])
        else:
            data = await self.reader.read()
            self.close()
            if keep_body:
                parts.append(data)
        if headers.get("connection", "").lower() == "close":
            self.close()
        return Response(status, headers, b"".join(parts))


@dataclass
class CellResult:
    requests: int
    seconds: float
    latencies_ms: list[float]
    overheads_ms: list[float]
    cpu_seconds: float
    failures: list[str]

    @property
    def rps(self) -> float:
        return self.requests / self.seconds


# --------------------------------------------------------------------------------------------
# Processes


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _die_with_parent() -> None:
    """In a child before exec: SIGTERM when the benchmark dies, even by SIGKILL (Linux)."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _cpus() -> tuple[set[int], set[int]] | None:
    """(the load generator's CPUs, the proxies' CPUs) when BENCH_PROXY_PIN is on (the default)
    and there are at least two: the proxy under test then never shares a CPU with the client
    that drives it, and each side's rounds run on the same CPU."""
    if os.environ.get("BENCH_PROXY_PIN", "1").strip() in ("0", "", "false") or not hasattr(os, "sched_getaffinity"):
        return None
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return None
    half = len(cpus) // 2
    return set(cpus[:half]), set(cpus[half:])


PINNED = _cpus()


def _proxy_child() -> None:
    _die_with_parent()
    if PINNED is not None:
        os.sched_setaffinity(0, PINNED[1])


def _stat(pid: int) -> tuple[int, int, int] | None:
    """(ppid, utime+stime, cutime+cstime) in clock ticks, or None when the process is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2:].split()
    # fields[0] is state (stat field 3): ppid is field 4, utime..cstime fields 14..17.
    return int(fields[1]), int(fields[11]) + int(fields[12]), int(fields[13]) + int(fields[14])


def process_tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            st = _stat(int(entry))
            if st is not None:
                children.setdefault(st[0], []).append(int(entry))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, ()))
    return out


def tree_cpu_seconds(pids: list[int]) -> float:
    """CPU time of the processes (and of the children they have reaped), in seconds."""
    ticks = 0
    for pid in pids:
        st = _stat(pid)
        if st is not None:
            ticks += st[1] + st[2]
    return ticks / CLK_TCK


class Proxy:
    """A LiteLLM proxy process (its own process group), its log file and its port."""

    def __init__(self, name: str, cmd: list[str], config: Path, log: Path, env: dict[str, str],
                 status_file: Path | None) -> None:
        self.name = name
        self.port = free_port()
        self.cmd = [*cmd, "--config", str(config), "--host", "127.0.0.1", "--port", str(self.port)]
        self.log = log
        self.env = env
        self.status_file = status_file
        self.proc: subprocess.Popen | None = None
        self.last_active = 0.0

    def start(self) -> None:
        with open(self.log, "ab") as log:
            log.write(f"$ {shlex.join(self.cmd)}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                         env=self.env, start_new_session=True, cwd=self.log.parent,
                                         preexec_fn=_proxy_child)

    async def wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} proxy exited with {self.proc.returncode} before serving; "
                                   f"log {self.log}:\n{tail(self.log)}")
            try:
                conn = Connection(self.port)
                await conn.open()
                try:
                    resp = await asyncio.wait_for(conn.send(
                        f"GET /health/liveliness HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n\r\n".encode(), False), 5)
                finally:
                    conn.close()
                if resp.status == 200:
                    return
            except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError, ValueError, IndexError):
                pass
            await asyncio.sleep(0.25)
        raise RuntimeError(f"{self.name} proxy did not answer /health/liveliness within {START_TIMEOUT:.0f} s; "
                           f"log {self.log}:\n{tail(self.log)}")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                return
            try:
                self.proc.wait(wait)
                return
            except subprocess.TimeoutExpired:
                continue

    def alive(self) -> None:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise RuntimeError(f"{self.name} proxy exited with {self.proc.returncode}; log {self.log}:\n{tail(self.log)}")

    async def status(self) -> dict | None:
        """The status file's content once it was written after this proxy's last request."""
        if self.status_file is None:
            return None
        deadline = time.monotonic() + 4 * STATUS_INTERVAL + 5
        while time.monotonic() < deadline:
            try:
                if self.status_file.stat().st_mtime > self.last_active + 0.01:
                    return json.loads(self.status_file.read_text())
            except (OSError, ValueError):
                pass
            await asyncio.sleep(0.1)
        return None


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


class Upstream:
    def __init__(self, log: Path) -> None:
        self.log = log
        self.proc: subprocess.Popen | None = None
        self.port = 0

    def start(self) -> None:
        self.logfile = open(self.log, "ab")
        self.proc = subprocess.Popen([sys.executable, str(HERE / "proxy_upstream.py"), "--port", "0"],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self.logfile,
                                     start_new_session=True, preexec_fn=_die_with_parent)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().decode().split()
        if len(line) != 2 or line[0] != "listening":
            raise RuntimeError(f"mock upstream did not start; log {self.log}:\n{tail(self.log)}")
        self.port = int(line[1])

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if self.proc is not None and self.proc.stdout is not None:
            self.proc.stdout.close()
        if getattr(self, "logfile", None) is not None:
            self.logfile.close()


# --------------------------------------------------------------------------------------------
# Load and shape


async def run_cell(proxy: Proxy, bodies: list[dict], concurrency: int, stream: bool) -> CellResult:
    """`concurrency` keep-alive connections, each sending the next request as soon as the last
    one is answered. The warm-up lasts WARMUP seconds and until every connection has had an
    answer (at most WARMUP_LIMIT seconds); then the window is measured (SECONDS, longer until
    it holds as many answers as connections): the requests answered inside it, their
    latencies, and the CPU time of the proxy's process tree across it. Failures count from the
    first request on."""
    payloads = [http_request(proxy.port, b) for b in bodies]
    pids = process_tree(proxy.proc.pid)  # type: ignore[union-attr]
    loop = asyncio.get_running_loop()
    window: dict[str, float] = {}
    answered: set[int] = set()
    warm = asyncio.Event()
    latencies: list[float] = []
    overheads: list[float] = []
    failures: list[str] = []
    cpu: dict[str, float] = {}

    async def measure() -> None:
        await asyncio.sleep(WARMUP)
        try:
            await asyncio.wait_for(warm.wait(), WARMUP_LIMIT)
        except asyncio.TimeoutError:
            pass
        cpu["start"] = tree_cpu_seconds(pids)
        window["start"] = loop.time()
        # At least SECONDS, and at least one answer per connection (a slow proxy at high
        # concurrency answers in waves longer than SECONDS), at most WINDOW_LIMIT.
        while True:
            await asyncio.sleep(0.05)
            elapsed = loop.time() - window["start"]
            if (elapsed >= SECONDS and len(latencies) >= concurrency) or elapsed >= WINDOW_LIMIT:
                break
        window["end"] = loop.time()
        cpu["end"] = tree_cpu_seconds(pids)

    async def worker(k: int) -> None:
        conn = Connection(proxy.port)
        i = k
        try:
            while True:
                t0 = loop.time()
                if "end" in window and t0 >= window["end"]:
                    return
                payload = payloads[i % len(payloads)]
                i += 1
                try:
                    resp = await asyncio.wait_for(conn.send(payload, False), REQUEST_TIMEOUT)
                except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, asyncio.TimeoutError,
                        ValueError) as e:
                    conn.close()
                    failures.append(f"{type(e).__name__}: {e}")
                    continue
                finally:
                    answered.add(k)
                    if len(answered) == concurrency:
                        warm.set()
                t1 = loop.time()
                if resp.status != 200:
                    failures.append(f"HTTP {resp.status}")
                if "start" in window and "end" not in window:
                    latencies.append((t1 - t0) * 1000)
                    overhead = resp.headers.get("x-litellm-overhead-duration-ms")
                    if overhead is not None:
                        overheads.append(float(overhead))
        finally:
            conn.close()

    await asyncio.gather(measure(), *(worker(k) for k in range(concurrency)))
    proxy.last_active = time.time()
    return CellResult(len(latencies), window["end"] - window["start"], latencies, overheads,
                      cpu["end"] - cpu["start"], failures)


def shape(value: Any) -> Any:
    """A JSON value's structure: keys and nesting kept, leaves reduced to their type."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in sorted(value.items())}
    if isinstance(value, list):
        return [shape(v) for v in value]
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if value is None:
        return "null"
    return type(value).__name__


def response_shape(resp: Response, stream: bool) -> Any:
    headers = sorted(resp.headers)
    if not stream:
        return {"status": resp.status, "headers": headers, "body": shape(json.loads(resp.body))}
    events = []
    for block in resp.body.decode().split("\n\n"):
        block = block.strip()
        if not block:
            continue
        data = block[len("data:"):].strip() if block.startswith("data:") else block
        event = "[DONE]" if data == "[DONE]" else shape(json.loads(data))
        if not events or events[-1] != event:  # runs of like chunks collapse: content length is random
            events.append(event)
    return {"status": resp.status, "headers": headers, "events": events}


async def shapes(proxy: Proxy) -> list[Any]:
    """The shapes of the answers to every request of the mix, plain then streaming, one at a time."""
    out = []
    conn = Connection(proxy.port)
    try:
        for stream in (False, True):
            for body in request_bodies(stream):
                resp = await asyncio.wait_for(conn.send(http_request(proxy.port, body), True), REQUEST_TIMEOUT)
                if resp.status != 200:
                    raise RuntimeError(f"{proxy.name} proxy answered {resp.status} to a shape-check request: "
                                       f"{resp.body[:500]!r}")
                out.append(response_shape(resp, stream))
    finally:
        conn.close()
    proxy.last_active = time.time()
    return out


def shape_diff(a: list[Any], b: list[Any]) -> str | None:
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return f"request {i}: unpatched {json.dumps(x)[:600]} != patched {json.dumps(y)[:600]}"
    if len(a) != len(b):
        return f"{len(a)} shapes against {len(b)}"
    return None


# --------------------------------------------------------------------------------------------
# Rows


@dataclass
class Row:
    strategy: str
    upstream: str
    traffic: str
    concurrency: int
    stream: bool
    cells: dict[str, list[CellResult]] = field(default_factory=lambda: {"unpatched": [], "patched": []})
    native: dict[str, tuple[int, int]] = field(default_factory=dict)  # feature -> (calls, fallbacks)
    reasons: dict[str, str] = field(default_factory=dict)
    shape_error: str | None = None
    status_error: str | None = None

    def failures(self) -> dict[str, int]:
        return {side: sum(len(c.failures) for c in cells) for side, cells in self.cells.items()}


def feature_counts(status: dict | None) -> dict[str, tuple[int, int]]:
    out = {}
    for name in FEATURES:
        entry = ((status or {}).get("features") or {}).get(name) or {}
        out[name] = (int(entry.get("calls") or 0), int(entry.get("fallbacks") or 0))
    return out


def median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def percentile(xs: list[float], q: float) -> float:
    if not xs:
        return float("nan")
    s = sorted(xs)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))]


def side_figures(cells: list[CellResult]) -> dict[str, float]:
    return {
        "rps": median([c.rps for c in cells]),
        "p50": median([percentile(c.latencies_ms, 0.50) for c in cells]),
        "p99": median([percentile(c.latencies_ms, 0.99) for c in cells]),
        "overhead": median([o for c in cells for o in c.overheads_ms]),
        "cpu_us": median([c.cpu_seconds * 1e6 / c.requests for c in cells if c.requests]),
    }


def paired_ratios(row: Row) -> list[float]:
    """Round k's patched req/s over round k's unpatched req/s. The two cells of a round run
    back to back (in alternating order), so a drift of the machine's load between rounds
    cancels in each ratio; the table's ratio is their median."""
    return [p.rps / u.rps for u, p in zip(row.cells["unpatched"], row.cells["patched"]) if u.rps > 0]


def _spread(ratios: list[float]) -> str:
    return f"{min(ratios):.2f}–{max(ratios):.2f}" if ratios else "—"


def fmt(x: float, digits: int = 1) -> str:
    return "—" if x != x else f"{x:.{digits}f}"


def render(rows: list[Row], header: str) -> str:
    cols = ["strategy", "upstream", "traffic", "conc", "req/s unpatched", "req/s patched", "ratio", "round ratios",
            "p50 ms u / p", "p99 ms u / p", "overhead ms u / p", "CPU µs/req u / p",
            "native router", "native rate_limit", "native token_counter", "shape"]
    lines = [header, "", "| " + " | ".join(cols) + " |", "|" + "|".join(
        "---:" if i >= 3 and i < 15 else ":---" for i in range(len(cols))) + "|"]
    notes: list[str] = []
    for r in rows:
        u, p = side_figures(r.cells["unpatched"]), side_figures(r.cells["patched"])
        fails = r.failures()
        paired = paired_ratios(r)
        if r.shape_error:
            ratio = "MISMATCH"
        elif any(fails.values()):
            ratio = f"FAILED ({fails['unpatched']} / {fails['patched']} not 200)"
        else:
            ratio = f"{median(paired):.2f}x" if paired else "—"
        spread = _spread(paired)
        natives = []
        for name in FEATURES:
            calls, fallbacks = r.native.get(name, (0, 0))
            natives.append("—" if calls == 0 else f"{100 * (calls - fallbacks) / calls:.1f}% of {calls}")
            if name in r.reasons:
                notes.append(f"- {r.strategy}, {r.upstream}, {r.traffic} c{r.concurrency}: {name} fell back "
                             f"({fallbacks} of {calls}); last reason: {r.reasons[name]}")
        if r.status_error:
            notes.append(f"- {r.strategy}, {r.upstream}, {r.traffic} c{r.concurrency}: {r.status_error}")
        lines.append("| " + " | ".join([
            r.strategy, r.upstream, r.traffic, str(r.concurrency), fmt(u["rps"]), fmt(p["rps"]), ratio, spread,
            f"{fmt(u['p50'])} / {fmt(p['p50'])}", f"{fmt(u['p99'])} / {fmt(p['p99'])}",
            f"{fmt(u['overhead'], 2)} / {fmt(p['overhead'], 2)}", f"{fmt(u['cpu_us'], 0)} / {fmt(p['cpu_us'], 0)}",
            *natives, "MISMATCH" if r.shape_error else "equal",
        ]) + " |")
    if notes:
        lines += ["", *notes]
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Main


def launcher_cmd(bindir: Path) -> list[str]:
    override = os.environ.get("BENCH_PROXY_PATCHED_CMD", "").strip()
    if override:
        return shlex.split(override)
    script = bindir / "fastllm-litellm"
    if script.exists():
        return [str(script), "proxy"]
    import importlib.util

    if importlib.util.find_spec("fastllm_litellm") and importlib.util.find_spec("fastllm_litellm.__main__"):
        return [sys.executable, "-m", "fastllm_litellm", "proxy"]
    raise SystemExit(f"the patched proxy's launcher is not installed: no {script} and no "
                     "`python -m fastllm_litellm` (build and install the wheel: make bench-proxy)")


def git_commit() -> str:
    try:
        sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=HERE, capture_output=True, text=True,
                             check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=HERE,
                               capture_output=True, text=True, check=True).stdout.strip()
        return sha + ("+changes" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


async def bench_config(strategy: str, upstream: Upstream | None, workdir: Path, bindir: Path,
                       patched_cmd: list[str], rows_out: list[Row]) -> None:
    label = "HTTP mock" if upstream is not None else "network_mock"
    tag = f"{strategy}-{'http' if upstream else 'mock'}"
    config = workdir / f"config-{tag}.yaml"
    api_base = f"http://127.0.0.1:{upstream.port}/v1" if upstream is not None else None
    write_config(config, proxy_config(strategy, api_base))
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("FASTLLM_LITELLM_")}
    base_env.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    # Loopback only: both proxies count the llama group's tokens as LiteLLM does offline
    # (tiktoken), instead of each stalling on a HuggingFace hub download that cannot succeed.
    base_env.setdefault("LITELLM_OFFLINE_MODE", "true")
    if base_env.get("PYTHONPATH"):  # the proxies run in the work directory
        base_env["PYTHONPATH"] = os.pathsep.join(str(Path(p).resolve()) for p in base_env["PYTHONPATH"].split(os.pathsep) if p)
    status_file = workdir / f"status-{tag}.json"
    patched_env = {**base_env, "FASTLLM_LITELLM_STATUS_FILE": str(status_file),
                   "FASTLLM_LITELLM_STATUS_INTERVAL": str(STATUS_INTERVAL)}
    proxies = {
        "unpatched": Proxy("unpatched", [str(bindir / "litellm")], config, workdir / f"unpatched-{tag}.log",
                           base_env, None),
        "patched": Proxy("patched", patched_cmd, config, workdir / f"patched-{tag}.log", patched_env, status_file),
    }
    if upstream is None:
        rows = [Row(strategy, label, "chat", c, False) for c in CONCURRENCY]
        if STREAM_CONCURRENCY > 0:
            rows.append(Row(strategy, label, "chat stream", STREAM_CONCURRENCY, True))
    else:
        rows = [Row(strategy, label, "chat", UPSTREAM_CONCURRENCY, False),
                Row(strategy, label, "chat stream", UPSTREAM_CONCURRENCY, True)]
    try:
        for proxy in proxies.values():
            proxy.start()
        await asyncio.gather(*(proxy.wait_ready() for proxy in proxies.values()))
        # Both answer the whole mix (plain and streaming) with responses of one shape each.
        shape_u = await shapes(proxies["unpatched"])
        shape_p = await shapes(proxies["patched"])
        diff = shape_diff(shape_u, shape_p)
        before = await proxies["patched"].status()
        for row in rows:
            row.shape_error = diff
            bodies = request_bodies(row.stream)
            for rnd in range(ROUNDS):
                order = ("unpatched", "patched") if rnd % 2 == 0 else ("patched", "unpatched")
                for side in order:
                    proxies[side].alive()
                    cell = await run_cell(proxies[side], bodies, row.concurrency, row.stream)
                    row.cells[side].append(cell)
                    print(f"  {tag:34} {row.traffic:11} c{row.concurrency:<3} round {rnd + 1} {side:9} "
                          f"{cell.rps:8.1f} req/s  {len(cell.failures)} failed", flush=True)
            after = await proxies["patched"].status()
            if before is None or after is None:
                row.status_error = f"no fresh status file from the patched proxy ({status_file})"
            else:
                b, a = feature_counts(before), feature_counts(after)
                row.native = {n: (a[n][0] - b[n][0], a[n][1] - b[n][1]) for n in FEATURES}
                for n in FEATURES:
                    if row.native[n][1] > 0:
                        row.reasons[n] = str(after["features"][n].get("last_fallback_reason"))
            before = after
            rows_out.append(row)
    finally:
        for proxy in proxies.values():
            proxy.stop()


async def main_async() -> int:
    from importlib.metadata import version

    litellm_version = version("litellm")
    if PINNED is not None:  # the load generator (and the loopback upstream it starts)
        os.sched_setaffinity(0, PINNED[0])
    bindir = Path(sys.executable).parent
    if not (bindir / "litellm").exists():
        raise SystemExit(f"LiteLLM's proxy CLI is not installed beside {sys.executable}")
    patched_cmd = launcher_cmd(bindir)
    strategies = _env_list("BENCH_PROXY_STRATEGIES", list(STRATEGIES))
    unknown = [s for s in strategies if s not in STRATEGIES]
    if unknown:
        raise SystemExit(f"unknown strategies {unknown}; known: {', '.join(STRATEGIES)}")
    results = Path(os.environ.get("BENCH_PROXY_RESULTS", HERE / "results"))
    results.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    workdir = Path(tempfile.mkdtemp(prefix=f"bench_proxy-{litellm_version}-{stamp}-", dir=results))
    commit = git_commit()
    print(f"litellm {litellm_version}, fastllm {commit}; unpatched `litellm`, patched `{shlex.join(patched_cmd)}`; "
          f"{ROUNDS} rounds per side and row; logs and configs in {workdir}", flush=True)
    rows: list[Row] = []
    upstream: Upstream | None = None
    try:
        for strategy in strategies:
            await bench_config(strategy, None, workdir, bindir, patched_cmd, rows)
        if UPSTREAM_CONCURRENCY > 0:
            upstream = Upstream(workdir / "upstream.log")
            upstream.start()
            strategy = "simple-shuffle" if "simple-shuffle" in strategies else strategies[0]
            await bench_config(strategy, upstream, workdir, bindir, patched_cmd, rows)
    finally:
        if upstream is not None:
            upstream.stop()
        if rows:
            header = (f"`make bench-proxy`, litellm {litellm_version}, fastllm {commit}, {time.strftime('%Y-%m-%d', time.gmtime())}: "
                      f"req/s: median of {ROUNDS} interleaved rounds per side; ratio: median of the rounds' patched/unpatched "
                      f"ratios (round ratios: their range); each cell measured over at least {SECONDS:g} s "
                      f"and one answer per connection, after a warm-up of at least {WARMUP:g} s"
                      + (f"; proxies on CPU {','.join(map(str, sorted(PINNED[1])))}, client on CPU "
                         f"{','.join(map(str, sorted(PINNED[0])))}" if PINNED else ""))
            table = render(rows, header)
            print()
            print(table)
            out = results / f"bench_proxy-{litellm_version}-{stamp}.md"
            out.write_text(table + "\n")
            (workdir / "cells.json").write_text(json.dumps([{
                "strategy": r.strategy, "upstream": r.upstream, "traffic": r.traffic, "concurrency": r.concurrency,
                "native": r.native, "reasons": r.reasons, "shape_error": r.shape_error,
                "cells": {side: [{"requests": c.requests, "seconds": c.seconds, "cpu_seconds": c.cpu_seconds,
                                  "failures": c.failures[:20], "p50": percentile(c.latencies_ms, 0.5),
                                  "p99": percentile(c.latencies_ms, 0.99)} for c in cells]
                          for side, cells in r.cells.items()},
            } for r in rows], indent=1))
            print(f"\nwritten to {out}")
    bad = [r for r in rows if r.shape_error or any(r.failures().values())]
    for r in bad:
        fails = r.failures()
        if any(fails.values()):
            sample = next(f for c in r.cells["unpatched"] + r.cells["patched"] for f in c.failures)
            print(f"FAILED: {r.strategy} {r.upstream} {r.traffic} c{r.concurrency}: "
                  f"{fails['unpatched']} unpatched and {fails['patched']} patched responses were not 200 "
                  f"(first: {sample})", file=sys.stderr)
        if r.shape_error:
            print(f"FAILED: {r.strategy} {r.upstream}: responses differ in shape: {r.shape_error}", file=sys.stderr)
    return 1 if bad else 0


def main() -> None:
    def interrupted(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupted)
    try:
        import uvloop
    except ImportError:
        run = asyncio.run
    else:
        run = uvloop.run
    try:
        code = run(main_async())
    except KeyboardInterrupt:
        print("bench_proxy: interrupted; the proxies it started are stopped", file=sys.stderr)
        code = 130
    sys.exit(code)


if __name__ == "__main__":
    main()
