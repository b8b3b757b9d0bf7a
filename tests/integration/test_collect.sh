#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# test_collect.sh - labctl collect on a course of two real tiny guests:
# files written with labctl exec (a folder, a binary, a name with a
# space, a link out) come back under DEST/STUDENT with their modes and
# times, each sha256 in the manifest equal to the guest's sha256sum and to
# the copy's; a glob that matches nothing is said; a suspended VM is
# resumed, collected and suspended again; --max-size cuts; a guest whose
# tar is replaced by a hostile stream (a link to a folder outside DEST
# and a file through it, "../", an absolute name) writes nothing outside
# DEST; a stopped VM is collected from its disk by the collector
# appliance (files written while it ran, sha256 checked, its overlay
# unchanged, still stopped after; a path not there said); a PATH with
# "..", a relative PATH and an existing DEST are refused and nothing is
# made.
set -u
. "$(dirname "$0")/lib.sh"

write_ini 26500
two_students cl

check "ann's exam files (labctl exec)" "$LABCTL" exec cl-ann -- \
	'mkdir -p /home/ann/exam/sub && echo "int main(void) { return 0; }" >/home/ann/exam/main.c &&
	 head -c 300000 /dev/urandom >/home/ann/exam/sub/data.bin &&
	 echo spaced >"/home/ann/exam/with space.txt" &&
	 chmod 0640 /home/ann/exam/main.c && chmod 0751 /home/ann/exam/sub &&
	 touch -t 202001020304.05 /home/ann/exam/main.c &&
	 ln -s /etc /home/ann/exam/etc-link'
check "ben's exam file and a note in /root" "$LABCTL" exec cl-ben -- \
	'mkdir -p /home/ben/exam && echo ben >/home/ben/exam/answer.txt &&
	 echo note >/root/note.txt'

D=$T/out
"$LABCTL" exec cl-ann -- 'ls -A /tmp' >"$T/tmp.before"
check "collect runs" bash -c "'$LABCTL' collect cl '/home/*/exam' \
	'/root/*.txt' --to '$D' >'$T/run.txt' 2>&1"
check "ann: 3 files, the link skipped, the missing glob said" grep -qx \
	"cl-ann: collected 3 files, 300036 bytes; 1 skipped: ./home/ann/exam/etc-link: a symbolic link, not followed; the guest's tar said: no such file: /root/\*.txt" \
	"$T/run.txt"
check "ben: 2 files" grep -qx "cl-ben: collected 2 files, 9 bytes" "$T/run.txt"
check "the closing line" grep -qx "2 of 2 VMs collected into $D" "$T/run.txt"
check "the files are under DEST/STUDENT" test -f "$D/ann/home/ann/exam/main.c" -a \
	-f "$D/ann/home/ann/exam/sub/data.bin" -a -f "$D/ben/home/ben/exam/answer.txt" -a \
	-f "$D/ben/root/note.txt" -a -f "$D/ann/home/ann/exam/with space.txt"
check "the link was not made" test ! -e "$D/ann/home/ann/exam/etc-link" -a \
	! -L "$D/ann/home/ann/exam/etc-link"
check "the manifest: a header and 5 rows" bash -c \
	"test \$(wc -l <'$D/manifest.csv') = 6 &&
	 head -1 '$D/manifest.csv' | grep -qx 'student,vm,path,bytes,sha256'"
check "the manifest row of data.bin" grep -qE \
	'^ann,cl-ann,/home/ann/exam/sub/data.bin,300000,[0-9a-f]{64}$' "$D/manifest.csv"
check "a name with a space is one field" grep -q \
	'^ann,cl-ann,/home/ann/exam/with space.txt,7,' "$D/manifest.csv"

# Every row: the guest's sha256sum, the copy's, the manifest's agree.
sums_agree() {
	local student vm path bytes sum guest local_sum
	tail -n +2 "$D/manifest.csv" | while IFS=, read -r student vm path bytes sum; do
		guest=$("$LABCTL" exec "$vm" -- "sha256sum '$path'" | cut -c1-64)
		local_sum=$(sha256sum "$D/$student$path" | cut -c1-64)
		[ "$guest" = "$sum" ] && [ "$local_sum" = "$sum" ] &&
			[ "$(stat -c %s "$D/$student$path")" = "$bytes" ] ||
			{ echo "$path: guest $guest local $local_sum manifest $sum"; return 1; }
	done
}
check "each sha256: guest = copy = manifest" sums_agree
check "modes kept (0640 file, 0751 folder)" bash -c \
	"test \$(stat -c %a '$D/ann/home/ann/exam/main.c') = 640 &&
	 test \$(stat -c %a '$D/ann/home/ann/exam/sub') = 751"
guest_mtime=$("$LABCTL" exec cl-ann -- date -r /home/ann/exam/main.c +%s)
check "the time kept (as the guest has it)" test \
	"$(stat -c %Y "$D/ann/home/ann/exam/main.c")" = "$guest_mtime"
check "no temporary files in the guest" bash -c \
	"'$LABCTL' exec cl-ann -- 'ls -A /tmp' | diff '$T/tmp.before' -"

# Bad input: refused before anything is made.
check "a PATH with .. is refused" bash -c \
	"! '$LABCTL' collect cl /home/ann/../../etc --to '$T/dd' 2>'$T/e' &&
	 grep -q '\"..\" and \".\" are not taken' '$T/e' && test ! -e '$T/dd'"
check "a relative PATH is refused" bash -c \
	"! '$LABCTL' collect cl home/ann --to '$T/dd' 2>'$T/e' &&
	 grep -q 'absolute' '$T/e' && test ! -e '$T/dd'"
check "a PATH with a ; is refused" bash -c \
	"! '$LABCTL' collect cl '/x;reboot' --to '$T/dd' 2>'$T/e' &&
	 grep -q 'is not taken' '$T/e' && test ! -e '$T/dd'"
check "labd refuses such a PATH too (vm.collect)" bash -c \
	"printf '%s\n' '{\"id\":1,\"cmd\":\"vm.collect\",\"args\":{\"vm\":\"cl-ann\",\"paths\":[\"/a/../b\"]}}' |
	 socat -t5 - UNIX-CONNECT:'$LABD_SOCKET' | grep -q '\"code\":\"invalid\"'"
check "an existing DEST is refused" bash -c \
	"! '$LABCTL' collect cl /root --to '$D' 2>'$T/e' &&
	 grep -q 'exists and is not empty: choose a new folder' '$T/e' &&
	 test \$(wc -l <'$D/manifest.csv') = 6"
echo x >"$T/afile"
check "a DEST that is a file is refused" bash -c \
	"! '$LABCTL' collect cl /root --to '$T/afile' 2>'$T/e' &&
	 grep -q 'choose a new folder' '$T/e' && test \"\$(cat '$T/afile')\" = x"

check "--max-size cuts, and says so" bash -c \
	"! '$LABCTL' collect cl /home/ann/exam --student ann --max-size 64K \
	   --to '$T/small' >'$T/small.txt' 2>&1 &&
	 grep -q '^cl-ann: failed: over the cap of 65536 bytes' '$T/small.txt'"

# A suspended VM: resumed for it, suspended again after.
check "suspend cl-ann" "$LABCTL" suspend cl-ann
check "collect from the suspended VM" bash -c \
	"'$LABCTL' collect cl /home/ann/exam/main.c --student ann --to '$T/susp' \
	   >'$T/susp.txt' && grep -qx 'cl-ann: collected 1 file, 29 bytes' '$T/susp.txt'"
check "its copy is the same" cmp "$T/susp/ann/home/ann/exam/main.c" \
	"$D/ann/home/ann/exam/main.c"
check "it is suspended again" test "$(vm_field cl-ann state)" = suspended
check "resume cl-ann" "$LABCTL" resume cl-ann

# A hostile guest: ben's root sends a tar stream of its own.
python3 - "$T" >"$T/evil.b64" <<'EOF'
import base64, io, sys, tarfile
t = sys.argv[1]
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode="w:gz", format=tarfile.GNU_FORMAT) as tf:
    def add(name, kind=tarfile.REGTYPE, data=b"pwned\n", link=""):
        ti = tarfile.TarInfo(name)
        ti.type = kind
        ti.linkname = link
        ti.size = len(data) if kind == tarfile.REGTYPE else 0
        tf.addfile(ti, io.BytesIO(data) if kind == tarfile.REGTYPE else None)
    add("./evil", tarfile.SYMTYPE, link=t + "/outside")
    add("./evil/pwned")
    add("../../../../../../.." + t + "/escaped-dotdot")
    add(t + "/escaped-absolute")
    add("./dev", tarfile.CHRTYPE)
    add("./hard", tarfile.LNKTYPE, link="/etc/shadow")
    add("./home/ben/exam/fine.txt", data=b"fine\n")
print(base64.b64encode(buf.getvalue()).decode())
EOF
mkdir -p "$T/outside"
# busybox's sh runs its own tar whatever PATH says: ben's root makes the
# login shell answer collect's command with the stream instead.
cat >"$T/evil-setup.sh" <<'EOF'
echo EVILB64 | base64 -d | gunzip >/root/evil.tar
printf '#!/bin/sh\ncase "$2" in *"tar -C / -cf -"*) exec cat /root/evil.tar;; esac\nexec /bin/sh "$@"\n' >/root/evil-sh
chmod 0755 /root/evil-sh
cp /etc/passwd /root/passwd.orig
[ -e /etc/shells ] || echo /bin/sh >/etc/shells
echo /root/evil-sh >>/etc/shells
sed -i 's|^\(root:.*:\)[^:]*$|\1/root/evil-sh|' /etc/passwd
EOF
sed -i "s|EVILB64|$(cat "$T/evil.b64")|" "$T/evil-setup.sh"
check "ben's root answers collect with a hostile stream" "$LABCTL" exec cl-ben -- \
	"echo $(base64 -w0 "$T/evil-setup.sh") | base64 -d | sh -e"
check "collect from it: the good file, the rest skipped" bash -c \
	"'$LABCTL' collect cl /home --student ben --to '$T/hostile' >'$T/h.txt' 2>&1;
	 grep -q '^cl-ben: collected 2 files, 11 bytes; 5 skipped: ./evil: a symbolic link, not followed; ' '$T/h.txt'"
check "nothing outside DEST" bash -c \
	"test -z \"\$(ls -A '$T/outside')\" && test ! -e '$T/escaped-dotdot' &&
	 test ! -e '$T/escaped-absolute' && test ! -e /escaped-dotdot"
check "inside DEST: evil is a plain folder, no link, no device" bash -c \
	"test -d '$T/hostile/ben/evil' -a ! -L '$T/hostile/ben/evil' &&
	 test -z \"\$(find '$T/hostile' -type l -o -type c -o -type b)\" &&
	 test -f '$T/hostile/ben/home/ben/exam/fine.txt'"
check "ben's shell back" "$LABCTL" exec cl-ben -- 'cp /root/passwd.orig /etc/passwd'

# A stopped VM: read from its disk by the collector appliance, not booted.
check "ben's files written while it runs" "$LABCTL" exec cl-ben -- \
	'head -c 200000 /dev/urandom >/home/ben/exam/off.bin && sync'
"$LABCTL" exec cl-ben -- 'sha256sum /home/ben/exam/off.bin /home/ben/exam/answer.txt' |
	cut -c1-64 >"$T/ben.sums"
check "stop cl-ben" "$LABCTL" stop cl-ben
BDISK=$T/state/vms/cl-ben/disk.qcow2
sha256sum "$BDISK" >"$T/ben.disk.sum"
check "collect with ben stopped: both collected, ben from its disk" bash -c \
	"'$LABCTL' collect cl /home/ann/exam/main.c '/home/ben/exam/*' --to '$T/st' \
	   >'$T/st.txt' 2>&1 &&
	 grep -qx 'cl-ben: collected 2 files, 200004 bytes (stopped: read from its disk); the guest'\\''s tar said: no such file: /home/ann/exam/main.c' '$T/st.txt' &&
	 grep -q '^cl-ann: collected 1 file, 29 bytes' '$T/st.txt' &&
	 grep -qx '2 of 2 VMs collected into $T/st' '$T/st.txt'"
check "offline: the copies' sha256 are those the guest had" bash -c \
	"sha256sum '$T/st/ben/home/ben/exam/off.bin' '$T/st/ben/home/ben/exam/answer.txt' |
	 cut -c1-64 | diff '$T/ben.sums' -"
check "offline: the manifest rows" bash -c \
	"grep -qx \"ben,cl-ben,/home/ben/exam/off.bin,200000,\$(sed -n 1p '$T/ben.sums')\" '$T/st/manifest.csv' &&
	 grep -qx \"ben,cl-ben,/home/ben/exam/answer.txt,4,\$(sed -n 2p '$T/ben.sums')\" '$T/st/manifest.csv'"
check "offline: the overlay unchanged (sha256)" sha256sum -c --quiet "$T/ben.disk.sum"
check "offline: the overlay consistent (qemu-img check)" qemu-img check -q "$BDISK"
check "offline: cl-ben still stopped" test "$(vm_field cl-ben state)" = stopped
check "offline: the appliance is gone (no pidfile)" test ! -e "$T/run/vms/cl-ben/pid"
check "offline: a path not there is said" bash -c \
	"! '$LABCTL' collect cl '/home/ben/nope*' --student ben --to '$T/st2' \
	   >'$T/st2.txt' 2>&1 &&
	 grep -qx 'cl-ben: failed: no such file: /home/ben/nope\\*' '$T/st2.txt'"

check "stop --course" "$LABCTL" stop --course cl
check "course rm --yes" "$LABCTL" course rm cl --yes
finish test_collect
