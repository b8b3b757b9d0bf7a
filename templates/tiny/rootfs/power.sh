#!/bin/sh
# SPDX-License-Identifier: ISC
# /etc/acpi/PWRF/00000080: busybox acpid runs this when the ACPI power
# button is pressed (QMP system_powerdown).  busybox poweroff signals init,
# which runs rcK and powers the machine off.
echo "tiny: power button pressed, powering off" >/dev/console
exec /sbin/poweroff
