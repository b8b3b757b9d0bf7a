/* SPDX-License-Identifier: ISC */
/*
 * action.c - what the instructor asks of VMs: start, stop, reset,
 * snapshot, suspend, resume, on one VM or on many.
 *
 * An action is a batch: one request a VM, all sent at once on the action
 * connection (link.c), like labctl's --course.  labd works on them in
 * parallel and answers each when its VM is done, so replies come in any
 * order; they are matched by id.  While a batch runs the footer shows a
 * progress bar; when its last reply comes the footer says how it went
 * ("reset to pristine: 3 ok, 1 failed: c1-bob: ...").  The rows
 * themselves change through the vm.state events, as for any change.
 * Each VM's outcome also goes to the event log pane ("reset to pristine
 * ok", "snapshot lab1 failed: ...").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tui/labtui.h"

struct batch_item {
	long	 id;		/* -1: could not be sent */
	char	 vm[TUI_NAMELEN];
	int	 done;
};

struct batch {
	char			 what[96];
	struct batch_item	*items;
	size_t			 n, done, failed;
	double			 started;
	char			 fails[TUI_ERRLEN];
	struct batch		*next;
};

static void
batch_fail(struct tui *t, struct batch *b, struct batch_item *it,
    const char *why)
{
	size_t	off = strlen(b->fails);

	model_log(t, it->vm, 1, "%s failed: %s", b->what, why);
	it->done = 1;
	b->done++;
	b->failed++;
	if (off + 8 < sizeof(b->fails))
		snprintf(b->fails + off, sizeof(b->fails) - off, "%s%s: %s",
		    off ? "; " : "", it->vm, why);
}

/* The last reply came: say how it went, and forget the batch. */
static void
batch_finish(struct tui *t, struct batch *b)
{
	struct batch	**bp;
	double		  secs = now_s() - b->started;

	if (b->n == 1 && b->failed == 0)
		tui_message(t, 0, "%s %s: ok (%.1f s)", b->what,
		    b->items[0].vm, secs);
	else if (b->n == 1)
		tui_message(t, 1, "%s failed: %s", b->what, b->fails);
	else
		tui_message(t, b->failed != 0, "%s: %zu ok, %zu failed%s%s"
		    " (%.1f s)", b->what, b->n - b->failed, b->failed,
		    b->failed ? ": " : "", b->fails, secs);
	for (bp = &t->batches; *bp != NULL; bp = &(*bp)->next) {
		if (*bp == b) {
			*bp = b->next;
			break;
		}
	}
	free(b->items);
	free(b);
	t->flags |= TF_DRAW;
}

/*
 * cmd on every VM of names, each request with the members of extra
 * (may be NULL) and its "vm".  names and extra are borrowed.
 */
void
action_run(struct tui *t, const char *cmd, const char *what, json_t *extra,
    json_t *names)
{
	struct batch	*b, **bp;
	char		 err[TUI_ERRLEN];
	json_t		*args;
	size_t		 i;

	if (json_array_size(names) == 0)
		return;
	b = tui_xcalloc(1, sizeof(*b));
	snprintf(b->what, sizeof(b->what), "%s", what);
	b->n = json_array_size(names);
	b->items = tui_xcalloc(b->n, sizeof(*b->items));
	b->started = now_s();
	for (bp = &t->batches; *bp != NULL; bp = &(*bp)->next)
		;
	*bp = b;	/* oldest first: the footer shows them in order */
	for (i = 0; i < b->n; i++) {
		struct batch_item	*it = &b->items[i];

		snprintf(it->vm, sizeof(it->vm), "%s",
		    json_string_value(json_array_get(names, i)));
		args = extra ? json_deep_copy(extra) : json_object();
		json_object_set_new(args, "vm", json_string(it->vm));
		it->id = link_act_send(t, cmd, args, err, sizeof(err));
		json_decref(args);
		if (it->id == -1)
			batch_fail(t, b, it, err);
	}
	if (b->done == b->n)
		batch_finish(t, b);
	t->flags |= TF_DRAW;
}

void
action_reply(struct tui *t, json_t *msg)
{
	json_t		*rid = json_object_get(msg, "id");
	struct batch	*b;
	size_t		 i;

	if (!json_is_integer(rid))
		return;
	for (b = t->batches; b != NULL; b = b->next) {
		for (i = 0; i < b->n; i++) {
			struct batch_item	*it = &b->items[i];

			if (it->done || it->id != json_integer_value(rid))
				continue;
			if (json_is_true(json_object_get(msg, "ok"))) {
				model_log(t, it->vm, 0, "%s ok", b->what);
				it->done = 1;
				b->done++;
			} else {
				const char	*m = jstr(json_object_get(msg,
				    "error"), "message");

				batch_fail(t, b, it, *m ? m : "refused");
			}
			if (b->done == b->n)
				batch_finish(t, b);
			t->flags |= TF_DRAW;
			return;
		}
	}
}

/* The connection went: nothing more will be answered. */
void
action_lost(struct tui *t, const char *why)
{
	struct batch	*b;
	size_t		 i;

	while ((b = t->batches) != NULL) {
		for (i = 0; i < b->n; i++)
			if (!b->items[i].done)
				batch_fail(t, b, &b->items[i], why);
		batch_finish(t, b);
	}
}

/* The footer's progress line; 0 when nothing runs. */
int
action_footer(struct tui *t, char *buf, size_t len, double *frac)
{
	struct batch	*b;
	size_t		 n = 0, done = 0, failed = 0, nb = 0;
	char		 nfail[32] = "";

	for (b = t->batches; b != NULL; b = b->next) {
		n += b->n;
		done += b->done;
		failed += b->failed;
		nb++;
	}
	if (nb == 0)
		return 0;
	*frac = n ? (double)done / (double)n : 1.0;
	if (failed)
		snprintf(nfail, sizeof(nfail), ", %zu failed", failed);
	snprintf(buf, len, "%s%s %zu/%zu done%s (%.0f s)", t->batches->what,
	    nb > 1 ? " and more:" : ":", done, n, nfail,
	    now_s() - t->batches->started);
	return 1;
}

void
action_free(struct tui *t)
{
	struct batch	*b;

	while ((b = t->batches) != NULL) {
		t->batches = b->next;
		free(b->items);
		free(b);
	}
}
