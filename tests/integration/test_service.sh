#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# test_service.sh - the shipped labd.service: systemd accepts it (verify),
# and its sandbox leaves an exposure of at most 4.0 on systemd's scale of
# 0 (locked down) to 10 (unsafe) by `systemd-analyze security`, the
# figure the issue asks for.  A unit without the capability bounding set
# and no_new_privs is shown to fail the same bar, so the bar bites.
set -u
. "$(dirname "$0")/lib.sh"

here=$(cd "$(dirname "$0")/../.." && pwd)
sed "s|@SBINDIR@|$(cd "$B" && pwd)|" "$here/examples/systemd/labd.service" \
	>"$T/labd.service"
check "systemd-analyze verify accepts labd.service" \
	systemd-analyze verify --man=no "$T/labd.service"
score=$(systemd-analyze security --offline=yes "$T/labd.service" 2>&1 |
	sed -n 's/.*Overall exposure level for labd.service: \([0-9.]*\).*/\1/p')
echo "# systemd-analyze security: exposure $score (0 best, 10 worst)"
check "its exposure is at most 4.0" \
	systemd-analyze security --offline=yes --threshold=40 "$T/labd.service"
grep -v '^CapabilityBoundingSet=\|^NoNewPrivileges=\|^SystemCallFilter=' \
	"$T/labd.service" >"$T/weak.service"
check_fails "without its bounding set, no_new_privs and filter: over 4.0" \
	systemd-analyze security --offline=yes --threshold=40 "$T/weak.service"
caps_needed() {
	# What labd does as root needs these, and nothing else is granted.
	grep -qx 'CapabilityBoundingSet=CAP_NET_ADMIN CAP_SETUID CAP_SETGID CAP_CHOWN CAP_FOWNER CAP_DAC_OVERRIDE CAP_KILL CAP_NET_BIND_SERVICE' \
	    "$T/labd.service"
}
check "the bounding set is the eight capabilities labd uses" caps_needed

finish test_service
