/* SPDX-License-Identifier: ISC */
/*
 * checks.c - how labtui shows a VM's last check: the CHECKS cell
 * (met/total) and its colour, and a goal's line in the detail view.
 * Pure functions of labd's numbers, so that a unit test needs no screen.
 */
#include <stdio.h>

#include "tui/labtui.h"

/* "1/2"; "-" when the VM was never checked (total < 0). */
void
checks_fmt(long long met, long long total, char *out, size_t len)
{
	if (total < 0)
		snprintf(out, len, "-");
	else
		snprintf(out, len, "%lld/%lld", met, total);
}

/* Goals not met stand out as trouble does; all met is ready's green. */
int
checks_color(long long met, long long total)
{
	if (total < 0)
		return CLR_DIM;
	return met < total ? CLR_FAILED : CLR_READY;
}

/* A goal of vm.checks: "  name  met" or "  name  NOT MET  reason". */
void
checks_goal_line(json_t *g, char *out, size_t len)
{
	int	met = json_is_true(json_object_get(g, "met"));

	snprintf(out, len, "  %-16s %-8s %s", jstr(g, "name"), met ? "met" :
	    "NOT MET", met ? "" : jstr(g, "reason"));
}
