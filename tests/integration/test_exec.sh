#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# test_exec.sh - labctl exec on a course of two real tiny guests: a command
# as root over SSH with labd's key, on one VM (output as is, exit status
# as labctl's) and on the whole course (each line prefixed with the VM's
# name, a summary, exit 1 when any failed); a stopped VM is refused with
# its state; a missing -- or an empty command is a usage error.
set -u
. "$(dirname "$0")/lib.sh"

write_ini 24900
two_students xc

# status CMD...: the command's exit status; its output in $T/out.
status() { "$@" >"$T/out" 2>"$T/err"; echo $?; }

check "exec VM -- hostname prints the VM's name" bash -c \
	"test \"\$('$LABCTL' exec xc-ann -- hostname)\" = xc-ann"
check "the words after -- are joined into one command" bash -c \
	"test \"\$('$LABCTL' exec xc-ann -- echo a   b)\" = 'a b'"
check "exec --course runs on both VMs, prefixed by name" bash -c "
	'$LABCTL' exec --course xc -- 'echo hi > /root/x; cat /root/x' >'$T/c' &&
	grep -qx 'xc-ann: hi' '$T/c' && grep -qx 'xc-ben: hi' '$T/c' &&
	grep -q '^2 of 2 exited 0' '$T/c'"
check "it ran as root, and the file stayed" bash -c \
	"test \"\$('$LABCTL' exec xc-ben -- 'id -u; cat /root/x')\" = \
	    \"\$(printf '0\nhi')\""
check "exec VM -- false exits 1" \
	test "$(status "$LABCTL" exec xc-ann -- false)" = 1
check "exec VM -- 'exit 7' exits 7" \
	test "$(status "$LABCTL" exec xc-ann -- 'exit 7')" = 7
check "exit 2 is the command's, not a usage error" bash -c "
	'$LABCTL' exec xc-ann -- 'exit 2' 2>'$T/e2'; test \$? = 2 &&
	test ! -s '$T/e2'"
check "stderr comes back too" bash -c \
	"'$LABCTL' exec xc-ann -- 'echo oops >&2' | grep -qx oops"
check "invalid UTF-8 is replaced, not refused" bash -c \
	"test \"\$('$LABCTL' exec xc-ann -- \"printf 'a\\\\377b'\")\" = 'a?b'"
check "--json gives status and output" bash -c "
	'$LABCTL' --json exec xc-ann -- 'echo x; exit 3' >'$T/j'; test \$? = 3 &&
	jq -e '.vm == \"xc-ann\" and .status == 3 and .output == \"x\n\"' '$T/j'"
check "--json after -- belongs to the command" bash -c \
	"test \"\$('$LABCTL' exec xc-ann -- echo --json)\" = --json"
check "a failing command on one VM fails the course run" bash -c "
	'$LABCTL' exec --course xc -- 'test \$(hostname) = xc-ann' >'$T/c';
	test \$? = 1 && grep -q 'xc-ben: \[exit status 1\]' '$T/c' &&
	grep -q '^1 of 2 exited 0; 1 with another status' '$T/c'"
check "a command past --timeout could not run: exit 1" \
	test "$(status "$LABCTL" exec xc-ann --timeout 1 -- sleep 5)" = 1
check "... and says so" grep -q 'did not finish within 1000 ms' "$T/err"
check "the command is in the event log" bash -c \
	"sqlite3 '$T/state/labd.db' \"SELECT detail FROM events WHERE kind =
	    'vm.exec'\" | grep -qx hostname"

check "stop xc-ben" "$LABCTL" stop xc-ben
check "exec on a stopped VM fails with exit 1" \
	test "$(status "$LABCTL" exec xc-ben -- true)" = 1
check "... and says it is stopped" grep -q 'xc-ben is stopped' "$T/err"
check "exec --course: the stopped VM could not run, exit 1" bash -c "
	'$LABCTL' exec --course xc -- true >'$T/c'; test \$? = 1 &&
	grep -q '^xc-ben: FAILED: .*stopped' '$T/c' &&
	grep -q '1 could not run' '$T/c'"

check "no -- is a usage error" \
	test "$(status "$LABCTL" exec xc-ann hostname)" = 2
check "nothing after -- is a usage error" \
	test "$(status "$LABCTL" exec xc-ann --)" = 2
check "a blank command is a usage error" \
	test "$(status "$LABCTL" exec xc-ann -- ' ')" = 2
check "no VM is a usage error" test "$(status "$LABCTL" exec -- true)" = 2
check "an unknown VM is an error" \
	test "$(status "$LABCTL" exec nosuch -- true)" = 1

# --- a new password ----------------------------------------------------------------
pa=$(vm_port xc-ann)
newpw() { "$LABCTL" passwd xc-ann | sed -n 's/^xc-ann: user ann, password \([^ ]*\)$/\1/p'; }
pw1=$(newpw)
check "passwd prints a new password of 12 characters" test "${#pw1}" = 12
check "ann logs in with it" \
	test "$(login_password "$pw1" "$pa" ann whoami 2>/dev/null)" = ann
pw2=$(newpw)
check "a second passwd makes another" test -n "$pw2" -a "$pw2" != "$pw1"
check_fails "the first no longer works" login_password "$pw1" "$pa" ann true
check "the second does" \
	test "$(login_password "$pw2" "$pa" ann whoami 2>/dev/null)" = ann
check "the database keeps it hashed, not in clear" bash -c \
	"! grep -q '$pw2' '$T/state/labd.db' && ! grep -q '$pw2' '$T/labd.log'"
check "the event log has both, for ann, without the password" bash -c \
	"sqlite3 '$T/state/labd.db' \"SELECT subject, detail FROM events WHERE kind = 'vm.passwd'\" |
	grep -c '^xc-ann|for ann\$' | grep -qx 2"
check_fails "passwd of an unknown VM is an error" "$LABCTL" passwd nosuch

check "stop --course" "$LABCTL" stop --course xc
check_fails "passwd of a stopped VM is refused" "$LABCTL" passwd xc-ann
finish test_exec
