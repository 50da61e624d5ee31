#!/usr/bin/env bash
# Fuzz smoke test: runs every cargo-fuzz target in fuzz/ for a short, bounded time.
#
# Usage: scripts/fuzz-smoke.sh [target...]   (default: every target in fuzz/fuzz_targets)
# FUZZ_SECONDS (default 20) bounds each target's run. Each run starts from a temporary copy
# of fuzz/seeds/<target>/, so the git-ignored fuzz/corpus/ is left alone. Crash inputs land
# in fuzz/artifacts/<target>/. Exits non-zero if any target fails.
set -euo pipefail

fuzz_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/../fuzz" && pwd)"
seconds="${FUZZ_SECONDS:-20}"

if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

# cargo-fuzz needs nightly flags; on stable only, unlock them with RUSTC_BOOTSTRAP.
if rustup toolchain list | grep -q nightly; then
    fuzz=(cargo +nightly fuzz)
else
    fuzz=(env RUSTC_BOOTSTRAP=1 cargo fuzz)
fi

if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    targets=()
    for file in "$fuzz_dir"/fuzz_targets/*.rs; do
        targets+=("$(basename "$file" .rs)")
    done
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

cd "$fuzz_dir"
failed=()
for target in "${targets[@]}"; do
    corpus="$tmp/$target"
    mkdir -p "$corpus"
    if [ -d "seeds/$target" ]; then
        cp -R "seeds/$target/." "$corpus/"
    fi
    echo "==> fuzzing $target for ${seconds}s"
    if ! "${fuzz[@]}" run "$target" "$corpus" -- -max_total_time="$seconds" -max_len=4096; then
        failed+=("$target")
    fi
done

if [ "${#failed[@]}" -gt 0 ]; then
    echo "fuzz-smoke: failing targets: ${failed[*]} (inputs in $fuzz_dir/artifacts/)" >&2
    exit 1
fi
echo "fuzz-smoke: ${#targets[@]} target(s) ran ${seconds}s each without a crash"
