#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# test_badinput.sh - bad input from outside gets a clear error and creates
# nothing: rosters with a duplicate id or a path-like id, an unknown
# template, a bad course name, and malformed, unknown and oversized
# requests on the control socket, none of which may take labd down.
set -u
. "$(dirname "$0")/lib.sh"

write_ini 24300
check "labd starts" labd_start
check "template import" "$LABCTL" template import tiny "$TINY"

# errors_with "what" "expected text" command...: fails, and says so.
errors_with() {
	local what=$1 want=$2
	shift 2
	if "$@" >"$T/last.out" 2>&1; then
		not_ok "$what (it succeeded)"
	elif grep -qF -- "$want" "$T/last.out"; then
		ok "$what: $(head -1 "$T/last.out")"
	else
		not_ok "$what (no \"$want\" in the error)"
		sed 's/^/#   /' "$T/last.out"
	fi
}

printf 'id,name,email,ssh_key\nann,Ann,,\nbea,Bea,,\nann,Ann Again,,\n' \
	>"$T/dup.csv"
errors_with "duplicate id is refused, naming both lines" "line 4" \
	"$LABCTL" course create c1 --template tiny --roster "$T/dup.csv"

printf 'id,name,email,ssh_key\nann,Ann,,\n../x,Evil,,\n' >"$T/path.csv"
errors_with "an id like ../x is refused with its line" "line 3" \
	"$LABCTL" course create c2 --template tiny --roster "$T/path.csv"

printf 'id,name\nann,Ann\n' >"$T/ok.csv"
errors_with "an unknown template is refused" "not found" \
	"$LABCTL" course create c3 --template nosuch --roster "$T/ok.csv"
errors_with "a course name that is a path is refused" "course name" \
	"$LABCTL" course create ../c4 --template tiny --roster "$T/ok.csv"
errors_with "a missing roster file is named" "nosuch.csv" \
	"$LABCTL" course create c5 --template tiny --roster "$T/nosuch.csv"
errors_with "an unknown labctl command is refused" "unknown command" \
	"$LABCTL" frobnicate

# labd.ini through iniparser: labctl -c finds the socket in it; a file
# labctl or labd cannot read is refused with its name and line.
check "labctl -c finds the socket in labd.ini" \
	env -u LABD_SOCKET "$LABCTL" -c "$T/labd.ini" status
printf '[labd]   ; the socket\nrun_dir = %s/run\nworkers 4\n' "$T" >"$T/bad.ini"
errors_with "labctl -c names the line of a labd.ini it cannot read" \
	"bad.ini line 3: 'workers 4' is neither [section] nor key = value" \
	env -u LABD_SOCKET "$LABCTL" -c "$T/bad.ini" status
# Its own dirs, and a time limit: were it taken, labd must not linger.
printf '[labd]\nworkers = 2\nWorkers = 3\nstate_dir = %s/s2\nrun_dir = %s/r2\n' \
	"$T" "$T" >"$T/twice.ini"
errors_with "labd refuses a labd.ini key set twice, naming both lines" \
	"twice.ini line 3: [labd] workers is set twice (first on line 2)" \
	timeout 20 "$LABD" -d -c "$T/twice.ini"

nothing_created() {
	[ "$("$LABCTL" course list --json)" = "[]" ] &&
	[ "$("$LABCTL" list --json)" = "[]" ] &&
	[ -z "$(ls -A "$T/state/vms")" ]
}
check "nothing was created by the refused commands" nothing_created

# The socket itself: one client's garbage never hurts labd.
sock() { socat -t 5 - UNIX-CONNECT:"$LABD_SOCKET"; }
reply_has() {
	local input=$1 want=$2 got
	got=$(printf '%s\n' "$input" | sock)
	printf '%s' "$got" | grep -qF -- "$want" ||
		{ echo "sent $input, got: $got"; return 1; }
}
check "a line that is not JSON gets bad_request" \
	reply_has 'this is not json' '"code":"bad_request"'
check "a JSON array gets bad_request" reply_has '[1,2,3]' '"bad_request"'
check "an unknown command gets unknown_command" \
	reply_has '{"id":7,"cmd":"vm.explode"}' '"code":"unknown_command"'
check "args of the wrong type get bad_request" \
	reply_has '{"id":8,"cmd":"vm.start","args":"x"}' '"bad_request"'
check "a missing argument is named" \
	reply_has '{"id":9,"cmd":"vm.start","args":{}}' \
	'"vm.start: \"vm\" is required (a string)"'
check "an argument of the wrong type is named" \
	reply_has '{"id":10,"cmd":"vm.stop","args":{"vm":"x","force":1}}' \
	'"vm.stop: \"force\" must be a boolean"'
check "an unknown argument is refused, with the ones it takes" \
	reply_has '{"id":11,"cmd":"vm.stop","args":{"vm":"x","forse":true}}' \
	'unknown argument \"forse\"; it takes vm, force, wait'
help_lists() {
	printf '%s\n' '{"id":12,"cmd":"help"}' | sock | jq -e '.result |
	    (map(.name) | index("hello") != null and
	     index("events.subscribe") != null) and
	    (.[] | select(.name == "vm.exec") | .args |
	     any(.key == "timeout" and .type == "integer" and
	         .required == false))' >/dev/null
}
check "help lists every command with its arguments" help_lists
# labd answers and hangs up before the client has sent it all: socat
# then sees either the reply or its own broken pipe.
oversized() {
	head -c $((3 * 1024 * 1024)) /dev/zero | tr '\0' 'a' | sock 2>&1 |
		grep -Eq 'longer than|Broken pipe|Connection reset'
}
check "an oversized request is refused and the connection closed" oversized
check "labd is still alive and answers" "$LABCTL" status
check "the refusals are in labd's log, not a crash" kill -0 "$LABD_PID"

finish test_badinput
