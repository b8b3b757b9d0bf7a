#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# test_labcheck.sh - lab-check inside two real tiny guests, run by the
# students themselves (not root, over SSH with their own keys): the seed
# installed it and /etc/labd/param at the first boot, before any check;
# with no stored checks it says so (exit 2); with them each student reads
# her own goals (exit 1, then 0 once she met them), never a script and
# never the other VM's results; a second run too soon is refused, saying
# when to try again; the runs are the student's (by_student, not in
# --last) and gateway.check events; LAB_PARAM equals /etc/labd/param;
# garbage on the port from root in the guest is answered, logged by its
# length alone, and does not disturb the next run; with labd away
# lab-check says labd does not answer (exit 2), and works again once
# labd is back and has adopted the VM.
# Beside the tests whose labd is in the host's network namespace: in one
# of its own (lib.sh), its course's name used by no other test.
# integration: beside
set -u
LABD_IT_NETNS=${LABD_IT_NETNS:-own}
. "$(dirname "$0")/lib.sh"

write_ini 27100
two_students lc keys
PA=$(vm_port lc-ann)
PB=$(vm_port lc-ben)

# as STUDENT CMD: CMD in STUDENT's VM, logged in as STUDENT with her key.
as() {
	local s=$1 port
	shift
	[ "$s" = ann ] && port=$PA || port=$PB
	login_key "$T/${s}_key" "$port" "$s" "$@"
}

# labcheck STUDENT: lab-check as STUDENT, its output in $T/STUDENT.out
# (stdout and stderr), its status in $T/STUDENT.rc.
labcheck() {
	as "$1" lab-check >"$T/$1.out" 2>&1
	echo $? >"$T/$1.rc"
}
# said STUDENT TEXT: the last lab-check of STUDENT printed TEXT.
said() { grep -qF -- "$2" "$T/$1.out" || { cat "$T/$1.out"; false; }; }
rc_is() { test "$(cat "$T/$1.rc")" = "$2" || { cat "$T/$1.out"; false; }; }

# --- the seed's work, before any check ----------------------------------------
check "ann is not root in her VM" test "$(as ann id -u)" != 0
check "lab-check is installed for every user" \
	as ann 'test -x /usr/local/bin/lab-check'
check "its port is open to ann" as ann \
	'test -r /dev/virtio-ports/org.labd.check -a -w /dev/virtio-ports/org.labd.check'
pa=$(as ann cat /etc/labd/param)
pb=$(as ben cat /etc/labd/param)
check "/etc/labd/param is there at first boot, 16 hex digits, ann reads it" \
	bash -c "echo '$pa' | grep -qx '[0-9a-f]\{16\}'"
check "... before any check ran" test "$(sqlite3 "$T/state/labd.db" \
	"SELECT count(*) FROM check_runs")" = 0
check "... it is what labd keeps for her VM" test "$(sqlite3 "$T/state/labd.db" \
	"SELECT p.param FROM vm_params p JOIN vms v ON v.id = p.vm_id
	 WHERE v.name = 'lc-ann'")" = "$pa"
check "ben's differs" bash -c "echo '$pb' | grep -qx '[0-9a-f]\{16\}' &&
	test '$pa' != '$pb'"

# --- no stored checks ---------------------------------------------------------
labcheck ann
check "no stored checks: exit 2" rc_is ann 2
check "... saying so" said ann "course lc has no checks for you to run"

# --- stored checks ------------------------------------------------------------
G=$T/goals
mkdir -p "$G"
printf '#!/bin/sh\n# a file /tmp/hello exists\n[ -e /tmp/hello ] || { echo "no /tmp/hello yet"; exit 1; } # SECRET_SCRIPT_TEXT\n' >"$G/hello.sh"
printf '#!/bin/sh\n# LAB_PARAM is /etc/labd/param\ntest -n "$LAB_PARAM" && test "$LAB_PARAM" = "$(cat /etc/labd/param)"\n' >"$G/param.sh"
printf '#!/bin/sh\n# count the runs\necho run >>/root/runs\n' >"$G/runs.sh"
chmod +x "$G"/*
check "course set lc checks=DIR" "$LABCTL" course set lc checks="$G"

# The second run straight after the first, to be inside the interval.
labcheck ann
cp "$T/ann.out" "$T/first.out"
cp "$T/ann.rc" "$T/first.rc"
labcheck ann
mv "$T/ann.out" "$T/second.out"
mv "$T/ann.rc" "$T/second.rc"
mv "$T/first.out" "$T/ann.out"
mv "$T/first.rc" "$T/ann.rc"
check "ann's lab-check, a goal not met: exit 1" rc_is ann 1
check "... her VM's goals" said ann "checks of lc-ann (course lc):"
check "... not met, with the description" \
	grep -qx '  not met  hello  a file /tmp/hello exists' "$T/ann.out"
check "... and why" grep -q 'why: no /tmp/hello yet$' "$T/ann.out"
check "... met" grep -qx '  met      param  LAB_PARAM is /etc/labd/param' \
	"$T/ann.out"
check "... the totals" grep -qx '2 of 3 goals met' "$T/ann.out"
check "... nothing of the scripts, nothing of lc-ben" bash -c \
	"! grep -q 'SECRET_SCRIPT_TEXT\|lc-ben\|labd-check' '$T/ann.out'"
check "the checks ran in lc-ann once" \
	test "$("$LABCTL" exec lc-ann -- cat /root/runs | wc -l)" = 1
check "... and never in lc-ben" \
	test "$("$LABCTL" exec lc-ben -- 'cat /root/runs 2>/dev/null | wc -l')" = 0
check "/etc/labd/param is unchanged by the check (LAB_PARAM was it)" \
	test "$(as ann cat /etc/labd/param)" = "$pa"

check "a second run at once is refused: exit 2" rc_is second 2
check "... saying when to try again" said second "try again in"
check "... and nothing ran" \
	test "$("$LABCTL" exec lc-ann -- cat /root/runs | wc -l)" = 1

check "the run is the student's: stored by_student" test "$(sqlite3 \
	"$T/state/labd.db" "SELECT count(*) FROM check_runs
	 WHERE by_student = 1")" = 1
check "... so labctl check --last has none" bash -c \
	"! '$LABCTL' check lc --last 2>'$T/e' && grep -q 'not been checked' '$T/e'"
check "... and an event gateway.check" bash -c "'$LABCTL' events --kind \
	gateway.check --limit 100 | grep -q 'ann by lab-check in the guest: not all goals met'"

# --- garbage on the port, from root in the guest ------------------------------
# The port has one opener at a time, and the refused run's busybox timeout
# may hold it a second more (lab-check itself tries a few times too).
check "root writes garbage and a line too long to the port" "$LABCTL" exec \
	lc-ann -- 'i=0
	until { command exec 3>/dev/virtio-ports/org.labd.check; } 2>/dev/null; do
		i=$((i + 1)); [ $i -lt 5 ] || exit 1; sleep 1
	done
	printf "GARBAGE42\033[2J\001\nCHECK x\n" >&3 &&
	head -c 5000 /dev/zero | tr "\000" a >&3 && echo >&3'
sleep 2
check "it is logged by its length alone" \
	grep -q 'lc-ann: lab-check port: a bad request of [0-9]* bytes ignored' \
	"$T/labd.log"
check "... once, whatever the count" test "$(grep -c \
	'lc-ann: lab-check port: a bad request' "$T/labd.log")" = 1
check "... and nothing of it reached the log" bash -c \
	"! grep -q \$'\033\|GARBAGE42\|aaaaaaaa' '$T/labd.log'"

# --- after the interval: met, past the answers the garbage left -------------------
sleep 10
check "ann makes /tmp/hello" as ann 'touch /tmp/hello'
t0=$(date +%s%N)
labcheck ann
echo "# lab-check of 3 goals, login included: $(( ($(date +%s%N) - t0) / 1000000 )) ms"
check "ann's lab-check with every goal met: exit 0" rc_is ann 0
check "... 3 of 3" grep -qx '3 of 3 goals met' "$T/ann.out"
check "... no line the garbage got back" bash -c \
	"! grep -q 'labd-check\|request' '$T/ann.out'"
labcheck ben
check "ben's lab-check shows his own VM, not ann's" bash -c \
	"grep -q 'checks of lc-ben (course lc):' '$T/ben.out' &&
	! grep -q 'lc-ann' '$T/ben.out'"
check "... his goal not met: exit 1" rc_is ben 1

# --- labd away, then back -------------------------------------------------------
kill -9 "$LABD_PID"
wait "$LABD_PID" 2>/dev/null
LABD_PID=
labcheck ann
check "with labd away, lab-check: exit 2" rc_is ann 2
check "... labd does not answer" said ann "labd does not answer"
check "labd starts again" labd_start
check "... and adopts the VMs" "$LABCTL" wait --course lc --timeout 200
t_again() {
	local i
	for i in $(seq 10); do
		labcheck ann
		[ "$(cat "$T/ann.rc")" = 0 ] && return 0
		sleep 3
	done
	cat "$T/ann.out"
	return 1
}
check "lab-check works again (the port connected anew)" t_again

finish test_labcheck
