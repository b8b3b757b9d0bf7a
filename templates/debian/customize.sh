#!/bin/bash
# SPDX-License-Identifier: ISC
# templates/debian/customize.sh ROOT: make the freshly installed tree at
# ROOT a template that every VM cloned from it makes its own, the way a
# cloud image is: no machine-id, no SSH host keys, no random seed (each VM
# gets its own at first boot from systemd and cloud-init), cloud-init
# reading only the NoCloud seed labd attaches, and nothing that would
# wake 30 guests at once for work a lab does not need.  Run by build.sh.
set -euo pipefail

root=${1:?usage: customize.sh ROOT}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# --- identity: none, each VM makes its own --------------------------------------
# An empty machine-id (not a missing one) tells systemd "first boot: make
# one"; D-Bus reads the same file.
: >"$root/etc/machine-id"
rm -f "$root/var/lib/dbus/machine-id"
ln -s /etc/machine-id "$root/var/lib/dbus/machine-id"
rm -f "$root"/etc/ssh/ssh_host_*
rm -f "$root/var/lib/systemd/random-seed"
echo debian >"$root/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\tdebian\n::1\tlocalhost ip6-localhost ip6-loopback\n' \
	>"$root/etc/hosts"

# --- the disk ---------------------------------------------------------------------------
printf 'LABEL=labd-root\t/\text4\terrors=remount-ro\t0\t1\n' >"$root/etc/fstab"

# --- booting: GRUB and the kernel on the serial console ----------------------------------
# What update-grub writes after a kernel upgrade in the guest: the same
# menu as build.sh's first one (serial console, no wait).
cat >"$root/etc/default/grub" <<EOF
# labd's Debian template: QEMU's serial port is the console (labctl
# console), there is no screen to show a menu on.
GRUB_DEFAULT=0
GRUB_TIMEOUT=0
GRUB_DISTRIBUTOR="Debian"
GRUB_CMDLINE_LINUX_DEFAULT=""
GRUB_CMDLINE_LINUX="$(cat "$here/cmdline")"
GRUB_TERMINAL=serial
GRUB_SERIAL_COMMAND="serial --unit=0 --speed=115200"
GRUB_DISABLE_OS_PROBER=true
EOF

# --- cloud-init: the NoCloud seed, nothing else -----------------------------------------
# Without this it would look for a dozen clouds' metadata servers first,
# each a timeout under QEMU's user networking.
cat >"$root/etc/cloud/cloud.cfg.d/90-labd.cfg" <<'EOF'
# labd attaches a NoCloud seed (an ISO labelled cidata) to every VM.
datasource_list: [ NoCloud, None ]
# The student account comes from the seed; no "debian" default user.
users: []
# Host keys made at first boot, per VM.  No DSA (OpenSSH 9 refuses it);
# RSA stays for old clients.
ssh_genkeytypes: [rsa, ecdsa, ed25519]
# GRUB's install device is a debconf answer for grub-pc, which is not
# installed (grub-pc-bin is): its probe is seconds of the first boot.
grub_dpkg:
  enabled: false
EOF

# --- the network ----------------------------------------------------------------------------
# cloud-init writes systemd-networkd files from the seed (a static address
# in bridge mode, DHCP from QEMU in user mode); systemd-resolved serves DNS.
chroot "$root" systemctl enable systemd-networkd.service >/dev/null 2>&1
chroot "$root" systemctl enable systemd-resolved.service >/dev/null 2>&1 || true

# --- quiet guests: 30 of them boot at once on one host ----------------------------------
# apt's daily download and upgrade, man-db's index, the monthly e2scrub
# (and its clean-up at every boot: there is no LVM to scrub) and weekly
# fstrim run in every VM; a lab gains nothing from them but CPU load
# and, with internet off, failed connections.
for t in apt-daily.timer apt-daily-upgrade.timer man-db.timer e2scrub_all.timer \
	e2scrub_reap.service fstrim.timer; do
	chroot "$root" systemctl disable "$t" >/dev/null 2>&1 || true
	chroot "$root" systemctl mask "$t" >/dev/null 2>&1 || true
done
# Waiting for "the network is online" holds up the boot by minutes when a
# course has no internet; nothing in a lab needs it.
chroot "$root" systemctl mask systemd-networkd-wait-online.service >/dev/null 2>&1 || true

# --- instant clones: the golden point (labd/golden.c) --------------------------------------
# On a boot that labd starts with the fw_cfg flag opt/org.labd/golden the
# guest waits in labd-golden.service, before cloud-init and the network,
# to be saved and copied for the rest of the class; on any other boot the
# unit ends at once.  reseed gives each copy's kernel RNG the host's bytes.
install -d -m 0755 "$root/usr/lib/labd"
install -m 0755 "$here/labd-golden" "$root/usr/lib/labd/golden"
install -m 0644 "$here/labd-golden.service" "$root/etc/systemd/system/labd-golden.service"
cc -static -Os -s -o "$root/usr/lib/labd/reseed" "$here/../guest/reseed.c" ||
	{ echo "customize.sh: cannot build reseed.c (cc, libc6-dev)" >&2; exit 1; }
chroot "$root" systemctl enable labd-golden.service >/dev/null 2>&1

# A server: no graphical target to wait for.
chroot "$root" systemctl set-default multi-user.target >/dev/null 2>&1

# --- locale, time, login ----------------------------------------------------------------------
echo 'LANG=C.UTF-8' >"$root/etc/default/locale"
ln -sf /usr/share/zoneinfo/Etc/UTC "$root/etc/localtime"
echo 'Etc/UTC' >"$root/etc/timezone"
cat >"$root/etc/motd" <<'EOF'

This is a Debian 12 lab machine run by labd.  Your work lives on this VM's
own disk; your instructor can reset it to how it was at the start.

EOF

# --- smaller image ------------------------------------------------------------------------------
# The package lists come back with "apt update" (a course with internet).
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin \
	"$root"/var/cache/apt/archives/*.deb "$root"/var/log/*.log \
	"$root"/var/log/apt/* "$root"/tmp/* "$root"/var/tmp/*
mkdir -p "$root/var/lib/apt/lists/partial"
