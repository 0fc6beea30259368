#!/usr/bin/env bash
# Benchmark: `buildy import` of a 3-deep origin chain (about 100 MB + 30 MB +
# 30 MB gzip-compressed) from the loopback IMGAPI test server, against the
# same work done by hand, one image after the other: `curl` the file and
# `sha1sum` it, then `gzip -cd | zfs receive`. Alternating runs, medians;
# prints each and the ratio. About 10 minutes on 2 cores.
#
#     bash bench/import.sh [RUNS]      # default 3 runs of each
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
ZFS_EXTRA_PACKAGES=(curl gzip)
# shellcheck source=../scripts/lib/zfs.sh
source scripts/lib/zfs.sh

cargo build --release --quiet -p buildy-cli -p imgapi-testserver
buildy=$PWD/target/release/buildy
server_bin=$PWD/target/release/imgapi-testserver

zfs_setup buildy-bench 6G
work=$(mktemp -d /var/tmp/buildy-bench-import.XXXXXX)
server_pid=""
cleanup() {
    [ -z "$server_pid" ] || kill "$server_pid" 2>/dev/null || true
    zfs_teardown || true
    rm -rf "$work" || true
}
trap cleanup EXIT
db=$work/db
images=$ZFS_POOL/images
zfs create -o mountpoint=none "$images"

# The chain: a base of system files and random data, two children that each
# add random data. Random data does not compress: the sizes stay realistic.
zfs_log "making the chain"
zfs create -o mountpoint="$work/base" "$ZFS_POOL/base"
mkdir -p "$work/base/root"
cp -a /usr/share/man "$work/base/root/"
head -c 80M /dev/urandom > "$work/base/root/blob"
"$buildy" create -q -c gzip -o "$work" --db "$db" --work-dir "$work" "$ZFS_POOL/base" \
    name=bench-base version=1 type=zone-dataset os=smartos > "$work/base.out"
uuids=()
manifests=()
files=()
read_created() {
    manifests+=("$(sed -n 1p "$1")")
    files+=("$(sed -n 2p "$1")")
    uuids+=("$(sed -n 's/.*"uuid": "\([^"]*\)".*/\1/p' "${manifests[-1]}" | head -n 1)")
}
read_created "$work/base.out"
"$buildy" install -q --root "$images" --db "$db" -m "${manifests[0]}" -f "${files[0]}" >/dev/null
origin=${uuids[0]}
for name in child grandchild; do
    zfs_locked clone -o mountpoint="$work/$name" "$images/$origin@final" "$ZFS_POOL/$name"
    head -c 30M /dev/urandom > "$work/$name/root/$name.bin"
    "$buildy" create -q -i -c gzip -o "$work" --db "$db" --work-dir "$work" "$ZFS_POOL/$name" \
        "name=bench-$name" version=1 > "$work/$name.out"
    read_created "$work/$name.out"
    "$buildy" install -q --root "$images" --db "$db" -m "${manifests[-1]}" -f "${files[-1]}" >/dev/null
    origin=${uuids[-1]}
done
for f in "${files[@]}"; do
    zfs_log "$(basename "$f"): $(stat -c %s "$f") bytes"
done

# The server, and the chain published to it.
# Private mode: it takes images without "public": true.
"$server_bin" --listen 127.0.0.1:0 --private > "$work/server.out" &
server_pid=$!
for _ in $(seq 1 100); do
    grep -q '^listening on ' "$work/server.out" 2>/dev/null && break
    sleep 0.1
done
url=$(sed -n 's/^listening on //p' "$work/server.out")
[ -n "$url" ] || { echo "the test server did not start" >&2; exit 1; }
for i in 0 1 2; do
    "$buildy" publish -q -m "${manifests[$i]}" -f "${files[$i]}" "$url" >/dev/null
done

now() { date +%s.%N; }
fresh_root() {
    zfs_locked destroy -r "$ZFS_POOL/fresh" 2>/dev/null || true
    rm -rf "$work/db-fresh"
    zfs create -o mountpoint=none "$ZFS_POOL/fresh"
}

with_buildy() {
    fresh_root
    local start end
    start=$(now)
    "$buildy" import -q -S "$url" --root "$ZFS_POOL/fresh" --db "$work/db-fresh" --work-dir "$work" "${uuids[2]}" >/dev/null
    end=$(now)
    echo "$end - $start" | bc
}

# Prints the total, then the download part (curl and sha1sum) of it.
by_hand() {
    fresh_root
    local start end i u fetched=0 t0
    start=$(now)
    for i in 0 1 2; do
        u=${uuids[$i]}
        t0=$(now)
        curl -sf -o "$work/download" "$url/images/$u/file"
        sha1sum "$work/download" >/dev/null
        fetched=$(echo "$fetched + $(now) - $t0" | bc)
        gzip -cd < "$work/download" | zfs receive "$ZFS_POOL/fresh/$u"
        rm -f "$work/download"
    done
    end=$(now)
    echo "$(echo "$end - $start" | bc) $fetched"
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

buildy_times=()
hand_times=()
fetch_times=()
for run in $(seq 1 "$runs"); do
    buildy_times+=("$(with_buildy)")
    read -r total fetched < <(by_hand)
    hand_times+=("$total")
    fetch_times+=("$fetched")
    zfs_log "run $run: buildy import ${buildy_times[-1]} s, by hand $total s (downloads $fetched s of it)"
done
b=$(printf '%s\n' "${buildy_times[@]}" | median)
h=$(printf '%s\n' "${hand_times[@]}" | median)
f=$(printf '%s\n' "${fetch_times[@]}" | median)
printf 'buildy import (3 images, parallel downloads, every stream record checked): %.2f s (median of %d)\n' "$b" "$runs"
printf 'by hand (curl | sha1sum, gzip -cd | zfs receive, in turn): %.2f s, of which downloads %.2f s\n' "$h" "$f"
printf 'ratio (by hand / buildy): %.2fx\n' "$(echo "$h / $b" | bc -l)"
printf 'load during the run: %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
