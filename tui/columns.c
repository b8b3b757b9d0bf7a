/* SPDX-License-Identifier: ISC */
/*
 * columns.c - the table's columns: one entry a column, with its title, its
 * widths, how it prints a row and how it sorts two.  The sort key cycles
 * through this table and the help lists it; draw.c drops the columns of
 * the highest prio first when the terminal is narrow.
 */
#include <stdio.h>
#include <string.h>

#include "tui/labtui.h"

void
fmt_kb(long long kb, char *out, size_t len)
{
	if (kb <= 0)
		snprintf(out, len, "-");
	else if (kb < 1024)
		snprintf(out, len, "%lldK", kb);
	else if (kb < 10 * 1024)
		snprintf(out, len, "%.1fM", kb / 1024.0);
	else if (kb < 1024 * 1024)
		snprintf(out, len, "%lldM", kb / 1024);
	else
		snprintf(out, len, "%.1fG", kb / (1024.0 * 1024));
}

static int
num_cmp(double a, double b)
{
	return a < b ? -1 : a > b;
}

static void
fmt_name(const struct vm_row *r, double now, char *out, size_t len)
{
	snprintf(out, len, "%s", r->name);
}

static int
cmp_name(const struct vm_row *a, const struct vm_row *b, double now)
{
	return strverscmp(a->name, b->name);
}

static void
fmt_student(const struct vm_row *r, double now, char *out, size_t len)
{
	snprintf(out, len, "%s", r->student);
}

static int
cmp_student(const struct vm_row *a, const struct vm_row *b, double now)
{
	return strverscmp(a->student, b->student);
}

static void
fmt_state(const struct vm_row *r, double now, char *out, size_t len)
{
	snprintf(out, len, "%s", *r->state ? r->state : "?");
}

/* Trouble first: failed, then the busy ones, ready, then the idle. */
static int
state_rank(const char *state)
{
	switch (state_color(state)) {
	case CLR_FAILED:
		return 0;
	case CLR_BUSY:
		return 1;
	case CLR_READY:
		return 2;
	case CLR_DIM:
		return 3;
	default:
		return 4;
	}
}

static int
cmp_state(const struct vm_row *a, const struct vm_row *b, double now)
{
	int	c = state_rank(a->state) - state_rank(b->state);

	return c ? c : strcmp(a->state, b->state);
}

static void
fmt_ports(const struct vm_row *r, double now, char *out, size_t len)
{
	if (r->nports == 0)
		snprintf(out, len, "-");
	else if (r->nports == 1)
		snprintf(out, len, "%s", r->port1);
	else
		snprintf(out, len, "%s +%d", r->port1, r->nports - 1);
}

static int
cmp_ports(const struct vm_row *a, const struct vm_row *b, double now)
{
	return strverscmp(a->port1, b->port1);
}

static void
fmt_uptime(const struct vm_row *r, double now, char *out, size_t len)
{
	fmt_duration(row_uptime(r, now), out, len);
}

static int
cmp_uptime(const struct vm_row *a, const struct vm_row *b, double now)
{
	return num_cmp(row_uptime(a, now), row_uptime(b, now));
}

static void
fmt_cpu(const struct vm_row *r, double now, char *out, size_t len)
{
	if (r->pid <= 0 || r->ticks_at == 0)
		snprintf(out, len, "-");
	else
		snprintf(out, len, "%.1f", r->cpu);
}

static int
cmp_cpu(const struct vm_row *a, const struct vm_row *b, double now)
{
	return num_cmp(a->cpu, b->cpu);
}

static void
fmt_mem(const struct vm_row *r, double now, char *out, size_t len)
{
	fmt_kb(r->pid > 0 ? r->rss_kb : 0, out, len);
}

static int
cmp_mem(const struct vm_row *a, const struct vm_row *b, double now)
{
	return num_cmp(a->rss_kb, b->rss_kb);
}

static void
fmt_conn(const struct vm_row *r, double now, char *out, size_t len)
{
	if (r->connections < 0)
		snprintf(out, len, "-");
	else
		snprintf(out, len, "%lld", r->connections);
}

static int
cmp_conn(const struct vm_row *a, const struct vm_row *b, double now)
{
	return num_cmp(a->connections, b->connections);
}

static void
fmt_checks(const struct vm_row *r, double now, char *out, size_t len)
{
	checks_fmt(r->checks_met, r->checks_total, out, len);
}

/* Fewest met first; never checked last. */
static int
cmp_checks(const struct vm_row *a, const struct vm_row *b, double now)
{
	if ((a->checks_total < 0) != (b->checks_total < 0))
		return a->checks_total < 0 ? 1 : -1;
	return num_cmp(a->checks_met - a->checks_total,
	    b->checks_met - b->checks_total);
}

static void
fmt_snapshot(const struct vm_row *r, double now, char *out, size_t len)
{
	snprintf(out, len, "%s", *r->snapshot ? r->snapshot : "-");
}

static int
cmp_snapshot(const struct vm_row *a, const struct vm_row *b, double now)
{
	return strverscmp(a->snapshot, b->snapshot);
}

const struct column columns[COL_N] = {
	[COL_NAME] = { "NAME", 14, 8, 0, 0, fmt_name, cmp_name,
	    "COURSE-STUDENT" },
	[COL_STUDENT] = { "STUDENT", 10, 7, 0, 5, fmt_student, cmp_student,
	    "the student's id in the roster" },
	[COL_STATE] = { "STATE", 12, 9, 0, 0, fmt_state, cmp_state,
	    "what labd sees; sorted trouble first" },
	[COL_PORTS] = { "PORTS", 18, 15, 0, 1, fmt_ports, cmp_ports,
	    "the first public ip:port (+N more: Enter shows them)" },
	[COL_UPTIME] = { "UPTIME", 7, 6, 1, 2, fmt_uptime, cmp_uptime,
	    "since QEMU started" },
	[COL_CPU] = { "CPU%", 5, 5, 1, 3, fmt_cpu, cmp_cpu,
	    "QEMU's CPU, percent of one CPU" },
	[COL_MEM] = { "MEM", 6, 5, 1, 4, fmt_mem, cmp_mem,
	    "QEMU's resident memory (VmRSS)" },
	[COL_CONN] = { "CONN", 4, 4, 1, 7, fmt_conn, cmp_conn,
	    "connections, when labd reports them" },
	[COL_CHECKS] = { "CHECKS", 6, 6, 1, 8, fmt_checks, cmp_checks,
	    "goals met/total in the last check (Enter: the reasons)" },
	[COL_SNAPSHOT] = { "SNAPSHOT", 10, 8, 0, 6, fmt_snapshot,
	    cmp_snapshot, "the latest snapshot" },
};
