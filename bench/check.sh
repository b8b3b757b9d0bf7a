#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# bench/check.sh BUILD_DIR - labctl check of CHECK_GOALS (5) goals over a
# course of CHECK_VMS (10) tiny guests (issue 17): the wall time of one
# check of the whole course, against the same goals run in one VM alone,
# which is the reference: with the VMs checked in parallel the ratio stays
# well under the number of VMs (labd's worker pool bounds it).
#
# Each goal does a little work in the guest (a file read, a grep, a
# sleep of 0.2 s), so the figure is labd's fan-out plus the guests' SSH
# under TCG, not the scripts.  Runs CHECK_RUNS (3) times each; medians.
# Traffic goes to 127.0.0.1 only.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
B=$(cd "${1:-$top/build}" && pwd)
N=${CHECK_VMS:-10}
G=${CHECK_GOALS:-5}
RUNS=${CHECK_RUNS:-3}
. "$top/bench/lib.sh"

bench_ini 26800
{
	echo "id,name"
	for i in $(seq "$N"); do echo "s$i,S$i"; done
} >"$T/roster.csv"
bench_labd_start
"$L" template import tiny "$B/templates/tiny.ini" >/dev/null
"$L" course create kb --template tiny --roster "$T/roster.csv" >/dev/null
"$L" wait --course kb --timeout 1200 >/dev/null
mkdir -p "$T/goals"
for g in $(seq "$G"); do
	printf '%s\n' '#!/bin/sh' "# goal $g" 'sleep 0.2' \
	    "grep -q root /etc/passwd && test -n \"\$LAB_PARAM\"" \
	    >"$T/goals/g$g.sh"
done
chmod +x "$T/goals"/*.sh
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR + 1) / 2)]}'; }
once() {	# seconds of one check; $1: --student s1 or nothing
	local t0 t1
	t0=$(secs)
	"$L" check kb "$T/goals" ${1:+--student "$1"} --format csv >"$T/out.csv"
	t1=$(secs)
	# every row all met: the goals ran, nothing was skipped
	[ "$(awk -F, -v g="$G" 'NR > 1 && $NF == g' "$T/out.csv" | wc -l)" = \
	    "${2:-$N}" ] || { cat "$T/out.csv" >&2; exit 1; }
	echo "$t1 - $t0" | bc
}
all=() one=()
for _ in $(seq "$RUNS"); do
	all+=("$(once)")
	one+=("$(once s1 1)")
done
ta=$(printf '%s\n' "${all[@]}" | median)
to=$(printf '%s\n' "${one[@]}" | median)
echo "check: $G goals, $N tiny guests ($("$L" --json status | jq -r .accel)), $("$L" --json status | jq -r .jobs) jobs pending at the end"
printf '%-28s %8s s\n' "one VM (--student s1)" "$to" "all $N VMs" "$ta"
printf 'all / one: %s (%s VMs one after another would be %s)\n' \
	"$(echo "scale=2; $ta / $to" | bc)" "$N" "$N"
