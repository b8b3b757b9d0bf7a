#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# test_check.sh - labctl check on a course of two real tiny guests: three
# goals, one met by one student only (made true with labctl exec first),
# the text table and the csv exactly; --last gives the same without
# running (no new course.check event, at once); a goal that hangs is cut
# by the timeout and its processes killed; a goal that prints megabytes
# is capped; a bad DIR is refused naming the file; each VM's parameter
# differs, is stable, and a goal checks $LAB_PARAM against
# /etc/labd/param; no temporary files stay in the guests; a stopped VM
# gets a "not running" row.
set -u
. "$(dirname "$0")/lib.sh"

write_ini 25900
two_students ck

G=$T/goals
mkdir -p "$G"
cat >"$G/hello.sh" <<'EOF'
#!/bin/sh
# the file /root/hello says hello
grep -qx hello /root/hello 2>/dev/null || { echo "no hello in /root/hello"; exit 1; }
EOF
cat >"$G/param.sh" <<'EOF'
#!/bin/sh
# LAB_PARAM is /etc/labd/param
test -n "$LAB_PARAM" && test "$LAB_PARAM" = "$(cat /etc/labd/param)" ||
	{ echo "LAB_PARAM=$LAB_PARAM differs"; exit 1; }
EOF
cat >"$G/root" <<'EOF'
#!/bin/sh
test "$(id -u)" = 0
EOF
chmod +x "$G"/*

check "ann says hello (labctl exec)" \
	"$LABCTL" exec ck-ann -- 'echo hello >/root/hello'

cat >"$T/want.txt" <<'EOF'
student  vm      hello  param  root   total
ann      ck-ann  yes    yes    yes    3/3
ben      ck-ben  no     yes    yes    2/3
total            1/2    2/2    2/2    5/6

goals:
  hello         the file /root/hello says hello
  param         LAB_PARAM is /etc/labd/param
  root

not met:
  ck-ben hello: no hello in /root/hello
EOF
cat >"$T/want.csv" <<'EOF'
student,vm,hello,param,root,total
ann,ck-ann,1,1,1,3
ben,ck-ben,0,1,1,2
EOF

check "check runs" bash -c "'$LABCTL' check ck '$G' >'$T/run.txt'"
check "its first line names the course and the goals" \
	grep -q '^course ck: checked .* UTC, 3 goals, 2 VMs, ' "$T/run.txt"
check "the table is as expected" bash -c \
	"sed 1d '$T/run.txt' | diff -u '$T/want.txt' -"
check "--last shows the same table" bash -c \
	"'$LABCTL' check ck --last >'$T/last.txt' &&
	 grep -q '^course ck: last checked ' '$T/last.txt' &&
	 sed 1d '$T/last.txt' | diff -u '$T/want.txt' -"
check "--last --format csv is the grade book" bash -c \
	"'$LABCTL' check ck --last --format csv | diff -u '$T/want.csv' -"
check "--last ran nothing: one course.check event" test \
	"$(sqlite3 "$T/state/labd.db" \
	    "SELECT count(*) FROM events WHERE kind = 'course.check'")" = 1
check "--last answers at once" bash -c \
	"s=\$(date +%s%N); '$LABCTL' check ck --last >/dev/null;
	 test \$(( (\$(date +%s%N) - s) / 1000000 )) -lt 1000"
check "a run with --format csv gives the csv" bash -c \
	"'$LABCTL' check ck '$G' --format csv | diff -u '$T/want.csv' -"
check "--format md is a table" bash -c \
	"'$LABCTL' check ck --last --format md | grep -qx \
	 '| ben | ck-ben | no | yes | yes | 2/3 |'"
check "--format json has the reason" bash -c \
	"'$LABCTL' check ck --last --format json | jq -e '.rows[1].results[0] |
	 .goal == \"hello\" and .met == false and .status == 1 and
	 .reason == \"no hello in /root/hello\"'"
check "--student ann checks ann alone" bash -c \
	"'$LABCTL' check ck '$G' --student ann --format csv >'$T/ann.csv' &&
	 test \$(wc -l <'$T/ann.csv') = 2 && grep -qx 'ann,ck-ann,1,1,1,3' '$T/ann.csv'"

# The parameters: one a VM, different, kept.
pa=$("$LABCTL" exec ck-ann -- cat /etc/labd/param)
pb=$("$LABCTL" exec ck-ben -- cat /etc/labd/param)
check "each VM has a parameter of 16 hex digits" bash -c \
	"echo '$pa' | grep -qx '[0-9a-f]\{16\}' && echo '$pb' | grep -qx '[0-9a-f]\{16\}'"
check "the two differ" test "$pa" != "$pb"
check "ann's is what labd keeps for her VM" test "$(sqlite3 "$T/state/labd.db" \
	"SELECT p.param FROM vm_params p JOIN vms v ON v.id = p.vm_id
	 WHERE v.name = 'ck-ann'")" = "$pa"
check "no temporary files are left in the guests" bash -c \
	"'$LABCTL' exec --course ck -- 'ls -d /tmp/labd-check.* 2>/dev/null | wc -l' \
	 >'$T/tmp' && grep -qx 'ck-ann: 0' '$T/tmp' && grep -qx 'ck-ben: 0' '$T/tmp'"

# A goal that hangs, with a child of its own, and one that floods.
S=$T/slow
mkdir -p "$S"
printf '#!/bin/sh\n# hangs\nsleep 611 &\nsleep 612\n' >"$S/hang.sh"
printf '#!/bin/sh\n# floods\nyes 0123456789abcdef | head -c 5000000\necho done\n' \
	>"$S/flood.sh"
printf '#!/bin/sh\necho fine\n' >"$S/quick.sh"
chmod +x "$S"/*
check "a check with a hanging goal ends after its timeout" bash -c \
	"s=\$(date +%s); '$LABCTL' check ck '$S' --student ann --timeout 3 \
	   --format json >'$T/slow.json' && test \$(( \$(date +%s) - s )) -lt 40"
check "the hanging goal is not met: timed out" jq -e \
	'.rows[0].results[] | select(.goal == "hang") |
	 .met == false and .reason == "timed out after 3 s"' "$T/slow.json"
check "its processes are killed" bash -c \
	"test \"\$('$LABCTL' exec ck-ann -- 'ps | grep -c \"[s]leep 61\"')\" = 0"
check "the flood is capped and said so" jq -e \
	'.rows[0].results[] | select(.goal == "flood") |
	 (.reason | startswith("output cut at 1024 KiB"))' "$T/slow.json"
check "the reply stays small" test "$(wc -c <"$T/slow.json")" -lt 4000
check "the other goal still ran" jq -e \
	'.rows[0].results[] | select(.goal == "quick") |
	 .met == true and .reason == "fine"' "$T/slow.json"
check "no temporary files after that either" test "$("$LABCTL" exec ck-ann -- \
	'ls -d /tmp/labd-check.* 2>/dev/null | wc -l')" = 0

# Bad folders, refused before labd is asked, naming the file.
mkdir -p "$T/empty" "$T/link"
ln -s /bin/true "$T/link/ok.sh"
cp "$G/root" "$T/noexec" 2>/dev/null
mkdir -p "$T/nox" && printf '#!/bin/sh\ntrue\n' >"$T/nox/a.sh"
check "a missing DIR: exit 1, says so" bash -c \
	"'$LABCTL' check ck '$T/nosuch' 2>'$T/e'; test \$? = 1 &&
	 grep -q 'nosuch: No such file or directory' '$T/e'"
check "an empty DIR: no goal scripts" bash -c \
	"! '$LABCTL' check ck '$T/empty' 2>'$T/e' && grep -q 'no goal scripts' '$T/e'"
check "a symlink goal is refused by name" bash -c \
	"! '$LABCTL' check ck '$T/link' 2>'$T/e' &&
	 grep -q 'link/ok.sh: a symbolic link' '$T/e'"
check "a file not executable is refused by name" bash -c \
	"! '$LABCTL' check ck '$T/nox' 2>'$T/e' && grep -q 'nox/a.sh: not executable' '$T/e'"
check "none of those ran: still 4 course.check events" test \
	"$(sqlite3 "$T/state/labd.db" \
	    "SELECT count(*) FROM events WHERE kind = 'course.check'")" = 4
check_fails "--last of an unknown course fails" "$LABCTL" check nosuch --last
check "COURSE alone without stored checks fails, saying how to store them" \
	bash -c "! '$LABCTL' check ck 2>'$T/e' &&
	grep -q 'course set ck checks=DIR' '$T/e'"
check "course set ck checks=DIR stores them (read by labctl)" bash -c \
	"'$LABCTL' course set ck checks='$G' | grep -q 'checks  *3 goals'"
check "course set ck checks=LINK is refused as check refuses it" bash -c \
	"! '$LABCTL' course set ck checks='$T/link' 2>'$T/e' &&
	 grep -q 'link/ok.sh: a symbolic link' '$T/e'"
check "check ck (no DIR) runs the stored goals: the same table" bash -c \
	"'$LABCTL' check ck >'$T/stored.txt' &&
	 grep -q '^ann *ck-ann *yes *yes *yes *3/3' '$T/stored.txt'"
check "course set ck checks=none" "$LABCTL" course set ck checks=none

# A stopped VM: a row that says so.
check "stop ck-ben" "$LABCTL" stop ck-ben
check "check with ben stopped" bash -c \
	"'$LABCTL' check ck '$G' >'$T/stopped.txt' &&
	 grep -q '^ben *ck-ben *- *- *- *not running (stopped)' '$T/stopped.txt' &&
	 grep -q '^ann *ck-ann *yes *yes *yes *3/3' '$T/stopped.txt'"
check "... and in csv its cells are empty" bash -c \
	"'$LABCTL' check ck --last --format csv | grep -qx 'ben,ck-ben,,,,'"
check "ann's parameter is the same after another run" \
	test "$("$LABCTL" exec ck-ann -- cat /etc/labd/param)" = "$pa"

check "stop --course" "$LABCTL" stop --course ck
check "course rm --yes" "$LABCTL" course rm ck --yes
finish test_check
