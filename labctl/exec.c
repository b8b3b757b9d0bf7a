/* SPDX-License-Identifier: ISC */
/*
 * exec.c - labctl exec: a command on one VM, or on every VM of a
 * course, as root over SSH with labd's key (vm.exec).  On one VM it
 * behaves like ssh: the output as it came, the command's exit status as
 * labctl's.  On a course the requests go out at once on one connection,
 * like the other bulk commands, and each VM's output comes back prefixed
 * with its name, so that a grep of the result still says where.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "labctl/labctl.h"

#define EXEC_CMD_MAX	8192	/* labd's limit, checked here to say so early */

/* Everything after "--", joined with spaces as ssh does; NULL when none. */
static char *
exec_join(int argc, char **argv)
{
	size_t	 len = 0;
	char	*s;
	int	 i;

	for (i = 0; i < argc; i++)
		len += strlen(argv[i]) + 1;
	if ((s = calloc(1, len + 1)) == NULL)
		return NULL;
	for (i = 0; i < argc; i++) {
		if (i > 0)
			strcat(s, " ");
		strcat(s, argv[i]);
	}
	return s;
}

/* Each line of out as "NAME: line", a newline at the end in any case. */
static void
exec_print_prefixed(const char *name, const char *out)
{
	const char	*nl;

	while (*out != '\0') {
		nl = strchr(out, '\n');
		printf("%s: %.*s\n", name, nl ? (int)(nl - out) :
		    (int)strlen(out), out);
		if (nl == NULL)
			break;
		out = nl + 1;
	}
}

/* One VM: the output as is, and its status as labctl's. */
static int
exec_one(struct ctl *c, const char *vm, json_t *args)
{
	json_t	*res;
	int	 rc, status;

	json_object_set_new(args, "vm", json_string(vm));
	if ((res = ctl_call(c, "vm.exec", args, &rc)) == NULL)
		return rc;
	status = (int)jint(res, "status");
	if (c->json)
		print_json(res);
	else {
		fputs(jstr(res, "output"), stdout);
		fflush(stdout);
	}
	json_decref(res);
	c->rc_is_status = 1;
	/* A command killed by a signal has no status: fail as ssh does. */
	return status >= 0 && status <= 255 ? status : 255;
}

/* Every VM of a course at once; 1 when any failed or could not run. */
static int
exec_course(struct ctl *c, const char *course, json_t *args)
{
	char	 err[CTL_ERRLEN];
	json_t	*names, *results, *msg, *res;
	size_t	 n, i, left, nbad = 0, nerr = 0;
	long	*ids;
	int	 rc = CTL_OK;

	if ((names = course_vms(c, course, &rc)) == NULL)
		return rc;
	n = left = json_array_size(names);
	results = json_object();
	if ((ids = calloc(n ? n : 1, sizeof(*ids))) == NULL) {
		rc = CTL_FAILED;
		goto fail;
	}
	for (i = 0; i < n; i++) {
		json_object_set(args, "vm", json_array_get(names, i));
		ids[i] = client_send(c->conn, "vm.exec", args, err,
		    sizeof(err));
		if (ids[i] == -1) {
			fprintf(stderr, "labctl: %s\n", err);
			rc = CTL_NOCONN;
			goto fail;
		}
	}
	while (left > 0) {
		if ((msg = client_read(c->conn, err, sizeof(err))) == NULL) {
			fprintf(stderr, "labctl: %s\n", err);
			rc = CTL_NOCONN;
			goto fail;
		}
		for (i = 0; i < n; i++) {
			const char	*name;

			if (ids[i] == 0 || jint(msg, "id") != ids[i])
				continue;
			name = json_string_value(json_array_get(names, i));
			res = json_object_get(msg, "result");
			if (json_is_true(json_object_get(msg, "ok"))) {
				if (jint(res, "status") != 0)
					nbad++;
				if (!c->json) {
					exec_print_prefixed(name,
					    jstr(res, "output"));
					if (jint(res, "status") != 0)
						printf("%s: [exit status"
						    " %lld]\n", name,
						    jint(res, "status"));
				}
				json_object_set_new(results, name, json_pack(
				    "{s:b,s:I,s:s}", "ok", 1, "status",
				    (json_int_t)jint(res, "status"), "output",
				    jstr(res, "output")));
			} else {
				const char	*m = jstr(json_object_get(msg,
				    "error"), "message");

				nerr++;
				if (!c->json)
					printf("%s: FAILED: %s\n", name, m);
				json_object_set_new(results, name, json_pack(
				    "{s:b,s:s}", "ok", 0, "error", m));
			}
			ids[i] = 0;
			left--;
		}
		json_decref(msg);
	}
	if (c->json)
		print_json(results);
	else
		printf("%zu of %zu exited 0; %zu with another status, %zu could"
		    " not run\n", n - nbad - nerr, n, nbad, nerr);
	rc = nbad + nerr > 0 ? CTL_FAILED : CTL_OK;
fail:
	free(ids);
	json_decref(results);
	json_decref(names);
	return rc;
}

int
ctl_exec(struct ctl *c, int argc, char **argv)
{
	const char	*vm = NULL, *course = NULL;
	char		*cmd, *end;
	long		 timeout = 0;
	json_t		*args;
	int		 i, rc;

	for (i = 0; i < argc && strcmp(argv[i], "--") != 0; i++) {
		if (strcmp(argv[i], "--course") == 0 && i + 1 < argc)
			course = argv[++i];
		else if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc) {
			timeout = strtol(argv[++i], &end, 10);
			if (*end != '\0' || timeout < 1 || timeout > 3600) {
				fprintf(stderr, "labctl exec: --timeout is"
				    " seconds, 1 to 3600\n");
				return CTL_USAGE;
			}
		} else if (argv[i][0] != '-' && vm == NULL)
			vm = argv[i];
		else
			return CTL_USAGE;
	}
	if (i == argc || (vm == NULL) == (course == NULL)) {
		fprintf(stderr, "labctl exec: name a VM or --course C, then"
		    " -- and the command\n");
		return CTL_USAGE;
	}
	i++;	/* past "--" */
	if ((cmd = exec_join(argc - i, argv + i)) == NULL)
		return CTL_FAILED;
	if (strspn(cmd, " \t\n") == strlen(cmd)) {
		fprintf(stderr, "labctl exec: no command after --\n");
		free(cmd);
		return CTL_USAGE;
	}
	if (strlen(cmd) > EXEC_CMD_MAX) {
		fprintf(stderr, "labctl exec: the command is %zu bytes; at most"
		    " %d\n", strlen(cmd), EXEC_CMD_MAX);
		free(cmd);
		return CTL_USAGE;
	}
	args = json_pack("{s:s}", "cmd", cmd);
	free(cmd);
	if (timeout > 0)
		json_object_set_new(args, "timeout", json_integer(timeout));
	if (vm != NULL)
		return exec_one(c, vm, args);	/* args taken over */
	if (ctl_connect(c) == -1) {
		json_decref(args);
		return CTL_NOCONN;
	}
	rc = exec_course(c, course, args);
	json_decref(args);
	return rc;
}
