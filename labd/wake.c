/* SPDX-License-Identifier: ISC */
/*
 * wake.c - a suspended VM wakes when a student connects.
 *
 * While a VM is suspended its QEMU is gone, and with it the hostfwd
 * sockets on its published ports (user networking); in bridge mode
 * net.c drops its DNAT for as long.  Either way labd listens there
 * itself.  A connection that arrives is accepted and held, and wakes the
 * VM only once it looks like a student's, not a scan's: on the ssh port
 * an SSH identification line ("SSH-"), which a client sends first; on
 * other ports its first bytes, or WAKE_HOLD_MS held open without them
 * (a protocol where the server speaks first).  A connection that closes
 * before, or that sends anything else to the ssh port, wakes nothing;
 * and one source address wakes at most WAKE_BURST VMs, then one every
 * WAKE_REFILL_MS.  To wake it, labd closes its listeners for that VM
 * (QEMU must bind those ports again) and resumes it.  Once the VM is ready labd connects to the forwarded port
 * (now QEMU's again) and relays the bytes both ways, so the student's
 * first connection just takes a few seconds longer; later ones go to QEMU
 * directly.  A client that waits more than WAKE_TIMEOUT_MS is closed.
 *
 * The listeners follow the VM's state through the event bus (vm.state):
 * open in VM_SUSPENDED, closed in every other state.  Resuming passes
 * through VM_RESUMING before the worker spawns QEMU, so the ports are
 * free by then whoever asked for the resume.
 *
 * A relay is non-blocking and buffered in the loop, WAKE_BUFSZ each way:
 * a full buffer stops reading from that side until the other takes it.
 * An end of file is passed on with shutdown(SHUT_WR) once the buffer has
 * drained, and the relay ends when both ways are finished, or at once on
 * an error.  Relays do not survive a restart of labd.
 */
#include <sys/epoll.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "labd/labd.h"

#define WAKE_TICK_MS		500
#define WAKE_TIMEOUT_MS		60000
#define WAKE_BUFSZ		(64 * 1024)
#define WAKE_MAX_RELAYS		256
#define WAKE_BACKLOG		16
#define WAKE_HOLD_MS		3000	/* held open, silent: a client */
#define WAKE_SILENT_MS		15000	/* ssh port, no "SSH-" by then: gone */
#define WAKE_PER_SOURCE		16	/* held at once from one address */
#define WAKE_BURST		40	/* wakes one address has in hand */
#define WAKE_REFILL_MS		15000	/* and one more every so often */
#define WAKE_SOURCES		256

struct wake_listener {
	int			 fd;
	int64_t			 vm_id;
	char			 ip[64];
	uint16_t		 port;
	int			 ssh;		/* the guest's sshd behind it */
	struct wake_listener	*next;
};

/* What one source address may still wake. */
struct wake_source {
	char			 addr[INET_ADDRSTRLEN];
	int			 tokens;
	int64_t			 at_ms;		/* tokens counted then */
};

/* One way of a relay: from one side's fd into the other's. */
struct wake_pipe {
	char	 buf[WAKE_BUFSZ];
	size_t	 off, len;
	int	 eof;		/* the source gave its end of file */
	int	 shut;		/* the destination was shut for writing */
};

struct wake_relay {
	int64_t			 vm_id;
	char			 vm[LABD_VMNAMELEN];
	int			 cfd;		/* the student's */
	int			 ufd;		/* to QEMU's forwarded port */
	int			 connecting;
	int			 connected;	/* ever: no longer pending */
	char			 ip[64];
	uint16_t		 port;
	int64_t			 accepted_ms;
	int			 first_byte;	/* seen from the guest */
	int			 ssh;		/* to the guest's sshd */
	int			 asked;		/* it woke the VM (or may) */
	char			 from[INET_ADDRSTRLEN];
	struct wake_pipe	 up;		/* student -> VM */
	struct wake_pipe	 down;		/* VM -> student */
	struct wake_relay	*next;
};

static struct wake_listener	*listeners;
static struct wake_relay	*relays;
static int			 nrelays;
static struct wake_source	 sources[WAKE_SOURCES];

static void	wake_relay_io(struct loop *, int, uint32_t, void *);
static void	wake_unlisten(const struct vm *);

static struct vm *
wake_vm(int64_t id)
{
	struct vm	*vm;

	for (vm = vm_list(); vm != NULL; vm = vm->next)
		if (vm->id == id)
			return vm;
	return NULL;
}

/* --- relays ---------------------------------------------------------------- */

static void
relay_close_fd(int *fd)
{
	if (*fd == -1)
		return;
	loop_del_fd(labd->loop, *fd);
	close(*fd);
	*fd = -1;
}

static void
relay_free(struct wake_relay *r, const char *why)
{
	struct wake_relay	**rp;

	for (rp = &relays; *rp != NULL; rp = &(*rp)->next) {
		if (*rp == r) {
			*rp = r->next;
			break;
		}
	}
	if (why != NULL)
		log_info("%s: woken connection closed: %s", r->vm, why);
	relay_close_fd(&r->cfd);
	relay_close_fd(&r->ufd);
	nrelays--;
	free(r);
}

/* Read from fd into p; -1 on an error. */
static int
pipe_fill(int fd, struct wake_pipe *p)
{
	char	 drop[4096];
	ssize_t	 n;

	while (!p->eof) {
		if (p->shut) {
			/* Nowhere to go: read and forget, to see the EOF. */
			n = read(fd, drop, sizeof(drop));
		} else {
			if (p->len == 0)
				p->off = 0;
			if (p->off + p->len == WAKE_BUFSZ && p->off > 0) {
				memmove(p->buf, p->buf + p->off, p->len);
				p->off = 0;
			}
			if (p->off + p->len == WAKE_BUFSZ)
				return 0;	/* full: wait for the writer */
			n = read(fd, p->buf + p->off + p->len,
			    WAKE_BUFSZ - p->off - p->len);
		}
		if (n == 0)
			p->eof = 1;
		else if (n > 0) {
			if (!p->shut)
				p->len += n;
		} else if (errno == EAGAIN || errno == EWOULDBLOCK)
			return 0;
		else if (errno != EINTR)
			return -1;
	}
	return 0;
}

/* Write p to fd, then pass its EOF on; -1 on an error. */
static int
pipe_drain(int fd, struct wake_pipe *p)
{
	ssize_t	n;

	while (p->len > 0 && !p->shut) {
		n = send(fd, p->buf + p->off, p->len, MSG_NOSIGNAL);
		if (n > 0) {
			p->off += n;
			p->len -= n;
		} else if (n == -1 && (errno == EAGAIN ||
		    errno == EWOULDBLOCK))
			return 0;
		else if (n == -1 && errno != EINTR)
			return -1;
	}
	if (p->eof && p->len == 0 && !p->shut) {
		shutdown(fd, SHUT_WR);
		p->shut = 1;
	}
	return 0;
}

/* What each side waits for; a side finished both ways is closed. */
static void
relay_arm(struct wake_relay *r)
{
	uint32_t	ev;

	if (r->cfd != -1 && r->up.eof && r->down.shut)
		relay_close_fd(&r->cfd);
	if (r->ufd != -1 && !r->connecting && r->down.eof && r->up.shut)
		relay_close_fd(&r->ufd);
	if (r->cfd != -1) {
		ev = 0;
		if (!r->up.eof && r->up.len < WAKE_BUFSZ)
			ev |= EPOLLIN;
		if (r->down.len > 0)
			ev |= EPOLLOUT;
		loop_mod_fd(labd->loop, r->cfd, ev);
	}
	if (r->ufd != -1) {
		ev = 0;
		if (r->connecting)
			ev = EPOLLOUT;
		else {
			if (!r->down.eof)
				ev |= EPOLLIN;
			if (r->up.len > 0)
				ev |= EPOLLOUT;
		}
		loop_mod_fd(labd->loop, r->ufd, ev);
	}
}

/*
 * One side can neither send nor take any more (it hung up): what was
 * meant for it is dropped, nothing more is read for it.
 */
static void
relay_hangup(struct wake_pipe *from, struct wake_pipe *to)
{
	from->eof = 1;
	to->shut = 1;
	to->len = 0;
}

/*
 * May addr wake one more VM?  A token each, WAKE_BURST in hand, one more
 * every WAKE_REFILL_MS; the least recently seen address makes room.
 */
static int
source_take(const char *addr)
{
	struct wake_source	*s, *old = &sources[0];
	int64_t			 now = now_ms();
	int			 i, more;

	for (i = 0; i < WAKE_SOURCES; i++) {
		s = &sources[i];
		if (strcmp(s->addr, addr) == 0)
			break;
		if (s->at_ms < old->at_ms)
			old = s;
	}
	if (i == WAKE_SOURCES) {
		s = old;
		snprintf(s->addr, sizeof(s->addr), "%s", addr);
		s->tokens = WAKE_BURST;
		s->at_ms = now;
	}
	more = (int)((now - s->at_ms) / WAKE_REFILL_MS);
	if (more > 0) {
		s->tokens = s->tokens + more > WAKE_BURST ? WAKE_BURST :
		    s->tokens + more;
		s->at_ms += (int64_t)more * WAKE_REFILL_MS;
	}
	if (s->tokens == 0)
		return 0;
	s->tokens--;
	return 1;
}

/*
 * r looks like a student's: wake its VM, unless its source has woken
 * too many; -1 when r was closed for that (and is freed).
 */
static int
relay_ask(struct wake_relay *r, const char *why)
{
	struct vm	*vm = wake_vm(r->vm_id);

	if (vm == NULL || vm->state != VM_SUSPENDED) {
		r->asked = 1;	/* awake already, or waking: it follows */
		return 0;
	}
	if (!source_take(r->from)) {
		log_warnx("%s: %s has woken too many VMs: not this one", r->vm,
		    r->from);
		relay_free(r, NULL);
		return -1;
	}
	r->asked = 1;
	log_info("%s: connection from %s to %s:%u (%s): waking it", vm->name,
	    r->from, r->ip, r->port, why);
	db_event(0, "vm.wake", vm->name, "connection from %s to %s:%u",
	    r->from, r->ip, r->port);
	/* QEMU must be able to bind the ports again. */
	wake_unlisten(vm);
	vm_op_start(vm, DONE_NONE);
	return 0;
}

/* The client's first bytes: an SSH client's, or anything on other ports. */
static int
relay_judge(struct wake_relay *r)
{
	size_t	n = r->up.len < 4 ? r->up.len : 4;

	if (r->ssh && memcmp(r->up.buf + r->up.off, "SSH-", n) != 0) {
		relay_free(r, NULL);	/* not an SSH client: no wake */
		return -1;
	}
	if (r->ssh && n < 4)
		return 0;
	return relay_ask(r, r->ssh ? "an SSH client" : "its first bytes");
}

/* Move what can be moved; -1 when the relay ended (and is freed). */
static int
relay_pump(struct wake_relay *r)
{
	if (r->cfd != -1 && pipe_fill(r->cfd, &r->up) == -1) {
		relay_free(r, strerror(errno));
		return -1;
	}
	if (!r->asked && r->up.len > 0 && relay_judge(r) == -1)
		return -1;
	if (r->ufd != -1 && !r->connecting) {
		size_t	before = r->down.len;

		if (pipe_fill(r->ufd, &r->down) == -1) {
			relay_free(r, strerror(errno));
			return -1;
		}
		if (!r->first_byte && r->down.len > before) {
			r->first_byte = 1;
			log_info("%s: woken: first byte from the guest %.1f s"
			    " after the connection", r->vm,
			    (now_ms() - r->accepted_ms) / 1000.0);
		}
		if (pipe_drain(r->ufd, &r->up) == -1) {
			relay_free(r, strerror(errno));
			return -1;
		}
	}
	if (r->cfd != -1 && pipe_drain(r->cfd, &r->down) == -1) {
		relay_free(r, strerror(errno));
		return -1;
	}
	relay_arm(r);
	if (r->cfd == -1 && (!r->connected || r->connecting)) {
		relay_free(r, r->asked ? "the client left before the VM was"
		    " ready" : NULL);
		return -1;
	}
	if (r->cfd == -1 && r->ufd == -1) {	/* done both ways */
		log_debug("%s: woken connection ended", r->vm);
		relay_free(r, NULL);
		return -1;
	}
	return 0;
}

static void
wake_relay_io(struct loop *l, int fd, uint32_t events, void *arg)
{
	struct wake_relay	*r = arg;
	int			 err = 0;
	socklen_t		 len = sizeof(err);

	if (fd == r->ufd && r->connecting) {
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
			err = errno;
		if (err != 0) {
			/* QEMU not listening yet: the tick tries again. */
			log_debug("%s: relay connect: %s", r->vm,
			    strerror(err));
			relay_close_fd(&r->ufd);
			r->connecting = 0;
			return;
		}
		r->connecting = 0;
		r->connected = 1;
	} else if (events & EPOLLERR) {
		relay_free(r, fd == r->cfd ? "the client reset the"
		    " connection" : "the guest reset the connection");
		return;
	}
	if (relay_pump(r) == -1 || !(events & EPOLLHUP))
		return;
	/* That side hung up both ways: nothing more goes to or from it. */
	if (fd == r->cfd)
		relay_hangup(&r->up, &r->down);
	else if (fd == r->ufd)
		relay_hangup(&r->down, &r->up);
	relay_pump(r);
}

/* The VM is ready: connect to its forwarded port, now QEMU's. */
static void
relay_connect(struct wake_relay *r)
{
	struct sockaddr_in	sin = { .sin_family = AF_INET };

	sin.sin_port = htons(r->port);
	if (inet_pton(AF_INET, r->ip, &sin.sin_addr) != 1) {
		relay_free(r, "bad address");
		return;
	}
	if ((r->ufd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1) {
		relay_free(r, strerror(errno));
		return;
	}
	if (connect(r->ufd, (struct sockaddr *)&sin, sizeof(sin)) == -1 &&
	    errno != EINPROGRESS) {
		log_debug("%s: relay connect: %s", r->vm, strerror(errno));
		close(r->ufd);
		r->ufd = -1;
		return;
	}
	r->connecting = 1;
	if (loop_add_fd(labd->loop, r->ufd, EPOLLOUT, wake_relay_io, r) == -1) {
		close(r->ufd);
		r->ufd = -1;
		relay_free(r, strerror(errno));
	}
}

/*
 * Pending relays of ready VMs connect; those that waited too long give
 * up.  retry (the tick, not the hook): start a VM again that refused.
 */
static void
relays_check(int retry)
{
	struct wake_relay	*r, *next;
	struct vm		*vm;

	for (r = relays; r != NULL; r = next) {
		next = r->next;
		if (r->connected || r->ufd != -1 || r->cfd == -1)
			continue;
		vm = wake_vm(r->vm_id);
		/* Not yet a student's: held a while, or silent on ssh. */
		if (!r->asked && vm != NULL && vm->state == VM_SUSPENDED) {
			if (!r->ssh && now_ms() - r->accepted_ms >=
			    WAKE_HOLD_MS)
				relay_ask(r, "held open");
			else if (r->ssh && now_ms() - r->accepted_ms >=
			    WAKE_SILENT_MS)
				relay_free(r, NULL);
			continue;
		}
		if (vm == NULL || vm->state == VM_FAILED ||
		    vm->state == VM_STOPPED || vm->state == VM_STOPPING)
			relay_free(r, vm == NULL ? "no such VM" :
			    vm->error[0] ? vm->error : "the VM stopped");
		else if (now_ms() - r->accepted_ms > WAKE_TIMEOUT_MS)
			relay_free(r, "the VM was not ready in time");
		else if (vm->state == VM_READY)
			relay_connect(r);
		else if (retry && r->asked && vm->state == VM_SUSPENDED &&
		    !vm->busy)
			vm_op_start(vm, DONE_NONE);	/* the first try was refused */
	}
}

/* --- listeners ------------------------------------------------------------- */

static void	wake_accept(struct loop *, int, uint32_t, void *);

static void
wake_unlisten(const struct vm *vm)
{
	struct wake_listener	**lp, *w;

	for (lp = &listeners; (w = *lp) != NULL; ) {
		if (w->vm_id != vm->id) {
			lp = &w->next;
			continue;
		}
		*lp = w->next;
		loop_del_fd(labd->loop, w->fd);
		close(w->fd);
		log_debug("%s: no longer listening on %s:%u", vm->name, w->ip,
		    w->port);
		free(w);
	}
}

static int
wake_listening(const struct vm *vm)
{
	struct wake_listener	*w;

	for (w = listeners; w != NULL; w = w->next)
		if (w->vm_id == vm->id)
			return 1;
	return 0;
}

/* Listen on every published port of a suspended VM; 0 when all are. */
static int
wake_listen(struct vm *vm, int quiet)
{
	struct wake_listener	*w;
	sqlite3_stmt		*st;
	char			 err[256];
	int			 fd, rc = 0;

	if (wake_listening(vm))
		return 0;
	st = db_prepare("SELECT listen_ip, port, service = 'ssh' OR"
	    " guest_port = 22 FROM ports WHERE vm_id = ? ORDER BY id");
	sqlite3_bind_int64(st, 1, vm->id);
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char	*ip = db_text(st, 0);
		uint16_t	 port = (uint16_t)sqlite3_column_int(st, 1);

		if ((fd = tcp_listen(ip, port, SOCK_NONBLOCK,
		    WAKE_BACKLOG, err, sizeof(err))) == -1) {
			if (!quiet)
				log_warnx("%s: cannot listen for a wake on %s;"
				    " trying again", vm->name, err);
			rc = -1;
			continue;
		}
		w = xcalloc(1, sizeof(*w));
		w->fd = fd;
		w->vm_id = vm->id;
		snprintf(w->ip, sizeof(w->ip), "%s", ip);
		w->port = port;
		w->ssh = sqlite3_column_int(st, 2);
		if (loop_add_fd(labd->loop, fd, EPOLLIN, wake_accept, w) == -1) {
			close(fd);
			free(w);
			rc = -1;
			continue;
		}
		w->next = listeners;
		listeners = w;
		log_debug("%s: listening on %s:%u to wake it", vm->name, ip,
		    port);
	}
	sqlite3_finalize(st);
	if (rc == -1)	/* all or none: the tick tries again */
		wake_unlisten(vm);
	return rc;
}

/* Relays held for addr now, none of them a student's yet. */
static int
source_held(const char *addr)
{
	struct wake_relay	*r;
	int			 n = 0;

	for (r = relays; r != NULL; r = r->next)
		n += !r->asked && strcmp(r->from, addr) == 0;
	return n;
}

/*
 * Take what waits in the backlog and hold it: it wakes the VM once it
 * looks like a student's (relay_judge(), relays_check()).
 */
static void
wake_accept(struct loop *l, int fd, uint32_t events, void *arg)
{
	struct wake_listener	*w = arg;
	struct wake_relay	*r;
	struct sockaddr_in	 peer;
	socklen_t		 plen;
	struct vm		*vm = wake_vm(w->vm_id);
	char			 addr[INET_ADDRSTRLEN];
	int			 cfd;

	if (vm == NULL)
		return;
	for (;;) {
		plen = sizeof(peer);
		if ((cfd = accept4(fd, (struct sockaddr *)&peer, &plen,
		    SOCK_NONBLOCK | SOCK_CLOEXEC)) == -1) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (inet_ntop(AF_INET, &peer.sin_addr, addr,
		    sizeof(addr)) == NULL)
			snprintf(addr, sizeof(addr), "?");
		if (nrelays >= WAKE_MAX_RELAYS ||
		    source_held(addr) >= WAKE_PER_SOURCE) {
			close(cfd);
			continue;
		}
		r = xcalloc(1, sizeof(*r));
		r->vm_id = vm->id;
		snprintf(r->vm, sizeof(r->vm), "%s", vm->name);
		snprintf(r->ip, sizeof(r->ip), "%s", w->ip);
		snprintf(r->from, sizeof(r->from), "%s", addr);
		r->port = w->port;
		r->ssh = w->ssh;
		r->cfd = cfd;
		r->ufd = -1;
		r->accepted_ms = now_ms();
		if (loop_add_fd(labd->loop, cfd, EPOLLIN, wake_relay_io, r) ==
		    -1) {
			close(cfd);
			free(r);
			continue;
		}
		r->next = relays;
		relays = r;
		nrelays++;
		log_debug("%s: connection from %s to %s:%u held", vm->name,
		    addr, w->ip, w->port);
	}
}

/* --- the hook and the tick -------------------------------------------------- */

/*
 * vm.c's hook at every change of state.  Listeners exist in VM_SUSPENDED
 * only; a VM that becomes ready takes the connections waiting for it.
 */
/* A suspended VM's ports wake it; any other state closes them. */
static void
wake_vm_state(const struct event *ev, void *arg)
{
	struct vm	*vm = ev->vm;

	if (vm->state == VM_SUSPENDED)
		wake_listen(vm, 0);
	else
		wake_unlisten(vm);
	if (vm->state == VM_READY || vm->state == VM_FAILED ||
	    vm->state == VM_STOPPED)
		relays_check(0);
}

static int
wake_tick(struct loop *l, void *arg)
{
	struct vm	*vm;

	for (vm = vm_list(); vm != NULL; vm = vm->next)
		if (vm->state == VM_SUSPENDED && !wake_listening(vm))
			wake_listen(vm, 1);
	relays_check(1);
	return WAKE_TICK_MS;
}

/* After vm_load_all(): the VMs found suspended get their listeners. */
void
wake_init(void)
{
	struct vm	*vm;

	for (vm = vm_list(); vm != NULL; vm = vm->next) {
		struct event	ev = { .kind = "vm.state", .vm = vm };

		wake_vm_state(&ev, NULL);
	}
	events_on("vm.state", wake_vm_state, NULL);
	loop_add_timer(labd->loop, WAKE_TICK_MS, wake_tick, NULL);
}
