/* SPDX-License-Identifier: ISC */
/*
 * fuzz_control.c - the control socket's dispatcher on any request line:
 * control_parse() (labd/control.c) against labd's own command table
 * (labd/cmd.c), which is all control_dispatch() does before it runs a
 * handler.  No handler runs, so nothing reaches QEMU or the database;
 * error replies are made and dropped (no client is connected).  What it
 * lets through is a command of the table with the arguments its specs
 * allow: every key listed and of its type, every required key there.
 */
#include "labd/labd.h"
#include "tests/fuzz/fuzz.h"

static int
type_ok(enum arg_type type, json_t *v)
{
	switch (type) {
	case ARG_STRING:
		return json_is_string(v);
	case ARG_INTEGER:
		return json_is_integer(v);
	case ARG_BOOLEAN:
		return json_is_boolean(v);
	case ARG_OBJECT:
		return json_is_object(v);
	case ARG_ARRAY:
		return json_is_array(v);
	}
	return 0;
}

static const struct cmd_arg *
spec_of(const struct cmd *cmd, const char *key)
{
	size_t	i;

	for (i = 0; i < CMD_MAXARGS && cmd->args[i].key != NULL; i++)
		if (strcmp(cmd->args[i].key, key) == 0)
			return &cmd->args[i];
	return NULL;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct cmd	*table, *cmd;
	const struct cmd_arg	*a;
	struct req		 r = { .client = 0, .uid = 0, .pid = 1 };
	const char		*key;
	json_t			*args, *v;
	size_t			 n, i;

	table = cmd_table(&n);
	if ((cmd = control_parse(table, n, &r, (const char *)data, size,
	    &args)) == NULL) {
		FUZZ_CHECK(args == NULL && r.id == NULL, "refused, yet args"
		    " or id");
		return 0;
	}
	FUZZ_CHECK(cmd >= table && cmd < table + n, "a command off the table");
	FUZZ_CHECK(json_is_object(args), "args not an object");
	FUZZ_CHECK(r.id == NULL || json_is_integer(r.id) ||
	    json_is_string(r.id), "an id of another type");
	json_object_foreach(args, key, v) {
		FUZZ_CHECK((a = spec_of(cmd, key)) != NULL, "%s: \"%s\" is not"
		    " its argument", cmd->name, key);
		FUZZ_CHECK(type_ok(a->type, v), "%s: \"%s\" of the wrong type",
		    cmd->name, key);
	}
	for (i = 0; i < CMD_MAXARGS && cmd->args[i].key != NULL; i++)
		FUZZ_CHECK(cmd->args[i].need != ARG_REQUIRED ||
		    json_object_get(args, cmd->args[i].key) != NULL,
		    "%s: \"%s\" missing", cmd->name, cmd->args[i].key);
	json_decref(args);
	json_decref(r.id);
	return 0;
}
