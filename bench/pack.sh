#!/usr/bin/env bash
# Benchmark: packaging a real zfs send stream (~600 MB of mixed data made
# on a zfs-fuse pool) with buildy and with the tools a user would otherwise
# use, each piped through sha1sum into a file as imgadm does. Prints
# throughput, output size and peak memory for each, and the ratios; then
# buildy's peak memory on a ~100 MB and a ~1 GB stream. About 25 minutes on
# 2 cores, most of it single-threaded xz and bzip2.
#
#     bash bench/pack.sh            # all compressions
#     bash bench/pack.sh gzip none  # some
set -euo pipefail
cd "$(dirname "$0")/.."
ZFS_EXTRA_PACKAGES=(pigz pbzip2 xz-utils bzip2 gzip time rsync)
# shellcheck source=../scripts/lib/zfs.sh
source scripts/lib/zfs.sh

compressions=("$@")
[ ${#compressions[@]} -gt 0 ] || compressions=(none gzip bzip2 xz)

cargo build --release --quiet -p buildy-cli
buildy=$PWD/target/release/buildy

zfs_setup buildy-bench 4G
work=$(mktemp -d /var/tmp/buildy-bench.XXXXXX)
cleanup() { zfs_teardown || true; rm -rf "$work" || true; }
trap cleanup EXIT

mnt=$work/mnt
zfs create -o mountpoint="$mnt" "$ZFS_POOL/data"
zfs_log "filling the dataset: documentation, manual pages, libraries, random data"
rsync -a /usr/share/doc /usr/share/man "$mnt"/
mkdir "$mnt/lib"
find /usr/lib/x86_64-linux-gnu -maxdepth 1 -type f -name '*.so*' -size +200k | sort | head -90 |
    xargs -r cp -t "$mnt/lib"
head -c 40M /dev/urandom > "$mnt/random.bin"
zfs snapshot "$ZFS_POOL/data@bench"
stream=$work/stream.zfs
zfs send "$ZFS_POOL/data@bench" > "$stream"

# Streams of about 100 MB and 1 GB, to show memory does not grow with
# input size: the manual pages plus random data, and the data above twice.
zfs create -o mountpoint="$work/small" "$ZFS_POOL/small"
rsync -a /usr/share/man "$work/small"/
head -c 26M /dev/urandom > "$work/small/random.bin"
zfs create -o mountpoint="$work/large" "$ZFS_POOL/large"
rsync -a "$mnt"/ "$work/large/one"/
rsync -a "$mnt"/ "$work/large/two"/
for name in small large; do
    zfs snapshot "$ZFS_POOL/$name@bench"
    zfs send "$ZFS_POOL/$name@bench" > "$work/$name.zfs"
done
small=$work/small.zfs large=$work/large.zfs

# Measure on a quiet machine: zfs-fuse keeps flushing the pool for a while
# after the writes, on the same two cores the compressors need.
zfs_teardown
ZFS_POOL=""
# And let the stream files just written reach the disk, or the first
# measurements (and buildy's final fsync) queue behind their writeback.
sync

mb() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1e6 }'; }
stream_bytes=$(stat -c %s "$stream")
in_bytes=$stream_bytes # the input of the current row
zfs_log "stream: $(mb "$stream_bytes") MB; cores: $(nproc)"

# run LABEL OUT CMD...: CMD writes the compressed stream to stdout (peers)
# or is a buildy command writing OUT itself (then it starts with "buildy").
declare -A SECS SIZE RSS
run() {
    local label=$1 out=$2; shift 2
    local t0 t1
    rm -f "$out"
    t0=$(date +%s.%N)
    if [ "$1" = buildy ]; then
        shift
        /usr/bin/time -f %M -o "$work/rss" "$buildy" "$@" >/dev/null
    else
        /usr/bin/time -f %M -o "$work/rss" "$@" < "$stream" | tee "$out" | sha1sum >/dev/null
    fi
    t1=$(date +%s.%N)
    SECS[$label]=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
    SIZE[$label]=$(stat -c %s "$out")
    RSS[$label]=$(( $(cat "$work/rss") / 1024 ))
    row "$label"
    rm -f "$out"
}

row() { # row LABEL: one line of the table
    printf '  %-22s %7s s %9s MB/s %10s MB out %6s MiB peak\n' "$1" "${SECS[$1]}" \
        "$(awk -v b="$in_bytes" -v s="${SECS[$1]}" 'BEGIN { printf "%.1f", b / 1e6 / s }')" \
        "$(mb "${SIZE[$1]}")" "${RSS[$1]}"
}

# median LABEL N: LABEL becomes the run of "LABEL #1".."LABEL #N" with the
# median time.
median() {
    local label=$1 n=$2 mid
    mid=$(for i in $(seq "$n"); do echo "${SECS[$label #$i]} $i"; done | sort -n | sed -n "$(( (n + 1) / 2 ))p" | cut -d' ' -f2)
    SECS[$label]=${SECS[$label #$mid]} SIZE[$label]=${SIZE[$label #$mid]} RSS[$label]=${RSS[$label #$mid]}
    echo "  median of $n:"
    row "$label"
}

ratio() { # ratio A B: throughput of A over B, and size of A over B
    awk -v sa="${SECS[$1]}" -v sb="${SECS[$2]}" -v za="${SIZE[$1]}" -v zb="${SIZE[$2]}" -v a="$1" -v b="$2" \
        'BEGIN { printf "  %s vs %s: %.2fx throughput, output %+.2f%%\n", a, b, sb / sa, (za / zb - 1) * 100 }'
}

# compare C LEVEL SINGLE PARALLEL...: buildy against the single-threaded
# tool and its parallel peer at the same level.
compare() {
    local c=$1 level=$2 single=$3
    shift 3
    run "buildy $c" "$work/o" buildy pack -c "$c" -o "$work/o" "$stream"
    run "$single $level" "$work/o" "$single" "$level" -c
    run "$* $level" "$work/o" "$@" "$level" -c
    ratio "buildy $c" "$single $level"
    ratio "buildy $c" "$* $level"
}

# memory C: buildy's peak memory on the ~100 MB and the ~1 GB stream.
memory() {
    local c=$1
    in_bytes=$(stat -c %s "$small")
    run "buildy $c, $(mb "$in_bytes") MB" "$work/o" buildy pack -c "$c" -o "$work/o" "$small"
    local small_rss=${RSS["buildy $c, $(mb "$in_bytes") MB"]}
    in_bytes=$(stat -c %s "$large")
    run "buildy $c, $(mb "$in_bytes") MB" "$work/o" buildy pack -c "$c" -o "$work/o" "$large"
    local large_rss=${RSS["buildy $c, $(mb "$in_bytes") MB"]}
    in_bytes=$stream_bytes
    echo "  peak memory, 1 GB stream over 100 MB stream: $large_rss MiB / $small_rss MiB"
}

for c in "${compressions[@]}"; do
    echo "== $c"
    case $c in
        none)
            # Quick and so noisy here: five runs each, alternating, median.
            for i in 1 2 3 4 5; do
                run "buildy none #$i" "$work/o" buildy pack -c none -o "$work/o" "$stream"
                run "cat | sha1sum #$i" "$work/o" cat
            done
            median "buildy none" 5
            median "cat | sha1sum" 5
            ratio "buildy none" "cat | sha1sum"
            ;;
        gzip) compare gzip -6 gzip pigz && memory gzip ;;
        bzip2) compare bzip2 -9 bzip2 pbzip2 && memory bzip2 ;;
        xz) compare xz -6 xz xz -T0 ;;
    esac
done
