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
# Seed an empty corpus from the repository's fixtures.
fixtures="$here/../fixtures"
if [ -z "$(ls -A "$corpus")" ]; then
    case "$target" in
        manifest_validate) cp "$fixtures"/manifests/real/* "$fixtures"/manifests/*.* "$corpus"/ ;;
        stream_reader) cp "$fixtures"/streams/*.zstream "$corpus"/ ;;
    esac
fi
cd "$here/.."
RUSTC_BOOTSTRAP=1 cargo fuzz run -O --fuzz-dir fuzz "$target" "$corpus" -- -max_total_time="$seconds" -rss_limit_mb=2048
