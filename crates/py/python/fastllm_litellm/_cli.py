"""``fastllm-litellm``: LiteLLM's own programs, run with the features patched first.

``fastllm-litellm proxy [LiteLLM proxy CLI arguments]`` (or ``python -m fastllm_litellm proxy
...``) patches the features ``$FASTLLM_LITELLM_FEATURES`` names (default: all), then runs the
``litellm`` console script's command (``litellm.proxy.proxy_cli:run_server``) in this process
with the remaining arguments, so the proxy imports and builds everything while patched.

Where the proxy serves from:

- uvicorn with one worker (the default): in this process.
- uvicorn with ``--num_workers`` > 1 (or ``--reload``): uvicorn starts each worker as a new
  interpreter that imports the app by name. The launcher hands uvicorn :func:`worker_app`
  instead of LiteLLM's app name; each worker patches, then loads LiteLLM's own app (or app
  factory) exactly as it would have.
- ``--run_gunicorn``: gunicorn forks its workers from this process, which is patched.
- ``--run_hypercorn``: in this process.
- ``--run_granian``: not covered. Granian's workers import LiteLLM's app by name in processes
  of their own, which this launcher does not reach; they run unpatched.
"""

from __future__ import annotations

import functools
import importlib
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any

USAGE = """usage: fastllm-litellm proxy [LiteLLM proxy CLI arguments]

Runs LiteLLM's proxy CLI (the `litellm` command) with fastllm_litellm's features patched
before the proxy imports or builds anything. `fastllm-litellm proxy --help` shows the proxy's
own options.

Environment:
  FASTLLM_LITELLM_FEATURES         comma-separated features to patch (default: all)
  FASTLLM_LITELLM_STATUS_FILE      write fastllm_litellm.status() there as JSON
  FASTLLM_LITELLM_STATUS_INTERVAL  seconds between writes and INFO summaries (default 10)
  LITELLM_LOG                      the level of the `fastllm_litellm` logger, as LiteLLM's
"""

# LiteLLM's app targets a uvicorn worker imports by name (litellm/proxy/proxy_cli.py:
# get_default_unvicorn_init_args and child_process_uvicorn_overrides' WORKER_APP).
_PROXY_APPS = ("litellm.proxy.proxy_server:app", "litellm_cli.main:proxy_worker_app")
_WORKER_APP = "fastllm_litellm._cli:worker_app"
_TARGET_ENV = "FASTLLM_LITELLM_WORKER_TARGET"
_LAUNCHER_ENV = "FASTLLM_LITELLM_LAUNCHER_PID"


def main(argv: Sequence[str] | None = None) -> int:
    """The ``fastllm-litellm`` console script. Returns the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        sys.stdout.write(USAGE)
        return 0 if args else 2
    command, rest = args[0], args[1:]
    if command != "proxy":
        sys.stderr.write(f"fastllm-litellm: unknown command {command!r}\n\n{USAGE}")
        return 2
    return run_proxy(rest)


def run_proxy(args: Sequence[str]) -> int:
    """Patch, then run LiteLLM's proxy CLI in this process with ``args``."""
    import fastllm_litellm
    from fastllm_litellm import _status

    os.environ[_LAUNCHER_ENV] = str(os.getpid())
    fastllm_litellm.patch()
    _follow_debug_flags(args)
    _route_uvicorn_workers()
    from litellm.proxy.proxy_cli import run_server

    try:
        run_server.main(args=list(args), prog_name="fastllm-litellm proxy")
    except SystemExit as done:
        code = done.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    finally:
        _status.write_status()
    return 0


def _follow_debug_flags(args: Sequence[str]) -> None:
    """The proxy's ``--debug`` / ``--detailed_debug`` set LiteLLM's loggers to INFO / DEBUG;
    the ``fastllm_litellm`` logger follows them."""
    from fastllm_litellm._status import LOGGER

    if "--detailed_debug" in args:
        LOGGER.setLevel(logging.DEBUG)
    elif "--debug" in args:
        LOGGER.setLevel(logging.INFO)


def _route_uvicorn_workers() -> None:
    """In this process only: a ``uvicorn.run`` of LiteLLM's app by name serves
    :func:`worker_app` instead, which patches before loading the same app."""
    try:
        import uvicorn
    except ImportError:
        return
    original = uvicorn.run
    if getattr(original, "_fastllm_routes_workers", False):
        return

    @functools.wraps(original)
    def run(app: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(app, str) and app in _PROXY_APPS:
            os.environ[_TARGET_ENV] = f"{app}|{'factory' if kwargs.get('factory') else 'app'}"
            app, kwargs["factory"] = _WORKER_APP, True
        return original(app, *args, **kwargs)

    run._fastllm_routes_workers = True  # type: ignore[attr-defined]
    uvicorn.run = run


def worker_app() -> Any:
    """The app factory a uvicorn worker of the launcher loads: patch (features from the
    environment), then LiteLLM's own app, built by its own factory when it named one."""
    import fastllm_litellm
    from fastllm_litellm import _status

    if os.environ.get(_LAUNCHER_ENV) != str(os.getpid()):
        _status.mark_worker()
    fastllm_litellm.patch()
    target, _, kind = os.environ.get(_TARGET_ENV, f"{_PROXY_APPS[0]}|app").partition("|")
    module_name, _, attribute = target.partition(":")
    value = getattr(importlib.import_module(module_name), attribute)
    return value() if kind == "factory" else value
