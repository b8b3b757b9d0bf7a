#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# test_snapshot.sh - reset in seconds: a running VM's snapshot with RAM,
# a break, and a reset that brings back the file and the process without a
# reboot (same boot id); the default reset to pristine; free page
# reporting in the guest and a compact pristine; suspend and resume
# with the guest's uptime going on; a bulk reset of a course of three; a
# scheduled reset that fires; snapshots of a stopped VM; reset --hard.
# Beside the tests whose labd is in the host's network namespace: in one
# of its own (lib.sh), its course's name used by no other test.
# integration: beside
set -u
LABD_IT_NETNS=${LABD_IT_NETNS:-own}
. "$(dirname "$0")/lib.sh"

write_ini 24400
# ksm = off: the guests' RAM is not offered to KSM (QEMU's mem-merge=off),
# whose copies on write would make a reset cost three times the CPU.
echo 'ksm = off' >>"$T/labd.ini"
ssh-keygen -q -t ed25519 -N '' -C t@test -f "$T/key"
k=$(cat "$T/key.pub")
printf 'id,name,ssh_key\nann,Ann,%s\nbea,Bea,%s\ncid,Cid,%s\n' "$k" "$k" "$k" \
	>"$T/roster.csv"

check "labd starts" labd_start
check "template import" "$LABCTL" template import tiny "$TINY"
check "course of three created" "$LABCTL" course create sn --template tiny \
	--roster "$T/roster.csv"
check "all three ready" "$LABCTL" wait --course sn --timeout 400
check "ksm = off: QEMU does not offer the guest's RAM to KSM" bash -c \
	"tr '\\0' '\\n' </proc/\$('$LABCTL' list --json | jq -r '.[0].pid')/cmdline |
	 grep -qE '^pc(,accel=kvm)?,mem-merge=off\$'"

on() {	# on VM USER CMD: run CMD on VM as USER (root by labd's key)
	local vm=$1 user=$2 port key
	port=$(vm_port "$vm")
	key=$T/key
	[ "$user" = root ] && key=$T/state/keys/labd_ed25519
	ssh -o BatchMode=yes "${SSHOPTS[@]}" -i "$key" -p "$port" \
	    "$user@127.0.0.1" "$3"
}
has_snapshot() {	# has_snapshot VM NAME KIND
	"$LABCTL" snapshots "$1" --json |
	    jq -e --arg n "$2" --argjson ram "$3" \
	    '.[] | select(.name == $n and .ram == $ram)' >/dev/null
}
all_pristine() {
	has_snapshot sn-ann pristine true && has_snapshot sn-bea pristine true &&
	    has_snapshot sn-cid pristine true
}
check "each VM got pristine, with RAM, when it first became ready" all_pristine

# --- free page reporting: what the guest frees goes back to the host ---------
# The balloon device's driver is bound and took VIRTIO_BALLOON_F_REPORTING
# (feature bit 5, the 6th character of the features file).
reporting() {
	on "$1" root 'for d in /sys/bus/virtio/drivers/virtio_balloon/virtio*; do
		cut -c6 "$d/features"; done' | grep -qx 1
}
check "the guest reports its free pages (virtio_balloon bound)" reporting sn-ann
# Freed pages and dropped caches are zero pages (the tiny kernel zeroes
# what it frees): pristine holds what the guest uses, not the 128 MiB it
# has (about 90 MiB before).
compact() {
	local vm b
	for vm in sn-ann sn-bea sn-cid; do
		b=$("$LABCTL" snapshots "$vm" --json |
		    jq -r '.[] | select(.name == "pristine") | .size')
		echo "# $vm: pristine's RAM state $((${b:-0} / 1048576)) MiB"
		[ "${b:-0}" -gt 0 ] && [ "$b" -lt $((COMPACT_MIB * 1048576)) ] || return 1
	done
}
COMPACT_MIB=72
check "each pristine's RAM state is under $COMPACT_MIB MiB" compact
grep '^#' "$T/last.out"
check_fails "no guest was saved untrimmed" grep -q "saved as it is" "$T/labd.log"

# --- a snapshot with RAM, a break, a reset without reboot --------------------
boot0=$(on sn-ann root 'cat /proc/sys/kernel/random/boot_id')
on sn-ann ann 'echo kept > ~/work; setsid sleep 31337 </dev/null >/dev/null 2>&1 &'
t0=$(date +%s.%N)
check "snapshot of a running VM" "$LABCTL" snapshot sn-ann lab1
echo "# snapshot with RAM: $(echo "$(date +%s.%N) - $t0" | bc) s"
check "it is listed with its RAM" has_snapshot sn-ann lab1 true
check "the VM still runs after the snapshot" \
	test "$(vm_field sn-ann state)" = ready
on sn-ann root 'pkill -f "sleep 31337"; rm -f /home/ann/work; rm -rf /bin' \
	>/dev/null 2>&1
broken() { ! on sn-ann ann 'echo alive' >/dev/null 2>&1; }
check "the VM is broken (no /bin, no file, no process)" broken
t0=$(date +%s.%N)
check "reset --to lab1" "$LABCTL" reset sn-ann --to lab1
echo "# reset to a RAM snapshot, to reply: $(echo "$(date +%s.%N) - $t0" | bc) s"
check "SSH answers at once after the reset" on sn-ann ann 'echo alive'
file_back() { on sn-ann ann 'cat ~/work' | grep -qx kept; }
proc_back() { on sn-ann root 'ps' | grep -q 'sleep 31337'; }
same_boot() {
	[ "$(on sn-ann root 'cat /proc/sys/kernel/random/boot_id')" = "$boot0" ]
}
check "the file is back" file_back
check "the process is back" proc_back
check "no reboot happened (same boot id)" same_boot
clock_ok() {	# the guest's clock was set after the RAM restore
	local g h
	for _ in $(seq 20); do
		g=$(on sn-ann root 'date +%s') h=$(date +%s)
		[ $((h - g)) -le 3 ] && [ $((g - h)) -le 3 ] && return 0
		sleep 0.5
	done
	echo "guest clock $g, host $h"
	return 1
}
sleep 3
check "the guest's clock is corrected after the restore" clock_ok

check "reset with no name goes to pristine" "$LABCTL" reset sn-ann
check "pristine predates the file" on sn-ann ann 'test ! -e ~/work'
# boot_id is made when first read, which pristine predates: the console
# tells instead (a boot prints a new ready line).
one_boot() { [ "$(grep -c 'labd-ready' "$T/state/vms/sn-ann/serial.log")" -eq 1 ]; }
check "no reboot: one boot on the console" one_boot

# --- labd-agent: the clock and the policy without a login --------------------
# After a restore, and whenever the course's policy changes, labd sets the
# guest's clock and sudo policy through labd-agent (labd/agent.c), not by
# an SSH login.  dropbear logs each login in the guest's syslog: across two
# policy changes the count grows by this test's own logins alone.  (A
# restore brings the syslog back with the RAM: a policy change is what
# can be counted.)
root_logins() { on sn-ann root 'logread' | grep -c "auth succeeded for 'root'"; }
agent_pids() {	# the tiny guest has no pgrep: its command line, whole
	on sn-ann root 'for p in /proc/[0-9]*; do
		[ "$(tr "\0" " " <$p/cmdline 2>/dev/null)" = \
		    "/bin/sh /usr/local/sbin/labd-agent " ] && echo ${p#/proc/}
	done; true'
}
agent_up() { [ -n "$(agent_pids)" ]; }
check "labd-agent runs in the guest (pristine had it)" agent_up
on sn-ann root 'mkdir -p /etc/sudoers.d'	# the tiny guest has no sudo
has_rule() { on sn-ann root "test $1 -e /etc/sudoers.d/90-labd"; }
polls=0
wait_rule() {	# wait_rule [!]: until the rule is there (or gone)
	for _ in $(seq 40); do
		polls=$((polls + 1))
		has_rule "${1:-}" && return 0
		sleep 0.5
	done
	return 1
}
n0=$(root_logins)	# this login is counted
check "course set sudo=off" "$LABCTL" course set sn sudo=off
sleep 1
check "course set sudo=on" "$LABCTL" course set sn sudo=on
check "the policy reaches the guest" wait_rule
n1=$(root_logins)
by_agent() {
	echo "root logins: $n0 before, $n1 after, $polls of them the test's"
	[ "$n1" -eq $((n0 + polls + 1)) ]
}
check "labd logged in for neither change (labd-agent did them)" by_agent
# A snapshot with RAM drops the guest's caches first: by the agent too.
n0=$(root_logins)
check "a snapshot with RAM" "$LABCTL" snapshot sn-ann agent1
n1=$(root_logins)
check "labd did not log in to trim the guest" test "$n1" -eq $((n0 + 1))
check "its snapshot removed" "$LABCTL" snapshot rm sn-ann agent1
# An agent that is gone: labd does the same over SSH, after a short wait.
on sn-ann root "kill $(agent_pids | tr '\n' ' ')"
check_fails "the agent is gone" agent_up
n0=$(root_logins)
polls=0
check "course set sudo=off, no agent" "$LABCTL" course set sn sudo=off
check "the policy reaches the guest over SSH" wait_rule !
n1=$(root_logins)
by_ssh() {
	echo "root logins: $n0 before, $n1 after, $polls of them the test's"
	[ "$n1" -eq $((n0 + polls + 2)) ]
}
check "labd logged in once for it" by_ssh
check "course set sudo=on again" "$LABCTL" course set sn sudo=on
check "a reset to pristine brings the agent back" "$LABCTL" reset sn-ann
check "labd-agent runs again" agent_up
check "the guest's clock is right after that reset" clock_ok
# labd restarted: the VM it adopts is booting until its probe says ready
# (one login, before n0), and labd connects to its agent then; the agent
# in the guest opens its port again 2 s after labd went and says hello
# once labd is there.  Its agent must still be used.
restart_labd() {
	kill "$LABD_PID"
	while kill -0 "$LABD_PID" 2>/dev/null; do sleep 0.1; done
	labd_start
}
check "labd starts again, the VM still runs" restart_labd
check "the adopted VM is ready" "$LABCTL" wait sn-ann --timeout 60
sleep 2
n0=$(root_logins)
polls=0
check "course set sudo=off after the restart" "$LABCTL" course set sn sudo=off
check "the policy reaches the guest" wait_rule !
n1=$(root_logins)
check "labd did not log in for it (the adopted VM's labd-agent did)" by_agent

check "snapshot rm" "$LABCTL" snapshot rm sn-ann lab1
check_fails "the removed snapshot is gone" has_snapshot sn-ann lab1 true
check_fails "reset --to a removed snapshot is refused" \
	"$LABCTL" reset sn-ann --to lab1
check_fails "a bad snapshot name is refused" \
	"$LABCTL" snapshot sn-ann '../x'

# --- suspend and resume -------------------------------------------------------
on sn-bea bea 'echo before > ~/mark'
up1=$(on sn-bea root 'cut -d. -f1 /proc/uptime')
pid1=$(vm_field sn-bea pid)
t0=$(date +%s.%N)
check "suspend" "$LABCTL" suspend sn-bea
echo "# suspend: $(echo "$(date +%s.%N) - $t0" | bc) s"
check "listed suspended" test "$(vm_field sn-bea state)" = suspended
check "its QEMU is gone" gone "$pid1"
sleep 2
t0=$(date +%s.%N)
check "resume" "$LABCTL" resume sn-bea
echo "# resume: $(echo "$(date +%s.%N) - $t0" | bc) s"
up2=$(on sn-bea root 'cut -d. -f1 /proc/uptime')
check "the guest's uptime went on ($up1 s, then $up2 s)" \
	test "${up2:-0}" -ge "${up1:-9999}"
check "its file is there" on sn-bea bea 'grep -qx before ~/mark'

# --- bulk and scheduled --------------------------------------------------------
check_fails "a bulk reset without --yes and without a terminal does nothing" \
	"$LABCTL" reset --course sn
cp "$T/last.out" "$T/noyes"
check "and says what it would do" grep -q \
	"course sn: reset 3 VMs to pristine: what their students did since is lost; add --yes" \
	"$T/noyes"
t0=$(date +%s.%N)
check "bulk reset of the course of three" "$LABCTL" reset --course sn --yes
echo "# bulk reset of 3: $(echo "$(date +%s.%N) - $t0" | bc) s"
check "bea's file is gone after the bulk reset" on sn-bea bea 'test ! -e ~/mark'

on sn-cid cid 'echo before-break > ~/mark'
at=$(date -d '+6 seconds' +%H:%M:%S)
check "course set reset_at=$at" "$LABCTL" course set sn reset_at="$at"
fired() {
	for _ in $(seq 40); do
		on sn-cid cid 'test ! -e ~/mark' 2>/dev/null && return 0
		sleep 0.5
	done
	return 1
}
check "the scheduled reset fired: cid's file is gone" fired
check_fails "a bad time is refused" "$LABCTL" course set sn reset_at=25:00

# --- a stopped VM: disk-only snapshots ----------------------------------------
check "stop cid" "$LABCTL" stop sn-cid
check "snapshot of a stopped VM" "$LABCTL" snapshot sn-cid offline1
check "it is disk only" has_snapshot sn-cid offline1 false
check "start cid" "$LABCTL" start sn-cid
on sn-cid cid 'echo after > ~/mark2'
check "reset --to a disk-only snapshot reboots into it" \
	"$LABCTL" reset sn-cid --to offline1
check "the later file is gone" on sn-cid cid 'test ! -e ~/mark2'

# --- reset --hard ---------------------------------------------------------------
check "reset --hard" "$LABCTL" reset sn-cid --hard
only_pristine() {
	[ "$("$LABCTL" snapshots sn-cid --json | jq -r '.[].name')" = pristine ]
}
check "a fresh disk has a fresh pristine and nothing else" only_pristine

finish test_snapshot
