# shellcheck shell=bash
# A real ZFS for scripts and tests on machines without a ZFS kernel module:
# Debian's zfs-fuse (a complete userland ZFS, pool version 23, run as root
# through /dev/fuse), a file-backed pool per run. Source this file, then call
# `zfs_setup NAME SIZE`; at exit its own pool is destroyed and its file
# removed, and the zfs-fuse daemon is stopped only if this script started it
# and no other pool is left on it. Other pools on a shared daemon are never
# touched.
#
# zfs-fuse's quirks this relies on: after an unmount it reports a dataset
# "busy" for a moment, and the same command succeeds when retried; concurrent
# mounts can deadlock it, so every mount and unmount here holds buildy's
# mount lock; it refuses to start while its pid file exists.

# shellcheck source=apt.sh
source "$(dirname "${BASH_SOURCE[0]}")/apt.sh"

ZFS_POOL=""
ZFS_POOL_FILE=""
ZFS_STARTED_DAEMON=0
ZFS_DAEMON_PID=""
ZFS_FUSE=/usr/sbin/zfs-fuse
# The pid file of a daemon this library starts; the system service's is not
# ours and is never removed.
ZFS_PIDFILE=/run/buildy-zfs-fuse.pid
ZFS_SERVICE_PIDFILE=/var/run/zfs-fuse.pid
ZFS_MOUNT_LOCK=/var/run/buildy-zfs-mount.lock
ZFS_CALLER_EXIT_TRAP=""

zfs_log() { printf '==> %s\n' "$*" >&2; }

# zfs ARGS under buildy's mount lock: zfs-fuse deadlocks on concurrent
# mounts, and buildy serializes its mounting operations on this lock.
zfs_locked() { flock "$ZFS_MOUNT_LOCK" zfs "$@"; }

# CMD ARGS under the mount lock, both bounded, so that a hung zfs-fuse cannot
# hang the undo: 1 if the lock was not had in 60 s, 124 if CMD timed out.
zfs_locked_bounded() { flock -w 60 "$ZFS_MOUNT_LOCK" timeout 60 "$@"; }

# Whether PID is a running zfs-fuse.
zfs_is_daemon() { [ -n "$1" ] && [ "$(cat "/proc/$1/comm" 2>/dev/null)" = zfs-fuse ]; }

zfs_install() {
    local zfs_fuse=()
    # A ZFS that answers already (a kernel module's, as in
    # scripts/test-openzfs.sh's VM, or a running zfs-fuse) needs no zfs-fuse.
    command -v zfs-fuse >/dev/null || zpool list >/dev/null 2>&1 || zfs_fuse=(zfs-fuse)
    apt_need "" "${zfs_fuse[@]}" "$@"
}

zfs_start_daemon() {
    # A daemon that answers is someone else's (or an earlier run's): use it.
    zpool list >/dev/null 2>&1 && return 0
    zfs_log "starting zfs-fuse"
    [ -e /dev/fuse ] || { echo "no /dev/fuse: zfs-fuse cannot run here" >&2; return 1; }
    local try err
    err=$(mktemp)
    for try in 1 2 3 4 5; do
        # One may have come up meanwhile.
        if zpool list >/dev/null 2>&1; then
            rm -f "$err"
            return 0
        fi
        # Our pid file with no live zfs-fuse behind it, and no daemon
        # answering: left by a daemon of ours that died.
        if [ -f "$ZFS_PIDFILE" ] && ! zfs_is_daemon "$(cat "$ZFS_PIDFILE" 2>/dev/null)"; then
            rm -f "$ZFS_PIDFILE"
        fi
        if "$ZFS_FUSE" --pidfile "$ZFS_PIDFILE" 2>"$err"; then
            ZFS_STARTED_DAEMON=1
            break
        fi
        # A daemon that is still shutting down makes a new one fail: retry.
        [ "$try" = 5 ] || sleep 1
    done
    if [ "$ZFS_STARTED_DAEMON" != 1 ]; then
        # zfs-fuse says "FILE already exists; aborting." for a pid file.
        local exists holder
        exists=$(sed -n 's/^\(.*\) already exists; aborting\.$/\1/p' "$err" | head -n 1)
        holder=$(cat "$exists" 2>/dev/null) || holder=""
        if [ -n "$exists" ] && zfs_is_daemon "$holder"; then
            echo "zfs-fuse will not start: $exists names zfs-fuse $holder, which does not answer" >&2
        elif [ -n "$exists" ]; then
            echo "zfs-fuse will not start: $exists exists, but no zfs-fuse answers; if none runs, remove $exists" >&2
        elif [ -e "$ZFS_SERVICE_PIDFILE" ]; then
            echo "zfs-fuse failed to start 5 times ($(tr '\n' ' ' <"$err")); $ZFS_SERVICE_PIDFILE exists but no zfs-fuse answers: if none runs, remove it" >&2
        else
            echo "zfs-fuse failed to start 5 times ($(tr '\n' ' ' <"$err")); see syslog" >&2
        fi
        rm -f "$err"
        return 1
    fi
    rm -f "$err"
    for _ in $(seq 1 100); do
        if zpool list >/dev/null 2>&1; then
            # Written by the daemon after it forked: there by now.
            ZFS_DAEMON_PID=$(cat "$ZFS_PIDFILE" 2>/dev/null) || true
            return 0
        fi
        sleep 0.1
    done
    echo "zfs-fuse did not answer within 10 s" >&2
    return 1
}

# zfs_setup NAME SIZE: a fresh pool NAME-<pid> on a SIZE file; sets ZFS_POOL.
# Undone at exit by an EXIT trap that also runs the caller's earlier one.
zfs_setup() {
    local name=$1 size=$2
    zfs_install "${ZFS_EXTRA_PACKAGES[@]}"
    zfs_start_daemon
    ZFS_POOL="$name-$$"
    ZFS_POOL_FILE="/var/tmp/$ZFS_POOL.img"
    local previous
    previous=$(trap -p EXIT)
    if [ -n "$previous" ]; then
        # `trap -p` prints `trap -- 'CODE' EXIT`, quoted for the shell.
        eval "set -- $previous"
        [ "$3" = zfs_on_exit ] || ZFS_CALLER_EXIT_TRAP=$3
    fi
    trap zfs_on_exit EXIT
    truncate -s "$size" "$ZFS_POOL_FILE"
    # cachefile=none: a pool that outlives a killed daemon is not
    # re-imported (as FAULTED, its file gone) by the next one. -m none:
    # nothing of it is mounted unless a test mounts it.
    zpool create -o cachefile=none -m none "$ZFS_POOL" "$ZFS_POOL_FILE"
    zfs_log "pool $ZFS_POOL on $ZFS_POOL_FILE ($size)"
}

zfs_on_exit() {
    local status=$?
    zfs_teardown
    [ -z "$ZFS_CALLER_EXIT_TRAP" ] || zfs_eval_with_status "$status" "$ZFS_CALLER_EXIT_TRAP"
}

# zfs_eval_with_status N CODE: CODE, seeing N as $? (a trap reads the exit
# status there).
zfs_eval_with_status() {
    if [ "$1" = 0 ]; then
        eval "$2"
    else
        zfs_return "$1" || eval "$2"
    fi
}
zfs_return() { return "$1"; }

# Undoes what zfs_setup made. Every step handles its own failure, so that the
# rest is still undone and the caller's errexit is left as it was; callable
# again (the EXIT trap after an explicit call).
zfs_teardown() {
    if [ -n "$ZFS_POOL" ] && timeout 10 zpool list "$ZFS_POOL" >/dev/null 2>&1; then
        zfs_destroy_own_pool "$ZFS_POOL"
    fi
    zfs_stop_own_daemon
    # Mounts of this pool left by a daemon that died or hung.
    if [ -n "$ZFS_POOL" ]; then
        local m
        while read -r m; do
            zfs_locked_bounded umount -l "$m" || zfs_log "could not unmount $m"
        done < <(awk -v p="$ZFS_POOL" '$3 == "fuse.zfs" && ($1 == p || index($1, p "/") == 1) {print $2}' /proc/mounts |
            LC_ALL=C sort -r)
    fi
    if [ -n "$ZFS_POOL_FILE" ]; then
        rm -f "$ZFS_POOL_FILE" || zfs_log "could not remove $ZFS_POOL_FILE"
    fi
    ZFS_POOL=""
    ZFS_POOL_FILE=""
    return 0
}

# zfs_destroy_own_pool POOL: unmounts POOL's own mounted datasets, deepest
# first, then destroys POOL; nothing outside POOL is touched.
zfs_destroy_own_pool() {
    local pool=$1 try ds mounted status
    for try in 1 2 3 4 5 6 7 8 9 10; do
        # In byte order a child sorts after its parent: reversed, children first.
        while IFS=$'\t' read -r ds mounted; do
            if [ "$mounted" = yes ]; then
                zfs_locked_bounded zfs unmount "$ds" >/dev/null 2>&1 || true
            fi
        done < <(timeout 60 zfs list -H -o name,mounted -r "$pool" 2>/dev/null | LC_ALL=C sort -r)
        status=0
        zfs_locked_bounded zpool destroy -f "$pool" 2>/dev/null || status=$?
        [ "$status" = 0 ] && return 0
        # A destroy that timed out: zfs-fuse is hung, retrying cannot help.
        [ "$status" = 124 ] && break
        [ "$try" = 10 ] || sleep 0.5
    done
    if timeout 10 zpool list "$pool" >/dev/null 2>&1; then
        zfs_log "could not destroy pool $pool"
    fi
    return 0
}

# Stops the zfs-fuse this script started, unless someone else's pool is on it
# now; its pid file goes with it.
zfs_stop_own_daemon() {
    [ "$ZFS_STARTED_DAEMON" = 1 ] || return 0
    ZFS_STARTED_DAEMON=0
    local pid=${ZFS_DAEMON_PID:-$(cat "$ZFS_PIDFILE" 2>/dev/null || true)} others
    # Our own pool is here only if it could not be destroyed: stopping the
    # daemon is then the way to be rid of it.
    others=$(timeout 10 zpool list -H -o name 2>/dev/null |
        grep -vxF -e "${ZFS_POOL:-}" -e "no pools available") || others=""
    if [ -n "$others" ]; then
        zfs_log "leaving the zfs-fuse this script started running: it now holds $(echo "$others" | tr '\n' ' ')"
        return 0
    fi
    if zfs_is_daemon "$pid"; then
        zfs_log "stopping the zfs-fuse this script started (pid $pid)"
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 1 50); do
            zfs_is_daemon "$pid" || break
            sleep 0.1
        done
        if zfs_is_daemon "$pid"; then
            zfs_log "zfs-fuse $pid did not stop within 5 s: killing it"
            kill -9 "$pid" 2>/dev/null || true
        fi
    fi
    # Only while it still names our daemon: another run may have started one.
    if [ "$(cat "$ZFS_PIDFILE" 2>/dev/null)" = "$pid" ] && ! zfs_is_daemon "$pid"; then
        rm -f "$ZFS_PIDFILE"
    fi
    return 0
}
