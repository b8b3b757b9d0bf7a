#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# bench/list300.sh [BUILD_DIR] - the control plane with a class of 300
# (issue 14: `labctl list` with 300 VMs in at most 10 ms).  A private labd
# whose [vmm] qemu is /bin/false holds a course of N VMs (default 300)
# that never run, so no QEMU is needed and the figures are labd's and
# labctl's own:
#
#   list        `labctl list` of N VMs, end to end (labctl started,
#               connected, answered, table printed): median and worst of
#               RUNS runs
#   json        the same with --json
#   course      `labctl list COURSE` of the same N
#   checked     `labctl --json list` again once every VM has a stored
#               check (two goals; the VMs never run, so each row says
#               "not running"): vm.list's checks_* come from one query
#   rss         labd's resident memory with N VMs
#
# The reference is the issue's goal, 10 ms for list.  Traffic: none but
# labd's UNIX socket.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
B=$(cd "${1:-$top/build}" && pwd)
N=${N:-300}
RUNS=${RUNS:-50}
. "$(dirname "$0")/lib.sh"

bench_ini 26100 "qemu = /bin/false"
bench_labd_start
"$L" template import tiny "$B/templates/tiny.ini" >/dev/null
{
	echo "id,name"
	for i in $(seq 1 "$N"); do printf 's%03d,Student %d\n' "$i" "$i"; done
} >"$T/roster.csv"
"$L" course create big --template tiny --roster "$T/roster.csv" \
	--overcommit >/dev/null
# Every start fails at once (QEMU is /bin/false); stopped, they stay put.
"$L" stop --course big --force >/dev/null 2>&1 || true
n=$("$L" --json list | jq length)
[ "$n" = "$N" ] || { echo "labd lists $n VMs, not $N"; exit 1; }

# ms CMD...: milliseconds of each of RUNS runs, one a line.  The clock
# is bash's own ($EPOCHREALTIME, microseconds): a `date` of its own
# would add one more process start to every figure, and starting a
# process is a few ms on a small VM.
ms() {
	local i t0 t1
	for i in $(seq "$RUNS"); do
		t0=${EPOCHREALTIME/./}
		"$@" >/dev/null
		t1=${EPOCHREALTIME/./}
		echo $(( t1 - t0 ))
	done | sort -n | awk -v r="$RUNS" '
		{ v[NR] = $1 }
		END { printf "%.1f %.1f", v[int((r + 1) / 2)] / 1000, v[r] / 1000 }'
}
read -r lmed lmax <<<"$(ms "$L" list)"
read -r jmed jmax <<<"$(ms "$L" --json list)"
read -r cmed cmax <<<"$(ms "$L" list big)"
# Every VM checked (rows "not running"): the cost of vm.list's checks_*.
mkdir -p "$T/goals"
printf '#!/bin/sh\ntrue\n' >"$T/goals/a"
printf '#!/bin/sh\nfalse\n' >"$T/goals/b"
chmod +x "$T/goals"/*
"$L" check big "$T/goals" >/dev/null
n=$("$L" --json list | jq '[.[] | select(.checks_total == 2)] | length')
[ "$n" = "$N" ] || { echo "labd lists $n checked VMs, not $N"; exit 1; }
read -r kmed kmax <<<"$(ms "$L" --json list)"
# labctl's own start, and any program's (/bin/true), to read the rest
# as labd's share.
read -r hmed hmax <<<"$(ms "$L" --help)"
read -r tmed tmax <<<"$(ms /bin/true)"

rss=$(awk '/^VmRSS/ { print $2 }' /proc/"$LABD_PID"/status)

printf '%-34s %8s %8s\n' "$N VMs (runs: $RUNS)" "median" "worst"
printf '%-34s %6s ms %5s ms\n' "labctl list" "$lmed" "$lmax"
printf '%-34s %6s ms %5s ms\n' "labctl --json list" "$jmed" "$jmax"
printf '%-34s %6s ms %5s ms\n' "labctl list big" "$cmed" "$cmax"
printf '%-34s %6s ms %5s ms\n' "labctl --json list, all checked" "$kmed" "$kmax"
printf '%-34s %6s ms %5s ms\n' "labctl --help (no labd: its start)" "$hmed" "$hmax"
printf '%-34s %6s ms %5s ms\n' "/bin/true (any process's start)" "$tmed" "$tmax"
printf '%-34s %6s MiB\n' "labd resident memory" "$(( rss / 1024 ))"
printf 'labctl list against the goal of 10 ms: %s\n' \
	"$(echo "scale=2; $lmed / 10" | bc)"
