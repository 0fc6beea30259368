#!/usr/bin/env bash
# Benchmark: packaging a real zfs send stream with buildy and with the best
# parallel tools a user would otherwise pick (pigz, pbzip2 and lbzip2,
# xz -T0), each peer piped through sha1sum into a file as imgadm does.
# Runs alternate (buildy, peer, buildy, peer, ...), RUNS of each (default 3),
# and the medians are compared: throughput, output size, peak memory, and
# buildy's ratio to the best (fastest) parallel peer of each codec. Then
# buildy's peak memory on a ~100 MB and a ~1.2 GB stream. The machine's load
# average is printed before and after.
#
# The stream: by default one of ~600 MB made on a zfs-fuse pool (manual
# pages and documentation, many of them already gzipped, libraries, 40 MB
# of random data); or a send stream of your own with --stream FILE (then
# the memory rows are left out).
#
#     bash bench/pack.sh                          # all codecs, made stream
#     bash bench/pack.sh gzip none                # some
#     bash bench/pack.sh --stream my.zfs xz       # your stream
#     RUNS=5 bash bench/pack.sh --single bzip2    # also the single-threaded tool
#     MEMORY_RUNS=1 bash bench/pack.sh xz           # one memory run of each size
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

given_stream="" single=0 compressions=()
while [ $# -gt 0 ]; do
    case $1 in
        --stream) given_stream=$(realpath "$2"); shift 2 ;;
        --single) single=1; shift ;;
        none | gzip | bzip2 | xz) compressions+=("$1"); shift ;;
        *) echo "usage: bench/pack.sh [--stream FILE] [--single] [none|gzip|bzip2|xz]..." >&2; exit 2 ;;
    esac
done
[ ${#compressions[@]} -gt 0 ] || compressions=(none gzip bzip2 xz)
RUNS=${RUNS:-3}
MEMORY_RUNS=${MEMORY_RUNS:-$RUNS}

ZFS_EXTRA_PACKAGES=(pigz pbzip2 lbzip2 xz-utils bzip2 gzip time rsync)
# shellcheck source=../scripts/lib/zfs.sh
source scripts/lib/zfs.sh
[ -z "$given_stream" ] || apt_need "" "${ZFS_EXTRA_PACKAGES[@]}"

cargo build --release --quiet -p buildy-cli
buildy=$repo/target/release/buildy

work=$(mktemp -d /var/tmp/buildy-bench.XXXXXX)
cleanup() { [ -z "$ZFS_POOL" ] || zfs_teardown || true; rm -rf "$work" || true; }
trap cleanup EXIT

small="" large=""
if [ -n "$given_stream" ]; then
    stream=$given_stream
else
    zfs_setup buildy-bench 4G
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

    # Streams of about 100 MB and 1.2 GB, to show memory does not grow with
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

    # Measure on a quiet machine: zfs-fuse keeps flushing the pool for a
    # while after the writes, on the same cores the compressors need.
    zfs_teardown
    ZFS_POOL=""
    # And let the stream files just written reach the disk, or the first
    # measurements (and buildy's final fsync) queue behind their writeback.
    sync
fi

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

# best LABEL...: the fastest of LABELs (by median time).
best() {
    local l
    for l in "$@"; do echo "${SECS[$l]} $l"; done | sort -n | head -n 1 | cut -d' ' -f2-
}

# compare C LEVEL SINGLE PEER...: buildy against each parallel PEER (its
# command words, as one argument) at LEVEL, in turns, RUNS times; with
# --single, the single-threaded tool SINGLE too. Then the medians, the
# ratios, and the ratio to the fastest peer.
compare() {
    local c=$1 level=$2 tool=$3 i peer words
    shift 3
    local -a parallel=("$@") timed=("$@") labels=("buildy $c") best_of=()
    [ "$single" = 0 ] || timed+=("$tool")
    for peer in "${timed[@]}"; do labels+=("$peer $level"); done
    for peer in "${parallel[@]}"; do best_of+=("$peer $level"); done
    for i in $(seq "$RUNS"); do
        run "buildy $c #$i" "$work/o" buildy pack -c "$c" -o "$work/o" "$stream"
        for peer in "${timed[@]}"; do
            read -ra words <<<"$peer"
            run "$peer $level #$i" "$work/o" "${words[@]}" "$level" -c
        done
    done
    for peer in "${labels[@]}"; do median "$peer" "$RUNS"; done
    for peer in "${labels[@]:1}"; do ratio "buildy $c" "$peer"; done
    peer=$(best "${best_of[@]}")
    echo "  best parallel peer for $c: $peer"
    ratio "buildy $c" "$peer"
}

# memory C: buildy's peak memory on the ~100 MB and the ~1 GB stream,
# MEMORY_RUNS times each in turns (the peak varies by a few MiB from run to
# run with what is in flight at the time), and the median peaks compared.
memory() {
    local c=$1 i name
    local -A label bytes rss
    for name in small large; do
        bytes[$name]=$(stat -c %s "${!name}")
        label[$name]="buildy $c, $(mb "${bytes[$name]}") MB"
    done
    for i in $(seq "$MEMORY_RUNS"); do
        for name in small large; do
            in_bytes=${bytes[$name]}
            run "${label[$name]} #$i" "$work/o" buildy pack -c "$c" -o "$work/o" "${!name}"
        done
    done
    in_bytes=$stream_bytes
    for name in small large; do
        rss[$name]=$(for i in $(seq "$MEMORY_RUNS"); do echo "${RSS[${label[$name]} #$i]}"; done |
            sort -n | sed -n "$(( (MEMORY_RUNS + 1) / 2 ))p")
    done
    awk -v l="${rss[large]}" -v s="${rss[small]}" -v n="$MEMORY_RUNS" 'BEGIN {
        printf "  median peak memory of %d, 1 GB stream over 100 MB stream: %d MiB / %d MiB (%+.0f%%)\n", n, l, s, (l / s - 1) * 100 }'
}

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg); cores: $(nproc); $RUNS runs of each, alternating"
for c in "${compressions[@]}"; do
    echo "== $c"
    case $c in
        none)
            for i in $(seq "$RUNS"); do
                run "buildy none #$i" "$work/o" buildy pack -c none -o "$work/o" "$stream"
                run "cat | sha1sum #$i" "$work/o" cat
            done
            median "buildy none" "$RUNS"
            median "cat | sha1sum" "$RUNS"
            ratio "buildy none" "cat | sha1sum"
            ;;
        gzip) compare gzip -6 gzip pigz ;;
        bzip2) compare bzip2 -9 bzip2 pbzip2 lbzip2 ;;
        xz) compare xz -6 xz "xz -T0" ;;
    esac
    [ -z "$small" ] || [ "$c" = none ] || memory "$c"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
