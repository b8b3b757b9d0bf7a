#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# test_confine.sh - each VM's QEMU is confined to itself (issue 13, hole
# 4).  Two real tiny guests: their QEMUs run as two different uids
# (uid_base + the VM's id), exec'd unprivileged with no capabilities,
# no_new_privs and a seccomp filter that denies privilege changes and new
# processes, each in a cgroup of its own.  Then an escaped QEMU is played
# by a shell with alice's QEMU's uid and groups: it can neither signal
# bob's QEMU nor read its memory map, environment or disk, nor read labd's
# database, nor list state_dir, nor talk to labd's control socket; what it
# may read is the template it boots from.  QEMU is started and stopped
# by labd's privileged helper, which ends with labd.
set -u
. "$(dirname "$0")/lib.sh"

UID_BASE=1879048192
write_ini 24300
cat >"$T/roster.csv" <<EOF
id,name
alice,Alice
bob,Bob
EOF

check "labd starts on a private socket" labd_start
check "template import" "$LABCTL" template import tiny "$TINY"
check "course create" "$LABCTL" course create cf --template tiny \
	--roster "$T/roster.csv"
check "both VMs become ready" "$LABCTL" wait --course cf --timeout 400
# labd measures it every 10 s: within 15 s of the VMs being ready.
measured() {
	for _ in $(seq 30); do
		"$LABCTL" status |
		    grep -Eq '^qemu per vm +[0-9]+ MiB beyond guest RAM \(measured\)' &&
		    return 0
		sleep 0.5
	done
	return 1
}
check "labctl status measures QEMU's own memory on the running VMs" measured

pa=$(cat "$T/run/vms/cf-alice/pid" 2>/dev/null)
pb=$(cat "$T/run/vms/cf-bob/pid" 2>/dev/null)
# status_of PID KEY: one field of /proc/PID/status.
status_of() { awk -v k="$2:" '$1 == k { $1 = ""; sub(/^ /, ""); print }' \
	"/proc/$1/status"; }
ua=$(status_of "$pa" Uid | awk '{ print $1 }')
ub=$(status_of "$pb" Uid | awk '{ print $1 }')
echo "# alice's QEMU pid $pa uid $ua, bob's pid $pb uid $ub"

two_uids() {
	[ -n "$ua" ] && [ -n "$ub" ] && [ "$ua" != "$ub" ] &&
	[ "$ua" -gt $UID_BASE ] && [ "$ub" -gt $UID_BASE ]
}
check "the two QEMUs run as two different uids above uid_base" two_uids
uid_is_id() {
	local id vm pid u
	for vm in cf-alice cf-bob; do
		id=$(sqlite3 "$T/state/labd.db" \
		    "SELECT id FROM vms WHERE name = '$vm'")
		[ -n "$id" ] || return 1
		pid=$(cat "$T/run/vms/$vm/pid")
		u=$((UID_BASE + id))
		[ "$(status_of "$pid" Uid)" = "$u $u $u $u" ] || return 1
	done
}
check "each QEMU's real, effective, saved and fs uid is uid_base + its id" \
	uid_is_id
unprivileged() {
	local pid
	for pid in "$pa" "$pb"; do
		[ "$(status_of "$pid" CapEff)" = 0000000000000000 ] &&
		[ "$(status_of "$pid" CapPrm)" = 0000000000000000 ] &&
		[ "$(status_of "$pid" NoNewPrivs)" = 1 ] &&
		[ "$(status_of "$pid" Seccomp)" = 2 ] || return 1
	done
}
check "no capabilities, no_new_privs, a seccomp filter" unprivileged
sandbox_strict() {
	tr '\0' '\n' <"/proc/$pa/cmdline" >"$T/cmdline"
	grep -qx 'on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny' \
	    "$T/cmdline" && ! grep -qx -- '-runas' "$T/cmdline" &&
	! grep -qx -- '-daemonize' "$T/cmdline" &&
	# The disk is a descriptor, never a name QEMU opens.
	grep -q 'file.filename=/dev/fdset/' "$T/cmdline" &&
	! grep -q 'disk.qcow2' "$T/cmdline" &&
	# ksm = auto (as root, on): the guest's RAM is offered to KSM.
	grep -qxE 'pc(,accel=kvm)?' "$T/cmdline"
}
check "the sandbox denies privilege changes and spawning; disk by fd" \
	sandbox_strict
own_cgroup() {
	grep -q '^0::/labd-vms/cf-alice$' "/proc/$pa/cgroup" &&
	grep -q '^0::/labd-vms/cf-bob$' "/proc/$pb/cgroup"
}
check "each QEMU is in a cgroup of its own" own_cgroup
check "QEMU's parent is not labd (it outlives labd)" \
	test "$(ps -o ppid= -p "$pa" | tr -d ' ')" != "$LABD_PID"

# as_alice CMD...: what alice's QEMU could do if a guest escaped into it.
as_alice() {
	setpriv --reuid="$ua" --regid="$ua" --groups=$UID_BASE "$@"
}
check_fails "alice's QEMU cannot signal bob's QEMU" as_alice kill -0 "$pb"
check_fails "alice's QEMU cannot read bob's QEMU's environment" \
	as_alice cat "/proc/$pb/environ"
check_fails "alice's QEMU cannot read bob's QEMU's memory map" \
	as_alice cat "/proc/$pb/maps"
check_fails "alice's QEMU cannot read bob's disk" \
	as_alice head -c 1 "$T/state/vms/cf-bob/disk.qcow2"
check_fails "alice's QEMU cannot read its own disk by name either" \
	as_alice head -c 1 "$T/state/vms/cf-alice/disk.qcow2"
check_fails "alice's QEMU cannot read labd's database" \
	as_alice head -c 1 "$T/state/labd.db"
check_fails "alice's QEMU cannot list state_dir" as_alice ls "$T/state"
check_fails "alice's QEMU cannot read the management key" \
	as_alice cat "$T/state/keys/labd_ed25519"
check_fails "alice's QEMU cannot use labd's control socket" \
	as_alice "$LABCTL" status
check_fails "alice's QEMU cannot enter bob's run folder" \
	as_alice ls "$T/run/vms/cf-bob"
tpl_readable() {
	local k
	k=$("$LABCTL" --json template show tiny | jq -r .kernel)
	[ -n "$k" ] && as_alice head -c 1 "$k" >/dev/null
}
check "alice's QEMU reads the template's kernel it boots from" tpl_readable

check "the guests still answer over SSH" \
	"$LABCTL" exec cf-alice -- true
check "stop the course" "$LABCTL" stop --course cf
cgroups_gone() {
	local mnt=/sys/fs/cgroup
	[ -f $mnt/cgroup.controllers ] || mnt=/sys/fs/cgroup/unified
	# A QEMU gone is a zombie until init reaps it: labd tries again.
	for _ in $(seq 100); do
		[ ! -d $mnt/labd-vms/cf-alice ] && [ ! -d $mnt/labd-vms/cf-bob ] &&
			return 0
		sleep 0.1
	done
	return 1
}
check "their cgroups go with them" cgroups_gone
check "course rm" "$LABCTL" course rm cf --yes

# The privileged helper: a child of labd, gone with it.
helper=$(pgrep -P "$LABD_PID" -x labd | head -1)
check "labd has its privileged helper as a child" test -n "$helper"
# labd itself is no longer root: uid uid_base, a group past the VMs',
# the VMs' group as its one other, no capabilities.  The helper is root.
daemon_unprivileged() {
	local d=$((UID_BASE + 65536))
	[ "$(status_of "$LABD_PID" Uid)" = "$UID_BASE $UID_BASE $UID_BASE $UID_BASE" ] &&
	[ "$(status_of "$LABD_PID" Gid)" = "$d $d $d $d" ] &&
	[ "$(status_of "$LABD_PID" Groups)" = "$UID_BASE" ] &&
	[ "$(status_of "$LABD_PID" CapEff)" = 0000000000000000 ] &&
	[ "$(status_of "$LABD_PID" CapPrm)" = 0000000000000000 ] &&
	[ "$(status_of "$helper" Uid | cut -d" " -f2)" = 0 ]
}
check "labd runs as uid_base without capabilities; only the helper is root" \
	daemon_unprivileged
state_owned() {
	[ "$(stat -c %u "$T/state/labd.db")" = "$UID_BASE" ] &&
	[ "$(stat -c %a "$T/state/labd.db")" = 600 ] &&
	[ "$(stat -c %u "$T/state")" = "$UID_BASE" ]
}
check "labd's state is its own user's, the database 0600" state_owned
kill -9 "$LABD_PID"
helper_gone() {
	for _ in $(seq 50); do
		gone "$helper" && return 0
		sleep 0.1
	done
	return 1
}
check "the helper ends when labd does" helper_gone
LABD_PID=

finish test_confine
