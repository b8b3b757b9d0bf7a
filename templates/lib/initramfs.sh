# SPDX-License-Identifier: ISC
# templates/lib/initramfs.sh - what the tiny template's and the collector
# appliance's build scripts share: sourced, it defines
#
#   initramfs_modules KROOT KVER IRD MODULE...
#       copies MODULE... of the kernel tree KROOT (depmod'ed) and the
#       modules they depend on into IRD/lib/modules/, and their names in
#       load order into IRD/lib/modules/load.order, for the init script
#   initramfs_pack IRD OUT
#       IRD as a gzip'ed newc cpio at OUT, files in a stable order, owned
#       by root

initramfs_modules() {
	local kroot=$1 kver=$2 ird=$3 m ko
	shift 3
	mkdir -p "$ird/lib/modules"
	: >"$ird/lib/modules/load.order"
	for m in "$@"; do
		modprobe -d "$kroot" -S "$kver" --show-depends "$m" |
			awk '$1 == "insmod" { print $2 }'
	done | awk '!seen[$0]++' | while read -r ko; do
		cp "$ko" "$ird/lib/modules/"
		basename "$ko" >>"$ird/lib/modules/load.order"
	done
}

initramfs_pack() {
	(cd "$1" && find . | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0) |
		gzip -6 >"$2"
}
