/* SPDX-License-Identifier: ISC */
/*
 * names.c - the two patterns every name that reaches a path, an argv or a
 * guest's /etc/passwd must pass.  Course, template and VM names become
 * folder and QEMU -name values; student ids become login names inside the
 * guest, where a clash with a system account (root, daemon, sshd...) would
 * hand a student that account or break the guest's boot.
 */
#include <string.h>

#include "labd/config.h"

/*
 * Accounts a Debian (or any common cloud) image already has, and the
 * names labd itself uses.  Matched exactly; "systemd-" is a prefix.
 */
static const char *const reserved_logins[] = {
	"root", "daemon", "bin", "sys", "sync", "games", "man", "lp", "mail",
	"news", "uucp", "proxy", "www-data", "backup", "list", "irc", "gnats",
	"nobody", "nogroup", "_apt", "sshd", "messagebus", "syslog", "ntp",
	"chrony", "_chrony", "polkitd", "avahi", "dnsmasq", "postfix", "tss",
	"uuidd", "tcpdump", "statd", "usbmux", "rtkit", "pulse", "colord",
	"debian", "ubuntu", "admin", "adm", "wheel", "staff", "users", "sudo",
	"operator", "halt", "shutdown", "ftp", "lightdm", "gdm", "dhcpcd",
	"landscape", "lxd", "netdev", "cloud-user", "ec2-user", "centos",
	"fedora", "labd", "labadmin", "qemu", "libvirt-qemu", "kvm",
	NULL
};

/* Prefixes of whole families of system accounts. */
static const char *const reserved_prefixes[] = {
	"systemd-", NULL
};

int
name_valid(const char *s)
{
	size_t	i, len;

	if (s == NULL || (len = strlen(s)) == 0 || len > LABD_NAMELEN - 1)
		return 0;
	if (s[0] < 'a' || s[0] > 'z')
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9'))
			continue;
		/*
		 * VM names are COURSE-STUDENT: a "--" or a trailing '-' in
		 * a course name would make two different pairs look alike.
		 */
		if (s[i] == '-' && s[i - 1] != '-' && i != len - 1)
			continue;
		return 0;
	}
	return 1;
}

int
login_valid(const char *s)
{
	size_t	i, len;

	if (s == NULL || (len = strlen(s)) == 0 || len > LABD_NAMELEN - 1)
		return 0;
	if (!((s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
		    s[i] == '_' || s[i] == '-')
			continue;
		return 0;
	}
	for (i = 0; reserved_logins[i] != NULL; i++)
		if (strcmp(s, reserved_logins[i]) == 0)
			return 0;
	for (i = 0; reserved_prefixes[i] != NULL; i++)
		if (strncmp(s, reserved_prefixes[i],
		    strlen(reserved_prefixes[i])) == 0)
			return 0;
	return 1;
}
