# fastllm: the two commands are `make bench` (the side-by-side table) and `make test`.
# Everything they need is installed here, into .venv (the default LiteLLM line) and
# .venv-<version> (other lines), from PyPI and crates.io.

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
PYTHON ?= python3
VERSIONS_FILE := crates/py/python/fastllm_litellm/_versions.py
LITELLM_VERSION ?= $(shell sed -n 's/^DEFAULT = "\(.*\)"/\1/p' $(VERSIONS_FILE))
LITELLM_VERSIONS := $(shell sed -n 's/^SUPPORTED = (\(.*\))/\1/p' $(VERSIONS_FILE) | tr -d '",')
DEFAULT_VERSION := $(shell sed -n 's/^DEFAULT = "\(.*\)"/\1/p' $(VERSIONS_FILE))
# Every release the fingerprints were verified on; those not in SUPPORTED get a smoke run.
LITELLM_RELEASES := $(shell sed -n 's/^RELEASES = (\(.*\))/\1/p' $(VERSIONS_FILE) | tr -d '",')
SMOKE_RELEASES := $(filter-out $(LITELLM_VERSIONS),$(LITELLM_RELEASES))
venv_for = $(if $(filter $(1),$(DEFAULT_VERSION)),.venv,.venv-$(1))
# Creates the venv of LiteLLM line $(1) (once), installs litellm==$(1) and pytest (once per
# pin), then the freshly built wheel.
define ensure_venv
venv=$(call venv_for,$(1)); \
if [ ! -x $$venv/bin/python ]; then $(PYTHON) -m venv $$venv; fi; \
if [ ! -f $$venv/.litellm-$(1)-proxy-server ]; then \
  $$venv/bin/pip install -q --disable-pip-version-check "litellm==$(1)" "pytest>=8" hypothesis $(PROXY_DEPS) && touch $$venv/.litellm-$(1)-proxy-server; \
fi; \
$$venv/bin/pip install -q --disable-pip-version-check --force-reinstall --no-deps $(WHEEL_DIR)/fastllm_litellm-*.whl
endef
TOOLS_VENV := .venv-tools
WHEEL_DIR := target/wheels
FUZZ_SECONDS ?= 15
TEST_ENV := LITELLM_LOCAL_MODEL_COST_MAP=True LITELLM_OFFLINE_MODE=true
# What LiteLLM's v3 rate limiter and its pre-call hook import (the hook reaches
# litellm.proxy.proxy_server): the `proxy` extra cannot be installed from PyPI for 1.110.2,
# so the parity tests and the benchmark install these directly.
PROXY_DEPS := fastapi orjson backoff redis websockets apscheduler pyjwt semver python-multipart \
  expression fastapi-sso mcp soundfile "uvloop>=0.22.1,<1.0" pyyaml
# (uvloop: the proxy CLI's event loop, which the proxy tests start; pyyaml: its config.)

# Crates with loom models of their hand-written atomics (each run on its own, in its own
# target dir: loom across the whole workspace breaks on dependencies). fastllm-ratelimit's and
# fastllm-router's models are unit tests beside the code (tokio's layout), so their runs are the
# libraries' own tests, without the `redis` feature: under --cfg loom tokio has no tokio::net
# for the pool.
LOOM_CRATES := fastllm-connpool
LOOM_LIB_CRATES := fastllm-ratelimit fastllm-router

.PHONY: bench test test-rust test-loom test-python fuzz-smoke lint wheel clean-venvs

## make bench: build the wheel, install it with the pinned litellm, print the side-by-side table.
bench: wheel
	$(call ensure_venv,$(LITELLM_VERSION))
	$(TEST_ENV) $(call venv_for,$(LITELLM_VERSION))/bin/python benches/bench_litellm.py

## make bench-proxy: LiteLLM's proxy as installed (`litellm --config`) against the same proxy
## under `fastllm-litellm proxy`, on loopback (benches/bench_proxy.py: its BENCH_PROXY_* knobs
## shorten it). The proxy CLI runs on uvloop, which LiteLLM's `proxy` extra brings.
BENCH_PROXY_DEPS := "uvloop>=0.22.1,<1.0" pyyaml
.PHONY: bench-proxy
bench-proxy: wheel
	$(call ensure_venv,$(LITELLM_VERSION))
	$(call venv_for,$(LITELLM_VERSION))/bin/pip install -q --disable-pip-version-check $(BENCH_PROXY_DEPS)
	$(TEST_ENV) $(call venv_for,$(LITELLM_VERSION))/bin/python benches/bench_proxy.py

## make test: Rust tests (unit, proptest, doc, Redis-backed against a redis-server the tests
## start themselves), loom models, a fuzz smoke run, and pytest on every LiteLLM line.
test: test-python test-releases test-sdk-only test-rust test-loom fuzz-smoke

# The interop suites (the fastllm-tests crate, tests/) also drive LiteLLM's own limiter and
# router on the same Redis, with the interpreters of the LiteLLM venvs that test-python built
# (when they exist).
test-rust:
	@command -v redis-server >/dev/null || [ -n "$${REDIS_SERVER:-}" ] || { \
	  echo "redis-server is needed by the Redis-backed tests: apt-get install redis-server (or set REDIS_SERVER)"; exit 1; }
	pythons=""; \
	for v in $(LITELLM_VERSIONS); do \
	  p=$$(if [ $$v = $(DEFAULT_VERSION) ]; then echo .venv; else echo .venv-$$v; fi)/bin/python; \
	  if [ -x $$p ]; then pythons="$${pythons:+$$pythons:}$$PWD/$$p"; fi; \
	done; \
	if [ -n "$$pythons" ]; then export LITELLM_PYTHON="$$pythons"; fi; \
	cargo test --workspace --release

test-loom:
	for c in $(LOOM_CRATES); do \
	  RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom cargo test -p $$c --release || exit 1; \
	done
	for c in $(LOOM_LIB_CRATES); do \
	  RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom cargo test -p $$c --release --no-default-features --lib || exit 1; \
	done

fuzz-smoke:
	FUZZ_SECONDS=$(FUZZ_SECONDS) bash scripts/fuzz-smoke.sh

test-python: wheel
	for v in $(LITELLM_VERSIONS); do \
	  $(MAKE) --no-print-directory LITELLM_VERSION=$$v pytest-one || exit 1; \
	done

## make test-releases: per feature, a smoke differential on every verified release that
## test-python does not cover (one venv each: litellm==<release>, its test deps, the wheel).
.PHONY: test-releases smoke-one
test-releases: wheel
	for v in $(SMOKE_RELEASES); do \
	  $(MAKE) --no-print-directory LITELLM_VERSION=$$v smoke-one || exit 1; \
	done

smoke-one:
	$(call ensure_venv,$(LITELLM_VERSION))
	@echo "== release smoke against litellm $(LITELLM_VERSION)"
	cd crates/py && $(TEST_ENV) ../../$(call venv_for,$(LITELLM_VERSION))/bin/python -m pytest tests/test_release_smoke.py -q -p no:cacheprovider

## make test-sdk-only: on every LiteLLM line, a venv with only `pip install litellm==<line>`
## (no proxy extras) plus the wheel: patch() must succeed and say in status() what does not
## apply without the proxy's dependencies.
.PHONY: test-sdk-only
test-sdk-only: wheel
	for v in $(LITELLM_VERSIONS); do \
	  venv=.venv-sdk-$$v; \
	  if [ ! -x $$venv/bin/python ]; then $(PYTHON) -m venv $$venv; fi; \
	  if [ ! -f $$venv/.litellm-$$v ]; then \
	    $$venv/bin/pip install -q --disable-pip-version-check "litellm==$$v" && touch $$venv/.litellm-$$v; \
	  fi; \
	  $$venv/bin/pip install -q --disable-pip-version-check --force-reinstall --no-deps $(WHEEL_DIR)/fastllm_litellm-*.whl; \
	  echo "== SDK-only install of litellm $$v"; \
	  $(TEST_ENV) $$venv/bin/python crates/py/tests/sdk_only_check.py || exit 1; \
	done

.PHONY: pytest-one
pytest-one:
	$(call ensure_venv,$(LITELLM_VERSION))
	@echo "== pytest against litellm $(LITELLM_VERSION)"
	cd crates/py && $(TEST_ENV) ../../$(call venv_for,$(LITELLM_VERSION))/bin/python -m pytest tests -q -p no:cacheprovider

lint:
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings

## make publish-check: every publishable crate packaged and built as crates.io would get it
## (`cargo publish --workspace --dry-run`: path dependencies resolve to the packaged siblings).
## Uncommitted edits are packaged as they are.
.PHONY: publish-check
publish-check:
	cargo publish --workspace --dry-run --allow-dirty

# maturin, and zig (PyPI's `ziglang`, run by maturin as `python-zig` from the tools venv's
# bin/) to link the extension against manylinux2014's glibc 2.17.
WHEEL_TOOLS := "maturin>=1.9.4,<2" "ziglang>=0.17.1,<0.18"
$(TOOLS_VENV)/.wheel-tools:
	if [ ! -x $(TOOLS_VENV)/bin/python ]; then $(PYTHON) -m venv $(TOOLS_VENV); fi
	$(TOOLS_VENV)/bin/pip install -q --disable-pip-version-check $(WHEEL_TOOLS)
	touch $@

## The abi3 wheel, built once and installed into every LiteLLM venv: tagged manylinux2014
## (what package indexes accept; zig links it against glibc 2.17), the extension stripped.
wheel: $(TOOLS_VENV)/.wheel-tools
	rm -f $(WHEEL_DIR)/fastllm_litellm-*.whl
	cd crates/py && PATH="$$PWD/../../$(TOOLS_VENV)/bin:$$PATH" ../../$(TOOLS_VENV)/bin/maturin build \
	  --release --quiet --zig --compatibility manylinux2014 --strip -o ../../$(WHEEL_DIR)
	@ls -l $(WHEEL_DIR)/fastllm_litellm-*.whl | awk '{printf "wheel: %s (%.1f MB)\n", $$9, $$5/1048576}'


clean-venvs:
	rm -rf .venv .venv-* $(TOOLS_VENV)
