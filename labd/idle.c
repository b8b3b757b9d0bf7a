/* SPDX-License-Identifier: ISC */
/*
 * idle.c - who is connected to which VM, and suspending the VMs that
 * nobody uses.
 *
 * With user networking the host side of every published port is a socket
 * of the VM's QEMU (hostfwd), and each student connection is an accepted
 * socket on that same local address and port.  So every few seconds labd
 * reads /proc/net/tcp (and tcp6, for v4-mapped peers) once, for all VMs,
 * and counts per VM the ESTABLISHED entries whose local address is one of
 * the VM's published ip:port.  A connection seen now, or one that came
 * and went since the last tick (a closing entry not seen before), sets the
 * VM's last connection time.
 *
 * labd's own connections do not count: its SSH readiness probe, the clock
 * set after a resume and the upstream half of a wake relay (wake.c) all
 * connect from labd itself.  Such a connection is recognised by its peer
 * entry, which lies in the same table (the client side: local and remote
 * swapped) and whose socket inode is one of labd's open file descriptors.
 * (The student's half of a relay is an accepted socket of labd's on the
 * published port: it counts, as its peer is the student's.)
 *
 * In bridge mode a student's connection is not a socket of the host's
 * but a DNAT'd flow: the kernel's connection tracking table
 * (/proc/net/nf_conntrack) has it, with the published ip:port as its
 * original destination.  labd's own connections go to the guest's address
 * and are not counted.
 *
 * A course's idle_suspend (seconds, 0 = off) suspends each ready VM that
 * has had no connection for that long, counted from its last connection or
 * from when it became ready, whichever is later: a VM that was just
 * started or woken is never suspended at once.  wake.c then answers its
 * ports and resumes it when a student comes back.
 */
#include <sys/types.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "labd/labd.h"

#define IDLE_TICK_MS		2000
#define IDLE_MAX_S		(7 * 24 * 3600)
#define IDLE_PROC_MAX		(64 * 1024 * 1024)	/* bytes of one table */

/* TCP states as /proc/net/tcp prints them (include/net/tcp_states.h). */
#define TCPS_ESTABLISHED	0x01
#define TCPS_LISTEN		0x0A

/* One published ip:port of a VM. */
struct idle_ep {
	uint32_t	 ip;		/* network order; 0: any address */
	uint16_t	 port;
	struct vm	*vm;
};

/* One line of the table: a socket on, or connected to, a published port. */
struct idle_sock {
	uint32_t	 lip, rip;	/* network order */
	uint16_t	 lport, rport;
	int		 state;
	unsigned long	 inode;
	struct idle_ep	*ep;		/* local side published: the VM's */
};

struct idle_scan {
	struct idle_ep		*eps;
	size_t			 neps;
	struct idle_sock	*socks;
	size_t			 nsocks, socks_cap;
	unsigned long		*own;		/* labd's socket inodes, sorted */
	size_t			 nown;
	int			 own_read;
};

/* The connections seen at the last tick, to tell a new one. */
static uint64_t	*seen;
static size_t	 nseen;

/*
 * "30m", "45s", "2h", "1h30m"; "0" or "off" is 0.  A bare number other
 * than 0 is refused: minutes or seconds would be a guess.
 */
int
idle_parse(const char *spec, int *secs, char *err, size_t errlen)
{
	const char	*p = spec;
	long long	 total = 0, n;
	char		*end;

	while (*p == ' ')
		p++;
	if (strcmp(p, "off") == 0 || strcmp(p, "0") == 0) {
		*secs = 0;
		return 0;
	}
	if (*p == '\0')
		goto bad;
	while (*p != '\0') {
		if (*p < '0' || *p > '9')
			goto bad;
		errno = 0;
		n = strtoll(p, &end, 10);
		if (errno != 0 || n > IDLE_MAX_S)
			goto big;
		switch (*end) {
		case 's':
			break;
		case 'm':
			n *= 60;
			break;
		case 'h':
			n *= 3600;
			break;
		default:
			goto bad;
		}
		total += n;
		if (total > IDLE_MAX_S)
			goto big;
		p = end + 1;
	}
	if (total == 0)
		goto bad;
	*secs = (int)total;
	return 0;
bad:
	errf(err, errlen, "idle_suspend: \"%.32s\" is not a duration (30m,"
	    " 45s, 2h, 1h30m; 0 or off to disable)", spec);
	return -1;
big:
	errf(err, errlen, "idle_suspend: \"%.32s\" is longer than %d days",
	    spec, IDLE_MAX_S / 86400);
	return -1;
}

/* --- the table of published endpoints ---------------------------------- */

static int
ep_cmp(const void *a, const void *b)
{
	const struct idle_ep	*x = a, *y = b;

	return (int)x->port - (int)y->port;
}

static void
eps_load(struct idle_scan *sc)
{
	sqlite3_stmt	*st;
	struct vm	*vm;
	size_t		 cap = 0;

	for (vm = vm_list(); vm != NULL; vm = vm->next)
		cap++;
	if (cap == 0)
		return;
	cap *= LABD_MAX_GUEST_PORTS;
	sc->eps = xcalloc(cap, sizeof(*sc->eps));
	st = db_prepare("SELECT v.name, p.listen_ip, p.port FROM ports p"
	    " JOIN vms v ON v.id = p.vm_id");
	while (sqlite3_step(st) == SQLITE_ROW && sc->neps < cap) {
		struct idle_ep	*e = &sc->eps[sc->neps];
		struct in_addr	 a;

		if ((vm = vm_find(db_text(st, 0))) == NULL ||
		    inet_pton(AF_INET, db_text(st, 1), &a) != 1)
			continue;
		e->ip = a.s_addr;
		e->port = (uint16_t)sqlite3_column_int(st, 2);
		e->vm = vm;
		sc->neps++;
	}
	sqlite3_finalize(st);
	qsort(sc->eps, sc->neps, sizeof(*sc->eps), ep_cmp);
}

static struct idle_ep *
ep_find(struct idle_scan *sc, uint32_t ip, uint16_t port)
{
	size_t	lo = 0, hi = sc->neps, mid;

	while (lo < hi) {
		mid = (lo + hi) / 2;
		if (sc->eps[mid].port < port)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < sc->neps && sc->eps[lo].port == port; lo++)
		if (sc->eps[lo].ip == ip || sc->eps[lo].ip == INADDR_ANY)
			return &sc->eps[lo];
	return NULL;
}

/* --- reading /proc/net/tcp ---------------------------------------------- */

static char *
proc_read(const char *path, size_t *len)
{
	size_t	 cap = 64 * 1024, n = 0;
	char	*buf;
	ssize_t	 r;
	int	 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return NULL;
	buf = xmalloc(cap + 1);
	for (;;) {
		if (n == cap) {
			if (cap >= IDLE_PROC_MAX)
				break;
			cap *= 2;
			buf = xrealloc(buf, cap + 1);
		}
		if ((r = read(fd, buf + n, cap - n)) == -1) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (r == 0)
			break;
		n += r;
	}
	close(fd);
	buf[n] = '\0';
	*len = n;
	return buf;
}

/*
 * "0100007F:55F0" (tcp) or "0000000000000000FFFF00000100007F:55F0"
 * (tcp6, v4-mapped); the address is the kernel's 32-bit words printed in
 * host order, so reading them back as numbers gives network order again.
 * 0 when not an IPv4 address.
 */
static int
addr_parse(const char *s, int v6, uint32_t *ip, uint16_t *port)
{
	unsigned int	w[4], p;

	if (!v6) {
		if (sscanf(s, "%8X:%4X", &w[0], &p) != 2)
			return 0;
		*ip = w[0];
	} else {
		if (sscanf(s, "%8X%8X%8X%8X:%4X", &w[0], &w[1], &w[2], &w[3],
		    &p) != 5 || w[0] != 0 || w[1] != 0 ||
		    w[2] != htonl(0x0000FFFF))
			return 0;
		*ip = w[3];
	}
	*port = (uint16_t)p;
	return 1;
}

static void
socks_add(struct idle_scan *sc, const struct idle_sock *s)
{
	if (sc->nsocks == sc->socks_cap) {
		sc->socks_cap = sc->socks_cap ? sc->socks_cap * 2 : 64;
		sc->socks = xrealloc(sc->socks, sc->socks_cap *
		    sizeof(*sc->socks));
	}
	sc->socks[sc->nsocks++] = *s;
}

/*
 * Keep the lines whose local side is a published port (a student's
 * connection, or labd's own) and those whose remote side is (the client
 * half of a connection made on this host: the peer that tells whose).
 */
static void
table_scan(struct idle_scan *sc, const char *path, int v6)
{
	char	*buf, *line, *next, laddr[64], raddr[64];
	size_t	 len;

	if ((buf = proc_read(path, &len)) == NULL)
		return;
	line = strchr(buf, '\n');	/* the header */
	for (line = line ? line + 1 : buf + len; *line != '\0'; line = next) {
		struct idle_sock	s = { 0 };
		unsigned int		st;

		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		else
			next = line + strlen(line);
		if (sscanf(line, " %*u: %63s %63s %X %*s %*s %*s %*u %*u %lu",
		    laddr, raddr, &st, &s.inode) != 4 || st == TCPS_LISTEN ||
		    !addr_parse(laddr, v6, &s.lip, &s.lport) ||
		    !addr_parse(raddr, v6, &s.rip, &s.rport))
			continue;
		s.state = (int)st;
		s.ep = ep_find(sc, s.lip, s.lport);
		if (s.ep != NULL || ep_find(sc, s.rip, s.rport) != NULL)
			socks_add(sc, &s);
	}
	free(buf);
}

static int
ulong_cmp(const void *a, const void *b)
{
	unsigned long	x = *(const unsigned long *)a;
	unsigned long	y = *(const unsigned long *)b;

	return x < y ? -1 : x > y;
}

/* The inodes of labd's own sockets, read once a tick at most. */
static void
own_read(struct idle_scan *sc)
{
	struct dirent	*d;
	DIR		*dir;
	char		 path[64], link[64];
	size_t		 cap = 0;
	ssize_t		 n;
	unsigned long	 ino;

	sc->own_read = 1;
	if ((dir = opendir("/proc/self/fd")) == NULL)
		return;
	while ((d = readdir(dir)) != NULL) {
		snprintf(path, sizeof(path), "/proc/self/fd/%s", d->d_name);
		if ((n = readlink(path, link, sizeof(link) - 1)) <= 0)
			continue;
		link[n] = '\0';
		if (sscanf(link, "socket:[%lu]", &ino) != 1)
			continue;
		if (sc->nown == cap) {
			cap = cap ? cap * 2 : 64;
			sc->own = xrealloc(sc->own, cap * sizeof(*sc->own));
		}
		sc->own[sc->nown++] = ino;
	}
	closedir(dir);
	qsort(sc->own, sc->nown, sizeof(*sc->own), ulong_cmp);
}

enum idle_peer {
	PEER_AWAY,	/* not on this host: a student's, from outside */
	PEER_OTHER,	/* a socket of another process on this host */
	PEER_OWN,	/* a socket of labd's */
	PEER_CLOSED,	/* on this host, its descriptor closed: whose? */
};

/* Whose is the other end of s? */
static enum idle_peer
peer_kind(struct idle_scan *sc, const struct idle_sock *s)
{
	size_t	i;

	for (i = 0; i < sc->nsocks; i++) {
		const struct idle_sock	*p = &sc->socks[i];

		if (p->lip != s->rip || p->lport != s->rport ||
		    p->rip != s->lip || p->rport != s->lport)
			continue;
		if (p->inode == 0)
			return PEER_CLOSED;
		if (!sc->own_read)
			own_read(sc);
		return bsearch(&p->inode, sc->own, sc->nown, sizeof(*sc->own),
		    ulong_cmp) != NULL ? PEER_OWN : PEER_OTHER;
	}
	return PEER_AWAY;
}

/*
 * Does s show a student's connection?  An established one does unless
 * labd made it or its client has already closed.  One that is opening or
 * closing, not seen at the last tick, came and went between two ticks;
 * it counts when its client is known not to be labd: another process, or
 * away from this host (a loopback peer gone without a trace may have
 * been labd's probe).
 */
static int
sock_counts(struct idle_scan *sc, const struct idle_sock *s, int new)
{
	enum idle_peer	peer;

	if (s->state != TCPS_ESTABLISHED && !new)
		return 0;
	peer = peer_kind(sc, s);
	if (s->state == TCPS_ESTABLISHED)
		return peer == PEER_AWAY || peer == PEER_OTHER;
	return peer == PEER_OTHER || (peer == PEER_AWAY &&
	    (ntohl(s->rip) >> 24) != IN_LOOPBACKNET);
}

static uint64_t
sock_key(const struct idle_sock *s)
{
	return (uint64_t)s->lport << 48 | (uint64_t)s->rport << 32 |
	    (uint64_t)ntohl(s->rip);
}

static int
u64_cmp(const void *a, const void *b)
{
	uint64_t	x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* --- bridge mode: the kernel's connection tracking ------------------------ */

struct ct_count {
	struct idle_scan	*sc;
	uint64_t		*keys;
	size_t			 nkeys, cap;
	int64_t			 now;
};

/*
 * One tracked connection: a student's when its original destination is a
 * published ip:port.  The host's own (a wake relay's upstream half, from
 * that same address) does not count.
 */
static void
ct_one(void *arg, uint32_t src, uint16_t sport, uint32_t dst, uint16_t dport,
    int established)
{
	struct ct_count	*c = arg;
	struct idle_ep	*ep;
	uint64_t	 k;
	int		 new;

	if ((ep = ep_find(c->sc, dst, dport)) == NULL || src == dst)
		return;
	k = (uint64_t)dport << 48 | (uint64_t)sport << 32 |
	    (uint64_t)ntohl(src);
	if (c->nkeys == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 64;
		c->keys = xrealloc(c->keys, c->cap * sizeof(*c->keys));
	}
	c->keys[c->nkeys++] = k;
	new = nseen == 0 ||
	    bsearch(&k, seen, nseen, sizeof(*seen), u64_cmp) == NULL;
	if (!established && !new)
		return;
	if (established)
		ep->vm->conns++;
	ep->vm->conn_ms = c->now;
	ep->vm->last_conn = time(NULL);
}

static void
idle_count_ct(struct idle_scan *sc)
{
	static int	 warned;
	struct ct_count	 c = { .sc = sc, .now = now_ms() };

	if (net_conntrack(ct_one, &c) == -1) {
		if (!warned++)
			log_warn("cannot read the connection tracking table;"
			    " connections are not counted");
		free(c.keys);
		return;
	}
	if (c.nkeys > 0)
		qsort(c.keys, c.nkeys, sizeof(*c.keys), u64_cmp);
	free(seen);
	seen = c.keys;
	nseen = c.nkeys;
}

/* --- the tick ------------------------------------------------------------- */

static void
idle_count(void)
{
	struct idle_scan	 sc = { 0 };
	struct vm		*vm;
	uint64_t		*keys, k;
	size_t			 nkeys = 0, i;
	int64_t			 now = now_ms();

	eps_load(&sc);
	for (vm = vm_list(); vm != NULL; vm = vm->next)
		vm->conns = 0;
	if (sc.neps == 0)
		goto done;
	if (labd->cfg.net_mode == LABD_NET_BRIDGE) {
		idle_count_ct(&sc);
		goto done;
	}
	table_scan(&sc, "/proc/net/tcp", 0);
	table_scan(&sc, "/proc/net/tcp6", 1);
	keys = xcalloc(sc.nsocks + 1, sizeof(*keys));
	for (i = 0; i < sc.nsocks; i++) {
		struct idle_sock	*s = &sc.socks[i];
		int			 new;

		if (s->ep == NULL)
			continue;
		k = sock_key(s);
		keys[nkeys++] = k;
		new = nseen == 0 ||
		    bsearch(&k, seen, nseen, sizeof(*seen), u64_cmp) == NULL;
		if (!sock_counts(&sc, s, new))
			continue;
		vm = s->ep->vm;
		if (s->state == TCPS_ESTABLISHED)
			vm->conns++;
		vm->conn_ms = now;
		vm->last_conn = time(NULL);
	}
	qsort(keys, nkeys, sizeof(*keys), u64_cmp);
	free(seen);
	seen = keys;
	nseen = nkeys;
done:
	free(sc.eps);
	free(sc.socks);
	free(sc.own);
}

/* Suspend the ready VMs of courses with idle_suspend that nobody uses. */
static void
idle_suspend(void)
{
	sqlite3_stmt	*st;
	struct vm	*vm;
	int64_t		 now = now_ms(), since;
	int		 secs;

	st = db_prepare("SELECT name, idle_suspend FROM courses"
	    " WHERE idle_suspend > 0");
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char	*course = db_text(st, 0);

		secs = sqlite3_column_int(st, 1);
		for (vm = vm_list(); vm != NULL; vm = vm->next) {
			if (strcmp(vm->course, course) != 0 ||
			    vm->state != VM_READY || vm->busy ||
			    vm->conns > 0)
				continue;
			since = vm->conn_ms > vm->active_ms ? vm->conn_ms :
			    vm->active_ms;
			if (now - since < (int64_t)secs * 1000)
				continue;
			log_info("%s: no connection for %d s: suspending",
			    vm->name, (int)((now - since) / 1000));
			db_event(0, "vm.idle_suspend", vm->name, "no connection"
			    " for %d s (idle_suspend %d s)",
			    (int)((now - since) / 1000), secs);
			vm_op_suspend(vm, DONE_NONE);
		}
	}
	sqlite3_finalize(st);
}

static int
idle_tick(struct loop *l, void *arg)
{
	idle_count();
	idle_suspend();
	return IDLE_TICK_MS;
}

/*
 * vm.c's hook at every change of state: a VM that becomes ready (booted,
 * resumed, restored, or a suspend that failed) starts its idle time
 * afresh; a snapshot taken of a running VM does not.
 */
/* Idle time starts when a VM becomes ready. */
static void
idle_vm_state(const struct event *ev, void *arg)
{
	struct vm	*vm = ev->vm;

	if (vm->state == VM_READY && vm->active_ms == 0)
		vm->active_ms = now_ms();
	else if (vm->state != VM_READY && vm->state != VM_SNAPSHOTTING)
		vm->active_ms = 0;
}

void
idle_init(void)
{
	struct vm	*vm;

	for (vm = vm_list(); vm != NULL; vm = vm->next) {
		struct event	ev = { .kind = "vm.state", .vm = vm };

		idle_vm_state(&ev, NULL);
	}
	events_on("vm.state", idle_vm_state, NULL);
	loop_add_timer(labd->loop, IDLE_TICK_MS, idle_tick, NULL);
}
