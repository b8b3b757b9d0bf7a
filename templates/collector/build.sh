#!/bin/bash
# SPDX-License-Identifier: ISC
# Build the collector appliance that labd boots to read a STOPPED VM's disk
# (labctl collect, exam end) without booting the VM and without mounting
# its filesystem on the host: the tiny template's Debian cloud kernel and
# an initramfs of static busybox with the virtio, ext4 and virtio-console
# modules, whose /init (collector-init.sh) mounts the guest's ext4
# read-only and writes a tar of the paths to a virtio-serial port.
#
#   templates/collector/build.sh OUTDIR
#
# Writes OUTDIR/collector-vmlinuz and OUTDIR/collector-initrd (renamed into
# place at the end).  The kernel package comes from OUTDIR/cache, where
# templates/tiny/build.sh keeps it, or from apt-get download.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/../lib/initramfs.sh"
prog=templates/collector/build.sh

die() { echo "$prog: $*" >&2; exit 1; }

[ $# -eq 1 ] || die "usage: $prog OUTDIR"
mkdir -p "$1"
out=$(cd "$1" && pwd)
cache=$out/cache
export PATH=$PATH:/sbin:/usr/sbin
for t in cpio:cpio depmod:kmod modprobe:kmod dpkg-deb:dpkg gzip:gzip; do
	command -v "${t%%:*}" >/dev/null 2>&1 ||
		die "missing ${t%%:*} (apt-get install ${t#*:})"
done
[ -x /bin/busybox ] && ! ldd /bin/busybox >/dev/null 2>&1 ||
	die "/bin/busybox is not the static busybox (apt-get install busybox-static)"

mkdir -p "$cache"
kdeb=$(ls -t "$cache"/linux-image-*-cloud-amd64_*.deb 2>/dev/null | head -n1 || true)
if [ -z "$kdeb" ]; then
	kpkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null |
		awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
	[ -n "$kpkg" ] || die "no kernel in $cache and apt knows no linux-image-cloud-amd64"
	(cd "$cache" && apt-get download "$kpkg" >&2) || die "cannot download $kpkg"
	kdeb=$(ls -t "$cache"/linux-image-*-cloud-amd64_*.deb | head -n1)
fi

tmp=$(mktemp -d "$out/.collector-build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
dpkg-deb -x "$kdeb" "$tmp/kernel"
kver=$(ls "$tmp/kernel/lib/modules" | head -n1)
[ -n "$kver" ] && [ -f "$tmp/kernel/boot/vmlinuz-$kver" ] ||
	die "$(basename "$kdeb") holds no kernel image"
depmod -b "$tmp/kernel" "$kver"

# ext4, crc32c and the partition tables are built into the cloud kernel.
mods=(virtio_pci virtio_blk virtio_console)
ird=$tmp/initrd
mkdir -p "$ird/bin" "$ird/dev" "$ird/proc" "$ird/sys" "$ird/mnt" \
	"$ird/tmp" "$ird/lib/modules"
cp /bin/busybox "$ird/bin/busybox"
for a in $(/bin/busybox --list | grep -vx busybox); do
	ln -s busybox "$ird/bin/$a"
done
install -m 0755 "$here/collector-init.sh" "$ird/init"
initramfs_modules "$tmp/kernel" "$kver" "$ird" "${mods[@]}"
initramfs_pack "$ird" "$tmp/collector-initrd"
cp "$tmp/kernel/boot/vmlinuz-$kver" "$tmp/collector-vmlinuz"
chmod 0644 "$tmp/collector-initrd" "$tmp/collector-vmlinuz"
mv -f "$tmp/collector-vmlinuz" "$out/collector-vmlinuz"
mv -f "$tmp/collector-initrd" "$out/collector-initrd"
echo "$prog: wrote $out/collector-vmlinuz, collector-initrd ($kver)" >&2
