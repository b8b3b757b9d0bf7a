/* SPDX-License-Identifier: ISC */
/*
 * worker.c - a small pool of threads for work that would stall the event
 * loop: qemu-img, genisoimage, spawning QEMU, waiting for a guest's SSH.
 * A job's run() executes in a worker and must touch nothing but its own
 * struct; its done() runs later in the loop's thread, woken by an eventfd.
 */
#include <sys/epoll.h>
#include <sys/eventfd.h>

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <unistd.h>

#include "labd/labd.h"

struct workers {
	pthread_mutex_t	 lock;
	pthread_cond_t	 cond;
	struct job	*todo, **todo_tail;
	struct job	*done, **done_tail;
	int		 efd;
	int		 pending;	/* submitted, done() not yet called */
	int		 nthreads;
};

/*
 * How many workers: the configured number, or for auto (0) four a core,
 * from 4 to 32.  More than the cores, because a worker spends much of a
 * VM operation waiting, not computing: on QMP while QEMU loads a
 * snapshot, on the guest's answer after it.  A reset of a class of 30 on
 * 2 cores under TCG (bench/class.sh 30, RESETS=3) took 5.3 to 5.8 s with
 * 4 workers and 4.9 to 5.1 with 8; on another such host, KSM off, 5.5 to
 * 6.4 s with 4 and 5.2 to 6.2 with 8: with 4, the cores idle while every
 * worker waits.
 */
int
workers_count(int configured, int ncpu)
{
	if (configured > 0)
		return configured;
	if (ncpu < 1)
		ncpu = 1;
	return ncpu >= 8 ? 32 : 4 * ncpu;
}

static void *
worker_main(void *arg)
{
	struct workers	*w = arg;
	struct job	*j;
	uint64_t	 one = 1;

	for (;;) {
		pthread_mutex_lock(&w->lock);
		while (w->todo == NULL)
			pthread_cond_wait(&w->cond, &w->lock);
		j = w->todo;
		if ((w->todo = j->next) == NULL)
			w->todo_tail = &w->todo;
		pthread_mutex_unlock(&w->lock);

		j->run(j);

		pthread_mutex_lock(&w->lock);
		j->next = NULL;
		*w->done_tail = j;
		w->done_tail = &j->next;
		pthread_mutex_unlock(&w->lock);
		while (write(w->efd, &one, sizeof(one)) == -1 && errno == EINTR)
			;
	}
	return NULL;
}

static void
workers_collect(struct loop *l, int fd, uint32_t events, void *arg)
{
	struct workers	*w = arg;
	struct job	*list, *j;
	uint64_t	 n;

	while (read(fd, &n, sizeof(n)) == -1 && errno == EINTR)
		;
	pthread_mutex_lock(&w->lock);
	list = w->done;
	w->done = NULL;
	w->done_tail = &w->done;
	pthread_mutex_unlock(&w->lock);
	while ((j = list) != NULL) {
		list = j->next;
		w->pending--;
		j->done(j);
	}
}

struct workers *
workers_new(struct loop *l, int nthreads)
{
	struct workers	*w = xcalloc(1, sizeof(*w));
	pthread_attr_t	 attr;
	int		 i;

	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	w->todo_tail = &w->todo;
	w->done_tail = &w->done;
	w->nthreads = nthreads;
	if ((w->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) == -1)
		fatal("eventfd");
	if (loop_add_fd(l, w->efd, EPOLLIN, workers_collect, w) == -1)
		fatal("epoll add eventfd");
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	for (i = 0; i < nthreads; i++) {
		pthread_t	t;

		if (pthread_create(&t, &attr, worker_main, w) != 0)
			fatalx("cannot start worker thread");
	}
	pthread_attr_destroy(&attr);
	return w;
}

void
workers_submit(struct workers *w, struct job *j)
{
	j->next = NULL;
	w->pending++;
	pthread_mutex_lock(&w->lock);
	*w->todo_tail = j;
	w->todo_tail = &j->next;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

int
workers_pending(struct workers *w)
{
	return w->pending;
}

int
workers_size(struct workers *w)
{
	return w->nthreads;
}
