#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# test_guide.sh - course-guide/README.md, run as a new instructor would
# run it: every ```sh block of the guide, in order, and every file it
# shows with a "<!-- file: PATH -->" line above it, written there.  The
# walk-through goes from `make install` to a class of Debian VMs on the
# real template (make template-debian), the students' logins, a reset
# after the break, exam mode, a broken VM and a backup.
#
# It runs as root in a mount namespace of its own, where /etc, /usr/local,
# /var/lib, /run, /srv and /root are overlays: the guide's commands run as
# they are written (make install, groupadd, /etc/labd/labd.ini,
# /var/lib/labd, ssh's ~/.ssh/known_hosts) and nothing of the host
# changes.  Three things are not the host's:
#   - 203.0.113.10 and .11, the guide's public addresses, become 127.0.0.1
#     and 127.0.0.2 (traffic stays on loopback);
#   - systemctl and journalctl are shims, as no systemd runs here: the
#     unit that make install put in place is checked with systemd-analyze
#     verify, and its ExecStart= is what runs (started, stopped and
#     restarted as its KillMode= says), its output what journalctl shows;
#   - ssh's questions (a new host key, a password) are answered by
#     SSH_ASKPASS from the access sheet the guide saved, as a student
#     would type them off the sheet.
# Run by `make check-debian`.
set -u
if [ -z "${GUIDE_NS:-}" ]; then
	exec unshare -m --propagation private env GUIDE_NS=1 bash "$0" "$@"
fi
. "$(dirname "$0")/../lib.sh"
top=$(cd "$(dirname "$0")/../../.." && pwd)
GUIDE=$top/course-guide/README.md
[ "$(id -u)" -eq 0 ] || { not_ok "the guide's walk-through needs root"; finish test_guide; exit 1; }
[ -f "$B/templates/debian-12.ini" ] || { not_ok "no $B/templates/debian-12.ini: make template-debian"; finish test_guide; exit 1; }

# --- the private host -----------------------------------------------------------
for d in /etc /usr/local /var/lib /run /srv /root; do
	n=$(printf '%s' "$d" | tr / _)
	mkdir -p "$T/ov/$n/u" "$T/ov/$n/w" "$d"
	mount -t overlay overlay -o "lowerdir=$d,upperdir=$T/ov/$n/u,workdir=$T/ov/$n/w" "$d" ||
		{ not_ok "cannot overlay $d"; finish test_guide; exit 1; }
done
unset LABD_SOCKET	# the guide's labctl finds /run/labd/labd.sock itself
export SUDO_USER=teacher
useradd -M -s /bin/bash teacher	# the instructor the guide adds to labadmin
# The guide builds a second template into the checkout's build folder.
extra_before=$(ls "$top"/build/templates/debian-12-db.* 2>/dev/null)
J=$T/journal
PIDF=$T/labd.pid
UNIT=/usr/local/lib/systemd/system/labd.service

cleanup() {
	[ -f "$PIDF" ] && kill -9 "$(cat "$PIDF")" 2>/dev/null
	for p in /run/labd/vms/*/pid; do
		[ -f "$p" ] && kill -9 "$(cat "$p")" 2>/dev/null
	done
	sleep 0.5
	for p in /run/labd/vms/*/pid; do
		[ -f "$p" ] && kill -9 "$(cat "$p")" 2>/dev/null
	done
	if [ "$nfail" -ne 0 ]; then
		echo "# labd's output (last 30 lines):"
		tail -30 "$J" 2>/dev/null | sed 's/^/#   /'
	fi
	[ -n "$extra_before" ] || rm -f "$top"/build/templates/debian-12-db.*
	umount /root /srv /run /var/lib /usr/local /etc 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT

# --- shims: systemctl and journalctl, from the installed unit ---------------------
cat >"$T/shims.sh" <<EOF
J=$J PIDF=$PIDF UNIT=$UNIT
EOF
cat >>"$T/shims.sh" <<'EOF'
unit_key() { sed -n "s/^$1=//p" "$UNIT" | tail -n 1; }
labd_running() { [ -f "$PIDF" ] && kill -0 "$(cat "$PIDF")" 2>/dev/null; }
labd_start() {
	labd_running && return 0
	[ -f "$UNIT" ] || { echo "Unit labd.service not found." >&2; return 5; }
	systemd-analyze verify --man=no "$UNIT" || return 1
	[ "$(unit_key KillMode)" = process ] || { echo "labd.service: KillMode is not process" >&2; return 1; }
	# ExecStart= as systemd would run it: no shell, its own session.
	read -r -a cmd <<<"$(unit_key ExecStart)"
	setsid "${cmd[@]}" </dev/null >>"$J" 2>&1 &
	echo $! >"$PIDF"
	for _ in $(seq 100); do
		[ -S /run/labd/labd.sock ] && labctl status >/dev/null 2>&1 && return 0
		labd_running || break
		sleep 0.1
	done
	echo "labd.service failed to start" >&2
	return 1
}
labd_stop() {	# KillMode=process: SIGTERM to labd alone, the VMs run on
	labd_running || return 0
	kill -TERM "$(cat "$PIDF")"
	for _ in $(seq 100); do labd_running || { rm -f "$PIDF"; return 0; }; sleep 0.1; done
	kill -KILL "$(cat "$PIDF")"; rm -f "$PIDF"
}
systemctl() {
	local a
	case "$1" in
	daemon-reload) [ -f "$UNIT" ] ;;
	enable)	shift; for a; do case $a in --now) labd_start || return;; labd|labd.service) ;; *) return 1;; esac; done ;;
	start) labd_start ;;
	stop) labd_stop ;;
	restart) labd_stop && labd_start ;;
	status) labd_running && echo "labd.service - active (running), pid $(cat "$PIDF")" ||
		{ echo "labd.service - inactive (dead)"; return 3; } ;;
	is-active) labd_running && echo active || { echo inactive; return 3; } ;;
	*) echo "systemctl shim: $* is not part of the guide" >&2; return 1 ;;
	esac
}
journalctl() {	# -u labd [-n N] [-f is refused: it would never end]
	local n=
	while [ $# -gt 0 ]; do
		case $1 in
		-u) [ "$2" = labd ] || return 1; shift ;;
		-n) n=$2; shift ;;
		--no-pager|-e) ;;
		*) echo "journalctl shim: $1 is not part of the guide" >&2; return 1 ;;
		esac
		shift
	done
	if [ -n "$n" ]; then tail -n "$n" "$J"; else cat "$J"; fi
}
EOF

# ssh's questions, answered from the sheets the guide saved under /srv.
cat >"$T/askpass" <<'EOF'
#!/bin/bash
case $1 in
*"(yes/no"*) echo yes ;;
*password:*)
	who=${1%%\'s password:*}	# "alice@127.0.0.1"
	grep -rhoE -- "ssh -p [0-9]+ ${who%%@*}@[0-9.]+ +password: [^ ]+" /srv 2>/dev/null |
		head -n 1 | sed 's/.*password: //' ;;
*) exit 1 ;;
esac
EOF
chmod +x "$T/askpass"
export SSH_ASKPASS=$T/askpass SSH_ASKPASS_REQUIRE=force DISPLAY=none

# --- the guide's blocks --------------------------------------------------------------
# blocks/NNN.sh (a ```sh block) or blocks/NNN.file (a file; its path in
# blocks/NNN.path), in the guide's order; blocks/NNN.line its first line.
mkdir -p "$T/blocks"
awk -v dir="$T/blocks" '
	/^<!-- file: .* -->$/ { path = $3; next }
	!inb && /^```/ {
		inb = 1; n++
		kind = substr($0, 4)
		f = sprintf("%s/%03d", dir, n)
		if (path != "") { out = f ".file"; print path > (f ".path"); close(f ".path") }
		else if (kind == "sh") out = f ".sh"
		else out = ""
		if (out != "") { print NR + 1 > (f ".line"); close(f ".line") }
		path = ""
		next
	}
	inb && /^```$/ { inb = 0; if (out != "") close(out); next }
	inb && out != "" {
		gsub(/203\.0\.113\.10/, "127.0.0.1"); gsub(/203\.0\.113\.11/, "127.0.0.2")
		print > out
	}
' "$GUIDE"
nblocks=$(ls "$T/blocks"/*.sh 2>/dev/null | wc -l)
nfiles=$(ls "$T/blocks"/*.file 2>/dev/null | wc -l)
echo "# the guide has $nblocks command blocks and $nfiles files to write"
[ "$nblocks" -ge 15 ] && ok "the guide has its command blocks" || not_ok "only $nblocks command blocks in $GUIDE"

cd "$top"
for b in $(ls "$T/blocks" | sed -n 's/\.\(sh\|file\)$//p' | sort -u); do
	line=$(cat "$T/blocks/$b.line")
	if [ -f "$T/blocks/$b.file" ]; then
		path=$(cat "$T/blocks/$b.path")
		if mkdir -p "$(dirname "$path")" && cp "$T/blocks/$b.file" "$path"; then
			ok "guide line $line: wrote $path"
		else
			not_ok "guide line $line: cannot write $path"
		fi
		continue
	fi
	first=$(grep -v '^[[:space:]]*#' "$T/blocks/$b.sh" | head -n 1 | cut -c1-60)
	start=$(date +%s)
	if BASH_ENV=$T/shims.sh bash -e -o pipefail "$T/blocks/$b.sh" >"$T/out" 2>&1 </dev/null; then
		ok "guide line $line: $first ($(( $(date +%s) - start )) s)"
	else
		not_ok "guide line $line: $first"
		sed 's/^/#   /' "$T/out" | tail -20
		sed 's/^/#   > /' "$T/blocks/$b.sh"
	fi
done
finish test_guide
