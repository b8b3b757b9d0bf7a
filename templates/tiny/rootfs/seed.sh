#!/bin/sh
# SPDX-License-Identifier: ISC
# /usr/lib/labd/seed.sh: apply labd's cloud-init NoCloud seed (ISO 9660,
# volume id "cidata", on /dev/vdb) the way cloud-init would, with busybox
# alone: hostname, users with their password hash and SSH keys, root's keys,
# the files of write_files (lab-check, /etc/labd/param) and the network.
#
# It runs at every boot and reads the seed once (one mount).  The network
# is decided at every boot: a network-config's address, gateway and name
# servers go to /run/labd-net for rcS, which configures eth0 from it, or
# with QEMU user mode's defaults when there is none (it is only rcS's
# input: nothing here touches eth0).  The rest is applied once per
# instance-id, remembered in /var/lib/labd/instance-id: a student who
# changed their password keeps it across reboots, and a disk that meets a
# new instance-id (a new VM) is personalised again, with fresh SSH host
# keys.
PATH=/sbin:/bin:/usr/sbin:/usr/bin
umask 022

STATE=/var/lib/labd/instance-id
MNT=/mnt/seed
WORK=/run/labd-seed
NET=/run/labd-net
US=$(printf '\037')

log() { echo "tiny-seed: $*" >/dev/console; logger -t labd-seed "$*" 2>/dev/null; }

# net_config ADDRESS GATEWAY DNS MAC: hand a network-config to rcS.
# seed.awk checked the shapes; this is the last look before they become
# arguments of ip(8) and lines of resolv.conf.
net_config() {
	case "$1 $2 $3" in
	*[!0-9./\ ]*) log "ignoring network-config: bad characters"; return ;;
	esac
	if [ -n "$4" ]; then
		have=$(cat /sys/class/net/eth0/address 2>/dev/null)
		if [ "$have" != "$4" ]; then
			log "ignoring network-config: it is for MAC $4, eth0 has ${have:-none}"
			return
		fi
	fi
	printf 'address %s\ngateway %s\ndns %s\n' "$1" "$2" "$3" >"$NET.new" &&
		mv "$NET.new" "$NET"
}

# --- read the seed -------------------------------------------------------
rm -f "$NET"
dev=$(findfs LABEL=cidata 2>/dev/null) || dev=
[ -b "$dev" ] || dev=/dev/vdb
if [ ! -b "$dev" ]; then
	log "no seed disk ($dev), keeping the current identity"
	exit 0
fi
# The copies hold a password hash: for root's eyes only, and gone after.
rm -rf "$WORK"
mkdir -p "$MNT"
mkdir -m 0700 "$WORK" || { log "cannot create $WORK"; exit 1; }
trap 'rm -rf "$WORK"' EXIT
if ! mount -t iso9660 -o ro "$dev" "$MNT" 2>/dev/null; then
	log "cannot mount the seed $dev"
	exit 1
fi
files=
for f in meta-data user-data network-config; do
	if [ -f "$MNT/$f" ] && cp "$MNT/$f" "$WORK/$f"; then
		files="$files $WORK/$f"
	fi
done
umount "$MNT"
if [ -z "$files" ]; then
	log "the seed $dev holds no meta-data, user-data or network-config"
	exit 1
fi
# shellcheck disable=SC2086
awk -f /usr/lib/labd/seed.awk $files >"$WORK/records" || {
	log "cannot parse the seed"; exit 1; }

# --- the network, at every boot ------------------------------------------
while IFS=$US read -r kind a b c d; do
	case $kind in
	N) net_config "$a" "$b" "$c" "$d" ;;
	X) log "ignoring network-config: $a" ;;
	esac
done <"$WORK/records"

# --- the rest, once per instance-id --------------------------------------
if [ ! -f "$WORK/meta-data" ]; then
	log "the seed has no meta-data"
	exit 1
fi
iid=$(awk -F "$US" '$1 == "I" { print $2 }' "$WORK/records")
if [ -z "$iid" ]; then
	log "the seed has no instance-id"
	exit 1
fi
old=$(cat "$STATE" 2>/dev/null)
[ "$iid" = "$old" ] && exit 0

# --- helpers ---------------------------------------------------------------
# Rewrite FILE through the awk program PROG (values come in through the
# environment: awk -v would interpret backslashes), keeping FILE's mode.
rewrite() {
	file=$1 prog=$2
	awk -F: -v OFS=: "$prog" "$file" >"$file.new" &&
		chmod "$(stat -c %a "$file")" "$file.new" &&
		mv "$file.new" "$file"
}

# has_entry FILE NAME: is NAME the first field of a line of FILE?
has_entry() {
	N=$2 awk -F: '$1 == ENVIRON["N"] { f = 1 } END { exit !f }' "$1"
}

# field FILE NAME N: field N of NAME's line in FILE.
field() {
	N=$2 awk -F: -v f="$3" '$1 == ENVIRON["N"] { print $f; exit }' "$1"
}

# Accounts of the image itself (daemon, nobody): never touched by a seed.
system_account() {
	[ "$1" != root ] || return 1
	id=$(field /etc/passwd "$1" 3)
	[ -n "$id" ] && { [ "$id" -lt 1000 ] || [ "$id" -ge 60000 ]; }
}

valid_name() {
	case $1 in
	'' | [!a-z_]* | *[!a-z0-9_.-]*) return 1 ;;
	esac
	[ ${#1} -le 32 ]
}

# The smallest id >= 1000 that no line of FILE uses in field 3.
free_id() {
	awk -F: -v want="${2:-0}" '{ used[$3] = 1 }
		END {
			if (want >= 1000 && !(want in used)) { print want; exit }
			for (i = 1000; i in used; i++) ;
			print i
		}' "$1"
}

set_hostname() {
	h=$1
	case $h in
	'' | [!A-Za-z0-9]* | *[!A-Za-z0-9.-]*)
		log "ignoring bad hostname '$h'"; return ;;
	esac
	echo "$h" >/etc/hostname
	H=$h rewrite /etc/hosts 'BEGIN { FS = "[ \t]+"; OFS = "\t" }
		$1 == "127.0.1.1" { next } { print }
		END { print "127.0.1.1", ENVIRON["H"] }'
	hostname "$h"
}

# add_user NAME GECOS SHELL LOCK HASH
add_user() {
	name=$1 gecos=$2 shell=$3 lock=$4 hash=$5
	if ! valid_name "$name"; then
		log "ignoring bad user name '$name'"
		return
	fi
	gecos=$(printf '%s' "$gecos" | tr ':' ' ')
	grep -qxF -- "$shell" /etc/shells || shell=/bin/sh
	case $hash in *:*) log "ignoring bad password hash for $name"; hash= ;; esac
	if [ "$lock" = 1 ] || [ -z "$hash" ]; then
		pw='!'
	else
		pw=$hash
	fi

	if has_entry /etc/passwd "$name"; then
		# Already there (root, or a user of an earlier instance); the
		# system accounts (daemon, nobody) are not for students.
		if system_account "$name"; then
			log "ignoring user '$name': a system account"
			return
		fi
		if [ "$name" != root ]; then
			N=$name G=$gecos S=$shell rewrite /etc/passwd \
				'$1 == ENVIRON["N"] { $5 = ENVIRON["G"]; $7 = ENVIRON["S"] } { print }'
		fi
		if [ "$name" != root ] || [ "$pw" != '!' ]; then
			N=$name P=$pw rewrite /etc/shadow \
				'$1 == ENVIRON["N"] { $2 = ENVIRON["P"] } { print }'
		fi
	else
		uid=$(free_id /etc/passwd)
		gid=$(free_id /etc/group "$uid")
		if has_entry /etc/group "$name"; then
			gid=$(field /etc/group "$name" 3)
		else
			echo "$name:x:$gid:" >>/etc/group
		fi
		printf '%s:x:%s:%s:%s:/home/%s:%s\n' "$name" "$uid" "$gid" \
			"$gecos" "$name" "$shell" >>/etc/passwd
		printf '%s:%s:%s:0:99999:7:::\n' "$name" "$pw" \
			"$(($(date +%s) / 86400))" >>/etc/shadow
	fi

	home=$(field /etc/passwd "$name" 6)
	if [ "$name" != root ] && [ -n "$home" ] && [ ! -d "$home" ]; then
		mkdir -p "$home"
		chown "$(field /etc/passwd "$name" 3):$(field /etc/passwd "$name" 4)" "$home"
		chmod 0755 "$home"
	fi
}

# add_key NAME KEY: append KEY to NAME's authorized_keys unless it is there.
add_key() {
	name=$1 key=$2
	system_account "$name" && return
	home=$(field /etc/passwd "$name" 6)
	[ -n "$home" ] && [ -d "$home" ] && [ -n "$key" ] || return
	mkdir -p "$home/.ssh"
	ak=$home/.ssh/authorized_keys
	touch "$ak"
	grep -qxF -- "$key" "$ak" || printf '%s\n' "$key" >>"$ak"
	chmod 0700 "$home/.ssh"
	chmod 0600 "$ak"
	chown "$(field /etc/passwd "$name" 3):$(field /etc/passwd "$name" 4)" \
		"$home/.ssh" "$ak"
}

# write_file PATH PERMISSIONS ENCODING CONTENT: one write_files entry,
# in place whole or not at all.  labd writes b64; plain text is one line.
write_file() {
	path=$1 perms=${2:-0644} enc=$3 content=$4
	case $path in
	/*) ;;
	*) log "ignoring write_files path '$path': not absolute"; return ;;
	esac
	case $path in
	*[!A-Za-z0-9/._-]* | *//* | */./* | */../* | */. | */.. | */)
		log "ignoring write_files path '$path'"; return ;;
	esac
	case $perms in
	[0-7][0-7][0-7] | [0-7][0-7][0-7][0-7]) ;;
	*) log "ignoring $path: bad permissions '$perms'"; return ;;
	esac
	mkdir -p "${path%/*}" || { log "cannot make ${path%/*}"; return; }
	case $enc in
	b64 | base64) printf '%s' "$content" | base64 -d >"$path.new" ;;
	'' | text/plain) printf '%s\n' "$content" >"$path.new" ;;
	*) log "ignoring $path: encoding '$enc' not supported"; return ;;
	esac &&
		chmod "$perms" "$path.new" && mv -f "$path.new" "$path" || {
		log "cannot write $path"; rm -f "$path.new"; }
}

# --- apply -------------------------------------------------------------------
host=$(awk -F "$US" '$1 == "H" { print $2 }' "$WORK/records")
[ -n "$host" ] && set_hostname "$host"

while IFS=$US read -r kind a b c d e; do
	case $kind in
	U) add_user "$a" "$b" "$c" "$d" "$e" ;;
	K) add_key "$a" "$b" ;;
	F) write_file "$a" "$b" "$c" "$d" ;;
	esac
done <"$WORK/records"

# A new instance on a used disk is a new machine: new host keys (rcS makes
# them after us).
if [ -n "$old" ]; then
	rm -f /etc/dropbear/dropbear_*_host_key
fi

mkdir -p "${STATE%/*}"
echo "$iid" >"$STATE.new" && mv "$STATE.new" "$STATE"
sync
log "applied the seed of instance $iid"
exit 0
