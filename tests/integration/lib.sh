# SPDX-License-Identifier: ISC
# tests/integration/lib.sh - the helpers every integration test shares:
# a private labd on a private state dir and socket (like tmux's regress),
# TAP-like checks that count, and a clean-up that never leaves a QEMU or a
# labd behind.  Sourced, not run.  Traffic goes to 127.0.0.0/8 only.

# A test that sets LABD_IT_NETNS=own before it sources this file runs
# whole in a network namespace of its own, its loopback up: its labd's
# nftables table and its ports are then its own, and it may run beside
# the tests whose labd is in the host's namespace (tests/integration/run).
if [ "${LABD_IT_NETNS:-}" = own ]; then
	export LABD_IT_NETNS=in
	exec unshare -n bash -c 'ip link set lo up && exec bash "$@"' bash "$0" "$@"
fi
B=${B:?B (the build dir) must be set}
B=$(cd "$B" && pwd)
LABD=$B/labd
LABCTL=$B/labctl
TINY=$B/templates/tiny.ini
npass=0
nfail=0

T=$(mktemp -d /tmp/labd-it.XXXXXX)
chmod 0755 "$T"
export LABD_SOCKET=$T/run/labd.sock
# ssh takes the first value given for an option: BatchMode is left to
# each call (yes for keys, no where SSH_ASKPASS types a password).
SSHOPTS=(-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null
	-o LogLevel=ERROR -o ConnectTimeout=10)

ok() {
	npass=$((npass + 1))
	echo "ok $((npass + nfail)) - $*"
}

not_ok() {
	nfail=$((nfail + 1))
	echo "not ok $((npass + nfail)) - $*"
}

# check "what" command...: ok when the command exits 0.
check() {
	local what=$1
	shift
	if "$@" >"$T/last.out" 2>&1; then
		ok "$what"
	else
		not_ok "$what"
		sed 's/^/#   /' "$T/last.out" | tail -20
	fi
}

# check_fails "what" command...: ok when the command exits non-zero.
check_fails() {
	local what=$1
	shift
	if "$@" >"$T/last.out" 2>&1; then
		not_ok "$what (it succeeded)"
		sed 's/^/#   /' "$T/last.out" | tail -20
	else
		ok "$what"
	fi
}

# Write labd.ini for this test: two loopback "public" IPs, ssh from BASE.
write_ini() {
	local base=$1
	cat >"$T/labd.ini" <<EOF
[labd]
state_dir = $T/state
run_dir   = $T/run

[network]
mode       = user
public_ips = 127.0.0.1, 127.0.0.2

[publish]
ssh  = 127.0.0.1:$base
http = 127.0.0.2:$((base + 50))

[vmm]
accel = ${LABD_ACCEL:-auto}
collector = $B/templates
EOF
}

# labd_start [NETNS]: labd on $T/labd.ini, in the network namespace NETNS
# when given (ip netns exec execs labd: $! is labd's own pid).  LABD_WRAP,
# when set, is a command that execs labd (prlimit ...).
labd_start() {
	if [ $# -gt 0 ]; then
		ip netns exec "$1" ${LABD_WRAP:-} "$LABD" -d -c "$T/labd.ini" >>"$T/labd.log" 2>&1 &
	else
		${LABD_WRAP:-} "$LABD" -d -c "$T/labd.ini" >>"$T/labd.log" 2>&1 &
	fi
	LABD_PID=$!
	for _ in $(seq 100); do
		[ -S "$LABD_SOCKET" ] && "$LABCTL" status >/dev/null 2>&1 &&
			return 0
		kill -0 $LABD_PID 2>/dev/null || break
		sleep 0.1
	done
	echo "# labd did not start:"
	sed 's/^/#   /' "$T/labd.log" | tail -20
	return 1
}

# two_students COURSE [keys]: labd started, the tiny template imported and a
# course COURSE of ann and ben created and ready, each step a check.  With
# "keys", each has a key of her own in the roster ($T/ann_key, $T/ben_key);
# without, none.
two_students() {
	local s
	if [ "${2:-}" = keys ]; then
		echo "id,name,email,ssh_key" >"$T/roster.csv"
		for s in ann ben; do
			ssh-keygen -q -t ed25519 -N '' -C $s@test -f "$T/${s}_key"
			echo "$s,${s^},,$(cat "$T/${s}_key.pub")" >>"$T/roster.csv"
		done
	else
		printf 'id,name,email,ssh_key\nann,Ann,,\nben,Ben,,\n' >"$T/roster.csv"
	fi
	check "labd starts on a private socket" labd_start
	check "template import" "$LABCTL" template import tiny "$TINY"
	check "course create" "$LABCTL" course create "$1" --template tiny \
		--roster "$T/roster.csv"
	check "both VMs become ready" "$LABCTL" wait --course "$1" --timeout 400
}

# Kill every QEMU this test started (pidfiles under its run dir).
kill_guests() {
	local p pid
	for p in "$T"/run/vms/*/pid; do
		[ -f "$p" ] || continue
		pid=$(cat "$p" 2>/dev/null) || continue
		[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
	done
	return 0
}

cleanup() {
	[ -n "${LABD_PID:-}" ] && kill -9 "$LABD_PID" 2>/dev/null
	# A QEMU that a worker was starting when labd died writes its
	# pidfile a moment later: look twice.
	kill_guests
	sleep 0.5
	kill_guests
	if [ "$nfail" -ne 0 ] || [ -n "${KEEP:-}" ]; then
		echo "# labd log (last 30 lines of $T/labd.log):"
		sed 's/^/#   /' "$T/labd.log" 2>/dev/null | tail -30
	fi
	[ -n "${KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT

# login_key KEY PORT USER CMD...: the real OpenSSH client, by key.
login_key() {
	local key=$1 port=$2 user=$3
	shift 3
	ssh -o BatchMode=yes "${SSHOPTS[@]}" -i "$key" -p "$port" \
	    "$user@127.0.0.1" "$@"
}

# login_password PASSWORD PORT USER CMD...: by password, which
# SSH_ASKPASS types as a student would.
login_password() {
	local pw=$1 port=$2 user=$3
	shift 3
	printf '#!/bin/sh\necho %s\n' "$pw" >"$T/askpass.$user"
	chmod +x "$T/askpass.$user"
	SSH_ASKPASS="$T/askpass.$user" SSH_ASKPASS_REQUIRE=force DISPLAY=none \
	    setsid -w ssh -o BatchMode=no "${SSHOPTS[@]}" \
	    -o PubkeyAuthentication=no -p "$port" "$user@127.0.0.1" "$@" </dev/null
}

# vm_field VM FIELD: one field of labctl list --json for VM.
vm_field() {
	"$LABCTL" list --json | jq -r --arg vm "$1" \
		".[] | select(.name == \$vm) | .$2"
}

vm_port() {
	"$LABCTL" list --json | jq -r --arg vm "$1" \
		'.[] | select(.name == $vm) | .ports[] |
		 select(.service == "ssh") | .port'
}

# gone PID...: none of the processes exists any more.  A daemonized QEMU
# is reparented to init, which may be slow to reap it: a zombie is gone.
gone() {
	local pid st
	for pid in "$@"; do
		st=$(ps -o stat= -p "$pid" 2>/dev/null) || continue
		case $st in Z*) ;; *) return 1 ;; esac
	done
	return 0
}

alive() { ! gone "$@"; }

finish() {
	echo
	echo "$1: $npass passed, $nfail failed"
	[ "$nfail" -eq 0 ]
}
