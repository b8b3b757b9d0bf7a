/* SPDX-License-Identifier: ISC */
/*
 * test_examend.c - a course's exam end (labd/examend.c): "HH:MM[:SS]" as
 * the instant of its next occurrence, local time, and collect='s paths,
 * each checked as labctl collect checks them.  The zone is fixed (TZ) so
 * that the instants are known.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <criterion/criterion.h>

#include "labd/labd.h"

/* 2026-03-10 10:00:00 in the zone set, as time_t. */
static time_t
at_local(int y, int mo, int d, int h, int mi, int s)
{
	struct tm	tm = { .tm_year = y - 1900, .tm_mon = mo - 1,
			    .tm_mday = d, .tm_hour = h, .tm_min = mi,
			    .tm_sec = s, .tm_isdst = -1 };

	return mktime(&tm);
}

static void
utc(void)
{
	setenv("TZ", "UTC", 1);
	tzset();
}

Test(examend_parse, later_today_earlier_tomorrow, .init = utc)
{
	time_t	now = at_local(2026, 3, 10, 10, 0, 0), at;
	char	err[256];

	cr_assert_eq(examend_parse("12:30", now, &at, err, sizeof(err)), 0);
	cr_expect_eq(at, at_local(2026, 3, 10, 12, 30, 0));
	cr_assert_eq(examend_parse("10:00:15", now, &at, err, sizeof(err)),
	    0);
	cr_expect_eq(at, now + 15);
	/* Now itself is passed: the next occurrence is tomorrow's. */
	cr_assert_eq(examend_parse("10:00", now, &at, err, sizeof(err)), 0);
	cr_expect_eq(at, now + 86400);
	cr_assert_eq(examend_parse("09:59:59", now, &at, err, sizeof(err)),
	    0);
	cr_expect_eq(at, now + 86400 - 1);
	/* Across a month's end. */
	now = at_local(2026, 3, 31, 23, 0, 0);
	cr_assert_eq(examend_parse("00:10", now, &at, err, sizeof(err)), 0);
	cr_expect_eq(at, at_local(2026, 4, 1, 0, 10, 0));
}

Test(examend_parse, daylight_saving_day)
{
	time_t	now, at;
	char	err[256];

	setenv("TZ", "Europe/Paris", 1);
	tzset();
	/* 2026-03-29: 02:00 becomes 03:00; the day is 23 hours long. */
	now = at_local(2026, 3, 28, 20, 0, 0);
	cr_assert_eq(examend_parse("16:00", now, &at, err, sizeof(err)), 0);
	cr_expect_eq(at, now + 19 * 3600);
}

Test(examend_parse, none_clears, .init = utc)
{
	time_t	at = 1;
	char	err[256];

	cr_assert_eq(examend_parse("none", time(NULL), &at, err,
	    sizeof(err)), 0);
	cr_expect_eq(at, 0);
}

Test(examend_parse, bad_times_name_the_field, .init = utc)
{
	static const char *bad[] = { "24:00", "12:60", "12:00:60", "12",
	    "noon", "12:00 ", " 12:00", "-1:00", "12:00:00:00", "1200",
	    "12:0x", "+1:00", "12:00,13:00" };
	time_t	at;
	char	err[256];
	size_t	i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		cr_expect_eq(examend_parse(bad[i], 0, &at, err, sizeof(err)),
		    -1, "\"%s\" taken", bad[i]);
		cr_expect(strncmp(err, "exam_end: ", 10) == 0, "\"%s\": %s",
		    bad[i], err);
	}
}

Test(examend_paths, checked_like_collect)
{
	json_t	*a;
	char	err[256];

	a = examend_paths("/root/exam,/home/*/exam.c", err, sizeof(err));
	cr_assert_not_null(a, "%s", err);
	cr_expect_eq(json_array_size(a), 2);
	cr_expect_str_eq(json_string_value(json_array_get(a, 1)),
	    "/home/*/exam.c");
	json_decref(a);
	cr_expect_null(examend_paths("root/exam", err, sizeof(err)));
	cr_expect(strncmp(err, "collect: ", 9) == 0, "%s", err);
	cr_expect_null(examend_paths("/root/../etc", err, sizeof(err)));
	cr_expect(strncmp(err, "collect: ", 9) == 0, "%s", err);
	cr_expect_null(examend_paths("/root/$(reboot)", err, sizeof(err)));
	cr_expect_null(examend_paths(",", err, sizeof(err)));
	cr_expect(strncmp(err, "collect: ", 9) == 0, "%s", err);
}

Test(examend_paths, two_commas_are_a_comma_of_the_path)
{
	json_t	*a;
	char	err[256];

	a = examend_paths("/srv/a,,b,/root/exam,,", err, sizeof(err));
	cr_assert_not_null(a, "%s", err);
	cr_assert_eq(json_array_size(a), 2);
	cr_expect_str_eq(json_string_value(json_array_get(a, 0)), "/srv/a,b");
	cr_expect_str_eq(json_string_value(json_array_get(a, 1)),
	    "/root/exam,");
	json_decref(a);
	/* Empty ones are skipped, as before. */
	a = examend_paths(",/x,,,/y,", err, sizeof(err));
	cr_assert_not_null(a, "%s", err);
	cr_expect_eq(json_array_size(a), 2);
	cr_expect_str_eq(json_string_value(json_array_get(a, 0)), "/x,");
	cr_expect_str_eq(json_string_value(json_array_get(a, 1)), "/y");
	json_decref(a);
	/* One comma splits: the error says how to write one in a path. */
	cr_expect_null(examend_paths("/srv/a,b", err, sizeof(err)));
	cr_expect(strstr(err, "\"b\"") != NULL, "%s", err);
	cr_expect(strstr(err, "a comma in a path is written \",,\"") != NULL,
	    "%s", err);
}
