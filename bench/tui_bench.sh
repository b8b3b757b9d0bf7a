#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# bench/tui_bench.sh [BUILD_DIR] - labtui's figures with 500 VMs, no labd:
#
#   draw     the first full screen of 500 VMs (sort, layout, every cell
#            sent to the terminal), at 100x30 and at 200x60
#   events   100 vm.state events applied, each followed by a draw (the
#            worst case), and as one burst with one draw (what the loop
#            does when they come together)
#   scroll   the frames drawn for 40 PgDn/PgUp, End, Home, 8 sort changes
#            and a filter: mean and worst frame
#   idle     CPU used by labtui doing nothing for 10 s (its clock, the
#            /proc samples of 500 QEMU pids every 2 s)
#
# labtui --replay FILE reads the VMs and the events from a JSON-lines file
# instead of labd's socket and prints its timings when it quits; it runs
# in a detached tmux of known size, like a person's terminal.  Every VM
# "runs" as this script's own pid, so the /proc reads are real ones.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
B=$(cd "${1:-$top/build}" && pwd)
LABTUI=$B/labtui
N=${N:-500}
NEV=${NEV:-100}
T=$(mktemp -d /tmp/labtui-bench.XXXXXX)
TM=(tmux -S "$T/tmux.sock" -f /dev/null)
cleanup() {
	"${TM[@]}" kill-server 2>/dev/null || true
	rm -rf "$T"
}
trap cleanup EXIT
[ -x "$LABTUI" ] || { echo "no $LABTUI: build labtui first"; exit 1; }
command -v tmux >/dev/null || { echo "tmux is needed"; exit 1; }

# --- the replay file ----------------------------------------------------------
states=(ready ready ready ready ready booting stopped suspended restoring failed)
{
	echo '{"status":{"version":"bench","accel":"kvm","uptime":86400,"vms_total":'"$N"'}}'
	for i in $(seq 1 "$N"); do
		c=$(( (i - 1) / 50 ))
		st=${states[$((i % 10))]}
		pid=0
		case $st in ready|booting|restoring) pid=$$ ;; esac
		printf '{"name":"lab%02d-s%03d","course":"lab%02d","student":"s%03d","state":"%s","desired":"running","pid":%d,"uptime":%d,"ports":[{"service":"ssh","ip":"203.0.113.10","port":%d,"guest_port":22},{"service":"http","ip":"203.0.113.11","port":%d,"guest_port":80}],"connections":%d,"snapshot":"pristine"}\n' \
		    "$c" "$i" "$c" "$i" "$st" "$pid" $((i * 37)) $((22000 + i)) \
		    $((8000 + i)) $((i % 3))
	done
	for i in $(seq 1 "$NEV"); do
		v=$(( (i * 7919) % N + 1 )); c=$(( (v - 1) / 50 ))
		st=restoring; [ $((i % 2)) -eq 0 ] && st=ready
		printf '{"event":"vm.state","data":{"name":"lab%02d-s%03d","course":"lab%02d","student":"s%03d","state":"%s","desired":"running","pid":%d,"uptime":%d,"ports":[{"service":"ssh","ip":"203.0.113.10","port":%d,"guest_port":22}],"connections":0,"snapshot":"lab%d"}}\n' \
		    "$c" "$v" "$c" "$v" "$st" $$ "$i" $((22000 + v)) "$i"
	done
} >"$T/replay.jsonl"

ticks() {	# utime + stime of PID, in clock ticks
	awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"
}

# run_size W H: one run of labtui at W x H; prints its figures.
run_size() {
	local w=$1 h=$2 pid t0 t1 hz k
	"${TM[@]}" kill-server 2>/dev/null || true
	"${TM[@]}" new-session -d -x "$w" -y "$h" -s b \
	    "exec '$LABTUI' --replay '$T/replay.jsonl' 2>'$T/figures.$w'"
	"${TM[@]}" set-option -g status off >/dev/null
	for _ in $(seq 50); do
		"${TM[@]}" capture-pane -p -t b 2>/dev/null | grep -q 'lab00-s001' && break
		sleep 0.1
	done
	pid=$("${TM[@]}" display -p -t b '#{pane_pid}')
	# scrolling, sorting, filtering: the interactive frames
	for _ in $(seq 20); do "${TM[@]}" send-keys -t b NPage; done
	"${TM[@]}" send-keys -t b End Home
	for _ in $(seq 20); do "${TM[@]}" send-keys -t b NPage; done
	for k in '>' '>' '>' '>' '>' '>' '>' '>'; do "${TM[@]}" send-keys -t b "$k"; done
	"${TM[@]}" send-keys -t b / s 1 2 Enter Escape c c
	sleep 1
	hz=$(getconf CLK_TCK)
	t0=$(ticks "$pid")
	sleep 10
	t1=$(ticks "$pid")
	"${TM[@]}" send-keys -t b q
	for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	sed "s/^labtui replay: /  /" "$T/figures.$w"
	printf '  idle: %d ticks in 10 s = %.2f%% of one CPU\n' $((t1 - t0)) \
	    "$(echo "scale=4; ($t1 - $t0) * 100 / $hz / 10" | bc)"
}

echo "labtui bench: $N VMs, $NEV events, $(nproc) cores, $(tmux -V)"
echo "at 100x30:"
run_size 100 30
echo "at 200x60:"
run_size 200 60
