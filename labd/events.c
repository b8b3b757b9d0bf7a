/* SPDX-License-Identifier: ISC */
/*
 * events.c - the bus: what happened in labd, for whoever wants to hear.
 *
 * vm.c used to call idle, wake, net and the control socket by name each
 * time a VM changed state, and each of them called back into vm.c: seven
 * files that could only be read, tested or changed together.  Now a
 * file that has news fires an event; a file that cares subscribes once,
 * at init, with a function of its own.  The one who fires knows nobody,
 * and events.c knows nobody either: it is a list of functions.
 *
 * Events are delivered at once, in the order of subscription, on the
 * loop's thread.  A subscriber may fire further events (they are
 * delivered in turn, depth first) but may not subscribe from inside a
 * delivery.  The same file holds the other half of "tell me when it is
 * over": struct done, how a long operation reports its end to whoever
 * asked without knowing whether that is a client, a timer or nobody.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "labd/labd.h"

#define EVENTS_MAX	32	/* subscribers: a handful of files */

struct sub {
	const char	*kind;		/* NULL: every event */
	event_fn	 fn;
	void		*arg;
};

static struct sub	subs[EVENTS_MAX];
static size_t		nsubs;

void
events_on(const char *kind, event_fn fn, void *arg)
{
	if (nsubs == EVENTS_MAX)
		fatalx("events: more than %d subscribers", EVENTS_MAX);
	subs[nsubs].kind = kind;
	subs[nsubs].fn = fn;
	subs[nsubs].arg = arg;
	nsubs++;
}

void
events_off(event_fn fn, void *arg)
{
	size_t	i;

	for (i = 0; i < nsubs; i++) {
		if (subs[i].fn != fn || subs[i].arg != arg)
			continue;
		memmove(&subs[i], &subs[i + 1], (nsubs - i - 1) *
		    sizeof(subs[0]));
		nsubs--;
		return;
	}
}

void
events_fire(const char *kind, struct vm *vm, json_t *data)
{
	struct event	ev = { .kind = kind, .vm = vm,
			    .data = data ? data : json_object() };
	size_t		i, n = nsubs;

	for (i = 0; i < n && i < nsubs; i++)
		if (subs[i].kind == NULL || strcmp(subs[i].kind, kind) == 0)
			subs[i].fn(&ev, subs[i].arg);
	json_decref(ev.data);
}

/* --- completions -------------------------------------------------------- */

void
done_ok(struct done *d, json_t *result)
{
	if (d->fn == NULL) {
		json_decref(result);
		return;
	}
	d->fn(d->arg, NULL, NULL, result);
	d->fn = NULL;	/* once */
}

void
done_err(struct done *d, const char *code, const char *fmt, ...)
{
	char	msg[2048];
	va_list	ap;

	if (d->fn == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	d->fn(d->arg, code, msg, NULL);
	d->fn = NULL;
}
