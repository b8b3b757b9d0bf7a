#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# bench/net.sh BUILD_DIR - what bridge mode's DNAT costs on the wire: the
# throughput of one TCP stream (client to guest) and new connections per
# second (one client, one after the other), by three paths to one guest:
#
#   dnat     bridge mode: the client connects to a public ip:port and
#            labd's nftables map "plan" DNATs it to the guest
#   direct   the reference: the same client to the guest's own address,
#            routed by the same host ns, no NAT
#   hostfwd  user mode: QEMU's slirp hostfwd, the client on loopback
#
# The goal: dnat at least 95% of direct.  Everything runs in network
# namespaces made here and removed at exit, whatever happens:
#
#   client ns  ch0 198.51.100.50 ──veth── hc0 198.51.100.1, .10  host ns
#                                           labbr0 10.214.0.1/24 (labd)
#   user ns    lo 127.0.0.1: a second labd, in user mode, and its client
#
# The guest runs bench/netperf.c's server, copied in over the student's
# ssh (netperf.c says why not httpd or dropbear).  Needs root.  NET_RUNS
# (3) runs of NET_SECS (5) seconds each; ACCEL=tcg forces software
# emulation.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
B=$(cd "${1:-$top/build}" && pwd)
RUNS=${NET_RUNS:-3}
SECS=${NET_SECS:-5}
if [ "$(id -u)" != 0 ]; then
	echo "net: skipped: network namespaces and bridge mode need root"
	exit 0
fi

H=lbh$$ C=lbc$$ U=lbu$$
HOSTIP=198.51.100.1 PUB=198.51.100.10 CLIENT=198.51.100.50
NET=10.214.0
GPORT=5001			# netperf serve, in the guest
TAG=labd_bench_direct		# the comment on the direct run's rules
NP=$B/bench/netperf
T=$(mktemp -d /tmp/labd-net.XXXXXX)
chmod 0755 "$T"
PIDS=()
cleanup() {
	local p ns
	set +e
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
	for p in "$T"/*/run/vms/*/pid; do
		[ -f "$p" ] && kill -9 "$(cat "$p")" 2>/dev/null
	done
	for ns in $H $C $U; do
		ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null
		ip netns del "$ns" 2>/dev/null
	done
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
# die MESSAGE: with what the labds said last, which is often why.
die() {
	local log
	echo "net: $*" >&2
	for log in "$T"/*/labd.log; do
		[ -f "$log" ] || continue
		echo "net: the last of $log:" >&2
		tail -8 "$log" | sed 's/^/net:   /' >&2
	done
	exit 1
}
inh() { ip netns exec "$H" "$@"; }
# lc NAME ARGS: labctl against labd NAME (br: bridge mode, us: user mode).
lc() { local n=$1; shift; LABD_SOCKET=$T/$n/run/labd.sock "$B/labctl" "$@"; }
vm_json() {
	lc "$1" list --json | jq -r --arg vm "$2" ".[] | select(.name == \$vm) | $3"
}
mean() { awk '{ s += $1 } END { printf "%.2f", s / NR }' "$1"; }
# spread FILE: lowest-highest and the median of the runs: one slow run
# (the host is shared) moves the mean, not the median.
spread() {
	sort -g "$1" | awk '{ v[NR] = $1 } END { printf "%s-%s (median %s)",
	    v[1], v[NR], NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
ratio() { echo "$1 $2" | awk '{ printf "%.3f", $1 / $2 }'; }

mkdir -p "$B/bench"
cc -O2 -Wall -Wextra -static -o "$NP" "$top/bench/netperf.c"

# --- namespaces -----------------------------------------------------------------
for ns in $H $C $U; do
	ip netns add "$ns" || die "cannot make network namespace $ns"
	ip -n "$ns" link set lo up
done
ip link add hc0 netns "$H" type veth peer name ch0 netns "$C"
ip -n "$H" addr add $HOSTIP/24 dev hc0
ip -n "$H" addr add $PUB/24 dev hc0
ip -n "$H" link set hc0 up
ip -n "$C" addr add $CLIENT/24 dev ch0
ip -n "$C" link set ch0 up
ip -n "$C" route add $NET.0/24 via $HOSTIP	# the direct path

# --- two labds, one guest each ---------------------------------------------------
# The tiny template with one more published port: the sink, 5001.
sed -e "s|^disk .*|disk = $B/templates/tiny.qcow2|" \
	-e "s|^kernel .*|kernel = $B/templates/tiny-vmlinuz|" \
	-e "s|^initrd .*|initrd = $B/templates/tiny-initrd|" \
	-e "s|^publish .*|publish = ssh:22, sink:$GPORT|" \
	"$B/templates/tiny.ini" >"$T/tiny.ini"
ssh-keygen -q -t ed25519 -N '' -f "$T/key"
printf 'id,name,email,ssh_key\nann,Ann,,%s\n' "$(cat "$T/key.pub")" >"$T/roster.csv"

# write_ini NAME MODE IP: the labd.ini of labd NAME.
write_ini() {
	mkdir -p "$T/$1"
	cat >"$T/$1/labd.ini" <<EOF
[labd]
state_dir = $T/$1/state
run_dir   = $T/$1/run

[network]
mode       = $2
public_ips = $3
bridge     = labbr0
subnet     = $NET.0/24

[publish]
ssh  = $3:22000
sink = $3:15000

[vmm]
accel = ${ACCEL:-auto}
EOF
}

# labd_start NAME NS
labd_start() {
	local pid
	ip netns exec "$2" "$B/labd" -d -c "$T/$1/labd.ini" >"$T/$1/labd.log" 2>&1 &
	pid=$!
	disown
	PIDS+=("$pid")
	for _ in $(seq 100); do
		lc "$1" status >/dev/null 2>&1 && return 0
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	tail -20 "$T/$1/labd.log" >&2
	die "labd ($1) did not start"
}

write_ini br bridge $PUB
write_ini us user 127.0.0.1
labd_start br "$H"
labd_start us "$U"
for n in br us; do
	lc $n template import tiny "$T/tiny.ini" >/dev/null
	lc $n course create $n --template tiny --roster "$T/roster.csv" >/dev/null
done
for n in br us; do
	lc $n wait --course $n --timeout 900 >/dev/null ||
		{ tail -20 "$T/$n/labd.log" >&2; die "the $n guest did not come up"; }
done
GIP=$(vm_json br br-ann .ip)
port_of() { vm_json "$1" "$1-ann" ".ports[] | select(.service == \"$2\") | .port"; }
inh nft list map inet labd plan | grep -q "$PUB . $(port_of br sink) : $GIP . $GPORT" ||
	die "no DNAT of $PUB:$(port_of br sink) to $GIP:$GPORT in labd's map plan"

# serve NAME NS ADDR: netperf into the guest over ssh, started, answering.
serve() {
	local n=$1 ns=$2 addr=$3 sshp sinkp
	local so=(-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null
		-o LogLevel=ERROR -o BatchMode=yes -o ConnectTimeout=10
		-i "$T/key" -p)
	sshp=$(port_of "$n" ssh) sinkp=$(port_of "$n" sink)
	ip netns exec "$ns" ssh "${so[@]}" "$sshp" "ann@$addr" \
		'cat >netperf && chmod 755 netperf' <"$NP"
	ip netns exec "$ns" ssh "${so[@]}" "$sshp" "ann@$addr" \
		"setsid ./netperf serve $GPORT </dev/null >/dev/null 2>&1 &"
	for _ in $(seq 50); do
		ip netns exec "$ns" "$NP" connrate "$addr" "$sinkp" 0.1 \
			>/dev/null 2>&1 && return 0
		sleep 0.2
	done
	die "netperf serve does not answer on $addr:$sinkp ($n)"
}
serve br "$C" $PUB
serve us "$U" 127.0.0.1

# Where each path goes: namespace, address, port.
declare -A NS=([dnat]=$C [direct]=$C [hostfwd]=$U)
declare -A ADDR=([dnat]=$PUB [direct]=$GIP [hostfwd]=127.0.0.1)
declare -A PORT=([dnat]=$(port_of br sink) [direct]=$GPORT [hostfwd]=$(port_of us sink))

# --- the direct path's accept rules ----------------------------------------------
# labd's forward chain lets through to the bridge only what was DNATed.
# For the reference, one rule each way at its top, there for the direct
# runs only: the dnat runs see labd's table as labd wrote it.
direct_rules() {
	inh nft -a list chain inet labd forward |
		sed -n "s/.*comment \"$TAG\" # handle \([0-9]*\)$/\1/p"
}
direct_open() {
	inh nft insert rule inet labd forward ip saddr $GIP ip daddr $CLIENT \
		accept comment $TAG
	inh nft insert rule inet labd forward ip saddr $CLIENT ip daddr $GIP \
		accept comment $TAG
}
direct_close() {
	local h
	for h in $(direct_rules); do
		inh nft delete rule inet labd forward handle "$h"
	done
}

# --- the runs ---------------------------------------------------------------------
# run_one KIND PATH RUN: one netperf, its line printed, its figure kept.
run_one() {
	local kind=$1 path=$2 out
	[ "$path" = direct ] && direct_open
	if ! out=$(ip netns exec "${NS[$path]}" "$NP" "$kind" "${ADDR[$path]}" \
	    "${PORT[$path]}" "$SECS"); then
		[ "$path" = direct ] && [ "$(direct_rules | wc -l)" != 2 ] &&
			die "$kind $path run $3 failed (above): labd rewrote" \
			    "its table during the run, which took the accept rules"
		die "$kind $path run $3 failed (above)"
	fi
	if [ "$path" = direct ]; then
		[ "$(direct_rules | wc -l)" = 2 ] ||
			die "labd rewrote its table during the direct run: run again"
		direct_close
	fi
	printf '%-8s %-7s run %d: %s\n' "$kind" "$path" "$3" "$out"
	awk '{ print $(NF - 1) }' <<<"$out" >>"$T/fig.$kind.$path"
}

kvm=absent
[ -w /dev/kvm ] && kvm=present
echo "host: $(nproc) cores; /dev/kvm $kvm; accel=$(lc br status --json | jq -r .accel)"
echo "guest: tiny ($(awk '$1 == "memory" { print $3 }' "$T/tiny.ini"), 1 vCPU);" \
	"server: netperf serve $GPORT in the guest"
echo "dnat:    $CLIENT -> $PUB:${PORT[dnat]}," \
	"DNAT to $GIP:$GPORT by labd's map plan (bridge mode)"
echo "direct:  $CLIENT -> $GIP:$GPORT, routed by the host ns, no NAT:" \
	"the reference.  labd's"
echo "         forward chain drops connections to guests that were not" \
	"DNATed, so for"
echo "         these runs only the bench inserts at its top:" \
	"ip saddr $CLIENT ip daddr $GIP accept, and the reverse"
echo "hostfwd: 127.0.0.1 -> 127.0.0.1:${PORT[hostfwd]}, QEMU slirp" \
	"hostfwd (a second labd, user mode);"
echo "         the client is on loopback, so this is an upper bound" \
	"on hostfwd's client side"
echo "stream:   one TCP connection, client to guest, $SECS s," \
	"timed to the server's close"
echo "connrate: connect, read the server's byte, close with a reset" \
	"(SO_LINGER 0: no TIME_WAIT),"
echo "          one at a time, for $SECS s; connections over 0.5 s are counted" \
	"apart (a lost SYN waits out a 1 s timer)"
echo "runs: $RUNS of each, paths interleaved and their order rotated per run"
echo

paths=(dnat direct hostfwd)
for r in $(seq "$RUNS"); do
	for kind in stream connrate; do
		for i in 0 1 2; do
			run_one $kind "${paths[$(( (i + r - 1) % 3 ))]}" "$r"
		done
	done
done

echo
# summary KIND UNIT
summary() {
	local d n h r goal
	d=$(mean "$T/fig.$1.direct")
	n=$(mean "$T/fig.$1.dnat")
	h=$(mean "$T/fig.$1.hostfwd")
	r=$(ratio "$n" "$d")
	goal=$(awk -v r="$r" 'BEGIN { print (r >= 0.95 ? "met" : "NOT met") }')
	printf '%s: dnat %s %s; direct %s %s; hostfwd %s %s; mean of %d runs\n' \
		"$1" "$n" "$2" "$d" "$2" "$h" "$2" "$RUNS"
	printf '%s: runs: dnat %s, direct %s, hostfwd %s\n' "$1" \
		"$(spread "$T/fig.$1.dnat")" "$(spread "$T/fig.$1.direct")" \
		"$(spread "$T/fig.$1.hostfwd")"
	printf '%s: dnat/direct %s (goal >= 0.95: %s); hostfwd/direct %s;' \
		"$1" "$r" "$goal" "$(ratio "$h" "$d")"
	printf ' reference: direct\n'
}
summary stream Mbit/s
summary connrate conn/s
echo "(TCG, on a shared host: a ratio is meaningful only beyond the runs' spread;"
echo " NET_RUNS=10 narrows it)"
