#!/bin/sh
# SPDX-License-Identifier: ISC
# /init of labd's collector appliance (labd/offline.c boots it).  The
# stopped VM's disk is /dev/vda, read-only in QEMU; /dev/vdb holds the
# paths, checked by labd (no "..", no quotes or spaces): a first line
# "labd-collect 1", one path a line, then "end".  The ext4 filesystem (the
# whole disk, or the partition that holds /etc) is mounted read-only, the
# paths' globs are expanded under it, and "tar -cf -" of what exists goes
# to the virtio-serial port named labd.collect, with the same member names
# ("./home/...") as the online collect.  On the console, last: the lines
# of stderr between "labd-collect-stderr" and "labd-collect-status N"
# (N: tar's status; 3 when nothing named was there, 2 when the disk or
# the paths could not be read).  Then the kernel reboots, and QEMU
# (-no-reboot) exits: labd sees the port's end.
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
exec 2>/tmp/err

end() {
	echo "labd-collect-stderr" >/dev/console
	cat /tmp/err >/dev/console
	echo "labd-collect-status $1" >/dev/console
	sync
	reboot -f
	sleep 60
}

for m in $(cat /lib/modules/load.order); do
	insmod "/lib/modules/$m" 2>/dev/null
done
i=0
while [ ! -b /dev/vdb ] || [ ! -b /dev/vda ]; do
	i=$((i + 1))
	[ $i -gt 200 ] && { echo "the disks did not appear" >&2; end 2; }
	sleep 0.05
done
port=
i=0
while [ -z "$port" ]; do
	for p in /sys/class/virtio-ports/*; do
		[ "$(cat "$p/name" 2>/dev/null)" = labd.collect ] &&
			[ -c "/dev/${p##*/}" ] && port=/dev/${p##*/}
	done
	i=$((i + 1))
	[ -z "$port" ] && [ $i -gt 200 ] && { echo "no port labd.collect" >&2; end 2; }
	[ -z "$port" ] && sleep 0.05
done

# The whole disk first (the tiny template), then its partitions.
root= dirty=
for d in /dev/vda /dev/vda[0-9]*; do
	[ -b "$d" ] || continue
	# A VM stopped without a clean shutdown has a journal to replay,
	# which a read-only disk cannot take: read it as it is on disk.
	mount -t ext4 -o ro "$d" /mnt 2>/dev/null ||
	    { mount -t ext4 -o ro,noload "$d" /mnt 2>/dev/null && dirty=1; }
	if [ $? -eq 0 ]; then
		if [ -d /mnt/etc ]; then
			root=$d
			break
		fi
		umount /mnt
		dirty=
	fi
done
[ -n "$root" ] || { echo "no ext4 filesystem with /etc on the disk" >&2; end 2; }
[ -z "$dirty" ] ||
	echo "the VM was not shut down cleanly: its journal was not replayed" >&2

cd /mnt || end 2
set --
{
	read -r head
	[ "$head" = "labd-collect 1" ] || { echo "the paths disk is not labd's" >&2; end 2; }
	while read -r line; do
		[ "$line" = end ] && break
		# Unquoted on purpose: the glob is expanded, under /mnt.
		for f in .$line; do
			if [ -e "$f" ] || [ -h "$f" ]; then
				set -- "$@" "$f"
			else
				echo "no such file: ${f#.}" >&2
			fi
		done
	done
} </dev/vdb
[ $# -gt 0 ] || end 3
tar -cf - "$@" >"$port"
end $?
