/* SPDX-License-Identifier: ISC */
/*
 * cmd_course.c - the course commands: create, list, set, show, rm,
 * access.  Each reads its arguments, calls the model (course.c) and
 * replies with its result, or with the code and message of its refusal.
 * The dispatcher has checked the arguments' presence and types against
 * the command table (cmd.c).
 */
#include <string.h>

#include "labd/labd.h"

void
cmd_course_create(const struct req *r, json_t *args)
{
	const char	*name = arg_str(args, "name");
	const char	*tref = arg_str(args, "template");
	const char	*text = arg_str(args, "roster");
	const char	*rname = arg_str(args, "roster_name");
	int		 over = json_is_true(json_object_get(args, "overcommit"));
	const char	*code;
	char		 err[LABD_MSGLEN];
	json_t		*res;

	if (rname == NULL)
		rname = "roster";
	if ((code = course_create(name, tref, text, rname, over, r->uid, &res, err,
	    sizeof(err))) != NULL) {
		reply_err(r, code, "%s", err);
		return;
	}
	reply_ok(r, res);
}

void
cmd_course_list(const struct req *r, json_t *args)
{
	reply_ok(r, course_list());
}

void
cmd_course_set(const struct req *r, json_t *args)
{
	const char	*course = arg_str(args, "course");
	const char	*reset_at = arg_str(args, "reset_at");
	const char	*reset_to = arg_str(args, "reset_to");
	const char	*idle = arg_str(args, "idle_suspend");
	const char	*inet = arg_str(args, "internet");
	const char	*iso = arg_str(args, "isolation");
	const char	*allow = arg_str(args, "allow_from");
	const char	*nets = arg_str(args, "allow_nets");
	const char	*sudo = arg_str(args, "sudo");
	const char	*sreset = arg_str(args, "student_reset");
	const char	*exam_end = arg_str(args, "exam_end");
	const char	*collect = arg_str(args, "collect");
	const char	*cpu_weight = arg_str(args, "cpu_weight");
	const char	*memory_max = arg_str(args, "memory_max");
	const char	*pids_max = arg_str(args, "pids_max");
	struct course_change ch = { .reset_at = reset_at,
			    .reset_to = reset_to, .idle_suspend = idle,
			    .internet = inet, .isolation = iso,
			    .allow_from = allow, .allow_nets = nets,
			    .sudo = sudo, .student_reset = sreset,
			    .checks = json_object_get(args, "checks"),
			    .exam_end = exam_end, .collect = collect,
			    .cpu_weight = cpu_weight, .memory_max = memory_max,
			    .pids_max = pids_max };
	char		 err[LABD_MSGLEN];
	const char	*code;
	json_t		*res;

	if ((code = course_set(course, &ch, r->uid, &res, err,
	    sizeof(err))) != NULL) {
		reply_err(r, code, "%s", err);
		return;
	}
	reply_ok(r, res);
}

void
cmd_course_show(const struct req *r, json_t *args)
{
	const char	*course = arg_str(args, "course");
	const char	*code;
	char		 err[LABD_MSGLEN];
	json_t		*res;

	if ((code = course_show(course, &res, err, sizeof(err))) != NULL) {
		reply_err(r, code, "%s", err);
		return;
	}
	reply_ok(r, res);
}

void
cmd_course_rm(const struct req *r, json_t *args)
{
	const char	*course = arg_str(args, "course");
	const char	*code;
	char		 err[LABD_MSGLEN];
	json_t		*res;

	if ((code = course_rm(course, r->uid, &res, err, sizeof(err))) !=
	    NULL) {
		reply_err(r, code, "%s", err);
		return;
	}
	reply_ok(r, res);
}

void
cmd_course_access(const struct req *r, json_t *args)
{
	const char	*course = arg_str(args, "course");
	const char	*code;
	char		 err[LABD_MSGLEN];
	json_t		*res;

	if ((code = course_access(course, &res, err, sizeof(err))) != NULL) {
		reply_err(r, code, "%s", err);
		return;
	}
	reply_ok(r, res);
}
