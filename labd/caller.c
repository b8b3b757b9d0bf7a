/* SPDX-License-Identifier: ISC */
/*
 * caller.c - who asked, and the files they name.
 *
 * labd runs as root; whoever drives it through the control socket need
 * not be.  A path a client hands over (a template profile, the disk and
 * kernel it names, an appliance) must therefore open with the client's
 * rights, never labd's: a profile that is a link to /etc/shadow, or that
 * names a root-only disk, is the client's to read only if the client
 * could.  So the file is opened in a child that has taken the client's
 * uid, gid and groups, and that sends the descriptor back over a
 * socketpair (SCM_RIGHTS); labd then reads it by descriptor alone.
 *
 * Only regular files: the open never blocks (O_NONBLOCK: a FIFO named
 * x.ini opens at once and is refused), follows no link at the end of the
 * path (O_NOFOLLOW), and the child that could still hang (a file system
 * that never answers) is killed after a while.  This runs in workers only:
 * nothing a client names is ever opened in the event loop.
 *
 * labd not running as root cannot take another identity.  It then opens
 * the file as itself, and hands it over only when the client could have
 * opened it too as far as modes say: the file readable to them, each
 * folder above it searchable.  Either way, an error quoting a line of a
 * file quotes a file the client may read.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "labd/labd.h"

/* A file system that takes longer than this to open a file is not one. */
#define CALLER_OPEN_MS	10000

/* What the child tells: how far it got, and errno or the file's mode. */
enum open_step {
	OPEN_OK = 0,
	OPEN_IDENTITY,		/* could not become the caller */
	OPEN_FAILED,		/* open(2) said no */
	OPEN_NOT_REGULAR,	/* a FIFO, a device, a folder */
};
struct open_msg {
	int	step;
	int	e;
};

void
caller_init(struct caller *c, uid_t uid, gid_t gid)
{
	struct passwd	 pw, *pwp;
	char		 buf[4096];
	int		 n = LABD_NGROUPS;

	memset(c, 0, sizeof(*c));
	c->uid = uid;
	c->gid = gid;
	if (getpwuid_r(uid, &pw, buf, sizeof(buf), &pwp) != 0 || pwp == NULL ||
	    getgrouplist(pw.pw_name, gid, c->groups, &n) == -1) {
		/* No account, or more groups than we keep: the gid alone. */
		c->groups[0] = gid;
		n = 1;
	}
	c->ngroups = n;
}

const struct vmm_cred *
caller_cred(const struct caller *c, struct vmm_cred *out)
{
	if (geteuid() != 0 || c->uid == 0)
		return NULL;
	out->uid = c->uid;
	out->gid = c->gid;
	out->groups = c->groups;
	out->ngroups = (size_t)c->ngroups;
	return out;
}

static void
open_error(const char *path, const struct open_msg *m, char *err,
    size_t errlen)
{
	if (m->step == OPEN_NOT_REGULAR)
		errf(err, errlen, "%s is not a regular file", path);
	else if (m->step == OPEN_FAILED && m->e == ELOOP)
		errf(err, errlen, "%s is a symbolic link: name the file itself",
		    path);
	else
		errf(err, errlen, "cannot read %s: %s", path, strerror(m->e));
}

/* The open itself, in whatever identity we have; -1 with m filled. */
static int
open_regular(const char *path, struct open_msg *m)
{
	struct stat	st;
	int		fd;

	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC)) == -1) {
		m->step = OPEN_FAILED;
		m->e = errno;
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    fcntl(fd, F_SETFL, 0) == -1) {
		m->step = OPEN_NOT_REGULAR;
		m->e = 0;
		close(fd);
		return -1;
	}
	m->step = OPEN_OK;
	return fd;
}

/*
 * The child: become the caller, open, send the fd or why not.  Only
 * async-signal-safe calls: labd has threads, and this is a copy of one.
 */
static void __attribute__((noreturn))
child_open(const struct caller *c, const char *path, int sock)
{
	struct open_msg	 m = { OPEN_OK, 0 };
	struct msghdr	 msg;
	struct iovec	 iov = { &m, sizeof(m) };
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int))];
	}		 cm;
	struct cmsghdr	*cmsg;
	sigset_t	 all;
	int		 fd = -1;

	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	if (syscall(SYS_setgroups, (size_t)c->ngroups, c->groups) == -1 ||
	    syscall(SYS_setresgid, c->gid, c->gid, c->gid) == -1 ||
	    syscall(SYS_setresuid, c->uid, c->uid, c->uid) == -1) {
		m.step = OPEN_IDENTITY;
		m.e = errno;
	} else
		fd = open_regular(path, &m);
	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	if (fd != -1) {
		memset(&cm, 0, sizeof(cm));
		msg.msg_control = cm.buf;
		msg.msg_controllen = sizeof(cm.buf);
		cmsg = CMSG_FIRSTHDR(&msg);
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		cmsg->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
	}
	_exit(sendmsg(sock, &msg, MSG_NOSIGNAL) == -1 ? 1 : 0);
}

/* The child's answer: the fd, or -1 with m filled. */
static int
open_answer(int sock, struct open_msg *m)
{
	struct msghdr	 msg;
	struct iovec	 iov = { m, sizeof(*m) };
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int))];
	}		 cm;
	struct cmsghdr	*cmsg;
	ssize_t		 n;
	int		 fd = -1;

	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cm.buf;
	msg.msg_controllen = sizeof(cm.buf);
	while ((n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC)) == -1 &&
	    errno == EINTR)
		;
	if (n != (ssize_t)sizeof(*m)) {
		m->step = OPEN_FAILED;
		m->e = n == -1 ? errno : EIO;
		return -1;
	}
	for (cmsg = CMSG_FIRSTHDR(&msg); cmsg != NULL;
	    cmsg = CMSG_NXTHDR(&msg, cmsg))
		if (cmsg->cmsg_level == SOL_SOCKET &&
		    cmsg->cmsg_type == SCM_RIGHTS &&
		    cmsg->cmsg_len == CMSG_LEN(sizeof(int)))
			memcpy(&fd, CMSG_DATA(cmsg), sizeof(int));
	if (m->step == OPEN_OK && fd == -1) {
		m->step = OPEN_FAILED;
		m->e = EIO;
	}
	return m->step == OPEN_OK ? fd : -1;
}

/* path opened in a child that is the caller; -1 with err. */
static int
open_as(const struct caller *c, const char *path, char *err, size_t errlen)
{
	struct open_msg	m = { OPEN_FAILED, EIO };
	struct pollfd	pfd;
	pid_t		pid;
	int		sv[2], fd = -1, status;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1) {
		errf(err, errlen, "cannot open %s: socketpair: %s", path,
		    strerror(errno));
		return -1;
	}
	if ((pid = fork()) == -1) {
		errf(err, errlen, "cannot open %s: fork: %s", path,
		    strerror(errno));
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	if (pid == 0)
		child_open(c, path, sv[1]);
	close(sv[1]);
	pfd.fd = sv[0];
	pfd.events = POLLIN;
	while (poll(&pfd, 1, CALLER_OPEN_MS) == -1 && errno == EINTR)
		;
	if (pfd.revents != 0)
		fd = open_answer(sv[0], &m);
	else
		kill(pid, SIGKILL);
	close(sv[0]);
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		;
	if (pfd.revents == 0)
		errf(err, errlen, "cannot read %s: it did not open within %d s",
		    path, CALLER_OPEN_MS / 1000);
	else if (fd == -1) {
		if (m.step == OPEN_IDENTITY)
			errf(err, errlen, "cannot open %s as uid %d: %s", path,
			    (int)c->uid, strerror(m.e));
		else
			open_error(path, &m, err, errlen);
	}
	return fd;
}

static int
in_groups(const struct caller *c, gid_t gid)
{
	int	i;

	for (i = 0; i < c->ngroups; i++)
		if (c->groups[i] == gid)
			return 1;
	return gid == c->gid;
}

/* The rwx bits of st that apply to the caller: owner, group or other. */
static unsigned
perm_bits(const struct caller *c, const struct stat *st)
{
	if (st->st_uid == c->uid)
		return (st->st_mode >> 6) & 07;
	if (in_groups(c, st->st_gid))
		return (st->st_mode >> 3) & 07;
	return st->st_mode & 07;
}

/*
 * labd as itself: could the caller have opened fd, modes say?  The file
 * readable, each folder above it (by the path it has now) searchable.
 */
static int
may_reach(const struct caller *c, int fd, const char *path, char *err,
    size_t errlen)
{
	struct stat	 st;
	char		 link[64], real[PATH_MAX], *slash;
	ssize_t		 n;

	if (fstat(fd, &st) == -1 || !(perm_bits(c, &st) & 04)) {
		errf(err, errlen, "cannot read %s: %s", path, strerror(EACCES));
		return -1;
	}
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	if ((n = readlink(link, real, sizeof(real) - 1)) == -1) {
		errf(err, errlen, "cannot read %s: %s", path, strerror(errno));
		return -1;
	}
	real[n] = '\0';
	while ((slash = strrchr(real, '/')) != NULL) {
		slash[slash == real ? 1 : 0] = '\0';
		if (stat(real, &st) == -1 || !(perm_bits(c, &st) & 01)) {
			errf(err, errlen, "cannot read %s: %s", path,
			    strerror(EACCES));
			return -1;
		}
		if (slash == real)
			break;
	}
	return 0;
}

int
caller_open(const struct caller *c, const char *path, char *err,
    size_t errlen)
{
	struct open_msg	m;
	int		fd;

	if (c != NULL && geteuid() == 0 && c->uid != 0)
		return open_as(c, path, err, errlen);
	if ((fd = open_regular(path, &m)) == -1) {
		open_error(path, &m, err, errlen);
		return -1;
	}
	if (c != NULL && c->uid != 0 && c->uid != geteuid() &&
	    may_reach(c, fd, path, err, errlen) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}
