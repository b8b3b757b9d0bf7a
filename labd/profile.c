/* SPDX-License-Identifier: ISC */
/*
 * profile.c - a template profile: the ini file that names a template's
 * disk and hardware.  It is read when the template is imported, so every
 * file it names must be there and readable now, and is made absolute
 * against the profile's own folder: the profile travels with its disk.
 * It is read with iniparser through proto/ini.c, as labd.ini is, and its
 * errors name the file, the line and the key as labd.ini's do.  A profile
 * a client names is read from the descriptor opened with the client's
 * rights (caller.c), and so is each file it names: an error never quotes
 * a line of a file the client could not have read.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "labd/labd.h"
#include "proto/client.h"

#define PROFILE_MAXFILE		(64 * 1024)
#define PROFILE_MIN_MB		32
#define PROFILE_MAX_MB		(64 * 1024)
#define PROFILE_MAX_VCPUS	64
#define SHOWLEN			"64"

struct prof_ctx {
	struct template_profile	 p;
	profile_open_fn		 open;
	void			*arg;
	char			 base[PATH_MAX];
	int			 line;
	int			 section_seen;
	int			 initrd_line;
	int			 append_line;
};

struct prof_key {
	const char	*key;
	int		(*set)(struct prof_ctx *, const char *, char *, size_t);
	const char	*help;
};

void
profile_defaults(struct template_profile *p)
{
	memset(p, 0, sizeof(*p));
	snprintf(p->firmware, sizeof(p->firmware), "bios");
	/* Enough for a stock cloud image imported as a bare disk. */
	p->memory_mb = 512;
	p->vcpus = 1;
	snprintf(p->guest_names[0], sizeof(p->guest_names[0]), "ssh");
	p->guest_ports[0] = 22;
	p->nguest = 1;
}

static int
parse_ulong(const char *s, const char **end, unsigned long *out)
{
	unsigned long	v = 0;
	const char	*p;

	for (p = s; *p >= '0' && *p <= '9'; p++) {
		if (v > 10000000)
			v = 10000001;	/* saturate: only ranges matter */
		else
			v = v * 10 + (*p - '0');
	}
	*end = p;
	*out = v;
	return p == s ? -1 : 0;
}

/*
 * A file the template needs: resolved, and it must open for whoever asked
 * (x->open keeps it), or for us.
 */
static int
set_file(struct prof_ctx *x, const char *key, const char *v, char *dst,
    size_t dstlen, char *err, size_t errlen)
{
	int	fd;

	if (ini_set_path(x->base, v, dst, dstlen, err, errlen) == -1)
		return -1;
	if (x->open != NULL)
		return x->open(x->arg, key, dst, err, errlen);
	if ((fd = caller_open(NULL, dst, err, errlen)) == -1)
		return -1;
	close(fd);
	return 0;
}

static int
set_disk(struct prof_ctx *x, const char *v, char *err, size_t errlen)
{
	return set_file(x, "disk", v, x->p.disk, sizeof(x->p.disk), err,
	    errlen);
}

static int
set_kernel(struct prof_ctx *x, const char *v, char *err, size_t errlen)
{
	return set_file(x, "kernel", v, x->p.kernel, sizeof(x->p.kernel), err,
	    errlen);
}

static int
set_initrd(struct prof_ctx *x, const char *v, char *err, size_t errlen)
{
	x->initrd_line = x->line;
	return set_file(x, "initrd", v, x->p.initrd, sizeof(x->p.initrd), err,
	    errlen);
}

/* Free text that ends up in one QEMU argument or a log line. */
static int
text_ok(const char *v, size_t max, char *err, size_t errlen)
{
	const unsigned char	*p;

	if (strlen(v) > max) {
		errf(err, errlen, "%zu bytes, at most %zu", strlen(v), max);
		return -1;
	}
	for (p = (const unsigned char *)v; *p != '\0'; p++)
		if (*p < 0x20 || *p == 0x7f) {
			errf(err, errlen, "holds a control character");
			return -1;
		}
	return 0;
}

static int
set_append(struct prof_ctx *x, const char *v, char *err, size_t errlen)
{
	if (text_ok(v, sizeof(x->p.append) - 1, err, errlen) == -1)
		return -1;
	x->append_line = x->line;
	snprintf(x->p.append, sizeof(x->p.append), "%s", v);
	return 0;
}

static int
set_ready_line(struct prof_ctx *x, const char *v, char *err, size_t errlen)
{
	if (text_ok(v, sizeof(x->p.ready_line) - 1, err, errlen) == -1)
		return -1;
	snprintf(x->p.ready_line, sizeof(x->p.ready_line), "%s", v);
	return 0;
}

const char *
profile_clone_name(int mode)
{
	return mode == TPL_CLONE_YES ? "yes" : mode == TPL_CLONE_NO ? "no" :
	    "auto";
}

int
profile_clone_parse(const char *s)
{
	int	mode;

	for (mode = TPL_CLONE_AUTO; mode <= TPL_CLONE_NO; mode++)
		if (strcmp(s, profile_clone_name(mode)) == 0)
			return mode;
	return -1;
}

static int
set_instant_clone(struct prof_ctx *x, const char *v, char *err,
    size_t errlen)
{
	int	mode;

	if ((mode = profile_clone_parse(v)) == -1) {
		errf(err, errlen, "'%." SHOWLEN "s' is not auto, yes or no", v);
		return -1;
	}
	x->p.instant_clone = mode;
	return 0;
}

static int
set_firmware(struct prof_ctx *x, const char *v, char *err, size_t errlen)
{
	if (strcmp(v, "bios") != 0 && strcmp(v, "uefi") != 0) {
		errf(err, errlen, "'%." SHOWLEN "s' is not bios or uefi", v);
		return -1;
	}
	snprintf(x->p.firmware, sizeof(x->p.firmware), "%s", v);
	return 0;
}

/* 512 and 512M are MiB, 2G is GiB; MB/MiB, GB/GiB and lower case too. */
static int
set_memory(struct prof_ctx *x, const char *v, char *err, size_t errlen)
{
	static const struct {
		const char	*suffix;
		unsigned long	 mult;
	} units[] = {
		{ "", 1 }, { "m", 1 }, { "mb", 1 }, { "mib", 1 },
		{ "g", 1024 }, { "gb", 1024 }, { "gib", 1024 },
	};
	const char	*end;
	char		 suf[8];
	unsigned long	 n, mb = 0;
	size_t		 i, j;

	if (parse_ulong(v, &end, &n) == -1 || strlen(end) >= sizeof(suf))
		goto bad;
	while (*end == ' ')
		end++;
	for (j = 0; end[j] != '\0'; j++)
		suf[j] = end[j] >= 'A' && end[j] <= 'Z' ? end[j] + 32 : end[j];
	suf[j] = '\0';
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (strcmp(suf, units[i].suffix) == 0)
			break;
	if (i == sizeof(units) / sizeof(units[0]))
		goto bad;
	mb = n > 10000000 ? ULONG_MAX : n * units[i].mult;
	if (mb < PROFILE_MIN_MB || mb > PROFILE_MAX_MB) {
		errf(err, errlen, "%." SHOWLEN "s is out of range (32M..64G)",
		    v);
		return -1;
	}
	x->p.memory_mb = (unsigned)mb;
	return 0;
bad:
	errf(err, errlen, "'%." SHOWLEN "s' is not a size (e.g. 128M, 1G, or"
	    " 512 for MiB)", v);
	return -1;
}

static int
set_vcpus(struct prof_ctx *x, const char *v, char *err, size_t errlen)
{
	const char	*end;
	unsigned long	 n;

	if (parse_ulong(v, &end, &n) == -1 || *end != '\0' || n < 1 ||
	    n > PROFILE_MAX_VCPUS) {
		errf(err, errlen, "'%." SHOWLEN "s' is not a number from 1 to"
		    " %d", v, PROFILE_MAX_VCPUS);
		return -1;
	}
	x->p.vcpus = (unsigned)n;
	return 0;
}

/* "ssh:22, http:80": the names must match labd.ini's [publish] entries. */
static int
set_publish(struct prof_ctx *x, const char *v, char *err, size_t errlen)
{
	struct template_profile	*p = &x->p;
	char			 buf[512], *tok, *next, *colon, *s, *e;
	const char		*end;
	unsigned long		 port;
	size_t			 n = 0, i;

	if (snprintf(buf, sizeof(buf), "%s", v) >= (int)sizeof(buf)) {
		errf(err, errlen, "list is too long");
		return -1;
	}
	for (tok = buf; tok != NULL; tok = next) {
		if ((next = strchr(tok, ',')) != NULL)
			*next++ = '\0';
		for (s = tok; *s == ' ' || *s == '\t'; s++)
			;
		e = s + strlen(s);
		while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
			*--e = '\0';
		if (*s == '\0') {
			errf(err, errlen, *v == '\0' ? "needs at least one"
			    " service, e.g. ssh:22" : "empty item in the list");
			return -1;
		}
		if ((colon = strchr(s, ':')) == NULL) {
			errf(err, errlen, "'%." SHOWLEN "s' is not NAME:PORT,"
			    " e.g. ssh:22", s);
			return -1;
		}
		*colon = '\0';
		for (e = s; (*e >= 'a' && *e <= 'z') ||
		    (e > s && *e >= '0' && *e <= '9'); e++)
			;
		if (*s == '\0' || *e != '\0' || e - s >= PF_NAMELEN) {
			errf(err, errlen, "service name '%." SHOWLEN "s': use"
			    " a-z and 0-9, starting with a letter", s);
			return -1;
		}
		if (parse_ulong(colon + 1, &end, &port) == -1 || *end != '\0' ||
		    port < 1 || port > 65535) {
			errf(err, errlen, "%s: '%." SHOWLEN "s' is not a port"
			    " from 1 to 65535", s, colon + 1);
			return -1;
		}
		for (i = 0; i < n; i++)
			if (strcmp(p->guest_names[i], s) == 0) {
				errf(err, errlen, "%s is listed twice", s);
				return -1;
			}
		if (n == LABD_MAX_GUEST_PORTS) {
			errf(err, errlen, "at most %d services",
			    LABD_MAX_GUEST_PORTS);
			return -1;
		}
		snprintf(p->guest_names[n], sizeof(p->guest_names[n]), "%s", s);
		p->guest_ports[n++] = (uint16_t)port;
	}
	p->nguest = n;
	return 0;
}

static const struct prof_key prof_keys[] = {
	{ "disk", set_disk, "the disk image (required; relative: to this file)" },
	{ "kernel", set_kernel, "kernel for direct boot" },
	{ "initrd", set_initrd, "initrd for direct boot (needs kernel)" },
	{ "append", set_append, "kernel command line (needs kernel)" },
	{ "firmware", set_firmware, "bios | uefi" },
	{ "memory", set_memory, "128M, 1G or 512 (MiB); 32M..64G" },
	{ "vcpus", set_vcpus, "1..64" },
	{ "publish", set_publish, "guest services, e.g. ssh:22, http:80" },
	{ "ready_line", set_ready_line, "serial console line that means booted" },
	{ "instant_clone", set_instant_clone,
	    "auto | yes (the guest has labd's golden point) | no" },
};
#define NKEYS	(sizeof(prof_keys) / sizeof(prof_keys[0]))

static int
prof_line(void *arg, const char *section, const char *key, const char *value,
    char *err, size_t errlen)
{
	struct prof_ctx	*x = arg;
	char		 msg[LABD_ERRLEN], keys[256] = "";
	size_t		 i, len;

	if (strcmp(section, "template") != 0) {
		if (key != NULL)
			return 0;	/* refused at its header */
		errf(err, errlen, "unknown section [%s] (a profile has only"
		    " [template])", section);
		return -1;
	}
	if (key == NULL) {
		x->section_seen = 1;
		return 0;
	}
	for (i = 0; i < NKEYS; i++)
		if (strcmp(prof_keys[i].key, key) == 0)
			break;
	if (i == NKEYS) {
		for (i = 0; i < NKEYS; i++) {
			len = strlen(keys);
			snprintf(keys + len, sizeof(keys) - len, "%s%s",
			    i ? ", " : "", prof_keys[i].key);
		}
		errf(err, errlen, "unknown key [template] %s (keys are %s)", key,
		    keys);
		return -1;
	}
	if (prof_keys[i].set(x, value, msg, sizeof(msg)) == -1) {
		errf(err, errlen, "[template] %s: %s", key, msg);
		return -1;
	}
	return 0;
}

/* Relative paths in a profile are relative to the folder it is in. */
static int
profile_base(int fd, const char *path, char *base, char *err, size_t errlen)
{
	char	link[64], real[PATH_MAX], *slash;
	ssize_t	n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	if ((n = readlink(link, real, sizeof(real) - 1)) == -1 ||
	    real[0] != '/') {
		errf(err, errlen, "%s: cannot resolve its folder: %s", path,
		    n == -1 ? strerror(errno) : "not a file of this host");
		return -1;
	}
	real[n] = '\0';
	slash = strrchr(real, '/');
	slash[slash == real ? 1 : 0] = '\0';
	snprintf(base, PATH_MAX, "%s", real);
	return 0;
}

int
profile_read(int fd, const char *path, struct template_profile *out,
    profile_open_fn open_fn, void *arg, char *err, size_t errlen)
{
	struct prof_ctx	*x;
	int		 rc = -1;

	x = xcalloc(1, sizeof(*x));
	profile_defaults(&x->p);
	x->open = open_fn;
	x->arg = arg;
	if (profile_base(fd, path, x->base, err, errlen) == -1 ||
	    ini_load_fd(fd, path, PROFILE_MAXFILE, prof_line, x, &x->line,
	    err, errlen) == -1)
		goto fail;
	if (snprintf(x->p.path, sizeof(x->p.path), "%s", path) >=
	    (int)sizeof(x->p.path)) {
		errf(err, errlen, "%s: path is too long", path);
		goto fail;
	}
	if (!x->section_seen) {
		errf(err, errlen, "%s: no [template] section", path);
		goto fail;
	}
	if (x->p.disk[0] == '\0') {
		errf(err, errlen, "%s: [template] disk is required (the"
		    " template's disk image)", path);
		goto fail;
	}
	/* Without a kernel QEMU boots the disk and would drop these. */
	if (x->p.kernel[0] == '\0' && x->initrd_line != 0) {
		errf(err, errlen, "%s line %d: [template] initrd: needs a kernel"
		    " (direct kernel boot)", path, x->initrd_line);
		goto fail;
	}
	if (x->p.kernel[0] == '\0' && x->append_line != 0) {
		errf(err, errlen, "%s line %d: [template] append: needs a kernel"
		    " (direct kernel boot)", path, x->append_line);
		goto fail;
	}
	*out = x->p;
	rc = 0;
fail:
	/* The error goes out in a JSON reply: UTF-8 only. */
	if (rc == -1)
		utf8_scrub(err);
	free(x);
	return rc;
}

int
profile_load(const char *path, struct template_profile *out, char *err,
    size_t errlen)
{
	int	fd, rc;

	if ((fd = caller_open(NULL, path, err, errlen)) == -1) {
		utf8_scrub(err);
		return -1;
	}
	rc = profile_read(fd, path, out, NULL, NULL, err, errlen);
	close(fd);
	return rc;
}
