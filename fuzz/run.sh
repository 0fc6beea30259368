#!/usr/bin/env bash
# Runs a fuzz target for a while: fuzz/run.sh TARGET [SECONDS]
# Needs cargo-fuzz (`cargo install cargo-fuzz`). The machine has only a
# stable toolchain, so RUSTC_BOOTSTRAP lets cargo-fuzz use its -Z flags.
set -euo pipefail
target=${1:?usage: fuzz/run.sh TARGET [SECONDS]}
seconds=${2:-60}
here=$(cd "$(dirname "$0")" && pwd)
corpus="$here/corpus/$target"
mkdir -p "$corpus"
# Seed manifests from the shared fixtures when the corpus is empty.
if [ -z "$(ls -A "$corpus")" ] && [ -d "$here/../../shared/fixtures/manifests" ]; then
    cp "$here"/../../shared/fixtures/manifests/* "$corpus"/
fi
cd "$here/.."
RUSTC_BOOTSTRAP=1 cargo fuzz run -O --fuzz-dir fuzz "$target" "$corpus" -- -max_total_time="$seconds" -rss_limit_mb=2048
