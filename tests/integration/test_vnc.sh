#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# test_vnc.sh - [vnc]: the wall and each student's screen, with real
# viewers: vncpeek (libvncclient, built from tests/integration/vncpeek.c)
# and Debian's vncsnapshot.  A course of two tiny guests: the instructor's
# password shows a 1280x800 wall whose two tiles hold the guests' text
# consoles (their grey, not a placeholder); a student's password shows that
# student's VM and no other (compared with QEMU's own screendump of each);
# a wrong password is refused, and after five of them even the right one,
# until the pause is over; Enter zooms the wall's selected tile to the VM's
# size, and what is typed there reaches the guest (a login on tty1 writes
# a file, read back with labctl exec); Esc goes back.  A stopped VM is a
# placeholder.  Garbage, a stalled handshake and 500 connections at once
# leave labd answering.  With web set, http://IP:PORT/ serves Debian's
# noVNC, and a real headless Chromium's screenshot of it shows the wall.
# labctl vnc gives the admin the student's password, a ta the address.
# Beside the tests whose labd is in the host's network namespace: in one
# of its own (lib.sh), its course's name used by no other test.
# integration: beside
set -u
LABD_IT_NETNS=${LABD_IT_NETNS:-own}
. "$(dirname "$0")/lib.sh"

PEEK=$B/tests/vncpeek
TILES=$(dirname "$0")/vnc_tiles.py
VPORT=25990			# vncsnapshot's display 20090
VADDR=127.0.0.1:$VPORT
WADDR=127.0.0.1:25991		# noVNC

write_ini 25900
# A teaching assistant: labctl vnc without the student's password.
TA=ltvta$$
groupadd "$TA" && useradd -M -N -s /usr/sbin/nologin -g users -G "$TA" "$TA" ||
	{ echo "# cannot make the test's TA"; exit 1; }
trap 'userdel "$TA" 2>/dev/null; groupdel "$TA" 2>/dev/null; cleanup' EXIT
sed -i "s/^run_dir .*/&\nta_group  = $TA/" "$T/labd.ini"
printf 'Teach3r!\n' >"$T/teacher.pass"
printf 'wrong123\n' >"$T/wrong.pass"
cat >>"$T/labd.ini" <<EOF

[vnc]
listen        = $VADDR
web           = $WADDR
password_file = $T/teacher.pass
EOF
cat >"$T/roster.csv" <<EOF
id,name,email,ssh_key
ann,Ann,,
ben,Ben,,
EOF
# QEMU (its own uid) writes its screendumps here.
mkdir -m 1777 "$T/dump"

# peek PASSFILE ACTION...: the viewer, bounded in time.
peek() {
	local pw=$1
	shift
	timeout 60 "$PEEK" "$VADDR" "$pw" "$@"
}

# screendump VM FILE: QEMU's own picture of the VM's screen (the second
# QMP monitor, which labd's loop does not hold).
screendump() {
	local sock=$T/run/vms/$1/qmp-ctl.sock
	rm -f "$2"
	printf '%s\n' '{"execute":"qmp_capabilities"}' \
	    "{\"execute\":\"screendump\",\"arguments\":{\"filename\":\"$2\"}}" |
	    socat -t 5 - "UNIX-CONNECT:$sock" >/dev/null
	for _ in $(seq 50); do [ -s "$2" ] && return 0; sleep 0.1; done
	return 1
}

same_as() {	# PPM A and B differ in under 1% of their pixels (a cursor)
	awk -v d="$("$TILES" diff "$1" "$2")" 'BEGIN { exit !(d < 0.01) }'
}
# The checks run their commands in bash -c: give them these.
export -f peek screendump same_as
export PEEK VADDR TILES T

check "labd starts with [vnc]" labd_start
check "labd listens on the VNC port" bash -c "ss -ltn | grep -q ' $VADDR '"
check "template import" "$LABCTL" template import tiny "$TINY"
check "course create" bash -c "'$LABCTL' course create vc --template tiny \
	--roster '$T/roster.csv' >'$T/create.txt'"
check "the text sheet has a VNC line a student" \
	test "$(grep -c "vnc $VADDR" "$T/create.txt")" = 2
check "both VMs become ready" "$LABCTL" wait --course vc --timeout 400

"$LABCTL" access vc --format csv >"$T/sheet.csv"
csv_field() {
	sqlite3 -json :memory: ".import --csv '$T/sheet.csv' s" 'SELECT * FROM s' |
	    jq -r --arg u "$1" ".[] | select(.user == \$u) | .$2"
}
csv_field ann vnc_password >"$T/ann.pass"
csv_field ben vnc_password >"$T/ben.pass"
check "the csv sheet has a vnc_password column" \
	grep -q '^name,vm,host,port,user,password,gateway,ssh,ssh_config,vnc_password$' \
	"$T/sheet.csv"
check "each student has an 8-character VNC password" bash -c \
	"grep -Eqx '[[:alnum:]]{8}' '$T/ann.pass' &&
	 grep -Eqx '[[:alnum:]]{8}' '$T/ben.pass'"
check "no two students share one" bash -c "! cmp -s '$T/ann.pass' '$T/ben.pass'"
# ann's login password, shown once at create
ANNPW=$(grep 'ann@' "$T/create.txt" | sed -n 's/.*password: \([^ ]*\).*/\1/p')
check "ann's login password was on the sheet" test -n "$ANNPW"

check "labctl vnc prints the address and, for the admin, the password" bash -c "
	'$LABCTL' vnc vc-ann >'$T/vnc.out' && grep -q '$VADDR' '$T/vnc.out' &&
	grep -q \"\$(cat '$T/ann.pass')\" '$T/vnc.out'"

check "labctl vnc for the ta role: the address, not the password" bash -c "
	setpriv --reuid='$TA' --regid=users --init-groups '$LABCTL' vnc vc-ann \
	    >'$T/vnc-ta.out' 2>&1 && grep -q '$VADDR' '$T/vnc-ta.out' &&
	! grep -q \"\$(cat '$T/ann.pass')\" '$T/vnc-ta.out'"

# The consoles show their login prompt a moment after ready.
sleep 3

# --- the wall -------------------------------------------------------------
check "the instructor's password shows the 1280x800 wall" bash -c \
	"test \"\$(peek '$T/teacher.pass' sleep 4000 size snap '$T/wall.ppm')\" = 1280x800"
"$TILES" tiles "$T/wall.ppm" 2 >"$T/tiles" 2>&1
tile_ok() {	# tile I: varied, and the guest console's grey is in it
	awk -v i="$1" '$1 == i && $2 > 100 && $3 > 50 { ok = 1 } END { exit !ok }' \
	    "$T/tiles"
}
check "wall tile 0 (vc-ann) shows a console, not a blank" tile_ok 0
check "wall tile 1 (vc-ben) shows a console, not a blank" tile_ok 1
check "the header and labels are drawn (the wall has text)" bash -c \
	"test \"\$('$TILES' grey '$T/wall.ppm' f0f0f0)\" -gt 300"

# --- a student's own screen --------------------------------------------------
check "ann's password shows a 720x400 screen (the VM's VGA text mode)" bash -c \
	"test \"\$(peek '$T/ann.pass' sleep 1500 size snap '$T/ann.ppm')\" = 720x400"
# Make the two screens differ: a screenful of each one's name.
"$LABCTL" exec vc-ann -- 'clear >/dev/tty1; for i in $(seq 20); do echo AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA; done >/dev/tty1' >/dev/null
"$LABCTL" exec vc-ben -- 'clear >/dev/tty1; for i in $(seq 10); do echo "b b b b"; done >/dev/tty1' >/dev/null
sleep 1
peek "$T/ann.pass" sleep 2000 snap "$T/ann.ppm" >/dev/null 2>&1
screendump vc-ann "$T/dump/ann.ppm"
screendump vc-ben "$T/dump/ben.ppm"
check "QEMU's screendumps of both VMs" test -s "$T/dump/ann.ppm" -a -s "$T/dump/ben.ppm"
check "ann sees her own VM's screen" same_as "$T/ann.ppm" "$T/dump/ann.ppm"
check "... and not ben's" bash -c "! same_as '$T/ann.ppm' '$T/dump/ben.ppm'" 
# Typed at ann's login prompt: more of the console's grey on her screen.
check "ann's keys reach her VM" bash -c "
	peek '$T/ann.pass' sleep 500 type 'xyzxyzxyz' sleep 1000 >/dev/null &&
	screendump vc-ann '$T/dump/ann2.ppm' &&
	test \$(( \$('$TILES' grey '$T/dump/ann2.ppm') - \$('$TILES' grey '$T/dump/ann.ppm') )) -gt 100"
# ... and are taken back, so that the login prompt is clean again
peek "$T/ann.pass" key BackSpace key BackSpace key BackSpace key BackSpace \
	key BackSpace key BackSpace key BackSpace key BackSpace key BackSpace \
	sleep 300 >/dev/null
screendump vc-ben "$T/dump/ben2.ppm"
check "... and not ben's" same_as "$T/dump/ben.ppm" "$T/dump/ben2.ppm"

# --- Debian's vncsnapshot ------------------------------------------------------
vncpasswd -f <"$T/ben.pass" >"$T/ben.vncpasswd" 2>/dev/null
vncpasswd -f <"$T/wrong.pass" >"$T/wrong.vncpasswd" 2>/dev/null
check "vncsnapshot with ben's password saves his screen" bash -c "
	timeout 30 vncsnapshot -quiet -passwd '$T/ben.vncpasswd' 127.0.0.1:20090 \
	    '$T/ben.jpg' && test -s '$T/ben.jpg'"
check_fails "vncsnapshot with a wrong password is refused" \
	timeout 30 vncsnapshot -quiet -passwd "$T/wrong.vncpasswd" \
	127.0.0.1:20090 "$T/wrong.jpg"

# --- zoom, input through it --------------------------------------------------------
# The wall selects its first tile, vc-ann: Enter zooms, the keys log in
# on tty1 as ann and write a file; Esc goes back to the wall.
"$LABCTL" exec vc-ann -- 'rm -f /home/ann/vnc-ok; clear >/dev/tty1' >/dev/null
peek "$T/teacher.pass" sleep 1500 key Return sleep 1500 size \
	type "ann
" sleep 1500 type "$ANNPW
" sleep 2500 type "echo typed-through-the-wall >vnc-ok
" sleep 1500 snap "$T/zoom.ppm" key Escape sleep 1500 size >"$T/zoom.out" \
	2>"$T/zoom.err"
check "Enter zooms the selected tile to the VM's size" \
	test "$(sed -n 1p "$T/zoom.out")" = 720x400
check "Esc goes back to the wall" test "$(sed -n 2p "$T/zoom.out")" = 1280x800
check "what was typed in the zoomed tile reached the guest" bash -c \
	"test \"\$('$LABCTL' exec vc-ann -- cat /home/ann/vnc-ok)\" = typed-through-the-wall"

# The arrows move the selection: Right, Enter zooms the second tile.
peek "$T/teacher.pass" sleep 1500 key Right sleep 1200 key Return sleep 2500 \
	snap "$T/zoom-ben.ppm" >/dev/null 2>&1
screendump vc-ben "$T/dump/ben3.ppm"
check "Right, then Enter zooms vc-ben's tile" same_as "$T/zoom-ben.ppm" \
	"$T/dump/ben3.ppm"

# --- a stopped VM -------------------------------------------------------------------
check "stop vc-ben" "$LABCTL" stop vc-ben
check "ben's password now shows a 640x400 placeholder" bash -c \
	"test \"\$(peek '$T/ben.pass' sleep 1500 size snap '$T/ben-off.ppm')\" = 640x400"
check "the placeholder is no console" \
	test "$("$TILES" grey "$T/ben-off.ppm")" = 0
peek "$T/teacher.pass" sleep 4000 snap "$T/wall2.ppm" >/dev/null 2>&1
"$TILES" tiles "$T/wall2.ppm" 2 >"$T/tiles"
check "on the wall vc-ann is a console" tile_ok 0
check "... and vc-ben a placeholder" bash -c "! awk '\$1 == 1 && \$3 > 0 { f = 1 } END { exit !f }' '$T/tiles'"

# --- bad clients ------------------------------------------------------------------------
garbage() {	# 64 KiB of noise: labd closes the connection within 12 s
	python3 - "$VPORT" <<'PY'
import os, socket, sys, time
s = socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=12)
try:
    s.sendall(os.urandom(65536))
    while s.recv(4096):
        pass
except ConnectionResetError:
    pass
except socket.timeout:
    sys.exit('still open after 12 s')
PY
}
check "garbage is dropped" garbage
# A handshake that stops half-way, held open in the background.
(printf 'RFB 003.0' | timeout 15 socat -u - TCP:$VADDR,linger=0 ; sleep 15) &
stall=$!
sleep 0.5
check "a stalled handshake does not stall the wall" bash -c \
	"test \"\$(peek '$T/teacher.pass' size)\" = 1280x800"
kill $stall 2>/dev/null
python3 - "$VPORT" >"$T/flood.out" 2>&1 <<'EOF' &
import socket, sys, time
socks = []
for _ in range(500):
    try:
        s = socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=2)
        socks.append(s)
    except OSError:
        pass
print(len(socks), 'connected')
time.sleep(4)
EOF
flood=$!
sleep 1
check "labd answers while 500 connections are open" timeout 5 "$LABCTL" status
wait $flood
check "the wall answers after the flood" bash -c \
	"test \"\$(peek '$T/teacher.pass' size)\" = 1280x800"

# --- wrong passwords, rate-limited --------------------------------------------------
for _ in 1 2 3 4 5; do peek "$T/wrong.pass" size >/dev/null 2>&1; done
check_fails "after 5 wrong passwords even the right one waits" \
	peek "$T/teacher.pass" size
sleep 2.5
check "... and is let in after the pause" bash -c \
	"test \"\$(peek '$T/teacher.pass' size)\" = 1280x800"
check "wrong passwords are in the log" grep -q 'vnc: 127.0.0.1: wrong password' \
	"$T/labd.log"

# --- noVNC in a browser -------------------------------------------------------------
http_get() {	# http_get PATH [BODYFILE]: status line and headers; the body
	python3 - "$WADDR" "$1" "${2:-/dev/null}" <<'PY'
import socket, sys
h, p = sys.argv[1].split(':')
s = socket.create_connection((h, int(p)), timeout=10)
s.sendall(b'GET ' + sys.argv[2].encode() + b' HTTP/1.1\r\nHost: x\r\n\r\n')
d = b''
while True:
    b = s.recv(65536)
    if not b:
        break
    d += b
head, _, body = d.partition(b'\r\n\r\n')
sys.stdout.write(head.decode('utf-8', 'replace') + '\n')
open(sys.argv[3], 'wb').write(body)
PY
}
export -f http_get; export WADDR
check "/ sends the browser to noVNC on the RFB port" bash -c \
	"http_get / '$T/index.html' >/dev/null &&
	 grep -q 'vnc.html#host=127.0.0.1&amp;port=$VPORT' '$T/index.html'"
check "noVNC's files are Debian's, with their types" bash -c "
	http_get /core/rfb.js '$T/rfb.js' | grep -q '^Content-Type: application/javascript' &&
	cmp -s '$T/rfb.js' /usr/share/novnc/core/rfb.js"
check "nothing outside the package" bash -c \
	"http_get /../../../etc/passwd | head -1 | grep -q ' 404 ' &&
	 http_get /%2e%2e/etc/passwd | head -1 | grep -q ' 404 '"
check "headless Chromium shows the wall through noVNC" bash -c "
	timeout 90 chromium --headless=new --no-sandbox --disable-gpu \
	    --hide-scrollbars --window-size=1400,900 --virtual-time-budget=10000 \
	    --screenshot='$T/web.png' \
	    'http://$WADDR/vnc.html#host=127.0.0.1&port=$VPORT&autoconnect=true&password=Teach3r!&resize=off' \
	    >'$T/chromium.log' 2>&1 &&
	test \"\$('$TILES' grey '$T/web.png' 305080)\" -gt 20000"
check "... as the instructor" grep -q 'vnc: 127.0.0.1: the instructor' "$T/labd.log"

# --- labtui -------------------------------------------------------------------------------
TM=(tmux -S "$T/tmux.sock")
"${TM[@]}" -f /dev/null new-session -d -x 160 -y 30 -s tui \
	-e "LABD_SOCKET=$LABD_SOCKET" "$B/labtui"
check "labtui's header shows the VNC address" bash -c "
	for i in \$(seq 50); do
		tmux -S '$T/tmux.sock' capture-pane -p -t tui | grep -q 'VNC $VADDR' &&
		    exit 0
		sleep 0.2
	done
	tmux -S '$T/tmux.sock' capture-pane -p -t tui; exit 1"
# v: the VM under the cursor (the first, ann's), its password shown and
# put on the clipboard with OSC 52, which tmux keeps as a paste buffer.
"${TM[@]}" set-option -s set-clipboard on
"${TM[@]}" send-keys -t tui g v
check "labtui's v shows the student's VNC password" bash -c "
	for i in \$(seq 50); do
		tmux -S '$T/tmux.sock' capture-pane -p -t tui |
		    grep -q \"vc-ann: VNC $VADDR password \$(cat '$T/ann.pass') (copied\" &&
		    exit 0
		sleep 0.2
	done
	tmux -S '$T/tmux.sock' capture-pane -p -t tui; exit 1"
check "... and puts it on the terminal's clipboard" bash -c \
	"test \"\$(tmux -S '$T/tmux.sock' show-buffer)\" = \"\$(cat '$T/ann.pass')\""
"${TM[@]}" kill-server 2>/dev/null

check "labd is still alive" kill -0 "$LABD_PID"
"$LABCTL" stop --course vc >/dev/null 2>&1
finish test_vnc
