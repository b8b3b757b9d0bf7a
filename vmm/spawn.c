/* SPDX-License-Identifier: ISC */
/*
 * spawn.c - starting QEMU so that it outlives labd, as a user of its own.
 *
 * QEMU's own -daemonize and -runas need fork(), setsid() and setuid()
 * after its seccomp filter is in place, so with them the sandbox has to
 * allow spawning and privilege changes.  We do both ourselves instead and
 * exec QEMU already unprivileged, which lets the sandbox deny them:
 *
 *   worker ── fork ─> middle: setsid(), fork ─> QEMU: joins its cgroup,
 *                                                takes its uid, gid and
 *                                                groups, exec
 *            middle: waits until QEMU's monitor answers (set up) or QEMU
 *                    exits, reports which through a pipe, exits
 *
 * The middle process plays the part of -daemonize's first process: it is
 * the one that knows QEMU's exit status when QEMU fails to start, and it
 * goes away once QEMU runs, so that QEMU is re-parented and outlives us.
 * Both children come from a multi-threaded process and do only
 * async-signal-safe work (the privilege calls are raw system calls, so
 * that no library code runs that might take a lock another thread held).
 *
 * Files QEMU would open by name as root are opened here, in the caller,
 * and handed over at fixed numbers (vmm_int.h: VMM_FD_*): the disk
 * (read-write and read-only), the seed, the serial log and the tap.
 */
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <linux/if.h>
#include <linux/if_tun.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vmm/vmm.h"
#include "vmm/vmm_int.h"

/* How long QEMU may take to set up before its monitor answers. */
#define SPAWN_TIMEOUT_MS	60000
/* Descriptors are lifted above this before they are put in place. */
#define FD_STAGE		32
#define MAX_GROUPS		16

/* What the middle process tells the worker. */
enum { SPAWN_READY = 1, SPAWN_EXITED, SPAWN_EXEC_FAILED, SPAWN_TIMEOUT,
	SPAWN_FORK_FAILED };

struct spawn_report {
	int	what;
	pid_t	pid;
	int	status;		/* wait status (EXITED) or errno */
};

/* Everything the children need, ready before fork(). */
struct spawn_ctx {
	char *const		*argv;
	int			 nullfd, logfd;
	int			 cgfds[1 + VMM_CGROUPS_MAX];	/* cgroup.procs */
	size_t			 ncg;
	int			 fds[VMM_FD_COUNT];	/* VMM_FD_DISK_RW.. or -1 */
	int			 switch_user;
	uid_t			 uid;
	gid_t			 gid;
	gid_t			 groups[MAX_GROUPS];
	size_t			 ngroups;
	mode_t			 umask;
	struct sockaddr_un	 qmp;			/* qmp-ctl.sock */
};

static long long
mono_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
report(int fd, int what, pid_t pid, int status)
{
	struct spawn_report	r = { what, pid, status };

	if (write(fd, &r, sizeof(r)) != (ssize_t)sizeof(r))
		_exit(1);
}

/* QEMU's side: cgroup, descriptors, user, exec.  Never returns. */
static void
child_qemu(const struct spawn_ctx *c, int status)
{
	int	src[4 + VMM_FD_COUNT], n = 4 + VMM_FD_COUNT, i, e;
	size_t	k;

	/* Into each group while still root: "0" is the writer itself. */
	for (k = 0; k < c->ncg; k++)
		if (write(c->cgfds[k], "0\n", 2) != 2)
			goto fail;
	/* Lift every descriptor out of the way, then put each in place. */
	src[0] = c->nullfd;
	src[1] = c->logfd;
	src[2] = c->logfd;
	src[3] = status;
	for (i = 0; i < VMM_FD_COUNT; i++)
		src[4 + i] = c->fds[i];
	for (i = 0; i < n; i++)
		if (src[i] != -1 &&
		    (src[i] = fcntl(src[i], F_DUPFD, FD_STAGE)) == -1)
			goto fail;
	for (i = 0; i < n; i++) {
		if (src[i] == -1)
			continue;
		if (dup2(src[i], i) == -1)
			goto fail;
	}
	status = 3;
	if (fcntl(3, F_SETFD, FD_CLOEXEC) == -1)
		goto fail;
	for (i = 4; i < n; i++)
		if (src[i] == -1)
			close(i);
	if (close_range(n, ~0U, 0) == -1)
		for (i = n; i < 65536; i++)
			close(i);
	if (c->switch_user) {
		if (syscall(SYS_setgroups, c->ngroups, c->groups) == -1 ||
		    syscall(SYS_setresgid, c->gid, c->gid, c->gid) == -1 ||
		    syscall(SYS_setresuid, c->uid, c->uid, c->uid) == -1)
			goto fail;
	}
	umask(c->umask);
	execvp(c->argv[0], c->argv);
fail:
	e = errno;
	if (write(status, &e, sizeof(e)) == -1)
		_exit(127);
	_exit(127);
}

/*
 * Does QEMU's monitor on c->qmp answer query-status?  Not its greeting:
 * that comes before the machine is made (a missing kernel fails after
 * it), a reply only once QEMU's main loop runs.  Async-signal-safe.
 */
static int
answers(const struct spawn_ctx *c)
{
	static const char	 ask[] = "{\"execute\":\"qmp_capabilities\"}\n"
				    "{\"execute\":\"query-status\"}\n";
	struct pollfd		 pfd;
	char			 buf[2048];
	size_t			 len = 0;
	ssize_t			 n;
	int			 fd, ok = 0, tries;

	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return 0;
	if (connect(fd, (const struct sockaddr *)&c->qmp,
	    sizeof(c->qmp)) == -1 ||
	    write(fd, ask, sizeof(ask) - 1) != (ssize_t)sizeof(ask) - 1)
		goto done;
	pfd.fd = fd;
	pfd.events = POLLIN;
	for (tries = 0; tries < 10 && !ok; tries++) {
		if (poll(&pfd, 1, 100) != 1)
			continue;
		if (len == sizeof(buf) - 1) {
			/* Keep the tail: the word may straddle two reads. */
			memmove(buf, buf + len - 16, 16);
			len = 16;
		}
		if ((n = read(fd, buf + len, sizeof(buf) - 1 - len)) <= 0)
			break;
		len += (size_t)n;
		buf[len] = '\0';
		ok = strstr(buf, "\"status\"") != NULL;
	}
done:
	close(fd);
	return ok;
}

/* The middle process: a session, QEMU, and a word on how it went. */
static void
child_middle(const struct spawn_ctx *c, int out)
{
	struct timespec	 tick = { 0, 10 * 1000000 };
	long long	 deadline;
	pid_t		 qpid;
	int		 sp[2], e, st;
	ssize_t		 n;

	vmm_child_signals();
	if (setsid() == -1 || pipe2(sp, O_CLOEXEC) == -1) {
		report(out, SPAWN_FORK_FAILED, 0, errno);
		_exit(1);
	}
	if ((qpid = fork()) == -1) {
		report(out, SPAWN_FORK_FAILED, 0, errno);
		_exit(1);
	}
	if (qpid == 0) {
		close(out);
		close(sp[0]);
		child_qemu(c, sp[1]);
	}
	close(sp[1]);
	while ((n = read(sp[0], &e, sizeof(e))) == -1 && errno == EINTR)
		;
	if (n == (ssize_t)sizeof(e)) {
		while (waitpid(qpid, &st, 0) == -1 && errno == EINTR)
			;
		report(out, SPAWN_EXEC_FAILED, qpid, e);
		_exit(1);
	}
	deadline = mono_ms() + SPAWN_TIMEOUT_MS;
	for (;;) {
		if (waitpid(qpid, &st, WNOHANG) == qpid) {
			report(out, SPAWN_EXITED, qpid, st);
			_exit(1);
		}
		if (answers(c)) {
			report(out, SPAWN_READY, qpid, 0);
			_exit(0);
		}
		if (mono_ms() > deadline) {
			kill(qpid, SIGKILL);
			while (waitpid(qpid, &st, 0) == -1 && errno == EINTR)
				;
			report(out, SPAWN_TIMEOUT, qpid, 0);
			_exit(1);
		}
		nanosleep(&tick, NULL);
	}
}

/* The last few lines QEMU wrote to the log since offset start. */
static void
log_tail(int fd, off_t start, char *out, size_t outlen)
{
	char	 buf[4096], *lines[3], *p, *e;
	off_t	 end;
	ssize_t	 n;
	size_t	 used = 0;
	int	 nlines = 0, i;

	out[0] = '\0';
	if ((end = lseek(fd, 0, SEEK_END)) == -1 || end <= start)
		return;
	if (end - start > (off_t)sizeof(buf) - 1)
		start = end - (off_t)sizeof(buf) + 1;
	if ((n = pread(fd, buf, sizeof(buf) - 1, start)) <= 0)
		return;
	buf[n] = '\0';
	/* Walk back over the last non-empty lines. */
	p = buf + n;
	while (p > buf && nlines < (int)(sizeof(lines) / sizeof(lines[0]))) {
		while (p > buf && (p[-1] == '\n' || p[-1] == '\r'))
			*--p = '\0';
		e = p;
		while (p > buf && p[-1] != '\n')
			p--;
		if (e > p)
			lines[nlines++] = p;
	}
	for (i = nlines - 1; i >= 0; i--) {
		snprintf(out + used, outlen - used, "%s%s",
		    used > 0 ? "; " : "", lines[i]);
		used = strlen(out);
		if (used + 1 >= outlen)
			break;
	}
}

/* The command line first, so that qemu.log alone explains a failed start. */
static void
log_argv(int fd, char **argv, const struct vmm_spec *s)
{
	char		 stamp[32];
	time_t		 now = time(NULL);
	struct tm	 tm;
	size_t		 i;

	strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S",
	    localtime_r(&now, &tm));
	dprintf(fd, "%s starting:", stamp);
	for (i = 0; argv[i] != NULL; i++)
		dprintf(fd, " %s", argv[i]);
	dprintf(fd, "\n");
	/* The descriptors have no names on the command line: say which. */
	dprintf(fd, "%s fds: disk %s, seed %s, tap %s; uid %u gid %u\n",
	    stamp, s->disk ? s->disk : "-", s->seed ? s->seed : "-",
	    s->tap ? s->tap : "-", (unsigned)(s->uid ? s->uid : getuid()),
	    (unsigned)(s->uid ? s->gid : getgid()));
}

/* The persistent tap labd made, attached; -1 with errno. */
static int
tap_open(const char *name)
{
	struct ifreq	ifr;
	int		fd, e;

	if ((fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC)) == -1)
		return -1;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	if (ioctl(fd, TUNSETIFF, &ifr) == -1) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* A regular file, never through a symlink; -1 with errno. */
static int
open_reg(const char *path, int flags, mode_t mode)
{
	struct stat	st;
	int		fd;

	if ((fd = open(path, flags | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY,
	    mode)) == -1)
		return -1;
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		close(fd);
		errno = EINVAL;
		return -1;
	}
	return fd;
}

void
vmm_spec_close_fds(struct vmm_spec *s)
{
	size_t	i;

	for (i = 0; i < sizeof(s->fds) / sizeof(s->fds[0]); i++) {
		if (s->fds_given && s->fds[i] != -1)
			close(s->fds[i]);
		s->fds[i] = -1;
	}
	s->fds_given = 0;
}

int
vmm_spec_open_fds(struct vmm_spec *s, char *err, size_t errlen)
{
	char		 path[PATH_MAX];
	const char	*what = NULL, *name = NULL;
	size_t		 i;

	for (i = 0; i < sizeof(s->fds) / sizeof(s->fds[0]); i++)
		s->fds[i] = -1;
	s->fds_given = 1;
	if (s->disk != NULL) {
		what = "disk", name = s->disk;
		/* The collector reads the disk: no descriptor to write it. */
		if ((!s->offline && (s->fds[VMM_SPEC_DISK_RW] =
		    open_reg(s->disk, O_RDWR, 0)) == -1) ||
		    (s->fds[VMM_SPEC_DISK_RO] =
		    open_reg(s->disk, O_RDONLY, 0)) == -1)
			goto fail;
	}
	if (s->seed != NULL) {
		what = "seed", name = s->seed;
		if ((s->fds[VMM_SPEC_SEED] = open_reg(s->seed, O_RDONLY,
		    0)) == -1)
			goto fail;
	}
	what = "serial log", name = path;
	if (vmm_path(path, sizeof(path), s->log_dir, "serial.log") == -1 ||
	    (s->fds[VMM_SPEC_SERIAL] = open_reg(path, O_WRONLY | O_APPEND |
	    O_CREAT, 0640)) == -1)
		goto fail;
	what = "QEMU's log", name = path;
	if (vmm_path(path, sizeof(path), s->log_dir, "qemu.log") == -1 ||
	    (s->fds[VMM_SPEC_LOG] = open_reg(path, O_RDWR | O_APPEND |
	    O_CREAT, 0640)) == -1)
		goto fail;
	return 0;
fail:
	snprintf(err, errlen, "%s: cannot open %s %s: %s", s->name, what, name,
	    errno == EINVAL ? "not a regular file" : strerror(errno));
	vmm_spec_close_fds(s);
	return -1;
}

/* The cgroup.procs of folder dir, for QEMU to write itself into. */
static int
cg_open(const struct vmm_spec *s, struct spawn_ctx *c, const char *dir,
    char *err, size_t errlen)
{
	char	path[PATH_MAX];
	int	fd;

	if (vmm_path(path, sizeof(path), dir, "cgroup.procs") == -1 ||
	    (fd = open(path, O_WRONLY | O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "%s: cannot join cgroup %s: %s",
		    s->name, dir, strerror(errno));
		return -1;
	}
	c->cgfds[c->ncg++] = fd;
	return 0;
}

/*
 * QEMU's user, its run_dir made its own (it makes its sockets and pidfile
 * there), and its cgroups opened for it to join (s->cgroup made here).
 */
static int
prepare(const struct vmm_spec *s, struct spawn_ctx *c, char *err,
    size_t errlen)
{
	size_t	i;
	int	fd;

	c->switch_user = s->uid != 0 && geteuid() == 0;
	c->umask = c->switch_user && s->sock_gid ? 007 : 027;
	c->uid = s->uid;
	c->gid = s->gid;
	if (s->ngroups > MAX_GROUPS) {
		snprintf(err, errlen, "%s: more than %d groups", s->name,
		    MAX_GROUPS);
		return -1;
	}
	for (i = 0; i < s->ngroups; i++)
		c->groups[i] = s->groups[i];
	c->ngroups = s->ngroups;
	if (c->switch_user) {
		if ((fd = open(s->run_dir, O_RDONLY | O_DIRECTORY |
		    O_NOFOLLOW | O_CLOEXEC)) == -1 ||
		    fchown(fd, s->uid, s->sock_gid ? s->sock_gid : s->gid) ==
		    -1 || fchmod(fd, s->sock_gid ? 02770 : 0700) == -1) {
			snprintf(err, errlen, "%s: cannot give %s to uid %u:"
			    " %s", s->name, s->run_dir, (unsigned)s->uid,
			    strerror(errno));
			if (fd != -1)
				close(fd);
			return -1;
		}
		close(fd);
	}
	if (s->cgroup != NULL) {
		/* A folder left by a QEMU gone is empty and can go. */
		rmdir(s->cgroup);
		if (mkdir(s->cgroup, 0755) == -1 && errno != EEXIST) {
			snprintf(err, errlen, "%s: cannot make cgroup %s: %s",
			    s->name, s->cgroup, strerror(errno));
			return -1;
		}
		if (cg_open(s, c, s->cgroup, err, errlen) == -1)
			return -1;
	}
	if (s->ncgroups > VMM_CGROUPS_MAX) {
		snprintf(err, errlen, "%s: more than %d cgroups", s->name,
		    VMM_CGROUPS_MAX);
		return -1;
	}
	for (i = 0; i < s->ncgroups; i++)
		if (cg_open(s, c, s->cgroups[i], err, errlen) == -1)
			return -1;
	memset(&c->qmp, 0, sizeof(c->qmp));
	c->qmp.sun_family = AF_UNIX;
	if (vmm_path(c->qmp.sun_path, sizeof(c->qmp.sun_path), s->run_dir,
	    "qmp-ctl.sock") == -1) {
		snprintf(err, errlen, "%s: run directory path too long",
		    s->name);
		return -1;
	}
	return 0;
}

/* What the spawn opened itself: the spec's descriptors are closed apart. */
static void
ctx_close(struct spawn_ctx *c)
{
	if (c->fds[VMM_FD_TAP - 4] != -1)
		close(c->fds[VMM_FD_TAP - 4]);
	if (c->fds[VMM_FD_CHAN - 4] != -1)
		close(c->fds[VMM_FD_CHAN - 4]);
	while (c->ncg > 0)
		close(c->cgfds[--c->ncg]);
	if (c->nullfd != -1)
		close(c->nullfd);
}

/* Read the middle's report; 0 with *r, -1 when it died without one. */
static int
read_report(int fd, struct spawn_report *r)
{
	ssize_t	n;

	while ((n = read(fd, r, sizeof(*r))) == -1 && errno == EINTR)
		;
	return n == (ssize_t)sizeof(*r) ? 0 : -1;
}

int
vmm_spawn(const struct vmm_spec *given, pid_t *pid, char *err, size_t errlen)
{
	struct vmm_spec		 own = *given, *spec = &own;
	struct spawn_ctx	 c = { .nullfd = -1, .logfd = -1 };
	struct spawn_report	 r;
	char			 tail[VMM_ERRLEN];
	char			**argv = NULL;
	int			 rp[2] = { -1, -1 }, st, rc = -1;
	size_t			 i;
	off_t			 start;
	pid_t			 middle, qpid;

	for (i = 0; i < VMM_FD_COUNT; i++)
		c.fds[i] = -1;
	/* Descriptors of our own, closed at the end, even when given. */
	own.fds_given = 0;
	for (i = 0; i < sizeof(own.fds) / sizeof(own.fds[0]); i++)
		own.fds[i] = -1;
	if ((argv = qemu_argv_build(spec, err, errlen)) == NULL)
		return -1;
	c.argv = argv;
	if (vmm_alive(spec->run_dir, spec->name, &qpid) == 1) {
		/* Its sockets are about to be unlinked: it would be lost. */
		snprintf(err, errlen, "%s: QEMU already runs as pid %d",
		    spec->name, (int)qpid);
		goto done;
	}
	/* QEMU refuses to bind over a stale socket of a dead predecessor. */
	vmm_runtime_remove(spec->run_dir);
	if (given->fds_given) {
		for (i = 0; i < sizeof(own.fds) / sizeof(own.fds[0]); i++)
			if (given->fds[i] != -1 && (own.fds[i] =
			    fcntl(given->fds[i], F_DUPFD_CLOEXEC, 3)) == -1) {
				snprintf(err, errlen, "%s: dup: %s",
				    spec->name, strerror(errno));
				own.fds_given = 1;
				goto done;
			}
		own.fds_given = 1;
	} else if (vmm_spec_open_fds(&own, err, errlen) == -1)
		goto done;
	c.logfd = own.fds[VMM_SPEC_LOG];
	c.fds[VMM_FD_DISK_RW - 4] = own.fds[VMM_SPEC_DISK_RW];
	c.fds[VMM_FD_DISK_RO - 4] = own.fds[VMM_SPEC_DISK_RO];
	c.fds[VMM_FD_SEED - 4] = own.fds[VMM_SPEC_SEED];
	c.fds[VMM_FD_SERIAL - 4] = own.fds[VMM_SPEC_SERIAL];
	if (c.logfd == -1) {
		snprintf(err, errlen, "%s: no descriptor for qemu.log",
		    spec->name);
		goto done;
	}
	log_argv(c.logfd, argv, spec);
	if ((start = lseek(c.logfd, 0, SEEK_END)) == -1)
		start = 0;
	if (spec->tap != NULL &&
	    (c.fds[VMM_FD_TAP - 4] = tap_open(spec->tap)) == -1) {
		snprintf(err, errlen, "%s: cannot open tap %s: %s", spec->name,
		    spec->tap, strerror(errno));
		goto done;
	}
	if (spec->offline && (c.fds[VMM_FD_CHAN - 4] = fcntl(spec->chan_fd,
	    F_DUPFD_CLOEXEC, 3)) == -1) {
		snprintf(err, errlen, "%s: dup of the collector's port: %s",
		    spec->name, strerror(errno));
		goto done;
	}
	if (prepare(spec, &c, err, errlen) == -1)
		goto done;
	if ((c.nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC)) == -1 ||
	    pipe2(rp, O_CLOEXEC) == -1) {
		snprintf(err, errlen, "cannot start QEMU: %s", strerror(errno));
		goto done;
	}
	if ((middle = fork()) == -1) {
		snprintf(err, errlen, "cannot start QEMU: fork: %s",
		    strerror(errno));
		goto done;
	}
	if (middle == 0) {
		close(rp[0]);
		child_middle(&c, rp[1]);
	}
	close(rp[1]);
	rp[1] = -1;
	if (read_report(rp[0], &r) == -1)
		r.what = 0;
	while (waitpid(middle, &st, 0) == -1 && errno == EINTR)
		;
	switch (r.what) {
	case SPAWN_READY:
		break;
	case SPAWN_EXEC_FAILED:
		snprintf(err, errlen, "cannot run %s: %s", argv[0],
		    strerror(r.status));
		goto done;
	case SPAWN_FORK_FAILED:
		snprintf(err, errlen, "cannot start QEMU: %s",
		    strerror(r.status));
		goto done;
	case SPAWN_EXITED:
	case SPAWN_TIMEOUT:
		vmm_runtime_remove(spec->run_dir);
		log_tail(c.logfd, start, tail, sizeof(tail));
		if (tail[0] == '\0')
			snprintf(tail, sizeof(tail), "(no output)");
		if (r.what == SPAWN_TIMEOUT)
			snprintf(err, errlen, "QEMU did not finish starting"
			    " within %d s: %s", SPAWN_TIMEOUT_MS / 1000, tail);
		else if (WIFEXITED(r.status))
			snprintf(err, errlen, "qemu exited with status %d: %s",
			    WEXITSTATUS(r.status), tail);
		else
			snprintf(err, errlen, "qemu killed by signal %d: %s",
			    WTERMSIG(r.status), tail);
		goto done;
	default:
		snprintf(err, errlen, "cannot start QEMU: the starting process"
		    " died");
		goto done;
	}
	/* QEMU wrote its pidfile before its monitor could answer. */
	if (vmm_alive(spec->run_dir, spec->name, &qpid) != 1 ||
	    qpid != r.pid) {
		kill(r.pid, SIGKILL);
		vmm_runtime_remove(spec->run_dir);
		snprintf(err, errlen, "QEMU started as pid %d but %s/pid does"
		    " not name it", (int)r.pid, spec->run_dir);
		goto done;
	}
	/* QEMU makes its pidfile 0600: let the group read it. */
	if (c.switch_user && spec->sock_gid &&
	    (vmm_path(tail, sizeof(tail), spec->run_dir, "pid") == -1 ||
	    chmod(tail, 0640) == -1)) {
		kill(qpid, SIGKILL);
		vmm_runtime_remove(spec->run_dir);
		snprintf(err, errlen, "%s: cannot open %s/pid to its group: %s",
		    spec->name, spec->run_dir, strerror(errno));
		goto done;
	}
	*pid = qpid;
	rc = 0;
done:
	if (rp[0] != -1)
		close(rp[0]);
	if (rp[1] != -1)
		close(rp[1]);
	ctx_close(&c);
	vmm_spec_close_fds(&own);
	vmm_argv_free(argv);
	return rc;
}
