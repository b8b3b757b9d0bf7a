#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# test_roles.sh - who may drive labd, seen through labctl run as other
# users: a teaching assistant (a member of [labd] ta_group) lists and
# resets a real tiny guest but is refused exec, template import and
# removals with a message naming the role; a member of the admin group
# may exec; a user in neither group, and an admin member whose process
# dropped its groups (setpriv --clear-groups: the groups come from the
# process, not from /etc/group), are refused at the door.  A run_dir
# anyone may write to stops labd before it listens.  The users and
# groups are made here (useradd, groupadd) and removed at the end.
set -u
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" -eq 0 ] || { echo "test_roles needs root (useradd)"; exit 1; }

ADM=ltadm$$
TA=ltta$$
NONE=ltnone$$
roles_cleanup() {
	local u
	for u in "$ADM" "$TA" "$NONE"; do
		userdel "$u" 2>/dev/null
	done
	groupdel "$ADM" 2>/dev/null
	groupdel "$TA" 2>/dev/null
	return 0
}
trap 'roles_cleanup; cleanup' EXIT
groupadd "$ADM" && groupadd "$TA" &&
	useradd -M -N -s /usr/sbin/nologin -g users -G "$ADM" "$ADM" &&
	useradd -M -N -s /usr/sbin/nologin -g users -G "$TA" "$TA" &&
	useradd -M -N -s /usr/sbin/nologin -g users "$NONE" ||
	{ echo "# cannot make the test's users and groups"; exit 1; }

write_ini 25300
sed -i "s/^run_dir .*/&\ngroup     = $ADM\nta_group  = $TA/" "$T/labd.ini"

# as USER labctl ARGS...: labctl as USER with the groups /etc/group gives.
as() {
	local u=$1
	shift
	setpriv --reuid="$u" --regid=users --init-groups "$LABCTL" "$@"
}

# refused_as USER "what" TEXT labctl-args...: labctl fails and says TEXT.
refused_as() {
	local u=$1 what=$2 want=$3
	shift 3
	if as "$u" "$@" >"$T/last.out" 2>&1; then
		not_ok "$what (it succeeded)"
		sed 's/^/#   /' "$T/last.out" | tail -5
	elif ! grep -qF -- "$want" "$T/last.out"; then
		not_ok "$what (no \"$want\")"
		sed 's/^/#   /' "$T/last.out" | tail -5
	else
		ok "$what: $(head -1 "$T/last.out")"
	fi
}

cat >"$T/roster.csv" <<EOF
id,name
ann,Ann
EOF

check "labd starts with a ta group" labd_start
check "the socket is mode 0666 with a ta group" \
	test "$(stat -c %a "$LABD_SOCKET")" = 666
check "template import (root)" "$LABCTL" template import tiny "$TINY"
check "course create (root)" "$LABCTL" course create ro --template tiny \
	--roster "$T/roster.csv"
check "the VM becomes ready" "$LABCTL" wait --course ro --timeout 400

ta_lists() { as "$TA" list ro | grep -q 'ro-ann'; }
check "the ta lists the VMs" ta_lists
check "the ta sees the status" as "$TA" status
ta_resets() {
	as "$TA" reset ro-ann && [ "$(vm_field ro-ann state)" = ready ]
}
check "the ta resets the VM, which is ready again" ta_resets
# The console socket is labd's user's alone: labd connects for the ta
# and passes the socket on.  Enter brings the guest's login prompt.
ta_console() {
	{ printf '\r'; sleep 2; printf '\035'; } |
	    timeout 20 setpriv --reuid="$TA" --regid=users --init-groups \
	    "$LABCTL" console ro-ann >"$T/tacons.out" 2>&1
	grep -q 'login:' "$T/tacons.out" && grep -q 'closed' "$T/tacons.out"
}
check "the ta opens the VM's serial console through labd" ta_console
check_fails "the ta cannot reach the console socket itself" \
	setpriv --reuid="$TA" --regid=users --init-groups \
	socat -T2 - "UNIX-CONNECT:$T/run/vms/ro-ann/serial.sock"
refused_as "$TA" "the ta may not exec" "vm.exec: refused to uid" \
	exec ro-ann -- true
refused_as "$TA" "the ta's refusal names the role" "whose role is ta (group $TA)" \
	exec ro-ann -- true
mkdir -m 0777 "$T/ta-dest"
refused_as "$TA" "the ta may not collect" "vm.collect: refused to uid" \
	collect ro /root --to "$T/ta-dest"
refused_as "$TA" "the ta may not import a template" \
	"template.import: refused to uid" template import tiny2 "$TINY"
refused_as "$TA" "the ta may not remove a template" \
	"template.rm: refused to uid" template rm tiny
refused_as "$TA" "the ta may not remove a course" \
	"course.rm: refused to uid" course rm ro --yes
check "nothing was removed" bash -c \
	"'$LABCTL' list ro | grep -q ro-ann && '$LABCTL' template list | grep -q tiny@1 &&
	! '$LABCTL' template list | grep -q tiny2"
admin_execs() { as "$ADM" exec ro-ann -- echo from-admin | grep -q from-admin; }
check "a member of the admin group may exec" admin_execs
refused_as "$NONE" "a user in neither group gets no console" \
	"may not drive labd" console ro-ann
refused_as "$NONE" "a user in neither group is refused" \
	"may not drive labd" list
# The admin's groups, as /etc/group has them, but not in the process.
cleared() {
	setpriv --reuid="$ADM" --regid=users --clear-groups "$LABCTL" list \
	    >"$T/last.out" 2>&1 && return 1
	grep -q "may not drive labd" "$T/last.out"
}
check "an admin member whose process dropped the group is refused" cleared

# A run_dir anyone may write to: labd refuses to start, and says why.
mkdir -p "$T/open/run"
chmod 0777 "$T/open/run"
sed -e "s|^run_dir .*|run_dir   = $T/open/run|" \
	-e "s|^state_dir .*|state_dir = $T/open/state|" "$T/labd.ini" >"$T/open.ini"
open_refused() {
	timeout 20 "$LABD" -d -c "$T/open.ini" >"$T/open.log" 2>&1 && return 1
	grep -q "run_dir $T/open/run is owned by uid 0 (root) with mode 0777" \
	    "$T/open.log" && [ ! -e "$T/open/run/labd.sock" ]
}
check "a run_dir with mode 0777 stops labd" open_refused

check "stop the VM (root)" "$LABCTL" stop ro-ann
finish test_roles
