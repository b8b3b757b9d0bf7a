/* SPDX-License-Identifier: ISC */
/*
 * loop.c - the daemon's event loop: epoll for file descriptors, a short
 * list of timers.  Everything that touches the database, the clients and
 * the VM table runs in this one thread; slow work goes to worker.c.
 *
 * Handlers are looked up by fd at dispatch time rather than stored in the
 * epoll data, so that a handler removed by an earlier callback in the same
 * batch is simply not called.
 */
#include <sys/epoll.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "labd/labd.h"

struct loop_fd {
	loop_fd_cb	 cb;
	void		*arg;
};

struct loop_timer {
	long long		 id;
	int64_t			 when;
	loop_timer_cb		 cb;
	void			*arg;
	struct loop_timer	*next;
};

struct loop {
	int			 epfd;
	struct loop_fd		*fds;
	int			 nfds;
	struct loop_timer	*timers;
	long long		 next_timer_id;
	int			 stop;
};

struct loop *
loop_new(void)
{
	struct loop	*l = xcalloc(1, sizeof(*l));

	if ((l->epfd = epoll_create1(EPOLL_CLOEXEC)) == -1)
		fatal("epoll_create1");
	return l;
}

void
loop_free(struct loop *l)
{
	struct loop_timer	*t;

	while ((t = l->timers) != NULL) {
		l->timers = t->next;
		free(t);
	}
	close(l->epfd);
	free(l->fds);
	free(l);
}

int
loop_add_fd(struct loop *l, int fd, uint32_t events, loop_fd_cb cb, void *arg)
{
	struct epoll_event	ev = { .events = events, .data.fd = fd };

	if (fd >= l->nfds) {
		int	n = fd < 64 ? 64 : fd * 2;

		l->fds = xrealloc(l->fds, n * sizeof(*l->fds));
		memset(l->fds + l->nfds, 0, (n - l->nfds) * sizeof(*l->fds));
		l->nfds = n;
	}
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) == -1)
		return -1;
	l->fds[fd].cb = cb;
	l->fds[fd].arg = arg;
	return 0;
}

/* MOD, not a second ADD: the kernel keeps one registration per fd. */
int
loop_mod_fd(struct loop *l, int fd, uint32_t events)
{
	struct epoll_event	ev = { .events = events, .data.fd = fd };

	return epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev);
}

void
loop_del_fd(struct loop *l, int fd)
{
	if (fd < 0 || fd >= l->nfds)
		return;
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
	l->fds[fd].cb = NULL;
	l->fds[fd].arg = NULL;
}

long long
loop_add_timer(struct loop *l, int ms, loop_timer_cb cb, void *arg)
{
	struct loop_timer	*t = xcalloc(1, sizeof(*t));

	t->id = ++l->next_timer_id;
	t->when = now_ms() + ms;
	t->cb = cb;
	t->arg = arg;
	t->next = l->timers;
	l->timers = t;
	return t->id;
}

void
loop_del_timer(struct loop *l, long long id)
{
	struct loop_timer	**tp, *t;

	for (tp = &l->timers; (t = *tp) != NULL; tp = &t->next) {
		if (t->id == id) {
			*tp = t->next;
			free(t);
			return;
		}
	}
}

static int
loop_timeout(struct loop *l)
{
	struct loop_timer	*t;
	int64_t			 now = now_ms(), first = -1;

	for (t = l->timers; t != NULL; t = t->next)
		if (first == -1 || t->when < first)
			first = t->when;
	if (first == -1)
		return -1;
	return first <= now ? 0 : (int)(first - now);
}

static void
loop_fire_timers(struct loop *l)
{
	struct loop_timer	*t;
	int64_t			 now = now_ms();
	int			 again;

	/* A callback may add or delete timers: restart the walk each time. */
	do {
		again = 0;
		for (t = l->timers; t != NULL; t = t->next) {
			int	next;

			if (t->when > now)
				continue;
			next = t->cb(l, t->arg);
			if (next < 0)
				loop_del_timer(l, t->id);
			else
				t->when = now_ms() + next;
			again = 1;
			break;
		}
	} while (again);
}

void
loop_run(struct loop *l)
{
	struct epoll_event	evs[64];
	int			n, i;

	l->stop = 0;	/* a loop stopped before may run again */
	while (!l->stop) {
		n = epoll_wait(l->epfd, evs, 64, loop_timeout(l));
		if (n == -1) {
			if (errno == EINTR)
				continue;
			/* Cannot happen with a valid epfd: stop, main() cleans up. */
			log_warn("epoll_wait");
			break;
		}
		for (i = 0; i < n; i++) {
			int	fd = evs[i].data.fd;

			if (fd < l->nfds && l->fds[fd].cb != NULL)
				l->fds[fd].cb(l, fd, evs[i].events,
				    l->fds[fd].arg);
		}
		loop_fire_timers(l);
	}
	l->stop = 0;	/* a later loop_run() runs again (the tests do) */
}

/* loop_run() returns when the round of events and timers is over. */
void
loop_stop(struct loop *l)
{
	l->stop = 1;
}
