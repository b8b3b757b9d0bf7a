#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# test_backup.sh - hot backup and publish: a running VM's disk copied
# without stopping it (same QEMU, SSH answering all along) into a
# standalone qcow2 that holds a file just written in the guest; the same
# from a stopped VM; an existing file refused, --force replacing it, labd's
# own folders refused; a VM the instructor prepared published as a new
# template, and a course made from it whose VM has the instructor's files
# under its own name and student.
# Beside the tests whose labd is in the host's network namespace: in one
# of its own (lib.sh), its course's name used by no other test.
# integration: beside
set -u
LABD_IT_NETNS=${LABD_IT_NETNS:-own}
. "$(dirname "$0")/lib.sh"

write_ini 24800
# nobody drives labd too (root only, below): the socket's group is theirs.
sed -i 's/^\[labd\]$/[labd]\ngroup = nogroup/' "$T/labd.ini"
ssh-keygen -q -t ed25519 -N '' -C t@test -f "$T/key"
k=$(cat "$T/key.pub")
printf 'id,name,ssh_key\nann,Ann,%s\n' "$k" >"$T/roster.csv"
printf 'id,name,ssh_key\nbob,Bob,%s\n' "$k" >"$T/roster2.csv"
mkdir -p "$T/out"

check "labd starts" labd_start
check "template import" "$LABCTL" template import tiny "$TINY"
check "course of one created" "$LABCTL" course create bk --template tiny \
	--roster "$T/roster.csv"
check "its VM is ready" "$LABCTL" wait --course bk --timeout 400

on() {	# on VM USER CMD: run CMD on VM as USER (root by labd's key)
	local vm=$1 user=$2 port key
	port=$(vm_port "$vm")
	key=$T/key
	[ "$user" = root ] && key=$T/state/keys/labd_ed25519
	ssh -o BatchMode=yes "${SSHOPTS[@]}" -i "$key" -p "$port" \
	    "$user@127.0.0.1" "$3"
}

# The instructor prepares the machine: a file of the student's, one of root's.
check "files written in the guest" on bk-ann root \
	'echo prepared-by-ann > /home/ann/notes.txt &&
	 mkdir -p /srv/lab && echo lab-tools-v1 > /srv/lab/VERSION'
pid0=$(vm_field bk-ann pid)
if [ "$(id -u)" = 0 ]; then
	# Then QEMU cannot open the target by name: only the fd passed over QMP.
	check "QEMU runs as a uid of its own, not root" \
		test "$(ps -o uid= -p "$pid0" | tr -d ' ')" -gt 1879048192
fi
# Some bulk, so that the copy takes a while and its speed means something.
check "64 MiB more on the guest's disk" on bk-ann root \
	'head -c 67108864 /dev/urandom > /srv/lab/blob && sync'

# holds IMAGE PATH TEXT: the ext4 of a qcow2 (the whole disk) has PATH
# with TEXT.  A live copy is a power cut's disk: fsck replays its journal.
holds() {
	local raw=$T/holds.raw got
	rm -f "$raw"
	qemu-img convert -O raw "$1" "$raw" || return 1
	e2fsck -fy "$raw" >/dev/null 2>&1
	got=$(debugfs -R "cat $2" "$raw" 2>/dev/null)
	rm -f "$raw"
	[ "$got" = "$3" ] || { echo "$2 in $1: '$got', want '$3'"; return 1; }
}
standalone() {	# a qcow2 with no backing file, clean
	local info
	info=$(qemu-img info --output=json "$1") || return 1
	echo "$info" | jq -e '.format == "qcow2" and
	    (has("backing-filename") | not)' >/dev/null ||
		{ echo "$info"; return 1; }
	qemu-img check -q "$1"
}

# --- a running VM: backup while SSH keeps answering ------------------------------
probe() {	# until killed: one SSH command a beat, one line of outcome each
	while :; do
		if on bk-ann ann 'true' >/dev/null 2>&1; then echo ok
		else echo fail; fi
		sleep 0.2
	done >"$T/during"
}
probe &
probe_pid=$!
sleep 1
t0=$(date +%s.%N)
check "backup of the running VM" "$LABCTL" backup bk-ann "$T/out/ann.qcow2"
t1=$(date +%s.%N)
cat "$T/last.out" | sed 's/^/# /'
sleep 1
kill "$probe_pid" 2>/dev/null
wait "$probe_pid" 2>/dev/null
size=$(stat -c %s "$T/out/ann.qcow2" 2>/dev/null || echo 0)
echo "# live backup: $(echo "$t1 - $t0" | bc) s for $size bytes" \
	"($(echo "scale=1; $size / 1048576 / ($t1 - $t0)" | bc) MB/s)"
answered() { grep -qx ok "$T/during" && ! grep -qx fail "$T/during"; }
check "SSH answered all through the backup ($(grep -c . "$T/during") tries)" \
	answered
check "the VM is still ready" test "$(vm_field bk-ann state)" = ready
check "same QEMU (pid $pid0)" test "$(vm_field bk-ann pid)" = "$pid0"
check "SSH works after it" on bk-ann ann 'echo alive'
check "the backup is a standalone qcow2, clean" standalone "$T/out/ann.qcow2"
check "as big as the VM's disk" test "$(qemu-img info --output=json \
	"$T/out/ann.qcow2" | jq '."virtual-size"')" = \
	"$(qemu-img info -U --output=json "$T/state/vms/bk-ann/disk.qcow2" |
	jq '."virtual-size"')"
check "the backup holds the file written in the guest" \
	holds "$T/out/ann.qcow2" /home/ann/notes.txt prepared-by-ann
check "template import takes the backup as it is" \
	"$LABCTL" template import fromcopy "$T/out/ann.qcow2"
json_reply() {
	"$LABCTL" backup bk-ann "$T/out/j.qcow2" --json | jq -e \
	    '.live == true and .synced == true and .bytes > 0 and
	     .virtual_size > 0 and .seconds >= 0' >/dev/null
}
check "--json: live, synced, bytes, virtual_size, seconds" json_reply

# --- refusals -----------------------------------------------------------------------
check_fails "an existing file is refused" \
	"$LABCTL" backup bk-ann "$T/out/ann.qcow2"
grep -q 'exists' "$T/last.out" || not_ok "the refusal says why"
check "--force replaces it" "$LABCTL" backup bk-ann "$T/out/ann.qcow2" --force
check_fails "a folder that does not exist" \
	"$LABCTL" backup bk-ann "$T/nowhere/x.qcow2"
check_fails "labd's own state dir is refused" \
	"$LABCTL" backup bk-ann "$T/state/vms/x.qcow2"
check_fails "an unknown VM" "$LABCTL" backup nope "$T/out/n.qcow2"
no_leftovers() {
	local left
	left=$(ls -A "$T/out" | grep -v -x -e ann.qcow2 -e j.qcow2)
	[ -z "$left" ] || { echo "left: $left"; return 1; }
}
check "no temp file left beside the backups" no_leftovers
if [ "$(id -u)" = 0 ]; then
	# labd is root and writes for whoever asks: only where they could.
	as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }
	chmod 0711 "$T/run"
	mkdir "$T/nob"
	chown nobody:nogroup "$T/nob"
	check_fails "nobody may not have a copy written where they cannot write" \
		as_nobody "$LABCTL" backup bk-ann "$T/out/nob.qcow2"
	grep -q 'may not write' "$T/last.out" || not_ok "the refusal says why"
	check "nobody gets a copy in their own folder" \
		as_nobody "$LABCTL" backup bk-ann "$T/nob/x.qcow2"
	check "and it is theirs" test "$(stat -c %U:%a "$T/nob/x.qcow2")" = \
		nobody:600
	mkdir -m 0700 "$T/locked"
	mkdir -m 0777 "$T/locked/open"
	check_fails "nor in a folder they could not reach" \
		as_nobody "$LABCTL" backup bk-ann "$T/locked/open/x.qcow2"
	grep -q 'may not enter' "$T/last.out" || not_ok "the refusal says why"
fi
check "the VM is ready after all that" test "$(vm_field bk-ann state)" = ready

# --- publish: a template from the running VM ----------------------------------------
t0=$(date +%s.%N)
check "template from-vm on the running VM" \
	"$LABCTL" template from-vm bk-ann prepared
echo "# template from-vm (live): $(echo "$(date +%s.%N) - $t0" | bc) s"
tpl() { "$LABCTL" template show prepared@1 --json | jq -e "$1" >/dev/null; }
check "prepared@1 is listed" sh -c "'$LABCTL' template list | grep -q '^prepared@1 '"
check "its source is vm:bk-ann" tpl '.source == "vm:bk-ann"'
check "with its template's hardware, ports and kernel" tpl \
	'.memory_mb == 128 and .vcpus == 1 and .publish == "ssh:22,http:80" and
	 .ready_line == "labd-ready" and (.kernel | endswith("/prepared@1/vmlinuz"))'
check "its disk is read-only, with a checksum" tpl \
	'.disk_mode == "0444" and (.sha256 | length) == 64'
check "its disk is standalone" standalone \
	"$("$LABCTL" template show prepared@1 --json | jq -r .disk)"
check "the VM still runs the same QEMU" \
	test "$(vm_field bk-ann pid)-$(vm_field bk-ann state)" = "$pid0-ready"

check "a course from the new template" "$LABCTL" course create nc \
	--template prepared --roster "$T/roster2.csv"
check "its VM boots" "$LABCTL" wait --course nc --timeout 400
check "it has the instructor's files" on nc-bob root \
	'grep -qx lab-tools-v1 /srv/lab/VERSION &&
	 grep -qx prepared-by-ann /home/ann/notes.txt'
check "its hostname is its own" test "$(on nc-bob root hostname)" = nc-bob
check "its student logs in with their key" \
	test "$(on nc-bob bob 'id -un')" = bob
check "it was seeded anew (its own instance-id)" on nc-bob root \
	'grep -q "^nc-bob-" /var/lib/labd/instance-id'

# --- a stopped VM: copied from its disk ---------------------------------------------
check "stop the VM" "$LABCTL" stop bk-ann
t0=$(date +%s.%N)
check "backup of the stopped VM" "$LABCTL" backup bk-ann "$T/out/cold.qcow2"
echo "# offline backup: $(echo "$(date +%s.%N) - $t0" | bc) s"
grep -q 'from the stopped disk' "$T/last.out" ||
	not_ok "the reply says it was not live"
check "it is standalone too" standalone "$T/out/cold.qcow2"
check "and holds the file" \
	holds "$T/out/cold.qcow2" /srv/lab/VERSION lab-tools-v1
check "template from-vm of the stopped VM makes prepared@2" \
	"$LABCTL" template from-vm bk-ann prepared
check "prepared@2 is listed" sh -c \
	"'$LABCTL' template list | grep -q '^prepared@2 '"
check "the VM stays stopped" test "$(vm_field bk-ann state)" = stopped
check "it starts again" "$LABCTL" start bk-ann

finish test_backup
