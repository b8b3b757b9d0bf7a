/* SPDX-License-Identifier: ISC */
/*
 * agent.c - labd-agent in the guest (templates/guest/labd-agent): the
 * clock and the sudo policy after a reset to a RAM snapshot, without an
 * SSH login.  A login costs the guest a key exchange, a third of a
 * second of CPU under emulation: ten seconds of a 2-core host for a class
 * of thirty reset at once.  The agent takes a few milliseconds.
 *
 * The channel is a virtio-serial port of each VM, org.labd.agent, whose
 * host end is a UNIX socket in the VM's run_dir (agent.sock, QEMU the
 * server).  labd holds it from its loop, as it holds lab-check's: the
 * agent's write waits while labd is away and its read ends when labd
 * goes, so a connection held is what lets the agent sleep in a read.
 *
 *   agent -> labd   "hello TOKEN"          the port opened
 *   labd -> agent   "welcome TOKEN"
 *   labd -> agent   "run NONCE COMMAND"    sh runs COMMAND as root
 *   agent -> labd   "done NONCE STATUS"
 *
 * The agent skips what comes before its welcome: a run that labd sent to
 * an agent since gone is never run by the next one.  Whatever comes from
 * the port comes from the guest, whose root may be the student: labd
 * keeps a nonce it made and a status, nothing else, logs nothing of it,
 * and anything but a done it waits for changes nothing.  An agent that
 * fails to answer in time changes nothing either: the caller does the
 * same over SSH.
 *
 * Which VMs have a QEMU to connect to comes from the bus (vm.state):
 * agent.c calls nothing of vm.c, which reaches it through vmjob.c.
 * agent_run() is called by a worker (vmjob.c): the table below is the
 * one thing here that workers touch, under agent_mu; the loop's thread
 * holds it too whenever it changes an entry.
 */
#include <sys/epoll.h>
#include <sys/socket.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "labd/labd.h"
#include "vmm/vmm.h"

#define AGENT_TICK_MS	2000

/* One VM's port, kept while the VM exists or a run waits on it. */
struct agent {
	char		 vm[LABD_VMNAMELEN];
	int		 want;		/* its QEMU runs (booting, ready) */
	int		 fd;		/* -1: not connected */
	unsigned	 conn;		/* which connection: one more each time */
	int		 welcomed;	/* a hello came on this connection */
	char		 in[AGENT_LINE_MAX];
	size_t		 inlen;
	int		 skipping;	/* a line too long, dropped to its end */
	char		 wait[AGENT_TOKEN_MAX];	/* the run waited for, "" none */
	int		 status;	/* its status, -1 until it comes */
	struct agent	*next;
};

static pthread_mutex_t	 agent_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t	 agent_cv;
static struct agent	*agents;
static unsigned		 agent_seq;

static int
token_ok(const char *s, size_t len)
{
	static const char	ok[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789-";
	size_t			i;

	if (len == 0 || len >= AGENT_TOKEN_MAX)
		return 0;
	for (i = 0; i < len; i++)
		if (s[i] == '\0' || strchr(ok, s[i]) == NULL)
			return 0;
	return 1;
}

int
agent_parse(const char *line, size_t len, char *token, size_t tokenlen,
    int *status)
{
	const char	*t, *sp;
	size_t		 tlen, i;
	int		 kind, st = 0;

	if (len >= AGENT_LINE_MAX)
		return -1;
	if (len > 6 && memcmp(line, "hello ", 6) == 0) {
		kind = AGENT_HELLO;
		t = line + 6;
		tlen = len - 6;
	} else if (len > 5 && memcmp(line, "done ", 5) == 0) {
		kind = AGENT_DONE;
		t = line + 5;
		if ((sp = memchr(t, ' ', len - 5)) == NULL)
			return -1;
		tlen = (size_t)(sp - t);
		/* STATUS: 0 to 255, no sign, no leading zero. */
		i = tlen + 6;
		if (i >= len || len - i > 3 || (line[i] == '0' && len - i > 1))
			return -1;
		for (; i < len; i++) {
			if (line[i] < '0' || line[i] > '9')
				return -1;
			st = st * 10 + (line[i] - '0');
		}
		if (st > 255)
			return -1;
	} else
		return -1;
	if (!token_ok(t, tlen) || tlen >= tokenlen)
		return -1;
	memcpy(token, t, tlen);
	token[tlen] = '\0';
	if (status != NULL)
		*status = st;
	return kind;
}

static struct agent *
agent_find(const char *vm)
{
	struct agent	*a;

	for (a = agents; a != NULL; a = a->next)
		if (strcmp(a->vm, vm) == 0)
			return a;
	return NULL;
}

/* With agent_mu held. */
static void
agent_close(struct agent *a)
{
	if (a->fd == -1)
		return;
	loop_del_fd(labd->loop, a->fd);
	close(a->fd);
	a->fd = -1;
	a->welcomed = 0;
	a->inlen = 0;
	a->skipping = 0;
	pthread_cond_broadcast(&agent_cv);	/* a run waiting: it is lost */
}

/* A line from the guest, with agent_mu held. */
static void
agent_line(struct agent *a, const char *line, size_t len)
{
	char	token[AGENT_TOKEN_MAX], out[AGENT_TOKEN_MAX + 16];
	int	kind, status, n;

	kind = agent_parse(line, len, token, sizeof(token), &status);
	if (kind == AGENT_HELLO) {
		/* A welcome the socket cannot take now is not worth a queue. */
		n = snprintf(out, sizeof(out), "welcome %s\n", token);
		if (send(a->fd, out, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) ==
		    n) {
			if (!a->welcomed)
				log_debug("%s: labd-agent answers", a->vm);
			a->welcomed = 1;
		}
	} else if (kind == AGENT_DONE && a->wait[0] != '\0' &&
	    strcmp(token, a->wait) == 0) {
		a->status = status;
		pthread_cond_broadcast(&agent_cv);
	}
}

static void
agent_io(struct loop *l, int fd, uint32_t events, void *arg)
{
	struct agent	*a = arg;
	char		 buf[512];
	const char	*p, *nl;
	ssize_t		 n;
	size_t		 k, left;

	n = read(fd, buf, sizeof(buf));
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	pthread_mutex_lock(&agent_mu);
	if (n <= 0) {
		/* QEMU is gone or restarting: the tick connects again. */
		agent_close(a);
		pthread_mutex_unlock(&agent_mu);
		return;
	}
	for (p = buf, left = (size_t)n; left > 0; p += k + 1, left -= k + 1) {
		nl = memchr(p, '\n', left);
		k = nl != NULL ? (size_t)(nl - p) : left;
		if (!a->skipping && a->inlen + k < sizeof(a->in)) {
			memcpy(a->in + a->inlen, p, k);
			a->inlen += k;
		} else
			a->skipping = 1;
		if (nl == NULL)
			break;
		if (!a->skipping)
			agent_line(a, a->in, a->inlen);
		a->inlen = 0;
		a->skipping = 0;
	}
	pthread_mutex_unlock(&agent_mu);
}

/* Connect to vm's port; quiet when it has none (a QEMU of an older labd). */
static void
agent_connect(struct agent *a)
{
	int	fd;

	if ((fd = vmport_connect(a->vm, VMM_AGENT_SOCK)) == -1)
		return;
	if (loop_add_fd(labd->loop, fd, EPOLLIN, agent_io, a) == -1) {
		close(fd);
		return;
	}
	a->fd = fd;
	a->conn++;
}

/* Entries of VMs stopped or gone, with no run waiting, freed. */
static void
agent_prune(void)
{
	struct agent	**ap, *a;

	for (ap = &agents; (a = *ap) != NULL;) {
		if (a->want || a->fd != -1 || a->wait[0] != '\0') {
			ap = &a->next;
			continue;
		}
		*ap = a->next;
		free(a);
	}
}

/* Ports for the VMs whose QEMU runs: connected again when QEMU is new. */
static int
agent_tick(struct loop *l, void *arg)
{
	struct agent	*a;

	pthread_mutex_lock(&agent_mu);
	for (a = agents; a != NULL; a = a->next)
		if (a->want && a->fd == -1)
			agent_connect(a);
	agent_prune();		/* a run that waited on a VM since stopped */
	pthread_mutex_unlock(&agent_mu);
	return AGENT_TICK_MS;
}

/* A VM's QEMU started or ended (or the VM went: it stops first). */
static void
agent_vm_state(const struct event *ev, void *arg)
{
	struct vm	*vm = ev->vm;
	struct agent	*a;

	if (vm == NULL)
		return;
	pthread_mutex_lock(&agent_mu);
	a = agent_find(vm->name);
	switch (vm->state) {
	case VM_BOOTING:
	case VM_READY:
		if (a == NULL) {
			a = xcalloc(1, sizeof(*a));
			snprintf(a->vm, sizeof(a->vm), "%s", vm->name);
			a->fd = -1;
			a->next = agents;
			agents = a;
		}
		a->want = 1;
		if (a->fd == -1)
			agent_connect(a);
		break;
	case VM_STOPPED:
	case VM_SUSPENDED:
	case VM_FAILED:
	/*
	 * A QEMU to come, started by a job (a reset --hard's, a boot's):
	 * the port is the job's until the VM boots.  A VM started from a
	 * golden gets its go line there (golden.c), and QEMU serves one
	 * client at a time.
	 */
	case VM_QUEUED:
	case VM_PROVISIONING:
		if (a != NULL) {
			a->want = 0;
			agent_close(a);
			agent_prune();
		}
		break;
	default:
		break;	/* on its way: the connection stays as it is */
	}
	pthread_mutex_unlock(&agent_mu);
}

int
agent_run(const char *vm, const char *cmd, int timeout_ms, int *status,
    char *err, size_t errlen)
{
	struct agent	*a;
	struct timespec	 until;
	char		 nonce[AGENT_TOKEN_MAX], *line = NULL;
	unsigned	 conn;
	int		 len, rc = -1, waited = 0;

	pthread_mutex_lock(&agent_mu);
	if ((a = agent_find(vm)) == NULL || a->fd == -1 || !a->welcomed) {
		errf(err, errlen, "labd-agent has not said hello");
		goto out;
	}
	if (a->wait[0] != '\0') {
		errf(err, errlen, "labd-agent is busy with another run");
		goto out;
	}
	snprintf(nonce, sizeof(nonce), "r%u", ++agent_seq);
	if ((len = asprintf(&line, "run %s %s\n", nonce, cmd)) == -1) {
		line = NULL;
		errf(err, errlen, "out of memory");
		goto out;
	}
	if (strchr(cmd, '\n') != NULL) {
		errf(err, errlen, "a command of more than one line");
		goto out;
	}
	/* A short line into a socket that holds it whole, or nothing. */
	if (send(a->fd, line, (size_t)len, MSG_DONTWAIT | MSG_NOSIGNAL) !=
	    len) {
		errf(err, errlen, "the port does not take the line: %s",
		    strerror(errno));
		/* Half a line would join the next: a new connection. */
		shutdown(a->fd, SHUT_RDWR);
		goto out;
	}
	snprintf(a->wait, sizeof(a->wait), "%s", nonce);
	a->status = -1;
	conn = a->conn;
	waited = 1;
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += timeout_ms / 1000;
	until.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	while (a->status == -1 && a->fd != -1 && a->conn == conn)
		if (pthread_cond_timedwait(&agent_cv, &agent_mu, &until) ==
		    ETIMEDOUT)
			break;
	if (a->status != -1) {
		*status = a->status;
		rc = 0;
	} else if (a->fd == -1 || a->conn != conn)
		errf(err, errlen, "the port closed before labd-agent answered");
	else
		errf(err, errlen, "labd-agent did not answer in %d ms",
		    timeout_ms);
out:
	if (waited)
		a->wait[0] = '\0';
	pthread_mutex_unlock(&agent_mu);
	free(line);
	return rc;
}

void
agent_init(void)
{
	pthread_condattr_t	attr;

	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&agent_cv, &attr);
	pthread_condattr_destroy(&attr);
	loop_add_timer(labd->loop, AGENT_TICK_MS, agent_tick, NULL);
	events_on("vm.state", agent_vm_state, NULL);
}
