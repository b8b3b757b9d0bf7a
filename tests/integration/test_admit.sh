#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# test_admit.sh - a course that does not fit the host is refused with the
# numbers, and --overcommit creates it all the same (issue 14, item 4);
# as root labd turns KSM on and sets its pace (ksm_pages_to_scan);
# labctl status shows the host's room, and on a state_dir of 512 MiB
# labd, labctl status and labtui warn that the disk is low.  The host's memory is whatever
# this machine has: a template of 64 GiB a guest does not fit any test
# machine, four of them fit no disk this test would find either.
set -u
. "$(dirname "$0")/lib.sh"

write_ini 25600
sed 's/^memory .*/memory = 64G/' "$TINY" >"$T/big.ini"
D=$(dirname "$TINY")
sed -i "s|^disk .*|disk = $D/tiny.qcow2|; s|^kernel .*|kernel = $D/tiny-vmlinuz|; s|^initrd .*|initrd = $D/tiny-initrd|" \
	"$T/big.ini"
printf 'id,name\nann,Ann\n' >"$T/one.csv"
{ echo id,name; for i in $(seq 300); do echo "s$i,S $i"; done; } >"$T/many.csv"
mem_avail=$(awk '$1 == "MemAvailable:" { print int($2 / 1024) }' /proc/meminfo)

# KSM's pace is the host's: the kernel's 100 first, so that labd's 1000
# is seen to be labd's doing (labd runs as root here: ksm = auto is on).
echo 100 >/sys/kernel/mm/ksm/pages_to_scan
check "labd starts" labd_start
check "labd turned KSM on" test "$(cat /sys/kernel/mm/ksm/run)" = 1
check "... at its pace: 1000 pages each 20 ms" \
	test "$(cat /sys/kernel/mm/ksm/pages_to_scan)" = 1000
check "... and says so" grep -q 'KSM on: .* 1000 pages looked at each 20 ms' \
	"$T/labd.log"
check "labctl status shows the memory" \
	bash -c "'$LABCTL' status | grep -E '^memory +[0-9]+ MiB available of [0-9]+'"
check "and the disk and QEMU's cost a VM" \
	bash -c "'$LABCTL' status | grep -E '^disk +[0-9]+ MiB free' &&
	'$LABCTL' status | grep -E '^qemu per vm +128 MiB beyond guest RAM \(estimated\)'"
check "status --json has the host's numbers" bash -c \
	"'$LABCTL' status --json | jq -e '.host.memory_available_mb > 0 and .host.disk_free_mb > 0 and (.host.warnings | length) == 0'"
ksm_agrees() {
	local want got
	want=$(( ($(cat /sys/kernel/mm/ksm/pages_sharing) +
		$(cat /sys/kernel/mm/ksm/ksm_zero_pages 2>/dev/null || echo 0)) *
		$(getconf PAGESIZE) / 1048576 ))
	got=$("$LABCTL" status --json | jq .host.ksm_saved_mb)
	echo "# KSM saves $got MiB (sysfs: $want)"
	[ "$got" -ge 0 ] && [ $((got - want)) -le 64 ] && [ $((want - got)) -le 64 ]
}
check "status tells what KSM saves, as the kernel counts it" ksm_agrees
check "template import big (64 GiB of RAM)" "$LABCTL" template import big "$T/big.ini"
check_fails "a course of one 64 GiB guest does not fit ($mem_avail MiB available)" \
	"$LABCTL" course create big --template big --roster "$T/one.csv"
cp "$T/last.out" "$T/refusal"
check "the refusal gives the numbers" grep -Eq \
	"1 VMs need about [0-9]+ MiB of memory \(65536 MiB of guest RAM and 128 MiB of QEMU's own each, estimated\); the host has [0-9]+ MiB available and keeps [0-9]+ MiB free, so 0 fit" \
	"$T/refusal"
check "and says what to do" grep -q -- "--overcommit" "$T/refusal"
check "nothing was created" bash -c \
	"[ \"\$('$LABCTL' course list --json | jq length)\" = 0 ] && [ \"\$('$LABCTL' list --json | jq length)\" = 0 ]"
check "template import tiny" "$LABCTL" template import tiny "$TINY"
check_fails "300 tiny guests do not fit either" \
	"$LABCTL" course create many --template tiny --roster "$T/many.csv"
fit=$(sed -n 's/.* so \([0-9]*\) fit.*/\1/p' "$T/last.out")
grep -o '300 VMs need about [0-9]* MiB' "$T/last.out" | sed 's/^/# /'
echo "# 300 tiny: refused, $fit would fit"
check "it says how many would fit" test -n "$fit"
check "--overcommit creates the 64 GiB course all the same" \
	"$LABCTL" course create big --template big --roster "$T/one.csv" --overcommit
check "its VM is there" test "$("$LABCTL" list --json | jq length)" = 1
check "course rm --force (its VM ran, or failed for want of memory)" \
	"$LABCTL" course rm big --force --yes

# --- a state_dir on a small disk -------------------------------------------------
# 512 MiB of tmpfs: below the 2 GiB labd keeps free, so labd warns, and a
# course of one tiny VM does not fit it.  labtui shows the warning.
kill "$LABD_PID"; wait "$LABD_PID" 2>/dev/null; LABD_PID=
mkdir "$T/small"
TM=(tmux -S "$T/tmux.sock")
small_cleanup() {
	"${TM[@]}" kill-server 2>/dev/null
	[ -n "${LABD_PID:-}" ] && kill -9 "$LABD_PID" 2>/dev/null
	sleep 0.3
	umount -l "$T/small" 2>/dev/null
	cleanup
}
trap small_cleanup EXIT
mount -t tmpfs -o size=512m tmpfs "$T/small"
sed -i "s|^state_dir .*|state_dir = $T/small/state|" "$T/labd.ini"
check "labd starts on a 512 MiB state_dir" labd_start
check "labd logs that the disk is low" grep -q "disk low: [0-9]* MiB free in $T/small/state" "$T/labd.log"
check "labctl status warns" bash -c \
	"'$LABCTL' status | grep -E '^warning +disk low: [0-9]+ MiB free in $T/small/state, below the 2048 MiB kept free'"
check "template import tiny" "$LABCTL" template import tiny "$TINY"
check_fails "a course of one tiny VM does not fit its disk" \
	"$LABCTL" course create small --template tiny --roster "$T/one.csv"
cp "$T/last.out" "$T/refusal"
check "the refusal names the folder and the numbers" grep -Eq \
	"1 VMs may need 192 MiB of disk in $T/small/state .*; it has [0-9]+ MiB free and keeps 2048 MiB" \
	"$T/refusal"
"${TM[@]}" new-session -d -s tui -x 140 -y 30 \
	"env TERM=xterm-256color $B/labtui -s $LABD_SOCKET"
tui_warns() {
	for _ in $(seq 40); do
		"${TM[@]}" capture-pane -p -t tui | grep -q 'disk low: ' && return 0
		sleep 0.25
	done
	"${TM[@]}" capture-pane -p -t tui | sed 's/^/#   /' | head -5
	return 1
}
check "labtui shows the warning in its header" tui_warns

finish test_admit
