#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# test_tui.sh - labtui, the instructor's console, driven like a person
# would: in a detached tmux session of known size, keys sent with
# send-keys, the screen read with capture-pane.  A private labd with a
# course of two tiny guests: both rows come up ready, a check of two goals
# shows 1/2 in CHECKS and its reasons in the detail view, the filter narrows,
# a reset from the TUI (r, y) reaches labd and the row shows it, so does
# the event log pane (e, and e again hides it), a bulk snapshot of the
# marked course and a reset to it from the picker (R), the serial console
# opens and Ctrl-] comes back, resizes do not kill it, a lost labd is
# shown and reconnected, colour and NO_COLOR, and the terminal is
# restored after q, SIGTERM and a crash (SIGSEGV).
set -u
. "$(dirname "$0")/lib.sh"

LABTUI=$B/labtui
TMUX_SOCK=$T/tmux.sock
TM=(tmux -S "$TMUX_SOCK")
tui_cleanup() {
	"${TM[@]}" kill-server 2>/dev/null
	cleanup
}
trap tui_cleanup EXIT

if [ ! -x "$LABTUI" ] || ! command -v tmux >/dev/null; then
	not_ok "labtui ($LABTUI) and tmux are needed"
	finish test_tui
	exit 1
fi

write_ini 24600
ssh-keygen -q -t ed25519 -N '' -C t@test -f "$T/key"
k=$(cat "$T/key.pub")
printf 'id,name,ssh_key\nann,Ann,%s\nbea,Bea,%s\n' "$k" "$k" >"$T/roster.csv"

check "labd starts" labd_start
check "template import" "$LABCTL" template import tiny "$TINY"
check "course of two created" "$LABCTL" course create tt --template tiny \
	--roster "$T/roster.csv"
check "both ready" "$LABCTL" wait --course tt --timeout 400

on() {	# on VM USER CMD
	local port key=$T/key
	port=$(vm_port "$1")
	[ "$2" = root ] && key=$T/state/keys/labd_ed25519
	ssh -o BatchMode=yes "${SSHOPTS[@]}" -i "$key" -p "$port" \
	    "$2@127.0.0.1" "$3"
}

# --- the tmux side ---------------------------------------------------------
# A shell in a pane of known size; labtui is run from it, so that after
# labtui the shell's prompt (and its terminal modes) can be checked.
"${TM[@]}" -f /dev/null new-session -d -x 100 -y 30 -s tui \
	-e "LABD_SOCKET=$LABD_SOCKET" -e "PS1=tui-shell\$ " \
	"bash --norc --noprofile"
"${TM[@]}" set-option -g status off >/dev/null
screen() { "${TM[@]}" capture-pane -p -t tui "$@"; }
keys() { "${TM[@]}" send-keys -t tui "$@"; }
# wait_for REGEX [SECONDS]: until the screen matches (extended regex).
wait_for() {
	local re=$1 n=$((${2:-20} * 10))
	while [ $n -gt 0 ]; do
		screen | grep -Eq -- "$re" && return 0
		sleep 0.1
		n=$((n - 1))
	done
	echo "screen never matched /$re/; it shows:"
	screen
	return 1
}
# not_on_screen REGEX: the screen does not match.
not_on_screen() {
	if screen | grep -Eq -- "$1"; then
		echo "screen matches /$1/:"
		screen
		return 1
	fi
}
tui_pid() { pgrep -P "$("${TM[@]}" display -p -t tui '#{pane_pid}')" labtui; }
tui_alive() { local p; p=$(tui_pid) && kill -0 "$p"; }
# The shell's terminal is sane again: canonical mode, echo, no alt screen.
term_sane() {
	keys "clear; stty -a | tr ' ;' '\n\n' | grep -xE -- '-?(icanon|echo)' | tr '\n' ' '; echo" Enter
	wait_for '^icanon echo *$' 10 &&
	    [ "$("${TM[@]}" display -p -t tui '#{alternate_on}')" = 0 ]
}
run_tui() {	# run_tui [ENV=VALUE...]: labtui in the pane, then its status
	keys "clear; $* '$LABTUI'; echo labtui-exit=\$?" Enter
	wait_for 'tt-bea' 20
}

check "labtui starts and shows the header" run_tui
check "the header names labd, the VMs and the host" \
	wait_for 'labd 0\.[0-9.]+ \| (kvm|tcg) \| VMs 2/2 running' 10
check "the host meters are shown" wait_for '^CPU \[.*Mem \[' 5
check "the header says what the VMs' limits are set in" \
	wait_for 'VMs 2/2 running .*\| limits cgroup v(1|2|1\+v2)( |$)' 5
check "ann's row is ready, with its port" \
	wait_for '^ +tt-ann +ann +ready +127\.0\.0\.1:246' 10
check "bea's row is ready" wait_for '^ +tt-bea +bea +ready ' 10
check "the key bar is shown" wait_for '/Filter .*qQuit' 5
green_ready() { "${TM[@]}" capture-pane -e -p -t tui | grep -q $'\e\[32mready'; }
check "ready is drawn green" green_ready

# --- checks: a run of two goals (one met, one not) while labtui shows them --
G=$T/goals
mkdir -p "$G"
printf '#!/bin/sh\n# always met\ntrue\n' >"$G/alive"
printf '#!/bin/sh\n# never met\necho "no hello here"; exit 1\n' >"$G/hello"
chmod +x "$G"/*
check "the table has a CHECKS column" wait_for ' CHECKS +SNAPSHOT *$' 5
check "never checked: CHECKS shows -" wait_for '^ +tt-ann +ann +ready .* - +[^ ]+ *$' 5
check "a check of two goals runs" "$LABCTL" check tt "$G"
check "CHECKS shows 1/2 for ann" wait_for '^ +tt-ann +ann +ready .* 1/2 ' 10
check "and for bea" wait_for '^ +tt-bea +bea +ready .* 1/2 ' 5
red_checks() { "${TM[@]}" capture-pane -e -p -t tui | grep -q $'\e\[31m *1/2'; }
check "1/2 is drawn red (not all met)" red_checks

# --- filter -------------------------------------------------------------------
keys / b e a
check "the filter narrows as it is typed" wait_for '^filter: bea' 5
keys Enter
check "the filter keeps one row" wait_for '1 of 2 VMs shown' 5
check "ann's row is gone" not_on_screen 'tt-ann'
check "bea's row stays" wait_for '^ +tt-bea ' 5
keys Escape
check "Esc clears the filter" wait_for '2 of 2 VMs shown' 5

# --- a reset from the TUI -----------------------------------------------------
on tt-ann ann 'echo before > ~/mark'
check "a file written in ann's guest" on tt-ann ann 'test -e ~/mark'
pid_before=$(vm_field tt-ann pid)
keys Home r
check "r asks y/n" wait_for 'reset to pristine tt-ann\? \[y/N\]' 5
keys y
# The row passes through restoring: seen on the screen, or, when faster
# than our polling, in the VM's recent events (the detail view).
saw=0
for _ in $(seq 100); do
	screen | grep -Eq '^ +tt-ann +ann +restoring' && { saw=1; break; }
	screen | grep -q 'reset to pristine tt-ann: ok' && break
	sleep 0.05
done
check "labd replied to the reset" wait_for 'reset to pristine tt-ann: ok' 60
check "labd reset the VM: the file is gone" on tt-ann ann 'test ! -e ~/mark'
check "labctl lists it ready" test "$(vm_field tt-ann state)" = ready
check "same QEMU (a reset without reboot)" \
	test "$(vm_field tt-ann pid)" = "$pid_before"
keys Home Enter
check "the detail view opens" wait_for 'VM tt-ann +course tt +student ann' 5
check "it lists the snapshots" wait_for '^ +pristine +[0-9-]+ [0-9:]+ +RAM\+disk' 10
check "it shows the ssh line" wait_for 'ssh -p 246[0-9]+ ann@127\.0\.0\.1' 5
check "it shows the last check's time" \
	wait_for '^ +CHECKS \(1/2 met, the run of [0-9-]+ [0-9:]+\)' 10
check "the met goal" wait_for '^ +alive +met *$' 5
check "the goal not met, with its reason" \
	wait_for '^ +hello +NOT MET +no hello here *$' 5
went_restoring() { wait_for '[0-9:]+ +ready' 5 && wait_for '[0-9:]+ +restoring' 5; }
check "the row went restoring -> ready (in recent events; on screen: $saw)" \
	went_restoring
keys Escape
check "Esc goes back to the table" wait_for '^ +NAME\^? +STUDENT' 5

# --- the event log pane -------------------------------------------------------
keys e
check "e opens the event log pane" wait_for '^ EVENTS \([0-9]+, newest first' 5
check "the pane shows ann's reset" \
	wait_for '^ [0-9]{2}:[0-9]{2}:[0-9]{2} tt-ann +(restoring|ready) *$' 5
check "and the outcome of the action" \
	wait_for '^ [0-9:]{8} tt-ann +reset to pristine ok *$' 5
check "the table stays above it" wait_for '^ +tt-bea +bea +ready' 5
keys e
log_gone() {	# the pane's title leaves the screen, the table stays
	local n=50
	while [ $n -gt 0 ] && screen | grep -q '^ EVENTS ('; do
		sleep 0.1
		n=$((n - 1))
	done
	not_on_screen '^ EVENTS \(' && wait_for '^ +tt-bea +bea +ready' 5
}
check "e again closes the pane" log_gone

# --- bulk: the marked course snapshotted, then a reset picked with R -------------
keys a
check "a marks the two" wait_for 'marked 2 VMs' 5
keys n t u i s n a p Enter
check "a bulk snapshot reports both" \
	wait_for 'snapshot tuisnap: 2 ok, 0 failed' 60
has_snap() { "$LABCTL" snapshots "$1" --json | jq -e '.[] | select(.name == "tuisnap")' >/dev/null; }
check "labd has tuisnap for ann" has_snap tt-ann
check "labd has tuisnap for bea" has_snap tt-bea
keys u End
on tt-bea bea 'echo after > ~/mark2'
keys R
check "R shows bea's snapshots" wait_for 'snapshots of tt-bea' 5
check "the picker lists tuisnap" wait_for 'tuisnap +RAM\+disk' 10
check "and pristine" wait_for 'pristine +RAM\+disk' 5
keys t u i
narrowed() { wait_for 'tuisnap +RAM\+disk' 5 && not_on_screen 'pristine +RAM\+disk'; }
check "typing narrows the picker to tuisnap" narrowed
keys Enter
check "it asks y/n for tuisnap" wait_for 'reset tt-bea to "tuisnap"\? \[y/N\]' 5
keys y
check "the reset to tuisnap is done" wait_for 'reset to tuisnap tt-bea: ok' 60
check "bea's later file is gone" on tt-bea bea 'test ! -e ~/mark2'
keys S n
check "a declined stop does nothing" wait_for 'cancelled' 5
check "bea still runs" test "$(vm_field tt-bea state)" = ready

# --- the serial console -------------------------------------------------------
keys Home o
check "o opens ann's console" wait_for 'console of tt-ann' 10
keys Enter
check "the guest's login prompt answers" wait_for 'login:' 20
keys C-]
check "Ctrl-] comes back to the table" wait_for '^ +NAME\^? +STUDENT' 10
check "the rows are drawn again" wait_for '^ +tt-bea +bea +ready' 5
check "labtui still runs" tui_alive

# --- sizes ----------------------------------------------------------------------
"${TM[@]}" resize-window -t tui -x 60 -y 20
check "at 60x20 the table is redrawn narrower" \
	wait_for '^ +NAME\^? +STATE +PORTS +UPTIME' 10
check "at 60x20 the rows fit" wait_for '^ +tt-ann +ready +127\.0\.0\.1:246[0-9]+ ' 10
check "at 60x20 labtui is alive" tui_alive
"${TM[@]}" resize-window -t tui -x 80 -y 24
check "at 80x24 every column fits" wait_for '^ +NAME.*SNAPSHOT *$' 10
keys e
check "at 80x24 the event log pane opens" wait_for '^ EVENTS \(' 5
check "with the rows above it" wait_for '^ +tt-bea +bea +ready' 5
keys e
check "and e closes it" log_gone
"${TM[@]}" resize-window -t tui -x 100 -y 30
check "back at 100x30, redrawn" wait_for '^ +tt-bea +bea +ready' 10
check "and alive" tui_alive

# --- labd goes away and comes back ------------------------------------------------
kill -9 "$LABD_PID"
check "a lost labd is shown" wait_for 'labd: connection lost, retrying' 10
check "labd starts again" labd_start
check "labtui reconnects" wait_for 'labd 0\.[0-9.]+ \| (kvm|tcg) \| VMs 2/2' 15
check "the rows are ready again" wait_for '^ +tt-ann +ann +ready' 30

# --- quitting -----------------------------------------------------------------------
keys q
check "q quits with status 0" wait_for '^labtui-exit=0' 10
check "q restores the terminal" term_sane

check "without colour (NO_COLOR)" run_tui NO_COLOR=1
no_colour() { ! "${TM[@]}" capture-pane -e -p -t tui | grep -q $'\e\[3[0-7]m'; }
check "NO_COLOR: no colour at all" no_colour
tpid=$(tui_pid)
kill -TERM "$tpid"
check "SIGTERM ends it (status 143)" wait_for '^labtui-exit=143' 10
check "SIGTERM restores the terminal" term_sane

check "labtui starts again" run_tui
tpid=$(tui_pid)
kill -SEGV "$tpid"
check "a crash says so" wait_for 'labtui: crashed, terminal restored' 10
check "a crash ends it (status 139)" wait_for '^labtui-exit=139' 10
check "a crash restores the terminal" term_sane

finish test_tui
