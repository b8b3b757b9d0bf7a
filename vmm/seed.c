/* SPDX-License-Identifier: ISC */
/*
 * seed.c - the cloud-init NoCloud seed: an ISO 9660 image labelled
 * "cidata" with user-data, meta-data and, in bridge mode, network-config,
 * and the passwords that go in it.
 *
 * The YAML is written by hand in one fixed shape, not by a YAML library:
 * the tiny template's boot script reads exactly this subset, and cloud
 * images read it with a real parser.  So every scalar from outside is a
 * double-quoted string in which only backslash and double quote are
 * escaped; bytes a YAML parser refuses (control characters, malformed
 * UTF-8 as from a Latin-1 roster) are replaced rather than escaped, as a
 * seed that does not parse would leave the student with no account at all.
 * Files the guest gets (write_files) are in base64 for the same reason.
 */
#include <sys/random.h>
#include <sys/stat.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmm/vmm.h"

/* crypt(3)'s own alphabet for salts. */
static const char salt_chars[] =
    "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/* What a student reads off a sheet: no 0/O, 1/l/I. */
static const char pw_chars[] =
    "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";

struct sbuf {
	char	*p;
	size_t	 len, cap;
	int	 oom;
};

static void
sb_addn(struct sbuf *b, const char *s, size_t n)
{
	char	*np;
	size_t	 ncap;

	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		ncap = b->cap == 0 ? 1024 : b->cap;
		while (b->len + n + 1 > ncap)
			ncap *= 2;
		if ((np = realloc(b->p, ncap)) == NULL) {
			b->oom = 1;
			return;
		}
		b->p = np;
		b->cap = ncap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void
sb_add(struct sbuf *b, const char *s)
{
	sb_addn(b, s, strlen(s));
}

/* Length of the valid UTF-8 sequence at s, 0 when it is not one. */
static size_t
utf8_len(const unsigned char *s, unsigned *cp)
{
	size_t		n, i;
	unsigned	c, min;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if ((s[0] & 0xe0) == 0xc0) {
		n = 2; c = s[0] & 0x1f; min = 0x80;
	} else if ((s[0] & 0xf0) == 0xe0) {
		n = 3; c = s[0] & 0x0f; min = 0x800;
	} else if ((s[0] & 0xf8) == 0xf0) {
		n = 4; c = s[0] & 0x07; min = 0x10000;
	} else
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return n;
}

/*
 * "s" for YAML.  Control characters (C0, DEL, C1) become a space, bytes
 * that are not UTF-8 and the non-characters U+FFFE/U+FFFF a '?'.
 */
static void
sb_quote(struct sbuf *b, const char *str)
{
	const unsigned char	*s = (const unsigned char *)str;
	unsigned		 cp;
	size_t			 n;

	sb_add(b, "\"");
	while (*s != '\0') {
		if ((n = utf8_len(s, &cp)) == 0) {
			sb_add(b, "?");
			s++;
			continue;
		}
		if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f))
			sb_add(b, " ");
		else if (cp == 0xfffe || cp == 0xffff)
			sb_add(b, "?");
		else if (cp == '\\')
			sb_add(b, "\\\\");
		else if (cp == '"')
			sb_add(b, "\\\"");
		else
			sb_addn(b, (const char *)s, n);
		s += n;
	}
	sb_add(b, "\"");
}

/* key: "value"\n at an indent. */
static void
sb_field(struct sbuf *b, const char *indent, const char *key, const char *v)
{
	sb_add(b, indent);
	sb_add(b, key);
	sb_add(b, ": ");
	sb_quote(b, v);
	sb_add(b, "\n");
}

static void
sb_keys(struct sbuf *b, const char **keys, size_t nkeys)
{
	size_t	i;

	if (nkeys == 0)
		return;
	sb_add(b, "    ssh_authorized_keys:\n");
	for (i = 0; i < nkeys; i++) {
		sb_add(b, "      - ");
		sb_quote(b, keys[i]);
		sb_add(b, "\n");
	}
}

static char *
sb_finish(struct sbuf *b)
{
	if (b->oom) {
		free(b->p);
		return NULL;
	}
	return b->p;
}

/* A quoted list item at an indent. */
static void
sb_item(struct sbuf *b, const char *indent, const char *v)
{
	sb_add(b, indent);
	sb_add(b, "- ");
	sb_quote(b, v);
	sb_add(b, "\n");
}

/* Room for n bytes in base64, a newline each wrap characters, a NUL. */
size_t
vmm_base64_size(size_t n, size_t wrap)
{
	size_t	chars = (n + 2) / 3 * 4;

	return chars + (wrap > 0 ? chars / wrap + 1 : 0) + 1;
}

/*
 * n bytes of src in base64 at dst (vmm_base64_size(n, wrap) bytes):
 * lines of wrap characters each ended by a newline, or one line and no
 * newline when wrap is 0 (a multiple of 4).  The length written.
 */
size_t
vmm_base64(const unsigned char *src, size_t n, char *dst, size_t wrap)
{
	static const char	 abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789+/";
	unsigned long		 v;
	size_t			 i, o = 0, col = 0;

	for (i = 0; i < n; i += 3) {
		v = (unsigned long)src[i] << 16;
		if (i + 1 < n)
			v |= (unsigned long)src[i + 1] << 8;
		if (i + 2 < n)
			v |= src[i + 2];
		dst[o++] = abc[v >> 18 & 63];
		dst[o++] = abc[v >> 12 & 63];
		dst[o++] = i + 1 < n ? abc[v >> 6 & 63] : '=';
		dst[o++] = i + 2 < n ? abc[v & 63] : '=';
		if (wrap > 0 && (col += 4) >= wrap) {
			dst[o++] = '\n';
			col = 0;
		}
	}
	if (wrap > 0 && col > 0)
		dst[o++] = '\n';
	dst[o] = '\0';
	return o;
}

/* n bytes of src in base64, on one line. */
static void
sb_base64(struct sbuf *b, const unsigned char *src, size_t n)
{
	char	*t;

	if ((t = malloc(vmm_base64_size(n, 0))) == NULL) {
		b->oom = 1;
		return;
	}
	sb_addn(b, t, vmm_base64(src, n, t, 0));
	free(t);
}

/*
 * A path both cloud-init and the tiny seed.sh write without surprise:
 * absolute, of [A-Za-z0-9/._-], no "." or ".." part, no empty part.
 */
static int
file_path_ok(const char *p)
{
	size_t	n = strlen(p);

	return n > 1 && n < 256 && p[0] == '/' && p[n - 1] != '/' &&
	    strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789/._-") == n && strstr(p, "//") == NULL &&
	    strstr(p, "/./") == NULL && strstr(p, "/../") == NULL &&
	    (n < 2 || strcmp(p + n - 2, "/.") != 0) &&
	    (n < 3 || strcmp(p + n - 3, "/..") != 0);
}

/* write_files:, each file in base64; -1 on a bad path or mode. */
static int
sb_files(struct sbuf *b, const struct vmm_file *f, size_t n)
{
	char	mode[8];
	size_t	i;

	if (n > 0)
		sb_add(b, "write_files:\n");
	for (i = 0; i < n; i++) {
		if (f[i].path == NULL || !file_path_ok(f[i].path) ||
		    f[i].mode > 07777 || (f[i].content == NULL && f[i].len))
			return -1;
		snprintf(mode, sizeof(mode), "%04o", f[i].mode);
		sb_field(b, "  - ", "path", f[i].path);
		sb_field(b, "    ", "permissions", mode);
		sb_add(b, "    encoding: \"b64\"\n    content: \"");
		sb_base64(b, (const unsigned char *)f[i].content, f[i].len);
		sb_add(b, "\"\n");
	}
	return 0;
}

char *
seed_render_userdata(const struct vmm_seed *seed)
{
	struct sbuf		 b = { 0 };
	const struct vmm_user	*u;
	const char		*mgmt[1];
	size_t			 i;

	sb_add(&b, "#cloud-config\n");
	sb_field(&b, "", "hostname", seed->hostname);
	sb_add(&b, "ssh_pwauth: true\n");
	sb_add(&b, "disable_root: false\n");
	/*
	 * cloud-init applies network-config once per instance unless told
	 * to at every boot: a VM whose network changed (labd moved to
	 * bridge mode, a new subnet) keeps its instance-id and its
	 * identity, and gets the new address at its next boot.
	 */
	sb_add(&b, "updates:\n  network:\n    when: [\"boot\"]\n");
	/* A bare "users:" is null: cloud-init would make its default user. */
	sb_add(&b, seed->nusers == 0 && seed->mgmt_key == NULL ?
	    "users: []\n" : "users:\n");
	for (i = 0; i < seed->nusers; i++) {
		u = &seed->users[i];
		sb_field(&b, "  - ", "name", u->name);
		if (u->gecos != NULL)
			sb_field(&b, "    ", "gecos", u->gecos);
		/* What students expect (the tiny guest, bashless, uses /bin/sh). */
		sb_field(&b, "    ", "shell", "/bin/bash");
		if (u->passwd_hash != NULL) {
			sb_add(&b, "    lock_passwd: false\n");
			sb_field(&b, "    ", "passwd", u->passwd_hash);
		} else
			sb_add(&b, "    lock_passwd: true\n");
		sb_keys(&b, u->keys, u->nkeys);
	}
	if (seed->mgmt_key != NULL) {
		mgmt[0] = seed->mgmt_key;
		sb_field(&b, "  - ", "name", "root");
		sb_keys(&b, mgmt, 1);
	}
	if (sb_files(&b, seed->files, seed->nfiles) == -1) {
		free(b.p);
		return NULL;
	}
	if (seed->nruncmd > 0)
		sb_add(&b, "runcmd:\n");
	for (i = 0; i < seed->nruncmd; i++)
		sb_item(&b, "  ", seed->runcmd[i]);
	return sb_finish(&b);
}

char *
seed_render_metadata(const struct vmm_seed *seed)
{
	struct sbuf	b = { 0 };

	sb_field(&b, "", "instance-id", seed->instance_id);
	sb_field(&b, "", "local-hostname", seed->hostname);
	return sb_finish(&b);
}

/*
 * network-config.  Every value is parsed and written back from what was
 * parsed, so the file holds only canonical addresses and a lower-case MAC
 * whatever the caller's spelling; they are quoted all the same, as YAML 1.1
 * reads a bare 52:54:00:12:34:56 as a base-60 integer.
 */

/* Not this host, not anyone: 0/8, 127/8, multicast, class E, broadcast. */
static int
net_ip_usable(uint32_t ip)
{
	return (ip >> 24) != 0 && (ip >> 24) != 127 && ip < 0xe0000000u;
}

/* Dotted-quad IPv4 into *ip (host order); inet_pton takes nothing else. */
static int
net_parse_ip(const char *s, uint32_t *ip)
{
	struct in_addr	in;

	if (inet_pton(AF_INET, s, &in) != 1)
		return -1;
	*ip = ntohl(in.s_addr);
	return 0;
}

/* "a.b.c.d/N", N in 0..32 without a sign or leading zero. */
static int
net_parse_cidr(const char *s, uint32_t *ip, unsigned *prefix)
{
	char		 buf[INET_ADDRSTRLEN];
	const char	*slash;
	size_t		 n;

	if ((slash = strchr(s, '/')) == NULL ||
	    (n = slash - s) >= sizeof(buf))
		return -1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (net_parse_ip(buf, ip) == -1)
		return -1;
	s = slash + 1;
	n = strlen(s);
	if (n == 0 || n > 2 || strspn(s, "0123456789") != n ||
	    (n == 2 && s[0] == '0'))
		return -1;
	*prefix = (unsigned)atoi(s);
	return *prefix <= 32 ? 0 : -1;
}

static int
net_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* xx:xx:xx:xx:xx:xx, either case, into out as lower case. */
static int
net_parse_mac(const char *s, char out[18], unsigned *first)
{
	static const char	hex[] = "0123456789abcdef";
	int			hi, lo;
	size_t			i;

	if (strlen(s) != 17)
		return -1;
	for (i = 0; i < 6; i++) {
		if ((hi = net_hexval(s[i * 3])) == -1 ||
		    (lo = net_hexval(s[i * 3 + 1])) == -1 ||
		    (i < 5 && s[i * 3 + 2] != ':'))
			return -1;
		if (i == 0)
			*first = hi << 4 | lo;
		out[i * 3] = hex[hi];
		out[i * 3 + 1] = hex[lo];
		out[i * 3 + 2] = i < 5 ? ':' : '\0';
	}
	return 0;
}

static void
net_ntoa(uint32_t ip, char out[INET_ADDRSTRLEN])
{
	struct in_addr	in = { .s_addr = htonl(ip) };

	inet_ntop(AF_INET, &in, out, INET_ADDRSTRLEN);
}

/* A vmm_net checked and written back in canonical form. */
struct net_canon {
	char	mac[18];			/* "" when none */
	char	addr[INET_ADDRSTRLEN + 3];
	char	gw[INET_ADDRSTRLEN];		/* "" when none */
	char	dns[INET_ADDRSTRLEN];		/* "" when none */
};

static int
net_check(const struct vmm_net *n, struct net_canon *c, char *err,
    size_t errlen)
{
	char		ip[INET_ADDRSTRLEN];
	uint32_t	a, g, d, mask, host;
	unsigned	prefix, first;

	memset(c, 0, sizeof(*c));
	if (n->address == NULL || net_parse_cidr(n->address, &a,
	    &prefix) == -1) {
		snprintf(err, errlen, "network-config: address \"%s\" is not"
		    " IPv4 with a prefix length, like 10.77.0.9/16",
		    n->address != NULL ? n->address : "");
		return -1;
	}
	mask = prefix == 0 ? 0 : 0xffffffffu << (32 - prefix);
	host = a & ~mask;
	if (!net_ip_usable(a)) {
		snprintf(err, errlen, "network-config: address %s is not one a"
		    " guest can have", n->address);
		return -1;
	}
	/* /31 and /32 have no network or broadcast address (RFC 3021). */
	if (prefix <= 30 && (host == 0 || host == ~mask)) {
		snprintf(err, errlen, "network-config: address %s is the"
		    " subnet's %s address", n->address,
		    host == 0 ? "network" : "broadcast");
		return -1;
	}
	net_ntoa(a, ip);
	snprintf(c->addr, sizeof(c->addr), "%s/%u", ip, prefix);

	if (n->gateway != NULL) {
		if (net_parse_ip(n->gateway, &g) == -1 || !net_ip_usable(g)) {
			snprintf(err, errlen, "network-config: gateway \"%s\""
			    " is not a usable IPv4 address", n->gateway);
			return -1;
		}
		/* No on-link route: cloud-init would refuse the gateway. */
		if ((g & mask) != (a & mask) || g == a) {
			snprintf(err, errlen, "network-config: gateway %s is %s"
			    " %s", n->gateway, g == a ? "the address itself," :
			    "not in the subnet of", n->address);
			return -1;
		}
		net_ntoa(g, c->gw);
	}
	if (n->dns != NULL) {
		if (net_parse_ip(n->dns, &d) == -1 || !net_ip_usable(d)) {
			snprintf(err, errlen, "network-config: DNS server \"%s\""
			    " is not a usable IPv4 address", n->dns);
			return -1;
		}
		net_ntoa(d, c->dns);
	}
	if (n->mac != NULL && (net_parse_mac(n->mac, c->mac, &first) == -1 ||
	    (first & 1) != 0)) {
		snprintf(err, errlen, "network-config: MAC \"%s\" is not a"
		    " unicast MAC like 52:54:00:12:34:56", n->mac);
		return -1;
	}
	return 0;
}

char *
seed_render_netconfig(const struct vmm_seed *seed, char *err, size_t errlen)
{
	struct sbuf		b = { 0 };
	struct net_canon	c;

	if (seed->net == NULL) {
		snprintf(err, errlen, "network-config: no network given");
		return NULL;
	}
	if (net_check(seed->net, &c, err, errlen) == -1)
		return NULL;

	sb_add(&b, "version: 2\n");
	sb_add(&b, "ethernets:\n");
	sb_add(&b, "  eth0:\n");
	/* Cloud images name the NIC ens3 or enp0s3: find it by MAC. */
	if (c.mac[0] != '\0') {
		sb_add(&b, "    match:\n");
		sb_field(&b, "      ", "macaddress", c.mac);
		sb_add(&b, "    set-name: eth0\n");
	}
	sb_add(&b, "    addresses:\n");
	sb_item(&b, "      ", c.addr);
	if (c.gw[0] != '\0') {
		sb_add(&b, "    routes:\n");
		sb_field(&b, "      - ", "to", "0.0.0.0/0");
		sb_field(&b, "        ", "via", c.gw);
	}
	if (c.dns[0] != '\0') {
		sb_add(&b, "    nameservers:\n");
		sb_add(&b, "      addresses:\n");
		sb_item(&b, "        ", c.dns);
	}
	if (b.oom) {
		free(b.p);
		snprintf(err, errlen, "network-config: out of memory");
		return NULL;
	}
	return b.p;
}

static int
write_file(const char *path, const char *data, char *err, size_t errlen)
{
	size_t	len = strlen(data), off = 0;
	ssize_t	n;
	int	fd;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600)) == -1)
		goto fail;
	while (off < len) {
		if ((n = write(fd, data + off, len - off)) == -1) {
			if (errno == EINTR)
				continue;
			close(fd);
			goto fail;
		}
		off += n;
	}
	if (close(fd) == -1)
		goto fail;
	return 0;
fail:
	snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
	return -1;
}

int
seed_create(const struct vmm_seed *seed, const char *path, char *err,
    size_t errlen)
{
	char	 dir[PATH_MAX], ud[PATH_MAX], md[PATH_MAX], nc[PATH_MAX];
	char	 iso[PATH_MAX], why[VMM_ERRLEN];
	char	*user = NULL, *meta = NULL, *net = NULL;
	/* network-config, when there is one, goes in the last slot. */
	char	*argv[] = { "genisoimage", "-quiet", "-output", iso, "-volid",
		    "cidata", "-joliet", "-rock", ud, md, NULL, NULL };
	int	 fd, have_dir = 0, have_iso = 0, rc = -1;

	if ((user = seed_render_userdata(seed)) == NULL ||
	    (meta = seed_render_metadata(seed)) == NULL) {
		snprintf(err, errlen, "%s: out of memory, or a write_files"
		    " entry whose path or mode is not allowed", path);
		goto fail;
	}
	if (seed->net != NULL &&
	    (net = seed_render_netconfig(seed, why, sizeof(why))) == NULL) {
		snprintf(err, errlen, "%s: %s", path, why);
		goto fail;
	}
	/* Next to path, so that the final rename stays in one file system. */
	if ((size_t)snprintf(dir, sizeof(dir), "%s.d.XXXXXX", path) >=
	    sizeof(dir) || (size_t)snprintf(iso, sizeof(iso),
	    "%s.tmp.XXXXXX", path) >= sizeof(iso)) {
		snprintf(err, errlen, "%s: path too long", path);
		goto fail;
	}
	if (mkdtemp(dir) == NULL) {
		snprintf(err, errlen, "cannot create a folder next to %s: %s",
		    path, strerror(errno));
		goto fail;
	}
	have_dir = 1;
	vmm_path(ud, sizeof(ud), dir, "user-data");
	vmm_path(md, sizeof(md), dir, "meta-data");
	vmm_path(nc, sizeof(nc), dir, "network-config");
	if (write_file(ud, user, err, errlen) == -1 ||
	    write_file(md, meta, err, errlen) == -1)
		goto fail;
	if (net != NULL) {
		if (write_file(nc, net, err, errlen) == -1)
			goto fail;
		argv[10] = nc;
	}
	/* It holds a password hash: 0600 from mkstemp, kept by genisoimage. */
	if ((fd = mkstemp(iso)) == -1) {
		snprintf(err, errlen, "cannot create a file next to %s: %s",
		    path, strerror(errno));
		goto fail;
	}
	close(fd);
	have_iso = 1;
	if (vmm_run(argv, err, errlen) == -1)
		goto fail;
	if ((fd = open(iso, O_RDONLY | O_CLOEXEC)) != -1) {
		fsync(fd);
		close(fd);
	}
	if (rename(iso, path) == -1) {
		snprintf(err, errlen, "cannot put %s in place: %s", path,
		    strerror(errno));
		goto fail;
	}
	have_iso = 0;
	rc = 0;
fail:
	if (have_iso)
		unlink(iso);
	if (have_dir) {
		unlink(ud);
		unlink(md);
		unlink(nc);
		rmdir(dir);
	}
	free(user);
	free(meta);
	free(net);
	return rc;
}

/* n random bytes, or -1. */
static int
random_bytes(unsigned char *buf, size_t n)
{
	size_t	off = 0;
	ssize_t	r;

	while (off < n) {
		if ((r = getrandom(buf + off, n - off, 0)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		off += r;
	}
	return 0;
}

int
seed_hash_password(const char *password, char *out, size_t outlen)
{
	struct crypt_data	*cd = NULL;
	unsigned char		 rnd[16];
	char			 setting[3 + sizeof(rnd) + 1];
	const char		*h;
	size_t			 i;
	int			 rc = -1;

	if (random_bytes(rnd, sizeof(rnd)) == -1)
		return -1;
	memcpy(setting, "$6$", 3);
	/* 64 characters: a byte modulo 64 is unbiased. */
	for (i = 0; i < sizeof(rnd); i++)
		setting[3 + i] = salt_chars[rnd[i] % 64];
	setting[3 + sizeof(rnd)] = '\0';
	/* struct crypt_data is ~32 KiB: not for a worker thread's stack. */
	if ((cd = calloc(1, sizeof(*cd))) == NULL)
		return -1;
	h = crypt_r(password, setting, cd);
	/* libxcrypt fails with NULL or a string starting with '*'. */
	if (h == NULL || h[0] == '*' || strncmp(h, setting, 3 + 16) != 0) {
		errno = EINVAL;
		goto fail;
	}
	if (strlen(h) >= outlen) {
		errno = ENAMETOOLONG;
		goto fail;
	}
	snprintf(out, outlen, "%s", h);
	rc = 0;
fail:
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
	return rc;
}

/* out has room for len characters and the NUL. */
int
seed_random_password(char *out, size_t len)
{
	const size_t	 n = sizeof(pw_chars) - 1;
	/* The largest multiple of n that fits a byte: no modulo bias. */
	const unsigned	 limit = 256 - 256 % n;
	unsigned char	 rnd[64];
	size_t		 i = 0, j;

	while (i < len) {
		if (random_bytes(rnd, sizeof(rnd)) == -1)
			return -1;
		for (j = 0; j < sizeof(rnd) && i < len; j++)
			if (rnd[j] < limit)
				out[i++] = pw_chars[rnd[j] % n];
	}
	out[len] = '\0';
	explicit_bzero(rnd, sizeof(rnd));
	return 0;
}
