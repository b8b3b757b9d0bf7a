#!/bin/bash
# SPDX-License-Identifier: ISC
# Self-check of the tiny template: boot it the way labd does (two virtio
# disks: overlay on vda, NoCloud seed ISO on vdb; user networking with
# restrict=on and a hostfwd on 127.0.0.1; serial on a socket with a log;
# QMP on a socket) and check the contract:
#   - "labd-ready: HOSTNAME" on the serial console;
#   - the seeded user logs in with its key and its password, runs commands,
#     scp works both ways (SFTP and the legacy -O protocol);
#   - root logs in with labd's key; home, .ssh and authorized_keys modes;
#   - a reboot with the same instance-id keeps the guest's own changes;
#   - QMP system_powerdown makes QEMU exit;
#   - a second overlay with another seed gets its own identity, a locked
#     user still logs in by key, and root's rm -rf /bin breaks the guest;
#   - without a network-config eth0 is 10.0.2.15/24 via 10.0.2.2, DNS
#     10.0.2.3 (QEMU user mode); a third overlay whose seed has one (as labd
#     writes it in bridge mode: 10.0.2.20/24 via 10.0.2.2) is reached
#     there, with that route and resolv.conf; a new network-config with the
#     same instance-id (plain YAML, no route) moves it at the next boot
#     without seeding it again; one for another MAC is ignored.
#
#   templates/tiny/test-boot.sh OUTDIR      (OUTDIR holds tiny.ini & co)
#   TINY_ACCEL=kvm templates/tiny/test-boot.sh OUTDIR    (default: tcg)
#   TINY_KEEP=1 keeps the temporary folder (serial logs) for a post-mortem.
#
# Every wait is bounded; the QEMUs it started are killed on exit.  Only
# loopback is used.  Exits 0 when every check passed.
set -euo pipefail

prog=templates/tiny/test-boot.sh
[ $# -eq 1 ] || { echo "usage: $prog OUTDIR" >&2; exit 2; }
out=$(cd "$1" && pwd)
accel=${TINY_ACCEL:-tcg}
# -cpu max under KVM trips an assertion in QEMU 7.2 on some (nested) hosts.
if [ "$accel" = kvm ]; then cpu=${TINY_CPU:-host}; else cpu=${TINY_CPU:-max}; fi
ready_timeout=${TINY_READY_TIMEOUT:-120}

for t in qemu-system-x86_64 qemu-img genisoimage ssh scp ssh-keygen openssl; do
	command -v "$t" >/dev/null || { echo "$prog: missing $t" >&2; exit 2; }
done
if ! command -v socat >/dev/null && ! command -v python3 >/dev/null; then
	echo "$prog: need socat or python3 to speak QMP" >&2
	exit 2
fi
for f in tiny.qcow2 tiny-vmlinuz tiny-initrd tiny.ini; do
	[ -f "$out/$f" ] || { echo "$prog: no $out/$f (run build.sh)" >&2; exit 2; }
done
append=$(awk '/^append *=/ { sub(/^[^=]*= */, ""); print }' "$out/tiny.ini")

t=$(mktemp -d /tmp/tiny-test.XXXXXX)
[ -n "${TINY_KEEP:-}" ] && echo "$prog: keeping $t"
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	[ -n "${TINY_KEEP:-}" ] || rm -rf "$t"
}
trap cleanup EXIT

failures=0
pass() { echo "ok   $*"; }
fail() { echo "FAIL $*"; failures=$((failures + 1)); }
check() {	# check DESCRIPTION EXPECTED ACTUAL
	if [ "$2" == "$3" ]; then pass "$1"; else fail "$1: want '$2', got '$3'"; fi
}
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# A port nobody listens on, so hostfwd can bind it.
free_port() {
	local p
	for _ in $(seq 1 50); do
		p=$((20000 + RANDOM % 20000))
		if ! awk -v p="$(printf ':%04X' "$p")" \
			'substr($2, length($2) - 4) == p && $4 == "0A" { f = 1 } END { exit !f }' \
			/proc/net/tcp /proc/net/tcp6 2>/dev/null; then
			echo "$p"
			return
		fi
	done
	echo 22001
}

ssh-keygen -q -t ed25519 -N '' -C labd-test -f "$t/key"
hash_secret=$(openssl passwd -6 secret)
hash_new=$(openssl passwd -6 changed-by-alice)
printf '#!/bin/sh\ncat %s\n' "$t/pw" >"$t/askpass"
chmod +x "$t/askpass"

sshopts=(-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null
	-o LogLevel=ERROR -o ConnectTimeout=10 -o ServerAliveInterval=5
	-o ServerAliveCountMax=3)
# vssh USER CMD: key login on the current VM's port.
vssh() {
	local user=$1; shift
	timeout 60 ssh "${sshopts[@]}" -o BatchMode=yes -i "$t/key" -p "$port" \
		"$user@127.0.0.1" "$@" </dev/null
}
# pwssh USER PASSWORD CMD: password login only.
pwssh() {
	local user=$1 pw=$2; shift 2
	printf '%s\n' "$pw" >"$t/pw"
	SSH_ASKPASS=$t/askpass SSH_ASKPASS_REQUIRE=force DISPLAY=none \
		timeout 60 setsid -w ssh "${sshopts[@]}" -o PubkeyAuthentication=no \
		-o PreferredAuthentications=password,keyboard-interactive \
		-o NumberOfPasswordPrompts=1 -p "$port" "$user@127.0.0.1" "$@" </dev/null
}

qmp() {	# qmp VMDIR COMMAND
	local req
	req=$(printf '{"execute":"qmp_capabilities"}\n{"execute":"%s"}\n' "$2")
	if command -v socat >/dev/null; then
		printf '%s\n' "$req" | timeout 10 socat -t2 - "UNIX-CONNECT:$1/qmp.sock"
	else
		timeout 10 python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode() + b"\n"); time.sleep(1)
s.settimeout(1)
try: print(s.recv(65536).decode())
except Exception: pass' "$1/qmp.sock" "$req"
	fi
}

# mkseed DIR INSTANCE HOSTNAME USERS-YAML [NETWORK-CONFIG]: the NoCloud ISO,
# as labd writes it.
mkseed() {
	local files=(user-data meta-data)
	rm -rf "$1/seed"
	mkdir -p "$1/seed"
	printf 'instance-id: "%s"\nlocal-hostname: "%s"\n' "$2" "$3" >"$1/seed/meta-data"
	printf '#cloud-config\nhostname: "%s"\nssh_pwauth: true\ndisable_root: false\nusers:\n%s' \
		"$3" "$4" >"$1/seed/user-data"
	if [ -n "${5:-}" ]; then
		printf '%s\n' "$5" >"$1/seed/network-config"
		files+=(network-config)
	fi
	(cd "$1/seed" && genisoimage -quiet -output ../seed.iso -volid cidata \
		-joliet -rock "${files[@]}")
}

# boot DIR [GUEST-IP [MAC]]: start QEMU on DIR's overlay and seed, the
# hostfwd to GUEST-IP (default: slirp's first address, 10.0.2.15); sets
# port and t0.
boot() {
	local d=$1 gip=${2:-} nic=virtio-net-pci,netdev=net0
	[ -n "${3:-}" ] && nic=$nic,mac=$3
	port=$(free_port)
	rm -f "$d/serial.log"
	t0=$(now)
	qemu-system-x86_64 -nodefaults -no-user-config \
		-machine "pc,accel=$accel" -cpu "$cpu" -m 128 -smp 1 -display none \
		-kernel "$out/tiny-vmlinuz" -initrd "$out/tiny-initrd" -append "$append" \
		-blockdev "driver=qcow2,node-name=disk0,file.driver=file,file.filename=$d/ov.qcow2" \
		-device virtio-blk-pci,drive=disk0 \
		-blockdev "driver=raw,node-name=seed0,read-only=on,file.driver=file,file.filename=$d/seed.iso" \
		-device virtio-blk-pci,drive=seed0 \
		-netdev "user,id=net0,restrict=on,hostfwd=tcp:127.0.0.1:$port-$gip:22" \
		-device "$nic" \
		-chardev "socket,id=ser0,path=$d/serial.sock,server=on,wait=off,logfile=$d/serial.log" \
		-serial chardev:ser0 \
		-qmp "unix:$d/qmp.sock,server=on,wait=off" \
		-daemonize -pidfile "$d/pid"
	cp "$d/pid" "$d/qemu.pid"	# QEMU removes its pidfile when it exits
	pids+=("$(cat "$d/qemu.pid")")
}

# wait_ready DIR N: wait for the Nth "labd-ready:" line; prints its host.
wait_ready() {
	local d=$1 n=$2 i
	for i in $(seq 1 $((ready_timeout * 10))); do
		if [ "$(grep -c '^labd-ready: ' "$d/serial.log" 2>/dev/null)" -ge "$n" ]; then
			grep '^labd-ready: ' "$d/serial.log" | sed -n "${n}p" |
				sed 's/^labd-ready: //; s/\r$//'
			return 0
		fi
		kill -0 "$(cat "$d/qemu.pid")" 2>/dev/null || break
		sleep 0.1
	done
	return 1
}

wait_ssh() {
	local i
	for i in $(seq 1 60); do
		vssh root true 2>/dev/null && return 0
		sleep 0.5
	done
	return 1
}

# netstate DIR: on one line, eth0's IPv4 addresses, the default route and
# the name servers as the guest sees them, and the console's "tiny: eth0".
netstate_cmd=$(cat <<'EOF'
echo addr $(ip -4 addr show eth0 | awk '$1 == "inet" { print $2 }')
echo route $(ip route | awk '$1 == "default"')
echo dns $(awk '$1 == "nameserver" { print $2 }' /etc/resolv.conf)
EOF
)
netstate() {
	echo "$(vssh root "$netstate_cmd" 2>&1 | tr '\n' ' ' | sed 's/  */ /g; s/ $//')" \
		"| $(grep -a '^tiny: eth0' "$1/serial.log" | tr -d '\r' | tr '\n' ' ' | sed 's/ $//')"
}

wait_exit() {	# wait_exit DIR SECONDS
	local pid i
	pid=$(cat "$1/qemu.pid")
	for i in $(seq 1 $(($2 * 10))); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	return 1
}

users_a=$(cat <<EOF
  - name: "alice"
    gecos: "Alice O'Brien, Jr. \\\\ \\"A\\""
    shell: "/bin/sh"
    lock_passwd: false
    passwd: "$hash_secret"
    ssh_authorized_keys:
      - "$(cat "$t/key.pub")"
      - "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOp0pB9nF0kzTcV1X9pzeXUZpGZ8fVf0rR6RrQ0W1E2H other@laptop"
  - name: "root"
    ssh_authorized_keys:
      - "$(cat "$t/key.pub")"
EOF
)
users_b=$(cat <<EOF
  - name: "bob"
    gecos: "Bob"
    shell: "/bin/sh"
    lock_passwd: true
    ssh_authorized_keys:
      - "$(cat "$t/key.pub")"
  - name: "daemon"
    passwd: "$hash_secret"
    ssh_authorized_keys:
      - "$(cat "$t/key.pub")"
  - name: "root"
    ssh_authorized_keys:
      - "$(cat "$t/key.pub")"
EOF
)

echo "== VM A (accel=$accel)"
a=$t/a
mkdir -p "$a"
mkseed "$a" "demo-alice-1-1764000000" demo-alice "$users_a"
qemu-img create -q -f qcow2 -F qcow2 -b "$out/tiny.qcow2" "$a/ov.qcow2"
boot "$a"
if host=$(wait_ready "$a" 1); then
	ready_s=$(since "$t0")
	check "ready line names the host" demo-alice "$host"
else
	fail "no labd-ready within ${ready_timeout}s"
	tail -n 30 "$a/serial.log" 2>/dev/null
	exit 1
fi
if wait_ssh; then
	ssh_s=$(since "$t0")
	pass "ssh up: labd-ready after ${ready_s}s, ssh after ${ssh_s}s"
else
	fail "no ssh within 30s of labd-ready"
	exit 1
fi

check "key login runs commands" hi "$(vssh alice 'echo hi > f; cat f' 2>&1)"
check "alice's identity" "uid=1000(alice) gid=1000(alice) groups=1000(alice)" \
	"$(vssh alice id 2>&1)"
check "home modes" "755 alice 700 alice 600 alice" \
	"$(vssh alice 'stat -c "%a %U" ~ ~/.ssh ~/.ssh/authorized_keys' 2>&1 | tr '\n' ' ' | sed 's/ $//')"
check "both keys installed" 2 "$(vssh alice 'wc -l < ~/.ssh/authorized_keys' 2>&1 | tr -d ' ')"
check "gecos unescaped" "Alice O'Brien, Jr. \\ \"A\"" \
	"$(vssh root "awk -F: '\$1 == \"alice\" { print \$5 }' /etc/passwd" 2>&1)"
check "password login" pw-ok "$(pwssh alice secret 'echo pw-ok' 2>&1)"
if pwssh alice wrong true >/dev/null 2>&1; then
	fail "a wrong password was accepted"
else
	pass "wrong password refused"
fi
echo "payload $RANDOM" >"$t/up.txt"
if timeout 60 scp -q "${sshopts[@]}" -i "$t/key" -P "$port" "$t/up.txt" \
		alice@127.0.0.1:up.txt </dev/null &&
   timeout 60 scp -q "${sshopts[@]}" -i "$t/key" -P "$port" \
		alice@127.0.0.1:up.txt "$t/down.txt" </dev/null &&
   cmp -s "$t/up.txt" "$t/down.txt"; then
	pass "scp (SFTP) both ways"
else
	fail "scp (SFTP)"
fi
rm -f "$t/down.txt"
if timeout 60 scp -O -q "${sshopts[@]}" -i "$t/key" -P "$port" \
		alice@127.0.0.1:up.txt "$t/down.txt" </dev/null &&
   cmp -s "$t/up.txt" "$t/down.txt"; then
	pass "scp -O (legacy protocol)"
else
	fail "scp -O"
fi
check "root by key" 0 "$(vssh root 'id -u' 2>&1)"
check "hostname" demo-alice "$(vssh root hostname 2>&1)"
check "static route via QEMU's gateway" "default via 10.0.2.2 dev eth0" \
	"$(vssh root 'ip route' 2>&1 | grep '^default' | sed 's/ *$//')"
check "no network-config: user-mode defaults" \
	"addr 10.0.2.15/24 route default via 10.0.2.2 dev eth0 dns 10.0.2.3 | tiny: eth0 10.0.2.15/24 via 10.0.2.2" \
	"$(netstate "$a")"

# The student's own change (a new password) must survive a reboot.
# (The hash holds only [A-Za-z0-9./$]: safe in single quotes.)
vssh root "H='$hash_new' awk -F: -v OFS=: \
	'\$1 == \"alice\" { \$2 = ENVIRON[\"H\"] } { print }' /etc/shadow >/etc/shadow.n &&
	chmod 600 /etc/shadow.n && mv /etc/shadow.n /etc/shadow" ||
	fail "cannot change alice's password"
t1=$(now)
vssh root reboot >/dev/null 2>&1 || true
if wait_ready "$a" 2 >/dev/null && wait_ssh; then
	pass "reboot: back on ssh after $(since "$t1")s"
else
	fail "no labd-ready/ssh after reboot"
	tail -n 30 "$a/serial.log"
	exit 1
fi
check "password changed in the guest survives" pw-ok \
	"$(pwssh alice changed-by-alice 'echo pw-ok' 2>&1)"
check "file survives" hi "$(vssh alice 'cat f' 2>&1)"
check "seed applied once" 1 "$(grep -c 'applied the seed' "$a/serial.log")"

t1=$(now)
qmp "$a" system_powerdown >/dev/null
if wait_exit "$a" 20; then
	pass "system_powerdown: QEMU exited after $(since "$t1")s"
else
	fail "QEMU still runs 20s after system_powerdown"
	tail -n 10 "$a/serial.log"
	kill "$(cat "$a/qemu.pid")" 2>/dev/null || true
fi

echo "== VM B, same template, another seed"
b=$t/b
mkdir -p "$b"
mkseed "$b" "demo-bob-2-1764000001" demo-bob "$users_b"
qemu-img create -q -f qcow2 -F qcow2 -b "$out/tiny.qcow2" "$b/ov.qcow2"
boot "$b"
if host=$(wait_ready "$b" 1) && wait_ssh; then
	check "ready line names the host" demo-bob "$host"
else
	fail "VM B did not come up"
	tail -n 30 "$b/serial.log"
	exit 1
fi
check "no network-config: user-mode defaults" \
	"addr 10.0.2.15/24 route default via 10.0.2.2 dev eth0 dns 10.0.2.3 | tiny: eth0 10.0.2.15/24 via 10.0.2.2" \
	"$(netstate "$b")"
check "locked user logs in by key" "bob 1000" "$(vssh bob 'echo $(id -un) $(id -u)' 2>&1)"
check "locked user's shadow" '!' \
	"$(vssh root "awk -F: '\$1 == \"bob\" { print \$2 }' /etc/shadow" 2>&1)"
check "no alice here" absent "$(vssh root 'grep -q ^alice: /etc/passwd && echo present || echo absent' 2>&1)"
check "system accounts untouched by the seed" '* no' \
	"$(vssh root "echo \$(awk -F: '\$1 == \"daemon\" { print \$2 }' /etc/shadow) \
		\$([ -e /usr/sbin/.ssh ] && echo yes || echo no)" 2>&1)"
if pwssh bob secret true >/dev/null 2>&1; then
	fail "locked user logged in with a password"
else
	pass "locked user has no password login"
fi
vssh root 'rm -rf /bin' >/dev/null 2>&1 || true
if vssh root 'echo alive' >/dev/null 2>&1; then
	fail "guest still works after rm -rf /bin"
else
	pass "rm -rf /bin as root breaks the guest"
fi
qmp "$b" quit >/dev/null || true
wait_exit "$b" 10 || kill "$(cat "$b/qemu.pid")" 2>/dev/null || true

echo "== VM C, bridge-style seed: network-config with a static address"
c=$t/c
mkdir -p "$c"
users_c=$(cat <<EOF
  - name: "carol"
    shell: "/bin/sh"
    lock_passwd: true
    ssh_authorized_keys:
      - "$(cat "$t/key.pub")"
  - name: "root"
    ssh_authorized_keys:
      - "$(cat "$t/key.pub")"
EOF
)
# Exactly the shape of labd's seed_render_netconfig(); labd passes the
# gateway as DNS server too (10.0.2.2 here, not slirp's 10.0.2.3: it must
# show that resolv.conf follows).
netcfg_c=$(cat <<'EOF'
version: 2
ethernets:
  eth0:
    match:
      macaddress: "52:54:00:12:34:56"
    set-name: eth0
    addresses:
      - "10.0.2.20/24"
    routes:
      - to: "0.0.0.0/0"
        via: "10.0.2.2"
    nameservers:
      addresses:
        - "10.0.2.2"
EOF
)
mkseed "$c" "demo-carol-3-1764000002" demo-carol "$users_c" "$netcfg_c"
qemu-img create -q -f qcow2 -F qcow2 -b "$out/tiny.qcow2" "$c/ov.qcow2"
boot "$c" 10.0.2.20 52:54:00:12:34:56
if host=$(wait_ready "$c" 1); then
	ready_c_s=$(since "$t0")
	if wait_ssh; then
		pass "ssh to 10.0.2.20: labd-ready after ${ready_c_s}s, ssh after $(since "$t0")s"
	else
		fail "no ssh to 10.0.2.20 within 30s of labd-ready"
		tail -n 30 "$c/serial.log"
		exit 1
	fi
else
	fail "VM C: no labd-ready within ${ready_timeout}s"
	tail -n 30 "$c/serial.log"
	exit 1
fi
check "ready line names the host" demo-carol "$host"
check "network-config: address, route and DNS" \
	"addr 10.0.2.20/24 route default via 10.0.2.2 dev eth0 dns 10.0.2.2 | tiny: eth0 10.0.2.20/24 via 10.0.2.2" \
	"$(netstate "$c")"
check "seeded user logs in" carol "$(vssh carol 'id -un' 2>&1)"
vssh root 'echo kept >/root/marker' || fail "cannot write /root/marker"

# The same instance, a new network-config (plain scalars, flow lists, no
# route): the network follows at the next boot, the rest is not re-seeded.
netcfg_c2=$(cat <<'EOF'
# written by hand
network:
    version: 2
    ethernets:
        nic0:
            match:
                macaddress: 52:54:00:12:34:56
            addresses: [10.0.2.21/24]
            nameservers:
                addresses: [10.0.2.3, 10.0.2.4]
EOF
)
qmp "$c" system_powerdown >/dev/null
wait_exit "$c" 20 || { fail "VM C did not power down"; kill "$(cat "$c/qemu.pid")" 2>/dev/null || true; }
mkseed "$c" "demo-carol-3-1764000002" demo-carol "$users_c" "$netcfg_c2"
boot "$c" 10.0.2.21 52:54:00:12:34:56
if wait_ready "$c" 1 >/dev/null && wait_ssh; then
	pass "new network-config: ssh to 10.0.2.21 after $(since "$t0")s"
	check "network-config without a route: no default route" \
		"addr 10.0.2.21/24 route dns 10.0.2.3 10.0.2.4 | tiny: eth0 10.0.2.21/24" \
		"$(netstate "$c")"
	check "same instance: not seeded again, root's file kept" "0 kept" \
		"$(grep -c 'applied the seed' "$c/serial.log") $(vssh root 'cat /root/marker' 2>&1)"
else
	fail "VM C: no ssh to 10.0.2.21 after a new network-config"
	tail -n 30 "$c/serial.log"
fi

# A network-config for a NIC the guest does not have: ignored, as cloud-init
# would; eth0 falls back to the user-mode defaults, resolv.conf with it.
qmp "$c" system_powerdown >/dev/null
wait_exit "$c" 20 || { fail "VM C did not power down"; kill "$(cat "$c/qemu.pid")" 2>/dev/null || true; }
mkseed "$c" "demo-carol-3-1764000002" demo-carol "$users_c" \
	"$(printf '%s\n' "$netcfg_c" | sed 's/52:54:00:12:34:56/52:54:00:00:00:99/')"
boot "$c" "" 52:54:00:12:34:56
if wait_ready "$c" 1 >/dev/null && wait_ssh; then
	check "network-config for another MAC: defaults" \
		"addr 10.0.2.15/24 route default via 10.0.2.2 dev eth0 dns 10.0.2.3 | tiny: eth0 10.0.2.15/24 via 10.0.2.2" \
		"$(netstate "$c")"
	check "and the console says why" 1 \
		"$(grep -c 'ignoring network-config: it is for MAC 52:54:00:00:00:99, eth0 has 52:54:00:12:34:56' "$c/serial.log")"
else
	fail "VM C: no ssh on 10.0.2.15 with a network-config for another MAC"
	tail -n 30 "$c/serial.log"
fi
qmp "$c" quit >/dev/null || true
wait_exit "$c" 10 || kill "$(cat "$c/qemu.pid")" 2>/dev/null || true

echo "== boot to labd-ready ${ready_s}s, to ssh ${ssh_s}s; with a network-config ${ready_c_s:-?}s (accel=$accel)"
if [ $failures -gt 0 ]; then
	echo "$prog: $failures check(s) failed"
	exit 1
fi
echo "$prog: all checks passed"
