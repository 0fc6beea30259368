#!/usr/bin/env bash
# The ZFS tests on a real OpenZFS kernel module, from a fresh machine (as
# root): Debian's zfs-dkms (OpenZFS 2.1) in a small Debian VM under QEMU,
# instead of the zfs-fuse that scripts/test.sh and CI use.
#
#  1. installs what it needs (debootstrap, cpio, jq, QEMU);
#  2. builds the VM's root once (debootstrap bookworm, linux-image-amd64,
#     zfs-dkms: about 10 minutes) and keeps it under /var/cache/buildy/
#     (scripts/lib/openzfs-vm.sh: the recipe, the cache, the boot);
#  3. builds the test binaries of the crates whose integration tests use ZFS
#     (cargo test --no-run) and buildy for the demo (cargo build --release) on
#     the host;
#  4. boots the VM (software emulation: KVM here is nested and slow) with the
#     repository and cargo's target directory shared read-only at the same
#     paths, and runs there (scripts/lib/openzfs-guest.sh) every test binary
#     against a pool on a file in the guest's tmpfs, then scripts/demo.sh on
#     the same pool;
#  5. prints each binary's `test result:` line as cargo does and a final line;
#     exits 1 on any failure, a VM that did not finish (timeout:
#     BUILDY_OPENZFS_TIMEOUT seconds, default 10800:
#     emulation on a busy host is slow), or no test run.
#
# Nothing of the host's ZFS (zfs-fuse) is used. What it starts (QEMU) it
# stops, on failure and on signals too; its temporary directory goes.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

# The crates whose integration tests run on ZFS.
ZFS_TEST_PACKAGES=(buildy-cli)
POOL=buildy-openzfs
POOL_SIZE=4G
ARC_MAX=1073741824
timeout_s=${BUILDY_OPENZFS_TIMEOUT:-10800}

[ "$(id -u)" = 0 ] || {
    echo "test-openzfs.sh: needs root (debootstrap, chroot, QEMU's 9p passthrough)" >&2
    exit 2
}
command -v cargo >/dev/null || {
    echo "test-openzfs.sh: needs cargo (Rust)" >&2
    exit 2
}

# shellcheck source=lib/openzfs-vm.sh
source scripts/lib/openzfs-vm.sh

log() { printf '==> %s\n' "$*" >&2; }

run_dir=""
qemu_pid=""
cleanup() {
    local status=$?
    trap - EXIT INT TERM HUP
    if [ -n "$qemu_pid" ] && kill -0 "$qemu_pid" 2>/dev/null; then
        log "stopping the VM (pid $qemu_pid)"
        kill -TERM "$qemu_pid" 2>/dev/null || true
        wait "$qemu_pid" 2>/dev/null || true
    fi
    vm_build_cleanup
    [ -z "$run_dir" ] || rm -rf --one-file-system "$run_dir"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

start=$SECONDS
vm_install_host_tools debootstrap
vm_ensure_root
built_vm=$SECONDS

# The test binaries: `NAME<TAB>DIR<TAB>EXECUTABLE`, DIR the package's
# directory (cargo runs a test binary there).
log "cargo test --no-run -p ${ZFS_TEST_PACKAGES[*]} --tests"
pkg_args=()
for p in "${ZFS_TEST_PACKAGES[@]}"; do pkg_args+=(-p "$p"); done
tests=$(cargo test --no-run "${pkg_args[@]}" --tests --message-format=json-render-diagnostics |
    jq -r 'select(.reason == "compiler-artifact" and .profile.test and .executable != null)
        | [(.manifest_path | split("/") | .[-2]) + " " + .target.kind[0] + " " + .target.name,
           (.manifest_path | sub("/Cargo.toml$"; "")), .executable] | @tsv')
[ -n "$tests" ] || vm_die "cargo built no test binary for ${ZFS_TEST_PACKAGES[*]}"
log "cargo build --release -p buildy-cli -p imgmanifest-cli (for scripts/demo.sh)"
bins=$(cargo build --release -p buildy-cli -p imgmanifest-cli --message-format=json-render-diagnostics |
    jq -r 'select(.reason == "compiler-artifact" and .executable != null) | .executable')
demo_bin_dir=$(dirname "$(grep -m 1 '/buildy$' <<<"$bins")")
if [ ! -x "$demo_bin_dir/buildy" ] || [ ! -x "$demo_bin_dir/imgmanifest" ]; then
    vm_die "cargo build --release made no buildy and imgmanifest ($bins)"
fi
target_dir=$(cargo metadata --no-deps --format-version 1 | jq -r .target_directory)
built_tests=$SECONDS

# The run's share: what the guest reads (job, tests, shares, entry) and
# writes (logs, statuses).
run_dir=$(mktemp -d /tmp/buildy-openzfs.XXXXXX)
out=$run_dir/out
mkdir "$out"
{
    printf 'POOL=%q\nPOOL_SIZE=%q\nARC_MAX=%q\nREPO=%q\nDEMO_BIN_DIR=%q\n' \
        "$POOL" "$POOL_SIZE" "$ARC_MAX" "$repo" "$demo_bin_dir"
} >"$out/job"
printf '%s\n' "$tests" >"$out/tests"
{
    echo "out $out rw"
    echo "repo $repo ro"
    case $target_dir/ in
        "$repo"/*) ;;
        *) echo "target $target_dir ro" ;;
    esac
} >"$out/shares"
printf 'exec /bin/bash %q /run/buildy\n' "$repo/scripts/lib/openzfs-guest.sh" >"$out/entry"
vm_make_initrd "$run_dir/initrd.img"

log "booting the VM ($VM_KVER, $VM_CPUS CPUs, $VM_MEMORY, QEMU TCG; at most $timeout_s s)"
vm_boot "$timeout_s" "$run_dir/initrd.img" "$out/shares" &
qemu_pid=$!
boot_status=0
wait "$qemu_pid" || boot_status=$?
qemu_pid=""
ran_vm=$SECONDS

# The summary, as cargo prints it, then a line of its own.
failed=0
passed_total=0
failed_total=0
zfs_version=$(cat "$out/zfs-version" 2>/dev/null || echo "OpenZFS (unknown version)")
echo
log "summary: $zfs_version, Linux $VM_KVER in QEMU"
if [ "$boot_status" = 124 ]; then
    echo "the VM did not finish within $timeout_s s (BUILDY_OPENZFS_TIMEOUT)"
    failed=1
elif [ "$boot_status" != 0 ]; then
    echo "QEMU failed (exit status $boot_status)"
    failed=1
fi
if [ -f "$out/error" ]; then
    echo "in the VM: $(cat "$out/error")"
    failed=1
fi
n=0
while IFS=$'\t' read -r name _ exe; do
    n=$((n + 1))
    echo "     Running $name (${exe}) on OpenZFS"
    status=$(cat "$out/test-$n.status" 2>/dev/null || echo "")
    result=$(grep -a '^test result: ' "$out/test-$n.log" 2>/dev/null | tail -n 1 || true)
    if [ -z "$result" ]; then
        echo "no test result: ${status:+exit status $status}${status:-it did not run}"
        failed=1
        continue
    fi
    # Failing tests' names, as libtest lists them at the end.
    awk '/^failures:$/ {f++; next} f == 2 && /^    / {print} f == 2 && /^$/ {f++}' "$out/test-$n.log"
    echo "$result"
    p=$(sed -n 's/.* \([0-9]*\) passed;.*/\1/p' <<<"$result")
    f=$(sed -n 's/.* \([0-9]*\) failed;.*/\1/p' <<<"$result")
    passed_total=$((passed_total + ${p:-0}))
    failed_total=$((failed_total + ${f:-0}))
    [ "$status" = 0 ] || failed=1
done <"$out/tests"
demo_status=$(cat "$out/demo.status" 2>/dev/null || echo "")
if [ "$demo_status" = 0 ]; then
    echo "scripts/demo.sh on OpenZFS: ok"
else
    echo "scripts/demo.sh on OpenZFS: FAILED (${demo_status:+exit status $demo_status}${demo_status:-did not run})"
    failed=1
fi
if [ -s "$out/left-on-pool" ] && grep -qv "^$POOL\$" "$out/left-on-pool"; then
    echo "left on the pool after the tests and the demo:"
    sed 's/^/    /' "$out/left-on-pool"
fi
[ -f "$out/finished" ] || {
    echo "the VM stopped before it finished its job (see its console output above)"
    failed=1
}
[ $((passed_total + failed_total)) -gt 0 ] || {
    echo "no test ran"
    failed=1
}
times="VM $((built_vm - start)) s, builds $((built_tests - built_vm)) s, VM run $((ran_vm - built_tests)) s"
if [ "$failed" = 0 ]; then
    echo "test-openzfs: ok. $passed_total passed; 0 failed; in $n test binaries, and the demo ran, on $zfs_version ($((SECONDS - start)) s: $times)"
else
    echo "test-openzfs: FAILED. $passed_total passed; $failed_total failed; in $n test binaries on $zfs_version ($((SECONDS - start)) s: $times)"
    exit 1
fi
