# shellcheck shell=bash
# A small Debian VM with Debian's OpenZFS kernel module, for
# scripts/test-openzfs.sh. Source this file, then:
#
#   vm_install_host_tools      what the host needs (debootstrap, cpio, jq, QEMU)
#   vm_ensure_root             the VM's root, built once and cached; sets VM_ROOT, VM_KVER
#   vm_make_initrd FILE        a tiny busybox initramfs that boots into VM_ROOT over 9p
#   vm_boot OUT SHARE...       boots VM_ROOT under QEMU (software emulation)
#
# The root is a `debootstrap --variant=minbase` bookworm root with
# linux-image-amd64 and zfs-dkms (OpenZFS 2.1, contrib), the module built by
# dkms at build time, plus what buildy's tests and demo run. It is built under
# a temporary name in the cache directory and renamed into place when
# complete: a killed build leaves only a `.building-*` directory, which a
# later build removes. The cache key is VM_RECIPE and a hash of the recipe
# (suite, packages), so a changed recipe builds a new root.
#
# The guest never writes to the cached root: the initramfs mounts it
# read-only over 9p and assembles a tmpfs root from it (/usr bound
# read-only, /etc and /var copied), so every run starts from the same state.

# Bump when the way the root is built changes in a way the hash below cannot see.
VM_RECIPE=1
VM_SUITE=bookworm
VM_MIRROR=${BUILDY_DEBIAN_MIRROR:-http://deb.debian.org/debian}
VM_CACHE=${BUILDY_CACHE_DIR:-/var/cache/buildy}
# The kernel and OpenZFS (module built by dkms), and what buildy's tests and
# scripts/demo.sh run: rsync, a static busybox for zone roots, the
# decompressors the packaging tests check with, ssh-keygen for the signature
# tests, python3 for the demo's report, flock and timeout (util-linux, coreutils).
VM_PACKAGES=(
    linux-image-amd64 linux-headers-amd64 dkms build-essential zfs-dkms zfsutils-linux
    kmod util-linux coreutils procps
    rsync busybox-static gzip bzip2 xz-utils openssh-client python3
)
# The initramfs loads these (and what they depend on) to mount the root.
VM_INITRD_MODULES=(virtio_pci 9pnet_virtio 9p)
VM_MEMORY=${BUILDY_OPENZFS_VM_MEMORY:-8G}
VM_CPUS=${BUILDY_OPENZFS_VM_CPUS:-2}

VM_ROOT=""
VM_KVER=""
VM_BUILD_DIR=""
VM_QEMU=""
VM_QEMU_ENV=()
VM_QEMU_DATA=()
VM_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=apt.sh
source "$VM_HERE/apt.sh"

vm_log() { printf '==> %s\n' "$*" >&2; }
vm_die() {
    printf 'test-openzfs: %s\n' "$*" >&2
    exit 1
}

# The host's tools. QEMU comes from Debian's qemu-system-x86 unless one is on
# PATH. On a host with a newer qemu-utils (e.g. from backports), installing
# bookworm's qemu-system-x86 would remove it; then QEMU's packages are
# unpacked privately into the cache instead, and the host's packages stay as
# they were.
vm_install_host_tools() {
    APT_NO_RECOMMENDS=1 apt_need "" "$@" cpio jq
    if command -v qemu-system-x86_64 >/dev/null; then
        VM_QEMU=$(command -v qemu-system-x86_64)
        return 0
    fi
    local sim
    sim=$(apt-get install -s --no-install-recommends qemu-system-x86 2>/dev/null) || sim=""
    if [ -n "$sim" ] && ! grep -q '^Remv ' <<<"$sim"; then
        APT_NO_RECOMMENDS=1 apt_need "" qemu-system-x86
        VM_QEMU=$(command -v qemu-system-x86_64) || vm_die "qemu-system-x86 installed, but no qemu-system-x86_64"
        return 0
    fi
    vm_private_qemu
}

# QEMU and the libraries and firmware it needs that are not installed, from
# Debian's packages, unpacked under the cache (built under a temporary name,
# renamed into place when complete).
vm_private_qemu() {
    local sim version dest tmp pkgs have
    # One unpacked earlier: no apt-get needed.
    for have in "$VM_CACHE"/qemu-*/usr/bin/qemu-system-x86_64; do
        if [ -x "$have" ]; then
            vm_use_private_qemu "${have%/usr/bin/qemu-system-x86_64}"
            return 0
        fi
    done
    apt-get update -qq
    sim=$(apt-get install -s --no-install-recommends qemu-system-x86 2>/dev/null) ||
        vm_die "apt-get cannot install qemu-system-x86 here"
    version=$(awk '$1 == "Inst" && $2 == "qemu-system-x86" {gsub(/[()]/, "", $3); print $3}' <<<"$sim")
    [ -n "$version" ] || vm_die "no qemu-system-x86 version from apt-get"
    dest="$VM_CACHE/qemu-${version//:/_}"
    if [ ! -x "$dest/usr/bin/qemu-system-x86_64" ]; then
        vm_log "unpacking QEMU $version under $dest (installing qemu-system-x86 would remove the host's qemu-utils)"
        mkdir -p "$VM_CACHE"
        tmp=$(mktemp -d "$VM_CACHE/.building-$$-qemu-XXXXXX")
        VM_BUILD_DIR=$tmp
        mapfile -t pkgs < <(awk '$1 == "Inst" {print $2}' <<<"$sim")
        # As root: the unprivileged _apt cannot write into the cache directory.
        (cd "$tmp" && apt-get download -qq -o APT::Sandbox::User=root "${pkgs[@]}" >/dev/null) ||
            vm_die "apt-get download ${pkgs[*]} failed"
        local deb
        mkdir "$tmp/root"
        for deb in "$tmp"/*.deb; do
            dpkg-deb -x "$deb" "$tmp/root"
        done
        rm -rf "$dest"
        mv -T "$tmp/root" "$dest"
        rm -rf "$tmp"
        VM_BUILD_DIR=""
    fi
    vm_use_private_qemu "$dest"
}

vm_use_private_qemu() {
    local dest=$1
    VM_QEMU=$dest/usr/bin/qemu-system-x86_64
    VM_QEMU_ENV=("LD_LIBRARY_PATH=$dest/usr/lib/x86_64-linux-gnu:$dest/lib/x86_64-linux-gnu"
        "QEMU_MODULE_DIR=$dest/usr/lib/x86_64-linux-gnu/qemu")
    VM_QEMU_DATA=(-L "$dest/usr/share/qemu" -L "$dest/usr/share/seabios")
}

vm_recipe() {
    printf 'recipe %s\nsuite %s\ncomponents main,contrib\npackages %s\n' \
        "$VM_RECIPE" "$VM_SUITE" "${VM_PACKAGES[*]}"
}

# Mounts under DIR, deepest first.
vm_mounts_under() {
    awk -v d="$1" '$2 == d || index($2, d "/") == 1 {print $2}' /proc/mounts | LC_ALL=C sort -r
}

vm_unmount_under() {
    local m
    while read -r m; do
        umount "$m" 2>/dev/null || umount -l "$m" || vm_log "could not unmount $m"
    done < <(vm_mounts_under "$1")
}

# Undoes a build that did not finish: its mounts, then its directory. Called
# by the caller's EXIT trap; callable again.
vm_build_cleanup() {
    [ -n "$VM_BUILD_DIR" ] || return 0
    vm_unmount_under "$VM_BUILD_DIR"
    if [ -z "$(vm_mounts_under "$VM_BUILD_DIR")" ]; then
        rm -rf --one-file-system "$VM_BUILD_DIR"
    else
        vm_log "left $VM_BUILD_DIR: something is still mounted under it"
    fi
    VM_BUILD_DIR=""
}

# Removes `.building-PID-*` directories of builds whose process is gone.
vm_remove_dead_builds() {
    local d pid
    for d in "$VM_CACHE"/.building-*; do
        [ -d "$d" ] || continue
        pid=${d##*/.building-}
        pid=${pid%%-*}
        [ -d "/proc/$pid" ] && continue
        [ -z "$(vm_mounts_under "$d")" ] || continue
        vm_log "removing $d (left by a build that was killed)"
        rm -rf --one-file-system "$d"
    done
}

# The kernel version under ROOT/lib/modules: exactly one is expected.
vm_kernel_version() {
    local dirs
    mapfile -t dirs < <(find "$1/lib/modules" -mindepth 1 -maxdepth 1 -type d -printf '%f\n')
    [ ${#dirs[@]} -eq 1 ] || vm_die "expected one kernel under $1/lib/modules, found: ${dirs[*]:-none}"
    printf '%s\n' "${dirs[0]}"
}

vm_ensure_root() {
    local key dest
    key=$(vm_recipe | sha256sum | cut -c1-12)
    dest="$VM_CACHE/openzfs-vm-r$VM_RECIPE-$key"
    mkdir -p "$VM_CACHE"
    # One build at a time; a second run waits for the first and uses its root.
    exec {lock}>"$VM_CACHE/openzfs-vm.lock"
    flock -w 3600 "$lock" || vm_die "another build of the VM holds $VM_CACHE/openzfs-vm.lock"
    if [ ! -f "$dest/recipe" ]; then
        vm_remove_dead_builds
        vm_build_root "$dest"
    fi
    exec {lock}>&-
    VM_ROOT=$dest/root
    VM_KVER=$(vm_kernel_version "$VM_ROOT")
    vm_log "VM root $VM_ROOT (kernel $VM_KVER, $(cat "$dest/zfs-version"))"
}

vm_build_root() {
    local dest=$1 tmp root start=$SECONDS
    tmp=$(mktemp -d "$VM_CACHE/.building-$$-XXXXXX")
    VM_BUILD_DIR=$tmp
    root=$tmp/root
    vm_log "building the VM root in $tmp (debootstrap $VM_SUITE, then zfs-dkms: about 10 minutes)"
    debootstrap --variant=minbase --components=main,contrib "$VM_SUITE" "$root" "$VM_MIRROR" >"$tmp/debootstrap.log" 2>&1 ||
        vm_die "debootstrap failed: see the end of $tmp/debootstrap.log: $(tail -n 5 "$tmp/debootstrap.log" | tr '\n' ' ')"
    # No service starts inside the chroot.
    printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
    chmod +x "$root/usr/sbin/policy-rc.d"
    mount -t proc proc "$root/proc"
    mount -t sysfs sysfs "$root/sys"
    mount --bind /dev "$root/dev"
    mount --bind /dev/pts "$root/dev/pts"
    vm_log "installing ${VM_PACKAGES[*]} in the VM root (dkms builds the zfs module)"
    if ! chroot "$root" env DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 apt-get install -y -q --no-install-recommends \
        "${VM_PACKAGES[@]}" >"$tmp/apt.log" 2>&1; then
        vm_die "installing the VM's packages failed: $(tail -n 5 "$tmp/apt.log" | tr '\n' ' ')(log: $tmp/apt.log)"
    fi
    chroot "$root" apt-get clean
    # Unmounted before anything boots from it: exported over 9p they would
    # break the guest's /proc, and a write there could reach the host's.
    vm_unmount_under "$root"
    [ -z "$(vm_mounts_under "$root")" ] || vm_die "could not unmount everything under $root"
    rm -f "$root/usr/sbin/policy-rc.d"
    rm -rf "$root"/var/lib/apt/lists/* "$root"/var/lib/dkms/zfs/*/build

    local kver ko
    kver=$(vm_kernel_version "$root")
    ko=$(find "$root/lib/modules/$kver" -name 'zfs.ko*' | head -n 1)
    [ -n "$ko" ] || vm_die "dkms built no zfs module for $kver (see $tmp/apt.log)"
    [ -f "$root/boot/vmlinuz-$kver" ] || vm_die "no $root/boot/vmlinuz-$kver"
    [ -x "$root/bin/busybox" ] || vm_die "no static busybox in the VM root"
    # shellcheck disable=SC2016 # dpkg-query's own ${Version}
    chroot "$root" dpkg-query -W -f 'OpenZFS ${Version}\n' zfs-dkms >"$tmp/zfs-version"
    vm_recipe >"$tmp/recipe.tmp"
    mv "$tmp/recipe.tmp" "$tmp/recipe"
    rm -f "$tmp/debootstrap.log" "$tmp/apt.log"
    # Complete: into place in one rename.
    mv -T "$tmp" "$dest"
    VM_BUILD_DIR=""
    vm_log "VM root built in $((SECONDS - start)) s"
}

# vm_make_initrd FILE: busybox, the modules to mount a 9p root, and the init.
vm_make_initrd() {
    local file=$1 dir line mods=()
    dir=$(mktemp -d "${file}.d-XXXXXX")
    mkdir -p "$dir/bin" "$dir/modules" "$dir/proc" "$dir/sys" "$dir/dev" "$dir/ro" "$dir/newroot"
    cp "$VM_ROOT/bin/busybox" "$dir/bin/busybox"
    cp "$VM_HERE/openzfs-init.sh" "$dir/init"
    chmod +x "$dir/init"
    # `modprobe --show-depends M` prints `insmod PATH` lines, dependencies
    # first (one module per call: further words would be its parameters).
    local want
    for want in "${VM_INITRD_MODULES[@]}"; do
        while read -r line; do
            case $line in
                "insmod "*)
                    line=${line#insmod }
                    line=${line%% *}
                    [[ " ${mods[*]} " == *" $line "* ]] || mods+=("$line")
                    ;;
            esac
        done < <(chroot "$VM_ROOT" modprobe -S "$VM_KVER" --show-depends "$want")
    done
    local m n=0 name
    : >"$dir/modules/order"
    for m in "${mods[@]}"; do
        n=$((n + 1))
        name=$(printf '%02d-%s' "$n" "${m##*/}")
        case $m in
            *.xz) xz -dc "$VM_ROOT$m" >"$dir/modules/${name%.xz}" && name=${name%.xz} ;;
            *.zst) zstd -qdc "$VM_ROOT$m" >"$dir/modules/${name%.zst}" && name=${name%.zst} ;;
            *) cp "$VM_ROOT$m" "$dir/modules/$name" ;;
        esac
        echo "$name" >>"$dir/modules/order"
    done
    (cd "$dir" && find . | cpio -o -H newc --quiet) | gzip -1 >"$file"
    rm -rf "$dir"
}

# vm_boot TIMEOUT INITRD SHARES_FILE: boots the VM; SHARES_FILE lists
# `TAG PATH ro|rw` lines, the shares QEMU exports (the init mounts them).
# Output is the guest's serial console. Run it in the background: it becomes
# `timeout` (which passes a TERM on to QEMU), and exits with QEMU's status, or
# 124 when the time ran out.
vm_boot() {
    local timeout=$1 initrd=$2 shares=$3 tag path mode ro args=()
    while read -r tag path mode; do
        ro=""
        [ "$mode" != ro ] || ro=,readonly=on
        args+=(-virtfs "local,path=$path,mount_tag=$tag,security_model=passthrough,id=$tag$ro")
    done <"$shares"
    exec env "${VM_QEMU_ENV[@]}" timeout --kill-after=30 "$timeout" "$VM_QEMU" "${VM_QEMU_DATA[@]}" \
        -accel tcg -cpu max -machine q35 -smp "$VM_CPUS" -m "$VM_MEMORY" \
        -nodefaults -no-reboot -display none -serial stdio -monitor none \
        -kernel "$VM_ROOT/boot/vmlinuz-$VM_KVER" -initrd "$initrd" \
        -append "console=ttyS0 quiet panic=-1 rdinit=/init" \
        -virtfs "local,path=$VM_ROOT,mount_tag=root,security_model=passthrough,id=root,readonly=on" \
        "${args[@]}" </dev/null
}
