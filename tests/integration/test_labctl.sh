#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# test_labctl.sh - which command labctl's words select, seen from the
# socket: a fake labd (socat and a few lines of shell) records each
# request and says ok.  "snapshot VM NAME" and "snapshot rm VM NAME" both
# reach labd as what they mean; an unknown or incomplete command is
# refused with the usage and exit status 2, and nothing is sent.  No VM
# and no labd: it takes a second.
set -u
. "$(dirname "$0")/lib.sh"

mkdir -p "$T/run"
cat >"$T/fake-labd" <<EOS
#!/usr/bin/env bash
while IFS= read -r line; do
	printf '%s\n' "\$line" >>"$T/requests"
	printf '{"id":%s,"ok":true,"result":{}}\n' "\$(printf '%s' "\$line" | jq -c .id)"
done
EOS
chmod +x "$T/fake-labd"
: >"$T/requests"
socat UNIX-LISTEN:"$LABD_SOCKET",fork EXEC:"$T/fake-labd" 2>>"$T/labd.log" &
LABD_PID=$!	# lib.sh's cleanup kills it like a labd
disown
for _ in $(seq 50); do [ -S "$LABD_SOCKET" ] && break; sleep 0.1; done

# sent "what" CMD ARGS_JSON labctl-args...: labctl exits 0 and the last
# request it sent is CMD with exactly ARGS_JSON.
sent() {
	local what=$1 cmd=$2 args=$3 got
	shift 3
	: >"$T/requests"
	if ! "$LABCTL" "$@" >"$T/last.out" 2>&1; then
		not_ok "$what (exit $?)"
		sed 's/^/#   /' "$T/last.out"
		return
	fi
	got=$(tail -1 "$T/requests")
	if printf '%s' "$got" | jq -e --arg c "$cmd" --argjson a "$args" \
	    '.cmd == $c and .args == $a' >/dev/null; then
		ok "$what"
	else
		not_ok "$what (sent: $got)"
	fi
}

# refused "what" "expected text" labctl-args...: exit status 2, the text
# and the usage on stderr, and no request sent.
refused() {
	local what=$1 want=$2 rc=0
	shift 2
	: >"$T/requests"
	"$LABCTL" "$@" >"$T/last.out" 2>&1 || rc=$?
	if [ $rc -ne 2 ]; then
		not_ok "$what (exit $rc, not 2)"
		sed 's/^/#   /' "$T/last.out"
	elif ! grep -qF -- "$want" "$T/last.out"; then
		not_ok "$what (no \"$want\")"
		sed 's/^/#   /' "$T/last.out"
	elif ! grep -q '^usage: labctl' "$T/last.out"; then
		not_ok "$what (no usage)"
	elif [ -s "$T/requests" ]; then
		not_ok "$what (it sent $(head -1 "$T/requests"))"
	else
		ok "$what: $(head -1 "$T/last.out")"
	fi
}

sent "snapshot VM NAME is vm.snapshot" vm.snapshot \
	'{"vm":"c-ann","name":"before"}' snapshot c-ann before
sent "snapshot rm VM NAME is vm.snapshot_rm" vm.snapshot_rm \
	'{"vm":"c-ann","name":"before"}' snapshot rm c-ann before
sent "snapshots VM is vm.snapshots" vm.snapshots '{"vm":"c-ann"}' \
	snapshots c-ann
sent "template rm NAME is template.rm" template.rm '{"name":"tiny@1"}' \
	template rm tiny@1

refused "an unknown command" 'unknown command "frobnicate"' frobnicate
refused "a prefix is not a command" 'unknown command "snap"' \
	snap c-ann before
refused "a two-word command needs its second word" \
	'"template" needs one of: import, list, show, rm, from-vm' template
refused "an unknown second word" \
	'unknown command "template frob": template takes' template frob x
refused "snapshot without its NAME is snapshot's usage" \
	'usage: labctl snapshot VM|--course C NAME' snapshot c-ann
refused "snapshot rm without its NAME is snapshot rm's usage" \
	'usage: labctl snapshot rm VM|--course C [--yes] NAME' snapshot rm c-ann

finish test_labctl
