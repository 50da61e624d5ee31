"""The LiteLLM releases fastllm is tested against: the one place they are pinned.

The Makefile, CI and the benchmark read ``DEFAULT`` and ``SUPPORTED`` from this file.
"""

DEFAULT = "1.110.2"
SUPPORTED = ("1.110.2", "1.109.3")
