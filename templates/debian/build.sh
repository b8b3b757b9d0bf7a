#!/bin/bash
# SPDX-License-Identifier: ISC
# Build the Debian 12 (bookworm) template from Debian's packages alone:
# mmdebstrap installs templates/debian/packages (and DEBIAN_EXTRA_PACKAGES)
# from the package mirror this machine's apt already uses, the tree is
# made into an image that boots by itself, as a cloud image does (an MBR,
# GRUB on the serial console, one ext4 partition), and it is written out
# as a compressed qcow2 with its template profile.  The image has labd's
# golden point for instant clones (labd-golden and its systemd unit,
# installed by customize.sh), so the profile says instant_clone = yes.
#
#   templates/debian/build.sh OUTDIR
#
# Writes OUTDIR/debian-12.qcow2 and OUTDIR/debian-12.ini (or DEBIAN_NAME's).
# Everything is assembled in a temporary folder beside them and renamed
# into place at the end, the profile last: an interrupted build leaves no
# template.
#
# No loop device, no mount: mke2fs -d fills the file system from the tree,
# sfdisk writes the partition table into the image file, and GRUB's boot
# sector and core image (grub-mkimage, run in the tree) are written at
# their places in the first MiB, as grub-install would.
#
# Settings (environment):
#   DEBIAN_NAME            the files' name, default debian-12 (another name
#                          for a template with other packages)
#   DEBIAN_EXTRA_PACKAGES  more packages, separated by spaces or commas
#   DEBIAN_DISK_GIB        the disk's virtual size, default 10
#   DEBIAN_MIRROR          an apt sources file or mirror URL; default: the
#                          Debian entries of this machine's apt sources
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
prog=templates/debian/build.sh
name=${DEBIAN_NAME:-debian-12}
suite=bookworm

die() { echo "$prog: $*" >&2; exit 1; }
say() { echo "$prog: $*" >&2; }

[ $# -eq 1 ] || die "usage: $prog OUTDIR"
[[ $name =~ ^[a-z0-9][a-z0-9._-]{0,62}$ ]] ||
	die "DEBIAN_NAME=$name: use a-z, 0-9, '.', '_' and '-', starting with a letter or digit"
[ "$(id -u)" -eq 0 ] || die "run as root (mmdebstrap installs packages into a tree owned by root)"
export PATH=$PATH:/sbin:/usr/sbin
mkdir -p "$1"
out=$(cd "$1" && pwd)
disk_gib=${DEBIAN_DISK_GIB:-10}
[[ $disk_gib =~ ^[0-9]+$ ]] && [ "$disk_gib" -ge 2 ] && [ "$disk_gib" -le 2000 ] ||
	die "DEBIAN_DISK_GIB=$disk_gib: want a whole number of GiB from 2 to 2000"

# --- tools ----------------------------------------------------------------
missing=()
for t in mmdebstrap:mmdebstrap mke2fs:e2fsprogs sfdisk:fdisk qemu-img:qemu-utils; do
	command -v "${t%%:*}" >/dev/null 2>&1 || missing+=("${t#*:}")
done
[ ${#missing[@]} -eq 0 ] || die "install the missing packages first: apt-get install ${missing[*]}"

# --- the package list ---------------------------------------------------------
pkgs=$(sed 's/#.*//' "$here/packages" | tr -s ' \t' '\n\n' | sed '/^$/d')
extra=$(printf '%s' "${DEBIAN_EXTRA_PACKAGES:-}" | tr ', \t' '\n\n\n' | sed '/^$/d')
for p in $extra; do
	# A Debian package name, nothing an option or a path could hide in.
	[[ $p =~ ^[a-z0-9][a-z0-9+.-]+$ ]] ||
		die "DEBIAN_EXTRA_PACKAGES: '$p' is not a Debian package name"
done
include=$(printf '%s\n' $pkgs $extra | awk '!seen[$0]++' | paste -sd, -)

# --- the mirror: the one this machine's apt already uses ------------------------
# Only Debian's own entries (a .sources or .list file that names the
# suite), never a third-party repository the host happens to have.
mirror=${DEBIAN_MIRROR:-}
if [ -z "$mirror" ]; then
	for f in /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list; do
		if [ -f "$f" ] && grep -qE "(^|[[:space:]])$suite([[:space:]]|$)" "$f"; then
			mirror=$f
			break
		fi
	done
fi
[ -n "$mirror" ] || die "no Debian $suite entry in /etc/apt/sources.list.d/debian.sources or /etc/apt/sources.list: set DEBIAN_MIRROR to a sources file or a mirror URL"
say "packages from $mirror"

tmp=$(mktemp -d "$out/.$name-build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
root=$tmp/root

# --- the tree ---------------------------------------------------------------------
# Documentation is left out but for the licences; manual pages stay (a
# course uses man), in English only.
# force-unsafe-io: dpkg does not fsync each file it unpacks (half of the
# build's time); an interrupted build is thrown away whole anyway.  It
# is taken out of the guest's dpkg.cfg.d below: a student's apt-get in
# the VM keeps dpkg's safe default.
start=$(date +%s)
mmdebstrap --quiet --variant=apt --format=directory \
	--dpkgopt=force-unsafe-io \
	--include="$include" \
	--dpkgopt='path-exclude=/usr/share/doc/*' \
	--dpkgopt='path-include=/usr/share/doc/*/copyright' \
	--dpkgopt='path-exclude=/usr/share/man/??/*' \
	--dpkgopt='path-exclude=/usr/share/man/??_*/*' \
	--dpkgopt='path-exclude=/usr/share/locale/*' \
	--dpkgopt='path-include=/usr/share/locale/locale.alias' \
	"$suite" "$root" "$mirror" >&2 ||
	die "mmdebstrap failed (is the mirror in $mirror reachable? apt-get update tells)"
say "installed $(chroot "$root" dpkg-query -W -f='.\n' | wc -l) packages in $(( $(date +%s) - start )) s"
sed -i '/^force-unsafe-io$/d' "$root/etc/dpkg/dpkg.cfg.d/99mmdebstrap"

kver=$(ls "$root/lib/modules" | sort -V | tail -n1)
[ -n "$kver" ] && [ -f "$root/boot/vmlinuz-$kver" ] && [ -f "$root/boot/initrd.img-$kver" ] ||
	die "the tree holds no kernel and initrd (linux-image-cloud-amd64)"

"$here/customize.sh" "$root"

# --- the disk -------------------------------------------------------------------------
# One partition from 1 MiB to the end; GRUB's core image lives in the gap
# before it, as on any BIOS disk with an MS-DOS label.
uuid=$(cat /proc/sys/kernel/random/uuid)
raw=$tmp/disk.raw
truncate -s "${disk_gib}G" "$raw"
printf 'label: dos\nstart=2048, type=83, bootable\n' | sfdisk --quiet "$raw" >/dev/null

mkdir -p "$root/boot/grub/i386-pc"
cp "$root"/usr/lib/grub/i386-pc/*.mod "$root"/usr/lib/grub/i386-pc/*.lst \
	"$root/boot/grub/i386-pc/"
# The first boot's menu; update-grub (a kernel upgrade in the guest) writes
# the next from /etc/default/grub, which customize.sh set to the same.
cat >"$root/boot/grub/grub.cfg" <<EOC
serial --unit=0 --speed=115200
terminal_input serial
terminal_output serial
set timeout=0
menuentry 'Debian GNU/Linux 12 (labd)' {
	insmod part_msdos
	insmod ext2
	search --no-floppy --fs-uuid --set=root $uuid
	linux /boot/vmlinuz-$kver root=UUID=$uuid ro $(cat "$here/cmdline")
	initrd /boot/initrd.img-$kver
}
EOC
chroot "$root" grub-mkimage -O i386-pc -o /boot/grub/i386-pc/core.img \
	-p '(hd0,msdos1)/boot/grub' biosdisk part_msdos ext2 search_fs_uuid
core=$root/boot/grub/i386-pc/core.img
[ "$(stat -c %s "$core")" -lt $(( (2048 - 1) * 512 )) ] || die "GRUB's core image does not fit before the partition"

part_bytes=$(( disk_gib * 1024 * 1024 * 1024 - 1024 * 1024 ))
mke2fs -q -F -t ext4 -L labd-root -U "$uuid" -d "$root" \
	-E offset=1048576,lazy_itable_init=0,lazy_journal_init=0,root_owner=0:0 \
	"$raw" "$(( part_bytes / 1024 ))k" >/dev/null
# boot.img's code (not the partition table after it), then the core image
# from sector 1: boot.img loads sector 1, which loads the rest.
dd if="$root/usr/lib/grub/i386-pc/boot.img" of="$raw" bs=440 count=1 conv=notrunc status=none
dd if="$core" of="$raw" bs=512 seek=1 conv=notrunc status=none

qemu-img convert -c -f raw -O qcow2 -o cluster_size=65536 "$raw" "$tmp/$name.qcow2"
rm -f "$raw"

cat >"$tmp/$name.ini" <<EOF2
; Debian 12 (bookworm), built by templates/debian/build.sh on $(date -u +%F)
; from: $(printf '%s ' $pkgs $extra | cut -c1-200)
[template]
disk    = $name.qcow2
memory  = 512M
vcpus   = 1
publish = ssh:22, http:80
; labd-golden.service (customize.sh): labd may start the VMs of a class
; from copies of one saved boot instead of booting each.
instant_clone = yes
EOF2

chmod 0644 "$tmp/$name.qcow2" "$tmp/$name.ini"
mv -f "$tmp/$name.qcow2" "$out/$name.qcow2"
mv -f "$tmp/$name.ini" "$out/$name.ini"
say "wrote $out/$name.{qcow2,ini} (Linux $kver, $(du -h "$out/$name.qcow2" | cut -f1)," \
	"${disk_gib} GiB virtual) in $(( $(date +%s) - start )) s"
