/* SPDX-License-Identifier: ISC */
/*
 * gw_req.c - the requests the gateway's threads hand to the loop
 * (gateway.h tells the protocol): made, held by both sides, answered,
 * let go; and the mark by which the loop ends a session it answered.
 * Its own file so that the loop's side, the connection and the relay
 * all use it and none of them the others.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "labd/gateway.h"

struct gw_req *
gw_req_new(enum gw_req_kind kind, const char *addr)
{
	struct gw_req	*r = xcalloc(1, sizeof(*r));

	r->kind = kind;
	snprintf(r->addr, sizeof(r->addr), "%s", addr);
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->cv, NULL);
	r->refs = 1;
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
	explicit_bzero(r->pw_hash, sizeof(r->pw_hash));
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
