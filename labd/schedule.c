/* SPDX-License-Identifier: ISC */
/*
 * schedule.c - a course's scheduled resets: "reset_at = 12:00, 18:00"
 * puts every running VM of the course back to its reset_to snapshot
 * (pristine unless set) at those times of the day, local time: the class
 * comes back from the break to clean machines.
 *
 * A time fires once: the course's reset_last records when it last did, in
 * the database, so a restarted labd does not fire it again.  A time that
 * passed while labd was down more than a minute ago is skipped, never
 * fired late: a late reset would wipe the work of a class in session.
 *
 * exam_end's time and collect's paths are parsed here too; examend.c
 * fires them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "labd/labd.h"
#include "proto/client.h"

#define SCHEDULE_TICK_MS	1000
#define SCHEDULE_GRACE_S	60
#define EXAMEND_PATHS_TOTAL	7000	/* as vm.collect: dropbear's line */

/*
 * Parse "HH:MM[:SS]" separated by commas into seconds after midnight.
 * Returns the count, -1 with err naming the bad entry.
 */
int
schedule_parse(const char *spec, int *secs, int max, char *err,
    size_t errlen)
{
	char	 buf[512], *tok, *save = NULL;
	int	 n = 0, h, m, s, used;

	if (snprintf(buf, sizeof(buf), "%s", spec) >= (int)sizeof(buf)) {
		errf(err, errlen, "reset_at is too long");
		return -1;
	}
	for (tok = strtok_r(buf, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		while (*tok == ' ' || *tok == '\t')
			tok++;
		if (*tok == '\0')
			continue;
		s = 0;
		used = 0;
		if ((sscanf(tok, "%2d:%2d:%2d%n", &h, &m, &s, &used) != 3 &&
		    sscanf(tok, "%2d:%2d%n", &h, &m, &used) != 2) ||
		    strspn(tok + used, " \t") != strlen(tok + used) ||
		    h < 0 || h > 23 || m < 0 || m > 59 || s < 0 || s > 59) {
			errf(err, errlen, "reset_at: '%.16s' is not a time of"
			    " day (HH:MM or HH:MM:SS)", tok);
			return -1;
		}
		if (n == max) {
			errf(err, errlen, "reset_at: at most %d times", max);
			return -1;
		}
		secs[n++] = h * 3600 + m * 60 + s;
	}
	return n;
}

/*
 * exam_end and collect (examend.c fires them): here with reset_at's
 * parsing, which course.set calls before examend.c is ever involved.
 */
int
examend_parse(const char *spec, time_t now, time_t *at, char *err,
    size_t errlen)
{
	struct tm	tm;
	int		h, m, s = 0, used = 0;

	if (strcmp(spec, "none") == 0 || strcmp(spec, "off") == 0 ||
	    spec[0] == '\0') {
		*at = 0;
		return 0;
	}
	if ((sscanf(spec, "%2d:%2d:%2d%n", &h, &m, &s, &used) != 3 &&
	    (s = 0, sscanf(spec, "%2d:%2d%n", &h, &m, &used) != 2)) ||
	    spec[used] != '\0' || h < 0 || h > 23 || m < 0 || m > 59 ||
	    s < 0 || s > 59 || spec[0] < '0' || spec[0] > '9') {
		errf(err, errlen, "exam_end: \"%.16s\" is not a time of day"
		    " (HH:MM or HH:MM:SS, local time) nor none", spec);
		return -1;
	}
	/* Today at that time; tomorrow when it has passed (mktime: DST). */
	localtime_r(&now, &tm);
	tm.tm_hour = h;
	tm.tm_min = m;
	tm.tm_sec = s;
	tm.tm_isdst = -1;
	if ((*at = mktime(&tm)) <= now) {
		localtime_r(&now, &tm);
		tm.tm_mday++;
		tm.tm_hour = h;
		tm.tm_min = m;
		tm.tm_sec = s;
		tm.tm_isdst = -1;
		*at = mktime(&tm);
	}
	return 0;
}

/*
 * The next path of a "PATH,PATH" list at *sp, into buf: a comma ends it,
 * two commas are one comma of the path (as in QEMU's options).  NULL at
 * the end; empty paths (",a,,,b,") are skipped, as before.
 */
static char *
examend_next(const char **sp, char *buf)
{
	const char	*s = *sp;
	char		*o;

	for (;;) {
		o = buf;
		while (*s != '\0') {
			if (*s == ',' && s[1] == ',') {
				*o++ = ',';
				s += 2;
			} else if (*s == ',')
				break;
			else
				*o++ = *s++;
		}
		*o = '\0';
		if (*s == ',')
			s++;
		*sp = s;
		if (o != buf)
			return buf;
		if (*s == '\0')
			return NULL;
	}
}

json_t *
examend_paths(const char *spec, char *err, size_t errlen)
{
	json_t		*a = json_array();
	char		 buf[EXAMEND_PATHS_TOTAL + 1], e[256], *tok;
	const char	*s = spec;

	if (strlen(spec) > EXAMEND_PATHS_TOTAL) {
		errf(err, errlen, "collect: longer than %d bytes (name the"
		    " folders)", EXAMEND_PATHS_TOTAL);
		goto fail;
	}
	while ((tok = examend_next(&s, buf)) != NULL) {
		if (collect_path_check(tok, e, sizeof(e)) == -1) {
			errf(err, errlen, "collect: %s (paths are separated by"
			    " \",\"; a comma in a path is written \",,\")", e);
			goto fail;
		}
		if (json_array_size(a) == LABD_COLLECT_PATHS_MAX) {
			errf(err, errlen, "collect: at most %d paths",
			    LABD_COLLECT_PATHS_MAX);
			goto fail;
		}
		json_array_append_new(a, json_string(tok));
	}
	if (json_array_size(a) == 0) {
		errf(err, errlen, "collect: no path (PATH[,PATH...], each"
		    " absolute)");
		goto fail;
	}
	return a;
fail:
	json_decref(a);
	return NULL;
}

/* Today's instant of a time of day, local time. */
static time_t
schedule_today(time_t now, int secs)
{
	struct tm	tm;

	localtime_r(&now, &tm);
	tm.tm_hour = secs / 3600;
	tm.tm_min = secs / 60 % 60;
	tm.tm_sec = secs % 60;
	tm.tm_isdst = -1;
	return mktime(&tm);
}

static void
schedule_fire(int64_t course_id, const char *course, const char *to,
    time_t now)
{
	sqlite3_stmt	*st;
	struct vm	*vm;
	int		 n = 0;

	st = db_prepare("UPDATE courses SET reset_last = ? WHERE id = ?");
	sqlite3_bind_int64(st, 1, (sqlite3_int64)now);
	sqlite3_bind_int64(st, 2, course_id);
	sqlite3_step(st);
	sqlite3_finalize(st);
	for (vm = vm_list(); vm != NULL; vm = vm->next) {
		if (strcmp(vm->course, course) != 0 ||
		    (vm->state != VM_READY && vm->state != VM_BOOTING))
			continue;
		vm_op_restore(vm, to, DONE_NONE);
		n++;
	}
	db_event(0, "course.reset_at", course, "%d VMs to %s", n, to);
	log_info("course %s: scheduled reset of %d VMs to %s", course, n, to);
	events_fire("course.reset", NULL, json_pack("{s:s,s:s,s:i}", "course",
	    course, "to", to, "vms", n));
}

static int
schedule_tick(struct loop *l, void *arg)
{
	sqlite3_stmt	*st;
	time_t		 now = time(NULL), t;
	int		 secs[32], n, i;
	char		 err[256];

	st = db_prepare("SELECT id, name, reset_at, reset_to, reset_last"
	    " FROM courses WHERE reset_at != ''");
	while (sqlite3_step(st) == SQLITE_ROW) {
		time_t	last = (time_t)sqlite3_column_int64(st, 4);

		if ((n = schedule_parse(db_text(st, 2), secs, 32, err,
		    sizeof(err))) <= 0)
			continue;
		for (i = 0; i < n; i++) {
			t = schedule_today(now, secs[i]);
			if (t <= now && now - t < SCHEDULE_GRACE_S &&
			    last < t) {
				schedule_fire(sqlite3_column_int64(st, 0),
				    db_text(st, 1), db_text(st, 3), now);
				break;
			}
		}
	}
	sqlite3_finalize(st);
	return SCHEDULE_TICK_MS;
}

void
schedule_init(void)
{
	loop_add_timer(labd->loop, SCHEDULE_TICK_MS, schedule_tick, NULL);
}
