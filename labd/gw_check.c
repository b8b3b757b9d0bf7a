/* SPDX-License-Identifier: ISC */
/*
 * gw_check.c - the gateway's +check, the loop's side: "ssh
 * alice+check@host" runs the course's stored checks (course set
 * checks=DIR) in alice's VM alone, with check.c's runner, and she reads
 * her own goals: each one's name and description, met or not, the
 * reason line of those not met, and the totals.
 *
 * What she never reads is a script: the table is made here, on labd's
 * side, from course.check's result, which holds the goals' names and
 * descriptions and the last line each goal printed, not the scripts.
 * The reason lines come from her own VM: what she could write there
 * she may read, but a byte that would move her terminal's cursor is
 * shown as '?' all the same.
 *
 * The run is stored in check_runs as the student's (by_student), which
 * labctl check --last leaves out, and is an event (gateway.check).
 * lab-check inside the guest (labcheck.c) prints the same text.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "labd/gateway.h"

/* A growing string. */
struct gw_text {
	char	*s;
	size_t	 len, cap;
};

static void
text_add(struct gw_text *t, const char *fmt, ...) PRINTFLIKE(2, 3);

static void
text_add(struct gw_text *t, const char *fmt, ...)
{
	va_list	ap;
	int	n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(t->s + t->len, t->cap - t->len, fmt, ap);
		va_end(ap);
		if (n >= 0 && (size_t)n < t->cap - t->len) {
			t->len += (size_t)n;
			return;
		}
		t->cap = t->cap * 2 + (size_t)(n > 0 ? n : 0) + 256;
		t->s = xrealloc(t->s, t->cap);
	}
}

/* s as the student's terminal may show it: printable ASCII, '?' else. */
static void
text_safe(const char *s, char *out, size_t outlen)
{
	size_t	i;

	for (i = 0; s[i] != '\0' && i + 1 < outlen; i++)
		out[i] = (unsigned char)s[i] >= 0x20 &&
		    (unsigned char)s[i] < 0x7f ? s[i] : '?';
	out[i] = '\0';
}

static const char *
jtext(json_t *o, const char *key)
{
	const char	*s = json_string_value(json_object_get(o, key));

	return s != NULL ? s : "";
}

char *
gw_check_text(json_t *res, int *all_met)
{
	struct gw_text	 t = { NULL, 0, 0 };
	json_t		*goals = json_object_get(res, "goals");
	json_t		*row = json_array_get(json_object_get(res, "rows"), 0);
	json_t		*results = json_object_get(row, "results"), *g, *r;
	char		 name[64], desc[512], why[CHECK_REASON_MAX + 128];
	size_t		 i, ng = json_array_size(goals), met = 0, w = 4;
	int		 ok;

	t.cap = 1024;
	t.s = xmalloc(t.cap);
	t.s[0] = '\0';
	json_array_foreach(goals, i, g)
		if (strlen(jtext(g, "name")) > w)
			w = strlen(jtext(g, "name"));
	text_safe(jtext(row, "vm"), name, sizeof(name));
	text_add(&t, "checks of %s (course %s):\n", name, jtext(res,
	    "course"));
	if (strcmp(jtext(row, "state"), "checked") != 0) {
		text_safe(jtext(row, "error"), why, sizeof(why));
		text_add(&t, "  your VM could not be checked: %s\n", why);
	}
	json_array_foreach(goals, i, g) {
		r = json_array_get(results, i);
		ok = json_is_true(json_object_get(r, "met"));
		met += ok;
		text_safe(jtext(g, "name"), name, sizeof(name));
		text_safe(jtext(g, "description"), desc, sizeof(desc));
		text_add(&t, "  %-7s  %-*s%s%s\n", ok ? "met" : "not met",
		    (int)w, name, desc[0] ? "  " : "", desc);
		if (ok)
			continue;
		text_safe(jtext(r, "reason"), why, sizeof(why));
		text_add(&t, "  %-7s  %-*s  why: %s\n", "", (int)w, "",
		    why[0] ? why : "(no output)");
	}
	text_add(&t, "%zu of %zu goals met\n", met, ng);
	*all_met = ng > 0 && met == ng;
	return t.s;
}

static void
gw_check_answer(struct gw_req *r, int ok, const char *msg)
{
	if (msg != NULL)
		snprintf(r->msg, sizeof(r->msg), "%s", msg);
	r->ok = ok;
	gw_req_answer(r);
}

/* The run is over: the student's table, an event, the thread woken. */
static void
gw_check_done(void *arg, const char *code, const char *msg, json_t *result)
{
	struct gw_req	*r = arg;
	struct vm	*vm = vm_find(r->vm);
	int		 all;

	if (code != NULL) {
		db_event(0, "gateway.check", r->vm, "%s from %s: failed: %s",
		    r->login, r->addr, msg);
		gw_check_answer(r, 0, msg);
		return;
	}
	r->text = gw_check_text(result, &all);
	r->all_met = all;
	db_event(0, "gateway.check", r->vm, "%s from %s: %s", r->login,
	    r->addr, all ? "all goals met" : "not all goals met");
	events_fire("gateway.check", vm, json_pack("{s:s,s:s,s:s,s:b}", "vm",
	    r->vm, "student", r->login, "from", r->addr, "all_met", all));
	json_decref(result);
	gw_check_answer(r, 1, NULL);
}

void
gw_check(struct gw_req *r)
{
	struct vm	*vm = vm_find(r->vm);
	char		 err[GW_MSGLEN];

	if (vm == NULL) {
		gw_check_answer(r, 0, "your VM no longer exists");
		return;
	}
	snprintf(r->login, sizeof(r->login), "%s", vm->student);
	log_info("gateway: %s checks %s from %s", vm->student, vm->name,
	    r->addr);
	/* The run may end at once (a VM that cannot be reached): r answered. */
	if (check_vm_stored(vm, (struct done){ gw_check_done, r }, err,
	    sizeof(err)) != NULL) {
		db_event(0, "gateway.check", r->vm, "%s from %s: refused: %s",
		    r->login, r->addr, err);
		gw_check_answer(r, 0, err);
	}
}
