/* SPDX-License-Identifier: ISC */
/*
 * util.c - allocation that cannot fail, files written atomically, and
 * running a child with an argv array (never a shell).
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "labd/labd.h"

void *
xmalloc(size_t n)
{
	void	*p = malloc(n ? n : 1);

	if (p == NULL)
		fatal("malloc %zu", n);
	return p;
}

void *
xcalloc(size_t n, size_t size)
{
	void	*p = calloc(n ? n : 1, size ? size : 1);

	if (p == NULL)
		fatal("calloc %zu*%zu", n, size);
	return p;
}

void *
xrealloc(void *p, size_t n)
{
	if ((p = realloc(p, n ? n : 1)) == NULL)
		fatal("realloc %zu", n);
	return p;
}

char *
xstrdup(const char *s)
{
	char	*p = strdup(s);

	if (p == NULL)
		fatal("strdup");
	return p;
}

char *
xasprintf(const char *fmt, ...)
{
	va_list	 ap;
	char	*s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) == -1)
		fatal("vasprintf");
	va_end(ap);
	return s;
}

void
errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list	ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

int64_t
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
file_exists(const char *path)
{
	return access(path, F_OK) == 0;
}

int
mkdir_p(const char *path, mode_t mode)
{
	char	buf[PATH_MAX], *p;

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (p = buf + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, mode) == -1 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(buf, mode) == -1 && errno != EEXIST)
		return -1;
	return 0;
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path) == -1 && errno != ENOENT ? -1 : 0;
}

/*
 * A folder only labd may change: its sockets and pidfiles live there,
 * and a folder someone else can write is one where they can plant a
 * symlink under the name of a socket labd is about to chown, or replace
 * the socket with their own.  The folder is opened and its owner and
 * mode checked on the open descriptor, so that what was checked is what
 * the caller then works in (fchownat, fstatat).
 */
int
dir_private_open(const char *path, const char *what, char *err,
    size_t errlen)
{
	struct stat	 st;
	struct passwd	*pw;
	char		 owner[64];
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		errf(err, errlen, "%s %s: %s", what, path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1) {
		errf(err, errlen, "%s %s: %s", what, path, strerror(errno));
		close(fd);
		return -1;
	}
	if (st.st_uid == geteuid() && (st.st_mode & (S_IWGRP | S_IWOTH)) == 0)
		return fd;
	if ((pw = getpwuid(st.st_uid)) != NULL)
		snprintf(owner, sizeof(owner), "%u (%s)", (unsigned)st.st_uid,
		    pw->pw_name);
	else
		snprintf(owner, sizeof(owner), "%u", (unsigned)st.st_uid);
	errf(err, errlen, "%s %s is owned by uid %s with mode %04o: labd"
	    " (uid %u) must own it and nobody else may write to it (%s%s%s)",
	    what, path, owner, (unsigned)(st.st_mode & 07777),
	    (unsigned)geteuid(), st.st_uid != geteuid() ? "chown it to"
	    " labd's user" : "", st.st_uid != geteuid() &&
	    (st.st_mode & (S_IWGRP | S_IWOTH)) ? ", " : "",
	    (st.st_mode & (S_IWGRP | S_IWOTH)) ? "chmod go-w it" : "");
	close(fd);
	return -1;
}

/* nftw with FTW_PHYS never follows a link out of the tree being removed. */
int
rm_rf(const char *path)
{
	if (!file_exists(path))
		return 0;
	return nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

char *
file_read(const char *path, size_t max, size_t *lenp, char *err, size_t errlen)
{
	char	*buf = NULL;
	size_t	 len = 0, cap = 0;
	ssize_t	 n;
	int	 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		errf(err, errlen, "cannot open %s: %s", path, strerror(errno));
		return NULL;
	}
	for (;;) {
		if (len + 1 >= cap) {
			cap = cap ? cap * 2 : 8192;
			buf = xrealloc(buf, cap);
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			errf(err, errlen, "cannot read %s: %s", path,
			    strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;
		len += n;
		if (len > max) {
			errf(err, errlen, "%s is larger than %zu bytes", path,
			    max);
			goto fail;
		}
	}
	close(fd);
	buf[len] = '\0';
	if (lenp != NULL)
		*lenp = len;
	return buf;
fail:
	close(fd);
	free(buf);
	return NULL;
}

static int
write_all(int fd, const void *buf, size_t len)
{
	const char	*p = buf;
	ssize_t		 n;

	while (len > 0) {
		if ((n = write(fd, p, len)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= n;
	}
	return 0;
}

/* Write to PATH.tmp.PID, fsync, rename: readers see all or nothing. */
int
file_write_atomic(const char *path, const void *buf, size_t len, mode_t mode,
    char *err, size_t errlen)
{
	char	tmp[PATH_MAX];
	int	fd;

	snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    mode)) == -1) {
		errf(err, errlen, "cannot create %s: %s", tmp, strerror(errno));
		return -1;
	}
	if (write_all(fd, buf, len) == -1 || fsync(fd) == -1) {
		errf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
		goto fail;
	}
	close(fd);
	if (rename(tmp, path) == -1) {
		errf(err, errlen, "cannot rename %s: %s", tmp, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
fail:
	close(fd);
	unlink(tmp);
	return -1;
}

int
file_copy(const char *from, const char *to, mode_t mode, char *err,
    size_t errlen)
{
	int	in, rc;

	if ((in = open(from, O_RDONLY | O_CLOEXEC)) == -1) {
		errf(err, errlen, "cannot open %s: %s", from, strerror(errno));
		return -1;
	}
	rc = file_copy_fd(in, from, to, mode, err, errlen);
	close(in);
	return rc;
}

int
file_copy_fd(int in, const char *from, const char *to, mode_t mode,
    char *err, size_t errlen)
{
	char	tmp[PATH_MAX], buf[1 << 16];
	int	out = -1;
	ssize_t	n;

	snprintf(tmp, sizeof(tmp), "%s.tmp.%d", to, (int)getpid());
	if ((out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600)) == -1) {
		errf(err, errlen, "cannot create %s: %s", tmp, strerror(errno));
		goto fail;
	}
	while ((n = read(in, buf, sizeof(buf))) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 || write_all(out, buf, n) == -1) {
			errf(err, errlen, "cannot copy %s to %s: %s", from, tmp,
			    strerror(errno));
			goto fail;
		}
	}
	if (fchmod(out, mode) == -1 || fsync(out) == -1 || close(out) == -1) {
		out = -1;
		errf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
		goto fail;
	}
	out = -1;
	if (rename(tmp, to) == -1) {
		errf(err, errlen, "cannot rename %s: %s", tmp, strerror(errno));
		goto fail;
	}
	return 0;
fail:
	if (out != -1)
		close(out);
	unlink(tmp);
	return -1;
}

/*
 * Run argv[0] (found in PATH) with stdin from /dev/null; stdout goes to
 * out, stderr to err when the child fails.  0 when it exits 0.
 */
int
run_capture(char *const argv[], char *out, size_t outlen, char *err,
    size_t errlen)
{
	int	 po[2], pe[2], status;
	char	 ebuf[2048];
	size_t	 olen = 0, elen = 0;
	pid_t	 pid;

	if (pipe2(po, O_CLOEXEC) == -1)
		goto syserr;
	if (pipe2(pe, O_CLOEXEC) == -1) {
		close(po[0]);
		close(po[1]);
		goto syserr;
	}
	if ((pid = fork()) == -1) {
		close(po[0]); close(po[1]); close(pe[0]); close(pe[1]);
		goto syserr;
	}
	if (pid == 0) {
		int	null = open("/dev/null", O_RDONLY);

		dup2(null, 0);
		dup2(po[1], 1);
		dup2(pe[1], 2);
		execvp(argv[0], argv);
		dprintf(2, "cannot run %s: %s", argv[0], strerror(errno));
		_exit(127);
	}
	close(po[1]);
	close(pe[1]);
	{
		struct pollfd	pfd[2] = { { po[0], POLLIN, 0 },
					   { pe[0], POLLIN, 0 } };
		int		open_fds = 2;
		char		junk[4096];

		while (open_fds > 0) {
			if (poll(pfd, 2, -1) == -1) {
				if (errno == EINTR)
					continue;
				break;
			}
			for (int i = 0; i < 2; i++) {
				char	*dst;
				size_t	 room, *used;
				ssize_t	 n;

				if (pfd[i].fd == -1 || pfd[i].revents == 0)
					continue;
				used = i == 0 ? &olen : &elen;
				dst = i == 0 ? out : ebuf;
				room = i == 0 ? outlen : sizeof(ebuf);
				if (dst != NULL && *used + 1 < room)
					n = read(pfd[i].fd, dst + *used,
					    room - *used - 1);
				else
					n = read(pfd[i].fd, junk, sizeof(junk));
				if (n <= 0) {
					close(pfd[i].fd);
					pfd[i].fd = -1;
					open_fds--;
				} else if (dst != NULL && *used + 1 < room)
					*used += n;
			}
		}
	}
	if (out != NULL && outlen > 0)
		out[olen] = '\0';
	ebuf[elen] = '\0';
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR)
			goto syserr;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	while (elen > 0 && (ebuf[elen - 1] == '\n' || ebuf[elen - 1] == ' '))
		ebuf[--elen] = '\0';
	if (WIFEXITED(status))
		errf(err, errlen, "%s failed (exit %d): %s", argv[0],
		    WEXITSTATUS(status), ebuf);
	else
		errf(err, errlen, "%s killed by signal %d", argv[0],
		    WTERMSIG(status));
	return -1;
syserr:
	errf(err, errlen, "cannot run %s: %s", argv[0], strerror(errno));
	return -1;
}

/*
 * Replace every byte that is not part of a valid UTF-8 sequence by '?'
 * and return how many there were.  Messages travel in JSON, and a value
 * quoted back with "%.64s" may have been cut inside a character.
 */
size_t
utf8_scrub(char *str)
{
	unsigned char	*s = (unsigned char *)str;
	size_t		 bad = 0, n, k;
	uint32_t	 cp;

	while (*s != '\0') {
		if (*s < 0x80) {
			s++;
			continue;
		}
		n = (*s & 0xe0) == 0xc0 ? 1 : (*s & 0xf0) == 0xe0 ? 2 :
		    (*s & 0xf8) == 0xf0 ? 3 : 0;
		cp = *s & (0x3f >> n);
		for (k = 1; n > 0 && k <= n; k++) {
			if ((s[k] & 0xc0) != 0x80) {
				n = 0;
				break;
			}
			cp = cp << 6 | (s[k] & 0x3f);
		}
		/* No overlong forms, no surrogates, nothing past U+10FFFF. */
		if (n == 0 || (n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) ||
		    (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff)) {
			*s++ = '?';
			bad++;
			continue;
		}
		s += n + 1;
	}
	return bad;
}

int
tcp_listen(const char *ip, uint16_t port, int flags, int backlog, char *err,
    size_t errlen)
{
	struct sockaddr_in	sin = { .sin_family = AF_INET };
	int			fd, one = 1;

	sin.sin_port = htons(port);
	if (inet_pton(AF_INET, ip, &sin.sin_addr) != 1) {
		errf(err, errlen, "%s is not an IPv4 address", ip);
		return -1;
	}
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | flags, 0)) ==
	    -1) {
		errf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1 ||
	    bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(fd, backlog) == -1) {
		errf(err, errlen, "%s:%u: %s", ip, port, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}
