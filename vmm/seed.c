/*
 * seed.c - the cloud-init NoCloud seed: an ISO 9660 image labelled
 * "cidata" with user-data and meta-data, and the passwords that go in it.
 *
 * The YAML is written by hand in one fixed shape, not by a YAML library:
 * the tiny template's boot script reads exactly this subset, and cloud
 * images read it with a real parser.  So every scalar from outside is a
 * double-quoted string in which only backslash and double quote are
 * escaped; bytes a YAML parser refuses (control characters, malformed
 * UTF-8 as from a Latin-1 roster) are replaced rather than escaped, as a
 * seed that does not parse would leave the student with no account at all.
 */
#include <sys/random.h>
#include <sys/stat.h>

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
	/* A bare "users:" is null: cloud-init would make its default user. */
	sb_add(&b, seed->nusers == 0 && seed->mgmt_key == NULL ?
	    "users: []\n" : "users:\n");
	for (i = 0; i < seed->nusers; i++) {
		u = &seed->users[i];
		sb_field(&b, "  - ", "name", u->name);
		if (u->gecos != NULL)
			sb_field(&b, "    ", "gecos", u->gecos);
		sb_field(&b, "    ", "shell", "/bin/sh");
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
	char	 dir[PATH_MAX], ud[PATH_MAX], md[PATH_MAX], iso[PATH_MAX];
	char	*user = NULL, *meta = NULL;
	char	*argv[] = { "genisoimage", "-quiet", "-output", iso, "-volid",
		    "cidata", "-joliet", "-rock", ud, md, NULL };
	int	 fd, have_dir = 0, have_iso = 0, rc = -1;

	if ((user = seed_render_userdata(seed)) == NULL ||
	    (meta = seed_render_metadata(seed)) == NULL) {
		snprintf(err, errlen, "%s: out of memory", path);
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
	if (write_file(ud, user, err, errlen) == -1 ||
	    write_file(md, meta, err, errlen) == -1)
		goto fail;
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
		rmdir(dir);
	}
	free(user);
	free(meta);
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
