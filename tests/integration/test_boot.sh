#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# test_boot.sh - a class comes up whole (issue 14, items 1-3), with real
# tiny guests.  With max_booting = 1 a course of four shows VMs "queued"
# (labctl list, status, labtui), never boots two at once, and its VMs
# become ready in roster order; the last one, reset while it never was
# ready, gets a fresh disk and says so.  A guest kernel that panics
# (sysrq c) and a QEMU killed by SIGSEGV are booted again and end ready,
# logged as vm.retry and vm.crash; a guest that powers itself off stays
# stopped (vm.poweroff).  With boot_timeout = 8 and boot_tries = 2 a VM
# that never gets ready is failed after two boots, with its console's
# last lines in the error.
set -u
. "$(dirname "$0")/lib.sh"

write_ini 26300
# write_ini has no workers line: auto, the default.
cat >>"$T/labd.ini" <<EOF
max_booting  = 1
boot_timeout = 300
boot_tries   = 3
EOF
{ echo id,name; for s in s1 s2 s3 s4; do echo "$s,Student $s"; done; } >"$T/roster.csv"
printf 'id,name\nann,Ann\n' >"$T/one.csv"
# A template that boots but never prints its ready line: never ready.
sed 's/^ready_line .*/ready_line = no-such-line-ever/' "$TINY" >"$T/never.ini"
D=$(dirname "$TINY")
sed -i "s|^disk .*|disk = $D/tiny.qcow2|; s|^kernel .*|kernel = $D/tiny-vmlinuz|; s|^initrd .*|initrd = $D/tiny-initrd|" \
	"$T/never.ini"
ev() {	# ev KIND VM: the details of VM's events of KIND, one a line
	sqlite3 "$T/state/labd.db" "SELECT detail FROM events WHERE kind = '$1'
	    AND subject = '$2' ORDER BY id"
}
states() { "$LABCTL" list --json | jq -r '[.[] | .state] | join(" ")'; }

check "labd starts with max_booting = 1" labd_start
check "status says at most 1 boot at once" bash -c \
	"'$LABCTL' status --json | jq -e '.max_booting == 1'"
# workers = auto (write_ini sets none): four a core, 32 at most.
nc=$(getconf _NPROCESSORS_ONLN); nw=$(( nc >= 8 ? 32 : 4 * nc ))
check "status says $nw workers (auto: 4 a core)" bash -c \
	"'$LABCTL' status --json | jq -e '.workers == $nw' &&
	 '$LABCTL' status | grep -qE '^jobs +[0-9]+ running or waiting \($nw workers\)$'"
check "template import tiny" "$LABCTL" template import tiny "$TINY"

# --- the queue ----------------------------------------------------------------
TM=(tmux -S "$T/tmux.sock")
boot_cleanup() { "${TM[@]}" kill-server 2>/dev/null; cleanup; }
trap boot_cleanup EXIT
check "course create c (4 VMs)" "$LABCTL" course create c --template tiny \
	--roster "$T/roster.csv"
# How many of c-s1..c-s3 boot at once, sampled until all are ready
# (c-s4 is reset below: an explicit reset boots outside the queue).
( max=0
  for _ in $(seq 900); do
	n=$("$LABCTL" list --json | jq '[.[] | select(.name != "c-s4") |
	    select(.state == "booting" or .state == "provisioning")] | length')
	[ "${n:-0}" -gt $max ] && max=$n && echo $max >"$T/maxboot"
	[ "$("$LABCTL" list --json | jq '[.[] | select(.state == "ready" or .state == "failed")] | length')" = 4 ] && break
	sleep 0.3
  done ) &
SAMPLER=$!
"${TM[@]}" new-session -d -s tui -x 140 -y 30 \
	"env TERM=xterm-256color $B/labtui -s $LABD_SOCKET"
echo "# right after create: $(states)"
check "labctl list shows queued VMs" bash -c \
	"'$LABCTL' list --json | jq -e '[.[] | select(.state == \"queued\")] | length >= 2'"
check "status --json counts them" bash -c \
	"'$LABCTL' status --json | jq -e '.vms_queued >= 2 and .vms_booting == 1'"
check "labctl status prints the queue" bash -c \
	"'$LABCTL' status | grep -E '^boots +1 booting, [0-9]+ queued \(at most 1 at once\)'"
check "labctl list (text) shows queued" bash -c "'$LABCTL' list | grep -q queued"
tui_queued() {
	for _ in $(seq 20); do
		"${TM[@]}" capture-pane -p -t tui | grep -q 'c-s4 .*queued' && return 0
		sleep 0.25
	done
	"${TM[@]}" capture-pane -p -t tui | sed 's/^/#   /' | head -12
	return 1
}
check "labtui's state column shows c-s4 queued" tui_queued
"${TM[@]}" kill-server 2>/dev/null

# c-s4 never was ready (no pristine): reset makes a fresh disk, and says so.
check "reset of c-s4, never ready yet, works" bash -c \
	"'$LABCTL' reset c-s4 >'$T/reset.out' 2>&1"
sed 's/^/#   /' "$T/reset.out"
check "and says it made a fresh disk" grep -q "no pristine snapshot yet.*fresh disk" "$T/reset.out"
check "c-s4 is ready after it" test "$(vm_field c-s4 state)" = ready

check "all four become ready" "$LABCTL" wait --course c --timeout 300
wait $SAMPLER
max_seen=$(cat "$T/maxboot" 2>/dev/null || echo 0)
check "c-s1..c-s3 never booted two at once (most seen: $max_seen)" test "$max_seen" = 1
order=$(grep -o 'c-s[0-9]: ready in' "$T/labd.log" | cut -d: -f1 | awk '!seen[$0]++' | tr '\n' ' ')
echo "# ready order: $order"
# c-s4 was reset (booted at once, out of the queue): the others in roster order.
check "the queued ones became ready in roster order" \
	test "$(echo $order | tr ' ' '\n' | grep -v c-s4 | paste -sd' ')" = "c-s1 c-s2 c-s3"

# --- a guest panic ---------------------------------------------------------------
pid1=$(vm_field c-s1 pid)
timeout 20 "$LABCTL" exec c-s1 --timeout 5 -- 'echo c > /proc/sysrq-trigger' >/dev/null 2>&1
wait_state() {	# wait_state VM STATE SECONDS
	for _ in $(seq $(($3 * 2))); do
		[ "$(vm_field "$1" state)" = "$2" ] && return 0
		sleep 0.5
	done
	echo "# $1 is $(vm_field "$1" state): $(vm_field "$1" error)"
	return 1
}
# until EXPR: the function or command succeeds within 20 s.
until_20s() {
	for _ in $(seq 40); do "$@" && return 0; sleep 0.5; done
	return 1
}
retried_panic() { ev vm.retry c-s1 | grep -q panicked; }
check "after the panic c-s1 is booted again (vm.retry)" until_20s retried_panic
ev vm.retry c-s1 | sed 's/^/#   /'
panic_seen() { ev vm.retry c-s1 | grep -Eq 'GUEST_PANICKED|Kernel panic'; }
check "the panic was seen (pvpanic's GUEST_PANICKED or the console)" panic_seen
check "c-s1 is ready again, in a new QEMU" bash -c \
	"'$LABCTL' wait c-s1 --timeout 120 && [ \"\$('$LABCTL' list --json | jq -r '.[] | select(.name == \"c-s1\") | .pid')\" != $pid1 ]"
check "and answers a command" bash -c "test \"\$('$LABCTL' exec c-s1 -- hostname)\" = c-s1"

# --- a QEMU crash -----------------------------------------------------------------
pid2=$(vm_field c-s2 pid)
kill -SEGV "$pid2"
crashed() { [ -n "$(ev vm.crash c-s2)" ]; }
check "the killed QEMU is logged as a crash (vm.crash)" until_20s crashed
ev vm.crash c-s2 | sed 's/^/#   /'
check "c-s2 is booted again and ready" wait_state c-s2 ready 120
check "in a new QEMU" test "$(vm_field c-s2 pid)" != "$pid2"
check "it still wants to run" test "$(vm_field c-s2 desired)" = running

# --- a power-off from inside ---------------------------------------------------------
timeout 20 "$LABCTL" exec c-s3 --timeout 5 -- 'poweroff' >/dev/null 2>&1
check "poweroff in the guest: c-s3 stops" wait_state c-s3 stopped 60
sleep 5
check "and stays stopped" test "$(vm_field c-s3 state)" = stopped
check "desired stopped, no error" bash -c \
	"[ \"\$('$LABCTL' list --json | jq -r '.[] | select(.name == \"c-s3\") | .desired + \"/\" + (.error // \"\")')\" = stopped/ ]"
poweroff_logged() { ev vm.poweroff c-s3 | grep -q 'powered itself off'; }
check "logged as vm.poweroff" poweroff_logged
check "not as a crash" test -z "$(ev vm.crash c-s3)"
check "labctl start brings it back" "$LABCTL" start c-s3

# --- a VM that never gets ready ---------------------------------------------------------
kill "$LABD_PID"; wait "$LABD_PID" 2>/dev/null; LABD_PID=
sed -i 's/^boot_timeout .*/boot_timeout = 8/; s/^boot_tries .*/boot_tries   = 2/' "$T/labd.ini"
check "labd starts again with boot_timeout = 8, boot_tries = 2" labd_start
check "template import never" "$LABCTL" template import never "$T/never.ini"
t0=$(date +%s)
check_fails "course create bad: its VM never gets ready" \
	"$LABCTL" course create bad --template never --roster "$T/one.csv" --wait
check "bad-ann ends failed" wait_state bad-ann failed 90
echo "# failed after $(( $(date +%s) - t0 )) s: $(vm_field bad-ann error)"
check "the error says why and how many boots" bash -c \
	"'$LABCTL' list --json | jq -r '.[] | select(.name == \"bad-ann\") | .error' |
	grep -q 'not ready 8 s after it was started (no ready line on the console); gave up after 2 boots'"
check "with the console's last lines (the guest's own)" bash -c \
	"'$LABCTL' list --json | jq -r '.[] | select(.name == \"bad-ann\") | .error' |
	grep -Eq \"the console's last lines: .*(labd-ready: bad-ann|login:)\""
first_retried() { ev vm.retry bad-ann | grep -q 'boot 1 of 2 failed'; }
check "the first failure was retried" first_retried
qemu_gone() { sleep 2; ! pgrep -a qemu-system | grep -q -- '-name bad-ann '; }
check "its QEMU is gone" qemu_gone
all_ready() { [ "$("$LABCTL" list c --json | jq -r '[.[] | .state] | join(" ")')" = "ready ready ready ready" ]; }
check "the others were adopted and are still ready" until_20s all_ready

finish test_boot
