#!/bin/sh
# SPDX-License-Identifier: ISC
# /init of the tiny guest's initramfs: load the modules listed in
# /lib/modules/load.order (dependencies first, resolved at build time from
# modules.dep), mount root= (ext4 by default) and switch_root into it.  On
# failure it says why on the console and drops to a shell there, which is
# what `labctl console` shows.
export PATH=/bin

fail() {
	echo "tiny-initramfs: $*" >/dev/console
	exec sh </dev/console >/dev/console 2>&1
}

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null

for m in $(cat /lib/modules/load.order); do
	insmod "/lib/modules/$m" 2>/dev/null
done

root=/dev/vda rootfstype=ext4 rootmode=rw init=/sbin/init
for arg in $(cat /proc/cmdline); do
	case $arg in
	root=*) root=${arg#root=} ;;
	rootfstype=*) rootfstype=${arg#rootfstype=} ;;
	init=*) init=${arg#init=} ;;
	ro) rootmode=ro ;;
	rw) rootmode=rw ;;
	esac
done

# virtio-blk probes asynchronously: give the disk up to 10 s to show up.
i=0
while [ ! -b "$root" ]; do
	i=$((i + 1))
	[ $i -gt 200 ] && fail "$root did not appear"
	sleep 0.05
done
mount -t "$rootfstype" -o "$rootmode" "$root" /newroot ||
	fail "cannot mount $root"
[ -x "/newroot$init" ] || [ -L "/newroot$init" ] ||
	fail "$init not found on $root"

mount --move /dev /newroot/dev 2>/dev/null || umount /dev
umount /sys
umount /proc
exec switch_root /newroot "$init"
