/* SPDX-License-Identifier: ISC */
/*
 * test_tuichecks.c - labtui's CHECKS cell, its colour and a goal's line
 * in the detail view (tui/checks.c), on its own object.
 */
#include <criterion/criterion.h>

#include "tui/labtui.h"

TestSuite(tuichecks);

Test(tuichecks, cell)
{
	char	buf[16];

	checks_fmt(1, 2, buf, sizeof(buf));
	cr_expect_str_eq(buf, "1/2");
	checks_fmt(0, 0, buf, sizeof(buf));
	cr_expect_str_eq(buf, "0/0");
	checks_fmt(0, -1, buf, sizeof(buf));
	cr_expect_str_eq(buf, "-", "never checked");
	checks_fmt(12, 32, buf, 3);
	cr_expect_str_eq(buf, "12", "cut to the buffer");
}

Test(tuichecks, colour)
{
	cr_expect_eq(checks_color(1, 2), CLR_FAILED);
	cr_expect_eq(checks_color(0, 3), CLR_FAILED);
	cr_expect_eq(checks_color(2, 2), CLR_READY);
	cr_expect_eq(checks_color(0, -1), CLR_DIM);
}

Test(tuichecks, goal_line)
{
	char	 buf[128];
	json_t	*met = json_pack("{s:s,s:b,s:s}", "name", "alive", "met", 1,
		    "reason", "");
	json_t	*not = json_pack("{s:s,s:b,s:s}", "name", "hello", "met", 0,
		    "reason", "no hello here");

	checks_goal_line(met, buf, sizeof(buf));
	cr_expect_str_eq(buf, "  alive            met      ");
	checks_goal_line(not, buf, sizeof(buf));
	cr_expect_str_eq(buf, "  hello            NOT MET  no hello here");
	json_decref(met);
	json_decref(not);
}
