#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# bench/debian.sh BUILD_DIR - the Debian 12 template's figures (issue 11),
# on a private labd, in one run:
#
#   course   `course create` of 3 Debian VMs to all ready (cloud-init done,
#            pristine taken)
#   reset    RAM reset (labctl reset, to pristine) to the student's SSH
#            login answering, against reset --hard (a fresh disk and a
#            reboot) to the same; the goal: the RAM reset at least 20x
#            faster
#   pristine the size of a VM's pristine snapshot: its RAM state, and the
#            VM's disk with it inside
#   memory   PSS of each QEMU with 5 Debian guests running, KSM off, then
#            on (labd restarted with [vmm] ksm = on turns it on and
#            adopts the running VMs); the saving the kernel reports
#
# "SSH answering" is a real OpenSSH login that runs a command, as the
# student would.  Needs build/templates/debian-12.ini (make
# template-debian) and root (KSM).  Traffic goes to 127.0.0.1 only.
# RUNS (default 3) RAM resets and HARD_RUNS (default 2) hard resets are
# averaged.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
B=$(cd "${1:-$top/build}" && pwd)
RUNS=${RUNS:-3}
HARD_RUNS=${HARD_RUNS:-2}
KSM=/sys/kernel/mm/ksm
[ -f "$B/templates/debian-12.ini" ] || { echo "no $B/templates/debian-12.ini: make template-debian"; exit 1; }
[ "$(id -u)" -eq 0 ] && [ -w "$KSM/run" ] || { echo "bench/debian.sh needs root and $KSM (KSM)"; exit 1; }
. "$(dirname "$0")/lib.sh"
ksm_was=$(cat "$KSM/run")
bench_cleanup() { echo "$ksm_was" >"$KSM/run" 2>/dev/null || true; }

# KSM off for the first half: unmerge whatever the host had merged.
echo 2 >"$KSM/run"
bench_ini 24700 "ksm = off"
bench_labd_start
"$L" template import debian "$B/templates/debian-12.ini" >/dev/null
mem_mb=$("$L" template show debian --json | jq -r .memory_mb)
echo "host: $(nproc) cores; accelerator $("$L" status --json | jq -r .accel);" \
	"template $(du -h "$B/templates/debian-12.qcow2" | cut -f1) compressed, $mem_mb MiB per guest"

ssh-keygen -q -t ed25519 -N '' -f "$T/key"
k=$(cat "$T/key.pub")
printf 'id,name,ssh_key\nann,Ann,%s\nbea,Bea,%s\ncid,Cid,%s\n' "$k" "$k" "$k" >"$T/r3.csv"
printf 'id,name,ssh_key\ndan,Dan,%s\neve,Eve,%s\n' "$k" "$k" >"$T/r2.csv"

port() { "$L" list --json | jq -r --arg v "$1" '.[] | select(.name == $v) | .ports[0].port'; }
login() {	# login VM USER: a student's OpenSSH login that runs a command
	ssh -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
	    -o LogLevel=ERROR -o ConnectTimeout=10 -i "$T/key" -p "$(port "$1")" \
	    "$2@127.0.0.1" true
}

# --- course create of 3 --------------------------------------------------------
t=$(secs)
"$L" course create d --template debian --roster "$T/r3.csv" >/dev/null
"$L" wait --course d --timeout 1800 >/dev/null
t_course=$(echo "$(secs) - $t" | bc -l)
printf 'course: create to 3 of 3 ready (cloud-init done, pristine taken) %.1f s\n' "$t_course"

# --- pristine ----------------------------------------------------------------------
for vm in d-ann d-bea d-cid; do
	printf 'pristine: %s RAM state %s MiB; disk with pristine inside %s MiB allocated (template %s MiB, shared)\n' \
	    "$vm" "$("$L" snapshots "$vm" --json | jq -r '.[] | select(.name == "pristine") | .size / 1048576 | floor')" \
	    "$(( $(du -k "$T/state/vms/$vm/disk.qcow2" | cut -f1) / 1024 ))" \
	    "$(( $(du -k "$B/templates/debian-12.qcow2" | cut -f1) / 1024 ))"
done

# --- reset: RAM against a reboot ------------------------------------------------
ram=()
for i in $(seq "$RUNS"); do
	login d-ann ann
	sleep 2
	t=$(secs)
	"$L" reset d-ann >/dev/null
	login d-ann ann
	ram+=("$(echo "$(secs) - $t" | bc -l)")
done
# --hard: from the command to the student's first login that works; polled,
# so that labd's pristine snapshot after the boot is not counted.
hard=()
for i in $(seq "$HARD_RUNS"); do
	"$L" wait d-ann --timeout 1800 >/dev/null
	sleep 2
	t=$(secs)
	"$L" reset d-ann --hard >"$T/hard.out" 2>&1 &
	hard_pid=$!
	until [ "$("$L" list --json | jq -r '.[] | select(.name == "d-ann") | .state')" != ready ]; do
		sleep 0.1
	done
	until login d-ann ann 2>/dev/null; do sleep 0.5; done
	hard+=("$(echo "$(secs) - $t" | bc -l)")
	wait "$hard_pid" || { cat "$T/hard.out"; exit 1; }
done
t_ram=$(echo "${ram[*]}" | mean)
t_hard=$(echo "${hard[*]}" | mean)
printf 'reset: RAM reset to SSH login %s s (mean of %d: %s); reset --hard to SSH login %s s (mean of %d: %s); RAM reset %.1fx faster (goal >= 20x)\n' \
    "$t_ram" "$RUNS" "$(printf '%.2f ' "${ram[@]}")" "$t_hard" "$HARD_RUNS" \
    "$(printf '%.1f ' "${hard[@]}")" "$(echo "$t_hard / $t_ram" | bc -l)"

# --- memory: 5 guests, KSM off then on -----------------------------------------------
"$L" course create e --template debian --roster "$T/r2.csv" >/dev/null
"$L" wait --course e --timeout 1800 >/dev/null
"$L" wait --course d --timeout 1800 >/dev/null
pss() {	# PSS of the QEMUs, MiB: in all, and of the guest RAM mapping alone
	local p sum=0 ram=0 n=0 kb r
	for p in "$T"/run/vms/*/pid; do
		kb=$(awk '/^Pss:/ { print $2 }' "/proc/$(cat "$p")/smaps_rollup")
		# The guest's RAM is one anonymous mapping of its size (512 MiB);
		# the rest is QEMU itself, under TCG mostly its code buffer.
		r=$(awk -v want=$((mem_mb * 1024)) '
			/^[0-9a-f]+-[0-9a-f]+ / { size = 0; next }
			/^Size:/ { size = $2 }
			/^Pss:/ && size >= want && size <= want + 8192 { s += $2 }
			END { print s + 0 }' "/proc/$(cat "$p")/smaps")
		sum=$((sum + kb)) ram=$((ram + r)) n=$((n + 1))
	done
	printf '%d QEMUs, PSS %.0f MiB each on average (guest RAM %.0f MiB, QEMU itself %.0f MiB), %.0f MiB in all' \
	    "$n" "$(echo "$sum / $n / 1024" | bc -l)" "$(echo "$ram / $n / 1024" | bc -l)" \
	    "$(echo "($sum - $ram) / $n / 1024" | bc -l)" "$(echo "$sum / 1024" | bc -l)"
}
sleep 30	# the last boot's work settles
off=$(pss)
echo "memory: KSM off: $off"

# labd with ksm = on: it turns KSM on and adopts the running VMs.
kill "$LABD_PID"
for _ in $(seq 50); do kill -0 "$LABD_PID" 2>/dev/null || break; sleep 0.1; done
bench_ini 24700 "ksm = on"
bench_labd_start
[ "$(cat "$KSM/run")" = 1 ] || { echo "labd did not turn KSM on"; tail "$T/labd.log"; exit 1; }
# The kernel's scan goes at its own pace (pages_to_scan every
# sleep_millisecs): wait for three more full scans, and a saving that no
# longer grows by 1% between two looks 10 s apart, at most 15 minutes.
scans0=$(cat "$KSM/full_scans")
t=$(secs)
prev=0
while :; do
	sleep 10
	now=$(cat "$KSM/pages_sharing")
	if [ $(( $(cat "$KSM/full_scans") - scans0 )) -ge 3 ] &&
	    [ "$now" -le $(( prev + prev / 100 )) ]; then
		break
	fi
	prev=$now
	[ "$(echo "$(secs) - $t > 900" | bc)" = 1 ] && { echo "memory: KSM still merging after 15 min"; break; }
done
on=$(pss)
saved_mib=$(( $(cat "$KSM/pages_sharing") * $(getconf PAGESIZE) / 1048576 ))
printf 'memory: KSM on:  %s (after %.0f s, %d full scans)\n' "$on" \
    "$(echo "$(secs) - $t" | bc -l)" "$(( $(cat "$KSM/full_scans") - scans0 ))"
echo "memory: KSM saves $saved_mib MiB over the 5 guests (pages_sharing), $((saved_mib / 5)) MiB a guest"
"$L" stop --course d --force >/dev/null
"$L" stop --course e --force >/dev/null
