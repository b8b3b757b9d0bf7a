# SPDX-License-Identifier: ISC
# bench/lib.sh - what the benchmarks that start a private labd share:
# sourced after B is set.  A temporary folder T, a clean-up that kills
# labd and every QEMU it started (then calls bench_cleanup, when a
# benchmark defines one), labd started on $T/labd.ini, and the timing
# helpers.  BENCH_KEEP=FILE copies labd's log there before the clean-up.
# Traffic goes to 127.0.0.1 only.
T=$(mktemp -d /tmp/labd-bench.XXXXXX)
# QEMU runs as a uid of its own per VM: it must get through to state_dir.
chmod 0755 "$T"
LABD_PID=
export LABD_SOCKET=$T/run/labd.sock
L=$B/labctl
cleanup() {
	[ -n "$LABD_PID" ] && kill -9 "$LABD_PID" 2>/dev/null
	for p in "$T"/run/vms/*/pid; do
		[ -f "$p" ] && kill -9 "$(cat "$p")" 2>/dev/null
	done
	if declare -F bench_cleanup >/dev/null; then bench_cleanup; fi
	[ -z "${BENCH_KEEP:-}" ] || cp "$T/labd.log" "$BENCH_KEEP"
	rm -rf "$T"
}
trap cleanup EXIT
secs() { date +%s.%N; }
mean() { tr ' ' '\n' | awk 'NF { s += $1; n++ } END { printf "%.2f", s / n }'; }

# labd on $T/labd.ini, in the background, until it answers (LABD_V=-v:
# with its debug messages).
bench_labd_start() {
	"$B/labd" -d ${LABD_V:-} -c "$T/labd.ini" >>"$T/labd.log" 2>&1 &
	LABD_PID=$!
	disown
	for _ in $(seq 100); do "$L" status >/dev/null 2>&1 && return 0; sleep 0.1; done
	tail "$T/labd.log"
	return 1
}

# bench_ini SSH_BASE [VMM_LINE...]: $T/labd.ini, user networking, ssh on
# 127.0.0.1 from SSH_BASE, ACCEL (default auto), more [vmm] lines.
bench_ini() {
	local base=$1
	shift
	{
		printf '[labd]\nstate_dir = %s/state\nrun_dir = %s/run\n' "$T" "$T"
		printf '[network]\npublic_ips = 127.0.0.1\n'
		printf '[publish]\nssh = 127.0.0.1:%s\n' "$base"
		printf '[vmm]\naccel = %s\n' "${ACCEL:-auto}"
		printf '%s\n' "$@"
	} >"$T/labd.ini"
}
