/* SPDX-License-Identifier: ISC */
/*
 * config.c - labd.ini: a table of keys, each with its parser and help
 * text, over the defaults of config_defaults().  Every error names the
 * file, the line, the section and the key.
 *
 * The file is read with iniparser through proto/ini.c, which hands each
 * section and key here with its line, in the order of the file:
 *
 *   [section]            ; a comment may follow
 *   key = value          ; or # comment: ';' and '#' end a bare value,
 *   key = "a;b#c"        ; so quote ("" or '') a value that holds them
 *
 * Section and key names come in lower case.  A key set twice is an
 * error (ini.c refuses it), as is a value ini.c sees iniparser would cut
 * short.  ini_set_path, for keys that name a file, is shared with
 * profile.c.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "labd/labd.h"
#include "proto/client.h"

#define SHOWLEN		"64"	/* bytes of a bad value quoted back */

struct cfg_ctx {
	struct labd_config	 c;
	char			 base[PATH_MAX];	/* the ini file's folder */
	int			 line;			/* current line */
	int			 socket_line;		/* 0: socket follows run_dir */
	int			 run_dir_line;
	int			 ta_group_line;
	int			 publish_line;		/* [publish] seen here, 0 if not */
	int			 vnc_line;		/* [vnc] seen here, 0 if not */
	int			 vnc_web_line;
	int			 pub_lines[LABD_MAX_PUBLISH];
	int			 gw_line;		/* [gateway] listen, 0 if not */
};

struct cfg_key {
	const char	*section;
	const char	*key;
	int		(*set)(struct cfg_ctx *, const char *, char *, size_t);
	const char	*help;
};

/* strlcpy, which glibc before 2.38 lacks: the length of src, so that >= size means cut. */
static size_t
scpy(char *dst, const char *src, size_t size)
{
	size_t	len = strlen(src);

	if (size > 0) {
		size_t	n = len < size - 1 ? len : size - 1;

		memcpy(dst, src, n);
		dst[n] = '\0';
	}
	return len;
}

void
config_defaults(struct labd_config *c)
{
	memset(c, 0, sizeof(*c));
	scpy(c->state_dir, "/var/lib/labd", sizeof(c->state_dir));
	scpy(c->run_dir, "/run/labd", sizeof(c->run_dir));
	scpy(c->socket, "/run/labd/labd.sock", sizeof(c->socket));
	scpy(c->group, "labadmin", sizeof(c->group));
	c->workers = 0;		/* auto: workers_count() */
	c->net_mode = LABD_NET_USER;
	scpy(c->public_ips[0], "127.0.0.1", sizeof(c->public_ips[0]));
	c->npublic_ips = 1;
	scpy(c->bridge, "labbr0", sizeof(c->bridge));
	scpy(c->subnet, "10.77.0.0/16", sizeof(c->subnet));
	c->subnet_base = 0x0a4d0000;	/* 10.77.0.0 */
	c->subnet_plen = 16;
	scpy(c->publish[0].name, "ssh", sizeof(c->publish[0].name));
	scpy(c->publish[0].listen_ip, "127.0.0.1",
	    sizeof(c->publish[0].listen_ip));
	c->publish[0].base = 22000;
	c->npublish = 1;
	scpy(c->qemu, "qemu-system-x86_64", sizeof(c->qemu));
	scpy(c->qemu_img, "qemu-img", sizeof(c->qemu_img));
	c->accel = VMM_ACCEL_AUTO;
	c->uid_base = LABD_UID_BASE;
	c->ksm = LABD_KSM_AUTO;
	c->ksm_pages_to_scan = LABD_KSM_PAGES_TO_SCAN;
	c->gw_sessions = 10;
	c->gw_failures = 10;
	c->keep_removed = LABD_KEEP_REMOVED;
	c->tb_size_mb = LABD_TB_SIZE_MB;
	c->max_booting = 0;
	c->boot_timeout = 600;
	c->boot_tries = 3;
	c->instant_clone = 1;
}

/* Section, key, user, group and interface names: no ctype, no locale. */
static int
is_name_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	    (ch >= '0' && ch <= '9') || ch == '_' || ch == '-' || ch == '.';
}

static char *
trim(char *s)
{
	char	*e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
		*--e = '\0';
	return s;
}

int
ini_set_path(const char *base, const char *v, char *dst, size_t dstlen,
    char *err, size_t errlen)
{
	if (*v == '\0') {
		errf(err, errlen, "needs a path");
		return -1;
	}
	if (ini_path(base, v, dst, dstlen) == -1) {
		errf(err, errlen, "path is too long");
		return -1;
	}
	return 0;
}

/* --- value parsers ----------------------------------------------------- */

static int
parse_uint(const char *s, unsigned long min, unsigned long max,
    unsigned long *out)
{
	unsigned long	v = 0;

	if (*s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		if (v <= max)	/* past max the value no longer matters */
			v = v * 10 + (*s - '0');
	}
	if (v < min || v > max) {
		*out = v;
		return -2;
	}
	*out = v;
	return 0;
}

/* A unicast IPv4 address in dotted-quad form. */
static int
ipv4_check(const char *s, char *err, size_t errlen)
{
	struct in_addr	a;
	uint32_t	h;

	if (inet_pton(AF_INET, s, &a) != 1) {
		errf(err, errlen, "'%." SHOWLEN "s' is not an IPv4 address", s);
		return -1;
	}
	h = ntohl(a.s_addr);
	if (h == 0 || h == 0xffffffff || (h >> 28) == 0xe) {
		errf(err, errlen, "%s is not a unicast address of this host",
		    s);
		return -1;
	}
	return 0;
}

static int
set_state_dir(struct cfg_ctx *x, const char *v, char *err, size_t errlen)
{
	return ini_set_path(x->base, v, x->c.state_dir, sizeof(x->c.state_dir),
	    err, errlen);
}

static int
set_run_dir(struct cfg_ctx *x, const char *v, char *err, size_t errlen)
{
	x->run_dir_line = x->line;
	return ini_set_path(x->base, v, x->c.run_dir, sizeof(x->c.run_dir), err,
	    errlen);
}

static int
set_socket(struct cfg_ctx *x, const char *v, char *err, size_t errlen)
{
	x->socket_line = x->line;
	return ini_set_path(x->base, v, x->c.socket, sizeof(x->c.socket), err,
	    errlen);
}

/* User and group names as shadow-utils takes them. */
static int
account_name_ok(const char *v, size_t max)
{
	const char	*p;

	if (*v == '-' || strlen(v) >= max)
		return 0;
	for (p = v; *p != '\0'; p++)
		if (!is_name_char(*p))
			return 0;
	return 1;
}

static int
set_group(struct cfg_ctx *x, const char *v, char *err, size_t errlen)
{
	if (!account_name_ok(v, 33)) {
		errf(err, errlen, "'%." SHOWLEN "s' is not a group name", v);
		return -1;
	}
	scpy(x->c.group, v, sizeof(x->c.group));
	return 0;
}

static int
set_ta_group(struct cfg_ctx *x, const char *v, char *err, size_t errlen)
{
	x->ta_group_line = x->line;
	if (!account_name_ok(v, 33)) {
		errf(err, errlen, "'%." SHOWLEN "s' is not a group name", v);
		return -1;
	}
	scpy(x->c.ta_group, v, sizeof(x->c.ta_group));
	return 0;
}

static int
set_uid_base(struct cfg_ctx *x, const char *v, char *err, size_t errlen)
{
	unsigned long	n;

	/* The whole range must stay below (uid_t)-1, which means "none". */
	if (parse_uint(v, 1000, 0xFFFFFFFEUL - LABD_UIDS, &n) != 0) {
		errf(err, errlen, "'%." SHOWLEN "s' is not a uid from 1000 to"
		    " %lu", v, 0xFFFFFFFEUL - LABD_UIDS);
		return -1;
	}
	x->c.uid_base = (uint32_t)n;
	return 0;
}

static int
set_instant_clone(struct cfg_ctx *x, const char *v, char *err, size_t errlen)
{
	if (strcmp(v, "on") == 0)
		x->c.instant_clone = 1;
	else if (strcmp(v, "off") == 0)
		x->c.instant_clone = 0;
	else {
		errf(err, errlen, "'%." SHOWLEN "s' is not on or off", v);
		return -1;
	}
	return 0;
}

static int
set_ksm(struct cfg_ctx *x, const char *v, char *err, size_t errlen)
{
	if (strcmp(v, "auto") == 0)
		x->c.ksm = LABD_KSM_AUTO;
	else if (strcmp(v, "on") == 0)
		x->c.ksm = LABD_KSM_ON;
	else if (strcmp(v, "off") == 0)
		x->c.ksm = LABD_KSM_OFF;
	else {
		errf(err, errlen, "'%." SHOWLEN "s' is not auto, on or off", v);
		return -1;
	}
	return 0;
}

/*
 * Pages ksmd looks at each 20 ms: the kernel's 100 merges a class of 30
 * in many minutes, 1000 within half a minute for a tenth of a core
 * (bench/class.sh).  0 leaves the host's value.
 */
static int
set_ksm_pages_to_scan(struct cfg_ctx *x, const char *v, char *err,
    size_t errlen)
{
	unsigned long	n;

	if (parse_uint(v, 0, 100000, &n) != 0) {
		errf(err, errlen, "'%." SHOWLEN "s' is not a number from 0 to"
		    " 100000", v);
		return -1;
	}
	x->c.ksm_pages_to_scan = (unsigned)n;
	return 0;
}

/* 0 or off, else a count and a unit: 90s, 30m, 24h, 7d (at most 30d). */
static int
set_keep_removed(struct cfg_ctx *x, const char *v, char *err, size_t errlen)
{
	static const struct { char u; long m; } units[] = {
		{ 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', 86400 },
	};
	unsigned long	 n;
	char		 num[16];
	size_t		 len = strlen(v), i;

	if (strcmp(v, "0") == 0 || strcmp(v, "off") == 0) {
		x->c.keep_removed = 0;
		return 0;
	}
	if (len >= 2 && len < sizeof(num)) {
		memcpy(num, v, len - 1);
		num[len - 1] = '\0';
		for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
			if (v[len - 1] == units[i].u && parse_uint(num, 0,
			    LABD_KEEP_REMOVED_MAX / units[i].m, &n) == 0) {
				x->c.keep_removed = (int)(n * units[i].m);
				return 0;
			}
	}
	errf(err, errlen, "'%." SHOWLEN "s' is not a time such as 90m, 24h or"
	    " 7d (at most 30d), or off", v);
	return -1;
}

/*
 * A boot storm under emulation starves every guest of CPU until their
 * timers misfire: "auto" is one boot per core under TCG, two under KVM
 * (boot.c resolves it once the accelerator is known).
 */
static int
set_max_booting(struct cfg_ctx *x, const char *v, char *err, size_t errlen)
{
	unsigned long	n;

	if (strcmp(v, "auto") == 0) {
		x->c.max_booting = 0;
		return 0;
	}
	if (parse_uint(v, 1, 1024, &n) != 0) {
		errf(err, errlen, "'%." SHOWLEN "s' is not auto or a number"
		    " from 1 to 1024", v);
		return -1;
	}
	x->c.max_booting = (int)n;
	return 0;
}

static int
set_boot_timeout(struct cfg_ctx *x, const char *v, char *err, size_t errlen)
{
	unsigned long	n;

	if (parse_uint(v, 1, 86400, &n) != 0) {
		errf(err, errlen, "'%." SHOWLEN "s' is not a number of seconds"
		    " from 1 to 86400", v);
		return -1;
	}
	x->c.boot_timeout = (int)n;
	return 0;
}

static int
set_boot_tries(struct cfg_ctx *x, const char *v, char *err, size_t errlen)
{
	unsigned long	n;

	if (parse_uint(v, 1, 20, &n) != 0) {
		errf(err, errlen, "'%." SHOWLEN "s' is not a number from 1 to"
		    " 20", v);
		return -1;
	}
	x->c.boot_tries = (int)n;
	return 0;
}

static int
set_tb_size(struct cfg_ctx *x, const char *v, char *err, size_t errlen)
{
	unsigned long	n;

	if (parse_uint(v, 0, 2048, &n) != 0) {
		errf(err, errlen, "'%." SHOWLEN "s' is not a size in MiB from 0"
		    " (QEMU's own) to 2048", v);
		return -1;
	}
	x->c.tb_size_mb = (unsigned)n;
	return 0;
}

static int
set_workers(struct cfg_ctx *x, const char *v, char *err, size_t errlen)
{
	unsigned long	n;

	if (strcmp(v, "auto") == 0) {
		x->c.workers = 0;
		return 0;
	}
	if (parse_uint(v, 1, 64, &n) != 0) {
		errf(err, errlen, "'%." SHOWLEN "s' is not auto or a number"
		    " from 1 to 64", v);
		return -1;
	}
	x->c.workers = (int)n;
	return 0;
}

static int
set_mode(struct cfg_ctx *x, const char *v, char *err, size_t errlen)
{
	if (strcmp(v, "user") == 0)
		x->c.net_mode = LABD_NET_USER;
	else if (strcmp(v, "bridge") == 0)
		x->c.net_mode = LABD_NET_BRIDGE;
	else {
		errf(err, errlen, "'%." SHOWLEN "s' is not user or bridge", v);
		return -1;
	}
	return 0;
}

static int
set_public_ips(struct cfg_ctx *x, const char *v, char *err, size_t errlen)
{
	char	 buf[512], *tok, *save = NULL, *ip;
	int	 n = 0, i;

	if (scpy(buf, v, sizeof(buf)) >= sizeof(buf)) {
		errf(err, errlen, "list is too long");
		return -1;
	}
	if (*trim(buf) == '\0') {
		errf(err, errlen, "needs at least one address");
		return -1;
	}
	/* strtok would skip an empty item; a doubled comma is a typo. */
	for (tok = buf; tok != NULL; tok = save) {
		if ((save = strchr(tok, ',')) != NULL)
			*save++ = '\0';
		ip = trim(tok);
		if (*ip == '\0') {
			errf(err, errlen, "empty item in the list");
			return -1;
		}
		if (n == LABD_MAX_PUBLIC_IPS) {
			errf(err, errlen, "at most %d addresses",
			    LABD_MAX_PUBLIC_IPS);
			return -1;
		}
		if (ipv4_check(ip, err, errlen) == -1)
			return -1;
		for (i = 0; i < n; i++)
			if (strcmp(x->c.public_ips[i], ip) == 0) {
				errf(err, errlen, "%s is listed twice", ip);
				return -1;
			}
		scpy(x->c.public_ips[n++], ip, sizeof(x->c.public_ips[0]));
	}
	x->c.npublic_ips = n;
	return 0;
}

static int
set_bridge(struct cfg_ctx *x, const char *v, char *err, size_t errlen)
{
	const char	*p;

	/* An interface name: IFNAMSIZ - 1 bytes, no '/', ':' or blanks. */
	for (p = v; *p != '\0' && is_name_char(*p); p++)
		;
	if (*v == '\0' || *p != '\0' || strlen(v) >= sizeof(x->c.bridge) ||
	    strcmp(v, ".") == 0 || strcmp(v, "..") == 0) {
		errf(err, errlen, "'%." SHOWLEN "s' is not an interface name"
		    " (1-15 of a-z, 0-9, '_', '-' and '.')", v);
		return -1;
	}
	scpy(x->c.bridge, v, sizeof(x->c.bridge));
	return 0;
}

static int
set_subnet(struct cfg_ctx *x, const char *v, char *err, size_t errlen)
{
	char		 ip[64], *slash;
	unsigned long	 plen;
	struct in_addr	 a;
	uint32_t	 h, mask;

	if (scpy(ip, v, sizeof(ip)) >= sizeof(ip) ||
	    (slash = strchr(ip, '/')) == NULL) {
		errf(err, errlen, "'%." SHOWLEN "s' is not ADDRESS/PREFIX, e.g."
		    " 10.77.0.0/16", v);
		return -1;
	}
	*slash++ = '\0';
	if (inet_pton(AF_INET, ip, &a) != 1) {
		errf(err, errlen, "'%s' is not an IPv4 address", ip);
		return -1;
	}
	/* Room for the gateway, the broadcast and at least two guests. */
	if (parse_uint(slash, 8, 29, &plen) != 0) {
		errf(err, errlen, "prefix /%." SHOWLEN "s is not from /8 to"
		    " /29", slash);
		return -1;
	}
	h = ntohl(a.s_addr);
	mask = 0xffffffffu << (32 - plen);
	if ((h & ~mask) != 0) {
		a.s_addr = htonl(h & mask);
		inet_ntop(AF_INET, &a, ip, sizeof(ip));
		errf(err, errlen, "%s has host bits set (did you mean %s/%lu?)",
		    v, ip, plen);
		return -1;
	}
	scpy(x->c.subnet, v, sizeof(x->c.subnet));
	x->c.subnet_base = h;
	x->c.subnet_plen = (int)plen;
	return 0;
}

/* A program name is looked up in PATH; a path with a '/' is resolved. */
static int
set_prog(struct cfg_ctx *x, const char *v, char *dst, size_t dstlen,
    char *err, size_t errlen)
{
	if (*v == '\0') {
		errf(err, errlen, "needs a program name or path");
		return -1;
	}
	if (strchr(v, '/') != NULL)
		return ini_set_path(x->base, v, dst, dstlen, err, errlen);
	if (scpy(dst, v, dstlen) >= dstlen) {
		errf(err, errlen, "name is too long");
		return -1;
	}
	return 0;
}

static int
set_qemu(struct cfg_ctx *x, const char *v, char *err, size_t errlen)
{
	return set_prog(x, v, x->c.qemu, sizeof(x->c.qemu), err, errlen);
}

static int
set_qemu_img(struct cfg_ctx *x, const char *v, char *err, size_t errlen)
{
	return set_prog(x, v, x->c.qemu_img, sizeof(x->c.qemu_img), err,
	    errlen);
}

static int
set_collector(struct cfg_ctx *x, const char *v, char *err, size_t errlen)
{
	return ini_set_path(x->base, v, x->c.collector,
	    sizeof(x->c.collector), err, errlen);
}

static int
set_accel(struct cfg_ctx *x, const char *v, char *err, size_t errlen)
{
	if (vmm_accel_parse(v, &x->c.accel) == -1) {
		errf(err, errlen, "'%." SHOWLEN "s' is not auto, kvm or tcg", v);
		return -1;
	}
	return 0;
}

static int
valid_service(const char *s)
{
	const char	*p;

	if (*s < 'a' || *s > 'z' || strlen(s) >= PF_NAMELEN)
		return 0;
	for (p = s; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')))
			return 0;
	return 1;
}

/* [publish] NAME = IP:BASE; the IP is checked against public_ips later. */
static int
set_publish(struct cfg_ctx *x, const char *name, const char *v, char *err,
    size_t errlen)
{
	struct pf_service	*s;
	char			 ip[PF_IPLEN];
	const char		*colon;
	unsigned long		 base;
	int			 rc;

	if (!valid_service(name)) {
		errf(err, errlen, "not a service name (use a-z and 0-9,"
		    " starting with a letter)");
		return -1;
	}
	if (x->c.npublish == LABD_MAX_PUBLISH) {
		errf(err, errlen, "at most %d services", LABD_MAX_PUBLISH);
		return -1;
	}
	if ((colon = strrchr(v, ':')) == NULL ||
	    (size_t)(colon - v) >= sizeof(ip)) {
		errf(err, errlen, "'%." SHOWLEN "s' is not LISTEN_IP:BASE_PORT,"
		    " e.g. 127.0.0.1:22000", v);
		return -1;
	}
	memcpy(ip, v, colon - v);
	ip[colon - v] = '\0';
	if (ipv4_check(ip, err, errlen) == -1)
		return -1;
	/* Slot 1 gets base + 1: a base of 65535 would leave no port. */
	if ((rc = parse_uint(colon + 1, 1, 65534, &base)) != 0) {
		if (rc == -2)
			errf(err, errlen, "port %." SHOWLEN "s is out of range"
			    " (1..65534; slot k listens on base + k)", colon + 1);
		else
			errf(err, errlen, "'%." SHOWLEN "s' is not a port"
			    " number", colon + 1);
		return -1;
	}
	s = &x->c.publish[x->c.npublish];
	scpy(s->name, name, sizeof(s->name));
	scpy(s->listen_ip, ip, sizeof(s->listen_ip));
	s->base = (uint16_t)base;
	x->pub_lines[x->c.npublish++] = x->line;
	return 0;
}

/* IP:PORT of [vnc]: a unicast IPv4 address of this host and a port. */
static int
ip_port(const char *v, char *ip, size_t iplen, uint16_t *port, char *err,
    size_t errlen)
{
	const char	*colon;
	unsigned long	 n;
	int		 rc;

	if ((colon = strrchr(v, ':')) == NULL || (size_t)(colon - v) >= iplen) {
		errf(err, errlen, "'%." SHOWLEN "s' is not IP:PORT, e.g."
		    " 127.0.0.1:5900", v);
		return -1;
	}
	memcpy(ip, v, colon - v);
	ip[colon - v] = '\0';
	if (ipv4_check(ip, err, errlen) == -1)
		return -1;
	if ((rc = parse_uint(colon + 1, 1, 65535, &n)) != 0) {
		if (rc == -2)
			errf(err, errlen, "port %." SHOWLEN "s is out of range"
			    " (1..65535)", colon + 1);
		else
			errf(err, errlen, "'%." SHOWLEN "s' is not a port"
			    " number", colon + 1);
		return -1;
	}
	*port = (uint16_t)n;
	return 0;
}

static int
set_vnc_listen(struct cfg_ctx *x, const char *v, char *err, size_t errlen)
{
	return ip_port(v, x->c.vnc_ip, sizeof(x->c.vnc_ip), &x->c.vnc_port,
	    err, errlen);
}

static int
set_vnc_web(struct cfg_ctx *x, const char *v, char *err, size_t errlen)
{
	x->vnc_web_line = x->line;
	return ip_port(v, x->c.vnc_web_ip, sizeof(x->c.vnc_web_ip),
	    &x->c.vnc_web_port, err, errlen);
}

static int
set_vnc_password_file(struct cfg_ctx *x, const char *v, char *err,
    size_t errlen)
{
	return ini_set_path(x->base, v, x->c.vnc_password_file,
	    sizeof(x->c.vnc_password_file), err, errlen);
}

/* [gateway] listen = IP:PORT; the IP is checked against public_ips later. */
static int
set_gw_listen(struct cfg_ctx *x, const char *v, char *err, size_t errlen)
{
	x->gw_line = x->line;
	return ip_port(v, x->c.gw_ip, sizeof(x->c.gw_ip), &x->c.gw_port, err,
	    errlen);
}

static int
set_gw_host_key(struct cfg_ctx *x, const char *v, char *err, size_t errlen)
{
	return ini_set_path(x->base, v, x->c.gw_host_key,
	    sizeof(x->c.gw_host_key), err, errlen);
}

static int
set_gw_sessions(struct cfg_ctx *x, const char *v, char *err, size_t errlen)
{
	unsigned long	n;

	if (parse_uint(v, 1, 1000, &n) != 0) {
		errf(err, errlen, "'%." SHOWLEN "s' is not a number from 1 to"
		    " 1000", v);
		return -1;
	}
	x->c.gw_sessions = (int)n;
	return 0;
}

static int
set_gw_failures(struct cfg_ctx *x, const char *v, char *err, size_t errlen)
{
	unsigned long	n;

	if (parse_uint(v, 1, 64, &n) != 0) {
		errf(err, errlen, "'%." SHOWLEN "s' is not a number from 1 to"
		    " 64", v);
		return -1;
	}
	x->c.gw_failures = (int)n;
	return 0;
}

static size_t
edit_distance(const char *a, const char *b)
{
	size_t	la = strlen(a), lb = strlen(b), i, j, d[33], prev, t;

	if (la > 32 || lb > 32)
		return 99;
	for (j = 0; j <= lb; j++)
		d[j] = j;
	for (i = 1; i <= la; i++) {
		prev = d[0];
		d[0] = i;
		for (j = 1; j <= lb; j++) {
			t = d[j];
			d[j] = prev + (a[i - 1] != b[j - 1]);
			if (d[j - 1] + 1 < d[j])
				d[j] = d[j - 1] + 1;
			if (t + 1 < d[j])
				d[j] = t + 1;
			prev = t;
		}
	}
	return d[lb];
}

static const struct cfg_key cfg_keys[] = {
	{ "labd", "state_dir", set_state_dir,
	  "database, templates and VM disks (relative: to this file)" },
	{ "labd", "run_dir", set_run_dir,
	  "sockets and pid files (relative: to this file)" },
	{ "labd", "socket", set_socket, "control socket, default run_dir/labd.sock" },
	{ "labd", "group", set_group, "group of the admin role, which may run every command; empty: none" },
	{ "labd", "ta_group", set_ta_group,
	  "group of the ta role, which may list, reset, suspend and resume; empty (default): none" },
	{ "labd", "workers", set_workers, "auto | 1..64: VM operations run at once (auto: 4 a core, 4 to 32)" },
	{ "labd", "keep_removed", set_keep_removed,
	  "how long a removed or replaced disk is kept for labctl recover: 24h, 7d, off" },
	{ "network", "mode", set_mode, "user | bridge" },
	{ "network", "public_ips", set_public_ips,
	  "one or two IPv4 addresses of this host, comma-separated" },
	{ "network", "bridge", set_bridge, "bridge interface (bridge mode)" },
	{ "network", "subnet", set_subnet, "guest subnet (bridge mode)" },
	{ "vmm", "qemu", set_qemu, "QEMU system emulator" },
	{ "vmm", "qemu_img", set_qemu_img, "qemu-img" },
	{ "vmm", "collector", set_collector,
	  "folder of collector-vmlinuz and collector-initrd (make collector), to collect from stopped VMs; unset: not done" },
	{ "vmm", "accel", set_accel, "auto | kvm | tcg" },
	{ "vmm", "uid_base", set_uid_base,
	  "first uid of the range QEMU runs as when labd is root: VM n is uid_base + n" },
	{ "vmm", "ksm", set_ksm, "auto | on | off: merge the guests' identical pages (auto: on as root)" },
	{ "vmm", "ksm_pages_to_scan", set_ksm_pages_to_scan, "pages KSM looks at each 20 ms once labd turns it on (0: the host's)" },
	{ "vmm", "tb_size", set_tb_size,
	  "MiB of translated code each QEMU keeps under TCG (0: QEMU's own, 1 GiB at most)" },
	{ "vmm", "max_booting", set_max_booting,
	  "auto | 1..1024: VMs booting at once, the others queued (auto: 1 a core under TCG, 2 under KVM)" },
	{ "vmm", "boot_timeout", set_boot_timeout,
	  "seconds a boot may take to ready before it is tried again, 1..86400" },
	{ "vmm", "boot_tries", set_boot_tries,
	  "boots of a VM that panics or times out before it is failed, 1..20" },
	{ "vmm", "instant_clone", set_instant_clone,
	  "on | off: fresh VMs of a kernel-booted template start from one saved boot of their shape (the golden) instead of booting each (default on)" },
	{ "vnc", "listen", set_vnc_listen, "IP:PORT of the VNC server (the wall, each student's screen); unset: off" },
	{ "vnc", "web", set_vnc_web, "IP:PORT serving noVNC over HTTP and websockets; optional" },
	{ "vnc", "password_file", set_vnc_password_file,
	  "file whose first line is the instructor's VNC password (relative: to this file)" },
	{ "gateway", "listen", set_gw_listen,
	  "IP:PORT of the SSH gateway, IP one of public_ips; unset: no gateway" },
	{ "gateway", "host_key", set_gw_host_key,
	  "the gateway's host key, default state_dir/gateway_ed25519 (made on first start)" },
	{ "gateway", "sessions", set_gw_sessions,
	  "gateway sessions one student may hold at once, 1..1000 (default 10)" },
	{ "gateway", "failures", set_gw_failures,
	  "failed logins one address may make a minute before it is refused, 1..64 (default 10)" },
};
#define NKEYS	(sizeof(cfg_keys) / sizeof(cfg_keys[0]))

static int
known_section(const char *s)
{
	return strcmp(s, "labd") == 0 || strcmp(s, "network") == 0 ||
	    strcmp(s, "publish") == 0 || strcmp(s, "vmm") == 0 ||
	    strcmp(s, "vnc") == 0 ||
	    strcmp(s, "gateway") == 0;
}

static int
cfg_line(void *arg, const char *section, const char *key, const char *value,
    char *err, size_t errlen)
{
	struct cfg_ctx	*x = arg;
	const char	*near = NULL;
	char		 msg[LABD_ERRLEN];
	size_t		 i, len;

	if (key == NULL) {
		if (!known_section(section)) {
			errf(err, errlen, "unknown section [%s] (sections are"
			    " [labd], [network], [publish], [vmm], [vnc] and [gateway])",
			    section);
			return -1;
		}
		if (strcmp(section, "vnc") == 0 && x->vnc_line == 0)
			x->vnc_line = x->line;
		/* The file's [publish] replaces the default ssh entry. */
		if (strcmp(section, "publish") == 0 && x->publish_line == 0) {
			x->publish_line = x->line;
			x->c.npublish = 0;
		}
		return 0;
	}
	if (!known_section(section))
		return 0;	/* already refused at its header */
	if (strcmp(section, "publish") == 0) {
		if (set_publish(x, key, value, msg, sizeof(msg)) == -1)
			goto fail;
		return 0;
	}
	for (i = 0; i < NKEYS; i++) {
		if (strcmp(cfg_keys[i].section, section) != 0)
			continue;
		if (strcmp(cfg_keys[i].key, key) == 0) {
			if (cfg_keys[i].set(x, value, msg, sizeof(msg)) == -1)
				goto fail;
			return 0;
		}
		if (edit_distance(cfg_keys[i].key, key) <= 2)
			near = cfg_keys[i].key;
	}
	if (near != NULL) {
		errf(err, errlen, "unknown key [%s] %s (did you mean %s?)",
		    section, key, near);
		return -1;
	}
	for (i = 0, msg[0] = '\0'; i < NKEYS; i++) {
		if (strcmp(cfg_keys[i].section, section) != 0)
			continue;
		len = strlen(msg);
		snprintf(msg + len, sizeof(msg) - len, "%s%s", len ? ", " : "",
		    cfg_keys[i].key);
	}
	errf(err, errlen, "unknown key [%s] %s (keys of [%s] are %s)", section,
	    key, section, msg);
	return -1;
fail:
	errf(err, errlen, "[%s] %s: %s", section, key, msg);
	return -1;
}

/*
 * [vnc]: a server needs the instructor's password (VNC authentication is
 * the only kind every viewer speaks); web and password_file without
 * listen would be a server half set up.
 */
static int
cfg_finish_vnc(struct cfg_ctx *x, const char *fname, char *err,
    size_t errlen)
{
	struct labd_config	*c = &x->c;

	if (x->vnc_line == 0)
		return 0;
	if (c->vnc_port == 0) {
		if (c->vnc_web_port != 0 || c->vnc_password_file[0] != '\0') {
			errf(err, errlen, "%s line %d: [vnc] has no listen ="
			    " IP:PORT (web and password_file need it)", fname,
			    x->vnc_line);
			return -1;
		}
		return 0;
	}
	if (c->vnc_password_file[0] == '\0') {
		errf(err, errlen, "%s line %d: [vnc] needs password_file, a"
		    " file whose first line is the instructor's password",
		    fname, x->vnc_line);
		return -1;
	}
	if (c->vnc_web_port == c->vnc_port &&
	    strcmp(c->vnc_web_ip, c->vnc_ip) == 0) {
		errf(err, errlen, "%s line %d: [vnc] web: %s:%u is already"
		    " [vnc] listen", fname, x->vnc_web_line, c->vnc_web_ip,
		    c->vnc_web_port);
		return -1;
	}
	return 0;
}

/* Checks that need the whole file: [publish] against [network]. */
static int
cfg_finish(struct cfg_ctx *x, const char *fname, char *err, size_t errlen)
{
	struct labd_config	*c = &x->c;
	struct pf_service	*s, *t;
	struct sockaddr_un	 sun;
	char			 ips[LABD_MAX_PUBLIC_IPS * (PF_IPLEN + 2)] = "";
	size_t			 len;
	int			 i, j, found;

	for (i = 0; i < c->npublic_ips; i++) {
		len = strlen(ips);
		snprintf(ips + len, sizeof(ips) - len, "%s%s", i ? ", " : "",
		    c->public_ips[i]);
	}
	if (x->publish_line == 0) {
		/* No [publish]: ssh follows the first public IP. */
		scpy(c->publish[0].listen_ip, c->public_ips[0],
		    sizeof(c->publish[0].listen_ip));
	} else if (c->npublish == 0) {
		errf(err, errlen, "%s line %d: [publish] lists no service; guests"
		    " would be unreachable (e.g. ssh = %s:22000)", fname,
		    x->publish_line, c->public_ips[0]);
		return -1;
	}
	for (i = 0; x->publish_line != 0 && i < c->npublish; i++) {
		s = &c->publish[i];
		for (j = 0, found = 0; j < c->npublic_ips; j++)
			found |= strcmp(s->listen_ip, c->public_ips[j]) == 0;
		if (!found) {
			errf(err, errlen, "%s line %d: [publish] %s: %s is not one"
			    " of [network] public_ips (%s)", fname,
			    x->pub_lines[i], s->name, s->listen_ip, ips);
			return -1;
		}
		for (j = 0; j < i; j++) {
			t = &c->publish[j];
			if (strcmp(t->listen_ip, s->listen_ip) == 0 &&
			    t->base == s->base) {
				errf(err, errlen, "%s line %d: [publish] %s:"
				    " %s:%u is already the base of %s (line %d)",
				    fname, x->pub_lines[i], s->name,
				    s->listen_ip, s->base, t->name,
				    x->pub_lines[j]);
				return -1;
			}
		}
	}
	if (c->gw_port != 0) {
		for (j = 0, found = 0; j < c->npublic_ips; j++)
			found |= strcmp(c->gw_ip, c->public_ips[j]) == 0;
		if (!found) {
			errf(err, errlen, "%s line %d: [gateway] listen: %s is not"
			    " one of [network] public_ips (%s)", fname,
			    x->gw_line, c->gw_ip, ips);
			return -1;
		}
		for (i = 0; i < c->npublish; i++) {
			s = &c->publish[i];
			if (strcmp(s->listen_ip, c->gw_ip) == 0 &&
			    c->gw_port == s->base) {
				errf(err, errlen, "%s line %d: [gateway] listen:"
				    " %s:%u is the base of [publish] %s",
				    fname, x->gw_line, c->gw_ip, c->gw_port,
				    s->name);
				return -1;
			}
		}
	}
	if (c->ta_group[0] != '\0' && strcmp(c->ta_group, c->group) == 0) {
		errf(err, errlen, "%s line %d: [labd] ta_group: %s is already"
		    " the group of the admin role ([labd] group)", fname,
		    x->ta_group_line, c->ta_group);
		return -1;
	}
	if (cfg_finish_vnc(x, fname, err, errlen) == -1)
		return -1;
	if (x->socket_line == 0)
		snprintf(c->socket, sizeof(c->socket), "%s/labd.sock",
		    c->run_dir);
	if (strlen(c->socket) >= sizeof(sun.sun_path)) {
		if (x->socket_line != 0)
			errf(err, errlen, "%s line %d: [labd] socket: %zu bytes,"
			    " a UNIX socket path takes at most %zu", fname,
			    x->socket_line, strlen(c->socket),
			    sizeof(sun.sun_path) - 1);
		else
			errf(err, errlen, "%s line %d: [labd] run_dir: the"
			    " socket in it would be a %zu-byte path, a UNIX"
			    " socket takes at most %zu; set [labd] socket",
			    fname, x->run_dir_line, strlen(c->socket),
			    sizeof(sun.sun_path) - 1);
		return -1;
	}
	return 0;
}

int
config_load(const char *path, struct labd_config *cfg, char *err,
    size_t errlen)
{
	struct cfg_ctx	*x;
	int		 rc = -1;

	x = xcalloc(1, sizeof(*x));
	x->c = *cfg;
	if (ini_load(path, LABD_CONFIG_MAX, x->base, cfg_line, x, &x->line,
	    err, errlen) == -1)
		goto fail;
	if (scpy(x->c.path, path, sizeof(x->c.path)) >= sizeof(x->c.path)) {
		errf(err, errlen, "%s: path is too long", path);
		goto fail;
	}
	if (cfg_finish(x, path, err, errlen) == -1)
		goto fail;
	/* All or nothing: the caller's config changes only on success. */
	*cfg = x->c;
	rc = 0;
fail:
	/* A value quoted back with "%.64s" may end inside a character. */
	if (rc == -1)
		utf8_scrub(err);
	free(x);
	return rc;
}
