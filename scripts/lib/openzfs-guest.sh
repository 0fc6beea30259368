#!/usr/bin/env bash
# The job inside the OpenZFS test VM (scripts/test-openzfs.sh boots it; the
# initramfs runs this as the first process of the new root):
#
#   openzfs-guest.sh OUT
#
# OUT (the run's 9p share) holds `job` (the settings, as shell assignments)
# and `tests` (`NAME<TAB>DIR<TAB>EXECUTABLE` lines: test binaries built on
# the host, run in DIR as cargo does). It loads Debian's zfs module, makes a
# pool on a file in the tmpfs root, runs each test binary with
# BUILDY_TEST_POOL set and then scripts/demo.sh on the same pool, and writes
# each one's log and exit status to OUT; `OUT/finished` last. Then it powers
# the VM off, also when something failed.
set -uo pipefail

# As the root's first process (pid 1) it would inherit every orphan and reap
# none, and the tests' liveness checks would see zombies: a small reaper
# (perl-base is in every Debian root) runs as pid 1 instead, this script as
# its child.
if [ $$ = 1 ]; then
    exec perl -e 'my $c = fork() // die "fork: $!"; if (!$c) { exec(@ARGV) or die "exec: $!" } 1 while wait() > 0' \
        /bin/bash "$0" "$@"
fi
out=$1

finish() {
    sync
    umount /run/buildy 2>/dev/null || sync
    echo o >/proc/sysrq-trigger
    sleep 60
}
trap finish EXIT

export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root LANG=C.UTF-8 TERM=dumb

# What an init would have set up.
ln -sf /proc/self/fd /dev/fd
ln -sf /proc/self/fd/0 /dev/stdin
ln -sf /proc/self/fd/1 /dev/stdout
ln -sf /proc/self/fd/2 /dev/stderr
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs -o mode=1777 shm /dev/shm
mkdir -p /run/lock
busybox ip link set lo up
busybox hostname buildy-openzfs
[ -s /etc/hosts ] || printf '127.0.0.1\tlocalhost\n::1\tlocalhost\n' >/etc/hosts
[ -e /etc/mtab ] || ln -s ../proc/self/mounts /etc/mtab

# shellcheck source=/dev/null
source "$out/job" # POOL POOL_SIZE ARC_MAX REPO DEMO_BIN_DIR

say() { printf '\n==> [openzfs-vm] %s\n' "$*"; }

say "loading zfs (zfs_arc_max=$ARC_MAX)"
if ! modprobe zfs "zfs_arc_max=$ARC_MAX"; then
    echo "modprobe zfs failed" >"$out/error"
    exit 1
fi
zfs version 2>&1 | head -n 1 >"$out/zfs-version"
cat "$out/zfs-version"

img=/var/tmp/$POOL.img
truncate -s "$POOL_SIZE" "$img"
if ! zpool create -o cachefile=none -m none "$POOL" "$img"; then
    echo "zpool create $POOL failed" >"$out/error"
    exit 1
fi
say "pool $POOL on $img ($POOL_SIZE, tmpfs)"
export BUILDY_TEST_POOL=$POOL

n=0
while IFS=$'\t' read -r name dir exe; do
    n=$((n + 1))
    say "running $name ($exe) in $dir"
    (cd "$dir" && exec "$exe") </dev/null 2>&1 | tee "$out/test-$n.log"
    echo "${PIPESTATUS[0]}" >"$out/test-$n.status"
done <"$out/tests"

say "the README's main job: scripts/demo.sh on pool $POOL"
BUILDY_DEMO_POOL=$POOL BUILDY_DEMO_BIN_DIR=$DEMO_BIN_DIR bash "$REPO/scripts/demo.sh" </dev/null 2>&1 | tee "$out/demo.log"
echo "${PIPESTATUS[0]}" >"$out/demo.status"

# Anything the tests or the demo left on the pool.
zfs list -H -o name -t all -r "$POOL" >"$out/left-on-pool" 2>&1
zpool destroy -f "$POOL" || echo "zpool destroy $POOL failed" >>"$out/left-on-pool"
echo ok >"$out/finished"
