/* SPDX-License-Identifier: ISC */
/*
 * call.c - what every labctl command does with labd: connect once, send
 * a request and print labd's refusal as it is, print JSON, read an
 * option's value, list a course's VMs.  The commands (labctl.c and the
 * other files of labctl/) call these; these call none of them.
 */
#include <stdio.h>
#include <string.h>

#include "labctl/labctl.h"

int
ctl_connect(struct ctl *c)
{
	char	err[CTL_ERRLEN];

	if (c->conn != NULL)
		return 0;
	if ((c->conn = client_open(c->socket, err, sizeof(err))) == NULL) {
		fprintf(stderr, "labctl: %s\n", err);
		return -1;
	}
	return 0;
}

/*
 * One request, one reply; args (may be NULL) is taken over.  The result
 * (a new reference) or NULL after printing labd's error; *rc tells why.
 */
json_t *
ctl_call(struct ctl *c, const char *cmd, json_t *args, int *rc)
{
	char	 err[CTL_ERRLEN];
	json_t	*reply, *result;

	if (ctl_connect(c) == -1) {
		json_decref(args);
		*rc = CTL_NOCONN;
		return NULL;
	}
	reply = client_call(c->conn, cmd, args, NULL, NULL, err, sizeof(err));
	json_decref(args);
	if (reply == NULL) {
		fprintf(stderr, "labctl: %s\n", err);
		*rc = CTL_NOCONN;
		return NULL;
	}
	if (!json_is_true(json_object_get(reply, "ok"))) {
		json_t	*e = json_object_get(reply, "error");

		fprintf(stderr, "labctl: %s\n",
		    json_string_value(json_object_get(e, "message")) ?
		    json_string_value(json_object_get(e, "message")) :
		    "labd refused the request");
		json_decref(reply);
		*rc = CTL_FAILED;
		return NULL;
	}
	result = json_incref(json_object_get(reply, "result"));
	json_decref(reply);
	*rc = CTL_OK;
	return result;
}

void
print_json(json_t *j)
{
	json_dumpf(j, stdout, JSON_INDENT(2));
	putchar('\n');
}

const char *
opt_value(const char *opt, int argc, char **argv, int *i)
{
	size_t	len = strlen(opt);

	if (strcmp(argv[*i], opt) == 0 && *i + 1 < argc)
		return argv[++*i];
	if (strncmp(argv[*i], opt, len) == 0 && argv[*i][len] == '=')
		return argv[*i] + len + 1;
	return NULL;
}

/* The VM names of a course, from vm.list; NULL after an error. */
json_t *
course_vms(struct ctl *c, const char *course, int *rc)
{
	json_t	*list, *names, *vm;
	size_t	 i;

	list = ctl_call(c, "vm.list", json_pack("{s:s}", "course", course),
	    rc);
	if (list == NULL)
		return NULL;
	names = json_array();
	json_array_foreach(list, i, vm)
		json_array_append_new(names, json_string(jstr(vm, "name")));
	json_decref(list);
	return names;
}
