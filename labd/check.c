/* SPDX-License-Identifier: ISC */
/*
 * check.c - course.check: the instructor's goal scripts run in every
 * ready VM of a course, and a goal x student table comes back.
 *
 * labctl reads the scripts on its side and sends them: with the run
 * (labctl check COURSE DIR), kept only for it, or to be stored with the
 * course (labctl course set COURSE checks=DIR, course.c), in
 * course_checks, which a run without goals and the gateway's +check
 * (gw_check.c) use.  labd never opens a path a client names.  Each ready VM gets one exec job (vmjob.c's
 * VMJOB_EXEC, on the worker pool, so the VMs run in parallel as far as
 * the pool goes) whose standard input is checkscript.c's program.  A VM
 * that is not ready gets a "not running" row rather than a wait.  When
 * the last job is back the reply is stored whole in check_runs, which is
 * what course.check_last gives again: the instructor's runs only, so
 * that a student's +check of one VM never hides the class's table (the
 * student's runs are stored too, by_student, and are events).
 *
 * A student may run one check at a time in a VM: the VMs a run is in
 * are counted (check_busy), and +check is told to wait while the count
 * of its VM is not 0.  The instructor's runs are not refused: each run
 * has a folder of its own in the guest, so two never meet.
 *
 * Every VM has a parameter of its own (param.c), which the seed puts in
 * /etc/labd/param at the first boot; the check puts it there again (a VM
 * seeded before the seed carried it) and in the goals' LAB_PARAM.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "labd/vmjob.h"

#define CHECK_TIMEOUT_DEFAULT	30	/* seconds a goal may run */
#define CHECK_TIMEOUT_MAX	600

struct check_run {
	struct done		 done;		/* the reply, or the gateway */
	uid_t			 uid;
	int			 by_student;	/* the gateway's +check */
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
	char			 vm[LABD_VMNAMELEN];
};

/* The VMs a check runs in, with how many runs. */
struct check_busy {
	char			 vm[LABD_VMNAMELEN];
	int			 n;
	struct check_busy	*next;
};

static struct check_busy	*check_busy;

static struct check_busy *
busy_find(const char *vm)
{
	struct check_busy	*b;

	for (b = check_busy; b != NULL; b = b->next)
		if (strcmp(b->vm, vm) == 0)
			return b;
	return NULL;
}

static void
busy_add(const char *vm)
{
	struct check_busy	*b;

	if ((b = busy_find(vm)) == NULL) {
		b = xcalloc(1, sizeof(*b));
		snprintf(b->vm, sizeof(b->vm), "%s", vm);
		b->next = check_busy;
		check_busy = b;
	}
	b->n++;
}

static void
busy_drop(const char *vm)
{
	struct check_busy	**bp, *b;

	for (bp = &check_busy; (b = *bp) != NULL; bp = &b->next)
		if (strcmp(b->vm, vm) == 0) {
			if (--b->n == 0) {
				*bp = b->next;
				free(b);
			}
			return;
		}
}

static int
check_name_ok(const char *s)
{
	size_t	n = strlen(s);

	return n > 0 && n < CHECK_GOAL_NAMELEN && strspn(s,
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")
	    == n && s[0] != '-';
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
	done_err(&run->done, LABD_E_INTERNAL, "the check was dropped");
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
	    " uid, result, by_student) VALUES (?, ?, ?, ?, ?, ?)");
	sqlite3_bind_int64(st, 1, run->course_id);
	sqlite3_bind_int64(st, 2, run->started);
	sqlite3_bind_int64(st, 3, finished);
	sqlite3_bind_int64(st, 4, run->uid);
	sqlite3_bind_text(st, 5, text, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 6, run->by_student);
	ok = sqlite3_step(st) == SQLITE_DONE;
	sqlite3_finalize(st);
	free(text);
	if (!ok)
		log_warnx("course %s: the check's result is not stored: %s",
		    run->course, sqlite3_errmsg(labd->db));
	db_event(run->uid, "course.check.done", run->course, "%zu goals,"
	    " %zu VMs, %lld ms%s", run->ngoals, json_array_size(run->rows),
	    (long long)(now_ms() - run->t0), run->by_student ?
	    ", the student's (gateway +check)" : "");
	checklast_done(res);
	done_ok(&run->done, res);
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
	busy_drop(cj->vm);
	free(cj);
	if (--run->pending == 0)
		check_finish(run);
}

static const struct vmjob_hooks check_hooks = { .after = check_after };

/* goals into run->goals; NULL, or the error for the client (what: its field). */
static const char *
check_goals(struct check_run *run, json_t *goals, const char *what, char *err,
    size_t errlen)
{
	json_t		*g;
	const char	*name, *desc, *script;
	size_t		 i, k;

	run->ngoals = json_array_size(goals);
	if (run->ngoals == 0 || run->ngoals > CHECK_GOALS_MAX) {
		errf(err, errlen, "%s: %zu goals; 1 to %d", what,
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
			errf(err, errlen, "%s: goal %zu: its name is 1 to"
			    " %d of A-Z a-z 0-9 _ -", what, i + 1,
			    CHECK_GOAL_NAMELEN - 1);
			return LABD_E_INVALID;
		}
		snprintf(run->goals[i].name, sizeof(run->goals[i].name), "%s",
		    name);
		if (script == NULL || script[0] == '\0' ||
		    strlen(script) != json_string_length(json_object_get(g,
		    "script")) || strlen(script) > CHECK_SCRIPT_MAX) {
			errf(err, errlen, "%s: goal %s: its script is"
			    " empty, holds a NUL or is over %d KiB", what, name,
			    CHECK_SCRIPT_MAX / 1024);
			return LABD_E_INVALID;
		}
		for (k = 0; k < i; k++)
			if (strcmp(run->goals[k].name, name) == 0) {
				errf(err, errlen, "%s: goal %s is there"
				    " twice", what, name);
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
	char			 param[VM_PARAMLEN + 1];

	if (vm_param(vm->id, param, sizeof(param)) == -1) {
		snprintf(why, whylen, "cannot make the VM's parameter");
		return -1;
	}
	cj = xcalloc(1, sizeof(*cj));
	cj->run = run;
	cj->row = row;
	snprintf(cj->vm, sizeof(cj->vm), "%s", vm->name);
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
	busy_add(vm->name);
	return 0;
}

static int
check_vm_cmp(const void *a, const void *b)
{
	return strcmp((*(struct vm *const *)a)->name,
	    (*(struct vm *const *)b)->name);
}

/* A run of course, not started; NULL when the course does not exist. */
static struct check_run *
check_run_new(const char *course, uid_t uid)
{
	struct check_run	*run;
	sqlite3_stmt		*st;

	run = xcalloc(1, sizeof(*run));
	run->rows = json_array();
	run->timeout_s = CHECK_TIMEOUT_DEFAULT;
	run->uid = uid;
	run->started = time(NULL);
	run->t0 = now_ms();
	snprintf(run->course, sizeof(run->course), "%s", course);
	st = db_prepare("SELECT id FROM courses WHERE name = ?");
	sqlite3_bind_text(st, 1, course, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		run->course_id = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if (run->course_id == 0) {
		check_run_free(run);
		return NULL;
	}
	return run;
}

/* A job for each of vms (sorted here), a row each; the run is theirs. */
static void
check_launch(struct check_run *run, struct vm **vms, size_t n)
{
	char	 why[LABD_MSGLEN];
	json_t	*row;
	size_t	 i;

	qsort(vms, n, sizeof(*vms), check_vm_cmp);
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
	if (--run->pending == 0)
		check_finish(run);
}

const char *
check_goals_valid(json_t *goals, const char *what, char *err, size_t errlen)
{
	struct check_run	 run;
	const char		*code;
	size_t			 i;

	memset(&run, 0, sizeof(run));
	code = check_goals(&run, goals, what, err, errlen);
	for (i = 0; i < run.ngoals; i++) {
		free(run.goals[i].description);
		free(run.goals[i].script);
	}
	free(run.goals);
	return code;
}

json_t *
check_stored(int64_t course_id)
{
	sqlite3_stmt	*st;
	json_t		*goals = NULL;
	json_error_t	 jerr;

	st = db_prepare("SELECT goals FROM course_checks WHERE course_id = ?");
	sqlite3_bind_int64(st, 1, course_id);
	if (sqlite3_step(st) == SQLITE_ROW)
		goals = json_loads(db_text(st, 0), 0, &jerr);
	sqlite3_finalize(st);
	if (goals != NULL && !json_is_array(goals)) {
		json_decref(goals);
		goals = NULL;
	}
	return goals;
}

void
cmd_course_check(const struct req *r, json_t *args)
{
	const char		*course = arg_str(args, "course");
	const char		*student = arg_str(args, "student");
	json_t			*t = json_object_get(args, "timeout");
	json_t			*goals = json_object_get(args, "goals");
	json_t			*stored = NULL;
	struct check_run	*run;
	struct vm		*vm, **vms = NULL;
	const char		*code;
	char			 err[LABD_MSGLEN];
	size_t			 n = 0, cap = 0;

	if ((run = check_run_new(course, r->uid)) == NULL) {
		reply_err(r, LABD_E_NOT_FOUND, "course \"%.64s\" not found",
		    course);
		return;
	}
	if (t != NULL && ((run->timeout_s = (int)json_integer_value(t)) < 1 ||
	    run->timeout_s > CHECK_TIMEOUT_MAX)) {
		reply_err(r, LABD_E_INVALID, "course.check: \"timeout\" is"
		    " whole seconds, 1 to %d", CHECK_TIMEOUT_MAX);
		goto fail;
	}
	/* No goals given: the course's own, stored with course set. */
	if (goals == NULL && (goals = stored = check_stored(run->course_id)) ==
	    NULL) {
		reply_err(r, LABD_E_NOT_FOUND, "course %s has no stored checks:"
		    " store them (labctl course set %s checks=DIR) or give a"
		    " folder (labctl check %s DIR)", course, course, course);
		goto fail;
	}
	code = check_goals(run, goals, "course.check", err, sizeof(err));
	json_decref(stored);
	if (code != NULL) {
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
	db_event(r->uid, "course.check", course, "%zu goals%s, %zu VMs%s%s",
	    run->ngoals, stored ? " (stored)" : "", n,
	    student ? ", student " : "", student ? student : "");
	run->done = req_done(r);
	check_launch(run, vms, n);
	free(vms);
	return;
fail:
	free(vms);
	check_run_free(run);
}

const char *
check_vm_stored(struct vm *vm, struct done d, char *err, size_t errlen)
{
	struct check_run	*run;
	json_t			*goals;
	const char		*code;

	if ((run = check_run_new(vm->course, 0)) == NULL) {
		errf(err, errlen, "course %s no longer exists", vm->course);
		return LABD_E_NOT_FOUND;
	}
	if ((goals = check_stored(run->course_id)) == NULL) {
		errf(err, errlen, "course %s has no checks for you to run; ask"
		    " your instructor", vm->course);
		code = LABD_E_NOT_FOUND;
		goto fail;
	}
	code = check_goals(run, goals, "checks", err, errlen);
	json_decref(goals);
	if (code != NULL)
		goto fail;
	if (busy_find(vm->name) != NULL) {
		errf(err, errlen, "a check is running in your VM %s already;"
		    " wait for its end and try again", vm->name);
		code = LABD_E_BUSY;
		goto fail;
	}
	if (vm->state != VM_READY) {
		errf(err, errlen, "your VM %s is %s, not running: start it and"
		    " try again", vm->name, vm_state_name(vm->state));
		code = LABD_E_BUSY;
		goto fail;
	}
	run->by_student = 1;
	run->done = d;
	check_launch(run, &vm, 1);
	return NULL;
fail:
	check_run_free(run);
	return code;
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
	    " c.id = r.course_id WHERE c.name = ? AND r.by_student = 0"
	    " ORDER BY r.id DESC LIMIT 1");
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
