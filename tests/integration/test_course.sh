#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# test_course.sh - a course of two real tiny guests, end to end: both
# become ready, the real OpenSSH client logs into each through its
# forwarded port (one by key, one by the generated password) and writes a
# file; one VM is broken (rm -rf /bin), reset brings it back without its
# file while the other is untouched; labd killed with SIGKILL and started
# again adopts both running QEMUs with the same ports.  The access sheet
# comes as csv from course create (parsed back by sqlite3's CSV reader, so
# a name with a comma and quotes must survive) and as md later, and its
# ssh line and ~/.ssh/config stanza are what log alice in.  The serial
# console shows the login prompt, and what the guest writes there reaches
# the terminal filtered (no OSC 52, no device report request).
set -u
. "$(dirname "$0")/lib.sh"

write_ini 24100
ssh-keygen -q -t ed25519 -N '' -C alice@test -f "$T/alice_key"
cat >"$T/roster.csv" <<EOF
id,name,email,ssh_key
alice,"Alice ""Al"" O'Brien, Jr.",alice@example.org,$(cat "$T/alice_key.pub")
bob,Bob Builder | TA,,
EOF
ALICE="Alice \"Al\" O'Brien, Jr."
SHEET_HEADER=name,vm,host,port,user,password,gateway,ssh,ssh_config,vnc_password

# csv_rows FILE: an access sheet in csv as a JSON array of row objects.
csv_rows() {
	sqlite3 -json :memory: ".import --csv '$1' sheet" 'SELECT * FROM sheet'
}
# sheet_field FILE USER FIELD: one field of USER's row.
sheet_field() {
	csv_rows "$1" | jq -r --arg u "$2" ".[] | select(.user == \$u) | .$3"
}

check "labd starts on a private socket" labd_start
check "template import" "$LABCTL" template import tiny "$TINY"
check "template list shows tiny@1" \
	bash -c "'$LABCTL' template list | grep -q 'tiny@1'"

t0=$(date +%s.%N)
check "course create --format csv" bash -c "'$LABCTL' course create it \
	--template tiny --roster '$T/roster.csv' --format csv >'$T/create.csv'"
create_sheet_rows() {
	[ "$(head -1 "$T/create.csv")" = "$SHEET_HEADER" ] &&
	csv_rows "$T/create.csv" | jq -e 'length == 2 and
	    (map(.vm) == ["it-alice", "it-bob"])'
}
check "the csv sheet has its header and one row a student" create_sheet_rows
# sqlite3 reads a quote that was not doubled as it stands: look too.
create_sheet_names() {
	csv_rows "$T/create.csv" | jq -e --arg a "$ALICE" \
	    'map(.name) == [$a, "Bob Builder | TA"]' &&
	grep -qF "\"Alice \"\"Al\"\" O'Brien, Jr.\",it-alice," "$T/create.csv"
}
check "the csv parses back to the exact names (comma, quotes, bar)" \
	create_sheet_names
create_sheet_passwords() {
	sheet_field "$T/create.csv" bob password | grep -Eqx '[[:alnum:]]{12}' &&
	[ -z "$(sheet_field "$T/create.csv" alice password)" ]
}
check "the csv sheet gives bob a password, alice none" create_sheet_passwords
check "both VMs become ready" "$LABCTL" wait --course it --timeout 400
t1=$(date +%s.%N)
echo "# course create to all ready: $(echo "$t1 - $t0" | bc) s"

pa=$(vm_port it-alice)
pb=$(vm_port it-bob)
check "ports are slot-based and distinct ($pa, $pb)" \
	test "$pa" = 24101 -a "$pb" = 24102
check "the sheet lists the ssh lines" bash -c "
	'$LABCTL' access it | grep -q 'ssh -p $pa alice@127.0.0.1' &&
	'$LABCTL' access it --format csv | grep -q '\"Alice \"\"Al\"\" O.Brien, Jr.\"'"
access_csv_same() {
	"$LABCTL" access it --format csv >"$T/access.csv" &&
	[ "$(head -1 "$T/access.csv")" = "$SHEET_HEADER" ] &&
	[ "$(csv_rows "$T/create.csv" | jq -c 'map(.password = "")')" = \
	  "$(csv_rows "$T/access.csv" | jq -c .)" ]
}
check "access --format csv: the create sheet's rows, without the password" \
	access_csv_same
access_md() {
	"$LABCTL" access it --format md >"$T/access.md" &&
	[ "$(grep -x -A3 'Host it-alice' "$T/access.md")" = "$(printf \
	    'Host it-alice\n    HostName 127.0.0.1\n    Port %s\n    User alice' \
	    "$pa")" ] &&
	grep -qF '| Bob Builder \| TA | `it-bob` | `ssh -p '"$pb"' bob@127.0.0.1` |' \
	    "$T/access.md"
}
check "access --format md: alice's stanza with port $pa, bob's table row" \
	access_md
access_bad_format() {
	"$LABCTL" access it --format pdf 2>"$T/err"
	[ $? -eq 2 ] && grep -q 'use text, csv or md' "$T/err" || return 1
	"$LABCTL" course create it3 --template tiny --roster "$T/roster.csv" \
	    --format=pdf 2>/dev/null
	[ $? -eq 2 ] && ! "$LABCTL" course show it3 >/dev/null 2>&1
}
check "a bad --format is a usage error (2), and creates nothing" \
	access_bad_format

# alice by her key, bob by the password on the create sheet (SSH_ASKPASS
# answers the prompt).
pw=$(sheet_field "$T/create.csv" bob password)
ssh_alice() { login_key "$T/alice_key" "$pa" alice "$@"; }
ssh_bob() { login_password "$pw" "$pb" bob "$@"; }
ssh_root() { login_key "$T/state/keys/labd_ed25519" "$1" root "$2"; }
alice_writes() { ssh_alice 'echo from-alice > ~/marker && cat ~/marker' | grep -q from-alice; }
bob_writes() { ssh_bob 'echo from-bob > ~/marker && cat ~/marker' | grep -q from-bob; }
bob_reads() { ssh_bob 'cat ~/marker' | grep -q from-bob; }
alice_hostname() { ssh_alice hostname | grep -qx it-alice; }
# A listener on the host's loopback: without restrict=on the guest would
# reach it as 10.0.2.2:24199.
alice_no_outside() {
	ssh_alice 'nc -w 3 10.0.2.2 24199 </dev/null; echo rc=$?' |
	    grep -q 'rc=[1-9]' && [ ! -s "$T/leak" ]
}
socat -u TCP-LISTEN:24199,bind=127.0.0.1,reuseaddr,fork OPEN:"$T/leak",creat,append &
LISTENER=$!
alice_breaks() { ssh_root "$pa" 'rm -rf /bin'; return 0; }
alice_alive() { ssh_alice 'echo back' | grep -q back; }
alice_no_marker() { ssh_alice 'test ! -e ~/marker'; }
bob_untouched() { [ "$(vm_field it-bob pid)" = "$bob_pid" ] && bob_reads; }
# The second public IP: the guest's web page on 127.0.0.2, slot-based.
alice_web() {
	local body
	exec 3<>/dev/tcp/127.0.0.2/24151 || return 1
	printf 'GET / HTTP/1.0\r\n\r\n' >&3
	body=$(timeout 10 cat <&3)
	exec 3<&-
	printf '%s' "$body" | grep -q '<h1>it-alice</h1>'
}
overlay_backed() {
	qemu-img info --backing-chain -U "$T/state/vms/it-alice/disk.qcow2" |
	    grep -q 'backing file: .*templates/tiny@1/disk.qcow2'
}

check "alice logs in with her key and writes a file" alice_writes
# The sheet's own ssh line, word for word, with the test's key options.
sheet_ssh_alice() {
	local words
	read -ra words <<<"$(sheet_field "$T/create.csv" alice ssh)"
	[ "${words[0]}" = ssh ] &&
	ssh -o BatchMode=yes "${SSHOPTS[@]}" -i "$T/alice_key" \
	    "${words[@]:1}" hostname | grep -qx it-alice
}
check "the sheet's ssh line logs alice in" sheet_ssh_alice
stanza_alice() {
	sheet_field "$T/create.csv" alice ssh_config >"$T/ssh_config" &&
	ssh -F "$T/ssh_config" -o BatchMode=yes "${SSHOPTS[@]}" \
	    -i "$T/alice_key" it-alice hostname | grep -qx it-alice
}
check "the sheet's ~/.ssh/config stanza logs alice in as ssh it-alice" \
	stanza_alice
check "bob logs in with his password and writes a file" bob_writes
check "the guest's hostname is its VM name" alice_hostname
check "alice's web page answers on the second IP, 127.0.0.2:24151" alice_web
# The serial console: Enter brings the guest's login prompt, Ctrl-] ends it.
console_login() {
	{ printf '\r'; sleep 2; printf '\035'; } |
	    timeout 20 "$LABCTL" console it-bob >"$T/console.out" 2>&1 &&
	grep -q 'login:' "$T/console.out" && grep -q 'closed' "$T/console.out"
}
check "labctl console shows the guest's login prompt, Ctrl-] detaches" \
	console_login
check_fails "labctl console of a VM that does not exist" \
	"$LABCTL" console it-nobody
# What the guest writes to its console reaches the terminal filtered: a
# clipboard write (OSC 52) and a cursor report request (CSI 6n) are
# dropped, colours pass.
console_filtered() {
	{ sleep 2
	  ssh_root "$pb" "printf 'A\033]52;c;SGVsbG8=\007B\033[6nC\033[31mD\n' \
	      >/dev/ttyS0" </dev/null >/dev/null 2>&1
	  sleep 2; printf '\035'; } |
	    timeout 30 "$LABCTL" console it-bob >"$T/console2.out" 2>&1 &&
	grep -q 'ABC' "$T/console2.out" &&
	grep -qF $'C\033[31mD' "$T/console2.out" &&
	! grep -qF $'\033]' "$T/console2.out" &&
	! grep -qF $'\033[6n' "$T/console2.out"
}
check "labctl console drops the guest's OSC 52 and CSI 6n, passes SGR" \
	console_filtered
check "the guest reaches nothing outside (restrict=on)" alice_no_outside

bob_pid=$(vm_field it-bob pid)
check "labd's management key reaches root and runs rm -rf /bin" alice_breaks
check_fails "alice can no longer log in" alice_alive

t0=$(date +%s.%N)
check "labctl reset brings alice's VM back" "$LABCTL" reset it-alice
t1=$(date +%s.%N)
echo "# reset to ready: $(echo "$t1 - $t0" | bc) s"
check "alice logs in again after the reset, same port $pa" alice_alive
check "alice's file is gone: a fresh disk" alice_no_marker
check "alice's port is unchanged" test "$(vm_port it-alice)" = "$pa"
check "bob's VM was not touched (same QEMU, file still there)" bob_untouched
check "the overlay backs onto the template" overlay_backed

# SIGKILL labd: the guests keep running, a new labd adopts them.
alice_pid=$(vm_field it-alice pid)
kill -9 "$LABD_PID"
wait "$LABD_PID" 2>/dev/null
sleep 1
check "both QEMUs outlive labd's SIGKILL" \
	alive "$alice_pid" "$bob_pid"
check "labd starts again" labd_start
check "both VMs are ready again after the restart" \
	"$LABCTL" wait --course it --timeout 120
check "the same QEMU processes were adopted, not restarted" bash -c "
	test '$(vm_field it-alice pid)' = '$alice_pid' &&
	test '$(vm_field it-bob pid)' = '$bob_pid'"
check "the ports are the same after the restart" bash -c "
	test '$(vm_port it-alice)' = '$pa' && test '$(vm_port it-bob)' = '$pb'"
check "ssh still works after the restart" bob_reads

check_fails "course rm refuses a course whose VMs run" "$LABCTL" course rm it --yes
check "course show lists both VMs" bash -c \
	"'$LABCTL' course show it --json | jq -e '.vms | length == 2'"
check "stop --course powers both VMs off" "$LABCTL" stop --course it
check "both are listed stopped" bash -c "
	test \"\$('$LABCTL' list it --json | jq -r '.[].state' | sort -u)\" = stopped"
check "no QEMU is left" gone "$alice_pid" "$bob_pid"

# A bulk loss is confirmed: --yes in a script, "yes" typed at a terminal.
check_fails "course rm without --yes and without a terminal does nothing" \
	"$LABCTL" course rm it
cp "$T/last.out" "$T/noyes"
check "and says to add --yes" grep -q \
	"course it: remove 2 VMs with their disks and snapshots; add --yes" "$T/noyes"
# at_tty ANSWER CMD...: CMD on a pseudo-terminal that ANSWER is typed into.
at_tty() {
	local answer=$1
	shift
	python3 -c '
import os, pty, sys, time
pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[2], sys.argv[2:])
out = b""
deadline = time.time() + 30
sent = False
while time.time() < deadline:
    try:
        b = os.read(fd, 4096)
    except OSError:
        break
    if not b:
        break
    out += b
    if not sent and b"Type yes" in out:
        os.write(fd, sys.argv[1].encode() + b"\n")
        sent = True
sys.stdout.write(out.decode(errors="replace"))
_, st = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(st))' "$answer" "$@"
}
check_fails "at a terminal, answering no does nothing" \
	at_tty no "$LABCTL" course rm it
check "both VMs are still there" \
	test "$("$LABCTL" list it --json | jq length)" = 2
check "at a terminal, yes removes the stopped course" \
	at_tty yes "$LABCTL" course rm it
all_gone() {
	[ "$("$LABCTL" course list --json)" = "[]" ] &&
	[ "$("$LABCTL" ports --json)" = "[]" ] &&
	[ ! -e "$T/state/vms/it-alice" ] && [ ! -e "$T/state/vms/it-bob" ]
}
check "its VMs, disks and ports are gone" all_gone
ports_reused() {
	"$LABCTL" course create it2 --template tiny --roster "$T/roster.csv" \
	    --json >"$T/it2.json" &&
	jq -e '[.students[].port] | sort == [24101, 24102]' "$T/it2.json" &&
	"$LABCTL" course rm it2 --force --yes
}
check "its slots and ports go to the next course" ports_reused

# A template that publishes no ssh: its VM keeps its row on the sheet,
# with no host, port, ssh line or stanza.
sed -e "s|= tiny|= $(dirname "$TINY")/tiny|" -e 's/^publish.*/publish = http:80/' \
	"$TINY" >"$T/nossh.ini"
printf 'id,name\ncarol,Carol\n' >"$T/roster-nossh.csv"
nossh_row() {
	"$LABCTL" template import nossh "$T/nossh.ini" >/dev/null &&
	"$LABCTL" course create ns --template nossh \
	    --roster "$T/roster-nossh.csv" --format csv >"$T/ns.csv" &&
	csv_rows "$T/ns.csv" | jq -e '.[0] | .vm == "ns-carol" and
	    .user == "carol" and (.password | length == 12) and .host == ""
	    and .port == "" and .ssh == "" and .ssh_config == ""' &&
	"$LABCTL" access ns --format md | grep -q 'SSH: not published' &&
	"$LABCTL" course rm ns --force --yes >/dev/null
}
check "a VM with no ssh port keeps its row, with no ssh line" nossh_row

kill "$LISTENER" 2>/dev/null
finish test_course
