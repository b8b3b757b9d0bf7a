#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# test_bridge.sh - bridge mode end to end, inside network namespaces this
# test makes and removes:
#
#   client ns  ch0 198.51.100.50, .51 ──veth── hc0 198.51.100.1, .10, .11  host ns
#                                                 labbr0 10.213.0.1/24 (labd)
#   inet ns    ih0 192.0.2.100     ──veth── hi0 192.0.2.1                host ns
#                  10.99.0.100                  10.99.0.1
#                  169.254.169.254              169.254.0.1
#
# labd runs in the host ns with mode = bridge: the bridge, a tap per VM,
# and the nftables table labd are all inside it.  198.51.100.10 and .11
# are the two "public" IPs; 192.0.2.100 stands in for the internet,
# 10.99.0.100 for a private network and 169.254.169.254 for a cloud's
# metadata service, none of which a guest may reach.  The client and inet
# namespaces route to each other through the host ns, which must not
# forward for them: IPv4 forwarding is off there until labd turns it on
# for the bridge alone.  No address outside these namespaces is used, and
# nothing in the machine's own network namespace changes (checked at the
# end).
set -u
. "$(dirname "$0")/lib.sh"

H=labh$$ C=labc$$ I=labi$$
IP1=198.51.100.10 IP2=198.51.100.11
CLIENT1=198.51.100.50 CLIENT2=198.51.100.51
NET=10.213.0
INET=192.0.2.100

root_rules_before=$(nft list ruleset 2>/dev/null | sha256sum)

netns_cleanup() {
	local ns
	for ns in $H $C $I; do
		ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null
		ip netns del "$ns" 2>/dev/null
	done
}
trap 'cleanup; netns_cleanup' EXIT

inh() { ip netns exec $H "$@"; }
inc() { ip netns exec $C "$@"; }
plan_has() { inh nft list map inet labd plan 2>/dev/null | grep -q "$1"; }

if ! ip netns add $H || ! ip netns add $C || ! ip netns add $I; then
	not_ok "cannot make network namespaces (this test needs root)"
	finish test_bridge
	exit 1
fi
ip link add hc0 netns $H type veth peer name ch0 netns $C
ip link add hi0 netns $H type veth peer name ih0 netns $I
for ns in $H $C $I; do ip -n $ns link set lo up; done
ip -n $H addr add 198.51.100.1/24 dev hc0
ip -n $H addr add $IP1/24 dev hc0
ip -n $H addr add $IP2/24 dev hc0
ip -n $H addr add 192.0.2.1/24 dev hi0
ip -n $H addr add 10.99.0.1/24 dev hi0
ip -n $H addr add 169.254.0.1/16 dev hi0
ip -n $H link set hc0 up
ip -n $H link set hi0 up
ip -n $C addr add $CLIENT1/24 dev ch0
ip -n $C addr add $CLIENT2/24 dev ch0
ip -n $C link set ch0 up
ip -n $I addr add $INET/24 dev ih0
ip -n $I addr add 10.99.0.100/24 dev ih0
ip -n $I addr add 169.254.169.254/16 dev ih0
ip -n $I link set ih0 up
ip -n $C route add 192.0.2.0/24 via 198.51.100.1
ip -n $I route add 198.51.100.0/24 via 192.0.2.1

# The "internet": answers one line.  The host's own port (a stand-in for
# its sshd): 2222 on every host address; and a stand-in for a DNS server
# on the host: 53 on every host address, the bridge's among them.
(ip netns exec $I socat TCP-LISTEN:7777,fork,reuseaddr \
	SYSTEM:'echo internet from $SOCAT_PEERADDR' >/dev/null 2>&1 &)
(inh socat TCP-LISTEN:2222,fork,reuseaddr SYSTEM:'echo host' \
	>/dev/null 2>&1 &)
(inh socat TCP-LISTEN:53,fork,reuseaddr SYSTEM:'echo dns' \
	>/dev/null 2>&1 &)

ssh-keygen -q -t ed25519 -N '' -f "$T/key"
cat >"$T/roster.csv" <<EOF
id,name,email,ssh_key
alice,Alice A,,$(cat "$T/key.pub")
bob,Bob B,,$(cat "$T/key.pub")
EOF

# The tiny template, published on both IPs: ssh on each, http on the second.
sed -e "s|^disk .*|disk = $B/templates/tiny.qcow2|" \
	-e "s|^kernel .*|kernel = $B/templates/tiny-vmlinuz|" \
	-e "s|^initrd .*|initrd = $B/templates/tiny-initrd|" \
	-e "s|^publish .*|publish = ssh:22, http:80, sshb:22|" \
	"$TINY" >"$T/tiny2.ini"

cat >"$T/labd.ini" <<EOF
[labd]
state_dir = $T/state
run_dir   = $T/run

[network]
mode       = bridge
public_ips = $IP1, $IP2
bridge     = labbr0
subnet     = $NET.0/24

[publish]
ssh  = $IP1:22000
sshb = $IP2:22000
http = $IP2:8000

[vmm]
accel = ${LABD_ACCEL:-auto}
EOF

# csh NS FROM IP PORT CMD: ssh as alice from the client ns, source FROM.
csh() {
	local from=$1 ip=$2 port=$3
	shift 3
	inc ssh "${SSHOPTS[@]}" -o BatchMode=yes -o ConnectTimeout=5 \
		-i "$T/key" -b "$from" -p "$port" "alice@$ip" "$@"
}
bsh() {
	local ip=$1 port=$2
	shift 2
	inc ssh "${SSHOPTS[@]}" -o BatchMode=yes -o ConnectTimeout=5 \
		-i "$T/key" -b $CLIENT1 -p "$port" "bob@$ip" "$@"
}

# banner UID ADDR:PORT: a client on the host run as UID gets an SSH banner.
banner() {
	inh setpriv --reuid="$1" --regid="$1" --clear-groups \
		socat -T3 - "TCP:$2,connect-timeout=3" </dev/null 2>/dev/null |
		head -c 4 | grep -q SSH-
}
NOBODY=$(id -u nobody)
# The client ns reaches the inet ns only if the host ns routes for it.
routed() {
	inc socat -T3 - TCP:$INET:7777,connect-timeout=3 </dev/null 2>/dev/null |
		grep -q "internet from $CLIENT1"
}
forwarding() { test "$(inh cat /proc/sys/net/ipv4/ip_forward)" = "$1"; }

echo "== labd in bridge mode, two guests"
check "IPv4 forwarding is off in the host ns before labd" forwarding 0
check "labd starts in bridge mode" labd_start $H
# In bridge mode too the daemon keeps no capability: the bridge, taps and
# rules are its privileged helper's (a child of labd, still root).
capless() {
	local helper
	helper=$(pgrep -P "$LABD_PID" -x labd | head -1)
	awk '$1 == "CapEff:" && $2 == "0000000000000000" { ok = 1 } END { exit !ok }' \
	    "/proc/$LABD_PID/status" &&
	awk '$1 == "Uid:" && $2 == 1879048192 { ok = 1 } END { exit !ok }' \
	    "/proc/$LABD_PID/status" &&
	[ -n "$helper" ] &&
	awk '$1 == "Uid:" && $2 == 0 { ok = 1 } END { exit !ok }' "/proc/$helper/status"
}
check "labd runs as uid_base with no capabilities; its helper is root" capless
br_has() { ip -n $H -4 addr show labbr0 | grep -q "$NET.1/24"; }
check "the bridge exists with the gateway address" br_has
check "IPv4 forwarding is on in the host ns" forwarding 1
check_fails "but the host routes nothing else (client ns -> inet ns)" routed
check "template import" "$LABCTL" template import tiny "$T/tiny2.ini"
{ echo "id,name,email,ssh_key"; for i in $(seq 254); do echo "s$i,Student $i,,"; done; } >"$T/big.csv"
out=$("$LABCTL" course create big --template tiny --roster "$T/big.csv" 2>&1)
check "254 students do not fit a /24: refused with the numbers" \
	grep -q "254 students do not fit in subnet $NET.0/24: it has addresses for 253 VMs" <<<"$out"
check "and nothing was created" test "$("$LABCTL" course list --json | jq length)" = 0
check "course create" "$LABCTL" course create net --template tiny \
	--roster "$T/roster.csv"
check "both VMs ready" "$LABCTL" wait --course net --timeout 180

A=net-alice B=net-bob
ipa=$(vm_field $A ip) ipb=$(vm_field $B ip)
check "stable addresses from the slots ($ipa, $ipb)" \
	test "$ipa" = "$NET.2" -a "$ipb" = "$NET.3"
pa=$(vm_port $A) pb=$(vm_port $B)
check "ports from the plan ($pa, $pb)" test "$pa" = 22001 -a "$pb" = 22002
taps() { ip -n $H link show master labbr0 | grep -c ltap; }
guest_addr() { "$LABCTL" exec $A -- ip -4 addr show eth0 | grep -q "$ipa/24"; }
check "a tap per VM, in the bridge" test "$(taps)" = 2
check "the guest has its address" guest_addr

echo "== the client reaches each guest through the plan, on both IPs"
check "alice on $IP1:$pa" test "$(csh $CLIENT1 $IP1 $pa hostname)" = $A
check "alice on $IP2:$pa (sshb)" test "$(csh $CLIENT1 $IP2 $pa hostname)" = $A
check "bob on $IP1:$pb" test "$(bsh $IP1 $pb hostname)" = $B
check "bob on $IP2:$pb" test "$(bsh $IP2 $pb hostname)" = $B
http() {
	inc bash -c "exec 3<>/dev/tcp/$1/$2 && printf 'GET / HTTP/1.0\r\n\r\n' >&3 &&
		timeout 5 cat <&3"
}
http_has() { http "$1" "$2" | grep -q "$3"; }
host_port() { inc socat -T3 - TCP:198.51.100.1:2222 </dev/null | grep -qx host; }
ports_has() { "$LABCTL" ports | grep -q "$1"; }
check "http on $IP2:8001 serves alice's page" http_has $IP2 8001 $A
check "the host's own port 2222 is left alone" host_port
check "labctl ports lists both IPs" ports_has "$IP2:22001"

echo "== isolation"
# labctl exec hands the guest's shell one command line.
gexec() { "$LABCTL" exec "$1" -- "$2"; }
check_fails "guest A cannot reach guest B" gexec $A "nc -w3 $ipb 22 </dev/null | head -c 3 | grep -q SSH"
check_fails "guest A cannot reach the host (gateway)" gexec $A "nc -w3 $NET.1 2222 </dev/null | grep -q host"
check_fails "guest A cannot reach the host (public IP)" gexec $A "nc -w3 $IP1 2222 </dev/null | grep -q host"
check_fails "guest A cannot reach B through the public port" gexec $A "nc -w3 $IP1 $pb </dev/null | head -c 3 | grep -q SSH"
check "course set isolation=off (team lab)" "$LABCTL" course set net isolation=off
check "now A reaches B" gexec $A "nc -w3 $ipb 22 </dev/null | head -c 3 | grep -q SSH"
llb=$(gexec $B "ip -6 addr show dev eth0 scope link" |
	sed -n 's/.*inet6 \(fe80::[0-9a-f:]*\)\/64.*/\1/p')
check "B has an IPv6 link-local address ($llb)" test -n "$llb"
check "A pings over IPv6 (its own ::1)" gexec $A "ping -6 -c1 -W2 ::1"
# With br_netfilter's IPv6 hook on, bridged IPv6 also crosses the inet
# forward chain, whose rules are IPv4's: the bridge table must drop it
# by itself, so the hook is off for this check.
brnf6=/proc/sys/net/bridge/bridge-nf-call-ip6tables
brnf6_was=$(inh cat $brnf6 2>/dev/null)
[ -n "$brnf6_was" ] && inh sh -c "echo 0 >$brnf6"
check_fails "but over IPv4 and ARP alone: IPv6 from a tap is dropped" \
	gexec $A "ping -6 -c1 -W2 $llb%eth0"
[ -n "$brnf6_was" ] && inh sh -c "echo $brnf6_was >$brnf6"
# A borrows another address for the way to B: the bridge drops it.
spoof() {
	gexec $A "ip addr add $NET.77/32 dev eth0 &&
		ip route add $ipb/32 dev eth0 src $NET.77 &&
		nc -w3 $ipb 22 </dev/null | head -c 3;
		ip route del $ipb/32; ip addr del $NET.77/32 dev eth0" | grep -q SSH
}
check_fails "but not from a spoofed source address" spoof
check "its own address works again" gexec $A "nc -w3 $ipb 22 </dev/null | head -c 3 | grep -q SSH"
check "course set isolation=on" "$LABCTL" course set net isolation=on
check_fails "and no longer" gexec $A "nc -w3 $ipb 22 </dev/null | head -c 3 | grep -q SSH"

echo "== internet on and off, live"
inet_says() { gexec $A "nc -w5 $INET 7777 </dev/null" | grep -qx "$1"; }
net_says() { gexec $A "nc -w5 $1 7777 </dev/null" | grep -q internet; }
dns_says() { gexec $A "nc -w3 $1 53 </dev/null" | grep -qx dns; }
check_fails "internet off: the guest cannot reach $INET" inet_says "internet from 192.0.2.1"
check_fails "internet off: no DNS from the host either" dns_says $NET.1
out=$("$LABCTL" course set net internet=on 2>&1)
check "course set internet=on says it is live" grep -q live <<<"$out"
check "internet on: the guest reaches $INET, masqueraded" inet_says "internet from 192.0.2.1"
check "internet on: DNS on the bridge's address" dns_says $NET.1
check_fails "but on no other address of the host" dns_says 198.51.100.1
check_fails "internet on: no private network (10.99.0.100)" net_says 10.99.0.100
check_fails "internet on: no metadata service (169.254.169.254)" \
	net_says 169.254.169.254
check "course set internet=off" "$LABCTL" course set net internet=off
check_fails "internet off again: no route out" inet_says "internet from 192.0.2.1"

echo "== exam mode: allow_from"
check "allow_from $CLIENT1/32" "$LABCTL" course set net allow_from=$CLIENT1/32
check "the exam room ($CLIENT1) gets in" test "$(csh $CLIENT1 $IP1 $pa hostname)" = $A
check_fails "another address ($CLIENT2) does not" csh $CLIENT2 $IP1 $pa hostname
check_fails "not on the second IP either" csh $CLIENT2 $IP2 $pa hostname
check_fails "nor user nobody on the host, through $IP1" banner $NOBODY $IP1:$pa
check_fails "nor straight to the guest's address" banner $NOBODY $ipa:22
check "labd's own uid (uid_base, not root) gets in" banner 1879048192 $IP1:$pa
check_fails "root on the host, not labd, does not" banner 0 $IP1:$pa
check_fails "a bad CIDR is refused" "$LABCTL" course set net allow_from=10.0.0.1/8
allow_has() { inh nft list set inet labd c1_allow | grep -q "$1"; }
check "and the rule is unchanged" allow_has $CLIENT1
check "allow_from=any lifts it" "$LABCTL" course set net allow_from=any
check "$CLIENT2 gets in again" test "$(csh $CLIENT2 $IP1 $pa hostname)" = $A

echo "== who is connected (conntrack)"
mkfifo "$T/in"
(csh $CLIENT1 $IP1 $pa 'while read l; do echo "got $l"; done' <"$T/in" \
	>"$T/session.out" 2>&1 &)
exec 7>"$T/in"
echo one >&7
for _ in $(seq 50); do grep -q 'got one' "$T/session.out" && break; sleep 0.2; done
check "a session is open" grep -q 'got one' "$T/session.out"
for _ in $(seq 20); do [ "$(vm_field $A connections)" -ge 1 ] 2>/dev/null && break; sleep 0.5; done
check "labctl list counts alice's connection" test "$(vm_field $A connections)" -ge 1
check "and bob has none" test "$(vm_field $B connections)" = 0
check "the time of the last connection is set" test "$(vm_field $A last_connection)" -gt 0

echo "== labd restarted: open sessions keep working"
rules1=$(inh nft list table inet labd | sha256sum)
kill -9 $LABD_PID
wait $LABD_PID 2>/dev/null
check_fails "labd is down" "$LABCTL" status
echo two >&7
sleep 1
check "the session works while labd is down" grep -q 'got two' "$T/session.out"
check "labd starts again" labd_start $H
check "the same guests are adopted" "$LABCTL" wait --course net --timeout 60
echo three >&7
for _ in $(seq 25); do grep -q 'got three' "$T/session.out" && break; sleep 0.2; done
check "the session still works after the restart" grep -q 'got three' "$T/session.out"
check "the rules are the same after reconcile" \
	test "$(inh nft list table inet labd | sha256sum)" = "$rules1"
check_fails "the host still routes nothing else" routed
check "a new connection works" test "$(csh $CLIENT1 $IP1 $pa hostname)" = $A
exec 7>&-

echo "== someone flushes the ruleset (nftables.service restart): labd puts its table back"
check "nft flush ruleset in the host ns" inh nft flush ruleset
for _ in $(seq 60); do plan_has "$IP1 . $pa :" && break; sleep 0.25; done
check "labd applied its table again within seconds" plan_has "$IP1 . $pa :"
check "and said so in its log" grep -q "table labd is gone" "$T/labd.log"
check "students get in again" test "$(csh $CLIENT1 $IP1 $pa hostname)" = $A
check "isolation holds again" test "$(inh nft list table bridge labd | grep -c 'iifname @taps drop')" = 1

echo "== suspend: the port wakes the VM (bridge mode)"
check "suspend alice" "$LABCTL" suspend $A
check_fails "no DNAT for a suspended VM" plan_has "$IP1 . $pa :"
check "a connection wakes it" test "$(csh $CLIENT1 $IP1 $pa hostname)" = $A
check "alice is ready again" "$LABCTL" wait $A --timeout 60

echo "== course rm: taps and rules go"
check "stop the course" "$LABCTL" stop --course net --force
check "course rm" "$LABCTL" course rm net --yes
check "no tap left" test "$(ip -n $H link show | grep -c ltap)" = 0
check_fails "no DNAT left" plan_has "$IP1 . "

kill -9 $LABD_PID 2>/dev/null
wait $LABD_PID 2>/dev/null

echo "== the same labd.ini in user mode: IPv4 forwarding as it was before labd"
sed -i -e 's/^mode .*/mode = user/' "$T/labd.ini"
check "labd starts in user mode" labd_start $H
check "IPv4 forwarding is off again" forwarding 0
check "and labd says so in its log" grep -q "forwarding.*off again" "$T/labd.log"
kill -9 $LABD_PID 2>/dev/null
wait $LABD_PID 2>/dev/null

echo "== user mode in the same host ns: allow_from is live, internet at next start"
U=$T/user
mkdir -p "$U"
printf '%s\n' "[labd]" "state_dir = $U/state" "run_dir = $U/run" \
	"[network]" "mode = user" "public_ips = $IP1, $IP2" \
	"[publish]" "ssh = $IP1:23000" \
	"[vmm]" "accel = ${LABD_ACCEL:-auto}" >"$U/labd.ini"
export LABD_SOCKET=$U/run/labd.sock
labd_user() {
	ip netns exec $H "$LABD" -d -c "$U/labd.ini" >>"$T/labd.log" 2>&1 &
	LABD_PID=$!
	for _ in $(seq 100); do
		"$LABCTL" status >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}
labd_tables() { inh nft list tables | grep -c labd; }
check "labd in user mode" labd_user
check "template import" "$LABCTL" template import tiny "$TINY"
head -2 "$T/roster.csv" >"$U/roster.csv"
check "a course of one" "$LABCTL" course create exam --template tiny \
	--roster "$U/roster.csv"
check "ready" "$LABCTL" wait --course exam --timeout 120
check "the inet table is there from the start (the VMs' uids)" \
	test "$(labd_tables)" = 1
check "alice from $CLIENT2 (hostfwd)" test "$(csh $CLIENT2 $IP1 23001 hostname)" = exam-alice
check "allow_from $CLIENT1" "$LABCTL" course set exam allow_from=$CLIENT1
check "the exam room gets in" test "$(csh $CLIENT1 $IP1 23001 hostname)" = exam-alice
check_fails "$CLIENT2 does not" csh $CLIENT2 $IP1 23001 hostname
out=$("$LABCTL" course set exam internet=on 2>&1)
check "internet in user mode: at the next start, says the reply" \
	grep -q "next start" <<<"$out"
check "allow_from=any" "$LABCTL" course set exam allow_from=any
check "$CLIENT2 gets in again" test "$(csh $CLIENT2 $IP1 23001 hostname)" = exam-alice
iid=$("$LABCTL" exec exam-alice -- cat /var/lib/labd/instance-id 2>/dev/null)
check "stop" "$LABCTL" stop --course exam --force

echo "== the same state switched to bridge mode: the seed follows"
kill -9 $LABD_PID 2>/dev/null
wait $LABD_PID 2>/dev/null
sed -i -e "s/^mode = user/mode = bridge\nbridge = labbr1\nsubnet = 10.214.0.0\/24/" "$U/labd.ini"
check "labd starts in bridge mode on the user-mode state" labd_user
check "start the course" "$LABCTL" start --course exam
check "ready on the bridge" "$LABCTL" wait --course exam --timeout 120
check "its address is from the new subnet" test "$(vm_field exam-alice ip)" = 10.214.0.2
check "the client gets in through DNAT" test "$(csh $CLIENT1 $IP1 23001 hostname)" = exam-alice
check "the same instance: not seeded as a new machine" \
	test "$("$LABCTL" exec exam-alice -- cat /var/lib/labd/instance-id)" = "$iid"
check "stop" "$LABCTL" stop --course exam --force
kill -9 $LABD_PID 2>/dev/null
wait $LABD_PID 2>/dev/null
LABD_PID=
for p in "$U"/run/vms/*/pid; do
	[ -f "$p" ] && kill -9 "$(cat "$p")" 2>/dev/null
done
netns_cleanup
check "the namespaces are gone" test "$(ip netns list | grep -cE "^($H|$C|$I)( |\$)")" = 0
check "the machine's own ruleset is unchanged" \
	test "$(nft list ruleset 2>/dev/null | sha256sum)" = "$root_rules_before"
finish test_bridge
