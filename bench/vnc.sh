#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# bench/vnc.sh BUILD_DIR - the wall's cost (issue 16): a course of N tiny
# guests (N=10 by default; the issue's goal is stated for 30) on a private
# labd with [vnc], one viewer on the wall (tests/integration/vncpeek,
# which asks for the next update as each one arrives, as viewers do).
# Once the screens are still, for WINDOW seconds (default 20):
#
#   labd CPU     labd's user+system time over the window, % of one core
#                (the VNC thread included; QEMU is not labd)
#   bytes/s      what labd sent to the viewer (the kernel's bytes_acked
#                of the connection, ss -ti), goal: near zero
#
# Then one key typed into a zoomed tile: the milliseconds until the
# viewer has the changed pixels.  Traffic goes to 127.0.0.1 only.
#
# Measured on a 2-core host without KVM (TCG), the viewer asking for raw
# pixels (the worst case), `make bench-vnc N=30` / `N=30 bench/vnc.sh build`:
#   30 VMs (29 ready, one kernel panicked at boot under the load):
#     labd CPU 2.1 % of a core, 34 bytes/s to the viewer, key to pixels 31 ms
#   10 VMs: labd CPU 1.0 %, 76 bytes/s, key to pixels 71 ms
# Before the wall compared pixels (whole tiles re-sent when a cursor
# blinked) the 10 VMs cost 3.2 MB/s.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
B=$(cd "${1:-$top/build}" && pwd)
N=${N:-10}
WINDOW=${WINDOW:-20}
VPORT=26590
. "$(dirname "$0")/lib.sh"
chmod 0755 "$T"	# the VMs' QEMU users pass through it

bench_ini 26500
printf 'Bench123\n' >"$T/teacher.pass"
printf '[vnc]\nlisten = 127.0.0.1:%s\npassword_file = %s/teacher.pass\n' \
	"$VPORT" "$T" >>"$T/labd.ini"
bench_labd_start
"$L" template import tiny "$B/templates/tiny.ini" >/dev/null
{ echo id,name,email,ssh_key; for i in $(seq "$N"); do echo "s$i,S $i,,"; done; } >"$T/roster.csv"
echo "accelerator: $("$L" status --json | jq -r .accel), $N tiny VMs"
"$L" course create w --template tiny --roster "$T/roster.csv" >/dev/null
# Under TCG on a loaded host a tiny kernel may panic at boot (its timer
# check); the bench goes on with the VMs that are ready, and says so.
"$L" wait --course w --timeout "${WAIT:-600}" >/dev/null 2>&1 || true
ready=$("$L" list w --json | jq '[.[] | select(.state == "ready")] | length')
echo "$ready of $N VMs ready"
sleep 10		# the consoles print their prompts

ticks() { awk '{ print $14 + $15 }' "/proc/$LABD_PID/stat"; }
hz=$(getconf CLK_TCK)
acked() {	# bytes labd's side of the viewer's connection had acked
	ss -tinH state established "( sport = :$VPORT )" |
	    grep -o 'bytes_acked:[0-9]*' | head -1 | cut -d: -f2
}

"$B/tests/vncpeek" 127.0.0.1:$VPORT "$T/teacher.pass" \
	sleep $(( (WINDOW + 15) * 1000 )) >/dev/null 2>&1 &
viewer=$!
sleep 10		# the first full picture of every tile
b0=$(acked); c0=$(ticks); t0=$(date +%s.%N)
sleep "$WINDOW"
b1=$(acked); c1=$(ticks); t1=$(date +%s.%N)
kill $viewer 2>/dev/null || true
wait $viewer 2>/dev/null || true

el=$(echo "$t1 - $t0" | bc -l)
printf 'wall of %d VMs, 1 viewer, %d s of still screens:\n' "$N" "$WINDOW"
printf '  labd CPU     %.2f %% of a core\n' \
	"$(echo "($c1 - $c0) / $hz / $el * 100" | bc -l)"
printf '  bytes/s      %.0f to the viewer\n' \
	"$(echo "(${b1:-0} - ${b0:-0}) / $el" | bc -l)"

# A key in a zoomed tile: from the key to the viewer's changed pixels
# (the guest echoes it on its console), the median of 5.
lat=$("$B/tests/vncpeek" 127.0.0.1:$VPORT "$T/teacher.pass" sleep 3000 \
	key Return sleep 2000 latency x sleep 300 latency x sleep 300 \
	latency x sleep 300 latency x sleep 300 latency x 2>/dev/null |
	sort -n | sed -n 3p)
printf '  key to pixels %s ms (zoomed tile, median of 5)\n' "${lat:-?}"
"$L" stop --course w >/dev/null 2>&1 || true
