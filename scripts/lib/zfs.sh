# shellcheck shell=bash
# A real ZFS for scripts and tests on machines without a ZFS kernel module:
# Debian's zfs-fuse, a file-backed pool per run. Source this file, then call
# `zfs_setup NAME SIZE`; everything it made is undone at exit, and the
# zfs-fuse daemon is stopped only if this script started it.
#
# Facts: shared/reference/zfs-on-linux-for-tests.md.

ZFS_POOL=""
ZFS_POOL_FILE=""
ZFS_STARTED_DAEMON=0

zfs_log() { printf '==> %s\n' "$*" >&2; }

# zfs ARGS under buildy's mount lock: zfs-fuse deadlocks on concurrent
# mounts, and buildy serializes its mounting operations on this lock.
zfs_locked() { flock /var/run/buildy-zfs-mount.lock zfs "$@"; }

zfs_install() {
    local missing=()
    command -v zfs-fuse >/dev/null || missing+=(zfs-fuse)
    for pkg in "$@"; do
        dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        zfs_log "installing ${missing[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
}

zfs_start_daemon() {
    # A daemon that answers is someone else's (or an earlier run's): use it.
    if ! zpool list >/dev/null 2>&1; then
        zfs_log "starting zfs-fuse"
        [ -e /dev/fuse ] || { echo "no /dev/fuse: zfs-fuse cannot run here" >&2; return 1; }
        # No daemon answers, so any pid file is stale (zfs-fuse refuses to
        # start while its pid file exists).
        rm -f /run/buildy-zfs-fuse.pid /var/run/zfs-fuse.pid
        # A daemon that is still shutting down makes a new one fail: retry.
        local try started=0
        for try in 1 2 3 4 5; do
            if /usr/sbin/zfs-fuse --pidfile /run/buildy-zfs-fuse.pid; then
                started=1
                break
            fi
            sleep 1
        done
        [ "$started" = 1 ] || { echo "zfs-fuse failed to start 5 times; see syslog" >&2; return 1; }
        ZFS_STARTED_DAEMON=1
    fi
    local i
    for i in $(seq 1 100); do
        zpool list >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "zfs-fuse did not answer within 10 s" >&2
    return 1
}

# zfs_setup NAME SIZE: a fresh pool NAME-<pid> on a SIZE file; sets ZFS_POOL.
zfs_setup() {
    local name=$1 size=$2
    zfs_install "${ZFS_EXTRA_PACKAGES[@]}"
    zfs_start_daemon
    ZFS_POOL="$name-$$"
    ZFS_POOL_FILE="/var/tmp/$ZFS_POOL.img"
    trap zfs_teardown EXIT
    truncate -s "$size" "$ZFS_POOL_FILE"
    # cachefile=none: a pool that outlives a killed daemon is not
    # re-imported (as FAULTED, its file gone) by the next one.
    zpool create -o cachefile=none -m none "$ZFS_POOL" "$ZFS_POOL_FILE"
    zfs_log "pool $ZFS_POOL on $ZFS_POOL_FILE ($size)"
}

zfs_teardown() {
    set +e # undo as much as possible, whatever fails
    if [ -n "$ZFS_POOL" ] && zpool list "$ZFS_POOL" >/dev/null 2>&1; then
        # zfs-fuse reports "busy" for a moment after unmounts: retry. A
        # deadlocked zfs-fuse would hang these forever: time them out.
        local i
        for i in 1 2 3 4 5 6 7 8 9 10; do
            timeout 60 zfs unmount -a >/dev/null 2>&1
            timeout 60 zpool destroy -f "$ZFS_POOL" 2>/dev/null && break
            [ $? = 124 ] && break
            sleep 0.5
        done
        timeout 10 zpool list "$ZFS_POOL" >/dev/null 2>&1 && zfs_log "could not destroy pool $ZFS_POOL"
    fi
    if [ "$ZFS_STARTED_DAEMON" = 1 ]; then
        zfs_log "stopping the zfs-fuse this script started"
        if [ -f /run/buildy-zfs-fuse.pid ]; then
            local pid
            pid=$(cat /run/buildy-zfs-fuse.pid)
            kill "$pid" 2>/dev/null
            for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
            kill -9 "$pid" 2>/dev/null
        fi
        rm -f /run/buildy-zfs-fuse.pid
    fi
    # Mounts of this pool left by a daemon that died or hung.
    if [ -n "$ZFS_POOL" ]; then
        awk -v p="$ZFS_POOL" '$3 == "fuse.zfs" && ($1 == p || index($1, p "/") == 1) {print $2}' /proc/mounts |
            sort -r | while read -r m; do umount -l "$m"; done
    fi
    [ -n "$ZFS_POOL_FILE" ] && rm -f "$ZFS_POOL_FILE"
}
