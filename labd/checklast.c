/* SPDX-License-Identifier: ISC */
/*
 * checklast.c - each VM's last check, for the clients that show VMs
 * (labtui's CHECKS column and detail view).
 *
 * check.c stores a run whole in check_runs; a trigger of db.c notes in
 * vm_checks, for each VM of the run, which run and row hold its last
 * result, with the goals met and their number.  vm.list adds those to
 * its rows with one query for the whole list (a class of 300 is listed
 * every few seconds by every labtui); vm.checks gives one VM's goals with
 * their reasons, read from the stored run.  When a run ends, check.done
 * tells the subscribers which VMs now have a new result.
 */
#include <string.h>

#include "labd/labd.h"

/*
 * checks_met, checks_total, checks_at in each vm object of list that has
 * been checked; the others are left without them.
 */
void
checklast_fill(json_t *list)
{
	sqlite3_stmt	*st;
	json_t		*by = json_object(), *vm;
	size_t		 i;

	json_array_foreach(list, i, vm)
		json_object_set(by, json_string_value(json_object_get(vm,
		    "name")), vm);
	if (json_object_size(by) == 0) {
		json_decref(by);
		return;
	}
	st = db_prepare("SELECT v.name, c.met, c.total, c.finished FROM"
	    " vm_checks c JOIN vms v ON v.id = c.vm_id");
	while (sqlite3_step(st) == SQLITE_ROW) {
		if ((vm = json_object_get(by, db_text(st, 0))) == NULL)
			continue;
		json_object_set_new(vm, "checks_met",
		    json_integer(sqlite3_column_int64(st, 1)));
		json_object_set_new(vm, "checks_total",
		    json_integer(sqlite3_column_int64(st, 2)));
		json_object_set_new(vm, "checks_at",
		    json_integer(sqlite3_column_int64(st, 3)));
	}
	sqlite3_finalize(st);
	json_decref(by);
}

/* A row's results with each goal's description, from the run's goals. */
static json_t *
checklast_goals(json_t *row, json_t *goals)
{
	json_t		*out = json_array(), *res, *g;
	const char	*desc;
	size_t		 i;

	json_array_foreach(json_object_get(row, "results"), i, res) {
		g = json_array_get(goals, i);
		desc = json_string_value(json_object_get(g, "description"));
		json_array_append_new(out, json_pack("{s:O?,s:s,s:b,s:O?,s:O?}",
		    "name", json_object_get(res, "goal"), "description",
		    desc ? desc : "", "met", json_is_true(json_object_get(res,
		    "met")), "status", json_object_get(res, "status"),
		    "reason", json_object_get(res, "reason")));
	}
	return out;
}

void
cmd_vm_checks(const struct req *r, json_t *args)
{
	const char	*name = arg_str(args, "vm");
	sqlite3_stmt	*st;
	json_t		*res = NULL, *run, *row;
	json_error_t	 jerr;

	if (vm_find(name) == NULL) {
		reply_err(r, LABD_E_NOT_FOUND, "vm \"%.80s\" not found"
		    " (labctl list shows them)", name);
		return;
	}
	st = db_prepare("SELECT c.row, r.result FROM vm_checks c JOIN vms v"
	    " ON v.id = c.vm_id JOIN check_runs r ON r.id = c.run_id"
	    " WHERE v.name = ?");
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW &&
	    (run = json_loads(db_text(st, 1), 0, &jerr)) != NULL) {
		row = json_array_get(json_object_get(run, "rows"),
		    (size_t)sqlite3_column_int64(st, 0));
		res = json_pack("{s:s,s:b,s:O?,s:O?,s:O?,s:O?,s:O?,s:I,s:I,"
		    "s:o}",
		    "vm", name, "checked", 1,
		    "course", json_object_get(run, "course"),
		    "started", json_object_get(run, "started"),
		    "finished", json_object_get(run, "finished"),
		    "state", json_object_get(row, "state"),
		    "error", json_object_get(row, "error"),
		    "met", json_integer_value(json_object_get(row, "met")),
		    "total", (json_int_t)json_array_size(json_object_get(row,
		    "results")),
		    "goals", checklast_goals(row, json_object_get(run,
		    "goals")));
		json_decref(run);
	}
	sqlite3_finalize(st);
	if (res == NULL)
		res = json_pack("{s:s,s:b,s:[]}", "vm", name, "checked", 0,
		    "goals");
	reply_ok(r, res);
}

/* A run is stored: which VMs have a new result, and what it is. */
void
checklast_done(json_t *result)
{
	json_t	*vms = json_array(), *row;
	size_t	 i;

	json_array_foreach(json_object_get(result, "rows"), i, row)
		json_array_append_new(vms, json_pack("{s:O?,s:O?,s:I}", "vm",
		    json_object_get(row, "vm"), "met", json_object_get(row,
		    "met"), "total", (json_int_t)json_array_size(
		    json_object_get(row, "results"))));
	events_fire("check.done", NULL, json_pack("{s:O?,s:O?,s:o}",
	    "course", json_object_get(result, "course"), "finished",
	    json_object_get(result, "finished"), "vms", vms));
}
