#!/usr/bin/env bash
# The layer cache against a cold build (a benchmark, not a test): a
# service shaped like a Node.js one (a proto tree of >= 20k files and
# >= 100 MB) on buildy's base image with packages whose installation does
# real work (>= 50 MB extracted). Four builds, in one run:
#
#   cold        nothing cached
#   no change   the same inputs again
#   one file    one proto file changed
#   +package    a package added
#
# prints each build's time and steps, and each rebuild's ratio to the cold
# build. Targets: "one file" >= 3x faster than "cold"; hashing the proto
# tree <= 10% of the cold build. Uses its own pool (zfs-fuse, started if
# not running) and removes it at the end.
#
#   bench/build.sh [FILES [MEGABYTES]]     (default 20000 files, 100 MB)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
files=${1:-20000}
megabytes=${2:-100}

# shellcheck source=../scripts/lib/zfs.sh
source scripts/lib/zfs.sh
ZFS_EXTRA_PACKAGES=(rsync busybox-static python3)
zfs_setup buildy-bench-build 6G
pool=$ZFS_POOL

echo "==> cargo build --release" >&2
cargo build --release --quiet -p buildy-cli
buildy=$repo/target/release/buildy

bench=/var/tmp/buildy-bench-build
rm -rf "$bench" && mkdir -p "$bench"/{out,db,work,packages}
trap 'rm -rf "$bench"; zfs_teardown' EXIT
top=$pool/bench
zfs_locked create -o mountpoint=none "$top"
zfs_locked create -o mountpoint=none "$top/images"

echo "==> generating packages (>= 50 MB extracted) and a proto tree ($files files, $megabytes MB)" >&2
python3 - "$bench" "$files" "$megabytes" <<'PY'
import os, random, sys
bench, files, megabytes = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(42)
words = [bytes(rng.choice(b"abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 10))) for _ in range(4000)]
def text(n):
    out = bytearray()
    while len(out) < n:
        out += b" ".join(rng.choice(words) for _ in range(16)) + b";\n"
    return bytes(out[:n])
# Packages: a runtime (30 MB in 600 files) and a data package (24 MB, half of it incompressible).
for name, count, size, noise in [("noderuntime-20.1", 600, 50_000, 0.0), ("bigdata-1.0", 24, 1_000_000, 0.5)]:
    d = os.path.join(bench, "packages", name)
    os.makedirs(os.path.join(d, "files/opt/local/lib", name), exist_ok=True)
    open(os.path.join(d, "+COMMENT"), "w").write(f"{name} for the benchmark\n")
    for i in range(count):
        body = text(int(size * (1 - noise))) + os.urandom(int(size * noise))
        open(os.path.join(d, "files/opt/local/lib", name, f"f{i:05}"), "wb").write(body)
# The proto tree: a service with node_modules.
proto = os.path.join(bench, "proto")
per = megabytes * 1_000_000 // files
for i in range(files):
    d = os.path.join(proto, "opt/smartdc/svc/node_modules", f"m{i // 200:03}", f"lib{i % 200 // 20}")
    os.makedirs(d, exist_ok=True)
    open(os.path.join(d, f"f{i:05}.js"), "wb").write(text(rng.randint(per // 2, per * 3 // 2)))
os.makedirs(os.path.join(proto, "opt/smartdc/svc/bin"), exist_ok=True)
open(os.path.join(proto, "opt/smartdc/svc/bin/server.js"), "w").write("console.log('v1');\n")
PY
du -sh "$bench/proto" "$bench/packages" >&2

echo "==> the base image" >&2
base=$(BUILDY=$buildy BUILDY_EXTRA_PACKAGES=$bench/packages fixtures/base-image/make.sh "$top/images" "$bench/db" "$bench/out")

run() { # label, packages
    local label=$1 packages=$2
    "$buildy" build -i "$base" -d "$bench/proto" -m '{"name": "svc", "version": "1.0.0"}' \
        -p "$packages" -P "$label" --root "$top/images" --db "$bench/db" \
        --output-dir "$bench/out" --work-dir "$bench/work" --json 2>"$bench/$label.log" >"$bench/$label.json" ||
        { tail -20 "$bench/$label.log" >&2; return 1; }
}
packages=noderuntime,bigdata
echo "==> cold" >&2; run cold $packages
echo "==> no change" >&2; run nochange $packages
echo "==> one file" >&2; echo "console.log('v2');" >"$bench/proto/opt/smartdc/svc/bin/server.js"; run onefile $packages
echo "==> +package" >&2; run addpkg $packages,hello

echo
uptime
python3 - "$bench" <<'PY'
import json, sys
bench = sys.argv[1]
runs = [("cold", "cold"), ("no change", "nochange"), ("one file", "onefile"), ("+package", "addpkg")]
results = {label: json.load(open(f"{bench}/{name}.json")) for label, name in runs}
cold = results["cold"]["seconds"]
print(f"{'build':<10} {'seconds':>8} {'vs cold':>8}  steps (cache)")
for label, _ in runs:
    r = results[label]
    steps = " ".join(f"{s['step']}={s['seconds']:.2f}({s['cache'][0]})" for s in r["steps"])
    print(f"{label:<10} {r['seconds']:8.2f} {cold / r['seconds']:7.2f}x  {steps}")
hash_s = sum(s["seconds"] for s in results["cold"]["steps"] if s["step"] == "hash")
print(f"\nhashing the proto tree in the cold build: {hash_s:.2f} s = {100 * hash_s / cold:.1f}% of it (target <= 10%)")
print(f"one proto file changed: {cold / results['one file']['seconds']:.2f}x faster than cold (target >= 3x)")
PY
