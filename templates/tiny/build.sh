#!/bin/bash
# SPDX-License-Identifier: ISC
# Build the "tiny" guest template: a busybox + dropbear root filesystem on a
# whole-disk ext4 (no partition table, root=/dev/vda), Debian's cloud kernel
# and a minimal initramfs that loads the virtio/isofs/button modules and
# switch_roots into /dev/vda.  Nothing is downloaded but Debian packages
# through apt (the kernel and openssh's sftp-server/scp), kept in
# OUTDIR/cache/ for the next run.
#
#   templates/tiny/build.sh OUTDIR
#
# Writes OUTDIR/tiny.qcow2, tiny-vmlinuz, tiny-initrd and tiny.ini.  All of it
# is assembled in a temporary folder and renamed into place at the end, so an
# interrupted build never leaves a half-written template behind.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/../lib/initramfs.sh"
prog=templates/tiny/build.sh

die() { echo "$prog: $*" >&2; exit 1; }
say() { echo "$prog: $*" >&2; }

[ $# -eq 1 ] || die "usage: $prog OUTDIR"
mkdir -p "$1"
out=$(cd "$1" && pwd)
cache=$out/cache
disk_mib=${TINY_DISK_MIB:-128}

# --- tools ----------------------------------------------------------------
# tool:package; the message names the Debian package to install.
need=(
	/bin/busybox:busybox-static
	/usr/sbin/dropbear:dropbear-bin
	/usr/bin/dropbearkey:dropbear-bin
	mke2fs:e2fsprogs
	debugfs:e2fsprogs
	cpio:cpio
	qemu-img:qemu-utils
	depmod:kmod
	modprobe:kmod
	dpkg-deb:dpkg
	apt-get:apt
	ldd:libc-bin
	ldconfig:libc-bin
	gzip:gzip
	cc:gcc
)
missing=()
for t in "${need[@]}"; do
	tool=${t%%:*} pkg=${t#*:}
	if [[ $tool == /* ]]; then
		[ -x "$tool" ] && continue
	else
		PATH=$PATH:/sbin:/usr/sbin command -v "$tool" >/dev/null 2>&1 && continue
	fi
	say "missing $tool (Debian package $pkg)"
	missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
	die "install the missing packages first: apt-get install $(printf '%s\n' "${missing[@]}" | sort -u | tr '\n' ' ')"
fi
export PATH=$PATH:/sbin:/usr/sbin
# busybox-static is the only busybox we accept: the guest has no libc for it.
applets=$(/bin/busybox --list)
if ! grep -qx switch_root <<<"$applets" || ldd /bin/busybox >/dev/null 2>&1; then
	die "/bin/busybox is not the static busybox (install busybox-static)"
fi

tmp=$(mktemp -d "$out/.tiny-build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$cache"

# --- Debian packages, cached ------------------------------------------------
# apt_fetch PKG: print the path of PKG's .deb in the cache, downloading the
# candidate version with `apt-get download` when it is not there yet.  A
# stale package list is refreshed once with `apt-get update` (a marker file:
# apt_fetch runs in a subshell).
apt_update_once() {
	[ -e "$tmp/apt-updated" ] && return 0
	: >"$tmp/apt-updated"
	say "$1, running apt-get update once"
	apt-get update >&2 || true
}
apt_fetch() {
	local pkg=$1 ver deb
	ver=$(apt-cache policy "$pkg" 2>/dev/null | awk '/Candidate:/ { print $2 }')
	if [ -n "$ver" ] && [ "$ver" != "(none)" ]; then
		deb=$cache/${pkg}_${ver//:/%3a}_amd64.deb
		[ -s "$deb" ] || deb=$cache/${pkg}_${ver#*:}_amd64.deb
		if [ -s "$deb" ]; then echo "$deb"; return 0; fi
	fi
	# Whatever the cache holds for pkg will do when apt cannot help.
	if ! (cd "$cache" && apt-get download "$pkg" >&2 2>"$tmp/apt.err"); then
		if [ ! -e "$tmp/apt-updated" ]; then
			apt_update_once "apt-get download $pkg failed"
			(cd "$cache" && apt-get download "$pkg" >&2 2>"$tmp/apt.err") || true
		fi
	fi
	deb=$(ls -t "$cache/${pkg}"_*.deb 2>/dev/null | head -n1 || true)
	if [ -z "$deb" ]; then
		cat "$tmp/apt.err" >&2 2>/dev/null || true
		return 1
	fi
	prune "$deb" "$cache/${pkg}"_*.deb
	echo "$deb"
}

# prune KEEP FILES...: drop the cached .debs that KEEP supersedes.
prune() {
	local keep=$1 f
	shift
	for f in "$@"; do
		[ "$f" = "$keep" ] || rm -f "$f"
	done
}

# The cloud kernel flavour: virtio drivers, no hardware zoo.
kpkg=${TINY_KERNEL_PKG:-}
if [ -z "$kpkg" ]; then
	kpkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null |
		awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
fi
if [ -z "$kpkg" ]; then
	# No package list: fall back to the newest kernel already cached.
	kdeb=$(ls -t "$cache"/linux-image-*-cloud-amd64_*.deb 2>/dev/null | head -n1 || true)
	if [ -z "$kdeb" ]; then
		apt_update_once "apt knows no linux-image-cloud-amd64"
		kpkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null |
			awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
		[ -n "$kpkg" ] || die "cannot resolve linux-image-cloud-amd64 with apt"
	fi
fi
if [ -n "$kpkg" ]; then
	kdeb=$(apt_fetch "$kpkg") || die "cannot download $kpkg with apt-get download"
fi
prune "$kdeb" "$cache"/linux-image-*-cloud-amd64_*.deb
say "kernel: $(basename "$kdeb")"
mkdir -p "$tmp/kernel"
dpkg-deb -x "$kdeb" "$tmp/kernel"
kver=$(ls "$tmp/kernel/lib/modules" | head -n1)
[ -n "$kver" ] && [ -f "$tmp/kernel/boot/vmlinuz-$kver" ] ||
	die "$(basename "$kdeb") holds no kernel image"

# sftp-server lets OpenSSH >= 9's scp (SFTP by default) copy files; scp
# itself serves `scp -O` (dropbear-bin ships no scp).  Both are optional.
sshdeb_sftp=$(apt_fetch openssh-sftp-server) || {
	say "warning: no openssh-sftp-server; scp will need -O"; sshdeb_sftp=; }
sshdeb_client=$(apt_fetch openssh-client) || {
	say "warning: no openssh-client; scp -O will not work"; sshdeb_client=; }

# --- root filesystem -------------------------------------------------------
root=$tmp/root
mkdir -p "$root"
(cd "$root" && mkdir -p bin sbin usr/bin usr/sbin usr/lib/labd \
	lib/x86_64-linux-gnu lib64 etc/init.d etc/dropbear etc/acpi/PWRF \
	dev proc sys run tmp mnt/seed root home var/lib/labd var/log var/spool)
ln -s ../run "$root/var/run"
ln -s ../tmp "$root/var/tmp"
chmod 1777 "$root/tmp"
chmod 0700 "$root/root"

cp /bin/busybox "$root/bin/busybox"
/bin/busybox --list-full | while read -r applet; do
	[ -e "$root/$applet" ] || [ -L "$root/$applet" ] ||
		ln -s /bin/busybox "$root/$applet"
done
# passwd must run as root to rewrite /etc/shadow; busybox drops privileges
# for every applet that does not need them, and only passwd points here.
cp /bin/busybox "$root/bin/busybox-suid"
chmod 4755 "$root/bin/busybox-suid"
ln -sf /bin/busybox-suid "$root/usr/bin/passwd"

# copy_elf FILE DEST: install a dynamically linked binary with the libraries
# ldd lists and the loader, at the same paths as on the host.
copy_elf() {
	local src=$1 dst=$2 lib
	install -m 0755 "$src" "$root$dst"
	for lib in $(ldd "$src" | awk '/=> \// { print $3 } /^\t\/[^ ]+ \(/ { print $1 }'); do
		[ -e "$root$lib" ] && continue
		mkdir -p "$root$(dirname "$lib")"
		cp -L "$lib" "$root$lib"
	done
}
copy_elf /usr/sbin/dropbear /usr/sbin/dropbear
copy_elf /usr/bin/dropbearkey /usr/bin/dropbearkey
if [ -n "$sshdeb_sftp" ]; then
	mkdir -p "$tmp/ssh" && dpkg-deb -x "$sshdeb_sftp" "$tmp/ssh"
	mkdir -p "$root/usr/lib/openssh"
	copy_elf "$tmp/ssh/usr/lib/openssh/sftp-server" /usr/lib/openssh/sftp-server
	ln -s openssh/sftp-server "$root/usr/lib/sftp-server"   # dropbear's path
fi
if [ -n "$sshdeb_client" ]; then
	mkdir -p "$tmp/sshc" && dpkg-deb -x "$sshdeb_client" "$tmp/sshc"
	rm -f "$root/usr/bin/scp"
	copy_elf "$tmp/sshc/usr/bin/scp" /usr/bin/scp
fi
ldconfig -r "$root" 2>/dev/null || true

# Our boot scripts (templates/tiny/rootfs/, flat so the Makefile sees them).
src=$here/rootfs
install -m 0644 "$src/inittab"  "$root/etc/inittab"
install -m 0755 "$src/rcS"      "$root/etc/init.d/rcS"
install -m 0755 "$src/rcK"      "$root/etc/init.d/rcK"
install -m 0755 "$src/seed.sh"  "$root/usr/lib/labd/seed.sh"
install -m 0644 "$src/seed.awk" "$root/usr/lib/labd/seed.awk"
install -m 0755 "$src/power.sh" "$root/etc/acpi/PWRF/00000080"
install -m 0644 "$src/profile"  "$root/etc/profile"
# The RNG's reseed for a VM started from the golden (templates/guest/reseed.c), static.
[ -e "$(cc -print-file-name=libc.a)" ] ||
	die "no static C library (install libc6-dev)"
cc -static -Os -s -o "$root/usr/lib/labd/reseed" "$here/../guest/reseed.c" ||
	die "cannot build reseed.c"

printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' \
	'daemon:x:1:1:daemon:/usr/sbin:/sbin/nologin' \
	'nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin' >"$root/etc/passwd"
printf '%s\n' 'root:x:0:' 'daemon:x:1:' 'tty:x:5:' 'users:x:100:' \
	'nogroup:x:65534:' >"$root/etc/group"
# root has no password: labd reaches it by key only.
printf '%s\n' 'root:*:19000:0:99999:7:::' 'daemon:*:19000:0:99999:7:::' \
	'nobody:*:19000:0:99999:7:::' >"$root/etc/shadow"
chmod 0644 "$root/etc/passwd" "$root/etc/group"
chmod 0600 "$root/etc/shadow"
printf '%s\n' /bin/sh /bin/ash >"$root/etc/shells"
echo tiny >"$root/etc/hostname"
printf '%s\n' '127.0.0.1	localhost' '127.0.1.1	tiny' '::1	localhost' >"$root/etc/hosts"
printf '%s\n' 'passwd: files' 'group: files' 'shadow: files' 'hosts: files dns' \
	>"$root/etc/nsswitch.conf"
echo 'nameserver 10.0.2.3' >"$root/etc/resolv.conf"
printf 'Welcome to the labd tiny guest (busybox + dropbear).\n' >"$root/etc/motd"
printf '/dev/vda / ext4 rw,relatime 0 1\n' >"$root/etc/fstab"
touch "$root/var/log/lastlog" "$root/var/log/wtmp"

# --- disk image --------------------------------------------------------------
# 4 KiB blocks (mke2fs would pick 1 KiB for so small a disk) and inode
# tables written now, so the guest's ext4lazyinit never dirties the overlay.
mke2fs -q -F -t ext4 -b 4096 -i 16384 -L tiny-root -d "$root" \
	-E lazy_itable_init=0,lazy_journal_init=0,root_owner=0:0 \
	"$tmp/root.img" "${disk_mib}M" >/dev/null
if [ "$(id -u)" -ne 0 ]; then
	# mke2fs -d copies the builder's uid; the guest wants root everywhere.
	(cd "$root" && find . -mindepth 1 | sed 's|^\.||' | while read -r p; do
		printf 'sif "%s" uid 0\nsif "%s" gid 0\n' "$p" "$p"
	done) | debugfs -w -f - "$tmp/root.img" >/dev/null 2>&1
fi
qemu-img convert -f raw -O qcow2 "$tmp/root.img" "$tmp/tiny.qcow2"
rm -f "$tmp/root.img"

# --- initramfs ---------------------------------------------------------------
# Only what it takes to reach /dev/vda, the seed ISO, the network, the
# power button and lab-check's virtio-serial port (virtio_console), and
# virtio_balloon: its free page reporting gives the memory the guest
# frees back to the host (labd's QEMU has the device).  ext4 and crc32c
# are built into the cloud kernel.
mods=(virtio_pci virtio_blk virtio_net virtio_rng virtio_balloon virtio_console
	isofs button evdev pvpanic-mmio)
kroot=$tmp/kernel
depmod -b "$kroot" "$kver"
ird=$tmp/initrd
mkdir -p "$ird/bin" "$ird/dev" "$ird/proc" "$ird/sys" "$ird/newroot" "$ird/lib/modules"
cp /bin/busybox "$ird/bin/busybox"
for a in sh mount umount insmod switch_root mkdir sleep cat echo; do
	ln -s busybox "$ird/bin/$a"
done
install -m 0755 "$here/initramfs-init.sh" "$ird/init"
initramfs_modules "$kroot" "$kver" "$ird" "${mods[@]}"
initramfs_pack "$ird" "$tmp/tiny-initrd"
cp "$kroot/boot/vmlinuz-$kver" "$tmp/tiny-vmlinuz"

cat >"$tmp/tiny.ini" <<'EOF'
[template]
disk       = tiny.qcow2
kernel     = tiny-vmlinuz
initrd     = tiny-initrd
append     = console=tty0 console=ttyS0 root=/dev/vda rw quiet no_timer_check init_on_free=1 cryptomgr.notests acpi=noirq
memory     = 128M
vcpus      = 1
publish    = ssh:22, http:80
ready_line = labd-ready
EOF

# --- into place ----------------------------------------------------------------
# The ini last: the Makefile's target, it marks a complete template.
chmod 0644 "$tmp/tiny.qcow2" "$tmp/tiny-initrd" "$tmp/tiny-vmlinuz" "$tmp/tiny.ini"
for f in tiny.qcow2 tiny-vmlinuz tiny-initrd tiny.ini; do
	mv -f "$tmp/$f" "$out/$f"
done
say "wrote $out/tiny.{qcow2,ini} tiny-vmlinuz tiny-initrd ($kver," \
	"$(du -h "$out/tiny.qcow2" | cut -f1) disk)"
