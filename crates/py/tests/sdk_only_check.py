"""An SDK-only install: ``pip install litellm`` (no proxy extras) plus the fastllm wheel.

Run by ``make test-sdk-only`` with the interpreter of such a venv (not collected by pytest:
the test venvs have the proxy's dependencies). Exits non-zero, with the reason, when:

- the venv has the proxy's dependencies after all (then this checks nothing);
- ``patch()`` raises, or warns, with the default features;
- ``status()`` does not say why the parts needing the proxy's dependencies do not apply;
- a patched token count differs from LiteLLM's own, or ``unpatch()`` leaves a replacement.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import warnings

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("LITELLM_OFFLINE_MODE", "true")
os.environ.pop("FASTLLM_LITELLM_FEATURES", None)

PROXY_ONLY = ("fastapi", "redis", "orjson", "backoff")


def main() -> int:
    missing = [name for name in PROXY_ONLY if importlib.util.find_spec(name) is None]
    assert missing, f"this venv has the proxy's dependencies {PROXY_ONLY}: not an SDK-only install"

    import litellm
    from litellm.litellm_core_utils import token_counter as core

    import fastllm_litellm

    original = core.token_counter
    messages = [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "Summarise the plot of Hamlet in two sentences."},
    ]
    expected = original(model="gpt-4o", messages=messages)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        patched = fastllm_litellm.patch()
    ours = [str(w.message) for w in caught if str(w.message).startswith("fastllm_litellm")]
    assert not ours, ours  # the default features patch without a warning of ours
    status = fastllm_litellm.status()
    features = status["features"]
    print(f"litellm {status['litellm_version']}, proxy dependencies missing: {', '.join(missing)}")
    for name, entry in features.items():
        print(f"  {name}: patched={entry['patched']} applicable={entry['applicable']} reason={entry['reason']}")

    assert "token_counter" in patched and features["token_counter"]["applicable"], features["token_counter"]
    assert litellm.token_counter(model="gpt-4o", messages=messages) == expected
    assert fastllm_litellm.status()["features"]["token_counter"]["calls"] == 1

    # The v3 limiter lives in LiteLLM's proxy: the feature says it does not take it, and why.
    rate_limit = features["rate_limit"]
    reason = rate_limit["reason"]
    assert isinstance(reason, str) and "the v3 limiter" in reason, rate_limit
    assert "No module named" in reason, rate_limit
    assert rate_limit["applicable"] is ("rate_limit" in patched), rate_limit

    for name, entry in features.items():
        assert entry["patched"] is (name in patched), (name, entry)
        assert entry["applicable"] or entry["reason"], (name, entry)

    assert fastllm_litellm.unpatch() == []
    assert core.token_counter is original
    print("SDK-only install: patch() applied", ", ".join(patched))
    return 0


if __name__ == "__main__":
    sys.exit(main())
