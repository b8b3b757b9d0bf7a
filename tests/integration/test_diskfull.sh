#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# test_diskfull.sh - a real tiny guest whose disk fills the host: its VM
# folders sit on a 256 MiB tmpfs the test mounts (the database stays on
# /tmp), a filler file leaves 8 MiB, and the guest writes 32 MiB.  QEMU
# (werror=enospc) pauses it: labctl list shows "paused" with "disk full"
# and the vm.diskfull event is recorded; the filler goes, the admit watch
# continues the VM, the guest's write completes and exec answers again.
set -u
. "$(dirname "$0")/lib.sh"

MNT=$T/state/vms
umount_vms() {
	[ -n "${LABD_PID:-}" ] && kill -9 "$LABD_PID" 2>/dev/null
	kill_guests
	sleep 0.5
	kill_guests
	mountpoint -q "$MNT" && umount -l "$MNT"
	cleanup
}
trap umount_vms EXIT

write_ini 25300
printf 'id,name,email,ssh_key\nann,Ann,,\n' >"$T/roster.csv"
mkdir -p "$MNT"
if ! mount -t tmpfs -o size=256m tmpfs "$MNT"; then
	not_ok "a 256 MiB tmpfs can be mounted on $MNT (root needed)"
	finish test_diskfull; exit 1
fi
check "the VM folders are on the small tmpfs" mountpoint -q "$MNT"

check "labd starts on a private socket" labd_start
check "template import" "$LABCTL" template import tiny "$TINY"
check "course create" "$LABCTL" course create df --template tiny \
	--roster "$T/roster.csv" --overcommit
check "the VM becomes ready" "$LABCTL" wait --course df --timeout 400
# A disk on tmpfs is memory, charged to the VM's cgroup (shmem, which no
# reclaim frees): the default limit (guest RAM + 160 MiB) would let the
# kernel kill this QEMU for the 32 MiB its guest writes.  Room for it.
check "memory_max=1G for the disk on tmpfs" "$LABCTL" course set df memory_max=1G
check "restart: the limit applies" "$LABCTL" restart df-ann
check "exec answers before" "$LABCTL" exec df-ann -- 'echo up'

# Leave 8 MiB free on the tmpfs; the guest writes 32 MiB in the background.
avail=$(df -m --output=avail "$MNT" | tail -1 | tr -d ' ')
check "the filler fits ($avail MiB free)" \
	dd if=/dev/zero of="$MNT/filler" bs=1M count=$((avail - 8)) status=none
"$LABCTL" exec df-ann -- \
	'dd if=/dev/urandom of=/big bs=1M count=32 conv=fsync 2>/dev/null; echo wrote' \
	>"$T/dd.out" 2>&1 &
DD=$!

# state_is STATE: within 120 s, df-ann's state is STATE.
state_is() {
	for _ in $(seq 120); do
		[ "$(vm_field df-ann state)" = "$1" ] && return 0
		sleep 1
	done
	return 1
}
check "labctl list shows the VM paused" state_is paused
check "its detail is disk full" test "$(vm_field df-ann error)" = "disk full"
check "labctl list prints it" bash -c \
	"'$LABCTL' list | grep -q '^df-ann  *paused' &&
	 '$LABCTL' list | grep -q 'error: disk full'"
check "the vm.diskfull event is recorded" bash -c \
	"'$LABCTL' events --kind vm.diskfull | grep -q df-ann"
check "labd logged it with the free space" \
	grep -q "df-ann: paused by QEMU: disk full (.* MiB free" "$T/labd.log"
check_fails "exec does not take it for ready" \
	"$LABCTL" exec df-ann -- true

check "the filler goes" rm -f "$MNT/filler"
check "the VM is continued by itself and ready" state_is ready
check "the guest's write completed" wait "$DD"
check "the write said so" grep -qx wrote "$T/dd.out"
check "exec answers after, the file is all there" bash -c \
	"test \"\$('$LABCTL' exec df-ann -- 'wc -c </big')\" = 33554432"
check "the continue is recorded" bash -c \
	"'$LABCTL' events --kind vm.continue | grep -q df-ann"
finish test_diskfull
