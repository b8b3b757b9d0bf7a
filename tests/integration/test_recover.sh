#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# test_recover.sh - mistakes that can be undone ([labd] keep_removed):
# a reset --hard and a course rm keep the old disk for a while; labctl
# removed lists them; labctl recover puts one back, the student's file
# with it, and keeps the disk it replaces in turn; a removed VM's disk
# cannot go back until the VM exists again; IDs that are not kept disks
# are refused; with keep_removed = off nothing is kept, and kept disks
# go when their time is over.  One real tiny guest.
set -u
. "$(dirname "$0")/lib.sh"

write_ini 25700
cat >"$T/roster.csv" <<EOF
id,name,email,ssh_key
ann,Ann,,
EOF

check "labd starts on a private socket" labd_start
check "template import" "$LABCTL" template import tiny "$TINY"
check "course create" "$LABCTL" course create rc --template tiny \
	--roster "$T/roster.csv"
check "the VM becomes ready" "$LABCTL" wait rc-ann --timeout 400
check "nothing is kept yet" bash -c \
	"'$LABCTL' removed | grep -qx 'no disk kept'"

# --- reset --hard keeps the old disk -------------------------------------
check "ann writes her work" "$LABCTL" exec rc-ann -- \
	'echo essay-v1 >/home/ann/work.txt && sync'
check "reset --hard: a fresh disk" "$LABCTL" reset rc-ann --hard
check "ready again" "$LABCTL" wait rc-ann --timeout 400
check "her file is gone from the fresh disk" bash -c \
	"! '$LABCTL' exec rc-ann -- cat /home/ann/work.txt"
"$LABCTL" --json removed >"$T/r1.json"
check "labctl removed lists the old disk, for ann, from reset --hard" \
	jq -e '.removed | length == 1 and .[0].vm == "rc-ann" and
	    .[0].student == "ann" and .[0].course == "rc" and
	    .[0].why == "reset --hard" and .[0].bytes > 0 and
	    .[0].expires - .[0].removed == 86400' "$T/r1.json"
id1=$(jq -r '.removed[0].id' "$T/r1.json")
check "the text listing has it too" bash -c \
	"'$LABCTL' removed | grep -q '^$id1 *rc-ann *ann .* reset --hard\$'"
check "it lies in state_dir/removed, a hard link costing no copy" \
	test -f "$T/state/removed/$id1/disk.qcow2"

check_fails "recover refuses while the VM runs" "$LABCTL" recover "$id1"
cp "$T/last.out" "$T/busy.out"
check "... and says to stop it" grep -q 'rc-ann is ready: stop it first' \
	"$T/busy.out"
check "stop the VM" "$LABCTL" stop rc-ann
check "recover ID puts the old disk back" "$LABCTL" recover "$id1"
cp "$T/last.out" "$T/rec.out"
check "... and says the replaced disk is kept" \
	grep -q '^the disk it replaced is kept as rc-ann-' "$T/rec.out"
check "start it" "$LABCTL" start rc-ann
check "ready on the old disk" "$LABCTL" wait rc-ann --timeout 400
check "ann's file is back" bash -c \
	"test \"\$('$LABCTL' exec rc-ann -- cat /home/ann/work.txt)\" = essay-v1"
"$LABCTL" --json removed >"$T/r2.json"
check "the kept disk went back: only the replaced one is listed" \
	jq -e --arg id "$id1" '.removed | length == 1 and .[0].id != $id and
	    (.[0].why | startswith("replaced by labctl recover"))' "$T/r2.json"
check "the recover is an event" bash -c \
	"sqlite3 '$T/state/labd.db' \"SELECT subject, detail FROM events
	    WHERE kind = 'vm.recover'\" | grep -q '^rc-ann|from $id1'"

# --- IDs that are not kept disks -------------------------------------------
for bad in ../labd.db nosuch-1 '' 'rc-ann-1/../..'; do
	check_fails "recover '$bad' is refused" "$LABCTL" recover "$bad"
done
check_fails "recover needs an ID" "$LABCTL" recover
check "the database is where it was" test -f "$T/state/labd.db"

# --- course rm keeps the disk; the VM must exist to take it back -----------
check "course rm" "$LABCTL" course rm rc --force --yes
"$LABCTL" --json removed >"$T/r3.json"
check "the course's disk is kept, why course rm" \
	jq -e '[.removed[] | select(.why == "course rm" and
	    .vm == "rc-ann")] | length == 1' "$T/r3.json"
id3=$(jq -r '.removed[] | select(.why == "course rm") | .id' "$T/r3.json")
check_fails "recover into a VM that is gone" "$LABCTL" recover "$id3"
cp "$T/last.out" "$T/gone.out"
check "... says to make it again" grep -q 'VM rc-ann is gone: make it again' \
	"$T/gone.out"
check "the course again, same roster" "$LABCTL" course create rc \
	--template tiny --roster "$T/roster.csv"
check "its VM is ready" "$LABCTL" wait rc-ann --timeout 400
check "stop it" "$LABCTL" stop rc-ann
check "now the kept disk goes back in, named by its VM (the newest)" \
	"$LABCTL" recover rc-ann
cp "$T/last.out" "$T/byname.out"
check "... the one course rm kept" grep -q "disk recovered from $id3" \
	"$T/byname.out"
check "start" "$LABCTL" start rc-ann
check "ready" "$LABCTL" wait rc-ann --timeout 400
check "the file written before the course rm is there" bash -c \
	"test \"\$('$LABCTL' exec rc-ann -- cat /home/ann/work.txt)\" = essay-v1"

# --- time runs out; off keeps nothing ---------------------------------------
restart() {
	kill "$LABD_PID"
	while kill -0 "$LABD_PID" 2>/dev/null; do sleep 0.1; done
	sed -i '/^keep_removed/d; s/^run_dir .*/&\nkeep_removed = '"$1"'/' "$T/labd.ini"
	labd_start
}
check "the kept disks are there" test -n "$(ls -A "$T/state/removed")"
sleep 1
check "labd starts again with keep_removed = 1s" restart 1s
check "the kept disks, older than that, are gone" \
	test -z "$(ls -A "$T/state/removed")"
check "reset --hard" "$LABCTL" reset rc-ann --hard
check "its old disk is kept, for 1 s" bash -c \
	"'$LABCTL' --json removed | jq -e '.removed | length == 1 and
	    .[0].expires - .[0].removed == 1'"
check "labd starts again with keep_removed = off" restart off
check "... and says keeping is off" bash -c \
	"'$LABCTL' removed | grep -q 'keeping is off'"
check "the kept disk went" test -z "$(ls -A "$T/state/removed")"
check "ready" "$LABCTL" wait rc-ann --timeout 400
check "reset --hard" "$LABCTL" reset rc-ann --hard
check "ready" "$LABCTL" wait rc-ann --timeout 400
check "nothing was kept" test -z "$(ls -A "$T/state/removed")"
sed -i 's/^keep_removed = off/keep_removed = 7x/' "$T/labd.ini"
check_fails "a bad keep_removed stops labd" \
	timeout 20 "$LABD" -d -c "$T/labd.ini"
cp "$T/last.out" "$T/bad.out"
kl=$(grep -n '^keep_removed' "$T/labd.ini" | cut -d: -f1)
check "... naming the line ($kl) and the key" \
	grep -q "line $kl: \[labd\] keep_removed: '7x' is not a time" "$T/bad.out"

check "course rm" "$LABCTL" course rm rc --force --yes
finish test_recover
