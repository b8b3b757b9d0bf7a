#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# bench/snapshot.sh BUILD_DIR - reset in seconds (issue 4), measured on a
# private labd: reset to a RAM snapshot against a reboot-based reset
# (--hard), each to SSH answering, on the tiny guest (128 MiB) and on a
# guest with 1 GiB of RAM holding 400 MiB of data; suspend and resume
# times; a bulk reset of a course of three.  The goal: RAM restore at
# least 10x faster than --hard.  Traffic goes to 127.0.0.1 only.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
B=$(cd "${1:-$top/build}" && pwd)
RUNS=${RUNS:-3}
. "$(dirname "$0")/lib.sh"

bench_ini 24600
bench_labd_start
echo "accelerator: $("$L" status --json | jq -r .accel)"

# The same guest with 1 GiB of RAM: a profile beside the tiny one.
sed 's/^memory .*/memory     = 1G/' "$B/templates/tiny.ini" >"$B/templates/tiny1g.ini"
"$L" template import tiny "$B/templates/tiny.ini" >/dev/null
"$L" template import tiny1g "$B/templates/tiny1g.ini" >/dev/null
rm -f "$B/templates/tiny1g.ini"
ssh-keygen -q -t ed25519 -N '' -f "$T/key"
printf 'id,name,ssh_key\nann,Ann,%s\nbea,Bea,%s\ncid,Cid,%s\n' \
	"$(cat "$T/key.pub")" "$(cat "$T/key.pub")" "$(cat "$T/key.pub")" >"$T/r3.csv"
printf 'id,name,ssh_key\nbig,Big,%s\n' "$(cat "$T/key.pub")" >"$T/r1.csv"
"$L" course create s --template tiny --roster "$T/r3.csv" >/dev/null
"$L" course create g --template tiny1g --roster "$T/r1.csv" >/dev/null
"$L" wait --course s --timeout 900 >/dev/null
"$L" wait --course g --timeout 900 >/dev/null

port() { "$L" list --json | jq -r --arg v "$1" '.[] | select(.name == $v) | .ports[0].port'; }
on() {	# on VM USER CMD: root logs in with labd's own key
	local key=$T/key
	[ "$2" = root ] && key=$T/state/keys/labd_ed25519
	ssh -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
	    -o LogLevel=ERROR -o ConnectTimeout=30 -i "$key" -p "$(port "$1")" \
	    "$2@127.0.0.1" "$3"
}
# Time from the command to a login that runs a command: "SSH answering".
timed() {	# timed VM USER CMD...
	local vm=$1 user=$2 t
	shift 2
	t=$(secs)
	"$@" >/dev/null
	on "$vm" "$user" true
	echo "$(secs) - $t" | bc -l
}

bench_vm() {	# bench_vm VM USER LABEL
	local vm=$1 user=$2 label=$3 ram=() hard=() sus=() res=() i
	for i in $(seq "$RUNS"); do
		ram+=("$(timed "$vm" "$user" "$L" reset "$vm" --to full)")
	done
	for i in $(seq "$RUNS"); do
		sus+=("$(t=$(secs); "$L" suspend "$vm" >/dev/null; echo "$(secs) - $t" | bc -l)")
		res+=("$(timed "$vm" "$user" "$L" resume "$vm")")
	done
	for i in $(seq "$RUNS"); do
		hard+=("$(timed "$vm" "$user" "$L" reset "$vm" --hard)")
	done
	local login=()
	for i in $(seq "$RUNS"); do
		login+=("$(timed "$vm" "$user" true)")
	done
	printf 'ssh (%s): a login that runs true, alone: %s s (part of every figure below)\n' \
	    "$label" "$(echo "${login[*]}" | mean)"
	r=$(echo "${ram[*]}" | mean) h=$(echo "${hard[*]}" | mean)
	printf 'reset (%s): RAM restore to SSH answering %s s, --hard (reboot) %s s: RAM restore %sx faster (goal 10x); runs: %s | %s\n' \
	    "$label" "$r" "$h" "$(echo "scale=1; $h / $r" | bc)" "${ram[*]}" "${hard[*]}"
	printf 'suspend (%s): %s s; resume to SSH answering: %s s (mean of %d)\n' \
	    "$label" "$(echo "${sus[*]}" | mean)" "$(echo "${res[*]}" | mean)" "$RUNS"
}

# tiny: the snapshot "full" of a guest at rest.
"$L" snapshot s-ann full >/dev/null
size=$("$L" snapshots s-ann --json | jq -r '.[] | select(.name == "full") | .size')
echo "snapshot (tiny, 128 MiB): RAM state $((size / 1048576)) MiB"
bench_vm s-ann ann "tiny, 128 MiB"

# 1 GiB of RAM, 400 MiB of it data that must come back.
on g-big root 'mount -o remount,size=600m /tmp 2>/dev/null || mount -t tmpfs -o size=600m tmpfs /tmp;
	dd if=/dev/urandom of=/tmp/fill bs=1M count=400 2>/dev/null'
t=$(secs)
"$L" snapshot g-big full >/dev/null
size=$("$L" snapshots g-big --json | jq -r '.[] | select(.name == "full") | .size')
printf 'snapshot (1 GiB, 400 MiB used): RAM state %d MiB, taken in %.2f s\n' \
	$((size / 1048576)) "$(echo "$(secs) - $t" | bc -l)"
bench_vm g-big big "1 GiB, 400 MiB used"

t=$(secs)
"$L" reset --course s --yes >/dev/null
printf 'bulk: reset --course of 3 VMs to pristine, wall time %.2f s\n' \
	"$(echo "$(secs) - $t" | bc -l)"
# Not a figure: a failure to stop is shown, the clean-up kills the rest.
"$L" stop --course s --force >/dev/null || echo "note: stop --course s failed (above)"
"$L" stop --course g --force >/dev/null || echo "note: stop --course g failed (above)"
