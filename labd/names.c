/* SPDX-License-Identifier: ISC */
/*
 * names.c - the two patterns every name that reaches a path, an argv or a
 * guest's /etc/passwd must pass.  Course, template and VM names become
 * folder and QEMU -name values; student ids become login names inside the
 * guest, where a clash with a system account (root, daemon, sshd...) would
 * hand a student that account or break the guest's boot.
 *
 * And what free text shown to people may hold: a student's name goes to
 * the instructor's terminal, the access sheet (a spreadsheet, a printed
 * page) and the guest's /etc/passwd, where a control or bidirectional
 * character could move the cursor, reorder what follows it or hide text.
 */
#include <stdint.h>
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

/*
 * Characters that have no business in a name: each range with what to
 * call it.  C0 and DEL end a line or drive a terminal; C1 does the same
 * on terminals that take 8-bit controls (U+009B is a CSI); the
 * bidirectional controls reorder the text after them (the "Trojan
 * Source" trick: "moc.elpmaxe@" shown as "example.com"); the invisible
 * ones make two names look alike or hide text from the eye.  U+200C and
 * U+200D (zero-width non-joiner, joiner) are let through: Persian and
 * Indic names need them, and they neither reorder nor hide anything.
 */
static const struct {
	uint32_t	 lo, hi;
	const char	*what;
} text_unsafe_ranges[] = {
	{ 0x0000, 0x001f, "a control character" },
	{ 0x007f, 0x007f, "a control character (DEL)" },
	{ 0x0080, 0x009f, "a C1 control character" },
	{ 0x061c, 0x061c, "a bidirectional control, which can reorder the"
	  " text around it" },
	{ 0x180e, 0x180e, "an invisible character" },
	{ 0x200b, 0x200b, "an invisible character (zero-width space)" },
	{ 0x200e, 0x200f, "a bidirectional control, which can reorder the"
	  " text around it" },
	{ 0x2028, 0x2029, "a line or paragraph separator" },
	{ 0x202a, 0x202e, "a bidirectional control, which can reorder the"
	  " text around it" },
	{ 0x2060, 0x2064, "an invisible character" },
	{ 0x2066, 0x2069, "a bidirectional control, which can reorder the"
	  " text around it" },
	{ 0xfeff, 0xfeff, "an invisible character (zero-width no-break"
	  " space)" },
	{ 0xfff9, 0xfffb, "an invisible character (interlinear annotation)" },
	{ 0xe0000, 0xe007f, "an invisible tag character" },
};

const char *
text_unsafe(const char *str, size_t len, uint32_t *cpp)
{
	const unsigned char	*s = (const unsigned char *)str;
	uint32_t		 cp;
	size_t			 i = 0, n, k, r;

	while (i < len) {
		if (s[i] < 0x80) {
			cp = s[i];
			n = 0;
		} else if ((s[i] & 0xe0) == 0xc0) {
			cp = s[i] & 0x1f;
			n = 1;
		} else if ((s[i] & 0xf0) == 0xe0) {
			cp = s[i] & 0x0f;
			n = 2;
		} else {
			cp = s[i] & 0x07;
			n = 3;
		}
		/* Valid UTF-8 was checked first; a cut sequence ends it. */
		for (k = 1; k <= n; k++) {
			if (i + k >= len)
				return NULL;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		for (r = 0; r < sizeof(text_unsafe_ranges) /
		    sizeof(text_unsafe_ranges[0]); r++)
			if (cp >= text_unsafe_ranges[r].lo &&
			    cp <= text_unsafe_ranges[r].hi) {
				if (cpp != NULL)
					*cpp = cp;
				return text_unsafe_ranges[r].what;
			}
		i += n + 1;
	}
	return NULL;
}
