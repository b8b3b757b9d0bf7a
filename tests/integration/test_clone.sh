#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# test_clone.sh - instant clones (labd/golden.c, issue 14): a class of
# three tiny VMs comes up from one golden boot.  The first VM's boot stops
# at the guest's golden point and is kept as the golden; every VM, that
# one too, starts from a copy and takes its go line.  Each copy is a
# guest of its own: its hostname and student from its seed, its own SSH
# host key (the RNG reseeded: the copies share the golden's pool
# otherwise), its own MAC, today's clock.  A reset --hard starts from the
# golden again; labd started again finds the golden and makes no other;
# a golden that does not load is removed and the VM boots; a labd
# killed while it makes a golden boots that VM again once back;
# template rm removes the template's golden; a template whose profile
# says instant_clone = no has its VMs boot; with [vmm] instant_clone =
# off a VM boots on its own.
set -u
. "$(dirname "$0")/lib.sh"

write_ini 26300
S="ann ben cem"
echo "id,name,email,ssh_key" >"$T/roster.csv"
for s in $S; do
	ssh-keygen -q -t ed25519 -N '' -C $s@test -f "$T/${s}_key"
	echo "$s,${s^},,$(cat "$T/${s}_key.pub")" >>"$T/roster.csv"
done
# one_course COURSE TEMPLATE STUDENT: a course of one student.
one_course() {
	printf 'id,name,email,ssh_key\n%s,%s,,\n' "$3" "${3^}" >"$T/$1.csv" &&
	"$LABCTL" course create "$1" --template "$2" --roster "$T/$1.csv"
}

check "labd starts" labd_start
check "template import" "$LABCTL" template import tiny "$TINY"
t0=$(date +%s.%N)
check "course create of three" "$LABCTL" course create cl --template tiny \
	--roster "$T/roster.csv"
check "all three become ready" "$LABCTL" wait --course cl --timeout 400
echo "# create to all ready: $(echo "$(date +%s.%N) - $t0" | bc) s"

check "labd made one golden" bash -c \
	"[ \$(grep -c 'made the golden of its shape' '$T/labd.log') -eq 1 ]"
check "and keeps it in state_dir/golden" bash -c \
	"ls '$T'/state/golden/*.qcow2 | wc -l | grep -qx 1"
first=$(grep -o '[a-z-]*: made the golden' "$T/labd.log" | cut -d: -f1)
check "the golden's boot stopped at the guest's golden point" \
	grep -q 'labd-golden:' "$T/state/vms/$first/serial.log.1"
for s in $S; do
	check "cl-$s started from the golden: clock, RNG and MAC set" \
		grep -q "labd-cloned: clock RNG MAC" "$T/state/vms/cl-$s/serial.log"
done
check "no VM booted on its own" bash -c \
	"! grep -q 'not started from a golden' '$T/labd.log'"

# What each copy is: the seed's, the RNG's and the go line's.
for s in $S; do
	port=$(vm_port cl-$s)
	login_key "$T/${s}_key" "$port" $s \
		'echo "$(hostname) $(id -un) $(cat /sys/class/net/eth0/address) $(date +%s)"' \
		>"$T/who.$s" 2>"$T/who.$s.err"
	ssh-keyscan -t ed25519 -p "$port" 127.0.0.1 2>/dev/null |
		awk '{ print $3 }' >"$T/hostkey.$s"
done
for s in $S; do
	check "cl-$s: its hostname and its student from its own seed" \
		bash -c "read h u m t <'$T/who.$s' && [ \"\$h \$u\" = 'cl-$s $s' ]"
	check "cl-$s: its clock is the host's (within 60 s)" bash -c \
		"read h u m t <'$T/who.$s' && d=\$((\$(date +%s) - t)) &&
		 [ \${d#-} -le 60 ]"
	check "cl-$s: it has an SSH host key" test -s "$T/hostkey.$s"
done
check "three different host keys (the RNG was reseeded)" bash -c \
	"cat '$T'/hostkey.* | sort -u | wc -l | grep -qx 3"
check "three different MACs (the go line's)" bash -c \
	"awk '{ print \$3 }' '$T'/who.??? | sort -u | wc -l | grep -qx 3"
check "the golden's snapshot is gone from the copies' disks" bash -c \
	"for s in $S; do qemu-img snapshot -U -l '$T'/state/vms/cl-\$s/disk.qcow2 |
	 grep -q labd-golden && exit 1; done; exit 0"
ann=$(vm_port cl-ann)
check "ann writes a file" login_key "$T/ann_key" "$ann" ann 'echo mine >~/f'
check "reset --hard of ann" "$LABCTL" reset cl-ann --hard --yes
check "ann is ready again" "$LABCTL" wait cl-ann --timeout 300
check "from the golden again" grep -q "labd-cloned:" \
	"$T/state/vms/cl-ann/serial.log"
check "with a fresh disk (her file is gone)" login_key "$T/ann_key" "$ann" \
	ann 'test ! -e ~/f'

# labd started again: the golden is found, not made again.
kill "$LABD_PID"; wait "$LABD_PID" 2>/dev/null; LABD_PID=
check "labd starts again" labd_start
check "a second course of one, same template" one_course c1 tiny dan
check "its VM becomes ready" "$LABCTL" wait --course c1 --timeout 300
check "from the same golden (none made again)" bash -c \
	"[ \$(grep -c 'made the golden of its shape' '$T/labd.log') -eq 1 ] &&
	 grep -q labd-cloned: '$T/state/vms/c1-dan/serial.log'"

# A golden this QEMU cannot load (here: its snapshot deleted): removed,
# and the VM boots; the next labd makes a new one.
check "the golden's snapshot deleted by hand" bash -c \
	"qemu-img snapshot -d labd-golden '$T'/state/golden/tiny@1-*.qcow2"
check "a course of one more" one_course c4 tiny gus
check "its VM becomes ready" "$LABCTL" wait --course c4 --timeout 300
check "by a boot of its own" bash -c \
	"! grep -q labd-cloned: '$T/state/vms/c4-gus/serial.log' &&
	 grep -q 'labd-ready: c4-gus' '$T/state/vms/c4-gus/serial.log'"
check "the golden that did not load is removed, and labd says so" bash -c \
	"! ls '$T'/state/golden/ | grep -q '^tiny@1-.*qcow2' &&
	 grep -q 'golden tiny@1-.* does not load: removed' '$T/labd.log'"

# labd killed while it makes a golden (another shape: 160 MiB): the VM
# waits at its golden point for a go line that nobody sends.  labd
# started again adopts its QEMU, sees where it waits and boots it again
# from its disk at once, not after boot_timeout.
D=$(dirname "$TINY")
sed "s|^disk .*|disk = $D/tiny.qcow2|; s|^kernel .*|kernel = $D/tiny-vmlinuz|;
     s|^initrd .*|initrd = $D/tiny-initrd|; s|^memory .*|memory = 160M|" \
	"$TINY" >"$T/t160.ini"
check "a template of 160 MiB" "$LABCTL" template import t160 "$T/t160.ini"
check "a course of one on it" one_course c3 t160 fay
at_golden() {
	for _ in $(seq 600); do
		grep -qa 'labd-golden:' "$T/state/vms/c3-fay/serial.log" \
			2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}
check "its boot reaches the golden point" at_golden
kill -9 "$LABD_PID"; wait "$LABD_PID" 2>/dev/null; LABD_PID=
check "labd starts again" labd_start
check "the VM is ready again within 120 s (boot_timeout is 600)" \
	"$LABCTL" wait c3-fay --timeout 120
check "labd said why it booted it again" grep -q \
	'c3-fay.*waits at its golden point' "$T/labd.log"
# The template removed: its golden with it.
check "a second course on t160" one_course c5 t160 hal
check "its VM becomes ready" "$LABCTL" wait --course c5 --timeout 300
check "from t160's golden, made now" bash -c \
	"grep -q labd-cloned: '$T/state/vms/c5-hal/serial.log' &&
	 ls '$T'/state/golden/ | grep -q '^t160@1-.*qcow2'"
check "the courses on t160 removed" bash -c \
	"for c in c3 c5; do '$LABCTL' course rm \$c --force --yes >/dev/null ||
	 exit 1; done"
check "template rm t160" "$LABCTL" template rm t160
check "its golden is gone from state_dir/golden" bash -c \
	"! ls '$T'/state/golden/ | grep -q '^t160@1-'"

# A profile that says instant_clone = no: its VMs boot, labd.ini's on.
sed "s|^disk .*|disk = $D/tiny.qcow2|; s|^kernel .*|kernel = $D/tiny-vmlinuz|;
     s|^initrd .*|initrd = $D/tiny-initrd|" "$TINY" >"$T/tno.ini"
echo 'instant_clone = no' >>"$T/tno.ini"
check "a template whose profile says instant_clone = no" \
	"$LABCTL" template import tno "$T/tno.ini"
check "template show says clones no" bash -c \
	"'$LABCTL' template show tno | grep -qx 'clones     no'"
check "a course of one on it" one_course c6 tno ivy
check "its VM becomes ready" "$LABCTL" wait --course c6 --timeout 300
check "by a boot of its own, no golden made for it" bash -c \
	"! grep -q labd-cloned '$T/state/vms/c6-ivy/serial.log' &&
	 grep -q 'labd-ready: c6-ivy' '$T/state/vms/c6-ivy/serial.log' &&
	 ! ls '$T'/state/golden/ | grep -q '^tno@'"
kill "$LABD_PID"; wait "$LABD_PID" 2>/dev/null; LABD_PID=

# Off: boots, as before.
sed -i 's/^\[vmm\]$/[vmm]\ninstant_clone = off/' "$T/labd.ini"
check "labd starts with instant_clone = off" labd_start
check "a second course of one" one_course c2 tiny eve
check "its VM becomes ready" "$LABCTL" wait --course c2 --timeout 300
check "by a boot of its own (no go line, no golden boot)" bash -c \
	"! grep -q labd-cloned '$T/state/vms/c2-eve/serial.log' &&
	 grep -q 'labd-ready: c2-eve' '$T/state/vms/c2-eve/serial.log' &&
	 ! test -e '$T/state/vms/c2-eve/serial.log.1'"

finish test_clone
