#!/bin/busybox sh
# shellcheck shell=sh
# /init of the OpenZFS test VM's initramfs (scripts/lib/openzfs-vm.sh makes
# it): loads the virtio and 9p modules, mounts the cached Debian root
# read-only over 9p (tag `root`), assembles a writable tmpfs root from it
# (/usr bound read-only, the other directories copied, so the cache is never
# written), mounts the run's shares and switch_roots into the run's entry.
#
# The shares come from the run's own share (tag `out`, mounted at
# /run/buildy): its file `shares` lists `TAG PATH ro|rw`, each mounted at
# PATH; its file `entry` is run by bash as the new root's first process.
# On any failure it says so and powers off.

/bin/busybox --install -s /bin
export PATH=/bin

fail() {
    echo "openzfs-vm init: $*" >&2
    echo o >/proc/sysrq-trigger
    sleep 10
    exit 1
}

mount -t proc proc /proc || fail "mount /proc"
mount -t sysfs sysfs /sys || fail "mount /sys"
mount -t devtmpfs devtmpfs /dev || fail "mount /dev"
while read -r m; do
    insmod "/modules/$m" || fail "insmod $m"
done </modules/order

opts=trans=virtio,version=9p2000.L,msize=512000
mount -t 9p -o "$opts,cache=loose,ro" root /ro || fail "mount the 9p root"
mount -t tmpfs -o size=75%,mode=0755 rootfs /newroot || fail "mount the tmpfs root"
for e in /ro/* /ro/.[!.]*; do
    [ -e "$e" ] || [ -L "$e" ] || continue
    name=${e#/ro/}
    if [ -L "$e" ]; then
        cp -a "$e" "/newroot/$name"
    elif [ ! -d "$e" ]; then
        cp -a "$e" "/newroot/$name"
    else
        case $name in
            usr | boot)
                mkdir "/newroot/$name" || fail "mkdir /$name"
                mount --bind "$e" "/newroot/$name" || fail "bind /$name"
                ;;
            dev | proc | sys | run | tmp)
                mkdir -p "/newroot/$name"
                ;;
            *)
                cp -a "$e" "/newroot/$name" || fail "copy /$name"
                ;;
        esac
    fi
done
chmod 1777 /newroot/tmp
mkdir -p /newroot/run/buildy /newroot/var/tmp
chmod 1777 /newroot/var/tmp
mount -t 9p -o "$opts" out /newroot/run/buildy || fail "mount the run's share"
while read -r tag path mode; do
    [ "$tag" = out ] && continue
    mkdir -p "/newroot$path" || fail "mkdir $path"
    mount -t 9p -o "$opts,cache=loose,$mode" "$tag" "/newroot$path" || fail "mount $tag at $path"
done </newroot/run/buildy/shares

mount --move /dev /newroot/dev || fail "move /dev"
mount --move /proc /newroot/proc || fail "move /proc"
mount --move /sys /newroot/sys || fail "move /sys"
exec switch_root /newroot /bin/bash /run/buildy/entry
