#!/usr/bin/env bash
# The main job, for now: build buildy's tools and validate the example
# manifests shipped in fixtures/manifests (v1 ones upgraded first), then show
# one verdict as JSON and one manifest rejected, with its errors.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release --quiet
bin=target/release/imgmanifest

echo "== imgmanifest validate --upgrade fixtures/manifests/*"
"$bin" validate --upgrade fixtures/manifests/*

echo "== the DC manifest with the rules of a datacenter IMGAPI (--mode dc --json)"
"$bin" validate --mode dc --json fixtures/manifests/base-64-dc.json

echo "== the v1 manifest, upgraded to v2"
"$bin" upgrade fixtures/manifests/smartos-1.6.3.dsmanifest

echo "== a manifest IMGAPI would reject (exit 1 is expected here)"
set +e
echo '{"v": 2, "uuid": "not-a-uuid", "name": "bad name!", "version": "1.0", "type": "zone-dataset", "os": "plan9"}' \
    | "$bin" validate -
echo "exit status: $?"
