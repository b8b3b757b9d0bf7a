/* SPDX-License-Identifier: ISC */
/*
 * untar.c - unpacking a guest's tar stream under one folder, and nowhere
 * else, whatever the stream says.
 *
 * The stream comes from a guest a student had root in, so every header
 * is hostile until checked.  We parse it ourselves rather than hand it
 * to tar(1): what may be written is then a short list we can read, not
 * a tool's options and version.  The rules:
 *
 *  - a name is made relative: "./" in front is dropped, an absolute
 *    name, a ".." component or an empty one after cleaning is refused;
 *  - only regular files and folders are made.  Links (soft and hard),
 *    devices and FIFOs are skipped and said so; since no link is ever
 *    made, no later name can go through one;
 *  - every folder on the way is opened from the root's descriptor one
 *    component at a time with O_NOFOLLOW, and a file is made with
 *    O_NOFOLLOW too: even a link there before us is not followed;
 *  - a mode keeps its rwx bits only (no set-id, no sticky bit); a folder
 *    keeps rwx for its owner, so that the instructor can read and remove
 *    what was collected;
 *  - the file data are capped as a whole (max_bytes).
 *
 * Times are set on each file once written, and on the folders at the end
 * (a file made in a folder changes its time).  POSIX ustar, GNU long
 * names ('L') and pax headers (path, size, mtime) are understood: busybox
 * and GNU tar write those.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto/untar.h"

#define UNTAR_BLOCK	512
#define UNTAR_META_MAX	(64 * 1024)	/* a long name or a pax header */

struct untar_dir {
	char		*path;
	mode_t		 mode;
	long long	 mtime;
};

struct untar {
	const struct untar_opts	*o;
	struct untar_result	*res;
	char			 longname[PATH_MAX];	/* 'L' or pax path */
	long long		 pax_size, pax_mtime;
	int			 has_longname, has_size, has_mtime;
	struct untar_dir	*dirs;
	size_t			 ndirs;
	char			*err;
	size_t			 errlen;
};

/* n bytes, all of them; -1 when the stream broke or ended first. */
static int
untar_read(struct untar *u, void *buf, size_t n)
{
	char	*p = buf;
	ssize_t	 r;

	while (n > 0) {
		if ((r = u->o->rd(u->o->rd_arg, p, n)) <= 0) {
			if (r == 0)
				snprintf(u->err, u->errlen, "the tar stream"
				    " ended in the middle of an entry");
			else
				snprintf(u->err, u->errlen, "%s",
				    u->o->rd_err(u->o->rd_arg));
			return -1;
		}
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

/* n bytes read and dropped. */
static int
untar_discard(struct untar *u, long long left)
{
	char		buf[16 * UNTAR_BLOCK];
	size_t		n;

	while (left > 0) {
		n = left < (long long)sizeof(buf) ? (size_t)left : sizeof(buf);
		if (untar_read(u, buf, n) == -1)
			return -1;
		left -= (long long)n;
	}
	return 0;
}

/* An entry's data and its padding to the block, read and dropped. */
static int
untar_skip(struct untar *u, long long size)
{
	return untar_discard(u, (size + UNTAR_BLOCK - 1) / UNTAR_BLOCK *
	    UNTAR_BLOCK);
}

/* What was not unpacked, counted, and the first ones said. */
static void
untar_note(struct untar *u, const char *name, const char *why)
{
	size_t	n = strlen(u->res->notes);

	u->res->skipped++;
	if (n + 4 >= sizeof(u->res->notes))
		return;
	snprintf(u->res->notes + n, sizeof(u->res->notes) - n, "%s%s: %s",
	    n > 0 ? "; " : "", name, why);
}

/* An octal field, or GNU's base-256 for big numbers; -1 when bad. */
static long long
untar_number(const unsigned char *f, size_t len)
{
	long long	v = 0;
	size_t		i = 0;

	if (f[0] & 0x80) {
		if (f[0] != 0x80)
			return -1;	/* negative, or too big for us */
		for (i = 1; i < len; i++) {
			if (v > (LLONG_MAX >> 8))
				return -1;
			v = v << 8 | f[i];
		}
		return v;
	}
	while (i < len && f[i] == ' ')
		i++;
	for (; i < len && f[i] >= '0' && f[i] <= '7'; i++) {
		if (v > (LLONG_MAX >> 3))
			return -1;
		v = v << 3 | (f[i] - '0');
	}
	if (i < len && f[i] != ' ' && f[i] != '\0')
		return -1;
	return v;
}

int
untar_path_clean(const char *in, char *out, size_t outlen)
{
	const char	*p = in, *q;
	size_t		 len, used = 0;

	if (in[0] == '/')
		return -1;
	out[0] = '\0';
	for (; *p != '\0'; p = q) {
		while (*p == '/')
			p++;
		q = p + strcspn(p, "/");
		len = (size_t)(q - p);
		if (len == 0 || (len == 1 && p[0] == '.'))
			continue;
		if (len == 2 && p[0] == '.' && p[1] == '.')
			return -1;
		if (used + len + 2 > outlen)
			return -1;
		if (used > 0)
			out[used++] = '/';
		memcpy(out + used, p, len);
		used += len;
		out[used] = '\0';
	}
	return used == 0 ? 1 : 0;
}

/*
 * The folder that holds path's last component, made where missing and
 * opened one component at a time without following a link: a new
 * descriptor, *leaf pointing into path.  -1 with errno.
 */
static int
untar_parent(int root, char *path, char **leaf)
{
	char	*p = path, *slash;
	int	 dfd, nfd;

	if ((dfd = dup(root)) == -1)
		return -1;
	while ((slash = strchr(p, '/')) != NULL) {
		*slash = '\0';
		if (mkdirat(dfd, p, 0700) == -1 && errno != EEXIST)
			goto fail;
		nfd = openat(dfd, p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
		    O_CLOEXEC);
		if (nfd == -1)
			goto fail;
		*slash = '/';
		close(dfd);
		dfd = nfd;
		p = slash + 1;
	}
	*leaf = p;
	return dfd;
fail:
	*slash = '/';
	nfd = errno;
	close(dfd);
	errno = nfd;
	return -1;
}

static int
untar_file(struct untar *u, const char *path, long long size, mode_t mode,
    long long mtime)
{
	char		 buf[16 * UNTAR_BLOCK], sum[65], rel[PATH_MAX], *leaf;
	char		 shown[PATH_MAX + 1];
	struct sha256	 sha;
	struct timespec	 ts[2];
	long long	 left = size, pad;
	size_t		 n;
	int		 dfd, fd;

	snprintf(rel, sizeof(rel), "%s", path);
	if (u->res->bytes + size > u->o->max_bytes) {
		snprintf(u->err, u->errlen, "over the cap of %lld bytes"
		    " (--max-size)", u->o->max_bytes);
		return -1;
	}
	if ((dfd = untar_parent(u->o->dirfd, rel, &leaf)) == -1 ||
	    (fd = openat(dfd, leaf, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW |
	    O_CLOEXEC, 0600)) == -1) {
		untar_note(u, path, strerror(errno));
		if (dfd != -1)
			close(dfd);
		return untar_skip(u, size);
	}
	close(dfd);
	sha256_init(&sha);
	while (left > 0) {
		n = left < (long long)sizeof(buf) ? (size_t)left : sizeof(buf);
		if (untar_read(u, buf, n) == -1)
			goto fail;
		if (write(fd, buf, n) != (ssize_t)n) {
			snprintf(u->err, u->errlen, "cannot write %s: %s", path,
			    strerror(errno ? errno : ENOSPC));
			goto fail;
		}
		sha256_update(&sha, buf, n);
		left -= (long long)n;
	}
	if ((pad = (UNTAR_BLOCK - size % UNTAR_BLOCK) % UNTAR_BLOCK) > 0 &&
	    untar_read(u, buf, (size_t)pad) == -1)
		goto fail;
	ts[0].tv_sec = ts[1].tv_sec = (time_t)mtime;
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	if (fchmod(fd, mode & 0777) == -1 || futimens(fd, ts) == -1 ||
	    close(fd) == -1) {
		snprintf(u->err, u->errlen, "cannot finish %s: %s", path,
		    strerror(errno));
		return -1;
	}
	sha256_hex(&sha, sum);
	u->res->files++;
	u->res->bytes += size;
	snprintf(shown, sizeof(shown), "/%s", path);
	if (u->o->on_file != NULL)
		u->o->on_file(u->o->file_arg, shown, size, sum);
	return 0;
fail:
	close(fd);
	return -1;
}

static int
untar_dir(struct untar *u, const char *path, mode_t mode, long long mtime)
{
	char	 rel[PATH_MAX], *leaf;
	int	 dfd, fd = -1;

	snprintf(rel, sizeof(rel), "%s", path);
	if ((dfd = untar_parent(u->o->dirfd, rel, &leaf)) == -1 ||
	    (mkdirat(dfd, leaf, 0700) == -1 && errno != EEXIST) ||
	    (fd = openat(dfd, leaf, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1) {
		untar_note(u, path, strerror(errno));
		if (dfd != -1)
			close(dfd);
		return 0;
	}
	close(fd);
	close(dfd);
	u->dirs = realloc(u->dirs, (u->ndirs + 1) * sizeof(*u->dirs));
	if (u->dirs == NULL || (u->dirs[u->ndirs].path = strdup(path)) ==
	    NULL) {
		snprintf(u->err, u->errlen, "out of memory");
		return -1;
	}
	u->dirs[u->ndirs].mode = mode;
	u->dirs[u->ndirs++].mtime = mtime;
	return 0;
}

/* The folders' modes and times, now that nothing more goes in them. */
static void
untar_dirs_finish(struct untar *u)
{
	struct timespec	 ts[2];
	char		 rel[PATH_MAX], *leaf;
	size_t		 i;
	int		 dfd, fd;

	for (i = u->ndirs; i-- > 0; ) {
		snprintf(rel, sizeof(rel), "%s", u->dirs[i].path);
		if ((dfd = untar_parent(u->o->dirfd, rel, &leaf)) == -1)
			continue;
		fd = openat(dfd, leaf, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
		    O_CLOEXEC);
		close(dfd);
		if (fd == -1)
			continue;
		ts[0].tv_sec = ts[1].tv_sec = (time_t)u->dirs[i].mtime;
		ts[0].tv_nsec = ts[1].tv_nsec = 0;
		(void)fchmod(fd, (u->dirs[i].mode & 0777) | 0700);
		(void)futimens(fd, ts);
		close(fd);
	}
}

/* A pax header's records: path, size and mtime, for the next entry. */
static int
untar_pax(struct untar *u, long long size)
{
	char		*buf, *p, *end, *kv, *eq, *rec;
	long long	 len;

	if (size > UNTAR_META_MAX) {
		snprintf(u->err, u->errlen, "a pax header of %lld bytes", size);
		return -1;
	}
	if ((buf = malloc((size_t)size + 1)) == NULL) {
		snprintf(u->err, u->errlen, "out of memory");
		return -1;
	}
	if (untar_read(u, buf, (size_t)size) == -1 ||
	    untar_discard(u, (UNTAR_BLOCK - size % UNTAR_BLOCK) %
	    UNTAR_BLOCK) == -1) {
		free(buf);
		return -1;
	}
	buf[size] = '\0';
	for (p = buf, end = buf + size; p < end; p = rec + len) {
		rec = p;
		if (*p < '0' || *p > '9')
			break;		/* strtoll would skip blanks, signs */
		len = strtoll(p, &kv, 10);
		if (*kv != ' ' || len > end - rec || kv - rec + 1 >= len ||
		    rec[len - 1] != '\n')
			break;
		rec[len - 1] = '\0';
		kv++;
		if ((eq = strchr(kv, '=')) == NULL)
			continue;
		*eq++ = '\0';
		if (strcmp(kv, "path") == 0) {
			snprintf(u->longname, sizeof(u->longname), "%s", eq);
			u->has_longname = 1;
		} else if (strcmp(kv, "size") == 0) {
			u->pax_size = strtoll(eq, NULL, 10);
			u->has_size = u->pax_size >= 0;
		} else if (strcmp(kv, "mtime") == 0) {
			u->pax_mtime = strtoll(eq, NULL, 10);
			u->has_mtime = 1;
		}
	}
	free(buf);
	return 0;
}

/* A GNU long name: the next entry's name. */
static int
untar_longname(struct untar *u, long long size)
{
	if (size <= 0 || size >= (long long)sizeof(u->longname)) {
		snprintf(u->err, u->errlen, "a long name of %lld bytes", size);
		return -1;
	}
	if (untar_read(u, u->longname, (size_t)size) == -1 ||
	    untar_discard(u, (UNTAR_BLOCK - size % UNTAR_BLOCK) %
	    UNTAR_BLOCK) == -1)
		return -1;
	u->longname[size] = '\0';
	u->has_longname = 1;
	return 0;
}

/* The header's checksum: the bytes' sum, the field counted as spaces. */
static int
untar_sum_ok(const unsigned char *h)
{
	long long	want = untar_number(h + 148, 8);
	long long	sum = 0;
	int		i;

	for (i = 0; i < UNTAR_BLOCK; i++)
		sum += (i >= 148 && i < 156) ? ' ' : h[i];
	return want == sum;
}

int
untar_run(const struct untar_opts *o, struct untar_result *res, char *err,
    size_t errlen)
{
	struct untar	 u = { .o = o, .res = res, .err = err,
			    .errlen = errlen };
	unsigned char	 h[UNTAR_BLOCK];
	char		 name[PATH_MAX], clean[PATH_MAX];
	long long	 size, mtime, mode;
	size_t		 i;
	int		 rc = -1, zeros;

	memset(res, 0, sizeof(*res));
	for (;;) {
		if (untar_read(&u, h, sizeof(h)) == -1)
			goto done;
		for (i = 0, zeros = 1; i < sizeof(h) && zeros; i++)
			zeros = h[i] == 0;
		if (zeros)
			break;	/* the end; what follows is padding */
		if (!untar_sum_ok(h)) {
			snprintf(err, errlen, "not a tar stream (a header's"
			    " checksum is wrong)");
			goto done;
		}
		size = u.has_size ? u.pax_size : untar_number(h + 124, 12);
		mtime = u.has_mtime ? u.pax_mtime : untar_number(h + 136, 12);
		mode = untar_number(h + 100, 8);
		if (size < 0 || mtime < 0 || mode < 0) {
			snprintf(err, errlen, "a tar header with a bad size,"
			    " time or mode");
			goto done;
		}
		if (h[156] == 'L' || h[156] == 'x') {
			if ((h[156] == 'L' ? untar_longname(&u, size) :
			    untar_pax(&u, size)) == -1)
				goto done;
			continue;
		}
		if (u.has_longname)
			snprintf(name, sizeof(name), "%s", u.longname);
		else if (memcmp(h + 257, "ustar\0", 6) == 0 && h[345] != '\0')
			snprintf(name, sizeof(name), "%.155s/%.100s",
			    (char *)h + 345, (char *)h + 0);
		else
			snprintf(name, sizeof(name), "%.100s", (char *)h);
		u.has_longname = u.has_size = u.has_mtime = 0;
		switch (h[156]) {
		case '0':
		case '\0':
		case '7':
		case '5':
			break;
		case 'g':
		case 'K':
			if (untar_skip(&u, size) == -1)
				goto done;
			continue;
		default:
			untar_note(&u, name, h[156] == '2' ?
			    "a symbolic link, not followed" : h[156] == '1' ?
			    "a hard link, skipped" : "not a file or folder,"
			    " skipped");
			if (untar_skip(&u, h[156] == '1' || h[156] == '2' ? 0 :
			    size) == -1)
				goto done;
			continue;
		}
		if ((i = (size_t)untar_path_clean(name, clean,
		    sizeof(clean))) == (size_t)-1) {
			untar_note(&u, name, "refused (absolute, or a"
			    " .. in it)");
			if (untar_skip(&u, size) == -1)
				goto done;
			continue;
		}
		if (h[156] == '5') {
			/* "./" is the root itself; a folder's data, none. */
			if ((i == 0 && untar_dir(&u, clean, (mode_t)mode,
			    mtime) == -1) || untar_skip(&u, size) == -1)
				goto done;
		} else if (i == 1) {
			untar_note(&u, name, "a file without a name, skipped");
			if (untar_skip(&u, size) == -1)
				goto done;
		} else if (untar_file(&u, clean, size, (mode_t)mode, mtime) ==
		    -1)
			goto done;
	}
	rc = 0;
done:
	untar_dirs_finish(&u);
	for (i = 0; i < u.ndirs; i++)
		free(u.dirs[i].path);
	free(u.dirs);
	return rc;
}

/* A CSV field, quoted when it must be (a guest names its files). */
static void
csv_field(FILE *f, const char *s)
{
	if (strpbrk(s, ",\"\r\n") == NULL) {
		fputs(s, f);
		return;
	}
	putc('"', f);
	for (; *s != '\0'; s++) {
		if (*s == '"')
			putc('"', f);
		putc(*s, f);
	}
	putc('"', f);
}

void
untar_manifest_row(FILE *f, const char *student, const char *vm,
    const char *path, long long bytes, const char *sum)
{
	csv_field(f, student);
	putc(',', f);
	csv_field(f, vm);
	putc(',', f);
	csv_field(f, path);
	fprintf(f, ",%lld,%s\n", bytes, sum);
}
