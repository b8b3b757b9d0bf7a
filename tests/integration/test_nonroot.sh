#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# test_nonroot.sh - labd run by an ordinary user, as an instructor without
# root would run it on a workstation: no privileged helper, no per-VM
# users or cgroups, QEMU started by labd itself (priv.c's priv_spawn,
# its branch for a labd that is not root).  That QEMU must still get
# the host's part of its command line that the helper gives it as root
# (spec_host: the accelerator, TCG's translation cache, ksm = off's
# mem-merge=off), run as that user, serve the student over SSH and go
# back to pristine on a reset.  The user is made here and removed at the
# end; labd, labctl and the tiny template are copied where it can reach
# them (the build folder may be under a home it cannot enter).
set -u
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" -eq 0 ] || { not_ok "test_nonroot needs root (useradd)"; finish test_nonroot; exit 1; }
U=ltnr$$
trap 'userdel "$U" 2>/dev/null; cleanup' EXIT
useradd -M -N -s /usr/sbin/nologin -g users "$U" ||
	{ not_ok "cannot make the user $U"; finish test_nonroot; exit 1; }

mkdir -p "$T/bin" "$T/tpl" "$T/state" "$T/run"
cp "$LABD" "$LABCTL" "$T/bin/"
for f in tiny.ini tiny.qcow2 tiny-vmlinuz tiny-initrd collector-vmlinuz collector-initrd; do
	cp "$B/templates/$f" "$T/tpl/" || { not_ok "no $B/templates/$f"; finish test_nonroot; exit 1; }
done
chmod -R a+rX "$T/bin" "$T/tpl"
chown "$U:users" "$T/state" "$T/run"
chmod 0750 "$T/state" "$T/run"

write_ini 25500
sed -i "s|^collector = .*|collector = $T/tpl|" "$T/labd.ini"
printf 'ksm = off\n' >>"$T/labd.ini"	# the last section is [vmm]
LABD=$T/bin/labd
UID_U=$(id -u "$U")
LABD_WRAP="setpriv --reuid=$U --regid=users --clear-groups"
ssh-keygen -q -t ed25519 -N '' -C ann@test -f "$T/ann_key"
printf 'id,name,email,ssh_key\nann,Ann,,%s\n' "$(cat "$T/ann_key.pub")" >"$T/roster.csv"

check "labd starts as $U" labd_start
check "it runs as $U, not root" bash -c \
	"[ \$(ps -o uid= -p $LABD_PID) = $UID_U ]"
check "no privileged helper (not root)" bash -c \
	"! grep -q 'privileged helper started' '$T/labd.log'"
check "template import" "$LABCTL" template import tiny "$T/tpl/tiny.ini"
check "course create of one" "$LABCTL" course create nr --template tiny \
	--roster "$T/roster.csv"
check "the VM becomes ready" "$LABCTL" wait --course nr --timeout 400

qpid=$(cat "$T/run/vms/nr-ann/pid" 2>/dev/null)
check "QEMU runs as $U" bash -c "[ \$(ps -o uid= -p '$qpid') = $UID_U ]"
tr '\0' ' ' <"/proc/$qpid/cmdline" >"$T/cmdline" 2>/dev/null
accel=$("$LABCTL" status --json | jq -r .accel)
check "QEMU was given the accelerator labd chose ($accel)" bash -c \
	"case '$accel' in
	 kvm) grep -q 'accel=kvm' '$T/cmdline' ;;
	 *) grep -Eq -- '-accel tcg,tb-size=[0-9]+' '$T/cmdline' ;;
	 esac"
check "ksm = off reached QEMU: mem-merge=off" grep -q 'mem-merge=off' "$T/cmdline"
port=$(vm_port nr-ann)
check "ann logs in by key" login_key "$T/ann_key" "$port" ann 'echo mine >~/f'
check "labctl reset nr-ann" "$LABCTL" reset nr-ann
check "ready again" "$LABCTL" wait nr-ann --timeout 300
check "her file is gone (back to pristine)" login_key "$T/ann_key" "$port" ann 'test ! -e ~/f'
check "stop --course nr" "$LABCTL" stop --course nr
qemu_gone() {
	local i
	for i in $(seq 100); do gone "$qpid" && return 0; sleep 0.2; done
	return 1
}
check "its QEMU is gone" qemu_gone

finish test_nonroot
