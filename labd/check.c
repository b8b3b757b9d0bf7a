/* SPDX-License-Identifier: ISC */
/*
 * check.c - course.check: the instructor's goal scripts run in every
 * ready VM of a course, and a goal x student table comes back.
 *
 * labctl reads the scripts on its side and sends them; labd keeps them
 * only for the run.  Each ready VM gets one exec job (vmjob.c's
 * VMJOB_EXEC, on the worker pool, so the VMs run in parallel as far as
 * the pool goes) whose standard input is checkscript.c's program.  A VM
 * that is not ready gets a "not running" row rather than a wait.  When
 * the last job is back the reply is stored whole in check_runs, which is
 * what course.check_last gives again.
 *
 * Every VM has a parameter of its own (vm_params): 16 random hex digits,
 * made the first time it is asked for and kept as long as the VM exists,
 * so an exercise can differ per student.  It is random rather than
 * derived from a course secret: as stable and as unguessable, with no
 * MAC to get right.  The check puts it in /etc/labd/param and in the
 * goals' LAB_PARAM.
 */
#include <sys/random.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "labd/vmjob.h"

#define CHECK_TIMEOUT_DEFAULT	30	/* seconds a goal may run */
#define CHECK_TIMEOUT_MAX	600
#define CHECK_PARAMLEN		16	/* hex digits */

struct check_run {
	struct req		*r;
	uid_t			 uid;
	int64_t			 course_id;
	char			 course[LABD_NAMELEN];
	struct check_goal	*goals;
	size_t			 ngoals;
	int			 timeout_s;
	json_t			*rows;		/* one a VM, by name */
	size_t			 pending;	/* jobs not back yet */
	time_t			 started;
	int64_t			 t0;
};

struct check_job {
	struct check_run	*run;
	size_t			 row;
};

static int
check_name_ok(const char *s)
{
	size_t	n = strlen(s);

	return n > 0 && n < CHECK_GOAL_NAMELEN && strspn(s,
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")
	    == n && s[0] != '-';
}

/* The VM's parameter, made and kept the first time; -1 when it cannot be. */
static int
check_param(int64_t vm_id, char *out, size_t outlen)
{
	sqlite3_stmt	*st;
	unsigned char	 rnd[CHECK_PARAMLEN / 2];
	size_t		 i;
	int		 rc = -1;

	st = db_prepare("SELECT param FROM vm_params WHERE vm_id = ?");
	sqlite3_bind_int64(st, 1, vm_id);
	if (sqlite3_step(st) == SQLITE_ROW) {
		snprintf(out, outlen, "%s", db_text(st, 0));
		sqlite3_finalize(st);
		return 0;
	}
	sqlite3_finalize(st);
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		return -1;
	for (i = 0; i < sizeof(rnd) && 2 * i + 2 < outlen; i++)
		snprintf(out + 2 * i, 3, "%02x", rnd[i]);
	st = db_prepare("INSERT INTO vm_params(vm_id, param) VALUES (?, ?)");
	sqlite3_bind_int64(st, 1, vm_id);
	sqlite3_bind_text(st, 2, out, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_DONE)
		rc = 0;
	sqlite3_finalize(st);
	return rc;
}

static void
check_run_free(struct check_run *run)
{
	size_t	i;

	for (i = 0; i < run->ngoals; i++) {
		free(run->goals[i].description);
		free(run->goals[i].script);
	}
	free(run->goals);
	json_decref(run->rows);
	req_free(run->r);
	free(run);
}

/* The reply: goals, rows and their totals. */
static json_t *
check_result(struct check_run *run, time_t finished)
{
	json_t	*goals = json_array(), *g, *row, *res;
	size_t	 i, k;
	int	 met;

	for (i = 0; i < run->ngoals; i++) {
		met = 0;
		json_array_foreach(run->rows, k, row) {
			res = json_array_get(json_object_get(row, "results"),
			    i);
			if (json_is_true(json_object_get(res, "met")))
				met++;
		}
		g = json_pack("{s:s,s:s,s:i}", "name", run->goals[i].name,
		    "description", run->goals[i].description, "met", met);
		json_array_append_new(goals, g);
	}
	return json_pack("{s:s,s:I,s:I,s:I,s:i,s:o,s:O}", "course",
	    run->course, "started", (json_int_t)run->started, "finished",
	    (json_int_t)finished, "ms", (json_int_t)(now_ms() - run->t0),
	    "timeout", run->timeout_s, "goals", goals, "rows", run->rows);
}

/* All rows are in: stored, replied, freed. */
static void
check_finish(struct check_run *run)
{
	sqlite3_stmt	*st;
	json_t		*res;
	time_t		 finished = time(NULL);
	char		*text;
	int		 ok = 0;

	res = check_result(run, finished);
	text = json_dumps(res, JSON_COMPACT);
	st = db_prepare("INSERT INTO check_runs(course_id, started, finished,"
	    " uid, result) VALUES (?, ?, ?, ?, ?)");
	sqlite3_bind_int64(st, 1, run->course_id);
	sqlite3_bind_int64(st, 2, run->started);
	sqlite3_bind_int64(st, 3, finished);
	sqlite3_bind_int64(st, 4, run->uid);
	sqlite3_bind_text(st, 5, text, -1, SQLITE_STATIC);
	ok = sqlite3_step(st) == SQLITE_DONE;
	sqlite3_finalize(st);
	free(text);
	if (!ok)
		log_warnx("course %s: the check's result is not stored: %s",
		    run->course, sqlite3_errmsg(labd->db));
	db_event(run->uid, "course.check.done", run->course, "%zu goals,"
	    " %zu VMs, %lld ms", run->ngoals, json_array_size(run->rows),
	    (long long)(now_ms() - run->t0));
	checklast_done(res);
	reply_ok(run->r, res);
	check_run_free(run);
}

/* Every goal of a row not met, for why (a VM that could not be checked). */
static void
check_row_fail(struct check_run *run, json_t *row, const char *state,
    const char *why)
{
	json_t	*a = json_array();
	size_t	 i;

	for (i = 0; i < run->ngoals; i++)
		json_array_append_new(a, json_pack("{s:s,s:b,s:n,s:s}",
		    "goal", run->goals[i].name, "met", 0, "status", "reason",
		    why));
	json_object_set_new(row, "state", json_string(state));
	json_object_set_new(row, "error", json_string(why));
	json_object_set_new(row, "met", json_integer(0));
	json_object_set_new(row, "results", a);
}

/* The job's output, line by line, into the row's results. */
static void
check_row_fill(struct check_run *run, json_t *row, char *out)
{
	struct check_line	 l;
	json_t			*a = json_array(), *res;
	char			*line, *next, reason[CHECK_REASON_MAX + 64];
	size_t			 i;
	int			 met = 0;

	for (i = 0; i < run->ngoals; i++)
		json_array_append_new(a, json_pack("{s:s,s:b,s:n,s:s}",
		    "goal", run->goals[i].name, "met", 0, "status", "reason",
		    "no result: the check stopped before this goal"));
	for (line = out; line != NULL && *line != '\0'; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		if (check_parse_line(line, &l) == -1)
			continue;
		for (i = 0; i < run->ngoals; i++)
			if (strcmp(run->goals[i].name, l.name) == 0)
				break;
		if (i == run->ngoals)
			continue;
		if (l.timeout)
			snprintf(reason, sizeof(reason), "timed out after %d s",
			    run->timeout_s);
		else if (l.cut)
			snprintf(reason, sizeof(reason), "output cut at %d KiB"
			    " (status %d): %s", CHECK_OUTPUT_MAX / 1024,
			    l.status, l.reason);
		else
			snprintf(reason, sizeof(reason), "%s", l.reason);
		res = json_pack("{s:s,s:b,s:i,s:s}", "goal", l.name, "met",
		    l.met, "status", l.status, "reason", reason);
		json_array_set_new(a, i, res);
	}
	json_array_foreach(a, i, res)
		if (json_is_true(json_object_get(res, "met")))
			met++;
	json_object_set_new(row, "state", json_string("checked"));
	json_object_set_new(row, "met", json_integer(met));
	json_object_set_new(row, "results", a);
}

static void
check_after(struct vmjob *j, struct vm *vm)
{
	struct check_job	*cj = j->arg;
	struct check_run	*run = cj->run;
	json_t			*row = json_array_get(run->rows, cj->row);
	char			 why[VMM_ERRLEN + 16];

	if (j->rc == -1) {
		snprintf(why, sizeof(why), "check failed: %s", j->err);
		check_row_fail(run, row, "failed", why);
	} else
		check_row_fill(run, row, j->output);
	free(cj);
	if (--run->pending == 0)
		check_finish(run);
}

static const struct vmjob_hooks check_hooks = { .after = check_after };

/* args.goals into run->goals; NULL, or the error for the client. */
static const char *
check_goals(struct check_run *run, json_t *goals, char *err, size_t errlen)
{
	json_t		*g;
	const char	*name, *desc, *script;
	size_t		 i, k;

	run->ngoals = json_array_size(goals);
	if (run->ngoals == 0 || run->ngoals > CHECK_GOALS_MAX) {
		errf(err, errlen, "course.check: %zu goals; 1 to %d",
		    run->ngoals, CHECK_GOALS_MAX);
		run->ngoals = 0;
		return LABD_E_INVALID;
	}
	run->goals = xcalloc(run->ngoals, sizeof(*run->goals));
	json_array_foreach(goals, i, g) {
		name = json_string_value(json_object_get(g, "name"));
		desc = json_string_value(json_object_get(g, "description"));
		script = json_string_value(json_object_get(g, "script"));
		run->goals[i].description = xstrdup(desc ? desc : "");
		run->goals[i].script = xstrdup(script ? script : "");
		if (name == NULL || !check_name_ok(name)) {
			errf(err, errlen, "course.check: goal %zu: its name is"
			    " 1 to %d of A-Z a-z 0-9 _ -", i + 1,
			    CHECK_GOAL_NAMELEN - 1);
			return LABD_E_INVALID;
		}
		snprintf(run->goals[i].name, sizeof(run->goals[i].name), "%s",
		    name);
		if (script == NULL || script[0] == '\0' ||
		    strlen(script) != json_string_length(json_object_get(g,
		    "script")) || strlen(script) > CHECK_SCRIPT_MAX) {
			errf(err, errlen, "course.check: goal %s: its script"
			    " is empty, holds a NUL or is over %d KiB", name,
			    CHECK_SCRIPT_MAX / 1024);
			return LABD_E_INVALID;
		}
		for (k = 0; k < i; k++)
			if (strcmp(run->goals[k].name, name) == 0) {
				errf(err, errlen, "course.check: goal %s is"
				    " there twice", name);
				return LABD_E_INVALID;
			}
	}
	return NULL;
}

/* One job for a ready VM; 0, or -1 with why. */
static int
check_submit(struct check_run *run, struct vm *vm, size_t row, char *why,
    size_t whylen)
{
	struct check_job	*cj;
	struct vmjob		*j;
	char			 param[CHECK_PARAMLEN + 1];

	if (check_param(vm->id, param, sizeof(param)) == -1) {
		snprintf(why, whylen, "cannot make the VM's parameter");
		return -1;
	}
	cj = xcalloc(1, sizeof(*cj));
	cj->run = run;
	cj->row = row;
	j = xcalloc(1, sizeof(*j));
	j->cmd = xstrdup("sh -s");
	j->input = check_script(run->goals, run->ngoals, param,
	    run->timeout_s, &j->inlen);
	/* Each goal its time, and room for the login and the copies. */
	j->timeout_ms = ((int)run->ngoals * (run->timeout_s + 3) + 60) * 1000;
	j->uid = run->uid;
	j->hooks = &check_hooks;
	j->arg = cj;
	if (vm_op_exec(vm, j, why, whylen) != NULL) {
		free(j->cmd);
		free(j->input);
		free(j);
		free(cj);
		return -1;
	}
	run->pending++;
	return 0;
}

static int
check_vm_cmp(const void *a, const void *b)
{
	return strcmp((*(struct vm *const *)a)->name,
	    (*(struct vm *const *)b)->name);
}

void
cmd_course_check(const struct req *r, json_t *args)
{
	const char		*course = arg_str(args, "course");
	const char		*student = arg_str(args, "student");
	json_t			*t = json_object_get(args, "timeout");
	struct check_run	*run;
	struct vm		*vm, **vms = NULL;
	sqlite3_stmt		*st;
	const char		*code;
	char			 err[LABD_MSGLEN], why[LABD_MSGLEN];
	size_t			 i, n = 0, cap = 0;
	json_t			*row;

	run = xcalloc(1, sizeof(*run));
	run->rows = json_array();
	run->timeout_s = CHECK_TIMEOUT_DEFAULT;
	run->uid = r->uid;
	run->started = time(NULL);
	run->t0 = now_ms();
	snprintf(run->course, sizeof(run->course), "%s", course);
	st = db_prepare("SELECT id FROM courses WHERE name = ?");
	sqlite3_bind_text(st, 1, course, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		run->course_id = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if (run->course_id == 0) {
		reply_err(r, LABD_E_NOT_FOUND, "course \"%.64s\" not found",
		    course);
		goto fail;
	}
	if (t != NULL && ((run->timeout_s = (int)json_integer_value(t)) < 1 ||
	    run->timeout_s > CHECK_TIMEOUT_MAX)) {
		reply_err(r, LABD_E_INVALID, "course.check: \"timeout\" is"
		    " whole seconds, 1 to %d", CHECK_TIMEOUT_MAX);
		goto fail;
	}
	if ((code = check_goals(run, json_object_get(args, "goals"), err,
	    sizeof(err))) != NULL) {
		reply_err(r, code, "%s", err);
		goto fail;
	}
	for (vm = vm_list(); vm != NULL; vm = vm->next) {
		if (strcmp(vm->course, course) != 0 || (student != NULL &&
		    strcmp(vm->student, student) != 0))
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 16;
			vms = xrealloc(vms, cap * sizeof(*vms));
		}
		vms[n++] = vm;
	}
	if (n == 0) {
		reply_err(r, LABD_E_NOT_FOUND, "course %s has no VM%s%s",
		    course, student ? " for student " : "",
		    student ? student : "");
		goto fail;
	}
	qsort(vms, n, sizeof(*vms), check_vm_cmp);
	run->r = req_keep(r);
	/* One pending more while submitting: no reply before the last. */
	run->pending = 1;
	for (i = 0; i < n; i++) {
		row = json_pack("{s:s,s:s}", "vm", vms[i]->name, "student",
		    vms[i]->student);
		json_array_append_new(run->rows, row);
		if (vms[i]->state != VM_READY) {
			snprintf(why, sizeof(why), "not running (%s)",
			    vm_state_name(vms[i]->state));
			check_row_fail(run, row, "not running", why);
		} else if (check_submit(run, vms[i], i, why, sizeof(why)) == -1)
			check_row_fail(run, row, "failed", why);
	}
	free(vms);
	db_event(r->uid, "course.check", course, "%zu goals, %zu VMs%s%s",
	    run->ngoals, n, student ? ", student " : "",
	    student ? student : "");
	if (--run->pending == 0)
		check_finish(run);
	return;
fail:
	free(vms);
	check_run_free(run);
}

void
cmd_course_check_last(const struct req *r, json_t *args)
{
	const char	*course = arg_str(args, "course");
	sqlite3_stmt	*st;
	json_t		*res = NULL;
	json_error_t	 jerr;
	int		 found;

	st = db_prepare("SELECT 1 FROM courses WHERE name = ?");
	sqlite3_bind_text(st, 1, course, -1, SQLITE_STATIC);
	found = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	if (!found) {
		reply_err(r, LABD_E_NOT_FOUND, "course \"%.64s\" not found",
		    course);
		return;
	}
	st = db_prepare("SELECT r.result FROM check_runs r JOIN courses c ON"
	    " c.id = r.course_id WHERE c.name = ? ORDER BY r.id DESC LIMIT 1");
	sqlite3_bind_text(st, 1, course, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		res = json_loads(db_text(st, 0), 0, &jerr);
	sqlite3_finalize(st);
	if (res == NULL) {
		reply_err(r, LABD_E_NOT_FOUND, "course %s has not been checked"
		    " yet (labctl check %s DIR)", course, course);
		return;
	}
	json_object_set_new(res, "last", json_true());
	reply_ok(r, res);
}
