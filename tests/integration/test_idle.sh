#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# test_idle.sh - who is connected, idle suspend and wake on connection
# (by a student's ssh, not by a scan):
# connections counted while an ssh session is held open (labd's own probe
# does not count); a course's idle_suspend suspends a VM nobody uses; a
# student's ssh to the suspended VM's port wakes it and gets through (the
# guest's uptime goes on); later connections go to QEMU directly; a VM
# suspended by labctl, and one still suspended after a restart of labd,
# wake the same way; bad values are refused.
# Beside the tests whose labd is in the host's network namespace: in one
# of its own (lib.sh), its course's name used by no other test.
# integration: beside
set -u
LABD_IT_NETNS=${LABD_IT_NETNS:-own}
. "$(dirname "$0")/lib.sh"

write_ini 24700
ssh-keygen -q -t ed25519 -N '' -C t@test -f "$T/key"
printf 'id,name,ssh_key\nann,Ann,%s\n' "$(cat "$T/key.pub")" >"$T/roster.csv"

check "labd starts" labd_start
check "template import" "$LABCTL" template import tiny "$TINY"
check "course of one created" "$LABCTL" course create id --template tiny \
	--roster "$T/roster.csv"
check "it is ready" "$LABCTL" wait id-ann --timeout 400
port=$(vm_port id-ann)

# as USER CMD [ssh options]: run CMD on the VM as ann (or root, labd's key).
as() {
	local user=$1 cmd=$2 key=$T/key
	shift 2
	[ "$user" = root ] && key=$T/state/keys/labd_ed25519
	ssh -o BatchMode=yes "$@" "${SSHOPTS[@]}" -i "$key" -p "$port" \
	    "$user@127.0.0.1" "$cmd"
}
# wait_for SECONDS CMD...: poll CMD every half second.
wait_for() {
	local n=$(($1 * 2))
	shift
	for _ in $(seq "$n"); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.5
	done
	return 1
}
conns() { vm_field id-ann connections; }
state_is() { [ "$(vm_field id-ann state)" = "$1" ]; }
# Who listens on the VM's ssh port: labd or qemu.
listener() { ss -Hltnp "sport = :$port" | grep -o '(("[^"]*"' | tr -d '("'; }
listener_is() { [ "$(listener)" = "$1" ]; }

# --- who is connected ----------------------------------------------------------
sleep 3	# a tick after ready: labd's own probe is long gone
check "no connection yet (labd's probe does not count)" \
	test "$(conns)" = 0
check "never a connection yet" test "$(vm_field id-ann last_connection)" = 0
check "labctl list shows CONNS and LAST" \
	sh -c "'$LABCTL' list | grep -E '^id-ann +ready +[^ ]+ +0 +- '"
as ann 'sleep 8' &
held=$!
one_conn() { [ "$(conns)" -ge 1 ]; }
check "an ssh session held open is counted" wait_for 7 one_conn
check "labctl list shows it connected now" \
	sh -c "'$LABCTL' list | grep -E '^id-ann +ready +[^ ]+ +1 +now '"
last=$(vm_field id-ann last_connection)
check "last_connection is set ($last)" \
	test "$last" -gt $(($(date +%s) - 10))
wait $held
no_conn() { [ "$(conns)" = 0 ]; }
check "the session ended: no connection" wait_for 5 no_conn
check "LAST says how long ago" \
	sh -c "'$LABCTL' list | grep -E '^id-ann +ready +[^ ]+ +0 +[0-9]+s ago '"

# --- idle suspend ----------------------------------------------------------------
check_fails "idle_suspend=abc is refused" \
	"$LABCTL" course set id idle_suspend=abc
check_fails "idle_suspend=10 (no unit) is refused" \
	"$LABCTL" course set id idle_suspend=10
check_fails "idle_suspend=30x is refused" \
	"$LABCTL" course set id idle_suspend=30x
check "idle_suspend=1h30m is taken" "$LABCTL" course set id idle_suspend=1h30m
check "course list shows it" \
	sh -c "'$LABCTL' course list | grep -E '^id .* 1h30m$'"
up1=$(as root 'cut -d. -f1 /proc/uptime')
pid1=$(vm_field id-ann pid)
check "idle_suspend=5s" "$LABCTL" course set id idle_suspend=5s
check "course list --json has idle_suspend 5" \
	test "$("$LABCTL" course list --json | jq '.[0].idle_suspend')" = 5
t0=$(date +%s)
check "the idle VM is suspended" wait_for 60 state_is suspended
echo "# suspended $(($(date +%s) - t0)) s after idle_suspend=5s was set"
check "its QEMU is gone" gone "$pid1"
check "labd listens on its port" wait_for 5 listener_is labd
check "idle_suspend=off" "$LABCTL" course set id idle_suspend=off
check "course list shows off" \
	sh -c "'$LABCTL' course list | grep -E '^id .* off$'"

# --- not woken by a scan ----------------------------------------------------------
# A port scan connects and closes, or sends what no SSH client sends, or
# holds a connection open in silence: none of it is a student.
py_conn() {	# py_conn SEND HOLD: connect, send SEND, hold HOLD s, close
	python3 -c '
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
if sys.argv[2]:
    s.sendall(sys.argv[2].encode())
time.sleep(float(sys.argv[3]))
s.close()' "$port" "$1" "$2"
}
scanned() {
	for _ in 1 2 3 4 5; do py_conn "" 0; done
	py_conn $'GET / HTTP/1.0\r\n\r\n' 0.5
	py_conn "" 5
	sleep 2
	state_is suspended && listener_is labd
}
check "connect-and-close, garbage and a silent hold do not wake it" scanned
check "nor does the log say it woke" \
	test "$(grep -c 'waking it' "$T/labd.log")" = 0

# --- wake on connection ----------------------------------------------------------
t0=$(date +%s.%N)
woke() { [ "$(as ann 'echo woke' -o ConnectTimeout=60)" = woke ]; }
check "ssh to the suspended VM wakes it and gets in" woke
echo "# wake: ssh 'echo woke' took $(echo "$(date +%s.%N) - $t0" | bc) s"
grep -o 'first byte from the guest .* after the connection' "$T/labd.log" |
	tail -1 | sed 's/^/# labd: /'
check "it is ready again" state_is ready
up2=$(as root 'cut -d. -f1 /proc/uptime')
check "the guest's uptime went on ($up1 s, then $up2 s)" \
	test "${up2:-0}" -ge "${up1:-9999}"
check "QEMU holds its port again" listener_is qemu-system-x86
check "a second ssh goes directly" as ann 'echo direct'
check "one wake in the log" \
	test "$(grep -c 'waking it' "$T/labd.log")" = 1

# --- labctl suspend, a relayed session counts once ----------------------------
check "labctl suspend" "$LABCTL" suspend id-ann
check "labd listens on the port of the suspended VM" \
	wait_for 5 listener_is labd
# Bytes both ways through the relay: 3 MB up, 3 MB down, checksummed.
head -c 3000000 /dev/urandom >"$T/blob"
as ann 'echo in; md5sum; head -c 3000000 /dev/zero | md5sum; sleep 5' \
    -o ConnectTimeout=60 <"$T/blob" >"$T/relayed.out" 2>&1 &
held=$!
check "the connection wakes it" wait_for 60 state_is ready
relayed_in() { grep -qx in "$T/relayed.out"; }
check "the woken session is in" wait_for 30 relayed_in
counts_once() {
	local n
	for _ in 1 2 3 4 5 6; do
		sleep 0.5
		n=$("$LABCTL" list --json | jq '.[0].connections')
		[ "$n" -ge 1 ] && break
	done
	[ "$n" = 1 ] || { echo "connections: $n"; return 1; }
}
check "the relayed session counts once" counts_once
wait $held
check "the relayed session ended cleanly" relayed_in
up_sum=$(md5sum <"$T/blob" | cut -d' ' -f1)
down_sum=$(head -c 3000000 /dev/zero | md5sum | cut -d' ' -f1)
check "3 MB up through the relay arrived intact" \
	grep -q "^$up_sum" "$T/relayed.out"
check "3 MB down through the relay arrived intact" \
	grep -q "^$down_sum" "$T/relayed.out"

# --- three connections at once ------------------------------------------------
# The first wakes the VM and is held by labd.  One that comes in the
# fraction of a second while QEMU takes the port back and loads the RAM
# may be refused or closed; the student tries again, as a script does here.
check "suspend for three" "$LABCTL" suspend id-ann
check "labd listens again" wait_for 5 listener_is labd
try3() {	# try3 N: ssh, up to three times, as a student would
	local k
	for k in 1 2 3; do
		as ann "echo par$1" -o ConnectTimeout=60 >"$T/par$1.out" 2>&1 &&
			return 0
		echo "$1" >>"$T/retried"
		sleep 1
	done
	return 1
}
pids=()
for i in 1 2 3; do
	try3 $i &
	pids+=($!)
done
wait "${pids[@]}"
all_in() { for i in 1 2 3; do grep -qx "par$i" "$T/par$i.out" || return 1; done; }
check "three connections at once to a suspended VM all get in" all_in
echo "# of three at once, $(sort -u "$T/retried" 2>/dev/null | wc -l) had to try again"

# --- still suspended after a restart of labd -----------------------------------
check "suspend again" "$LABCTL" suspend id-ann
kill -TERM "$LABD_PID"
wait "$LABD_PID" 2>/dev/null
check "labd restarts" labd_start
check "still suspended" state_is suspended
check "the restarted labd listens on its port" wait_for 5 listener_is labd
woke2() { [ "$(as ann 'echo woke2' -o ConnectTimeout=60)" = woke2 ]; }
check "a connection wakes it after the restart" woke2
check "ready" state_is ready

finish test_idle
