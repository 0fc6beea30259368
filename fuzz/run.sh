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
        manifest_validate)
            cp "$fixtures"/manifests/real/* "$fixtures"/manifests/*.* "$corpus"/
            # Docker image info (imgManifestFromDockerInfo's options) and URLs.
            d=sha256:8ddc19f16526912237dd8af81971d5e4dd0587907234be2b83e249518d5b673f
            printf '{"layerDigests":["%s","%s"],"imgJson":{"created":"2015-08-06T21:11:58.412862713Z","os":"linux","container_config":{"Cmd":["/bin/sh","-c","x"]},"config":{"Cmd":["sh"],"Env":[]}},"repo":{"localName":"busybox"},"tags":["latest"]}' "$d" "$d" >"$corpus"/docker-info.json
            printf '"https://xn--fa-hia.de:80/p?q#f"' >"$corpus"/url.json
            printf '"http://a\u00adb.xn--abc-.com"' >"$corpus"/url-idna.json
            ;;
        stream_reader) cp "$fixtures"/streams/*.zstream "$corpus"/ ;;
    esac
fi
cd "$here/.."
RUSTC_BOOTSTRAP=1 cargo fuzz run -O --fuzz-dir fuzz "$target" "$corpus" -- -max_total_time="$seconds" -rss_limit_mb=2048
