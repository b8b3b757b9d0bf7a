#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# test_gateway.sh - the SSH gateway ([gateway] listen) with the real
# OpenSSH client against real tiny guests: one port for the class, the
# user name picks the VM.  Key and password logins land in the right VM;
# exit status and stderr come back; a pty; 10 MB round trips with scp
# (SFTP and -O) and sftp, checked by sha256; ssh -L to the guest's httpd;
# a wrong password, another student's key, an unknown student, a name in
# two courses, a stopped VM, hostile names and an exam course's
# allow_from are refused with a message that says why; a suspended VM
# is woken by a login; 24 sessions at once, and the cap per student;
# gateway.login/logout in labctl events; +console shows the serial
# console and Ctrl-] detaches; +reset resets on "yes" (a file is gone,
# the VM ready), does nothing on "no", is refused with student_reset=off
# and for another student's VM; +check runs the course's stored checks
# (course set checks=DIR) in the student's VM alone and prints her goals,
# met or not, never a script; an unknown +word names the valid ones;
# a window change reaches the guest's pty; failed logins rate-limited;
# ssh -A forwards the student's agent into the guest (a dbclient in it
# logs in with the agent alone), and without -A there is none.
# A session to each ready guest is parked (labctl status counts them): a
# login takes it; one that died behind labd's back is found dead and the
# login connects afresh; after a reset, a stop and start, logins work;
# after ann removed the gateway's key her logins fail with the message of
# a fresh login, nothing parked lets her in.
# Beside the tests whose labd is in the host's network namespace: in one
# of its own (lib.sh), its course's name used by no other test.
# integration: beside
set -u
LABD_IT_NETNS=${LABD_IT_NETNS:-own}
. "$(dirname "$0")/lib.sh"

GW=25390
write_ini 25400
cat >>"$T/labd.ini" <<EOF

[gateway]
listen   = 127.0.0.1:$GW
sessions = 8
failures = 20
EOF
for s in ann cy; do
	ssh-keygen -q -t ed25519 -N '' -C $s@test -f "$T/${s}_key"
done
cat >"$T/roster.csv" <<EOF
id,name,email,ssh_key
ann,Ann,,$(cat "$T/ann_key.pub")
bob,Bob,,
cy,Cy,,$(cat "$T/cy_key.pub")
EOF
cat >"$T/roster2.csv" <<EOF
id,name,email,ssh_key
ann,Ann,,$(cat "$T/ann_key.pub")
EOF

# gw KEY USER CMD...: through the gateway by key; stderr in $T/gw.err.
gw() {
	local key=$1 user=$2
	shift 2
	ssh -o BatchMode=yes -o LogLevel=INFO "${SSHOPTS[@]}" -i "$key" \
	    -o IdentitiesOnly=yes -p $GW "$user@127.0.0.1" "$@" 2>"$T/gw.err"
}
# gwpw PASSWORD USER CMD...: through the gateway by password (one
# askpass a password, so that logins at once do not share one).
gwpw() {
	local pw=$1 user=$2
	shift 2
	if [ ! -x "$T/askpass.$pw" ]; then
		printf '#!/bin/sh\necho %s\n' "$pw" >"$T/askpass.$pw.$BASHPID"
		chmod +x "$T/askpass.$pw.$BASHPID"
		mv -f "$T/askpass.$pw.$BASHPID" "$T/askpass.$pw"
	fi
	SSH_ASKPASS="$T/askpass.$pw" SSH_ASKPASS_REQUIRE=force DISPLAY=none \
	    setsid -w ssh -o BatchMode=no -o LogLevel=INFO "${SSHOPTS[@]}" \
	    -o PubkeyAuthentication=no -o NumberOfPasswordPrompts=1 \
	    -p $GW "$user@127.0.0.1" "$@" </dev/null 2>"$T/gw.err"
}
said() { grep -q "$1" "$T/gw.err" || { cat "$T/gw.err"; false; }; }

check "labd starts with a gateway" labd_start
check "the host key was made, mode 0600" \
	test "$(stat -c %a "$T/state/gateway_ed25519")" = 600
check "labctl status names the gateway" \
	bash -c "'$LABCTL' status | grep -q 'gateway *127.0.0.1:$GW'"
check "template import" "$LABCTL" template import tiny "$TINY"
check "course create gw" bash -c "'$LABCTL' --json course create gw \
	--template tiny --roster '$T/roster.csv' >'$T/create.json'"
PW=$(jq -r '.. | objects | select(.user? == "bob") | .password' \
	"$T/create.json" | head -1)
check "bob got a password" test -n "$PW"
check "course create gx (ann again)" "$LABCTL" course create gx \
	--template tiny --roster "$T/roster2.csv"
check "gx-ann stopped" "$LABCTL" stop gx-ann
check "the gateway keys were made per course" \
	test -f "$T/state/keys/gateway-gw_ed25519" -a \
	    -f "$T/state/keys/gateway-gx_ed25519"
check "the VMs of gw become ready" "$LABCTL" wait --course gw --timeout 600

# --- logins ------------------------------------------------------------------
check "ann+gw by key lands in gw-ann" \
	test "$(gw "$T/ann_key" ann+gw hostname)" = gw-ann
check "cy (one course) by key lands in gw-cy" \
	test "$(gw "$T/cy_key" cy hostname)" = gw-cy
check "... as cy" test "$(gw "$T/cy_key" cy id -un)" = cy
check "bob by password lands in gw-bob" \
	test "$(gwpw "$PW" bob hostname)" = gw-bob
t_status() { gw "$T/ann_key" ann+gw 'exit 7'; test $? = 7; }
check "an exit status comes back" t_status
t_stderr() {
	local out
	out=$(gw "$T/ann_key" ann+gw 'echo out; echo oops >&2; exit 3')
	test $? = 3 && test "$out" = out && grep -qx oops "$T/gw.err"
}
check "stderr comes back apart from stdout" t_stderr
t_stdin() { test "$(printf 'a\nb\n' | gw "$T/ann_key" ann+gw 'wc -l')" = 2; }
check "stdin reaches the command, EOF ends it" t_stdin
t_pty() {
	gw "$T/ann_key" ann+gw -tt 'tty' </dev/null | tr -d '\r' >"$T/tty"
	grep -q '^/dev/pts/' "$T/tty"
}
check "a pty when asked" t_pty
t_nopty() { test "$(gw "$T/ann_key" ann+gw -T 'tty')" = "not a tty"; }
check "none when not" t_nopty

# --- files -------------------------------------------------------------------
head -c 10485760 /dev/urandom >"$T/big"
SUM=$(sha256sum <"$T/big" | cut -d' ' -f1)
SCP=(-o BatchMode=yes "${SSHOPTS[@]}" -i "$T/ann_key" -P $GW)
check "scp (SFTP) of 10 MB up" scp -q "${SCP[@]}" "$T/big" ann+gw@127.0.0.1:big
check "... it arrived whole (sha256 in the guest)" test \
	"$(gw "$T/ann_key" ann+gw 'sha256sum big' | cut -d' ' -f1)" = "$SUM"
check "scp -O of 10 MB down" scp -q -O "${SCP[@]}" ann+gw@127.0.0.1:big "$T/back1"
check "... it came back whole" test "$(sha256sum <"$T/back1" | cut -d' ' -f1)" = "$SUM"
printf 'put %s big2\nget big2 %s\n' "$T/big" "$T/back2" >"$T/batch"
check "sftp put and get of 10 MB" sftp -q -b "$T/batch" -o BatchMode=yes \
	"${SSHOPTS[@]}" -i "$T/ann_key" -P $GW ann+gw@127.0.0.1
t_sftp_sums() {
	test "$(sha256sum <"$T/back2" | cut -d' ' -f1)" = "$SUM" &&
	test "$(gw "$T/ann_key" ann+gw 'sha256sum big2' | cut -d' ' -f1)" = \
	    "$SUM"
}
check "... whole both ways" t_sftp_sums

# --- ssh -L to the guest's httpd --------------------------------------------
check "ann serves a page in her guest on port 8080" gw "$T/ann_key" ann+gw \
	'mkdir -p www && echo hello-from-gw-ann >www/gw.txt && busybox httpd -p 8080 -h www'
fwd_check() {
	local port=$1 lp=$2
	ssh -o BatchMode=yes "${SSHOPTS[@]}" -i "$T/ann_key" -p $GW \
	    -o ExitOnForwardFailure=yes -f -N -L "$lp:127.0.0.1:$port" \
	    ann+gw@127.0.0.1 || return 1
	local pid=$(pgrep -n -f "L $lp:127.0.0.1:$port")
	local out
	out=$(exec 3<>/dev/tcp/127.0.0.1/$lp; printf 'GET /gw.txt HTTP/1.0\r\n\r\n' >&3; cat <&3)
	kill "$pid" 2>/dev/null
	printf '%s' "$out" | grep -q hello-from-gw-ann
}
t_fwd() { fwd_check 8080 25391; }
check "ssh -L through the gateway reaches the guest's httpd" t_fwd

# --- agent forwarding (ssh -A) ---------------------------------------------
# The tiny guest has no SSH client: the host's dbclient (dropbear-bin, the
# package of the guest's sshd, so its libraries are in the guest) is copied
# in and logs in to the guest itself with no key file, the agent alone.
ssh-agent -D -a "$T/agent.sock" >/dev/null 2>&1 &
AGENT_PID=$!
trap 'kill $AGENT_PID 2>/dev/null; cleanup' EXIT
for _ in $(seq 40); do [ -S "$T/agent.sock" ] && break; sleep 0.25; done
# gwa ARGS...: ssh through the gateway as ann, with the agent offered.
gwa() {
	SSH_AUTH_SOCK=$T/agent.sock ssh -o BatchMode=yes -o LogLevel=INFO \
	    "${SSHOPTS[@]}" -i "$T/ann_key" -o IdentitiesOnly=yes -p $GW "$@" \
	    2>"$T/gw.err"
}
DBC='./dbclient -y -l ann 127.0.0.1 hostname </dev/null'
check "dbclient on the host (Debian package dropbear-bin)" test -x /usr/bin/dbclient
check "ann's key goes into an ssh-agent" env SSH_AUTH_SOCK="$T/agent.sock" \
	ssh-add -q "$T/ann_key"
check "dbclient copied into gw-ann" scp -q "${SCP[@]}" /usr/bin/dbclient \
	ann+gw@127.0.0.1:dbclient
check "... and no key file of ann's in the guest" gwa ann+gw@127.0.0.1 \
	'chmod +x dbclient && ! ls .ssh/id_* 2>/dev/null'
check "ssh -A: SSH_AUTH_SOCK is a socket in the guest" gwa -A \
	ann+gw@127.0.0.1 'test -S "$SSH_AUTH_SOCK"'
check "... and the agent signs: dbclient logs in to the guest with it alone" \
	test "$(gwa -A ann+gw@127.0.0.1 "$DBC")" = gw-ann
t_agent_twice() {
	test "$(gwa -A ann+gw@127.0.0.1 "$DBC; $DBC" | tr '\n' ' ')" = \
	    "gw-ann gw-ann "
}
check "... twice in one session (an agent channel each)" t_agent_twice
check "without -A, SSH_AUTH_SOCK is unset in the guest" \
	test "$(gwa -a ann+gw@127.0.0.1 'echo "[${SSH_AUTH_SOCK-}]"')" = "[]"
# (busybox's timeout: a prompt that waited counts as no refusal)
check_fails "... and dbclient cannot log in" gwa -a ann+gw@127.0.0.1 \
	"timeout 60 $DBC; r=\$?; test \$r = 124 || exit \$r"
kill $AGENT_PID 2>/dev/null
wait $AGENT_PID 2>/dev/null
trap cleanup EXIT

# --- the access sheet ----------------------------------------------------------
# sheet_field USER FIELD: one field of USER's row of the csv sheet.
sheet_field() {
	sqlite3 -json :memory: ".import --csv '$T/sheet.csv' sheet" \
	    'SELECT * FROM sheet' | jq -r --arg u "$1" ".[] | select(.user == \$u) | .$2"
}
check "labctl access --format csv" bash -c \
	"'$LABCTL' access gw --format csv >'$T/sheet.csv'"
check "cy's gateway line comes without +COURSE" \
	test "$(sheet_field cy gateway)" = "ssh -p $GW cy@127.0.0.1"
check "ann's names her course (she has two)" \
	test "$(sheet_field ann gateway)" = "ssh -p $GW ann+gw@127.0.0.1"
check "the VM's own port stays, as the fallback" \
	test "$(sheet_field cy ssh)" = "ssh -p $(vm_port gw-cy) cy@127.0.0.1"
t_stanza() {
	sheet_field cy ssh_config >"$T/ssh_config" &&
	grep -q "Port $GW" "$T/ssh_config" &&
	test "$(ssh -F "$T/ssh_config" -o BatchMode=yes "${SSHOPTS[@]}" \
	    -i "$T/cy_key" gw-cy hostname)" = gw-cy
}
check "the ~/.ssh/config stanza logs cy in through the gateway" t_stanza
check "the text sheet puts the gateway first" bash -c \
	"'$LABCTL' access gw | grep -A1 'ssh -p $GW cy@127.0.0.1' | grep -q 'or: ssh -p'"

# --- refusals ----------------------------------------------------------------
check_fails "a wrong password is refused" gwpw nottheword bob hostname
check_fails "ann's key for bob@ is refused" gw "$T/ann_key" bob hostname
check_fails "an unknown student is refused" gw "$T/ann_key" zed hostname
check "... with a message that says so" said "unknown student"
check_fails "ann@ (two courses) is refused" gw "$T/ann_key" ann hostname
check "... told to name one" said "several courses"
check_fails "ann+gx (a stopped VM) is refused" gw "$T/ann_key" ann+gx hostname
check "... with its message" said "gx-ann is stopped"
check_fails "ann+nosuch is refused" gw "$T/ann_key" ann+nosuch hostname
check "... naming her courses" said "no VM in course"
check_fails "../x@ is refused" gw "$T/ann_key" '../x' hostname
check "... as not a login" said "is not a student's login"
check_fails "a 300-byte name is refused" gw "$T/ann_key" "$(printf 'a%.0s' $(seq 300))" hostname
check_fails "a name with a control character is refused" \
	gw "$T/ann_key" "$(printf 'ann\033[2J')" hostname
check "... and labd is still there" "$LABCTL" status

# --- exam mode ---------------------------------------------------------------
check "course set gw allow_from=10.99.0.0/16" \
	"$LABCTL" course set gw allow_from=10.99.0.0/16
check_fails "a login from 127.0.0.1 is refused" gw "$T/ann_key" ann+gw hostname
check "... in exam mode's words" said "exam mode"
check "course set gw allow_from=127.0.0.0/8,10.99.0.0/16" \
	"$LABCTL" course set gw allow_from=127.0.0.0/8,10.99.0.0/16
check "a login from inside allow_from works" \
	test "$(gw "$T/ann_key" ann+gw hostname)" = gw-ann
t_cut() {
	local pid
	gw "$T/ann_key" ann+gw 'echo started; sleep 60; echo not-cut' \
	    >"$T/cut.out" &
	pid=$!
	sleep 3
	"$LABCTL" course set gw allow_from=10.99.0.0/16 >/dev/null
	for _ in $(seq 40); do gone $pid && break; sleep 0.25; done
	gone $pid && grep -qx started "$T/cut.out" &&
	! grep -q not-cut "$T/cut.out" && grep -q "exam mode now" "$T/gw.err"
}
check "a session open when allow_from shuts its address out is cut" t_cut
check "course set gw allow_from=any" "$LABCTL" course set gw allow_from=any

# --- a suspended VM wakes ----------------------------------------------------
check "suspend gw-cy" "$LABCTL" suspend gw-cy
check "gw-cy is suspended" test "$(vm_field gw-cy state)" = suspended
check "a gateway login wakes it and lands in it" \
	test "$(gw "$T/cy_key" cy hostname)" = gw-cy
check "gw-cy is ready again" test "$(vm_field gw-cy state)" = ready

# --- many at once, and the cap -----------------------------------------------
rm -f "$T"/many.*
pids=()
for i in $(seq 8); do
	ssh -o BatchMode=yes "${SSHOPTS[@]}" -i "$T/ann_key" -p $GW \
	    ann+gw@127.0.0.1 'sleep 12; echo ok' >"$T/many.a$i" 2>&1 &
	pids+=($!)
	ssh -o BatchMode=yes "${SSHOPTS[@]}" -i "$T/cy_key" -p $GW \
	    cy@127.0.0.1 'sleep 12; echo ok' >"$T/many.c$i" 2>&1 &
	pids+=($!)
	( gwpw "$PW" bob 'sleep 12; echo ok' >"$T/many.b$i" 2>&1 ) &
	pids+=($!)
done
sleep 7
check_fails "a 9th session of ann is refused while 8 are open" \
	gw "$T/ann_key" ann+gw hostname
check "... saying why" said "sessions open already"
wait "${pids[@]}"
t_many() {
	local f n=0
	for f in "$T"/many.*; do
		if grep -qx ok "$f"; then n=$((n + 1)); else echo "$f:"; cat "$f"; fi
	done
	test $n = 24
}
check "24 sessions at once all ran" t_many

# --- events --------------------------------------------------------------------
check "labctl events lists gateway.login of gw-ann from 127.0.0.1" bash -c \
	"'$LABCTL' events --kind gateway. --limit 1000 | \
	grep -E 'gateway.login +gw-ann +ann from 127.0.0.1'"
check "and gateway.logout" bash -c \
	"'$LABCTL' events --kind gateway.logout --limit 1000 | \
	grep -E 'gateway.logout +gw-bob +bob from 127.0.0.1 after'"
check "--json carries them too" bash -c \
	"'$LABCTL' --json events --kind gateway.login | \
	jq -e 'map(select(.subject == \"gw-cy\")) | length > 0'"

# --- +console ------------------------------------------------------------------
# console_for SECONDS USER INPUT-AFTER-2s: a +console session, without a
# pty, fed INPUT 2 s in and Ctrl-] at SECONDS; its output in console.out.
console_for() {
	local secs=$1 user=$2 input=$3
	{ sleep 2; printf "$input"; sleep "$secs"; printf '\035'; } |
	    timeout $((secs + 30)) ssh -o BatchMode=yes "${SSHOPTS[@]}" \
	    -i "$T/ann_key" -o IdentitiesOnly=yes -T -p $GW \
	    "$user@127.0.0.1" >"$T/console.out" 2>"$T/gw.err"
}
t_console_prompt() {
	console_for 6 ann+gw+console '\r' || return 1
	grep -q 'gw-ann login:' "$T/console.out" || { cat "$T/console.out"; false; }
}
check "ann+gw+console: a newline brings the guest's login prompt" t_console_prompt
check "... it said Ctrl-] detaches" said "Ctrl-] detaches"
check "... and that it detached" said "console of gw-ann closed"
t_console_line() {
	local pid
	console_for 10 ann+gw+console '' &
	pid=$!
	sleep 4
	"$LABCTL" exec gw-ann -- 'echo gw-console-mark-42 >/dev/ttyS0' ||
	    return 1
	wait $pid || return 1
	grep -q gw-console-mark-42 "$T/console.out" || { cat "$T/console.out"; false; }
}
check "a line the guest writes to ttyS0 reaches the +console session" t_console_line
t_console_close() {
	# No Ctrl-]: the end of the session's input detaches as well.
	printf '\r' | timeout 30 ssh -o BatchMode=yes "${SSHOPTS[@]}" \
	    -i "$T/cy_key" -o IdentitiesOnly=yes -T -p $GW \
	    cy+console@127.0.0.1 >"$T/console.out" 2>"$T/gw.err"
}
check "cy+console (one course) detaches at the end of its input" t_console_close
check "... said so" said "console of gw-cy closed"
check_fails "ann's key for bob+console@ is refused" \
	gw "$T/ann_key" bob+console hostname
check_fails "ann+gx+console (a stopped VM) is refused" \
	gw "$T/ann_key" ann+gx+console hostname
check "... with its message" said "gx-ann is stopped"
check "the console's login is an event" bash -c \
	"'$LABCTL' events --kind gateway.login --limit 1000 | \
	grep -E 'gateway.login +gw-ann +ann from 127.0.0.1 \(\+console\)'"
check "labd still answers after the consoles" "$LABCTL" status

# --- +reset --------------------------------------------------------------------
check "course show says student_reset on (the default)" bash -c \
	"'$LABCTL' course show gw | grep -qx 'student_reset on'"
check "ann writes a file in her VM" gw "$T/ann_key" ann+gw 'echo kept >mark'
reset_as() { printf '%s\n' "$2" | gw "$T/ann_key" "$1" >"$T/reset.out"; }
check_fails "ann+gw+reset answered no: not reset (exit 1)" reset_as ann+gw+reset no
check "... it asked the question" grep -q \
	'reset your VM to pristine? everything since is lost. type yes: ' \
	"$T/reset.out"
check "... and said it did not" said "not reset"
check "... the file is still there" \
	test "$(gw "$T/ann_key" ann+gw 'cat mark')" = kept
check "ann+gw+reset answered yes: reset (exit 0)" reset_as ann+gw+reset yes
check "... it told the progress and the end" bash -c \
	"grep -q 'resetting gw-ann to pristine' '$T/reset.out' &&
	grep -q '^done: gw-ann is ' '$T/reset.out'"
check "... gw-ann is ready" test "$(vm_field gw-ann state)" = ready
check "... the file is gone" \
	test "$(gw "$T/ann_key" ann+gw 'cat mark 2>/dev/null || echo gone')" = gone
check "the reset is an event (gateway.reset)" bash -c \
	"'$LABCTL' events --kind gateway.reset --limit 100 | \
	grep -E 'gateway.reset +gw-ann +ann from 127.0.0.1: to pristine'"
check_fails "ann's key for bob+reset@ is refused" reset_as bob+reset yes
check "... gw-bob was not reset" bash -c "! '$LABCTL' events --kind \
	gateway.reset --limit 100 | grep -q gw-bob"
check_fails "course set gw student_reset=maybe is refused" \
	"$LABCTL" course set gw student_reset=maybe
check "course set gw student_reset=off" bash -c \
	"'$LABCTL' course set gw student_reset=off | grep -q 'student_reset off'"
check "course show says student_reset off" bash -c \
	"'$LABCTL' course show gw | grep -qx 'student_reset off'"
check "ann writes the file again" gw "$T/ann_key" ann+gw 'echo kept >mark'
check_fails "ann+gw+reset with student_reset=off is refused" \
	reset_as ann+gw+reset yes
check "... saying why" said "student_reset is off"
check "... the file is still there" \
	test "$(gw "$T/ann_key" ann+gw 'cat mark')" = kept
check "... the refusal is an event" bash -c \
	"'$LABCTL' events --kind gateway.reset --limit 100 | \
	grep -q 'refused, student_reset is off'"
check "course set gw student_reset=on" "$LABCTL" course set gw student_reset=on
t_reset_pty() {
	# On a pty the terminal is raw: labd echoes the answer itself, and
	# a backspace takes back a letter ("yex", DEL, "s" is yes).
	local ssh="ssh -tt -o BatchMode=yes ${SSHOPTS[*]} -i $T/ann_key"
	ssh="$ssh -o IdentitiesOnly=yes -p $GW ann+gw+reset@127.0.0.1"
	{ sleep 4; printf 'yex\177s\r'; sleep 10; } |
	    timeout 60 script -qc "$ssh" /dev/null | tr -d '\r' >"$T/reset.pty"
	grep -q 'type yes: yex' "$T/reset.pty" &&
	    grep -q '^done: gw-ann is back to pristine' "$T/reset.pty" ||
	    { cat -v "$T/reset.pty"; false; }
}
check "+reset on a pty: the answer echoed, a backspace erases, then yes" t_reset_pty

# --- +check: the course's stored checks, the student's own table ---------------
mkdir -p "$T/goals" "$T/badgoals"
printf '#!/bin/sh\n# a file /tmp/hello exists\n[ -e /tmp/hello ] || { echo "no /tmp/hello yet"; exit 1; } # SECRET_SCRIPT_TEXT\n' >"$T/goals/hello.sh"
printf '#!/bin/sh\n# the guest has /etc\ntest -d /etc # SECRET_SCRIPT_TEXT\n' >"$T/goals/etc.sh"
printf '#!/bin/sh\n# count the runs\necho run >>/root/runs # SECRET_SCRIPT_TEXT\n' >"$T/goals/runs.sh"
chmod +x "$T"/goals/*
ln -s "$T/goals/etc.sh" "$T/badgoals/link.sh"
check_fails "course set gw checks=DIR with a symlink is refused" bash -c \
	"'$LABCTL' course set gw checks='$T/badgoals' 2>'$T/ck.err'"
check "... naming it" grep -q 'link.sh: a symbolic link' "$T/ck.err"
check_fails "labctl check gw with no stored checks says so" bash -c \
	"'$LABCTL' check gw 2>'$T/ck.err'"
check "... and how to store them" grep -q 'course set gw checks=DIR' "$T/ck.err"
check "course set gw checks=DIR stores 3 goals" bash -c \
	"'$LABCTL' course set gw checks='$T/goals' | grep -q 'checks  *3 goals'"
check "course show lists their names" bash -c "'$LABCTL' course show gw | \
	grep -qx 'checks        3 goals: etc, hello, runs'"
check "labctl check gw (no DIR) runs the stored ones in every VM" bash -c \
	"'$LABCTL' check gw >'$T/ck.out'; grep -q '^ann  *gw-ann ' '$T/ck.out' &&
	grep -q '^bob  *gw-bob ' '$T/ck.out'"
check_fails "ann+gw+check with a goal not met: exit 1" \
	bash -c "ssh -o BatchMode=yes ${SSHOPTS[*]} -i '$T/ann_key' \
	-o IdentitiesOnly=yes -p $GW ann+gw+check@127.0.0.1 >'$T/gwck.out' \
	2>'$T/gw.err'"
t_table() {
	grep -q 'checks of gw-ann (course gw)' "$T/gwck.out" &&
	grep -q '^  not met  hello  a file /tmp/hello exists$' "$T/gwck.out" &&
	grep -q 'why: no /tmp/hello yet$' "$T/gwck.out" &&
	grep -q '^  met      etc    the guest has /etc$' "$T/gwck.out" &&
	grep -q '^2 of 3 goals met$' "$T/gwck.out" ||
	{ cat "$T/gwck.out" "$T/gw.err"; false; }
}
check "... prints ann's goals: met, not met, why, totals" t_table
check "... never a script's text" bash -c \
	"! grep -q SECRET_SCRIPT_TEXT '$T/gwck.out' '$T/gw.err'"
check "ann makes /tmp/hello (through the gateway)" \
	gw "$T/ann_key" ann+gw 'touch /tmp/hello'
check "ann+gw+check with every goal met: exit 0" bash -c \
	"ssh -o BatchMode=yes ${SSHOPTS[*]} -i '$T/ann_key' -o IdentitiesOnly=yes \
	-p $GW ann+gw+check@127.0.0.1 >'$T/gwck.out' 2>'$T/gw.err'"
check "... 3 of 3" grep -q '^3 of 3 goals met$' "$T/gwck.out"
check "the checks ran in gw-ann 3 times" test \
	"$("$LABCTL" exec gw-ann -- cat /root/runs | wc -l)" = 3
check "... and in gw-bob once (labctl check only)" test \
	"$("$LABCTL" exec gw-bob -- cat /root/runs | wc -l)" = 1
check "labctl check --last is still the class's run (gw-bob in it)" bash -c \
	"'$LABCTL' check gw --last | grep -q '^bob  *gw-bob '"
check "the student's checks are events (gateway.check)" bash -c \
	"'$LABCTL' events --kind gateway.check --limit 100 | \
	grep -q 'ann from 127.0.0.1: all goals met'"
check "the access sheet lists ann's +console, +reset and +check" bash -c \
	"'$LABCTL' access gw >'$T/sheet.txt'
	grep -q 'ssh -p $GW ann+gw+console@127.0.0.1' '$T/sheet.txt' &&
	grep -q 'ssh -p $GW ann+gw+reset@127.0.0.1' '$T/sheet.txt' &&
	grep -q 'ssh -p $GW ann+gw+check@127.0.0.1  (check your work)' \
	'$T/sheet.txt'"
check "... in md too" bash -c "'$LABCTL' access gw --format md | \
	grep -q '^- \`ssh -p $GW ann+gw+check@127.0.0.1\`'"
# One check at a time in a VM: the first waits (its goal) for a file that
# the test makes once the second has been told to wait.
printf '#!/bin/sh\n# wait for /tmp/go\ntouch /tmp/started\nwhile [ ! -e /tmp/go ]; do sleep 0.2; done\n' >"$T/goals/wait.sh"
chmod +x "$T/goals/wait.sh"
check "course set gw checks=DIR again (a goal that waits)" \
	"$LABCTL" course set gw checks="$T/goals"
ssh -o BatchMode=yes "${SSHOPTS[@]}" -i "$T/ann_key" -o IdentitiesOnly=yes \
	-p $GW ann+gw+check@127.0.0.1 >"$T/first.out" 2>&1 &
first=$!
t_started() {
	local i
	for i in $(seq 60); do
		"$LABCTL" exec gw-ann -- test -e /tmp/started && return 0
		sleep 1
	done
	return 1
}
check "the first ann+gw+check runs (its goal started)" t_started
check_fails "a second ann+gw+check meanwhile is refused" \
	gw "$T/ann_key" ann+gw+check
check "... told to wait" said "a check is running in your VM gw-ann already"
check "ann makes /tmp/go" gw "$T/ann_key" ann+gw 'touch /tmp/go'
check "the first one ends, every goal met" wait $first
check "... 4 of 4" grep -q '^4 of 4 goals met$' "$T/first.out"
check_fails "ann+gx+check: course gx has no checks" \
	gw "$T/ann_key" ann+gx+check
check "... and is told so" said "course gx has no checks"
check "course set gw checks=none clears them" bash -c \
	"'$LABCTL' course set gw checks=none | grep -q 'checks  *none'"
check_fails "ann+gw+check after checks=none is refused" \
	gw "$T/ann_key" ann+gw+check
check "... saying so" said "course gw has no checks"

# --- names that are no mode --------------------------------------------------
check_fails "ann+gw+bogus is refused" gw "$T/ann_key" ann+gw+bogus hostname
check "... naming the valid ones" said "+console, +reset or +check"
check_fails "ann+consol (a typo) is refused" gw "$T/ann_key" ann+consol hostname
check "... naming them too" said "+console, +reset or +check"

# --- a window change reaches the guest -----------------------------------------
t_winch() {
	# script(1) gives ssh a terminal: 40x100 at the start, 50x120 later
	# (SIGWINCH, a window-change request through the gateway).
	local ssh="ssh -tt -o BatchMode=yes ${SSHOPTS[*]} -i $T/ann_key"
	ssh="$ssh -o IdentitiesOnly=yes -p $GW ann+gw@127.0.0.1"
	timeout 60 script -qec "stty rows 40 cols 100; \
	    (sleep 4; stty rows 50 cols 120 </dev/tty) & \
	    $ssh 'stty size; sleep 8; stty size'" /dev/null </dev/null |
	    tr -d '\r' >"$T/winch.out"
	# The pty may echo a ^@ (script's end of input) before ssh's raw mode.
	grep -Eq '(^|[^0-9])40 100$' "$T/winch.out" &&
	    grep -Eq '(^|[^0-9])50 120$' "$T/winch.out" ||
	    { cat "$T/winch.out"; false; }
}
check "a pty's size and a window change reach the guest (stty size)" t_winch

# --- parked sessions (gw_park.c) ---------------------------------------------
# park FIELD: a counter of labctl status's gateway_park.
park() { "$LABCTL" --json status | jq -r ".gateway_park.$1"; }
# parked N: wait until N sessions are parked and none is being made.
parked() {
	local _
	for _ in $(seq 240); do
		[ "$(park parked)" = "$1" ] && [ "$(park making)" = 0 ] && return 0
		sleep 0.5
	done
	"$LABCTL" --json status | jq .gateway_park
	return 1
}
# counted FIELD N: the counter is N.
counted() { test "$(park "$1")" = "$2" || { "$LABCTL" --json status | jq .gateway_park; false; }; }
check "labctl status shows the parked sessions" bash -c \
	"'$LABCTL' status | grep -q '^parked  *[0-9]* sessions'"
check "one session is parked in each ready VM of gw (3)" parked 3
# ann_logins: how many gateway.login events of gw-ann there are.
ann_logins() {
	"$LABCTL" --json events --kind gateway.login --limit 10000 |
	    jq '[.[] | select(.subject == "gw-ann")] | length'
}
TAKEN=$(park taken) DEAD=$(park dead) LOGINS=$(ann_logins)
check "ann logs in (gw-ann)" test "$(gw "$T/ann_key" ann+gw hostname)" = gw-ann
check "... on the parked session (taken +1, none dead)" bash -c \
	"test \"\$('$LABCTL' --json status | jq '.gateway_park.taken - $TAKEN,
	.gateway_park.dead - $DEAD' | tr '\n' ' ')\" = '1 0 '"
check "... labd's log says so" grep -q \
	'gateway: gw-ann from 127.0.0.1: a parked session' "$T/labd.log"
check "a new one is parked after her logout" parked 3
check "a second login lands in gw-ann" \
	test "$(gw "$T/ann_key" ann+gw hostname)" = gw-ann
check "... on the session parked after the first (taken +2)" \
	counted taken $((TAKEN + 2))
check "... two logins, two gateway.login events: the parked ones are none" \
	test "$(ann_logins)" = $((LOGINS + 2))
check "parked again" parked 3
# The guest's dropbear processes of its connections, the parked one among
# them, are killed behind labd's back (all but labctl exec's own).
KILL_CONNS='l=$(cat /run/dropbear.pid); anc=" "; p=$$
while [ "$p" -gt 1 ]; do anc="$anc$p "; p=$(awk "/^PPid/ {print \$2}" /proc/$p/status); done
n=0; for d in /proc/[0-9]*; do q=${d#/proc/}
	[ "$(cat $d/comm 2>/dev/null)" = dropbear ] || continue
	[ "$(awk "/^PPid/ {print \$2}" $d/status)" = "$l" ] || continue
	case "$anc" in *" $q "*) continue ;; esac
	kill $q && n=$((n + 1)); done; echo killed $n'
t_kill_conns() { "$LABCTL" exec gw-ann -- "$KILL_CONNS" | grep -q 'killed [1-9]'; }
check "the parked session of gw-ann dies in the guest (its dropbear killed)" \
	t_kill_conns
check "ann still logs in" test "$(gw "$T/ann_key" ann+gw hostname)" = gw-ann
check "... the parked one was found dead, a fresh login was made" \
	counted dead $((DEAD + 1))
check "... labd's log says so" grep -q \
	'gw-ann from 127.0.0.1: the parked session is dead' "$T/labd.log"
check "parked again" parked 3
check "labctl reset gw-ann" "$LABCTL" reset gw-ann
check "... its parked session was dropped, a new one parked once ready" parked 3
check "ann logs in after the reset" \
	test "$(gw "$T/ann_key" ann+gw hostname)" = gw-ann
check "labctl stop gw-cy" "$LABCTL" stop gw-cy
check "... its parked session is dropped (2 left)" parked 2
check_fails "... cy is refused as before" gw "$T/cy_key" cy hostname
check "... with its message" said "gw-cy is stopped"
check "labctl start gw-cy" "$LABCTL" start gw-cy
check "... ready" "$LABCTL" wait gw-cy --timeout 600
check "... parked again (3)" parked 3
check "cy logs in after the stop and start" \
	test "$(gw "$T/cy_key" cy hostname)" = gw-cy
check "the gateway's key is in ann's authorized_keys" bash -c \
	"'$LABCTL' exec gw-ann -- grep labd-gateway@gw \
	/home/ann/.ssh/authorized_keys >'$T/gwkey.line'"
check "ann removes the gateway's key from her authorized_keys" \
	gw "$T/ann_key" ann+gw "sed -i '/labd-gateway@gw/d' .ssh/authorized_keys"
check_fails "... her next login fails" gw "$T/ann_key" ann+gw hostname
check "... with the message of a fresh login" \
	said "cannot reach your VM gw-ann just now (the VM refused the gateway's key for ann)"
check_fails "... and again (nothing parked lets her in)" \
	gw "$T/ann_key" ann+gw hostname
check "the key back (labctl exec)" "$LABCTL" exec gw-ann -- \
	"cat >>/home/ann/.ssh/authorized_keys <<'EOF'
$(cat "$T/gwkey.line")
EOF"
check "ann logs in again" test "$(gw "$T/ann_key" ann+gw hostname)" = gw-ann
check "... and a session is parked for her again" parked 3

# --- failed logins are rate-limited ------------------------------------------
for i in $(seq 25); do gwpw wrong bob true; done
check_fails "after too many failures the address is refused" \
	gw "$T/ann_key" ann+gw hostname
check "... with the reason" said "too many failed logins"

finish test_gateway
