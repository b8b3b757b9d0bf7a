/* SPDX-License-Identifier: ISC */
/*
 * gw_req.c - the requests the gateway's threads hand to the loop
 * (gateway.h tells the protocol): made, held by both sides, answered,
 * let go; and the mark by which the loop ends a session it answered.
 * Its own file so that the loop's side, the connection, the relay and
 * gw_serve.c all use it and none of them the others; the asking
 * (gw_ask_until()) is here for the same reason.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "labd/gateway.h"

static int	gw_ask_fd = -1;	/* the pipe's end the threads write */

void
gw_req_init(int ask_fd)
{
	gw_ask_fd = ask_fd;
}

struct gw_req *
gw_req_new(enum gw_req_kind kind, const char *addr)
{
	struct gw_req	*r = xcalloc(1, sizeof(*r));

	r->kind = kind;
	snprintf(r->addr, sizeof(r->addr), "%s", addr);
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->cv, NULL);
	r->refs = 1;
	r->fd = -1;
	return r;
}

void
gw_req_unref(struct gw_req *r)
{
	int	left;

	pthread_mutex_lock(&r->mu);
	left = --r->refs;
	pthread_mutex_unlock(&r->mu);
	if (left > 0)
		return;
	pthread_mutex_destroy(&r->mu);
	pthread_cond_destroy(&r->cv);
	if (r->fd != -1)	/* a console no thread took */
		close(r->fd);
	explicit_bzero(r->pw_hash, sizeof(r->pw_hash));
	free(r->text);
	free(r);
}

void
gw_req_ref(struct gw_req *r)
{
	pthread_mutex_lock(&r->mu);
	r->refs++;
	pthread_mutex_unlock(&r->mu);
}

void
gw_req_set_cut(struct gw_req *r, const char *msg)
{
	pthread_mutex_lock(&r->mu);
	if (!r->cut)
		snprintf(r->msg, sizeof(r->msg), "%s", msg);
	r->cut = 1;
	pthread_mutex_unlock(&r->mu);
}

int
gw_req_cut(struct gw_req *r, char *msg, size_t msglen)
{
	int	cut;

	pthread_mutex_lock(&r->mu);
	if ((cut = r->cut))
		snprintf(msg, msglen, "%s", r->msg);
	pthread_mutex_unlock(&r->mu);
	return cut;
}

void
gw_req_answer(struct gw_req *r)
{
	pthread_mutex_lock(&r->mu);
	r->answered = 1;
	pthread_cond_signal(&r->cv);
	pthread_mutex_unlock(&r->mu);
	gw_req_unref(r);
}

int
gw_req_hand(struct gw_req *r)
{
	int	waiting;

	/* Looked at and answered at once: the thread cannot give up between. */
	pthread_mutex_lock(&r->mu);
	if ((waiting = !r->abandoned))
		r->answered = 1;
	pthread_cond_signal(&r->cv);
	pthread_mutex_unlock(&r->mu);
	gw_req_unref(r);
	return waiting;
}

int
gw_ask_until(struct gw_req *r, int timeout_s,
    void (*tick)(const char *progress, void *arg), void *arg)
{
	struct timespec	 ts;
	ssize_t		 n;
	int64_t		 end;
	int		 rc = 0, seen;
	char		 progress[sizeof(r->progress)];

	r->refs++;	/* the loop's hold, let go by gw_req_answer() */
	do
		n = write(gw_ask_fd, &r, sizeof(r));
	while (n == -1 && errno == EINTR);
	if (n != (ssize_t)sizeof(r)) {
		r->refs--;
		snprintf(r->msg, sizeof(r->msg), "the gateway is shutting"
		    " down");
		return 0;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	end = ts.tv_sec + timeout_s;
	pthread_mutex_lock(&r->mu);
	seen = r->nprogress;
	while (!r->answered) {
		/* A second at a time, so that tick runs while it waits. */
		clock_gettime(CLOCK_REALTIME, &ts);
		if (ts.tv_sec >= end)
			break;
		ts.tv_sec++;
		rc = pthread_cond_timedwait(&r->cv, &r->mu, &ts);
		if (tick == NULL || r->answered)
			continue;
		progress[0] = '\0';
		if (r->nprogress != seen) {
			seen = r->nprogress;
			snprintf(progress, sizeof(progress), "%s",
			    r->progress);
		}
		pthread_mutex_unlock(&r->mu);
		tick(progress[0] != '\0' ? progress : NULL, arg);
		pthread_mutex_lock(&r->mu);
	}
	(void)rc;
	if (!r->answered) {
		r->abandoned = 1;
		snprintf(r->msg, sizeof(r->msg), "labd did not answer in time;"
		    " try again");
	}
	rc = r->answered && r->ok;
	pthread_mutex_unlock(&r->mu);
	return rc;
}
