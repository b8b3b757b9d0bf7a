/* SPDX-License-Identifier: ISC */
/*
 * ova.c - .ova archives, the format VMware and VirtualBox export: a tar
 * holding an OVF descriptor (XML, first by the spec), the disks it names
 * (usually streamOptimized vmdk) and maybe a manifest of checksums.
 *
 * Everything in an archive comes from outside, so the reader trusts
 * nothing: each header's checksum is checked, each member must lie inside
 * the file, and names must be plain file names.  An OVA has no folders, so
 * a "/" or a ".." in a name can only be an attempt to write elsewhere; we
 * refuse the archive rather than guess.  Only two members are ever
 * written out, the descriptor and its first disk, under names checked
 * first, and only into the caller's folder.
 *
 * The OVF is read by a small tolerant XML scan, not a full parser: labd
 * needs four facts (memory, vCPUs, firmware, the first disk's file) and
 * must not choke on the vendor sections around them.  It still insists
 * on well-formed nesting, so a truncated or garbled descriptor is an
 * error that names the file and the line rather than a template with
 * made-up hardware.
 */
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "vmm/vmm.h"
#include "vmm/vmm_int.h"

#define TAR_BLOCK	512
#define TAR_MAX_MEMBERS	256
#define TAR_MAX_META	(64 * 1024)	/* a pax header or a GNU long name */
#define OVA_MAX_OVF	(4 * 1024 * 1024)
#define OVA_MAX_MF	(64 * 1024)
/* The bounds a template profile has too (profile.c). */
#define OVF_MIN_MB	32
#define OVF_MAX_MB	(64 * 1024)
#define OVF_MAX_VCPUS	64

#define OVF_DEPTH	64
#define OVF_QNAMELEN	64
#define OVF_MAXFILES	64
#define OVF_MAXITEMS	64
#define OVF_MAXATTRS	32
#define OVF_VALUELEN	512

static void errf(char *, size_t, const char *, ...)
    __attribute__((format(printf, 3, 4)));

static void
errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* --- the tar reader --------------------------------------------------- */

static ssize_t
pread_full(int fd, void *buf, size_t len, uint64_t off)
{
	size_t	got = 0;
	ssize_t	n;

	while (got < len) {
		n = pread(fd, (char *)buf + got, len - got, (off_t)(off + got));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -1;
		if (n == 0) {
			errno = 0;	/* the end of the file, not an error */
			break;
		}
		got += n;
	}
	return (ssize_t)got;
}

/* A name as an error message may show it: control bytes become '?'. */
static const char *
shown(const char *name, char *buf, size_t len)
{
	size_t	i;

	snprintf(buf, len, "%s", name);
	for (i = 0; buf[i] != '\0'; i++)
		if ((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f)
			buf[i] = '?';
	return buf;
}

/*
 * A numeric header field: octal digits padded with spaces or NULs, or
 * (GNU and star, for members past 8 GiB) base 256 flagged by the high
 * bit of the first byte.
 */
static int
tar_number(const unsigned char *f, size_t len, uint64_t *out)
{
	uint64_t	v = 0;
	size_t		i = 0;

	if (f[0] & 0x80) {
		if (f[0] != 0x80)
			return -1;	/* negative: no size or sum is */
		for (i = 1; i < len; i++) {
			if (v >> 55)
				return -1;
			v = v << 8 | f[i];
		}
		*out = v;
		return 0;
	}
	while (i < len && f[i] == ' ')
		i++;
	for (; i < len && f[i] >= '0' && f[i] <= '7'; i++) {
		if (v >> 60)
			return -1;
		v = v << 3 | (uint64_t)(f[i] - '0');
	}
	for (; i < len; i++)
		if (f[i] != '\0' && f[i] != ' ')
			return -1;
	*out = v;
	return 0;
}

/* Old tars summed signed chars; both sums are accepted, as tar does. */
static int
tar_checksum_ok(const unsigned char *h)
{
	uint64_t	want;
	unsigned long	usum = 0;
	long		ssum = 0;
	int		i;

	if (tar_number(h + 148, 8, &want) == -1)
		return 0;
	for (i = 0; i < TAR_BLOCK; i++) {
		unsigned char	c = i >= 148 && i < 156 ? ' ' : h[i];

		usum += c;
		ssum += (signed char)c;
	}
	return want == usum || (long long)want == (long long)ssum;
}

static int
block_is_zero(const unsigned char *h)
{
	int	i;

	for (i = 0; i < TAR_BLOCK; i++)
		if (h[i] != 0)
			return 0;
	return 1;
}

/* NULL when name is a plain file name, else why it is not. */
static const char *
tar_name_bad(const char *name)
{
	const char	*p;

	if (name[0] == '\0')
		return "has an empty name";
	if (strchr(name, '/') != NULL || strcmp(name, ".") == 0 ||
	    strcmp(name, "..") == 0)
		return "would escape: an OVA holds plain file names, not paths";
	for (p = name; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return "has control characters in its name";
	return NULL;
}

/* "./x.ovf" is what tar -C dir . writes: the same plain name. */
static const char *
strip_dot_slash(const char *name)
{
	while (name[0] == '.' && name[1] == '/')
		name += 2;
	return name;
}

/* Records "LEN key=value\n" of a pax header: path and size matter. */
static int
pax_parse(const char *buf, size_t len, char *path, size_t pathlen,
    uint64_t *size, int *have_size, const char *fname, uint64_t off,
    char *err, size_t errlen)
{
	size_t		 pos = 0, reclen, klen;
	const char	*rec, *eq, *val;
	char		*endp, num[32];

	while (pos < len) {
		rec = buf + pos;
		/* "LEN key=value\n": LEN counts the whole record. */
		if (*rec < '0' || *rec > '9')
			goto bad;	/* strtoul would skip blanks, signs */
		reclen = strtoul(rec, &endp, 10);
		if (*endp != ' ' || reclen > len - pos ||
		    (size_t)(endp - rec) + 1 >= reclen ||
		    rec[reclen - 1] != '\n')
			goto bad;
		eq = memchr(endp + 1, '=', rec + reclen - (endp + 1));
		if (eq == NULL)
			goto bad;
		klen = eq - (endp + 1);
		val = eq + 1;
		if (klen == 4 && memcmp(endp + 1, "path", 4) == 0) {
			if ((size_t)(rec + reclen - 1 - val) >= pathlen) {
				errf(err, errlen, "%s: a member name at offset"
				    " %llu is longer than %zu bytes", fname,
				    (unsigned long long)off, pathlen - 1);
				return -1;
			}
			snprintf(path, pathlen, "%.*s",
			    (int)(rec + reclen - 1 - val), val);
			if (strlen(path) != (size_t)(rec + reclen - 1 - val))
				goto bad;	/* a NUL inside the name */
		} else if (klen == 4 && memcmp(endp + 1, "size", 4) == 0) {
			snprintf(num, sizeof(num), "%.*s",
			    (int)(rec + reclen - 1 - val), val);
			errno = 0;
			*size = strtoull(num, &endp, 10);
			if (num[0] < '0' || num[0] > '9' || *endp != '\0' ||
			    errno != 0)
				goto bad;
			*have_size = 1;
		}
		pos += reclen;
	}
	return 0;
bad:
	errf(err, errlen, "%s: garbled pax header at offset %llu: the archive"
	    " is damaged", fname, (unsigned long long)off);
	return -1;
}

/*
 * A member is kept (1), skipped (0: meta data not ours, the "./" folder
 * that tar -C dir . writes first) or refused (-1, err says why).
 */
static int
tar_member_check(int type, const char *plain, const char *show,
    const char *fname, char *err, size_t errlen)
{
	const char	*why;

	switch (type) {
	case '0': case '\0': case '7':
		break;
	case 'g': case 'K':
		/* Global pax records, a link's long name. */
		return 0;
	case '5':
		if (plain[0] == '\0' || strcmp(plain, ".") == 0)
			return 0;
		errf(err, errlen, "%s: member \"%s\" is a folder: an OVA holds"
		    " plain files side by side", fname, show);
		return -1;
	case '1': case '2':
		errf(err, errlen, "%s: member \"%s\" is a link: an OVA holds"
		    " only plain files", fname, show);
		return -1;
	default:
		errf(err, errlen, "%s: member \"%s\" is of type '%c': an OVA"
		    " holds only plain files", fname, show,
		    type >= 0x20 && type < 0x7f ? type : '?');
		return -1;
	}
	if ((why = tar_name_bad(plain)) != NULL) {
		errf(err, errlen, "%s: member \"%s\" %s", fname, show, why);
		return -1;
	}
	return 1;
}

/*
 * The regular files of the tar on fd, in order.  Every header is checked;
 * a truncated or garbled archive, a member outside the file, a name that
 * is a path, a link, a device or a duplicate: -1 and err names the file
 * and the member.  An archive that ends without its two zero blocks is
 * accepted when it ends on a member's boundary, as tar does.
 */
int
tar_index(int fd, const char *fname, struct tar_entry **entriesp, size_t *np,
    char *err, size_t errlen)
{
	unsigned char		 h[TAR_BLOCK];
	struct tar_entry	*v = NULL;
	struct stat		 sb;
	uint64_t		 off = 0, size, fsize, data, pax_size = 0;
	size_t			 n = 0, i;
	char			 name[OVA_NAMELEN], pending[OVA_NAMELEN] = "",
				 show[OVA_NAMELEN], *meta = NULL;
	const char		*plain;
	int			 have_pending = 0, have_pax_size = 0, type, keep;
	ssize_t			 got;

	*entriesp = NULL;
	*np = 0;
	if (fstat(fd, &sb) == -1 || !S_ISREG(sb.st_mode)) {
		errf(err, errlen, "%s: not a regular file", fname);
		return -1;
	}
	fsize = (uint64_t)sb.st_size;
	for (;;) {
		if ((got = pread_full(fd, h, TAR_BLOCK, off)) == -1) {
			errf(err, errlen, "cannot read %s: %s", fname,
			    strerror(errno));
			goto fail;
		}
		if (got == 0 || block_is_zero(h))
			break;
		if (got < TAR_BLOCK && off == 0) {
			errf(err, errlen, "%s is not a tar archive (an .ova is"
			    " one: an .ovf descriptor and its disks); it is"
			    " only %zd bytes", fname, got);
			goto fail;
		}
		if (got < TAR_BLOCK) {
			errf(err, errlen, "%s is truncated: it ends inside the"
			    " header at offset %llu", fname,
			    (unsigned long long)off);
			goto fail;
		}
		if (!tar_checksum_ok(h)) {
			if (off == 0)
				errf(err, errlen, "%s is not a tar archive (an"
				    " .ova is one: an .ovf descriptor and its"
				    " disks)", fname);
			else
				errf(err, errlen, "%s: garbled header at offset"
				    " %llu (bad checksum): the archive is"
				    " damaged", fname, (unsigned long long)off);
			goto fail;
		}
		if (tar_number(h + 124, 12, &size) == -1) {
			errf(err, errlen, "%s: garbled size in the header at"
			    " offset %llu", fname, (unsigned long long)off);
			goto fail;
		}
		if (have_pax_size)
			size = pax_size;
		type = h[156];
		if (have_pending)
			snprintf(name, sizeof(name), "%s", pending);
		else if (memcmp(h + 257, "ustar\0", 6) == 0 && h[345] != '\0')
			snprintf(name, sizeof(name), "%.155s/%.100s",
			    (char *)h + 345, (char *)h);
		else
			snprintf(name, sizeof(name), "%.100s", (char *)h);
		data = off + TAR_BLOCK;
		if (size > fsize || data > fsize - size) {
			errf(err, errlen, "%s is truncated: member \"%s\" needs"
			    " %llu bytes at offset %llu but the file ends at"
			    " %llu", fname, shown(name, show, sizeof(show)),
			    (unsigned long long)size, (unsigned long long)data,
			    (unsigned long long)fsize);
			goto fail;
		}
		if (type == 'x' || type == 'L') {
			/* Meta data for the next member. */
			if (size > TAR_MAX_META) {
				errf(err, errlen, "%s: a %s header of %llu"
				    " bytes at offset %llu is too large", fname,
				    type == 'x' ? "pax" : "long name",
				    (unsigned long long)size,
				    (unsigned long long)off);
				goto fail;
			}
			if ((meta = malloc(size + 1)) == NULL) {
				errf(err, errlen, "%s: out of memory", fname);
				goto fail;
			}
			if (pread_full(fd, meta, size, data) != (ssize_t)size) {
				errf(err, errlen, "cannot read %s: %s", fname,
				    errno ? strerror(errno) : "file shrank");
				goto fail;
			}
			meta[size] = '\0';
			if (type == 'x') {
				if (pax_parse(meta, size, pending,
				    sizeof(pending), &pax_size, &have_pax_size,
				    fname, off, err, errlen) == -1)
					goto fail;
				if (pending[0] != '\0')
					have_pending = 1;
			} else {
				if (strlen(meta) >= sizeof(pending)) {
					errf(err, errlen, "%s: a member name at"
					    " offset %llu is longer than %zu"
					    " bytes", fname,
					    (unsigned long long)off,
					    sizeof(pending) - 1);
					goto fail;
				}
				snprintf(pending, sizeof(pending), "%s", meta);
				have_pending = 1;
			}
			free(meta);
			meta = NULL;
			off = data + ((size + TAR_BLOCK - 1) / TAR_BLOCK) *
			    TAR_BLOCK;
			continue;
		}
		plain = strip_dot_slash(name);
		shown(name, show, sizeof(show));
		if ((keep = tar_member_check(type, plain, show, fname, err,
		    errlen)) == -1)
			goto fail;
		for (i = 0; keep && i < n; i++)
			if (strcmp(v[i].name, plain) == 0) {
				errf(err, errlen, "%s: member \"%s\" appears"
				    " twice", fname, show);
				goto fail;
			}
		if (keep && n == TAR_MAX_MEMBERS) {
			errf(err, errlen, "%s holds more than %d members: not"
			    " an OVA", fname, TAR_MAX_MEMBERS);
			goto fail;
		}
		if (keep) {
			struct tar_entry *nv = realloc(v, (n + 1) * sizeof(*v));

			if (nv == NULL) {
				errf(err, errlen, "%s: out of memory", fname);
				goto fail;
			}
			v = nv;
			snprintf(v[n].name, sizeof(v[n].name), "%s", plain);
			v[n].size = size;
			v[n].offset = data;
			n++;
		}
		have_pending = have_pax_size = 0;
		pending[0] = '\0';
		off = data + ((size + TAR_BLOCK - 1) / TAR_BLOCK) * TAR_BLOCK;
	}
	if (have_pending || have_pax_size) {
		errf(err, errlen, "%s is truncated: it ends after a header that"
		    " announces a member", fname);
		goto fail;
	}
	*entriesp = v;
	*np = n;
	return 0;
fail:
	free(meta);
	free(v);
	return -1;
}

/* --- the OVF scan ----------------------------------------------------- */

struct ovf_file {
	char	id[64];
	char	href[OVF_VALUELEN];
	int	compressed;
	int	chunked;
};

struct ovf_item {
	char	type[16];
	char	quantity[32];
	char	units[64];
	char	config[256];	/* ovf:configuration, a list of ids */
	int	line;
};

struct ovf_attr {
	char	name[OVF_QNAMELEN];	/* local: the prefix is dropped */
	char	value[OVF_VALUELEN];
};

struct ovf_scan {
	const char	*start;
	const char	*fname;
	char		*err;
	size_t		 errlen;
	/* the open elements */
	char		 qname[OVF_DEPTH][OVF_QNAMELEN];
	int		 qline[OVF_DEPTH];
	int		 depth;
	int		 roots;
	/* what is collected */
	struct ovf_file	 files[OVF_MAXFILES];
	size_t		 nfiles;
	int		 disk_section;
	char		 disk_ref[64];
	struct ovf_item	 items[OVF_MAXITEMS];
	size_t		 nitems;
	struct ovf_item	 cur;
	int		 item_depth;	/* 0: not inside an Item */
	char		*cap;		/* text goes here */
	size_t		 capsz;
	char		 default_config[64];
	int		 systems;
	int		 vs_depth;	/* 0: outside the first VirtualSystem */
	int		 uefi;
};

static int
ovf_line(const struct ovf_scan *x, const char *at)
{
	const char	*p;
	int		 line = 1;

	for (p = x->start; p < at; p++)
		if (*p == '\n')
			line++;
	return line;
}

static int ovf_fail(struct ovf_scan *, const char *, const char *, ...)
    __attribute__((format(printf, 3, 4)));

static int
ovf_fail(struct ovf_scan *x, const char *at, const char *fmt, ...)
{
	char	msg[VMM_ERRLEN];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (at != NULL)
		errf(x->err, x->errlen, "%s line %d: %s", x->fname,
		    ovf_line(x, at), msg);
	else
		errf(x->err, x->errlen, "%s: %s", x->fname, msg);
	return -1;
}

static const char *
local_name(const char *qname)
{
	const char	*colon = strrchr(qname, ':');

	return colon ? colon + 1 : qname;
}

/*
 * Append s[0, n) to dst, decoding the five XML entities and character
 * references (those past ASCII become '?': no value labd reads needs
 * them).  What does not fit is dropped.
 */
static void
xml_append(char *dst, size_t cap, const char *s, size_t n)
{
	static const struct { const char *ent; char c; } ents[] = {
		{ "&lt;", '<' }, { "&gt;", '>' }, { "&amp;", '&' },
		{ "&quot;", '"' }, { "&apos;", '\'' },
	};
	size_t		 len = strlen(dst), i, k;
	const char	*semi;
	char		 c;
	unsigned long	 cp;

	for (i = 0; i < n && len + 1 < cap; i++) {
		c = s[i];
		if (c == '&') {
			for (k = 0; k < sizeof(ents) / sizeof(ents[0]); k++)
				if (n - i >= strlen(ents[k].ent) &&
				    memcmp(s + i, ents[k].ent,
				    strlen(ents[k].ent)) == 0)
					break;
			if (k < sizeof(ents) / sizeof(ents[0])) {
				c = ents[k].c;
				i += strlen(ents[k].ent) - 1;
			} else if (n - i > 2 && s[i + 1] == '#' &&
			    (semi = memchr(s + i, ';', n - i)) != NULL &&
			    semi - (s + i) < 12) {
				cp = s[i + 2] == 'x' ?
				    strtoul(s + i + 3, NULL, 16) :
				    strtoul(s + i + 2, NULL, 10);
				c = cp > 0 && cp < 0x80 ? (char)cp : '?';
				i = semi - s;
			}
		}
		dst[len++] = c;
	}
	dst[len] = '\0';
}

static void
trim(char *s)
{
	size_t	n = strlen(s), k = 0;

	while (n > 0 && strchr(" \t\r\n", s[n - 1]) != NULL)
		s[--n] = '\0';
	while (s[k] != '\0' && strchr(" \t\r\n", s[k]) != NULL)
		k++;
	memmove(s, s + k, n - k + 1);
}

static const char *
attr_get(const struct ovf_attr *a, int na, const char *name)
{
	int	i;

	for (i = 0; i < na; i++)
		if (strcmp(a[i].name, name) == 0)
			return a[i].value;
	return NULL;
}

/* The local name of the element that holds the one being opened. */
static const char *
parent_name(const struct ovf_scan *x)
{
	return x->depth > 0 ? local_name(x->qname[x->depth - 1]) : "";
}

static void
ovf_open(struct ovf_scan *x, const char *qname, const struct ovf_attr *a,
    int na, int line)
{
	const char	*ln = local_name(qname), *parent = parent_name(x), *s;
	struct ovf_file	*f;

	if (strcmp(ln, "File") == 0 && strcmp(parent, "References") == 0 &&
	    x->nfiles < OVF_MAXFILES) {
		f = &x->files[x->nfiles++];
		memset(f, 0, sizeof(*f));
		snprintf(f->id, sizeof(f->id), "%s",
		    (s = attr_get(a, na, "id")) ? s : "");
		snprintf(f->href, sizeof(f->href), "%s",
		    (s = attr_get(a, na, "href")) ? s : "");
		s = attr_get(a, na, "compression");
		f->compressed = s != NULL && *s != '\0' &&
		    strcmp(s, "identity") != 0;
		f->chunked = attr_get(a, na, "chunkSize") != NULL;
	} else if (strcmp(ln, "DiskSection") == 0) {
		x->disk_section = 1;
	} else if (strcmp(ln, "Disk") == 0 &&
	    strcmp(parent, "DiskSection") == 0) {
		/* The first disk with a file is the boot disk; blank ones have none. */
		if (x->disk_ref[0] == '\0' &&
		    (s = attr_get(a, na, "fileRef")) != NULL)
			snprintf(x->disk_ref, sizeof(x->disk_ref), "%s", s);
	} else if (strcmp(ln, "VirtualSystem") == 0) {
		/* A collection of several machines: the first is imported. */
		if (++x->systems == 1)
			x->vs_depth = x->depth + 1;
	} else if (strcmp(ln, "Configuration") == 0 &&
	    strcmp(parent, "DeploymentOptionSection") == 0) {
		s = attr_get(a, na, "default");
		if (s != NULL && strcmp(s, "true") == 0)
			snprintf(x->default_config, sizeof(x->default_config),
			    "%s", (s = attr_get(a, na, "id")) ? s : "");
	} else if (x->vs_depth > 0 && strcmp(ln, "Item") == 0 &&
	    strcmp(parent, "VirtualHardwareSection") == 0) {
		memset(&x->cur, 0, sizeof(x->cur));
		snprintf(x->cur.config, sizeof(x->cur.config), "%s",
		    (s = attr_get(a, na, "configuration")) ? s : "");
		x->cur.line = line;
		x->item_depth = x->depth + 1;
	} else if (x->item_depth > 0 && x->depth == x->item_depth) {
		if (strcmp(ln, "ResourceType") == 0) {
			x->cap = x->cur.type;
			x->capsz = sizeof(x->cur.type);
		} else if (strcmp(ln, "VirtualQuantity") == 0) {
			x->cap = x->cur.quantity;
			x->capsz = sizeof(x->cur.quantity);
		} else if (strcmp(ln, "AllocationUnits") == 0) {
			x->cap = x->cur.units;
			x->capsz = sizeof(x->cur.units);
		}
		if (x->cap != NULL)
			x->cap[0] = '\0';
	} else if (x->vs_depth > 0 && strcmp(ln, "Config") == 0 &&
	    strcmp(parent, "VirtualHardwareSection") == 0) {
		/* VMware's <vmw:Config vmw:key="firmware" vmw:value="efi"/>. */
		s = attr_get(a, na, "key");
		if (s != NULL && strcmp(s, "firmware") == 0 &&
		    (s = attr_get(a, na, "value")) != NULL)
			x->uefi = strcasecmp(s, "efi") == 0;
	}
}

/* Called before the element at x->depth is popped. */
static void
ovf_close(struct ovf_scan *x)
{
	x->cap = NULL;
	if (x->item_depth > 0 && x->depth == x->item_depth) {
		x->item_depth = 0;
		trim(x->cur.type);
		if ((strcmp(x->cur.type, "3") == 0 ||
		    strcmp(x->cur.type, "4") == 0) &&
		    x->nitems < OVF_MAXITEMS)
			x->items[x->nitems++] = x->cur;
	}
	if (x->vs_depth > 0 && x->depth == x->vs_depth)
		x->vs_depth = 0;
}

static int
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int
is_name_char(char c)
{
	return c != '\0' && !is_space(c) && strchr("/>=<\"'", c) == NULL;
}

/* A start tag at p ("<name attrs... >" or "/>"); *pp moves past it. */
static int
ovf_start_tag(struct ovf_scan *x, const char **pp, const char *end)
{
	struct ovf_attr		 a[OVF_MAXATTRS];
	const char		*p = *pp + 1, *tag = *pp, *n0, *q;
	char			 qname[OVF_QNAMELEN], aname[OVF_QNAMELEN], quote;
	int			 na = 0, empty = 0, line = ovf_line(x, tag);

	for (n0 = p; p < end && is_name_char(*p); p++)
		;
	if (p == n0)
		return ovf_fail(x, tag, "a '<' that starts no element");
	if ((size_t)(p - n0) >= sizeof(qname))
		return ovf_fail(x, tag, "an element name longer than %zu"
		    " bytes", sizeof(qname) - 1);
	snprintf(qname, sizeof(qname), "%.*s", (int)(p - n0), n0);
	for (;;) {
		while (p < end && is_space(*p))
			p++;
		if (p >= end)
			return ovf_fail(x, tag, "the file ends inside <%s>:"
			    " truncated?", qname);
		if (*p == '>') {
			p++;
			break;
		}
		if (*p == '/' && p + 1 < end && p[1] == '>') {
			p += 2;
			empty = 1;
			break;
		}
		for (n0 = p; p < end && is_name_char(*p); p++)
			;
		if (p == n0 || (size_t)(p - n0) >= sizeof(aname))
			return ovf_fail(x, p, "a garbled attribute in <%s>",
			    qname);
		snprintf(aname, sizeof(aname), "%.*s", (int)(p - n0), n0);
		while (p < end && is_space(*p))
			p++;
		if (p >= end || *p != '=')
			return ovf_fail(x, p, "attribute %s of <%s> has no"
			    " value", aname, qname);
		p++;
		while (p < end && is_space(*p))
			p++;
		if (p >= end || (*p != '"' && *p != '\''))
			return ovf_fail(x, p, "attribute %s of <%s> is not"
			    " quoted", aname, qname);
		quote = *p++;
		if ((q = memchr(p, quote, end - p)) == NULL)
			return ovf_fail(x, p, "attribute %s of <%s> is never"
			    " closed", aname, qname);
		if (memchr(p, '<', q - p) != NULL)
			return ovf_fail(x, p, "a '<' inside attribute %s of"
			    " <%s>", aname, qname);
		if (na < OVF_MAXATTRS) {
			snprintf(a[na].name, sizeof(a[na].name), "%s",
			    local_name(aname));
			a[na].value[0] = '\0';
			xml_append(a[na].value, sizeof(a[na].value), p, q - p);
			na++;
		}
		p = q + 1;
	}
	if (x->depth == 0) {
		if (x->roots++ > 0)
			return ovf_fail(x, tag, "a second root element <%s>",
			    qname);
		if (strcmp(local_name(qname), "Envelope") != 0)
			return ovf_fail(x, tag, "not an OVF descriptor: the"
			    " root element is <%s>, not <Envelope>", qname);
	}
	if (x->depth == OVF_DEPTH)
		return ovf_fail(x, tag, "elements nested deeper than %d",
		    OVF_DEPTH);
	ovf_open(x, qname, a, na, line);
	snprintf(x->qname[x->depth], OVF_QNAMELEN, "%s", qname);
	x->qline[x->depth] = line;
	x->depth++;
	if (empty) {
		ovf_close(x);
		x->depth--;
	}
	*pp = p;
	return 0;
}

static int
ovf_end_tag(struct ovf_scan *x, const char **pp, const char *end)
{
	const char	*p = *pp + 2, *tag = *pp, *n0;
	size_t		 len;

	for (n0 = p; p < end && is_name_char(*p); p++)
		;
	len = p - n0;
	while (p < end && is_space(*p))
		p++;
	if (p >= end)
		return ovf_fail(x, tag, "the file ends inside an end tag"
		    " (\"</%.*s\"): truncated?", (int)len, n0);
	if (*p != '>')
		return ovf_fail(x, tag, "a garbled end tag");
	if (x->depth == 0)
		return ovf_fail(x, tag, "</%.*s> closes nothing", (int)len,
		    n0);
	if (strlen(x->qname[x->depth - 1]) != len ||
	    memcmp(x->qname[x->depth - 1], n0, len) != 0)
		return ovf_fail(x, tag, "</%.*s> where </%s> (opened on line"
		    " %d) was expected", (int)len, n0, x->qname[x->depth - 1],
		    x->qline[x->depth - 1]);
	ovf_close(x);
	x->depth--;
	*pp = p + 1;
	return 0;
}

/* Walk the text: comments, processing instructions, CDATA and tags. */
static int
ovf_walk(struct ovf_scan *x, const char *p, const char *end)
{
	const char	*q, *t;
	int		 nest;

	while (p < end) {
		if (*p != '<') {
			t = p;
			if ((p = memchr(p, '<', end - p)) == NULL)
				p = end;
			if (x->cap != NULL)
				xml_append(x->cap, x->capsz, t, p - t);
			else if (x->depth == 0)
				for (q = t; q < p; q++)
					if (!is_space(*q))
						return ovf_fail(x, q, "%s",
						    x->roots ? "text after the"
						    " root element" : "text,"
						    " not XML: not an OVF"
						    " descriptor");
			continue;
		}
		if (end - p >= 4 && memcmp(p, "<!--", 4) == 0) {
			if ((q = memmem(p + 4, end - p - 4, "-->", 3)) == NULL)
				return ovf_fail(x, p, "a comment that never"
				    " ends");
			p = q + 3;
		} else if (end - p >= 2 && memcmp(p, "<?", 2) == 0) {
			if ((q = memmem(p + 2, end - p - 2, "?>", 2)) == NULL)
				return ovf_fail(x, p, "a <? that never ends");
			p = q + 2;
		} else if (end - p >= 9 && memcmp(p, "<![CDATA[", 9) == 0) {
			if ((q = memmem(p + 9, end - p - 9, "]]>", 3)) == NULL)
				return ovf_fail(x, p, "a CDATA section that"
				    " never ends");
			if (x->cap != NULL) {
				/* Raw text: no entities to decode. */
				size_t	len = strlen(x->cap);

				snprintf(x->cap + len, x->capsz - len, "%.*s",
				    (int)(q - p - 9), p + 9);
			}
			p = q + 3;
		} else if (end - p >= 2 && p[1] == '!') {
			/* <!DOCTYPE ...>, maybe with an internal [subset]. */
			for (q = p + 2, nest = 0; q < end; q++) {
				if (*q == '[')
					nest++;
				else if (*q == ']')
					nest--;
				else if (*q == '>' && nest <= 0)
					break;
			}
			if (q >= end)
				return ovf_fail(x, p, "a <! that never ends");
			p = q + 1;
		} else if (end - p >= 2 && p[1] == '/') {
			if (ovf_end_tag(x, &p, end) == -1)
				return -1;
		} else if (ovf_start_tag(x, &p, end) == -1)
			return -1;
	}
	if (x->depth > 0)
		return ovf_fail(x, NULL, "the file ends inside <%s> opened on"
		    " line %d: truncated?", x->qname[x->depth - 1],
		    x->qline[x->depth - 1]);
	if (x->roots == 0)
		return ovf_fail(x, NULL, "holds no XML element: not an OVF"
		    " descriptor");
	return 0;
}

/*
 * Bytes in one AllocationUnits, as exporters write them: "byte * 2^20"
 * (VMware), "MegaBytes" (VirtualBox), "MB", "byte*10^9"... 0 when the
 * unit is not one of those.  No unit at all means MiB, which is what
 * every exporter that omits it gives.
 */
static uint64_t
ovf_unit(const char *units)
{
	static const struct { const char *word; uint64_t mult; } words[] = {
		{ "byte", 1 }, { "bytes", 1 }, { "b", 1 },
		{ "kilobyte", 1ULL << 10 }, { "kilobytes", 1ULL << 10 },
		{ "kb", 1ULL << 10 }, { "kib", 1ULL << 10 },
		{ "megabyte", 1ULL << 20 }, { "megabytes", 1ULL << 20 },
		{ "mb", 1ULL << 20 }, { "mib", 1ULL << 20 },
		{ "gigabyte", 1ULL << 30 }, { "gigabytes", 1ULL << 30 },
		{ "gb", 1ULL << 30 }, { "gib", 1ULL << 30 },
	};
	char		 s[64], *p, *endp;
	size_t		 i, n = 0;
	unsigned long	 base, exp;
	uint64_t	 mult = 1;

	for (p = (char *)units; *p != '\0' && n + 1 < sizeof(s); p++)
		if (!is_space(*p))
			s[n++] = (char)tolower((unsigned char)*p);
	s[n] = '\0';
	if (n == 0)
		return 1ULL << 20;
	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strcmp(s, words[i].word) == 0)
			return words[i].mult;
	if (strncmp(s, "byte*", 5) == 0)
		p = s + 5;
	else if (strncmp(s, "bytes*", 6) == 0)
		p = s + 6;
	else
		return 0;
	base = strtoul(p, &endp, 10);
	if (endp == p || *endp != '^' || base < 2)
		return 0;
	p = endp + 1;
	exp = strtoul(p, &endp, 10);
	if (endp == p || *endp != '\0' || exp > 62)
		return 0;
	while (exp-- > 0) {
		if (mult > (1ULL << 62) / base)
			return 0;
		mult *= base;
	}
	return mult;
}

static int
list_has(const char *list, const char *word)
{
	char	buf[256], *tok, *save;

	snprintf(buf, sizeof(buf), "%s", list);
	for (tok = strtok_r(buf, " \t\r\n", &save); tok != NULL;
	    tok = strtok_r(NULL, " \t\r\n", &save))
		if (strcmp(tok, word) == 0)
			return 1;
	return 0;
}

/*
 * The Item of a resource type for the deployment labd makes: one that
 * belongs to every configuration, else the default configuration's, else
 * the first.
 */
static const struct ovf_item *
item_pick(const struct ovf_scan *x, const char *type)
{
	const struct ovf_item	*first = NULL;
	size_t			 i;

	for (i = 0; i < x->nitems; i++) {
		if (strcmp(x->items[i].type, type) != 0)
			continue;
		if (x->items[i].config[0] == '\0')
			return &x->items[i];
		if (x->default_config[0] != '\0' &&
		    list_has(x->items[i].config, x->default_config))
			return &x->items[i];
		if (first == NULL)
			first = &x->items[i];
	}
	return first;
}

static int
quantity(struct ovf_scan *x, struct ovf_item *it, const char *what,
    uint64_t *out)
{
	char	*endp;

	trim(it->quantity);
	errno = 0;
	*out = strtoull(it->quantity, &endp, 10);
	if (errno == ERANGE) {
		errf(x->err, x->errlen, "%s line %d: the %s Item's"
		    " VirtualQuantity %s is far beyond what labd gives a VM",
		    x->fname, it->line, what, it->quantity);
		return -1;
	}
	if (it->quantity[0] < '0' || it->quantity[0] > '9' || *endp != '\0') {
		errf(x->err, x->errlen, "%s line %d: the %s Item's"
		    " VirtualQuantity \"%s\" is not a whole number", x->fname,
		    it->line, what, it->quantity);
		return -1;
	}
	return 0;
}

static int
ovf_hardware(struct ovf_scan *x, struct ovf_info *info)
{
	struct ovf_item	*it;
	uint64_t	 q, mult, mb;

	if ((it = (struct ovf_item *)item_pick(x, "4")) != NULL) {
		if (quantity(x, it, "memory", &q) == -1)
			return -1;
		trim(it->units);
		if ((mult = ovf_unit(it->units)) == 0) {
			errf(x->err, x->errlen, "%s line %d: memory unit \"%s\""
			    " is not one labd knows (byte * 2^20, MegaBytes,"
			    " GB...)", x->fname, it->line, it->units);
			return -1;
		}
		if (q > UINT64_MAX / mult) {
			errf(x->err, x->errlen, "%s line %d: memory of %llu x"
			    " %s is far beyond what labd gives a VM", x->fname,
			    it->line, (unsigned long long)q, it->units);
			return -1;
		}
		mb = (q * mult >> 20) + ((q * mult & 0xfffff) != 0);
		if (mb < OVF_MIN_MB || mb > OVF_MAX_MB) {
			errf(x->err, x->errlen, "%s line %d: memory of %llu MiB"
			    " is outside what labd gives a VM (%d MiB to %d"
			    " GiB)", x->fname, it->line, (unsigned long long)mb,
			    OVF_MIN_MB, OVF_MAX_MB / 1024);
			return -1;
		}
		info->memory_mb = (unsigned)mb;
	}
	if ((it = (struct ovf_item *)item_pick(x, "3")) != NULL) {
		if (quantity(x, it, "processor", &q) == -1)
			return -1;
		if (q < 1 || q > OVF_MAX_VCPUS) {
			errf(x->err, x->errlen, "%s line %d: %llu vCPUs: labd"
			    " gives a VM 1 to %d", x->fname, it->line,
			    (unsigned long long)q, OVF_MAX_VCPUS);
			return -1;
		}
		info->vcpus = (unsigned)q;
	}
	info->uefi = x->uefi;
	return 0;
}

/* The file of the first disk that has one, checked to be a plain name. */
static int
ovf_disk(struct ovf_scan *x, struct ovf_info *info)
{
	const struct ovf_file	*f = NULL;
	const char		*why;
	char			 show[OVF_VALUELEN];
	size_t			 i;

	if (x->disk_ref[0] != '\0') {
		for (i = 0; i < x->nfiles && f == NULL; i++)
			if (strcmp(x->files[i].id, x->disk_ref) == 0)
				f = &x->files[i];
		if (f == NULL) {
			errf(x->err, x->errlen, "%s: the first disk's fileRef"
			    " \"%s\" names no References/File", x->fname,
			    shown(x->disk_ref, show, sizeof(show)));
			return -1;
		}
	} else if (x->disk_section) {
		errf(x->err, x->errlen, "%s: no disk in its DiskSection has a"
		    " file (fileRef): nothing to import", x->fname);
		return -1;
	} else if (x->nfiles > 0)
		f = &x->files[0];	/* no DiskSection: the only file */
	else {
		errf(x->err, x->errlen, "%s names no disk: no DiskSection and no"
		    " References/File", x->fname);
		return -1;
	}
	shown(f->href, show, sizeof(show));
	if ((why = tar_name_bad(f->href)) != NULL ||
	    strlen(f->href) >= sizeof(info->disk)) {
		errf(x->err, x->errlen, "%s: disk href \"%s\" is not a file"
		    " beside the descriptor: it %s", x->fname, show,
		    why ? why : "is too long");
		return -1;
	}
	if (f->compressed || f->chunked) {
		errf(x->err, x->errlen, "%s: disk file %s is %s; unpack the"
		    " appliance with ovftool or VirtualBox and import its"
		    " disk", x->fname, show, f->compressed ? "compressed"
		    " (ovf:compression)" : "split in chunks (ovf:chunkSize)");
		return -1;
	}
	snprintf(info->disk, sizeof(info->disk), "%s", f->href);
	return 0;
}

/*
 * Read an OVF descriptor: the first VirtualSystem's memory and vCPUs (0
 * when it does not say), VMware's firmware setting and the first disk's
 * file.  Errors name fname and, where there is one, the line.
 */
int
ovf_parse(const char *xml, size_t len, const char *fname,
    struct ovf_info *info, char *err, size_t errlen)
{
	struct ovf_scan	*x = calloc(1, sizeof(*x));
	const char	*p = xml;
	int		 rc = -1;

	if (x == NULL) {
		errf(err, errlen, "%s: out of memory", fname);
		return -1;
	}

	memset(info, 0, sizeof(*info));
	x->start = xml;
	x->fname = fname;
	x->err = err;
	x->errlen = errlen;
	if (memchr(xml, '\0', len) != NULL) {
		ovf_fail(x, NULL, "holds NUL bytes: not a UTF-8 XML file");
		goto fail;
	}
	if (len >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0)
		p += 3;
	if (ovf_walk(x, p, xml + len) == -1 || ovf_disk(x, info) == -1 ||
	    ovf_hardware(x, info) == -1)
		goto fail;
	rc = 0;
fail:
	if (rc == -1)
		memset(info, 0, sizeof(*info));
	free(x);
	return rc;
}

/* A whole file of at most max bytes, NUL-terminated; NULL with err. */
static char *
read_small(int fd, const char *path, size_t max, size_t *len, char *err,
    size_t errlen)
{
	struct stat	 st;
	char		*buf;

	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    (size_t)st.st_size > max) {
		errf(err, errlen, "%s: %s", path, !S_ISREG(st.st_mode) ?
		    "not a regular file" : "too large");
		return NULL;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
		errf(err, errlen, "%s: out of memory", path);
		return NULL;
	}
	if (pread_full(fd, buf, (size_t)st.st_size, 0) != st.st_size) {
		errf(err, errlen, "cannot read %s: %s", path,
		    errno ? strerror(errno) : "file shrank");
		free(buf);
		return NULL;
	}
	buf[st.st_size] = '\0';
	*len = (size_t)st.st_size;
	return buf;
}

/* An .ovf, with its disk beside it (ovftool's folder export). */
int
ovf_load(int fd, const char *path, struct ovf_info *info, char *disk,
    size_t disklen, char *err, size_t errlen)
{
	char	*xml, dir[PATH_MAX], *slash;
	size_t	 len;
	int	 rc = -1;

	if ((xml = read_small(fd, path, OVA_MAX_OVF, &len, err, errlen)) ==
	    NULL)
		return -1;
	if (ovf_parse(xml, len, path, info, err, errlen) == -1)
		goto fail;
	snprintf(dir, sizeof(dir), "%s", path);
	if ((slash = strrchr(dir, '/')) != NULL)
		*slash = '\0';
	else
		snprintf(dir, sizeof(dir), ".");
	snprintf(disk, disklen, "%s/%s", dir, info->disk);
	rc = 0;
fail:
	free(xml);
	return rc;
}

/* --- unpacking -------------------------------------------------------- */

static const struct tar_entry *
member_find(const struct tar_entry *v, size_t n, const char *name)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (strcmp(v[i].name, name) == 0)
			return &v[i];
	return NULL;
}

static int
ends_with(const char *s, const char *suffix)
{
	size_t	n = strlen(s), m = strlen(suffix);

	return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

/*
 * Copy a member out, leaving holes where its data is zero: a raw disk of
 * 40 GB that holds 3 GB stays 3 GB on the host.
 */
static int
member_extract(int fd, const struct tar_entry *m, const char *to,
    const char *fname, char *err, size_t errlen)
{
	const size_t	 bufsz = 1 << 16;
	char		*buf = malloc(bufsz);
	uint64_t	 done = 0;
	size_t		 chunk, k;
	ssize_t		 n;
	int		 out, zero;

	if (buf == NULL) {
		errf(err, errlen, "%s: out of memory", fname);
		return -1;
	}

	if ((out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    0600)) == -1) {
		errf(err, errlen, "cannot create %s: %s", to, strerror(errno));
		free(buf);
		return -1;
	}
	while (done < m->size) {
		chunk = m->size - done < bufsz ? m->size - done : bufsz;
		if (pread_full(fd, buf, chunk, m->offset + done) !=
		    (ssize_t)chunk) {
			errf(err, errlen, "cannot read %s from %s: %s", m->name,
			    fname, errno ? strerror(errno) : "file shrank");
			goto fail;
		}
		for (k = 0, zero = 1; k < chunk && zero; k++)
			zero = buf[k] == 0;
		for (k = 0; !zero && k < chunk; k += n) {
			n = pwrite(out, buf + k, chunk - k,
			    (off_t)(done + k));
			if (n == -1 && errno == EINTR) {
				n = 0;
				continue;
			}
			if (n <= 0) {
				errf(err, errlen, "cannot write %s: %s", to,
				    strerror(n == -1 ? errno : ENOSPC));
				goto fail;
			}
		}
		done += chunk;
	}
	if (ftruncate(out, (off_t)m->size) == -1) {
		errf(err, errlen, "cannot write %s: %s", to, strerror(errno));
		goto fail;
	}
	close(out);
	free(buf);
	return 0;
fail:
	close(out);
	unlink(to);
	free(buf);
	return -1;
}

/*
 * Check a written file against its line in the manifest, if it has one:
 * "SHA256(name)= hex" (ovftool) or "SHA1 (name) = hex" (VirtualBox).
 */
static int
manifest_check(const char *mf, const char *mfname, const char *name,
    const char *path, const char *fname, char *err, size_t errlen)
{
	static const struct { const char *algo; char *tool; size_t hexlen; }
	    algos[] = {
		{ "SHA1", "sha1sum", 40 }, { "SHA256", "sha256sum", 64 },
		{ "SHA512", "sha512sum", 128 },
	};
	const char	*line, *p, *q, *nl;
	char		*out, algo[16];
	size_t		 i, nlen = strlen(name);
	char		*argv[3];
	int		 match;

	for (line = mf; *line != '\0'; line = nl ? nl + 1 : line +
	    strlen(line)) {
		nl = strchr(line, '\n');
		for (p = line, i = 0; (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9'); p++)
			if (i + 1 < sizeof(algo))
				algo[i++] = *p;
		algo[i] = '\0';
		while (*p == ' ')
			p++;
		if (*p++ != '(' || strncmp(p, name, nlen) != 0 ||
		    p[nlen] != ')')
			continue;
		for (p += nlen + 1; *p == ' '; p++)
			;
		if (*p++ != '=')
			continue;
		while (*p == ' ')
			p++;
		for (i = 0; i < sizeof(algos) / sizeof(algos[0]); i++)
			if (strcmp(algos[i].algo, algo) == 0)
				break;
		if (i == sizeof(algos) / sizeof(algos[0]))
			continue;	/* a digest we cannot check */
		argv[0] = algos[i].tool;
		argv[1] = (char *)path;
		argv[2] = NULL;
		if (vmm_run_io(argv, NULL, 0, &out, err, errlen) == -1)
			return -1;
		for (q = p; *q != '\0' && isxdigit((unsigned char)*q); q++)
			;
		match = (size_t)(q - p) == algos[i].hexlen &&
		    strncasecmp(out, p, algos[i].hexlen) == 0;
		free(out);
		if (!match) {
			errf(err, errlen, "%s: %s does not match its %s in %s:"
			    " the archive is damaged", fname, name, algo,
			    mfname);
			return -1;
		}
	}
	return 0;
}

/*
 * Unpack an .ova into dir (which exists and is ours): its descriptor and
 * the first disk it names, checked against the manifest when there is
 * one.  info gets the hardware, disk the path of the unpacked disk.
 */
int
ova_extract(int fd, const char *path, const char *dir, struct ovf_info *info,
    char *disk, size_t disklen, char *err, size_t errlen)
{
	struct tar_entry	*v = NULL;
	const struct tar_entry	*ovf = NULL, *mf = NULL, *d;
	char			*xml = NULL, *mftext = NULL, ovfpath[PATH_MAX],
				 diskpath[PATH_MAX], e[VMM_ERRLEN];
	size_t			 n = 0, i, len;
	int			 rc = -1;

	memset(info, 0, sizeof(*info));
	if (tar_index(fd, path, &v, &n, err, errlen) == -1)
		goto fail;
	/* The spec puts the descriptor first; be lenient about where. */
	for (i = 0; i < n; i++) {
		if (ovf == NULL && ends_with(v[i].name, ".ovf"))
			ovf = &v[i];
		if (mf == NULL && ends_with(v[i].name, ".mf"))
			mf = &v[i];
	}
	if (ovf == NULL) {
		len = 0;
		e[0] = '\0';
		for (i = 0; i < n && len + 1 < sizeof(e); i++)
			len += snprintf(e + len, sizeof(e) - len, "%s%s",
			    i ? ", " : "", v[i].name);
		errf(err, errlen, "%s holds no .ovf descriptor: not an OVA"
		    " (members: %s)", path, n ? e : "none");
		goto fail;
	}
	if (ovf->size > OVA_MAX_OVF || (mf != NULL && mf->size > OVA_MAX_MF)) {
		errf(err, errlen, "%s: %s is too large for a descriptor", path,
		    ovf->size > OVA_MAX_OVF ? ovf->name : mf->name);
		goto fail;
	}
	if ((xml = malloc(ovf->size + 1)) == NULL) {
		errf(err, errlen, "%s: out of memory", path);
		goto fail;
	}
	if (pread_full(fd, xml, ovf->size, ovf->offset) != (ssize_t)ovf->size) {
		errf(err, errlen, "cannot read %s: %s", path,
		    errno ? strerror(errno) : "file shrank");
		goto fail;
	}
	xml[ovf->size] = '\0';
	if (ovf_parse(xml, ovf->size, ovf->name, info, e, sizeof(e)) == -1) {
		errf(err, errlen, "%s: %s", path, e);
		goto fail;
	}
	if ((d = member_find(v, n, info->disk)) == NULL) {
		errf(err, errlen, "%s: %s names the disk %s, which is not in"
		    " the archive", path, ovf->name, info->disk);
		goto fail;
	}
	snprintf(ovfpath, sizeof(ovfpath), "%s/%s", dir, ovf->name);
	snprintf(diskpath, sizeof(diskpath), "%s/%s", dir, d->name);
	if (member_extract(fd, ovf, ovfpath, path, err, errlen) == -1 ||
	    member_extract(fd, d, diskpath, path, err, errlen) == -1)
		goto fail;
	if (mf != NULL) {
		if ((mftext = malloc(mf->size + 1)) == NULL) {
			errf(err, errlen, "%s: out of memory", path);
			goto fail;
		}
		if (pread_full(fd, mftext, mf->size, mf->offset) !=
		    (ssize_t)mf->size) {
			errf(err, errlen, "cannot read %s: %s", path,
			    errno ? strerror(errno) : "file shrank");
			goto fail;
		}
		mftext[mf->size] = '\0';
		if (manifest_check(mftext, mf->name, ovf->name, ovfpath, path,
		    err, errlen) == -1 ||
		    manifest_check(mftext, mf->name, d->name, diskpath, path,
		    err, errlen) == -1)
			goto fail;
	}
	snprintf(disk, disklen, "%s", diskpath);
	rc = 0;
fail:
	if (rc == -1)
		memset(info, 0, sizeof(*info));
	free(mftext);
	free(xml);
	free(v);
	return rc;
}
