#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# bench/collect.sh BUILD_DIR - labctl collect against plain scp of the
# same files, on COLLECT_VMS (3) tiny guests with COLLECT_MB (10) MB
# each (random, so that nothing compresses), the real OpenSSH client on
# loopback:
#
#   collect    `labctl collect COURSE /home/*/bench --to DEST`: one VM
#              after the other, the guest's tar over labd's SSH session,
#              the stream passed to labctl, which unpacks it and sums
#              every file (sha256) for the manifest
#   scp        `scp -r` of each student's folder, one VM after the other,
#              as the student with the student's key (the guest's
#              sftp-server), nothing summed
#
#   offline    the same labctl collect once the course is stopped: labd
#              boots the collector appliance on each VM's disk, read-only,
#              one after the other (boot included)
#
# Both read the same files through the same guest sshd (dropbear) and
# QEMU's hostfwd, so the guest's crypto under TCG bounds both; the
# figures say what labd's path costs on top.  Each is run COLLECT_RUNS
# (2) times, interleaved, and the means are printed with the ratio.
# Under TCG (18:45, 2026-12-05): collect 5.99 s (5.0 MB/s), scp 8.61 s
# (3.4 MB/s) for 3 x 10 MB, collect/scp 1.43: scp's SFTP asks for each
# block, the tar stream does not wait for answers.  Offline, under TCG
# (04:52, 2026-12-06; collect 3.87 s, scp 4.87 s that run): 9.63 s for
# the 3 stopped VMs, 3.2 s a VM of which most is the appliance's boot.
# Traffic goes to 127.0.0.1 only.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
B=$(cd "${1:-$top/build}" && pwd)
N=${COLLECT_VMS:-3}
MB=${COLLECT_MB:-10}
RUNS=${COLLECT_RUNS:-2}
. "$top/bench/lib.sh"
ratio() { echo "scale=2; $1 / $2" | bc; }

bench_ini 26700 "collector = $B/templates"
ssh-keygen -q -t ed25519 -N '' -f "$T/key"
{
	echo "id,name,email,ssh_key"
	for i in $(seq "$N"); do echo "s$i,S$i,,$(cat "$T/key.pub")"; done
} >"$T/roster.csv"
bench_labd_start
"$L" template import tiny "$B/templates/tiny.ini" >/dev/null
"$L" course create cb --template tiny --roster "$T/roster.csv" >/dev/null
"$L" wait --course cb --timeout 900 >/dev/null
echo "collect: $N tiny guests ($("$L" --json status | jq -r .accel)), $MB MB each"
for i in $(seq "$N"); do
	"$L" exec "cb-s$i" -- "mkdir -p /home/s$i/bench &&
	    head -c $((MB * 1024 * 1024)) /dev/urandom >/home/s$i/bench/data.bin &&
	    echo small >/home/s$i/bench/notes.txt && chown -R s$i /home/s$i/bench" \
	    >/dev/null
done

SSHO=(-o BatchMode=yes -o StrictHostKeyChecking=no
	-o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -i "$T/key")
collect_once() {	# seconds of one labctl collect of the course
	local t0 t1 d=$T/c.$RANDOM
	t0=$(secs)
	"$L" collect cb '/home/*/bench' --to "$d" >"$T/collect.out"
	t1=$(secs)
	[ "$(grep -c ': collected 2 files' "$T/collect.out")" = "$N" ] ||
		{ cat "$T/collect.out" >&2; exit 1; }
	rm -rf "$d"
	echo "$t1 - $t0" | bc
}
scp_once() {	# seconds of scp -r of every student's folder, in turn
	local t0 t1 i port d=$T/s.$RANDOM
	mkdir -p "$d"
	t0=$(secs)
	for i in $(seq "$N"); do
		port=$("$L" --json list cb | jq -r ".[] | select(.name == \"cb-s$i\") |
		    .ports[] | select(.service == \"ssh\") | .port")
		mkdir -p "$d/s$i"
		scp -q -r "${SSHO[@]}" -P "$port" "s$i@127.0.0.1:/home/s$i/bench" "$d/s$i/"
	done
	t1=$(secs)
	[ "$(find "$d" -name data.bin | wc -l)" = "$N" ] || exit 1
	rm -rf "$d"
	echo "$t1 - $t0" | bc
}
tc=() ts=()
for _ in $(seq "$RUNS"); do
	tc+=("$(collect_once)")
	ts+=("$(scp_once)")
done
mc=$(echo "${tc[*]}" | mean)
ms=$(echo "${ts[*]}" | mean)
total=$((N * MB))
"$L" stop --course cb >/dev/null
to=()
for _ in $(seq "$RUNS"); do
	to+=("$(collect_once)")
done
mo=$(echo "${to[*]}" | mean)
echo "collect ${mc} s ($(echo "scale=1; $total / $mc" | bc) MB/s)   scp ${ms} s ($(echo "scale=1; $total / $ms" | bc) MB/s)   collect/scp throughput $(ratio "$ms" "$mc") (mean of $RUNS, $total MB)"
echo "offline collect (VMs stopped) ${mo} s ($(echo "scale=1; $total / $mo" | bc) MB/s, $(echo "scale=2; $mo / $N" | bc) s a VM, the appliance's boot included)"
