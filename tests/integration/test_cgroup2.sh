#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# test_cgroup2.sh - labd's per-VM limits on a host with cgroup v2 only
# (issue 14, item 5).  The machines the tests run on mount memory, cpu,
# blkio and pids as cgroup v1 (test_limits.sh checks that path), and the
# controllers cannot be moved to v2 while the host's own processes sit in
# v1 groups.  So this boots the tiny template's kernel with an initramfs
# of busybox and cg2probe (tests/integration/cg2probe.c, labd's own
# confine and cglimit code) and cgroup v2 mounted alone, as on Debian 12
# or any systemd host of today, and relays the probe's checks: the
# controllers enabled down to labd's folder, a VM's folder with its
# limits, a process in it as QEMU joins it, the memory and process limits
# holding, the CPU shared by VM (one busy loop in one VM against eight in
# another, equal weights: about half each), and the folders removed.  No
# network: the guest has no NIC.  About 10 s under TCG.
set -u
. "$(dirname "$0")/lib.sh"

PROBE=$B/tests/cg2probe
KERNEL=$B/templates/tiny-vmlinuz
NCHECKS=22	# what cg2probe checks; a line missing is a failure
for f in "$PROBE" "$KERNEL" /bin/busybox; do
	[ -e "$f" ] || { not_ok "test_cgroup2 needs $f (make $B/tests/cg2probe template-tiny)"; finish test_cgroup2; exit 1; }
done
command -v cpio >/dev/null || { not_ok "test_cgroup2 needs cpio (make deps)"; finish test_cgroup2; exit 1; }

# The initramfs: busybox (static), the probe with its libraries, /init.
ird=$T/initrd
mkdir -p "$ird/bin" "$ird/dev" "$ird/proc" "$ird/sys" "$ird/tmp"
cp /bin/busybox "$ird/bin/busybox"
for a in sh mount cat uname reboot; do ln -s busybox "$ird/bin/$a"; done
install -m 0755 "$PROBE" "$ird/cg2probe"
for lib in $(ldd "$PROBE" | awk '/=> \// { print $3 } /^\t\/[^ ]+ \(/ { print $1 }'); do
	mkdir -p "$ird$(dirname "$lib")"
	cp -L "$lib" "$ird$lib"
done
cat >"$ird/init" <<'EOF'
#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
mount -t cgroup2 cgroup2 /sys/fs/cgroup
echo "cg2probe: kernel $(uname -r), cgroup v2 offers: $(cat /sys/fs/cgroup/cgroup.controllers)"
/cg2probe
echo "cg2probe: exit $?"
reboot -f
EOF
chmod 0755 "$ird/init"
(cd "$ird" && find . | cpio -o -H newc --quiet | gzip -1) >"$T/initrd.gz"

# The accelerator labd itself would choose (vmm/accel.c), asked of a
# private labd with no VM: QEMU's own "-accel kvm -accel tcg" takes KVM
# wherever /dev/kvm opens, and on hosts where KVM opens but cannot run a
# guest this one then hung until the timeout below.
write_ini 27300
if labd_start && accel=$("$LABCTL" status --json | jq -er .accel); then
	ok "labd chose the accelerator: $accel"
else
	not_ok "no accelerator from a private labd"
	accel=tcg
fi
kill "$LABD_PID" 2>/dev/null
case $accel in
kvm) accel=(-accel kvm -cpu host) ;;
*) accel=(-accel tcg) ;;
esac
# -no-reboot: the guest's reboot -f ends QEMU.
if timeout 300 qemu-system-x86_64 -nodefaults "${accel[@]}" -m 256 -smp 1 \
	-display none -no-reboot -nic none -serial "file:$T/console.log" \
	-kernel "$KERNEL" -initrd "$T/initrd.gz" \
	-append "console=ttyS0 rdinit=/init panic=-1 quiet no_timer_check cryptomgr.notests acpi=noirq" \
	>"$T/qemu.out" 2>&1; then
	ok "the guest ran the probe and ended"
else
	not_ok "the guest did not end within 300 s (or QEMU failed)"
	sed 's/^/#   /' "$T/qemu.out" | tail -5
fi
tr -d '\r' <"$T/console.log" >"$T/console.txt"
grep '^cg2probe: kernel' "$T/console.txt" | sed 's/^/# /'

# The probe's own checks, one for one.
n=0
while IFS= read -r line; do
	case $line in
	"ok "*) ok "guest: ${line#ok * - }" ;;
	"not ok "*) not_ok "guest: ${line#not ok * - }" ;;
	*) continue ;;
	esac
	n=$((n + 1))
done <"$T/console.txt"
check "the probe ran all its $NCHECKS checks (saw $n) and said so" \
	grep -qx "cg2probe: $NCHECKS checks, [0-9]* failed" "$T/console.txt"
[ "$n" -eq "$NCHECKS" ] || not_ok "the probe's checks: $n lines, not $NCHECKS"
check "the probe exited 0" grep -qx 'cg2probe: exit 0' "$T/console.txt"
if [ "$nfail" -ne 0 ]; then
	echo "# the guest's console:"
	sed 's/^/#   /' "$T/console.txt" | tail -40
fi

finish test_cgroup2
