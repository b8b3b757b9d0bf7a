#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# test_examend.sh - a course's exam end on two real tiny guests, labd as
# root in a network namespace of this test (the allow_from gate is
# nftables): files made in each VM, exam_end set 15 s ahead with
# collect=; at that time labd collects them into
# state_dir/collected/COURSE/STAMP/STUDENT/ with manifest.csv (each
# sha256 the guest's), then closes the students' access (a client that is
# not labd gets no SSH banner, the gateway refuses ann) while labd's own
# exec still works and the VMs keep running; it fires once (a restarted
# labd makes no second folder); bad values are refused naming the field, nothing half-set;
# labctl collect --course-end closes access too; allow_from=any reopens;
# an exam end that passed while labd was down fires when it starts; a
# suspended VM is resumed, collected and left running; a labd killed
# mid-copy (a 200 MiB sparse file, slow to tar) closes access when it
# starts again, says "interrupted" (and INTERRUPTED in the folder) and
# does not collect again; a stopped VM is collected from its disk and
# stays stopped.
# Its labd and clients are in a network namespace of their own, its
# course's name is used by no other test:
# integration: beside
set -u
. "$(dirname "$0")/lib.sh"

H=labx$$
netns_cleanup() {
	ip netns pids "$H" 2>/dev/null | xargs -r kill -9 2>/dev/null
	ip netns del "$H" 2>/dev/null
}
trap 'cleanup; netns_cleanup' EXIT
if ! ip netns add $H; then
	not_ok "cannot make a network namespace (this test needs root)"
	finish test_examend
	exit 1
fi
ip -n $H link set lo up
inh() { ip netns exec $H "$@"; }
NOBODY=$(id -u nobody)
# banner UID PORT: a client run as UID gets an SSH banner on 127.0.0.1.
banner() {
	inh setpriv --reuid="$1" --regid="$1" --clear-groups \
		socat -T3 - "TCP:127.0.0.1:$2,connect-timeout=3" </dev/null \
		2>/dev/null | head -c 4 | grep -q SSH-
}

GW=26790
write_ini 26700
cat >>"$T/labd.ini" <<EOF

[gateway]
listen = 127.0.0.1:$GW
EOF
ssh-keygen -q -t ed25519 -N '' -C ann@test -f "$T/ann_key"
cat >"$T/roster.csv" <<EOF
id,name,email,ssh_key
ann,Ann,,$(cat "$T/ann_key.pub")
ben,Ben,,
EOF
# gw CMD...: ann through the gateway (in labd's namespace) by key.
gw() {
	inh ssh -o BatchMode=yes -o LogLevel=INFO "${SSHOPTS[@]}" \
	    -i "$T/ann_key" -o IdentitiesOnly=yes -p $GW ann+ex@127.0.0.1 "$@" \
	    2>"$T/gw.err"
}

check "labd starts as root in its own network namespace" labd_start $H
check "template import" "$LABCTL" template import tiny "$TINY"
check "course create" "$LABCTL" course create ex --template tiny \
	--roster "$T/roster.csv"
check "both VMs become ready" "$LABCTL" wait --course ex --timeout 300
check "ann's exam files" "$LABCTL" exec ex-ann -- \
	'mkdir -p /home/ann/exam && echo "int main(void) { return 0; }" >/home/ann/exam/main.c &&
	 head -c 50000 /dev/urandom >/home/ann/exam/data.bin'
check "ben's exam file" "$LABCTL" exec ex-ben -- \
	'mkdir -p /home/ben/exam && echo ben >/home/ben/exam/answer.txt'
PORT=$(vm_port ex-ann)
check "before: user nobody gets ann's SSH banner on $PORT" banner $NOBODY "$PORT"
check "before: ann logs in through the gateway" test "$(gw hostname)" = ex-ann

echo "== bad values: refused, naming the field, nothing set"
fails_with() {	# fails_with TEXT ARGS...: course set fails saying TEXT
	local text=$1
	shift
	! "$LABCTL" course set ex "$@" >"$T/e" 2>&1 && grep -q -- "$text" "$T/e"
}
check "a bad time" fails_with "exam_end: \"25:00\" is not a time" \
	exam_end=25:00 collect=/home
check "a PATH collect refuses" fails_with 'collect: "/home/../etc"' \
	exam_end=12:00 collect=/home/../etc
check "a relative PATH" fails_with "collect: .*absolute" \
	exam_end=12:00 collect=home
check "collect= with no exam_end" fails_with "collect: .*exam_end" \
	collect=/home
check "nothing was set" bash -c "'$LABCTL' course show ex >'$T/show' &&
	grep -qx 'exam_end      -' '$T/show' && grep -qx 'collect       -' '$T/show'"

echo "== the exam end"
AT=$(date -d '+15 seconds' +%H:%M:%S)
check "exam_end=$AT collect=/home/*/exam" "$LABCTL" course set ex \
	exam_end=$AT "collect=/home/*/exam"
check "course show has them" bash -c "'$LABCTL' course show ex >'$T/show' &&
	grep -q '^exam_end      .* $AT\$' '$T/show' &&
	grep -qx 'collect       /home/\*/exam' '$T/show'"
# The event comes once every VM is collected and access is closed.
fired() {
	for _ in $(seq 120); do
		"$LABCTL" events --kind course.exam_end | grep -q ex && return 0
		sleep 1
	done
	return 1
}
check "the event course.exam_end comes" fired
check "it says 2 collected, 0 failed, access closed" bash -c \
	"'$LABCTL' events --kind course.exam_end | grep -q \
	 '2 VMs collected, 0 failed, into $T/state/collected/ex/.*; access closed'"
check "one folder under state_dir/collected/ex" \
	test "$(ls "$T/state/collected/ex" | wc -l)" = 1
D=$T/state/collected/ex/$(ls "$T/state/collected/ex" | head -1)
check "its name is a time stamp" bash -c "basename '$D' |
	grep -qE '^[0-9]{8}-[0-9]{6}\$'"
check "the files are under STUDENT/" test -f "$D/ann/home/ann/exam/main.c" \
	-a -f "$D/ann/home/ann/exam/data.bin" -a -f "$D/ben/home/ben/exam/answer.txt"
check "the manifest: a header and 3 rows" bash -c \
	"test \$(wc -l <'$D/manifest.csv') = 4 &&
	 head -1 '$D/manifest.csv' | grep -qx 'student,vm,path,bytes,sha256' &&
	 grep -qE '^ann,ex-ann,/home/ann/exam/data.bin,50000,[0-9a-f]{64}\$' '$D/manifest.csv'"
sums_agree() {
	local student vm path bytes sum guest local_sum
	tail -n +2 "$D/manifest.csv" | while IFS=, read -r student vm path bytes sum; do
		guest=$("$LABCTL" exec "$vm" -- "sha256sum '$path'" | cut -c1-64)
		local_sum=$(sha256sum "$D/$student$path" | cut -c1-64)
		[ "$guest" = "$sum" ] && [ "$local_sum" = "$sum" ] ||
			{ echo "$path: guest $guest local $local_sum manifest $sum"; return 1; }
	done
}
check "each sha256: guest = copy = manifest" sums_agree
check "the copies are labd's (its own unprivileged user), not root's" \
	test "$(stat -c %u "$D/manifest.csv")" != 0
check_fails "access closed: user nobody gets no banner" banner $NOBODY "$PORT"
check_fails "nor root on the host (not labd)" banner 0 "$PORT"
check_fails "the gateway refuses ann" gw hostname
check "... saying the course is closed" grep -q \
	"exam mode.*(allow_from closed)" "$T/gw.err"
check "labd's own exec still works" \
	test "$("$LABCTL" exec ex-ben -- cat /home/ben/exam/answer.txt)" = ben
check "the VMs keep running" test "$(vm_field ex-ann state)" = ready -a \
	"$(vm_field ex-ben state)" = ready
check "course show: closed, and the last firing" bash -c \
	"'$LABCTL' course show ex >'$T/show' &&
	 grep -qx 'allow_from    closed' '$T/show' &&
	 grep -q '^exam_end      .* (fired)\$' '$T/show' &&
	 grep -q '^exam_last     .* into $D\$' '$T/show'"

echo "== once: a restarted labd does not fire it again"
kill -9 $LABD_PID
wait $LABD_PID 2>/dev/null
check "labd starts again" labd_start $H
check "the VMs are adopted, ready" "$LABCTL" wait --course ex --timeout 60
sleep 3	# three ticks of the exam-end timer
check "still one folder" test "$(ls "$T/state/collected/ex" | wc -l)" = 1
check "still one event" test \
	"$("$LABCTL" events --kind course.exam_end | grep -c ex)" = 1

echo "== reopening, and labctl collect --course-end"
check "allow_from=any reopens" "$LABCTL" course set ex allow_from=any
check "user nobody gets the banner again" banner $NOBODY "$PORT"
check_fails "--course-end with --student is refused" "$LABCTL" collect ex \
	/home/ann/exam --student ann --course-end --to "$T/one"
check "collect --course-end" bash -c "'$LABCTL' collect ex '/home/*/exam' \
	--to '$T/out' --course-end >'$T/run.txt' 2>&1 &&
	grep -qx '2 of 2 VMs collected into $T/out' '$T/run.txt' &&
	grep -q '^course ex: access closed' '$T/run.txt'"
check "the same files" cmp "$T/out/ann/home/ann/exam/data.bin" \
	"$D/ann/home/ann/exam/data.bin"
check_fails "access closed again: no banner for nobody" banner $NOBODY "$PORT"
echo "== late: an exam end that passed while labd was down fires at its start"
check "allow_from=any" "$LABCTL" course set ex allow_from=any
AT=$(date -d '+6 seconds' +%H:%M:%S)
check "exam_end=$AT" "$LABCTL" course set ex exam_end=$AT
kill -9 $LABD_PID
wait $LABD_PID 2>/dev/null
sleep 8	# past $AT with no labd
check "labd starts again" labd_start $H
late() {
	for _ in $(seq 120); do
		[ "$("$LABCTL" events --kind course.exam_end | grep -c ex)" = 2 ] &&
			return 0
		sleep 1
	done
	return 1
}
check "it fires: a second event" late
check "it collected both VMs" bash -c \
	"'$LABCTL' events --kind course.exam_end | tail -1 | grep -q '2 VMs collected, 0 failed'"
check "a second folder" test "$(ls "$T/state/collected/ex" | wc -l)" = 2
check_fails "access closed: no banner for nobody" banner $NOBODY "$PORT"
check "exam_end=none clears" bash -c "'$LABCTL' course set ex exam_end=none \
	allow_from=any >/dev/null && '$LABCTL' course show ex >'$T/show' &&
	grep -qx 'exam_end      -' '$T/show' && grep -qx 'collect       -' '$T/show'"

echo "== a suspended VM: resumed, collected, left running"
check "ben suspended" "$LABCTL" suspend ex-ben
check "... shown suspended" test "$(vm_field ex-ben state)" = suspended
AT=$(date -d '+3 seconds' +%H:%M:%S)
check "exam_end=$AT collect=/home/*/exam" "$LABCTL" course set ex \
	exam_end=$AT "collect=/home/*/exam"
# events N: wait for the Nth course.exam_end event.
events() {
	for _ in $(seq 120); do
		[ "$("$LABCTL" events --kind course.exam_end | grep -c ex)" = "$1" ] &&
			return 0
		sleep 1
	done
	return 1
}
check "it fires: a third event" events 3
check "both VMs collected, ben too" bash -c \
	"'$LABCTL' events --kind course.exam_end | tail -1 | grep -q '2 VMs collected, 0 failed'"
D3=$T/state/collected/ex/$(ls "$T/state/collected/ex" | tail -1)
check "ben's file is in the third folder" \
	test "$(cat "$D3/ben/home/ben/exam/answer.txt")" = ben
check "ben is left running" test "$(vm_field ex-ben state)" = ready
check_fails "access closed: no banner for nobody" banner $NOBODY "$PORT"

echo "== a firing cut by a crash of labd closes access when it starts again"
check "allow_from=any" "$LABCTL" course set ex allow_from=any
check "user nobody gets the banner" banner $NOBODY "$PORT"
# 200 MiB of holes (the disk is 128 MiB): its tar sends every zero, slowly.
check "a 200 MiB sparse file in ann's exam folder" "$LABCTL" exec ex-ann -- \
	'dd if=/dev/zero of=/home/ann/exam/big.bin bs=1M count=0 seek=200 2>/dev/null &&
	 test $(stat -c %s /home/ann/exam/big.bin) = 209715200'
AT=$(date -d '+3 seconds' +%H:%M:%S)
check "exam_end=$AT" "$LABCTL" course set ex exam_end=$AT \
	"collect=/home/*/exam"
# copying: the big file's copy has begun in a fourth folder.
copying() {
	for _ in $(seq 600); do
		ls "$T"/state/collected/ex/*/ann/home/ann/exam/big.bin \
			>/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}
check "the copy begins" copying
kill -9 $LABD_PID
wait $LABD_PID 2>/dev/null
BIG=$(ls "$T"/state/collected/ex/*/ann/home/ann/exam/big.bin | head -1)
check "labd was killed mid-copy: the copy of big.bin is partial" \
	test "$(stat -c %s "$BIG")" -lt 209715200
check "four folders" test "$(ls "$T/state/collected/ex" | wc -l)" = 4
check "labd starts again" labd_start $H
check "the event comes: a fourth" events 4
check "it says interrupted, not collected again, access closed" bash -c \
	"'$LABCTL' events --kind course.exam_end | tail -1 | grep -q \
	 'interrupted: labd stopped during the firing into $T/state/collected/ex/.*; not collected again; access closed'"
FOLDER=${BIG%/ann/home/ann/exam/big.bin}
check "the interrupted folder says so itself (INTERRUPTED)" bash -c \
	"grep -q '^fired: ' '$FOLDER/INTERRUPTED' &&
	 grep -q '^why: labd stopped during the copy' '$FOLDER/INTERRUPTED' &&
	 grep -qx 'access: closed' '$FOLDER/INTERRUPTED'"
check_fails "access closed: no banner for nobody" banner $NOBODY "$PORT"
check "course show: allow_from closed, exam_end fired" bash -c \
	"'$LABCTL' course show ex >'$T/show' &&
	 grep -qx 'allow_from    closed' '$T/show' &&
	 grep -q '^exam_end      .* (fired)\$' '$T/show'"
# ben's QEMU is a resume's, whose console shows no ready line again: an
# adopted VM is ready on the SSH probe alone.
check "both are adopted, ready (ben's QEMU came from a resume)" \
	"$LABCTL" wait --course ex --timeout 60
sleep 2	# two ticks of the exam-end timer
check "still four folders: no second copy" \
	test "$(ls "$T/state/collected/ex" | wc -l)" = 4
check "still four events" events 4

# A stopped VM at the exam end: read from its disk, and it stays stopped.
check "ben's file for an offline firing" "$LABCTL" exec ex-ben -- \
	'echo offline >/home/ben/exam/off.txt && sync'
check "stop ex-ben" "$LABCTL" stop ex-ben
AT=$(date -d '+3 seconds' +%H:%M:%S)
check "exam_end=$AT with ben stopped" "$LABCTL" course set ex exam_end=$AT \
	"collect=/home/*/exam"
check "it fires: a fifth event" events 5
check "both collected, ben from its disk" bash -c \
	"'$LABCTL' events --kind course.exam_end | tail -1 | grep -q '2 VMs collected, 0 failed'"
D5=$T/state/collected/ex/$(ls "$T/state/collected/ex" | tail -1)
check "ben's file in the fifth folder, in its manifest" bash -c \
	"test \"\$(cat '$D5/ben/home/ben/exam/off.txt')\" = offline &&
	 grep -q '^ben,ex-ben,/home/ben/exam/off.txt,8,' '$D5/manifest.csv'"
check "ex-ben is still stopped" test "$(vm_field ex-ben state)" = stopped
check "stop" "$LABCTL" stop --course ex --force

finish test_examend
