#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# test_limits.sh - each VM's QEMU runs under limits of its own (issue 14,
# item 5): memory, CPU weight, I/O weight and processes, set in its
# cgroups by labd's privileged helper before QEMU runs.  labd uses each
# controller where the host has it, cgroup v2 or v1: the test reads the
# mode labd reports and checks the values in that mode's files, and fails
# when labd reports no limits on a host that has the controllers.  Then
# course set changes them (from each VM's next start), and bad values are
# refused naming the field, nothing stored.
set -u
. "$(dirname "$0")/lib.sh"

write_ini 27100
# labd's defaults (labd.h): tb_size 32 MiB, QEMU's margin 128 MiB.
TB_MB=32
MARGIN_MB=128

[ "$(id -u)" = 0 ] || { not_ok "test_limits needs root (cgroups)"; finish test_limits; exit 1; }

two_students lm

# Where the host has each controller, found here rather than from labd.
V2=
for m in /sys/fs/cgroup /sys/fs/cgroup/unified; do
	[ -f "$m/cgroup.controllers" ] && { V2=$m; break; }
done
host_has() {	# host_has V2NAME V1NAME
	{ [ -n "$V2" ] && grep -qw "$1" "$V2/cgroup.controllers"; } ||
	awk -v c="$2" '$3 == "cgroup" { n = split($4, o, ","); for (i = 1; i <= n; i++) if (o[i] == c) f = 1 } END { exit !f }' /proc/self/mounts
}
v1_dir() {	# v1_dir V1NAME: that controller's v1 mount
	awk -v c="$1" '$3 == "cgroup" { n = split($4, o, ","); for (i = 1; i <= n; i++) if (o[i] == c) print $2 }' /proc/self/mounts | head -1
}
"$LABCTL" status --json >"$T/status.json"
mode=$(jq -r .limits.mode "$T/status.json")
echo "# labd reports limits: $mode"
declare -A WHERE
for c in memory cpu io pids; do
	WHERE[$c]=$(jq -r ".limits.$c // \"none\"" "$T/status.json")
done
host_any=0
for p in "memory memory" "cpu cpu" "pids pids"; do
	host_has $p && host_any=1
done
limits_reported() {
	[ "$host_any" = 0 ] && return 0
	case $mode in none*) return 1 ;; esac
	[ "${WHERE[memory]}" != none ] && [ "${WHERE[cpu]}" != none ] &&
	    [ "${WHERE[pids]}" != none ]
}
check "labd reports limits on a host with the controllers ($mode)" \
	limits_reported
check "labctl status shows the limits' mode" \
	sh -c '"$0" status | grep -Eq "^limits +cgroup v(1|2|1\+v2) \(memory v[12], cpu v[12]"' "$LABCTL"
# The io weight: v1's blkio.weight exists only with CFQ or BFQ; labd says so.
io_told() {
	[ "${WHERE[io]}" != none ] && return 0
	case $mode in *"blkio.weight absent"*) return 0 ;; esac
	! host_has io blkio
}
check "an io weight, or labd says why none" io_told

# grp_dir VM CONTROLLER: the folder of VM's QEMU for that controller, from
# /proc/PID/cgroup, in the mode labd reports for it.
pid_of() { cat "$T/run/vms/$1/pid" 2>/dev/null; }
grp_dir() {
	local pid rel
	pid=$(pid_of "$1")
	case ${WHERE[$2]} in
	v2)
		rel=$(awk -F: '$1 == "0" { print $3 }' "/proc/$pid/cgroup")
		echo "$V2$rel" ;;
	v1)
		local v1=$2
		[ "$2" = io ] && v1=blkio
		rel=$(awk -F: -v c="$v1" '{ n = split($2, o, ","); for (i = 1; i <= n; i++) if (o[i] == c) print $3 }' "/proc/$pid/cgroup")
		echo "$(v1_dir "$v1")$rel" ;;
	esac
}
# value VM CONTROLLER: the limit set for VM, in v2 units (bytes, weight).
value() {
	local d
	d=$(grp_dir "$1" "$2")
	case ${WHERE[$2]}:$2 in
	v2:memory) cat "$d/memory.max" ;;
	v2:cpu) cat "$d/cpu.weight" ;;
	v2:io) awk '$1 == "default" { print $2 }' "$d/io.weight" ;;
	v2:pids) cat "$d/pids.max" ;;
	v1:memory) cat "$d/memory.limit_in_bytes" ;;
	v1:cpu) echo $(( $(cat "$d/cpu.shares") * 100 / 1024 )) ;;
	v1:io) echo $(( $(cat "$d/blkio.weight") / 5 )) ;;
	v1:pids) cat "$d/pids.max" ;;
	esac
}
# expect VM MEM CPU PIDS: each controller labd uses holds these values,
# and the QEMU is listed in each of its folders, named after the VM.
expect() {
	local vm=$1 pid c d want
	declare -A w=([memory]=$2 [cpu]=$3 [io]=100 [pids]=$4)
	pid=$(pid_of "$vm")
	[ -n "$pid" ] || { echo "no pid for $vm"; return 1; }
	for c in memory cpu io pids; do
		[ "${WHERE[$c]}" = none ] && continue
		d=$(grp_dir "$vm" "$c")
		case $d in */labd-vms/"$vm") ;; *) echo "$vm $c: folder '$d'"; return 1 ;; esac
		grep -qx "$pid" "$d/cgroup.procs" || { echo "$pid not in $d"; return 1; }
		want=${w[$c]}
		[ "$(value "$vm" "$c")" = "$want" ] ||
			{ echo "$vm $c: $(value "$vm" "$c"), not $want (${WHERE[$c]})"; return 1; }
	done
}

ram=$(sqlite3 "$T/state/labd.db" "SELECT memory_mb FROM templates WHERE name = 'tiny'")
auto=$(( (ram + TB_MB + MARGIN_MB) * 1048576 ))
echo "# guest RAM $ram MiB: memory_max auto $((auto >> 20)) MiB"
check "ann's QEMU: its own groups, memory guest RAM + tb_size + margin, cpu 100, pids 256" \
	expect lm-ann $auto 100 256
check "ben's QEMU: the same in groups of its own" expect lm-ben $auto 100 256
swap_none() {
	local d
	[ "${WHERE[memory]}" = v2 ] || return 0
	d=$(grp_dir lm-ann memory)
	[ ! -f "$d/memory.swap.max" ] || [ "$(cat "$d/memory.swap.max")" = 0 ]
}
check "no swap beyond memory_max (v2's memory.swap.max 0)" swap_none

# What a booted tiny QEMU takes, against its limits (the margin's reason).
peak_kb=$(awk '$1 == "VmHWM:" { print $2 }' "/proc/$(pid_of lm-ann)/status")
threads=$(awk '$1 == "Threads:" { print $2 }' "/proc/$(pid_of lm-ann)/status")
# What the memory controller counted at most (RSS counts shared libraries).
md=$(grp_dir lm-ann memory)
charged=$(cat "$md/memory.max_usage_in_bytes" 2>/dev/null || cat "$md/memory.peak" 2>/dev/null || echo 0)
echo "# ann's QEMU after boot: peak RSS $((peak_kb / 1024)) MiB, peak charged to its group $((charged >> 20)) MiB (limit $((auto >> 20)) MiB), $threads threads (limit 256)"
check "the booted QEMU's peak RSS is below its memory limit" \
	test $((peak_kb * 1024)) -lt "$auto"
check "its threads are well below pids_max" test "$threads" -lt 128
# A snapshot with RAM is what makes QEMU grow most: under its limit, ben's
# QEMU lives through one.
bpid=$(pid_of lm-ben)
check "a RAM snapshot of ben under its memory limit" \
	"$LABCTL" snapshot lm-ben lim1
check "ben's QEMU lived through it (same pid, ready)" \
	sh -c '[ "$(cat "$1")" = "$2" ] && "$0" list --json |
	    jq -e ".[] | select(.name == \"lm-ben\") | .state == \"ready\""' \
	"$LABCTL" "$T/run/vms/lm-ben/pid" "$bpid"
md=$(grp_dir lm-ben memory)
charged=$(cat "$md/memory.max_usage_in_bytes" 2>/dev/null || cat "$md/memory.peak" 2>/dev/null || echo 0)
echo "# ben's QEMU after a RAM snapshot: peak charged to its group $((charged >> 20)) MiB (limit $((auto >> 20)) MiB)"
show_auto() {
	"$LABCTL" course show lm >"$T/show"
	grep -Eq "^memory_max +$((auto >> 20)) MiB \(auto\)$" "$T/show" &&
	grep -Eq '^cpu_weight +100 \(default\)$' "$T/show" &&
	grep -Eq '^pids_max +256 \(default\)$' "$T/show"
}
check "course show prints the limits, defaults marked" show_auto

# Bad values: refused naming the field, nothing stored.
refused() {	# refused FIELD TEXT SETTING
	local field=$1 text=$2
	shift 2
	! "$LABCTL" course set lm "$@" >"$T/bad.out" 2>&1 &&
	grep -q "$field" "$T/bad.out" && grep -q -- "$text" "$T/bad.out" ||
	{ cat "$T/bad.out"; return 1; }
}
check "memory_max below the guest's RAM is refused with the numbers" \
	refused memory_max "$ram MiB" memory_max=64M
check "memory_max=lots is refused naming the field" \
	refused memory_max "not a size" memory_max=lots
check "cpu_weight=0 is refused naming the field" \
	refused cpu_weight "1 to 10000" cpu_weight=0
check "pids_max=abc is refused naming the field" \
	refused pids_max "64 to 65536" pids_max=abc
check "a refused change stored nothing (a good value with a bad one)" \
	sh -c '! "$0" course set lm cpu_weight=300 pids_max=1 >/dev/null 2>&1 &&
	    "$0" course show lm | grep -Eq "^cpu_weight +100 \(default\)$"' "$LABCTL"

# A change: stored, shown, and applied at the VM's next start.
check "course set cpu_weight=300 memory_max=400M pids_max=128" \
	sh -c '"$0" course set lm cpu_weight=300 memory_max=400M pids_max=128 >"$1"' \
	"$LABCTL" "$T/set.out"
sed 's/^/# /' "$T/set.out"
check "course set says when it applies" \
	grep -q "applied at each VM's next start" "$T/set.out"
check "course show prints the new limits" \
	sh -c '"$0" course show lm | grep -Eq "^memory_max +400 MiB$"' "$LABCTL"
check "ben, not restarted, keeps the limits it started with" \
	expect lm-ben $auto 100 256
old=$(pid_of lm-ann)
check "ann restarts" "$LABCTL" restart lm-ann
check "ann runs a new QEMU" test "$(pid_of lm-ann)" != "$old"
check "ann's new QEMU has the course's new limits" \
	expect lm-ann $((400 * 1048576)) 300 128
check "memory_max=auto goes back to the default" \
	"$LABCTL" course set lm memory_max=auto cpu_weight=default
check "course show: memory_max auto, cpu_weight default again" \
	sh -c '"$0" course show lm | grep -Eq "^memory_max +'$((auto >> 20))' MiB \(auto\)$" &&
	    "$0" course show lm | grep -Eq "^cpu_weight +100 \(default\)$"' "$LABCTL"

# Stopped: its folders go, in every hierarchy (the helper's remove path).
dirs=()
for c in memory cpu io pids; do
	[ "${WHERE[$c]}" = none ] || dirs+=("$(grp_dir lm-ann "$c")")
done
check "ann stops" "$LABCTL" stop lm-ann --force
# A QEMU's folder goes once init has reaped it: labd tries every 0.5 s.
left() {
	local d
	for d in "${dirs[@]}"; do [ -d "$d" ] && return 0; done
	return 1
}
folders_gone() {
	local d
	for _ in $(seq 40); do
		left || return 0
		sleep 0.5
	done
	for d in "${dirs[@]}"; do [ -d "$d" ] && echo "still there: $d"; done
	return 1
}
check "ann's cgroup folders are removed when it stops (${#dirs[@]} of them)" \
	folders_gone
check "ben runs on" test -d "$(grp_dir lm-ben memory)"

# A start that finds its folder kept from the last one, as when the old
# QEMU is not reaped yet, with a lower limit: the new one is still set (v1
# refuses a memory limit above memory+swap's unless that is lifted first).
if [ "${WHERE[memory]}" != none ]; then
	mdir=${dirs[0]}
	mkdir "$mdir"
	if [ "${WHERE[memory]}" = v1 ]; then
		echo $((200 << 20)) >"$mdir/memory.limit_in_bytes"
		[ ! -f "$mdir/memory.memsw.limit_in_bytes" ] ||
			echo $((200 << 20)) >"$mdir/memory.memsw.limit_in_bytes"
	else
		echo $((200 << 20)) >"$mdir/memory.max"
	fi
	sleep 600 &
	sleeper=$!
	echo "$sleeper" >"$mdir/cgroup.procs"
	check "memory_max=400M again" "$LABCTL" course set lm memory_max=400M
	check "ann starts in a folder left at 200 MiB with a process in it" \
		"$LABCTL" start lm-ann
	check "ann's QEMU has 400 MiB all the same" \
		expect lm-ann $((400 * 1048576)) 100 128
	kill "$sleeper"
	wait "$sleeper" 2>/dev/null
fi

finish test_limits
