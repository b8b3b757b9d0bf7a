#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# test_storm.sh - a storm of connections on the control socket cannot
# spin labd or fill its log (issue 14, item 7).  One uid holding more
# connections than it may is told why; a labd out of descriptors stops
# listening for a moment instead of failing accept() in a busy loop, says
# so once, and takes clients again once the storm is over.
set -u
. "$(dirname "$0")/lib.sh"

write_ini 25500

# hold N: N connections to labd's socket, held until stdin closes; prints
# "held N" and, for each refused one, its error line.
hold() {
	python3 -c '
import socket, sys, select
n, path = int(sys.argv[1]), sys.argv[2]
socks, refused = [], []
for i in range(n):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(path)
    except OSError as e:
        refused.append("connect: %s" % e)
        continue
    socks.append(s)
# labd answers a refused client at once, then closes it.
for s in socks:
    r, _, _ = select.select([s], [], [], 0.05)
    if r:
        line = s.recv(4096).decode(errors="replace").strip()
        if line:
            refused.append(line)
print("held %d" % len(socks), flush=True)
for line in refused:
    print(line, flush=True)
sys.stdin.read()
' "$1" "$LABD_SOCKET"
}

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$LABD_PID/stat"; }

# --- one uid, too many connections --------------------------------------------
check "labd starts" labd_start
coproc H { hold 140; }
read -r -t 20 held <&"${H[0]}"
lines=$(timeout 2 cat <&"${H[0]}")
echo "# $held; $(printf '%s\n' "$lines" | grep -c busy) turned away"
check "a uid gets 128 connections and no more" test "$held" = "held 140"
check "the ones past 128 are told why" bash -c \
	"printf '%s\n' '$lines' | grep -c 'has 128 connections to labd open' | grep -qx 12"
check "the log says it once, then how many times more" bash -c \
	"[ \$(grep -c 'turned away' '$T/labd.log') -eq 1 ]"
check "labctl as root is turned away too while at the cap" bash -c \
	"! '$LABCTL' status 2>'$T/cap.err' && grep -q 'close some' '$T/cap.err'"
exec {H[1]}>&-
wait "$H_PID" 2>/dev/null
check "labctl works again once they close" "$LABCTL" status
kill "$LABD_PID"; wait "$LABD_PID" 2>/dev/null; LABD_PID=

# --- out of descriptors ---------------------------------------------------------
: >"$T/labd.log"
LABD_WRAP="prlimit --nofile=64:64"
check "labd starts with 64 descriptors" labd_start
LABD_WRAP=
coproc S { hold 100; }
read -r -t 20 held <&"${S[0]}"
echo "# storm: $held"
t0=$(cpu_ticks)
sleep 3
t1=$(cpu_ticks)
echo "# labd's CPU in 3 s of the storm: $((t1 - t0)) ticks"
check "out of descriptors, labd does not spin (< 30 ticks in 3 s)" \
	test $((t1 - t0)) -lt 30
check "and says so in a few lines, not a flood" bash -c \
	"n=\$(grep -c 'not taking clients' '$T/labd.log'); echo \"# \$n lines\"; [ \$n -ge 1 ] && [ \$n -le 15 ]"
check "the log stays small" test "$(stat -c %s "$T/labd.log")" -lt 20000
exec {S[1]}>&-
wait "$S_PID" 2>/dev/null
back() {
	for _ in $(seq 30); do
		"$LABCTL" status >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}
check "once the storm is over labd takes clients again" back

finish test_storm
