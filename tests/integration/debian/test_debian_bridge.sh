#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# test_debian_bridge.sh - a Debian 12 VM in bridge mode: cloud-init takes
# its static address, default route and name server from the seed's
# network-config (matched by MAC, renamed eth0), labd finds it ready at that
# address, and a student in another namespace reaches it through the DNAT
# of the port plan.  Its address comes back after a reboot from inside
# (cloud-init applies network-config at every boot), and so does a new
# address when labd moves to another subnet.  Inside namespaces
# this test makes and removes, as test_bridge.sh does:
#
#   client ns  ch0 198.51.100.50 ──veth── hc0 198.51.100.1, .10   host ns
#                                             labbr0 10.214.0.1/24 (labd)
#
# Nothing of it is outside those namespaces and its own folder, so
# tests/integration/run runs it beside the guide's walk-through:
# integration: beside
set -u
. "$(dirname "$0")/../lib.sh"

DEBIAN=$B/templates/debian-12.ini
[ -f "$DEBIAN" ] || { not_ok "no $DEBIAN: run make template-debian first"; finish test_debian_bridge; exit 1; }

H=labdh$$ C=labdc$$
IP1=198.51.100.10 CLIENT=198.51.100.50 NET=10.214.0

netns_cleanup() {
	local ns
	for ns in $H $C; do
		ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null
		ip netns del "$ns" 2>/dev/null
	done
}
trap 'cleanup; netns_cleanup' EXIT
if ! ip netns add $H || ! ip netns add $C; then
	not_ok "cannot make network namespaces (this test needs root)"
	finish test_debian_bridge
	exit 1
fi
ip link add hc0 netns $H type veth peer name ch0 netns $C
for ns in $H $C; do ip -n $ns link set lo up; done
ip -n $H addr add 198.51.100.1/24 dev hc0
ip -n $H addr add $IP1/24 dev hc0
ip -n $H link set hc0 up
ip -n $C addr add $CLIENT/24 dev ch0
ip -n $C link set ch0 up

ssh-keygen -q -t ed25519 -N '' -f "$T/key"
printf 'id,name,email,ssh_key\nalice,Alice A,,%s\n' "$(cat "$T/key.pub")" >"$T/roster.csv"
cat >"$T/labd.ini" <<EOF
[labd]
state_dir = $T/state
run_dir   = $T/run

[network]
mode       = bridge
public_ips = $IP1
bridge     = labbr0
subnet     = $NET.0/24

[publish]
ssh  = $IP1:22000

[vmm]
accel = ${LABD_ACCEL:-auto}
EOF

# A student's login from the client namespace, through the port plan.
student() {
	ip netns exec $C ssh "${SSHOPTS[@]}" -o BatchMode=yes -i "$T/key" \
	    -b $CLIENT -p 22001 alice@$IP1 "$@"
}
guest() { "$LABCTL" exec br-alice -- "$@"; }

check "labd starts in bridge mode" labd_start $H
check "the Debian template imports" "$LABCTL" template import debian "$DEBIAN"
check "course create br (1 student)" bash -c "'$LABCTL' course create br \
	--template debian --roster '$T/roster.csv' >/dev/null"
t0=$(date +%s)
check "the VM becomes ready at its bridge address" \
	"$LABCTL" wait --course br --timeout 1200
echo "# ready in $(( $(date +%s) - t0 )) s"
check "labctl list shows its address" \
	test "$("$LABCTL" list --json | jq -r '.[0].ip')" = "$NET.2"
addr_ok() {
	guest 'ip -4 -o addr show dev eth0; ip -4 route show default' >"$T/addr" || return 1
	cat "$T/addr"
	grep -q "inet $NET.2/24" "$T/addr" && grep -q "default via $NET.1 dev eth0" "$T/addr"
}
check "eth0 (matched by MAC) has the slot's address and the default route" addr_ok
check "cloud-init rendered it for systemd-networkd" \
	guest 'grep -l "Address=10.214.0.2/24" /etc/systemd/network/*.network'
student_in() { student hostname | grep -qx br-alice; }
check "the student logs in through the DNAT" student_in

boot0=$(guest 'cat /proc/sys/kernel/random/boot_id')
guest 'systemctl reboot' >/dev/null 2>&1
rebooted() {	# a new boot id, and ready again
	for _ in $(seq 60); do
		b=$(guest 'cat /proc/sys/kernel/random/boot_id' 2>/dev/null) &&
		    [ -n "$b" ] && [ "$b" != "$boot0" ] && return 0
		sleep 5
	done
	return 1
}
check "a reboot from inside: the VM comes back" rebooted
check "with the same address after the reboot" addr_ok

# Another subnet: the VM keeps its identity (same instance-id, host keys,
# machine-id) and cloud-init gives it the new address at its next boot.
mid0=$(guest 'cat /etc/machine-id')
check "labctl stop --course br" "$LABCTL" stop --course br
kill "$LABD_PID"; wait "$LABD_PID" 2>/dev/null
OLD=$NET NET=10.215.0
sed -i "s|^subnet .*|subnet     = $NET.0/24|" "$T/labd.ini"
check "labd starts again on another subnet" labd_start $H
check "the VM starts again" "$LABCTL" start br-alice
check "it has the new subnet's address" addr_ok
check "and not the old one" bash -c "! grep -q 'inet $OLD' '$T/addr'"
check "labctl list shows it" \
	test "$("$LABCTL" list --json | jq -r '.[0].ip')" = "$NET.2"
check "it is the same machine (machine-id)" \
	test "$(guest 'cat /etc/machine-id')" = "$mid0"
check "the student still logs in through the DNAT" student_in
check "labctl stop --course br" "$LABCTL" stop --course br
finish test_debian_bridge
