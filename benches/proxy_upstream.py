"""A loopback OpenAI-compatible upstream for `bench_proxy.py`.

Serves ``POST /v1/chat/completions`` (and ``/chat/completions``) over keep-alive HTTP/1.1:
a ``chat.completion`` JSON body, or with ``"stream": true`` an SSE stream of
``chat.completion.chunk`` events (chunked transfer encoding) ending in ``data: [DONE]``, both
shaped as OpenAI's API shapes them (ids, ``system_fingerprint``, ``service_tier``, a usage
block with its token details; a usage chunk when ``stream_options.include_usage`` is set).
A request that offers ``tools`` is answered with a tool call. ``GET /health`` answers 200.

Run: ``python benches/proxy_upstream.py --port 0`` prints ``listening <port>`` on stdout once
it accepts connections, and serves until SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import signal
import string
import sys
import time

ANSWERS = (
    "The error comes from the retry wrapper: it catches the timeout, sleeps, and then re-raises "
    "the original exception without the context. Wrap the call in a single try block and log the "
    "attempt number before re-raising.",
    "Sure. Start with the smallest reproducible case, pin the dependency versions, and run the "
    "failing test alone with verbose output. If it still fails, bisect the last ten commits.",
    "A sliding window counts requests in the current and previous window, weighted by how much of "
    "the previous window still overlaps; a fixed window resets the count at every boundary.",
    "Here is a summary of the document: the quarterly revenue grew eight percent, operating costs "
    "stayed flat, and the team plans to hire two more engineers for the platform group.",
)
ALNUM = string.ascii_letters + string.digits
FINGERPRINT = "fp_7a2c1b9e4d"


def _id(prefix: str, n: int = 24) -> str:
    return prefix + "".join(random.choices(ALNUM, k=n))


def _usage(prompt: int, completion: int) -> dict:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def _tool_call(request: dict) -> dict:
    tool = request["tools"][0]
    name = tool.get("function", {}).get("name", "lookup")
    return {
        "id": _id("call_"),
        "type": "function",
        "function": {"name": name, "arguments": json.dumps({"query": "status of order 8812", "limit": 3})},
    }


def completion_body(request: dict) -> bytes:
    """The JSON answer to a non-streaming chat request."""
    prompt = max(1, len(json.dumps(request.get("messages", []))) // 4)
    if request.get("tools"):
        message = {"role": "assistant", "content": None, "tool_calls": [_tool_call(request)], "refusal": None,
                   "annotations": []}
        finish, completion = "tool_calls", 22
    else:
        text = random.choice(ANSWERS)
        message = {"role": "assistant", "content": text, "refusal": None, "annotations": []}
        finish, completion = "stop", len(text) // 4
    body = {
        "id": _id("chatcmpl-"),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": request.get("model", "gpt-4o"),
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
        "usage": _usage(prompt, completion),
        "service_tier": "default",
        "system_fingerprint": FINGERPRINT,
    }
    return json.dumps(body, separators=(",", ":")).encode()


def stream_events(request: dict) -> list[bytes]:
    """The SSE events (``data: ...\\n\\n``) of a streaming chat request, in order."""
    prompt = max(1, len(json.dumps(request.get("messages", []))) // 4)
    base = {
        "id": _id("chatcmpl-"),
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": request.get("model", "gpt-4o"),
        "service_tier": "default",
        "system_fingerprint": FINGERPRINT,
    }

    def chunk(delta: dict, finish: str | None) -> dict:
        return {**base, "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}

    chunks = [chunk({"role": "assistant", "content": "", "refusal": None}, None)]
    if request.get("tools"):
        call = _tool_call(request)
        args = call["function"].pop("arguments")
        call["function"]["arguments"] = ""
        chunks.append(chunk({"tool_calls": [{"index": 0, **call}]}, None))
        for i in range(0, len(args), 8):
            chunks.append(chunk({"tool_calls": [{"index": 0, "function": {"arguments": args[i:i + 8]}}]}, None))
        chunks.append(chunk({}, "tool_calls"))
        completion = 22
    else:
        words = random.choice(ANSWERS).split(" ")
        for i, word in enumerate(words):
            chunks.append(chunk({"content": word if i == 0 else " " + word}, None))
        chunks.append(chunk({}, "stop"))
        completion = len(words)
    if (request.get("stream_options") or {}).get("include_usage"):
        chunks.append({**base, "choices": [], "usage": _usage(prompt, completion)})
    events = [b"data: " + json.dumps(c, separators=(",", ":")).encode() + b"\n\n" for c in chunks]
    events.append(b"data: [DONE]\n\n")
    return events


def _head(status: str, headers: list[tuple[str, str]]) -> bytes:
    lines = [f"HTTP/1.1 {status}"] + [f"{k}: {v}" for k, v in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


class Upstream(asyncio.Protocol):
    """One keep-alive connection: parses requests (Content-Length bodies) as they arrive."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end].decode("latin-1").split("\r\n")
            length = 0
            for line in head[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value.strip())
            if len(self.buffer) < end + 4 + length:
                return
            body = self.buffer[end + 4:end + 4 + length]
            self.buffer = self.buffer[end + 4 + length:]
            self.answer(head[0], body)

    def answer(self, request_line: str, body: bytes) -> None:
        method, _, rest = request_line.partition(" ")
        path = rest.partition(" ")[0].split("?")[0]
        if method == "GET" and path in ("/health", "/v1/models"):
            payload = b'{"object":"list","data":[]}'
            self.transport.write(_head("200 OK", [("content-type", "application/json"),
                                                  ("content-length", str(len(payload)))]) + payload)
            return
        if method != "POST" or not path.endswith("/chat/completions"):
            payload = b'{"error":{"message":"not found","type":"invalid_request_error"}}'
            self.transport.write(_head("404 Not Found", [("content-type", "application/json"),
                                                         ("content-length", str(len(payload)))]) + payload)
            return
        try:
            request = json.loads(body)
        except ValueError:
            payload = b'{"error":{"message":"invalid JSON body","type":"invalid_request_error"}}'
            self.transport.write(_head("400 Bad Request", [("content-type", "application/json"),
                                                           ("content-length", str(len(payload)))]) + payload)
            return
        common = [("openai-processing-ms", str(random.randint(180, 900))), ("openai-version", "2020-10-01"),
                  ("x-request-id", _id("req_", 32))]
        if request.get("stream"):
            out = [_head("200 OK", [("content-type", "text/event-stream; charset=utf-8"),
                                    ("transfer-encoding", "chunked"), ("cache-control", "no-cache")] + common)]
            for event in stream_events(request):
                out.append(b"%x\r\n%s\r\n" % (len(event), event))
            out.append(b"0\r\n\r\n")
            self.transport.write(b"".join(out))
        else:
            payload = completion_body(request)
            self.transport.write(_head("200 OK", [("content-type", "application/json"),
                                                  ("content-length", str(len(payload)))] + common) + payload)


async def serve(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Upstream, "127.0.0.1", port, backlog=512)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print("listening", server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    try:
        import uvloop
    except ImportError:
        asyncio.run(serve(args.port))
    else:
        uvloop.run(serve(args.port))
    sys.exit(0)


if __name__ == "__main__":
    main()
