/* SPDX-License-Identifier: ISC */
/*
 * proc.c - running children: the short-lived tools (qemu-img,
 * genisoimage) and QEMU itself, which must outlive labd.
 *
 * labd forks from worker threads of a process with many descriptors, so
 * the child does only async-signal-safe work between fork() and exec:
 * descriptors into place, every other one closed (a leaked control-socket
 * or database fd in a long-lived QEMU would keep it open for weeks), the
 * signal mask and ignored signals reset (a blocked SIGTERM inherited by
 * QEMU would make it unkillable by vmm_kill).  A CLOEXEC pipe tells the
 * parent whether exec itself failed, and with which errno.
 *
 QEMU itself is started by spawn.c in a session of its own and is not our
 * child (it is re-parented), so it is watched through its pidfile and
 * /proc, never with waitpid().
 */
#include <sys/stat.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>

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

/* After SIGKILL the kernel still has to tear down a large address space. */
#define KILL_GRACE_MS		5000
/* The first lines of a failing tool's stderr are what a person reads. */
#define ERRTEXT_MAX		(64 * 1024)
/* /proc/PID/cmdline of a QEMU is a few KiB; anything longer is not ours. */
#define CMDLINE_MAX		(64 * 1024)

static const char *runtime_files[] = {
	"pid", VMM_QMP_SOCK, "qmp-ctl.sock", VMM_SERIAL_SOCK, "vnc.sock",
};

struct buf {
	char	*p;
	size_t	 len, cap, max;
	int	 overflow;
};

long long
vmm_now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
vmm_sleep_ms(int ms)
{
	struct timespec	ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static const char *
base_name(const char *path)
{
	const char	*s = strrchr(path, '/');

	return s != NULL ? s + 1 : path;
}

void
vmm_child_signals(void)
{
	struct sigaction	sa;
	sigset_t		none;
	int			sig;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	for (sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			sigaction(sig, &sa, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

/* Limits, then who it runs as; async-signal-safe, errno on failure. */
static int
child_limit(const struct vmm_child *c)
{
	struct rlimit	rl;

	rl.rlim_cur = rl.rlim_max = c->as_bytes;
	if (c->as_bytes != 0 && setrlimit(RLIMIT_AS, &rl) == -1)
		return -1;
	rl.rlim_cur = rl.rlim_max = c->cpu_secs;
	if (c->cpu_secs != 0 && setrlimit(RLIMIT_CPU, &rl) == -1)
		return -1;
	rl.rlim_cur = rl.rlim_max = 0;
	if (setrlimit(RLIMIT_CORE, &rl) == -1 || c->cred == NULL)
		return 0;
	if (syscall(SYS_setgroups, c->cred->ngroups, c->cred->groups) == -1 ||
	    syscall(SYS_setresgid, c->cred->gid, c->cred->gid,
	    c->cred->gid) == -1 ||
	    syscall(SYS_setresuid, c->cred->uid, c->cred->uid,
	    c->cred->uid) == -1)
		return -1;
	return 0;
}

/*
 * The child's side.  in/out/errfd become 0/1/2 and status 3 (closed by a
 * successful exec); they are first copied above 2 so that none of them is
 * clobbered by another's dup2() when the caller had 0-2 closed.  With c,
 * c->fds become 4, 5, ... (copied high first, for the same reason), the
 * limits are set and the identity taken last, with raw system calls: glibc's
 * set*id() wrappers talk to threads this copy of a threaded labd lacks.
 */
static void
child_exec(char *const argv[], int in, int out, int errfd, int status,
    int new_session, const struct vmm_child *c)
{
	struct rlimit		rl;
	int			e, sfd = status, keep[VMM_CHILD_FDS];
	size_t			i, nkeep = c != NULL ? c->nfds : 0;
	unsigned		fd;

	vmm_child_signals();
	if (new_session && setsid() == -1)
		goto fail;

	if ((sfd = fcntl(status, F_DUPFD, 3)) == -1) {
		sfd = status;
		goto fail;
	}
	if ((in = fcntl(in, F_DUPFD, 3)) == -1 ||
	    (out = fcntl(out, F_DUPFD, 3)) == -1 ||
	    (errfd = fcntl(errfd, F_DUPFD, 3)) == -1)
		goto fail;
	for (i = 0; i < nkeep && i < VMM_CHILD_FDS; i++)
		if ((keep[i] = fcntl(c->fds[i], F_DUPFD, 4 + nkeep)) == -1)
			goto fail;
	if (dup2(in, 0) == -1 || dup2(out, 1) == -1 || dup2(errfd, 2) == -1 ||
	    dup2(sfd, 3) == -1)
		goto fail;
	sfd = 3;
	if (fcntl(3, F_SETFD, FD_CLOEXEC) == -1)
		goto fail;
	for (i = 0; i < nkeep && i < VMM_CHILD_FDS; i++)
		if (dup2(keep[i], 4 + i) == -1)
			goto fail;
	if (close_range(4 + nkeep, ~0U, 0) == -1) {
		/* Kernels before 5.9: the slow way. */
		if (getrlimit(RLIMIT_NOFILE, &rl) == -1 ||
		    rl.rlim_cur == RLIM_INFINITY)
			rl.rlim_cur = 65536;
		for (fd = 4 + nkeep; fd < rl.rlim_cur; fd++)
			close(fd);
	}
	if (c != NULL && child_limit(c) == -1)
		goto fail;
	if (c != NULL && c->envp != NULL)
		execvpe(argv[0], argv, c->envp);
	else
		execvp(argv[0], argv);
fail:
	e = errno;
	if (write(sfd, &e, sizeof(e)) == -1)
		_exit(127);
	_exit(127);
}

/* errno of a failed exec from the status pipe; 0 when exec succeeded. */
static int
exec_errno(int fd)
{
	int	e;
	ssize_t	n;

	while ((n = read(fd, &e, sizeof(e))) == -1 && errno == EINTR)
		;
	return n == (ssize_t)sizeof(e) ? e : 0;
}

static int
buf_read(struct buf *b, int fd)
{
	char	 junk[4096], *np;
	size_t	 ncap;
	ssize_t	 n;

	if (b->len + 1 >= b->cap && b->cap < b->max + 1) {
		ncap = b->cap == 0 ? 4096 : b->cap * 2;
		if (ncap > b->max + 1)
			ncap = b->max + 1;
		if ((np = realloc(b->p, ncap)) == NULL)
			return -1;
		b->p = np;
		b->cap = ncap;
	}
	if (b->len + 1 < b->cap)
		n = read(fd, b->p + b->len, b->cap - b->len - 1);
	else {
		/* Full: keep draining so that the child never blocks on us. */
		if ((n = read(fd, junk, sizeof(junk))) > 0)
			b->overflow = 1;
		return n == -1 && errno == EINTR ? 1 : (int)(n > 0);
	}
	if (n == -1)
		return errno == EINTR ? 1 : -1;
	b->len += n;
	b->p[b->len] = '\0';
	return n > 0;
}

/* "NAME: first line of its complaint", or how it ended when it said nothing. */
static void
run_failed(const char *name, int status, const char *text, char *err,
    size_t errlen)
{
	const char	*s = text, *e;
	size_t		 nlen = strlen(name);

	while (s != NULL && *s != '\0') {
		while (*s == '\n' || *s == '\r' || *s == ' ' || *s == '\t')
			s++;
		if (*s == '\0')
			break;
		e = s + strcspn(s, "\r\n");
		if (strncmp(s, name, nlen) == 0 && s[nlen] == ':')
			snprintf(err, errlen, "%.*s", (int)(e - s), s);
		else
			snprintf(err, errlen, "%s: %.*s", name, (int)(e - s),
			    s);
		return;
	}
	if (WIFEXITED(status))
		snprintf(err, errlen, "%s exited with status %d", name,
		    WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(err, errlen, "%s killed by signal %d (%s)", name,
		    WTERMSIG(status), strsignal(WTERMSIG(status)));
	else
		snprintf(err, errlen, "%s failed", name);
}

/*
 * Run argv to completion.  With out, stdout is collected apart; without,
 * it joins stderr, which is kept for the error message.  input, if any,
 * is the child's whole stdin; timeout_ms > 0 bounds the run; c, if any,
 * says what the child keeps, its limits and who it runs as.
 */
int
vmm_run_child(const struct vmm_child *c, char *const argv[],
    const char *input, int timeout_ms, char **out, char *err, size_t errlen)
{
	struct buf	 eb = { .max = ERRTEXT_MAX };
	struct buf	 ob = { .max = VMM_OUTPUT_MAX };
	struct pollfd	 pfd[2];
	const char	*name = base_name(argv[0]);
	long long	 deadline = vmm_now_ms() + timeout_ms, left;
	int		 ip[2] = { -1, -1 }, ep[2] = { -1, -1 };
	int		 op[2] = { -1, -1 }, sp[2] = { -1, -1 };
	int		 status, e, i, n, timedout = 0, rc = -1;
	size_t		 inlen = input != NULL ? strlen(input) : 0;
	pid_t		 pid = -1;

	if (out != NULL)
		*out = NULL;
	if (c != NULL && c->nfds > VMM_CHILD_FDS) {
		snprintf(err, errlen, "%s: too many files to hand over", name);
		return -1;
	}
	/* Written whole before the child starts: it must fit the pipe. */
	if (inlen > VMM_INPUT_MAX) {
		snprintf(err, errlen, "%s: input too long", name);
		return -1;
	}
	if (pipe2(ip, O_CLOEXEC) == -1 || pipe2(ep, O_CLOEXEC) == -1 ||
	    pipe2(sp, O_CLOEXEC) == -1 ||
	    (out != NULL && pipe2(op, O_CLOEXEC) == -1)) {
		snprintf(err, errlen, "cannot run %s: %s", name,
		    strerror(errno));
		goto fail;
	}
	if (inlen > 0 && write(ip[1], input, inlen) != (ssize_t)inlen) {
		snprintf(err, errlen, "cannot run %s: writing its input: %s",
		    name, strerror(errno));
		goto fail;
	}
	close(ip[1]);
	ip[1] = -1;
	if ((pid = fork()) == -1) {
		snprintf(err, errlen, "cannot run %s: fork: %s", name,
		    strerror(errno));
		goto fail;
	}
	if (pid == 0)
		child_exec(argv, ip[0], out != NULL ? op[1] : ep[1], ep[1],
		    sp[1], 0, c);
	close(ep[1]);
	close(sp[1]);
	ep[1] = sp[1] = -1;
	if (out != NULL) {
		close(op[1]);
		op[1] = -1;
	}

	pfd[0].fd = ep[0];
	pfd[1].fd = out != NULL ? op[0] : -1;
	pfd[0].events = pfd[1].events = POLLIN;
	while (pfd[0].fd != -1 || pfd[1].fd != -1) {
		left = timeout_ms > 0 && !timedout ? deadline - vmm_now_ms() :
		    -1;
		if (timeout_ms > 0 && !timedout && left <= 0) {
			/* Its pipes close as it dies; keep draining them. */
			kill(pid, SIGKILL);
			timedout = 1;
			continue;
		}
		if (poll(pfd, 2, (int)left) == -1) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (i = 0; i < 2; i++) {
			if (pfd[i].fd == -1 || pfd[i].revents == 0)
				continue;
			if ((n = buf_read(i == 0 ? &eb : &ob, pfd[i].fd)) > 0)
				continue;
			/* Closed now: a child still writing gets EPIPE. */
			close(pfd[i].fd);
			pfd[i].fd = -1;
			if (i == 0)
				ep[0] = -1;
			else
				op[0] = -1;
		}
	}
	while (waitpid(pid, &status, 0) == -1) {
		if (errno != EINTR) {
			snprintf(err, errlen, "cannot wait for %s: %s", name,
			    strerror(errno));
			goto fail;
		}
	}
	pid = -1;
	if ((e = exec_errno(sp[0])) != 0) {
		snprintf(err, errlen, "cannot run %s: %s", name, strerror(e));
		goto fail;
	}
	if (timedout) {
		snprintf(err, errlen, "%s did not finish within %d ms", name,
		    timeout_ms);
		goto fail;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		run_failed(name, status, eb.p, err, errlen);
		goto fail;
	}
	if (out != NULL) {
		if (ob.overflow) {
			snprintf(err, errlen, "%s: more than %d bytes of"
			    " output", name, VMM_OUTPUT_MAX);
			goto fail;
		}
		if (ob.p == NULL && (ob.p = strdup("")) == NULL) {
			snprintf(err, errlen, "%s: out of memory", name);
			goto fail;
		}
		*out = ob.p;
		ob.p = NULL;
	}
	rc = 0;
fail:
	if (pid > 0)
		while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
			;
	for (i = 0; i < 2; i++) {
		if (ip[i] != -1)
			close(ip[i]);
		if (ep[i] != -1)
			close(ep[i]);
		if (op[i] != -1)
			close(op[i]);
		if (sp[i] != -1)
			close(sp[i]);
	}
	free(eb.p);
	free(ob.p);
	return rc;
}

int
vmm_run_io(char *const argv[], const char *input, int timeout_ms, char **out,
    char *err, size_t errlen)
{
	return vmm_run_child(NULL, argv, input, timeout_ms, out, err, errlen);
}

int
vmm_run(char *const argv[], char *err, size_t errlen)
{
	return vmm_run_io(argv, NULL, 0, NULL, err, errlen);
}

/* --- QEMU --------------------------------------------------------------- */

/* 1 and *pid when run_dir has a readable pidfile, 0 when none, -1 error. */
static int
pidfile_read(const char *run_dir, pid_t *pid)
{
	char	 path[PATH_MAX], buf[32], *end;
	long	 v;
	ssize_t	 n;
	int	 fd;

	if (vmm_path(path, sizeof(path), run_dir, "pid") == -1)
		return -1;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return errno == ENOENT ? 0 : -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return n == 0 ? 0 : -1;
	buf[n] = '\0';
	errno = 0;
	v = strtol(buf, &end, 10);
	/* A torn or foreign file is "no QEMU", not an error to stop on. */
	if (errno != 0 || end == buf || (*end != '\0' && *end != '\n') ||
	    v <= 1 || v > INT_MAX)
		return 0;
	*pid = (pid_t)v;
	return 1;
}

/*
 * Is pid a QEMU started with "-name name"?  A pid read from a file may
 * have been recycled by anything; a zombie has an empty cmdline and so
 * counts as gone.
 */
static int
proc_is_vm(pid_t pid, const char *name)
{
	char	 path[64], *buf, *p, *end, *prev = NULL;
	ssize_t	 n;
	size_t	 len = 0;
	int	 fd, found = 0;

	if (kill(pid, 0) == -1 && errno == ESRCH)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return 0;
	if ((buf = malloc(CMDLINE_MAX + 1)) == NULL) {
		close(fd);
		return 0;
	}
	while (len < CMDLINE_MAX &&
	    (n = read(fd, buf + len, CMDLINE_MAX - len)) > 0)
		len += n;
	close(fd);
	buf[len] = '\0';
	end = buf + len;
	for (p = buf; p < end; p += strlen(p) + 1) {
		if (prev != NULL && strcmp(prev, "-name") == 0 &&
		    strcmp(p, name) == 0) {
			found = 1;
			break;
		}
		prev = p;
	}
	free(buf);
	return found;
}

void
vmm_runtime_remove(const char *run_dir)
{
	char	path[PATH_MAX];
	size_t	i;

	for (i = 0; i < sizeof(runtime_files) / sizeof(runtime_files[0]); i++)
		if (vmm_path(path, sizeof(path), run_dir,
		    runtime_files[i]) == 0)
			unlink(path);
}

int
vmm_alive(const char *run_dir, const char *vm_name, pid_t *pid)
{
	pid_t	p;
	int	r;

	if ((r = pidfile_read(run_dir, &p)) != 1)
		return r;
	if (!proc_is_vm(p, vm_name))
		return 0;
	*pid = p;
	return 1;
}

/* Poll until pid no longer is vm_name's QEMU; 1 gone, 0 still there. */
static int
wait_gone(pid_t pid, const char *vm_name, int timeout_ms)
{
	long long	deadline = vmm_now_ms() + timeout_ms;

	for (;;) {
		if (!proc_is_vm(pid, vm_name))
			return 1;
		if (vmm_now_ms() >= deadline)
			return 0;
		vmm_sleep_ms(10);
	}
}

int
vmm_kill(const char *run_dir, const char *vm_name, int timeout_ms,
    char *err, size_t errlen)
{
	pid_t	pid;
	int	r;

	if ((r = vmm_alive(run_dir, vm_name, &pid)) == -1) {
		snprintf(err, errlen, "%s: cannot read %s/pid: %s", vm_name,
		    run_dir, strerror(errno));
		return -1;
	}
	if (r == 1) {
		if (kill(pid, SIGTERM) == -1 && errno != ESRCH)
			goto fail;
		if (!wait_gone(pid, vm_name, timeout_ms > 0 ? timeout_ms : 0)) {
			if (kill(pid, SIGKILL) == -1 && errno != ESRCH)
				goto fail;
			if (!wait_gone(pid, vm_name, KILL_GRACE_MS)) {
				snprintf(err, errlen, "%s: QEMU pid %d still"
				    " runs after SIGKILL", vm_name, (int)pid);
				return -1;
			}
		}
	}
	vmm_runtime_remove(run_dir);
	return 0;
fail:
	snprintf(err, errlen, "%s: cannot signal QEMU pid %d: %s", vm_name,
	    (int)pid, strerror(errno));
	return -1;
}
