#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# test_import.sh - a template import reads what its asker could read, and
# nothing the asker names can stall labd.  A user of the socket's group,
# not root, imports a profile and disk of their own; a profile that is a
# link to a root-only file, or is one, is refused without a word of it; a
# profile, bare disk or appliance naming a root-only file is refused; a
# FIFO named x.ini is refused at once while labd answers other clients;
# FIFOs named *.qcow2, as many as there are workers, are refused and pin
# no worker: a real import right after them goes through.
set -u
. "$(dirname "$0")/lib.sh"

write_ini 24900
# Four workers, so that (d)'s four FIFOs would pin every one of them.
sed -i 's/^run_dir .*/&\nworkers   = 4/' "$T/labd.ini"
[ "$(id -u)" = 0 ] || {
	echo "# not root: no user to import as; the FIFO checks run as $(id -un)"
}

# A user in the socket's group, made for this test and removed after it.
G=labit$$
U=labitu$$
ASKER=root
if [ "$(id -u)" = 0 ]; then
	groupadd "$G" && useradd -M -N -g "$G" -s /usr/sbin/nologin "$U" ||
		{ echo "# cannot make user $U"; exit 1; }
	trap 'userdel "$U" 2>/dev/null; groupdel "$G" 2>/dev/null; cleanup' EXIT
	sed -i "s/^\[labd\]\$/[labd]\ngroup = $G/" "$T/labd.ini"
	ASKER=$U
fi
as_user() {
	if [ "$ASKER" = root ]; then "$@"; else
		setpriv --reuid="$U" --regid="$G" --init-groups "$@"
	fi
}

# errors_with "what" "expected text" command...: fails, and says so.
errors_with() {
	local what=$1 want=$2
	shift 2
	if "$@" >"$T/err.out" 2>&1; then
		not_ok "$what (it succeeded)"
	elif grep -qF -- "$want" "$T/err.out"; then
		ok "$what: $(head -1 "$T/err.out")"
	else
		not_ok "$what (no \"$want\" in the error)"
		sed 's/^/#   /' "$T/err.out"
	fi
}
# The last error, kept apart from check's own output: no word of root's.
no_secret() {
	test -s "$T/err.out" && ! grep "SECRET-$$" "$T/err.out"
}
# request JSON: one request on the socket as the user, its reply.  The
# import replies from a worker: the connection stays open a while for it.
request() {
	{ printf '%s\n' "$1"; sleep 3; } |
		as_user socat -t 1 - UNIX-CONNECT:"$LABD_SOCKET"
}

# The user's own files, and root's.
D=$(dirname "$TINY")
mkdir -p "$T/u" "$T/secret"
cp "$D/tiny.qcow2" "$D/tiny-vmlinuz" "$D/tiny-initrd" "$TINY" "$T/u/"
printf 'SECRET-%s the first line of a root-only file\nx = y\n' $$ \
	>"$T/secret/secret.ini"
cp "$D/tiny.qcow2" "$T/secret/disk.qcow2"
cp "$D/tiny-vmlinuz" "$T/secret/vmlinuz"
printf 'SECRET-%s not an appliance\n' $$ >"$T/secret/x.ova"
chmod 0600 "$T/secret/"*
ln -s "$T/secret/secret.ini" "$T/u/link.ini"
printf '[template]\ndisk = %s/secret/disk.qcow2\n' "$T" >"$T/u/steal.ini"
sed "s|^kernel .*|kernel = $T/secret/vmlinuz|" "$TINY" >"$T/u/kern.ini"
[ "$ASKER" = root ] || chown -R "$U:$G" "$T/u"

check "labd starts" labd_start
chmod 0711 "$T/run"
check "the user imports a profile of their own" \
	as_user "$LABCTL" template import mine "$T/u/tiny.ini"
check "its disk is labd's, read-only, and nothing else was left" bash -c "
	test \"\$(stat -c %u:%a '$T/state/templates/mine@1/disk.qcow2')\" = 1879048192:444 &&
	test \"\$(ls '$T/state/templates/mine@1')\" = \"disk.qcow2
initrd
vmlinuz\" && qemu-img check -q '$T/state/templates/mine@1/disk.qcow2'"

# (a) A link to a root-only file, and the file itself: not one word of it.
link_refused() {
	request '{"id":1,"cmd":"template.import","args":{"name":"leak","path":"'"$T/u/link.ini"'"}}' \
	    >"$T/err.out"
	cat "$T/err.out"
	grep -q '"ok":false' "$T/err.out" &&
		grep -q 'link.ini is a symbolic link' "$T/err.out"
}
check "a profile that links to a root-only file is refused" link_refused
check "its error holds no line of the file" no_secret
errors_with "a root-only profile is refused" "secret.ini: Permission denied" \
	as_user "$LABCTL" template import leak "$T/secret/secret.ini"
check "its error holds no line of it either" no_secret

# (b) What a profile, or the path itself, names: the asker's to read or not.
errors_with "a profile naming a root-only disk is refused" \
	"disk.qcow2: Permission denied" \
	as_user "$LABCTL" template import steal "$T/u/steal.ini"
errors_with "a profile naming a root-only kernel is refused" \
	"vmlinuz: Permission denied" \
	as_user "$LABCTL" template import steal "$T/u/kern.ini"
errors_with "a root-only bare disk is refused" "disk.qcow2: Permission denied" \
	as_user "$LABCTL" template import steal "$T/secret/disk.qcow2"
errors_with "a root-only appliance is refused" "x.ova: Permission denied" \
	as_user "$LABCTL" template import steal "$T/secret/x.ova"
check "and no line of it is quoted" no_secret
check "nothing was imported from root's files" bash -c "
	test \"\$('$LABCTL' template list --json | jq -r '.[].ref')\" = mine@1 &&
	test -z \"\$(ls -A '$T/state/templates' | grep -v -x mine@1)\""

# (c) A FIFO named x.ini: refused at once, and labd answers meanwhile.
mkfifo "$T/u/fifo.ini"
[ "$ASKER" = root ] || chown "$U:$G" "$T/u/fifo.ini"
as_user timeout 20 "$LABCTL" template import fifo "$T/u/fifo.ini" \
	>"$T/fifo.out" 2>&1 &
fifo_pid=$!
sleep 0.5
check "labctl status answers within a second while it is pending" \
	timeout 1 "$LABCTL" status
fifo_done() {
	local i
	for i in $(seq 50); do
		kill -0 $fifo_pid 2>/dev/null || break
		sleep 0.1
	done
	! kill -0 $fifo_pid 2>/dev/null && ! wait $fifo_pid &&
		grep -q 'fifo.ini is not a regular file' "$T/fifo.out"
}
check "the FIFO is refused as not a regular file within 5 s" fifo_done
# Without the fix the loop sits in open(): a writer lets it go.
timeout 2 sh -c ": >'$T/u/fifo.ini'" 2>/dev/null

# (d) FIFOs named *.qcow2, one per worker: none of them pins one.
pids=""
for i in 1 2 3 4; do
	mkfifo "$T/u/f$i.qcow2"
	[ "$ASKER" = root ] || chown "$U:$G" "$T/u/f$i.qcow2"
	as_user timeout 20 "$LABCTL" template import "f$i" "$T/u/f$i.qcow2" \
		>"$T/f$i.out" 2>&1 &
	pids="$pids $!"
done
sleep 0.5
check "labctl status answers within a second meanwhile" \
	timeout 1 "$LABCTL" status
fifos_refused() {
	local p i
	for p in $pids; do wait "$p" && return 1; done
	for i in 1 2 3 4; do
		grep -q "f$i.qcow2 is not a regular file" "$T/f$i.out" ||
			{ cat "$T/f$i.out"; return 1; }
	done
}
check "each FIFO disk is refused as not a regular file" fifos_refused
check "no qemu-img of labd's is left waiting on one" \
	test -z "$(pgrep -P "$LABD_PID" qemu-img)"
check "a real import right after them goes through (no worker pinned)" \
	as_user timeout 60 "$LABCTL" template import after "$T/u/tiny.qcow2"
# Without the fix: qemu-img children blocked on the FIFOs, by their pid.
for p in $(pgrep -P "$LABD_PID" qemu-img); do kill -9 "$p"; done

check "labd is alive and answers" "$LABCTL" status
finish test_import
