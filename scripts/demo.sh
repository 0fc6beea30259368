#!/usr/bin/env bash
# The main job, from a fresh machine: a real image build.
#
#  1. zfs-fuse and a file-backed pool (made for this run unless
#     BUILDY_DEMO_POOL names an existing pool);
#  2. buildy's base image (busybox and pkgsrc stand-ins), made with
#     `buildy create` and installed with `buildy install`;
#  3. `buildy -i <base> -d <proto> -m <json> -p ... -a -M -P ...`: a sample
#     service image, exactly as Triton's Makefiles call buildimage;
#  4. the result: manifest, file, step timings; the manifest validated;
#  5. the new image installed into a second dataset root, and run.
#
# Outputs stay in /var/tmp/buildy-demo/out; the pool this script made and
# the zfs-fuse it started are removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n== %s\n' "$*"; }

# BUILDY_DEMO_BIN_DIR: a directory with buildy and imgmanifest built
# elsewhere (scripts/test-openzfs.sh runs the demo in a VM without cargo).
bin_dir=${BUILDY_DEMO_BIN_DIR:-}
[ -n "$bin_dir" ] || command -v cargo >/dev/null || { echo "demo.sh: needs cargo (Rust)" >&2; exit 2; }
# shellcheck source=lib/zfs.sh
source scripts/lib/zfs.sh
ZFS_EXTRA_PACKAGES=(rsync busybox-static)
if [ -n "${BUILDY_DEMO_POOL:-}" ]; then
    zfs_install "${ZFS_EXTRA_PACKAGES[@]}"
    zfs_start_daemon
    pool=$BUILDY_DEMO_POOL
else
    zfs_setup buildy-demo 1G
    pool=$ZFS_POOL
fi

if [ -z "$bin_dir" ]; then
    log "building buildy (cargo build --release)"
    cargo build --release --quiet
    bin_dir=$(cd "${CARGO_TARGET_DIR:-target}/release" && pwd)
fi
buildy=$bin_dir/buildy
imgmanifest=$bin_dir/imgmanifest

demo=/var/tmp/buildy-demo
rm -rf "$demo" && mkdir -p "$demo/out" "$demo/db" "$demo/work"
top="$pool/demo"
zfs_demo_cleanup() {
    # The demo's datasets, when the pool is not this script's own.
    [ -n "${BUILDY_DEMO_POOL:-}" ] && zfs_locked destroy -R "$top" 2>/dev/null
    return 0
}
trap 'zfs_demo_cleanup; zfs_teardown' EXIT
zfs_locked create -o mountpoint=none "$top"
zfs_locked create -o mountpoint=none "$top/images"
zfs_locked create -o mountpoint=none "$top/second"

log "making and installing the base image under $top/images"
base=$(BUILDY=$buildy fixtures/base-image/make.sh "$top/images" "$demo/db" "$demo/out")
echo "base image: $base"

log "buildy -i $base -d fixtures/sample-service/proto -m '{...}' -p hello,figlet,vulnpkg -a -M -S ... -P sample-service-zfs"
version="master-$(date -u +%Y%m%dT%H%M%SZ)-g$(git rev-parse --short=7 HEAD 2>/dev/null || echo 0000000)"
"$buildy" -i "$base" -d fixtures/sample-service/proto \
    -m "{\"name\": \"sample-service\", \"version\": \"$version\", \"description\": \"buildy's sample service\"}" \
    -p hello,figlet,vulnpkg -a -M -S https://github.com/example/sample-service.git -P sample-service-zfs \
    --root "$top/images" --db "$demo/db" --output-dir "$demo/out" --work-dir "$demo/work" --json >"$demo/result.json"

log "the result"
prefix="$demo/out/sample-service-zfs-$version"
ls -l "$prefix".*
cat "$prefix.imgmanifest"
echo
python3 - "$demo/result.json" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
print("steps:")
for s in r["steps"]:
    print(f"  {s['step']:<10} {s['seconds']:8.3f} s")
print(f"  {'total':<10} {r['seconds']:8.3f} s")
print("packages:", ", ".join(r["packages"]))
EOF
echo "audit report ($prefix.pkgaudit):"
sed 's/^/  /' "$prefix.pkgaudit"

log "imgmanifest validate $prefix.imgmanifest"
"$imgmanifest" validate "$prefix.imgmanifest"

log "installing the base image and the new image into a second root, $top/second"
"$buildy" install --root "$top/second" --db "$demo/db" \
    -m "$demo/out/buildy-base-1.0.0.imgmanifest" -f "$demo/out/buildy-base-1.0.0.zfs.gz"
"$buildy" install --root "$top/second" --db "$demo/db" -m "$prefix.imgmanifest" -f "$prefix.zfs.gz"
uuid=$(sed -n 's/^  "uuid": "\(.*\)",$/\1/p' "$prefix.imgmanifest")
image="$top/second/$uuid"
zfs list -t all -o name,origin -r "$top/second"

log "running the service inside the installed image"
zfs_locked set mountpoint="$demo/installed" "$image"
chroot "$demo/installed/root" /opt/sample-service/bin/sample-service
echo "motd:"
cat "$demo/installed/root/etc/motd"
zfs_locked set mountpoint=none "$image"
log "done: outputs in $demo/out"
