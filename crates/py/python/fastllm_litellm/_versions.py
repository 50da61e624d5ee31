"""The LiteLLM releases fastllm is tested against: the one place they are pinned.

The Makefile, CI and the benchmark read ``DEFAULT``, ``SUPPORTED`` and ``RELEASES`` from this
file. ``SUPPORTED`` are the two lines' releases the full suites run on; ``RELEASES`` is every
release whose sources were fingerprinted and verified (``fastllm_litellm._fingerprints``),
each of the others covered by ``make test-releases``' smoke differential. Whether a feature
applies is decided by those fingerprints (``fastllm_litellm._compat``), not by these names.
"""

DEFAULT = "1.110.2"
SUPPORTED = ("1.110.2", "1.109.3")
RELEASES = ("1.109.0", "1.109.1", "1.109.2", "1.109.3", "1.110.0", "1.110.1", "1.110.2")
