"""What a patched process tells its operator: the ``fastllm_litellm`` logger and the status file.

:func:`fastllm_litellm.patch` starts one daemon thread per process (again in a forked child)
that

- logs each feature's first fallback at WARNING, with its reason, once per process: it reads
  the counters :func:`~fastllm_litellm.status` reads about once a second, so a patched call
  costs nothing more than its count (the reason logged is the feature's last one when the
  thread first sees a fallback);
- logs a summary at INFO every ``$FASTLLM_LITELLM_STATUS_INTERVAL`` seconds (default 10):
  per feature, calls, fallbacks and the share served natively;
- with ``$FASTLLM_LITELLM_STATUS_FILE`` set, writes :func:`~fastllm_litellm.status` there as
  JSON at start, every interval and at exit (a temporary file renamed over it, so a reader
  never sees half a file). ``{pid}`` in the path becomes the process id; a worker process the
  launcher or a fork started writes ``<path>.<pid>`` when the path has no ``{pid}``.

The logger follows LiteLLM's conventions (``litellm/_logging.py``): it writes through the
handler LiteLLM gives its own ``LiteLLM`` loggers (whose level is ``$LITELLM_LOG``, and which
formats JSON when ``JSON_LOGS`` is set), and takes its own level from ``$LITELLM_LOG`` when
that is set (otherwise it inherits, as LiteLLM's loggers do: WARNING by default). No other
handler is added. Nothing here raises into the host: a failure is logged at DEBUG.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

LOGGER = logging.getLogger("fastllm_litellm")
"""The ``fastllm_litellm`` logger."""

STATUS_FILE_ENV = "FASTLLM_LITELLM_STATUS_FILE"
"""Where the status file is written (unset: none is)."""

STATUS_INTERVAL_ENV = "FASTLLM_LITELLM_STATUS_INTERVAL"
"""Seconds between two status-file writes and INFO summaries (default 10)."""

DEFAULT_INTERVAL = 10.0
_FIRST_FALLBACK_POLL = 1.0

_lock = threading.Lock()
# Held while the thread reads the counters or writes: a fork waits for it, so a child never
# inherits a lock (ours, the patch layer's, a counter's) that the thread held mid-read.
_tick_lock = threading.Lock()
_thread: threading.Thread | None = None
_thread_pid: int | None = None
_stop = threading.Event()
_reported: set[str] = set()
_worker = False  # a worker process (forked, or started by the launcher): its own file
_exit_registered = False
_logger_configured = False
_source: Callable[[], dict[str, Any]] | None = None


def _interval() -> float:
    raw = os.environ.get(STATUS_INTERVAL_ENV)
    if raw is None:
        return DEFAULT_INTERVAL
    try:
        value = float(raw)
    except ValueError:
        return DEFAULT_INTERVAL
    return value if value > 0 else DEFAULT_INTERVAL


def status_path() -> str | None:
    """The status file this process writes, or None."""
    raw = os.environ.get(STATUS_FILE_ENV)
    if not raw:
        return None
    pid = str(os.getpid())
    if "{pid}" in raw:
        return raw.replace("{pid}", pid)
    return f"{raw}.{pid}" if _worker else raw


def mark_worker() -> None:
    """This process serves as one worker of several: it writes its own status file."""
    global _worker
    _worker = True


def _configure_logger() -> None:
    """LiteLLM's conventions: its shared handler, and the level ``$LITELLM_LOG`` gives."""
    global _logger_configured
    if _logger_configured:
        return
    _logger_configured = True
    level = os.environ.get("LITELLM_LOG")
    if level and LOGGER.level == logging.NOTSET:
        resolved = logging.getLevelName(level.strip().upper())
        if isinstance(resolved, int):
            LOGGER.setLevel(resolved)
    litellm_logging = sys.modules.get("litellm._logging")
    handler = getattr(litellm_logging, "handler", None)
    if isinstance(handler, logging.Handler) and handler not in LOGGER.handlers:
        LOGGER.addHandler(handler)


def read_from(status: Callable[[], dict[str, Any]]) -> None:
    """Report what ``status`` returns (:func:`fastllm_litellm.status`, which hands itself over
    here when its module is imported, so this module imports nothing of the package)."""
    global _source
    _source = status


def _status() -> dict[str, Any]:
    if _source is None:
        raise RuntimeError("no status to report: fastllm_litellm.patch is not imported")
    return _source()


def write_status(path: str | None = None) -> bool:
    """Write :func:`~fastllm_litellm.status` as JSON to ``path`` (default: :func:`status_path`)
    atomically. Returns whether a file was written; never raises."""
    try:
        path = status_path() if path is None else path
        if path is None:
            return False
        payload = json.dumps(_status(), indent=1, sort_keys=True)
        tmp = f"{path}.tmp{os.getpid()}"
        with open(tmp, "w", encoding="utf-8") as out:
            out.write(payload)
        os.replace(tmp, path)
        return True
    except Exception as error:  # noqa: BLE001 - never into the host
        LOGGER.debug("fastllm_litellm: cannot write the status file: %s", error)
        return False


def _report_first_fallbacks(features: dict[str, dict[str, Any]]) -> None:
    for name, entry in features.items():
        if entry.get("fallbacks") and name not in _reported:
            _reported.add(name)
            LOGGER.warning(
                "fastllm_litellm: %s handed a call back to LiteLLM's own code: %s",
                name,
                entry.get("last_fallback_reason"),
            )


def summary(features: dict[str, dict[str, Any]]) -> str:
    """One line: per patched feature, calls, fallbacks and the native share."""
    parts = []
    for name, entry in features.items():
        if not entry.get("patched"):
            why = "" if entry.get("applicable", True) else f" (not applicable: {entry.get('reason')})"
            parts.append(f"{name} not patched{why}")
            continue
        calls, fallbacks = entry["calls"], entry["fallbacks"]
        share = f"{100.0 * (calls - fallbacks) / calls:.2f}% native" if calls else "no calls"
        parts.append(f"{name} {calls} calls, {fallbacks} fallbacks, {share}")
    return "fastllm_litellm: " + "; ".join(parts)


def _tick(write: bool) -> None:
    try:
        with _tick_lock:
            features = _status()["features"]
            _report_first_fallbacks(features)
            if write:
                write_status()
                if LOGGER.isEnabledFor(logging.INFO):
                    LOGGER.info(summary(features))
    except Exception as error:  # noqa: BLE001 - never into the host
        LOGGER.debug("fastllm_litellm: status report failed: %s", error)


def _run(interval: float) -> None:
    poll = min(_FIRST_FALLBACK_POLL, interval)
    next_write = time.monotonic() + interval
    _tick(True)
    while not _stop.wait(poll):
        due = time.monotonic() >= next_write
        if due:
            next_write = time.monotonic() + interval
        _tick(due)


def _at_exit() -> None:
    if _thread_pid == os.getpid():
        _stop.set()
        _tick(True)


def start() -> None:
    """Start this process's reporting thread, once (again after a fork); never raises."""
    global _thread, _thread_pid, _exit_registered
    try:
        with _lock:
            if _thread is not None and _thread_pid == os.getpid() and _thread.is_alive():
                return
            _configure_logger()
            _stop.clear()
            _thread_pid = os.getpid()
            _thread = threading.Thread(
                target=_run, args=(_interval(),), name="fastllm-litellm-status", daemon=True
            )
            _thread.start()
            if not _exit_registered:
                _exit_registered = True
                atexit.register(_at_exit)
    except Exception as error:  # noqa: BLE001 - never into the host
        LOGGER.debug("fastllm_litellm: cannot start the status thread: %s", error)


def _before_fork() -> None:
    _tick_lock.acquire()


def _after_fork_in_parent() -> None:
    _tick_lock.release()


def _after_fork_in_child() -> None:
    global _thread, _lock, _tick_lock
    _lock = threading.Lock()
    _tick_lock = threading.Lock()
    if _thread is not None:  # only a process that had patched
        _thread = None
        mark_worker()
        _reported.clear()
        start()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(
        before=_before_fork, after_in_parent=_after_fork_in_parent, after_in_child=_after_fork_in_child
    )
