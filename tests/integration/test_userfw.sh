#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# test_userfw.sh - user mode's firewall with labd as root, inside network
# namespaces this test makes and removes:
#
#   client ns  ch0 198.51.100.50, .51 ──veth── hc0 198.51.100.1, .10   host ns
#   net ns     ih0 192.0.2.100         ──veth── hi0 192.0.2.1            (labd,
#                  10.99.0.100, .53                 10.99.0.1          user mode)
#                  169.254.169.254                  169.254.0.1
#
# In user mode QEMU's NAT makes a guest's connections from the host, as
# the VM's own uid (uid_base + n): table inet labd lets such sockets reach
# the internet (192.0.2.100 here) and the host's DNS servers, and nothing
# of the host (its loopback, its own addresses), of private networks
# (10.99.0.100) or link-local ones (a metadata service on 169.254.169.254).
# A client run as a uid of that range stands in for QEMU.  The allow_from
# gate holds for the host's own users too: only labd's own connections
# pass it.  The host's DNS servers come from /etc/netns/NS/resolv.conf,
# which "ip netns exec" puts over /etc/resolv.conf.
set -u
. "$(dirname "$0")/lib.sh"

H=labh$$ C=labc$$ I=labi$$
IP1=198.51.100.10
CLIENT1=198.51.100.50 CLIENT2=198.51.100.51
UIDB=1879048192			# labd.ini's default [vmm] uid_base
VMUID=$((UIDB + 8))

root_rules_before=$(nft list ruleset 2>/dev/null | sha256sum)

netns_cleanup() {
	local ns
	for ns in $H $C $I; do
		ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null
		ip netns del "$ns" 2>/dev/null
	done
	rm -rf "/etc/netns/$H"
	rmdir /etc/netns 2>/dev/null	# when this test made it
}
trap 'cleanup; netns_cleanup' EXIT

inh() { ip netns exec $H "$@"; }
inc() { ip netns exec $C "$@"; }

if ! ip netns add $H || ! ip netns add $C || ! ip netns add $I; then
	not_ok "cannot make network namespaces (this test needs root)"
	finish test_userfw
	exit 1
fi
ip link add hc0 netns $H type veth peer name ch0 netns $C
ip link add hi0 netns $H type veth peer name ih0 netns $I
for ns in $H $C $I; do ip -n $ns link set lo up; done
ip -n $H addr add 198.51.100.1/24 dev hc0
ip -n $H addr add $IP1/24 dev hc0
ip -n $H addr add 192.0.2.1/24 dev hi0
ip -n $H addr add 10.99.0.1/24 dev hi0
ip -n $H addr add 169.254.0.1/16 dev hi0
ip -n $H link set hc0 up
ip -n $H link set hi0 up
ip -n $C addr add $CLIENT1/24 dev ch0
ip -n $C addr add $CLIENT2/24 dev ch0
ip -n $C link set ch0 up
ip -n $I addr add 192.0.2.100/24 dev ih0
ip -n $I addr add 10.99.0.100/24 dev ih0
ip -n $I addr add 10.99.0.53/24 dev ih0
ip -n $I addr add 169.254.169.254/16 dev ih0
ip -n $I link set ih0 up
mkdir -p "/etc/netns/$H"
echo "nameserver 10.99.0.53" >"/etc/netns/$H/resolv.conf"

# Listeners that answer one line: the host's own services (on every
# address, IPv4 and IPv6), the internet, a private network and a metadata
# service (all of the net ns), and the host's DNS server.
(inh socat TCP-LISTEN:7000,fork,reuseaddr SYSTEM:'echo host' >/dev/null 2>&1 &)
(inh socat TCP6-LISTEN:7006,bind='[::1]',fork,reuseaddr SYSTEM:'echo host6' \
	>/dev/null 2>&1 &)
(ip netns exec $I socat TCP-LISTEN:7777,fork,reuseaddr SYSTEM:'echo net' \
	>/dev/null 2>&1 &)
(ip netns exec $I socat TCP-LISTEN:53,bind=10.99.0.53,fork,reuseaddr \
	SYSTEM:'echo dns' >/dev/null 2>&1 &)
# What QEMU's hostfwd is: a listener on 127.0.0.1 owned by a VM's uid.
(inh setpriv --reuid=$VMUID --regid=$VMUID --clear-groups \
	socat TCP-LISTEN:7100,bind=127.0.0.1,fork,reuseaddr SYSTEM:'echo fwd' \
	>/dev/null 2>&1 &)

ssh-keygen -q -t ed25519 -N '' -f "$T/key"
cat >"$T/roster.csv" <<EOF
id,name,email,ssh_key
alice,Alice A,,$(cat "$T/key.pub")
EOF
# The tiny template's ssh published twice: on 127.0.0.1 and on $IP1.
sed -e "s|^disk .*|disk = $B/templates/tiny.qcow2|" \
	-e "s|^kernel .*|kernel = $B/templates/tiny-vmlinuz|" \
	-e "s|^initrd .*|initrd = $B/templates/tiny-initrd|" \
	-e "s|^publish .*|publish = ssh:22, sshb:22|" \
	"$TINY" >"$T/tiny2.ini"
cat >"$T/labd.ini" <<EOF
[labd]
state_dir = $T/state
run_dir   = $T/run

[network]
mode       = user
public_ips = 127.0.0.1, $IP1

[publish]
ssh  = 127.0.0.1:22000
sshb = $IP1:22000

[vmm]
accel = ${LABD_ACCEL:-auto}
EOF

# says UID ADDR:PORT WORD: a client run as UID gets the line WORD.
says() {
	inh setpriv --reuid="$1" --regid="$1" --clear-groups \
		socat -T3 - "TCP:$2,connect-timeout=3" </dev/null 2>/dev/null |
		grep -qx "$3"
}
# banner UID ADDR:PORT: a client run as UID gets an SSH banner there.
banner() {
	inh setpriv --reuid="$1" --regid="$1" --clear-groups \
		socat -T3 - "TCP:$2,connect-timeout=3" </dev/null 2>/dev/null |
		head -c 4 | grep -q SSH-
}
csh() {
	local from=$1 ip=$2 port=$3
	shift 3
	inc ssh "${SSHOPTS[@]}" -o BatchMode=yes -o ConnectTimeout=5 \
		-i "$T/key" -b "$from" -p "$port" "alice@$ip" "$@"
}
NOBODY=$(id -u nobody)

echo "== user mode as root: the table is there with no course"
check "labd starts in user mode in the host ns" labd_start $H
has_table() { inh nft list table inet labd >/dev/null 2>&1; }
check "table inet labd exists from the start" has_table

echo "== a VM's uid reaches the internet and nothing of the host"
check "root reaches the host's loopback (127.0.0.1:7000)" \
	says 0 127.0.0.1:7000 host
check_fails "a VM's uid does not reach the host's loopback" \
	says $VMUID 127.0.0.1:7000 host
check_fails "nor the host's own address (198.51.100.1)" \
	says $VMUID 198.51.100.1:7000 host
check_fails "nor its IPv6 loopback ([::1])" says $VMUID '[::1]:7006' host6
check "root reaches [::1] (so the listener is there)" says 0 '[::1]:7006' host6
check "a VM's uid reaches the internet (192.0.2.100)" \
	says $VMUID 192.0.2.100:7777 net
check "root reaches the private network (10.99.0.100)" \
	says 0 10.99.0.100:7777 net
check_fails "a VM's uid does not" says $VMUID 10.99.0.100:7777 net
check "root reaches the metadata address (169.254.169.254)" \
	says 0 169.254.169.254:7777 net
check_fails "a VM's uid does not" says $VMUID 169.254.169.254:7777 net
check "a VM's uid reaches the host's DNS server (resolv.conf) on 53" \
	says $VMUID 10.99.0.53:53 dns
check_fails "but no other port of it" says $VMUID 10.99.0.53:7777 net
check "the uid below the range (uid_base - 1) is not a VM's" \
	says $((UIDB - 1)) 127.0.0.1:7000 host
check "uid_base itself, labd's own once it drops root, is not a VM's" \
	says $UIDB 127.0.0.1:7000 host
check_fails "the first uid of the range (uid_base + 1) is" \
	says $((UIDB + 1)) 127.0.0.1:7000 host
check_fails "the last uid of the range (uid_base + 65535) is" \
	says $((UIDB + 65535)) 127.0.0.1:7000 host
check "the uid past it (uid_base + 65536) is not" \
	says $((UIDB + 65536)) 127.0.0.1:7000 host
check "a listener of a VM's uid (hostfwd) answers on 127.0.0.1" \
	says 0 127.0.0.1:7100 fwd

# One VM's uid opens 600 UDP flows: conntrack keeps at most 512.
inh setpriv --reuid=$VMUID --regid=$VMUID --clear-groups bash -c \
	'for i in $(seq 600); do echo x 2>/dev/null >/dev/udp/192.0.2.100/9; done' \
	2>/dev/null
n=$(inh grep -c "dst=192.0.2.100 sport=[0-9]* dport=9 " /proc/net/nf_conntrack)
check "a VM's uid holds at most 512 connections at once ($n of 600)" \
	test "${n:-0}" -le 512 -a "${n:-0}" -ge 256

echo "== exam mode: the host's own users are gated too"
check "template import" "$LABCTL" template import tiny "$T/tiny2.ini"
check "course create" "$LABCTL" course create exam --template tiny \
	--roster "$T/roster.csv"
check "ready" "$LABCTL" wait --course exam --timeout 300
check "before the gate, user nobody gets the banner on 127.0.0.1:22001" \
	banner $NOBODY 127.0.0.1:22001
check "allow_from $CLIENT1" "$LABCTL" course set exam allow_from=$CLIENT1
check "the exam room gets in" \
	test "$(csh $CLIENT1 $IP1 22001 hostname)" = exam-alice
check_fails "$CLIENT2 does not" csh $CLIENT2 $IP1 22001 hostname
check_fails "user nobody on the host does not, through 127.0.0.1" \
	banner $NOBODY 127.0.0.1:22001
check_fails "nor through $IP1" banner $NOBODY $IP1:22001
check_fails "nor a VM's uid (another guest, through QEMU's NAT)" \
	banner $VMUID 127.0.0.1:22001
check "labd's own connections do (exec, over 127.0.0.1)" \
	test "$("$LABCTL" exec exam-alice -- hostname)" = exam-alice
check "labd's uid (uid_base) gets the banner" banner $UIDB 127.0.0.1:22001
check_fails "root on the host is not labd: it does not" \
	banner 0 127.0.0.1:22001
check "allow_from=any" "$LABCTL" course set exam allow_from=any
check "user nobody gets the banner again" banner $NOBODY 127.0.0.1:22001

echo "== a real guest with internet, through QEMU's NAT as its own uid"
check "internet=on" "$LABCTL" course set exam internet=on
check "restart exam-alice (user mode: at its next start)" \
	"$LABCTL" restart exam-alice
# gtry HOST PORT: what the guest's own busybox nc gets there, then "done"
# when the command ran at all.  labctl exec joins its words with spaces,
# as ssh does, so the command is one word.
gtry() {
	"$LABCTL" exec exam-alice -- \
	    "sleep 2 | timeout 5 nc $1 $2; echo done" 2>/dev/null
}
# gsays HOST PORT WORD: the guest gets the line WORD there.
gsays() { gtry "$1" "$2" | grep -qx "$3"; }
# gdenied HOST PORT WORD: the command ran in the guest and did not get WORD
# (a guest that cannot be reached at all proves nothing).
gdenied() {
	local out
	out=$(gtry "$1" "$2")
	grep -qx done <<<"$out" && ! grep -qx "$3" <<<"$out"
}
check "the guest reaches the internet (192.0.2.100:7777)" \
	gsays 192.0.2.100 7777 net
check "the guest does not reach the host's loopback (10.0.2.2:7000)" \
	gdenied 10.0.2.2 7000 host
check "nor the host's own address ($IP1:7000)" gdenied $IP1 7000 host
check "nor the private network (10.99.0.100)" \
	gdenied 10.99.0.100 7777 net
check "nor the metadata address (169.254.169.254)" \
	gdenied 169.254.169.254 7777 net
check "allow_nets=10.99.0.0/24 (a lab network the course may use)" \
	"$LABCTL" course set exam allow_nets=10.99.0.0/24
check "now the guest reaches that private network, live" \
	gsays 10.99.0.100 7777 net
check "still not the metadata address" gdenied 169.254.169.254 7777 net
check "nor the host's loopback" gdenied 10.0.2.2 7000 host
check "nor the host's own address" gdenied $IP1 7000 host
check_fails "allow_nets of a public network is refused" \
	"$LABCTL" course set exam allow_nets=192.0.2.0/24
check "allow_nets=none" "$LABCTL" course set exam allow_nets=none
check "and the private network is closed again" \
	gdenied 10.99.0.100 7777 net
check "stop" "$LABCTL" stop --course exam --force

kill -9 $LABD_PID 2>/dev/null
wait $LABD_PID 2>/dev/null
LABD_PID=
netns_cleanup
check "the namespaces are gone" \
	test "$(ip netns list | grep -cE "^($H|$C|$I)( |\$)")" = 0
check "the machine's own ruleset is unchanged" \
	test "$(nft list ruleset 2>/dev/null | sha256sum)" = "$root_rules_before"
finish test_userfw
