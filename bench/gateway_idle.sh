#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# bench/gateway_idle.sh BUILD_DIR - what idle sessions cost the SSH
# gateway (issue 15): IDLE_STUDENTS (20) students with a tiny guest
# each, IDLE_PER (10) interactive sessions each through the gateway
# (ssh -tt, a shell left open, ServerAliveInterval 5 s so that
# keepalives cross the gateway all along), held IDLE_HOLD (60) seconds.
#
#   cpu    labd's utime + stime over the hold (all its threads, from
#          /proc/PID/stat), in % of one core; goal < 5 %
#   rss    labd's resident memory before the sessions and during them
#   lost   sessions gone by the end: every ssh still runs and its shell
#          answers a command written to its stdin; goal 0
#
# [gateway] sessions is IDLE_PER (the default cap is 10 a student).
# The guests run under TCG unless KVM works.  Traffic goes to 127.0.0.1
# only.  Under TCG on two cores (01:05, 2026-12-06): 20 guests ready in
# 73 s, 200 sessions up in 33 s (a thread each: 206 threads), labd at
# 1.4 % of a core over the hold (0.28 of the goal; an idle relay wakes
# every 2 s, gw_relay.c's GW_IDLE_MS), 17 MB RSS before, 41 MB with the
# sessions (118 kB a session), none lost.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
B=$(cd "${1:-$top/build}" && pwd)
NS=${IDLE_STUDENTS:-20}
PER=${IDLE_PER:-10}
HOLD=${IDLE_HOLD:-60}
GW=26990
. "$top/bench/lib.sh"
SSH_PIDS=()
bench_cleanup() {
	local p
	for p in "${SSH_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
}

bench_ini 26900 '' '[gateway]' "listen = 127.0.0.1:$GW" "sessions = $PER"
{
	echo "id,name,email,ssh_key"
	for s in $(seq -w "$NS"); do
		ssh-keygen -q -t ed25519 -N '' -f "$T/key$s"
		echo "s$s,S$s,,$(cat "$T/key$s.pub")"
	done
} >"$T/roster.csv"
bench_labd_start
"$L" template import tiny "$B/templates/tiny.ini" >/dev/null
"$L" course create ib --template tiny --roster "$T/roster.csv" >/dev/null
t0=$(secs)
"$L" wait --course ib --timeout 1800 >/dev/null
echo "gateway idle: $NS tiny guests ($("$L" --json status | jq -r .accel))" \
    "ready in $(echo "$(secs) - $t0" | bc | cut -d. -f1) s," \
    "$PER sessions each, held $HOLD s"

# labd's processes (itself and any helper running its binary, no QEMU).
labd_pids() {
	local p
	for p in /proc/[0-9]*; do
		[ "$(readlink "$p/exe" 2>/dev/null)" = "$B/labd" ] &&
		    echo "${p#/proc/}"
	done
}
ticks() {	# utime + stime of labd, all threads, in clock ticks
	local p t=0
	for p in $(labd_pids); do
		# fields after "(comm)": utime and stime are the 12th, 13th
		t=$((t + $(sed 's/.*) //' "/proc/$p/stat" | awk '{print $12 + $13}')))
	done
	echo "$t"
}
rss_kb() {
	local p r=0
	for p in $(labd_pids); do
		r=$((r + $(awk '/^VmRSS/ {print $2}' "/proc/$p/status")))
	done
	echo "$r"
}
threads() { awk '/^Threads/ {print $2}' "/proc/$LABD_PID/status"; }

SSHO=(-o BatchMode=yes -o StrictHostKeyChecking=no
	-o UserKnownHostsFile=/dev/null -o LogLevel=ERROR
	-o ServerAliveInterval=5 -o ServerAliveCountMax=3)
rss0=$(rss_kb)
th0=$(threads)
# Session i: a shell on a pty, its stdin a FIFO held open by FD[i], so
# that commands can be typed into it later.  The answer of a command
# is computed ($((...))) so the pty's echo of the line never matches.
FD=()
trap '' PIPE	# a session gone: its write fails, the count says so
say() {	# i WORD: type "echo WORD-<i + 100000>" into session i
	printf 'echo %s-$((%d + 100000))\n' "$2" "$1" >&"${FD[$1]}"
}
answered() {	# i WORD: did session i print it?
	grep -q "$2-$(($1 + 100000))" "$T/out.$1"
}
up_wait() {	# FROM TO: sessions FROM..TO all up, else why and exit
	local i up
	for _ in $(seq 300); do
		up=0
		for i in $(seq "$1" "$2"); do
			answered "$i" up && up=$((up + 1))
		done
		[ "$up" = $(($2 - $1 + 1)) ] && return 0
		sleep 1
	done
	for i in $(seq "$1" "$2"); do
		answered "$i" up || { echo "session $i:"; cat "$T/err.$i"; }
	done | head -40 >&2
	echo "sessions $1..$2: only $up came up" >&2
	exit 1
}
# A round opens one session a student at once, as a class logging in.
t0=$(secs)
i=0
for _ in $(seq "$PER"); do
	first=$i
	for s in $(seq -w "$NS"); do
		mkfifo "$T/in.$i"
		ssh -tt "${SSHO[@]}" -i "$T/key$s" -p "$GW" "s$s@127.0.0.1" \
		    <"$T/in.$i" >"$T/out.$i" 2>"$T/err.$i" &
		SSH_PIDS[i]=$!
		exec {fd}>"$T/in.$i"
		FD[i]=$fd
		say "$i" up
		i=$((i + 1))
	done
	up_wait "$first" $((i - 1))
done
n=$i
echo "$n sessions up in $(echo "$(secs) - $t0" | bc | cut -c1-5) s;" \
    "labd $(threads) threads (was $th0)"
sleep 5	# the logins' tail (bus events, logging) settles

hz=$(getconf CLK_TCK)
c0=$(ticks)
w0=$(secs)
sleep "$HOLD"
c1=$(ticks)
w1=$(secs)
rss1=$(rss_kb)
cpu=$(echo "scale=3; 100 * ($c1 - $c0) / $hz / ($w1 - $w0)" | bc)

alive=0 ok=0
for i in $(seq 0 $((n - 1))); do
	kill -0 "${SSH_PIDS[i]}" 2>/dev/null && alive=$((alive + 1))
	say "$i" still 2>/dev/null || true
done
for _ in $(seq 60); do
	ok=0
	for i in $(seq 0 $((n - 1))); do
		answered "$i" still && ok=$((ok + 1))
	done
	[ "$ok" = "$n" ] && break
	sleep 1
done
printf 'labd cpu over %s s: %s %% of a core (%s ticks); goal < 5 %%:' \
    "$HOLD" "$cpu" "$((c1 - c0))"
echo " $(echo "scale=2; $cpu / 5" | bc) of the goal"
echo "labd rss: $((rss0 / 1024)) MB before, $((rss1 / 1024)) MB with $n" \
    "sessions ($(( (rss1 - rss0) / n )) kB a session)"
echo "sessions: $alive of $n ssh still running, $ok of $n answered" \
    "after the hold; lost $((n - ok)) (goal 0)"
# Goodbye: each shell exits, then the rest is killed by the clean-up.
for i in $(seq 0 $((n - 1))); do
	echo exit >&"${FD[i]}" 2>/dev/null || true
	eval "exec ${FD[i]}>&-"
done
[ "$ok" = "$n" ]
