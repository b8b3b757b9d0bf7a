/* SPDX-License-Identifier: ISC */
/*
 * model.c - the VMs as labtui knows them, and the view of them.
 *
 * The model is every VM labd told us of, one row a VM, kept up to date
 * from vm.state events and, every few seconds, replaced by a vm.list (which
 * also drops the VMs that are gone).  Both come on the same connection, so
 * a list is never older than an event we have already applied.
 *
 * The view is what the table shows: the rows of the chosen course that
 * match the filter, sorted by one column.  It is rebuilt when the model or
 * the choice changes, not on every frame, and the cursor stays on the same
 * VM across rebuilds.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tui/labtui.h"

static void
scopy(char *dst, size_t len, const char *src)
{
	snprintf(dst, len, "%s", src);
}

struct vm_row *
model_find(struct tui *t, const char *name)
{
	size_t	i;

	for (i = 0; i < t->nrows; i++)
		if (strcmp(t->rows[i]->name, name) == 0)
			return t->rows[i];
	return NULL;
}

/* A line of the event log pane (e), the ring of every VM's events. */
static void
log_add(struct tui *t, const char *vm, int bad, const char *text)
{
	struct log_entry	*l = &t->log[t->nlog % TUI_NLOG];

	l->t = time(NULL);
	l->bad = bad;
	scopy(l->vm, sizeof(l->vm), vm);
	scopy(l->text, sizeof(l->text), text);
	t->nlog++;
	if (t->show_log)
		t->flags |= TF_DRAW;
}

void
model_log(struct tui *t, const char *vm, int bad, const char *fmt, ...)
{
	char	text[sizeof(t->log[0].text)];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	log_add(t, vm, bad, text);
}

/* An event of a VM: in its recent events and in the event log. */
void
model_note(struct tui *t, struct vm_row *r, const char *fmt, ...)
{
	struct vm_event	*e = &r->ev[r->nev % TUI_NEVENTS];
	va_list		 ap;

	e->t = time(NULL);
	va_start(ap, fmt);
	vsnprintf(e->text, sizeof(e->text), fmt, ap);
	va_end(ap);
	r->nev++;
	log_add(t, r->name, strncmp(e->text, "failed", 6) == 0, e->text);
}

static void
row_set(struct vm_row *r, json_t *vm, double now)
{
	json_t	*ports = json_object_get(vm, "ports"), *p, *c;

	scopy(r->course, sizeof(r->course), jstr(vm, "course"));
	scopy(r->student, sizeof(r->student), jstr(vm, "student"));
	scopy(r->state, sizeof(r->state), jstr(vm, "state"));
	scopy(r->desired, sizeof(r->desired), jstr(vm, "desired"));
	scopy(r->snapshot, sizeof(r->snapshot), jstr(vm, "snapshot"));
	scopy(r->error, sizeof(r->error), jstr(vm, "error"));
	r->nports = (int)json_array_size(ports);
	r->port1[0] = '\0';
	if ((p = json_array_get(ports, 0)) != NULL)
		snprintf(r->port1, sizeof(r->port1), "%s:%lld", jstr(p, "ip"),
		    jint(p, "port"));
	r->pid = (int)jint(vm, "pid");
	r->uptime = jint(vm, "uptime");
	r->uptime_at = now;
	c = json_object_get(vm, "connections");
	if (json_is_integer(c))
		r->connections = json_integer_value(c);
	else if (json_is_array(c))
		r->connections = (long long)json_array_size(c);
	else
		r->connections = -1;
	json_decref(r->obj);
	r->obj = json_incref(vm);
}

/*
 * One vm object from labd (an event or a list).  A change of state is
 * written into the row's recent events: labd's own events say so; a list
 * only tells us of a change that we missed, which it notes as such.
 */
static struct vm_row *
model_update_from(struct tui *t, json_t *vm, int from_event)
{
	const char	*name = jstr(vm, "name");
	struct vm_row	*r;
	char		 old_state[sizeof(r->state)];
	char		 old_error[sizeof(r->error)];
	int		 fresh = 0, old_pid;

	if (*name == '\0' || !json_is_object(vm))
		return NULL;
	if ((r = model_find(t, name)) == NULL) {
		if (t->nrows == t->caprows) {
			t->caprows = t->caprows ? t->caprows * 2 : 64;
			t->rows = tui_xrealloc(t->rows, t->caprows *
			    sizeof(*t->rows));
		}
		r = tui_xcalloc(1, sizeof(*r));
		scopy(r->name, sizeof(r->name), name);
		r->checks_total = -1;
		t->rows[t->nrows++] = r;
		fresh = 1;
	}
	scopy(old_state, sizeof(old_state), r->state);
	scopy(old_error, sizeof(old_error), r->error);
	old_pid = r->pid;
	row_set(r, vm, now_s());
	/* a new QEMU: its memory now, its CPU from the next sample */
	if (r->pid != old_pid)
		host_sample_vm(&t->host, r, now_s());
	r->seen = 1;
	/* vm.state events do not carry them: only a list says */
	if (!from_event) {
		r->checks_total = json_is_integer(json_object_get(vm,
		    "checks_total")) ? jint(vm, "checks_total") : -1;
		r->checks_met = jint(vm, "checks_met");
		r->checks_at = jint(vm, "checks_at");
	}
	if (from_event && (fresh || strcmp(old_state, r->state) != 0 ||
	    strcmp(old_error, r->error) != 0))
		model_note(t, r, "%s%s%s", r->state, *r->error ? ": " : "",
		    r->error);
	else if (!from_event && !fresh && strcmp(old_state, r->state) != 0)
		model_note(t, r, "%s (seen in vm.list)", r->state);
	t->flags |= TF_VIEW | TF_DRAW;
	return r;
}

struct vm_row *
model_update(struct tui *t, json_t *vm)
{
	return model_update_from(t, vm, 0);
}

static void
row_free(struct vm_row *r)
{
	json_decref(r->obj);
	free(r);
}

/* A whole vm.list: every VM in it, and none that is not. */
void
model_replace(struct tui *t, json_t *list)
{
	json_t	*vm;
	size_t	 i, k;

	if (!json_is_array(list))
		return;
	for (i = 0; i < t->nrows; i++)
		t->rows[i]->seen = 0;
	json_array_foreach(list, i, vm)
		model_update_from(t, vm, 0);
	for (i = k = 0; i < t->nrows; i++) {
		if (t->rows[i]->seen)
			t->rows[k++] = t->rows[i];
		else
			row_free(t->rows[i]);
	}
	t->nrows = k;
	t->flags |= TF_VIEW | TF_DRAW;
}

/* A check ended: its VMs' cells, and the detail view's goals. */
static void
model_checks_done(struct tui *t, json_t *data)
{
	struct vm_row	*r;
	json_t		*v;
	size_t		 i;

	json_array_foreach(json_object_get(data, "vms"), i, v) {
		if ((r = model_find(t, jstr(v, "vm"))) == NULL)
			continue;
		r->checks_met = jint(v, "met");
		r->checks_total = jint(v, "total");
		r->checks_at = jint(data, "finished");
		model_note(t, r, "checked: %lld/%lld goals met", r->checks_met,
		    r->checks_total);
		if (t->mode == MODE_DETAIL && strcmp(t->detail_vm, r->name) ==
		    0)
			link_checks(t, r->name);
	}
	t->flags |= TF_VIEW;
}

void
model_event(struct tui *t, const char *kind, json_t *data)
{
	struct vm_row	*r;
	size_t		 i;

	if (strcmp(kind, "vm.state") == 0) {
		if ((r = model_update_from(t, data, 1)) != NULL &&
		    t->mode == MODE_DETAIL &&
		    strcmp(t->detail_vm, r->name) == 0)
			link_snapshots(t, r->name, 0);
	} else if (strcmp(kind, "vm.crash") == 0) {
		if ((r = model_find(t, jstr(data, "vm"))) != NULL)
			model_note(t, r, "%s", jstr(data, "reason"));
	} else if (strcmp(kind, "vm.shutdown") == 0) {
		if ((r = model_find(t, jstr(data, "vm"))) != NULL)
			model_note(t, r, "the guest powered off");
	} else if (strcmp(kind, "gateway.login") == 0) {
		/* The event log pane: who came in through the gateway. */
		if ((r = model_find(t, jstr(data, "vm"))) != NULL)
			model_note(t, r, "%s logged in through the gateway"
			    "%s%s from %s (%lld open)", jstr(data, "student"),
			    strcmp(jstr(data, "mode"), "console") == 0 ?
			    " to the console" : "",
			    strcmp(jstr(data, "mode"), "reset") == 0 ?
			    " to reset" : "", jstr(data, "from"),
			    jint(data, "sessions"));
	} else if (strcmp(kind, "gateway.reset") == 0) {
		if ((r = model_find(t, jstr(data, "vm"))) != NULL)
			model_note(t, r, "%s's reset through the gateway from"
			    " %s: %s", jstr(data, "student"),
			    jstr(data, "from"), jstr(data, "what"));
	} else if (strcmp(kind, "gateway.logout") == 0) {
		if ((r = model_find(t, jstr(data, "vm"))) != NULL)
			model_note(t, r, "%s logged out of the gateway (from %s,"
			    " %lld s)", jstr(data, "student"),
			    jstr(data, "from"), jint(data, "seconds"));
	} else if (strcmp(kind, "check.done") == 0) {
		model_checks_done(t, data);
	} else if (strcmp(kind, "course.reset") == 0) {
		for (i = 0; i < t->nrows; i++)
			if (strcmp(t->rows[i]->course, jstr(data, "course")) ==
			    0)
				model_note(t, t->rows[i], "scheduled course"
				    " reset to %s", jstr(data, "to"));
		tui_message(t, 0, "course %s: scheduled reset of %lld VMs to"
		    " %s", jstr(data, "course"), jint(data, "vms"),
		    jstr(data, "to"));
	}
	t->flags |= TF_DRAW;
}

int
state_color(const char *state)
{
	static const struct {
		const char	*state;
		enum tui_color	 color;
	} colors[] = {
		{ "ready", CLR_READY },
		{ "booting", CLR_BUSY },
		{ "queued", CLR_DIM },
		{ "provisioning", CLR_BUSY },
		{ "restoring", CLR_BUSY },
		{ "resuming", CLR_BUSY },
		{ "suspending", CLR_BUSY },
		{ "stopping", CLR_BUSY },
		{ "snapshotting", CLR_BUSY },
		{ "failed", CLR_FAILED },
		{ "paused", CLR_FAILED },	/* disk full or error: look */
		{ "stopped", CLR_DIM },
		{ "suspended", CLR_DIM },
	};
	size_t	i;

	for (i = 0; i < sizeof(colors) / sizeof(colors[0]); i++)
		if (strcmp(colors[i].state, state) == 0)
			return colors[i].color;
	return CLR_NORMAL;
}

/* labd's uptime, counted on between two lists while QEMU runs. */
long long
row_uptime(const struct vm_row *r, double now)
{
	if (r->pid == 0 || r->uptime <= 0)
		return r->uptime;
	return r->uptime + (long long)(now - r->uptime_at);
}

/* Case-insensitive: does any field a person would look for hold it? */
static int
row_matches(const struct vm_row *r, const char *filter)
{
	const char	*fields[] = { r->name, r->student, r->state,
			    r->port1, r->snapshot, r->course };
	size_t		 i;

	if (*filter == '\0')
		return 1;
	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if (strcasestr(fields[i], filter) != NULL)
			return 1;
	return 0;
}

struct sort_ctx {
	int	col;
	int	rev;
	double	now;
};

static int
row_cmp(const void *a, const void *b, void *arg)
{
	const struct sort_ctx	*s = arg;
	const struct vm_row	*ra = *(struct vm_row *const *)a;
	const struct vm_row	*rb = *(struct vm_row *const *)b;
	int			 c;

	c = columns[s->col].cmp(ra, rb, s->now);
	if (c == 0)
		c = strverscmp(ra->name, rb->name);
	return s->rev ? -c : c;
}

static int
str_cmp(const void *a, const void *b)
{
	return strverscmp(*(char *const *)a, *(char *const *)b);
}

static void
courses_rebuild(struct tui *t)
{
	size_t	i, k;
	int	found = 0;

	for (i = 0; i < t->ncourses; i++)
		free(t->courses[i]);
	free(t->courses);
	t->courses = tui_xcalloc(t->nrows + 1, sizeof(*t->courses));
	t->ncourses = 0;
	for (i = 0; i < t->nrows; i++) {
		for (k = 0; k < t->ncourses; k++)
			if (strcmp(t->courses[k], t->rows[i]->course) == 0)
				break;
		if (k == t->ncourses)
			t->courses[t->ncourses++] =
			    tui_xstrdup(t->rows[i]->course);
	}
	qsort(t->courses, t->ncourses, sizeof(*t->courses), str_cmp);
	for (k = 0; k < t->ncourses; k++)
		if (strcmp(t->courses[k], t->course) == 0)
			found = 1;
	/* The course went away (course rm): show them all again. */
	if (!found && t->nrows > 0)
		t->course[0] = '\0';
}

static void
widen(int *w, const char *s)
{
	int	n = (int)strlen(s);

	if (n > *w)
		*w = n;
}

void
model_view(struct tui *t)
{
	struct sort_ctx	 s = { t->sort_col, t->sort_rev, now_s() };
	size_t		 i;

	courses_rebuild(t);
	if (t->capview < t->nrows + 1) {
		t->capview = t->nrows + 1;
		t->view = tui_xrealloc(t->view, t->capview * sizeof(*t->view));
	}
	t->nview = 0;
	t->has_conn = 0;
	memset(t->widest, 0, sizeof(t->widest));
	for (i = 0; i < t->nrows; i++) {
		struct vm_row	*r = t->rows[i];

		if (r->connections >= 0)
			t->has_conn = 1;
		if (*t->course != '\0' && strcmp(r->course, t->course) != 0)
			continue;
		if (!row_matches(r, t->filter))
			continue;
		t->view[t->nview++] = r;
		/* the table's widths, here rather than on every frame */
		widen(&t->widest[COL_NAME], r->name);
		widen(&t->widest[COL_STUDENT], r->student);
		widen(&t->widest[COL_SNAPSHOT], r->snapshot);
	}
	qsort_r(t->view, t->nview, sizeof(*t->view), row_cmp, &s);
	/* Keep the cursor on its VM; if it left the view, on its place. */
	for (i = 0; i < t->nview; i++) {
		if (strcmp(t->view[i]->name, t->cursor_name) == 0) {
			t->cursor = i;
			break;
		}
	}
	if (t->cursor >= t->nview)
		t->cursor = t->nview ? t->nview - 1 : 0;
	if (t->nview > 0)
		snprintf(t->cursor_name, sizeof(t->cursor_name), "%s",
		    t->view[t->cursor]->name);
	t->flags |= TF_DRAW;
}

struct vm_row *
model_cursor_row(struct tui *t)
{
	return t->nview > 0 && t->cursor < t->nview ? t->view[t->cursor] :
	    NULL;
}

void
model_free(struct tui *t)
{
	size_t	i;

	for (i = 0; i < t->nrows; i++)
		row_free(t->rows[i]);
	for (i = 0; i < t->ncourses; i++)
		free(t->courses[i]);
	free(t->rows);
	free(t->view);
	free(t->courses);
	json_decref(t->status);
	json_decref(t->detail_snaps);
	json_decref(t->detail_checks);
	json_decref(t->replay_events);
	prompt_close(t);
}
