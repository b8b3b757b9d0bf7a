#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# test_template.sh - templates never change under their clones: the tiny
# profile, a vmdk and an .ova (its OVF's 256 MB and 2 CPUs) are imported;
# importing a name again makes @2 and leaves @1 byte for byte as it was,
# read-only; a version a course uses cannot be removed and nothing is
# touched by the refusal; an unused one goes with its folder, and its
# number is never handed out again; a bogus .ova, an archive that tries to
# escape and a text file given as a disk are refused with errors that
# name them, leaving nothing behind.
set -u
. "$(dirname "$0")/lib.sh"

write_ini 24400
TPL=$T/state/templates

# errors_with "what" "expected text" command...: fails, and says so.
errors_with() {
	local what=$1 want=$2
	shift 2
	if "$@" >"$T/last.out" 2>&1; then
		not_ok "$what (it succeeded)"
	elif grep -qF -- "$want" "$T/last.out"; then
		ok "$what: $(head -1 "$T/last.out")"
	else
		not_ok "$what (no \"$want\" in the error)"
		sed 's/^/#   /' "$T/last.out"
	fi
}

# tfield REF FIELD: one field of labctl template show --json.
tfield() { "$LABCTL" template show "$1" --json | jq -r ".$2"; }
# lfield REF FIELD: one field of REF's row in labctl template list --json.
lfield() {
	"$LABCTL" template list --json |
	    jq -r --arg ref "$1" ".[] | select(.ref == \$ref) | .$2"
}
mode_of() { stat -c %a "$1"; }
sum_of() { sha256sum "$1" | cut -c1-64; }

check "labd starts" labd_start
check "import tiny from its profile" "$LABCTL" template import tiny "$TINY"

qemu-img convert -O vmdk "$B/templates/tiny.qcow2" "$T/x.vmdk"
check "import a vmdk made by qemu-img" \
	"$LABCTL" template import fromvmdk "$T/x.vmdk"

# An appliance as VMware writes one: the OVF first, then its disk.
cat >"$T/x.ovf" <<'EOF'
<?xml version="1.0" encoding="UTF-8"?>
<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1"
    xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1"
    xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData"
    xmlns:vmw="http://www.vmware.com/schema/ovf">
  <References>
    <File ovf:href="x.vmdk" ovf:id="file1"/>
  </References>
  <DiskSection>
    <Info>Virtual disk information</Info>
    <Disk ovf:capacity="128" ovf:capacityAllocationUnits="byte * 2^20"
        ovf:diskId="vmdisk1" ovf:fileRef="file1"/>
  </DiskSection>
  <VirtualSystem ovf:id="lab">
    <Info>A virtual machine</Info>
    <VirtualHardwareSection>
      <Info>Virtual hardware requirements</Info>
      <Item>
        <rasd:AllocationUnits>hertz * 10^6</rasd:AllocationUnits>
        <rasd:ElementName>2 virtual CPU(s)</rasd:ElementName>
        <rasd:InstanceID>1</rasd:InstanceID>
        <rasd:ResourceType>3</rasd:ResourceType>
        <rasd:VirtualQuantity>2</rasd:VirtualQuantity>
      </Item>
      <Item>
        <rasd:AllocationUnits>byte * 2^20</rasd:AllocationUnits>
        <rasd:ElementName>256MB of memory</rasd:ElementName>
        <rasd:InstanceID>2</rasd:InstanceID>
        <rasd:ResourceType>4</rasd:ResourceType>
        <rasd:VirtualQuantity>256</rasd:VirtualQuantity>
      </Item>
    </VirtualHardwareSection>
  </VirtualSystem>
</Envelope>
EOF
(cd "$T" && tar -cf x.ova x.ovf x.vmdk)
check "import an .ova" "$LABCTL" template import appliance "$T/x.ova"

list_shows_ovf_hardware() {
	[ "$(lfield appliance@1 memory_mb)" = 256 ] &&
	[ "$(lfield appliance@1 vcpus)" = 2 ] &&
	"$LABCTL" template list |
	    grep -Eq '^appliance@1 +256M +2 ' &&
	"$LABCTL" template list | grep -q '^fromvmdk@1 ' &&
	"$LABCTL" template list | grep -q '^tiny@1 '
}
check "template list shows the three, the .ova with the OVF's 256 MB and 2 CPUs" \
	list_shows_ovf_hardware
show_appliance() {
	"$LABCTL" template show appliance >"$T/show.txt" &&
	grep -q '^template   appliance@1' "$T/show.txt" &&
	grep -q '^memory     256 MiB' "$T/show.txt" &&
	grep -q '^vcpus      2' "$T/show.txt" &&
	grep -q 'mode 0444' "$T/show.txt" &&
	grep -q '^used by    no course' "$T/show.txt" &&
	[ "$(tfield appliance disk_mode)" = 0444 ] &&
	[ "$(tfield appliance disk_size)" = 134217728 ] &&
	[ "$(tfield appliance sha256)" = "$(sum_of "$TPL/appliance@1/disk.qcow2")" ] &&
	[ "$(tfield appliance source)" = "$T/x.ova" ]
}
check "template show: fields, mode 0444, virtual size, checksum, no course" \
	show_appliance
check "the unpacked appliance is not kept beside the template" \
	test ! -e "$TPL/appliance@1/ova"
check "the vmdk import is a qcow2 of the same size" bash -c "
	qemu-img info '$TPL/fromvmdk@1/disk.qcow2' | grep -q 'file format: qcow2' &&
	test \"\$('$LABCTL' template show fromvmdk --json | jq .disk_size)\" = 134217728"

# The same name again: @2, and @1 exactly as it was.
sum1=$(sum_of "$TPL/tiny@1/disk.qcow2")
mtime1=$(stat -c %Y "$TPL/tiny@1/disk.qcow2")
check "importing tiny again makes tiny@2" bash -c "
	'$LABCTL' template import tiny '$TINY' | grep -q 'tiny@2 imported'"
tiny1_unchanged() {
	[ "$(sum_of "$TPL/tiny@1/disk.qcow2")" = "$sum1" ] &&
	[ "$(tfield tiny@1 sha256)" = "$sum1" ] &&
	[ "$(stat -c %Y "$TPL/tiny@1/disk.qcow2")" = "$mtime1" ] &&
	[ "$(mode_of "$TPL/tiny@1/disk.qcow2")" = 444 ]
}
check "tiny@1 is unchanged: same checksum (file and record), mode 0444" \
	tiny1_unchanged
check "tiny@2 is read-only too" \
	test "$(mode_of "$TPL/tiny@2/disk.qcow2")" = 444
check "show without a version is the newest, and lists both" bash -c "
	test \"\$('$LABCTL' template show tiny --json | jq -c '[.ref, .versions]')\" = '[\"tiny@2\",[1,2]]'"

# Preallocated: the qcow2's tables are there up front, the data still sparse.
check "import --preallocate" \
	"$LABCTL" template import big "$B/templates/tiny.qcow2" --preallocate
check "the preallocated disk spans its virtual size, the plain one does not" \
	bash -c "
	test \$(stat -c %s '$TPL/big@1/disk.qcow2') -ge 134217728 &&
	test \$(stat -c %s '$TPL/fromvmdk@1/disk.qcow2') -lt 134217728 &&
	qemu-img check '$TPL/big@1/disk.qcow2' >/dev/null"

# A course on tiny@1: that version can no longer be removed.
printf 'id,name,email,ssh_key\nann,Ann,,\n' >"$T/roster.csv"
check "a course of one on tiny@1" \
	"$LABCTL" course create c1 --template tiny@1 --roster "$T/roster.csv"
check "show tiny@1 lists course c1 and its VM" bash -c "
	'$LABCTL' template show tiny@1 --json |
	    jq -e '.courses[0].name == \"c1\" and .courses[0].vms[0].name == \"c1-ann\"' &&
	'$LABCTL' template show tiny@1 | grep -q 'course c1: c1-ann'"
errors_with "rm of tiny@1, used by course c1, is refused naming c1" \
	"used by course c1" "$LABCTL" template rm tiny@1
check "the refusal's code is busy" bash -c "
	printf '%s\n' '{\"id\":1,\"cmd\":\"template.rm\",\"args\":{\"name\":\"tiny@1\"}}' |
	    socat -t 5 - UNIX-CONNECT:'$LABD_SOCKET' | grep -q '\"code\":\"busy\"'"
check "nothing was removed: folder, row and checksum of tiny@1 intact" bash -c "
	test -f '$TPL/tiny@1/disk.qcow2' &&
	test \"\$('$LABCTL' template show tiny@1 --json | jq -r .sha256)\" = '$sum1' &&
	test \"\$(sha256sum '$TPL/tiny@1/disk.qcow2' | cut -c1-64)\" = '$sum1'"
errors_with "rm of a name with two versions asks which" \
	"tiny has 2 versions (tiny@2, tiny@1)" "$LABCTL" template rm tiny
check "rm of the unused tiny@2 works" "$LABCTL" template rm tiny@2
check "tiny@2's folder is gone and it is no longer listed" bash -c "
	test ! -e '$TPL/tiny@2' &&
	! '$LABCTL' template list | grep -q 'tiny@2'"
check "rm of a name with one version (fromvmdk) works" \
	"$LABCTL" template rm fromvmdk
check "its folder is gone too" test ! -e "$TPL/fromvmdk@1"
errors_with "rm of what is not there is not_found" "not found" \
	"$LABCTL" template rm tiny@2
check "a removed version number is never handed out again (tiny@3)" bash -c "
	'$LABCTL' template import tiny '$TINY' --json | jq -e '.ref == \"tiny@3\"'"

# Bad input: each refused by name, nothing left behind.
printf 'not an appliance at all\n' >"$T/bogus.ova"
errors_with "a bogus .ova is refused by name" \
	"bogus.ova is not a tar archive" \
	"$LABCTL" template import bogus "$T/bogus.ova"
mkdir -p "$T/broken"
head -c 300 "$T/x.ovf" >"$T/broken/x.ovf"
cp "$T/x.vmdk" "$T/broken/x.vmdk"
(cd "$T/broken" && tar -cf ../broken.ova x.ovf x.vmdk)
errors_with "an .ova with a garbled OVF names the archive and the OVF" \
	"broken.ova: x.ovf" "$LABCTL" template import broken "$T/broken.ova"
mkdir -p "$T/esc/in"
cp "$T/x.ovf" "$T/esc/in/x.ovf"
printf 'owned\n' >"$T/esc/evil"
(cd "$T/esc/in" && tar --absolute-names -cf ../../escape.ova x.ovf ../evil)
errors_with "an .ova whose member escapes (../evil) is refused" \
	'"../evil" would escape' "$LABCTL" template import escape "$T/escape.ova"
printf 'Lab notes: remember to hand out the access sheet.\n' >"$T/notes.txt"
errors_with "a text file given as a disk is refused as text" \
	"notes.txt is not a disk image: it holds text" \
	"$LABCTL" template import notes "$T/notes.txt"
qemu-img create -q -f qcow2 -b "$T/x.vmdk" -F vmdk "$T/child.qcow2"
errors_with "a disk with a backing file is refused" "has a backing file" \
	"$LABCTL" template import child "$T/child.qcow2"
# Profiles through iniparser: errors name the file and line, and a
# comment after [template] (the form DESIGN.md shows) is fine.
D=$(dirname "$TINY")
printf '[template]\ndisk = %s/tiny.qcow2\nvcpus 2\n' "$D" >"$T/syntax.ini"
errors_with "a profile's syntax error names the file and line" \
	"syntax.ini line 3: 'vcpus 2' is neither [section] nor key = value" \
	"$LABCTL" template import syntax "$T/syntax.ini"
printf '[template]\ndisk = %s/tiny.qcow2\nMemory = 128M\nmemory = 256M\n' \
	"$D" >"$T/twice.ini"
errors_with "a profile's key set twice names both lines" \
	"twice.ini line 4: [template] memory is set twice (first on line 3)" \
	"$LABCTL" template import twice "$T/twice.ini"
sed -e 's/^\[template\]$/[template]   ; the tiny guest/' -e "s|= *tiny|= $D/tiny|" \
	-e 's/^vcpus/VCPUs/' "$TINY" >"$T/commented.ini"
check "a profile with '[template] ; comment' and VCPUs imports" bash -c "
	grep -q '^\[template\]   ; the tiny guest' '$T/commented.ini' &&
	'$LABCTL' template import commented '$T/commented.ini' >/dev/null &&
	'$LABCTL' template rm commented >/dev/null"
nothing_left() {
	[ -z "$(ls -A "$TPL" | grep -v -E '^(tiny@1|tiny@3|appliance@1|big@1)$')" ] &&
	[ "$("$LABCTL" template list --json | jq -r '.[].ref' | sort | tr '\n' ' ')" = \
	    "appliance@1 big@1 tiny@1 tiny@3 " ]
}
check "the refused imports left no folder and no row" nothing_left
check "no escaped file was written" test ! -e "$T/state/evil" -a ! -e "$TPL/evil"

# The clone boots from tiny@1 while the newer versions came and went.
check "the course's VM becomes ready on tiny@1" \
	"$LABCTL" wait --course c1 --timeout 400
check "its overlay backs onto tiny@1" bash -c "
	qemu-img info -U '$T/state/vms/c1-ann/disk.qcow2' |
	    grep -q 'backing file: .*templates/tiny@1/disk.qcow2'"
check "tiny@1 is still byte for byte what was imported" tiny1_unchanged

finish test_template
