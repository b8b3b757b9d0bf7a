#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# test_debian.sh - a course of two on the Debian 12 template (make
# template-debian), end to end under TCG: the template is imported as
# built, both VMs become ready only once cloud-init is done (and pristine
# is taken then), the real OpenSSH client logs in by key (alice) and by
# the generated password (bob), compiles and runs a C program and runs
# python3; both VMs are copies of one golden (instant clones) and each is
# a machine of its own (host name, machine-id, MAC, SSH host keys, a right
# clock); sudo works, and course set sudo=off takes it
# away live and keeps it away across a reset; a file written is gone after
# labctl reset while the boot id stays the same (RAM restored, no reboot).
# Run by `make check-debian`.
set -u
. "$(dirname "$0")/../lib.sh"

DEBIAN=$B/templates/debian-12.ini
if [ ! -f "$DEBIAN" ]; then
	not_ok "no $DEBIAN: run make template-debian first"
	finish test_debian
	exit 1
fi
command -v ssh-keyscan >/dev/null || { not_ok "no ssh-keyscan (openssh-client)"; finish test_debian; exit 1; }

write_ini 24900
ssh-keygen -q -t ed25519 -N '' -C alice@test -f "$T/alice_key"
cat >"$T/roster.csv" <<EOF
id,name,email,ssh_key
alice,Alice Liddell,alice@example.org,$(cat "$T/alice_key.pub")
bob,"O'Brien, Bob",,
EOF

check "labd starts on a private socket" labd_start
check "the Debian template imports as built" \
	"$LABCTL" template import debian "$DEBIAN"
check "it has 512 MiB by default" bash -c \
	"'$LABCTL' template show debian --json | jq -e '.memory_mb == 512'"
check "course create deb (2 students)" bash -c "'$LABCTL' course create deb \
	--template debian --roster '$T/roster.csv' --format csv >'$T/create.csv'"
t0=$(date +%s)
check "both VMs become ready (TCG: minutes)" \
	"$LABCTL" wait --course deb --timeout 1200
echo "# two Debian VMs ready in $(( $(date +%s) - t0 )) s"

# --- instant clones: the profile says instant_clone = yes -----------------------
# One golden, made at labd-golden.service (before cloud-init), and each
# VM a copy that took its clock, RNG, MAC and a machine-id of its own.
check "the template allows instant clones" bash -c \
	"'$LABCTL' template show debian --json | jq -e '.instant_clone == \"yes\"'"
check "labd made one golden" bash -c \
	"[ \$(grep -c 'made the golden of its shape' '$T/labd.log') -eq 1 ]"
first=$(grep -o '[a-z-]*: made the golden' "$T/labd.log" | cut -d: -f1)
check "the golden's boot stopped at the guest's golden point" \
	grep -aq '^labd-golden:' "$T/state/vms/$first/serial.log.1"
for v in deb-alice deb-bob; do
	check "$v started from the golden: clock, RNG, MAC, machine-id set" \
		grep -aq "^labd-cloned: clock RNG MAC machine-id" "$T/state/vms/$v/serial.log"
done
check "no VM booted on its own" bash -c \
	"! grep -Eq 'not started from a golden|boot [0-9]+ of [0-9]+ failed' '$T/labd.log'"

pa=$(vm_port deb-alice)
pb=$(vm_port deb-bob)
pw=$(sqlite3 -json :memory: ".import --csv '$T/create.csv' s" \
	"SELECT password FROM s WHERE user = 'bob'" | jq -r '.[0].password')
ssh_alice() { login_key "$T/alice_key" "$pa" alice "$@"; }
ssh_bob() { login_password "$pw" "$pb" bob "$@"; }
# PORT CMD: labd's own key, as labd's probe logs in.
ssh_root() { login_key "$T/state/keys/labd_ed25519" "$1" root "$2"; }

# --- ready means cloud-init is done, and pristine was taken then ----------------
ci_done() { ssh_root "$1" 'cloud-init status' | grep -qx 'status: done'; }
check "alice's VM: cloud-init status: done" ci_done "$pa"
check "bob's VM: cloud-init status: done" ci_done "$pb"
pristine_after_ci() {	# the snapshot is younger than cloud-init's finish
	local fin snap
	fin=$(ssh_root "$pa" 'stat -c %Y /var/lib/cloud/instance/boot-finished')
	snap=$("$LABCTL" snapshots deb-alice --json |
		jq -r '.[] | select(.name == "pristine") | .created')
	echo "cloud-init finished $fin, pristine $snap"
	[ -n "$fin" ] && [ -n "$snap" ] && [ "$snap" -ge "$fin" ]
}
check "pristine was taken once cloud-init had finished" pristine_after_ci
check "pristine holds the RAM" bash -c "'$LABCTL' snapshots deb-alice --json |
	jq -e '.[] | select(.name == \"pristine\") | .ram == true'"

# --- the students log in -----------------------------------------------------------
alice_login() { ssh_alice 'id -un; echo $HOME; getent passwd alice | cut -d: -f7' >"$T/a.out" &&
	[ "$(cat "$T/a.out")" = "$(printf 'alice\n/home/alice\n/bin/bash')" ]; }
check "alice logs in by key: her account, home and bash" alice_login
alice_home() { ssh_alice 'stat -c %U ~' | grep -qx alice; }
check "alice's home is hers" alice_home
bob_login() { ssh_bob 'id -un' | grep -qx bob; }
check "bob logs in with the generated password" bob_login
bob_no_key() {	# bob has no key on the roster: a key login is refused
	! ssh -o BatchMode=yes "${SSHOPTS[@]}" -i "$T/alice_key" -p "$pb" \
	    bob@127.0.0.1 true 2>/dev/null
}
check "bob cannot log in with a key that is not his" bob_no_key

cprog='#include <stdio.h>
int main(void) { printf("%d\n", 6 * 7); return 0; }'
compile() {	# FUNC: write, compile and run a C program as that student
	"$1" "cat > hello.c <<'EOC'
$cprog
EOC
gcc -Wall -o hello hello.c && ./hello" | grep -qx 42
}
check "alice compiles and runs a C program" compile ssh_alice
check "bob compiles and runs a C program" compile ssh_bob
python() { "$1" 'python3 -c "print(sum(range(10)))"' | grep -qx 45; }
check "alice runs python3" python ssh_alice
check "bob runs python3" python ssh_bob
manpage() { ssh_alice 'man -w 3 printf; man -w make' | grep -c /usr/share/man | grep -qx 2; }
check "man pages are there" manpage
# The build's dpkg ran with force-unsafe-io; the guest's must not.
dpkg_safe() {
	ssh_root "$pa" 'cat /etc/dpkg/dpkg.cfg.d/*' >"$T/dpkgcfg" &&
	    grep -q '^path-exclude' "$T/dpkgcfg" && ! grep -q 'unsafe-io' "$T/dpkgcfg"
}
check "the guest's dpkg syncs what it installs (no force-unsafe-io)" dpkg_safe

# --- lab-check and /etc/labd/param, from the seed (cloud-init write_files) --------
param_ok() {	# there from the first boot, alice reads it, labd keeps it
	local p
	p=$(ssh_alice 'cat /etc/labd/param') && echo "$p" |
		grep -qx '[0-9a-f]\{16\}' && [ "$p" = "$(sqlite3 "$T/state/labd.db" \
		"SELECT p.param FROM vm_params p JOIN vms v ON v.id = p.vm_id
		 WHERE v.name = 'deb-alice'")" ]
}
check "alice reads /etc/labd/param before any check" param_ok
check "lab-check is installed" ssh_alice 'test -x /usr/local/bin/lab-check'
check "its port is open to alice (the udev rule applied)" ssh_alice \
	'test -r /dev/virtio-ports/org.labd.check -a -w /dev/virtio-ports/org.labd.check'
no_checks() { ssh_alice lab-check >"$T/lc.out" 2>&1; [ $? = 2 ] &&
	grep -q 'has no checks for you to run' "$T/lc.out"; }
check "lab-check with no stored checks: exit 2, says so" no_checks
mkdir -p "$T/goals"
printf '#!/bin/sh\n# LAB_PARAM is /etc/labd/param\ntest "$LAB_PARAM" = "$(cat /etc/labd/param)"\n' \
	>"$T/goals/param.sh"
chmod +x "$T/goals/param.sh"
check "course set deb checks=DIR" "$LABCTL" course set deb checks="$T/goals"
all_met() { ssh_alice lab-check >"$T/lc.out" 2>&1 &&
	grep -qx '1 of 1 goals met' "$T/lc.out" || { cat "$T/lc.out"; false; }; }
check "alice's lab-check: her goal met, exit 0" all_met
check "course set deb checks=none" "$LABCTL" course set deb checks=none

# --- each VM is a machine of its own ----------------------------------------------
hostnames() {
	[ "$(ssh_alice hostname)" = deb-alice ] && [ "$(ssh_bob hostname)" = deb-bob ]
}
check "host names are COURSE-ID" hostnames
ids_differ() {
	local a b
	a=$(ssh_root "$pa" 'cat /etc/machine-id') b=$(ssh_root "$pb" 'cat /etc/machine-id')
	echo "machine-ids: $a $b"
	[ ${#a} -eq 32 ] && [ ${#b} -eq 32 ] && [ "$a" != "$b" ]
}
check "machine-ids are set and differ" ids_differ
check "alice's machine-id is on her disk (committed, no longer a mount)" \
	ssh_root "$pa" '! mountpoint -q /etc/machine-id && [ -s /etc/machine-id ]'
mac_is_own() {	# VM PORT: the NIC's address is the one QEMU gave it
	local want got
	want=$(grep -ao 'virtio-net-pci,netdev=net0,mac=[0-9a-f:]*' \
		"$T/state/vms/$1/qemu.log" | tail -1 | sed 's/.*mac=//')
	got=$(ssh_root "$2" 'for d in /sys/class/net/*; do [ -e $d/device ] && cat $d/address && break; done')
	echo "QEMU's $want, the guest's $got"
	[ -n "$want" ] && [ "$want" = "$got" ]
}
check "alice's NIC has her own MAC (not the golden's)" mac_is_own deb-alice "$pa"
check "bob's NIC has his own MAC" mac_is_own deb-bob "$pb"
hostkeys_differ() {
	local a b
	a=$(ssh-keyscan -t ed25519 -p "$pa" 127.0.0.1 2>/dev/null | awk '{ print $3 }')
	b=$(ssh-keyscan -t ed25519 -p "$pb" 127.0.0.1 2>/dev/null | awk '{ print $3 }')
	[ -n "$a" ] && [ -n "$b" ] && [ "$a" != "$b" ]
}
check "SSH host keys differ" hostkeys_differ
clock_ok() {	# PORT: the guest's clock within 3 s of the host's
	# The host's clock is read before and after: under load the ssh
	# round trip alone can take seconds, which is no drift of the guest's.
	local g h0 h1
	h0=$(date +%s)
	g=$(ssh_root "$1" 'date +%s')
	h1=$(date +%s)
	echo "guest $g host $h0..$h1"
	[ -n "$g" ] && [ "$g" -ge $((h0 - 3)) ] && [ "$g" -le $((h1 + 3)) ]
}
check "alice's clock is right" clock_ok "$pa"
check "bob's clock is right" clock_ok "$pb"
# labd-agent (labd/agent.c), which the seed installed: systemd runs it,
# and it has said hello on its port (it waits in a read, not in a write).
agent_up() {
	ssh_root "$1" 'systemctl is-active --quiet labd-agent &&
		p=$(systemctl show -p MainPID --value labd-agent) &&
		ls -l /proc/$p/fd/ | grep -q vport'
}
check "labd-agent runs in alice's VM, its port open" agent_up "$pa"
# Enabled without a reload of systemd (labd/guestfiles.c): it starts
# again at the next boot.
check "labd-agent is enabled for the next boot" \
	ssh_root "$pa" 'test "$(systemctl is-enabled labd-agent)" = enabled'
# The template's cloud-init leaves GRUB's debconf alone and no e2scrub
# clean-up runs (templates/debian/customize.sh): seconds of every boot.
check "no grub_dpkg probe or e2scrub_reap in the first boot" ssh_root "$pa" \
	'grep -q "disabled by config grub_dpkg/enabled" /var/log/cloud-init.log &&
	 test "$(systemctl is-enabled e2scrub_reap.service)" = masked'

# --- sudo per course -----------------------------------------------------------------
sudo_root() { "$1" 'sudo -n id -u' | grep -qx 0; }
check "alice may sudo (course default)" sudo_root ssh_alice
check "bob may sudo" sudo_root ssh_bob
check "course set deb sudo=off" "$LABCTL" course set deb sudo=off
check "course show says sudo off" bash -c "'$LABCTL' course show deb --json | jq -e '.sudo == false'"
no_root() {	# FUNC PORT: neither sudo nor su gives root, whatever is tried
	local out
	out=$("$1" 'sudo -n id -u 2>&1; echo "sudo-rc=$?"; su -c "id -u" </dev/null 2>&1;
		echo "su-rc=$?"; echo "groups: $(id -nG)"')
	echo "$out"
	! printf '%s\n' "$out" | grep -qx 0 &&
	printf '%s\n' "$out" | grep -qx 'sudo-rc=1' &&
	! printf '%s\n' "$out" | grep -qx 'su-rc=0' &&
	! printf '%s\n' "$out" | grep '^groups:' | grep -qw -e sudo -e admin -e wheel &&
	ssh_root "$2" 'test ! -e /etc/sudoers.d/90-labd'
}
sudo_off_live() {	# the change reaches the ready VMs within seconds
	for _ in $(seq 30); do
		no_root "$1" "$2" >/dev/null 2>&1 && return 0
		sleep 1
	done
	no_root "$1" "$2"
}
check "sudo=off: alice cannot become root (live)" sudo_off_live ssh_alice "$pa"
bob_no_root() {	# his password does not help either
	local out
	out=$(ssh_bob "echo '$pw' | sudo -S id -u 2>&1; echo rc=\$?")
	echo "$out"
	! printf '%s\n' "$out" | grep -qx 0 && printf '%s\n' "$out" | grep -q 'rc=1'
}
check "sudo=off: bob cannot become root, with his password either" bob_no_root

# --- reset: RAM and disk back, no reboot, policy and clock kept right ------------
boot0=$(ssh_root "$pa" 'cat /proc/sys/kernel/random/boot_id')
alice_writes() { ssh_alice 'echo work > ~/lab.txt && cat ~/lab.txt' | grep -qx work; }
check "alice writes a file" alice_writes
sleep 4	# the pristine snapshot is older: its clock is behind
t0=$(date +%s.%N)
check "labctl reset deb-alice" "$LABCTL" reset deb-alice
t1=$(date +%s.%N)
check "alice logs in after the reset" alice_login
t2=$(date +%s.%N)
echo "# RAM reset: reply $(echo "$t1 - $t0" | bc) s, alice logged in $(echo "$t2 - $t0" | bc) s after the reset began"
file_gone() { ssh_alice 'test ! -e ~/lab.txt'; }
check "the file is gone" file_gone
same_boot() { [ "$(ssh_root "$pa" 'cat /proc/sys/kernel/random/boot_id')" = "$boot0" ]; }
check "the boot id is unchanged (no reboot)" same_boot
check "the clock is right after the reset" clock_ok "$pa"
check "sudo is still off after the reset (pristine had it on)" no_root ssh_alice "$pa"

check "course set deb sudo=on" "$LABCTL" course set deb sudo=on
sudo_on_live() {
	for _ in $(seq 30); do
		sudo_root ssh_alice 2>/dev/null && return 0
		sleep 1
	done
	return 1
}
check "sudo=on: alice may sudo again (live)" sudo_on_live

check "labctl stop --course deb" "$LABCTL" stop --course deb
finish test_debian
