/* SPDX-License-Identifier: ISC */
/*
 * test_gateway.c - the SSH gateway's pure parts (labd/gw_route.c): user
 * names as a scanner would type them, which VM a name picks and why it
 * picks none, allow_from for the gateway, failed logins a minute.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "labd/gateway.h"

static char	login[LABD_NAMELEN], course[LABD_NAMELEN], err[LABD_ERRLEN];
static int	mode;

static int
parse(const char *user)
{
	err[0] = '\0';
	mode = -1;
	return gw_user_parse(user, login, course, &mode, err, sizeof(err));
}

/* No byte of err is a control character or outside ASCII. */
static int
printable(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			return 0;
	return 1;
}

Test(gw_user, plain_login)
{
	cr_assert_eq(parse("alice"), 0, "%s", err);
	cr_expect_str_eq(login, "alice");
	cr_expect_str_eq(course, "");
	cr_expect_eq(mode, GW_MODE_SHELL);
}

Test(gw_user, login_and_course)
{
	cr_assert_eq(parse("alice+net101"), 0, "%s", err);
	cr_expect_str_eq(login, "alice");
	cr_expect_str_eq(course, "net101");
	cr_expect_eq(mode, GW_MODE_SHELL);
	cr_assert_eq(parse("b_2-x+os-lab"), 0, "%s", err);
	cr_expect_str_eq(login, "b_2-x");
	cr_expect_str_eq(course, "os-lab");
}

Test(gw_user, modes)
{
	cr_assert_eq(parse("alice+console"), 0, "%s", err);
	cr_expect_str_eq(login, "alice");
	cr_expect_str_eq(course, "");
	cr_expect_eq(mode, GW_MODE_CONSOLE);
	cr_assert_eq(parse("alice+reset"), 0, "%s", err);
	cr_expect_str_eq(course, "");
	cr_expect_eq(mode, GW_MODE_RESET);
	cr_assert_eq(parse("alice+net101+console"), 0, "%s", err);
	cr_expect_str_eq(login, "alice");
	cr_expect_str_eq(course, "net101");
	cr_expect_eq(mode, GW_MODE_CONSOLE);
	cr_assert_eq(parse("alice+net101+reset"), 0, "%s", err);
	cr_expect_str_eq(course, "net101");
	cr_expect_eq(mode, GW_MODE_RESET);
	cr_assert_eq(parse("alice+check"), 0, "%s", err);
	cr_expect_str_eq(login, "alice");
	cr_expect_str_eq(course, "");
	cr_expect_eq(mode, GW_MODE_CHECK);
	cr_assert_eq(parse("alice+net101+check"), 0, "%s", err);
	cr_expect_str_eq(course, "net101");
	cr_expect_eq(mode, GW_MODE_CHECK);
	cr_assert_eq(parse("alice+check+check"), 0, "%s", err);
	cr_expect_str_eq(course, "check");
	cr_expect_eq(mode, GW_MODE_CHECK);
	/* A course called so is named in front of a mode. */
	cr_assert_eq(parse("alice+reset+console"), 0, "%s", err);
	cr_expect_str_eq(course, "reset");
	cr_expect_eq(mode, GW_MODE_CONSOLE);
	/* The longest of each part still fits. */
	cr_expect_eq(parse("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa+"
	    "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb+console"), 0, "%s", err);
	cr_expect_eq(mode, GW_MODE_CONSOLE);
}

Test(gw_user, unknown_mode_names_the_valid_ones)
{
	static const char *bad[] = {
		"alice+net101+x", "alice+net101+Console", "alice+net101+shell",
		"alice+console+net101", "alice+net101+console+x",
		"alice+net101+", "alice++console", "alice+net101+reset!",
		"alice+net101+Check", "alice+check+net101", "alice+net101+checks",
		"alice+net101+check+check",
	};
	size_t	i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_expect_eq(parse(bad[i]), -1, "\"%s\" taken", bad[i]);
		cr_expect_str_eq(login, "", "case %zu", i);
		cr_expect_eq(mode, GW_MODE_SHELL, "case %zu", i);
		cr_expect(strstr(err, "+console") != NULL &&
		    strstr(err, "+reset") != NULL && strstr(err, "+check") !=
		    NULL, "case %zu: %s", i, err);
		cr_expect(printable(err), "case %zu: %s", i, err);
	}
}

Test(gw_user, hostile_names)
{
	static const char *bad[] = {
		"", "../x", "..", "alice/..", "/etc/passwd", "alice+../x",
		"alice+", "+net101", "alice+net101+x", "Alice", "root",
		"+console", "alice+console+", "Alice+console",
		"alice+net101+console\x1b[2J",
		"alice+NET", "alice net", "alice;id", "alice+a--b", "-alice",
		"alice\n", "al\x1b[2Jice", "al\x7fice", "al\xc3\xa9ice",
		"alice+c\x01", "a\tb", "alice+-x", "alice+x-",
	};
	size_t	i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_expect_eq(parse(bad[i]), -1, "\"%s\" taken", bad[i]);
		cr_expect_str_eq(login, "", "case %zu", i);
		cr_expect_neq(err[0], '\0', "case %zu: no reason", i);
		cr_expect(printable(err), "case %zu: err not printable: %s",
		    i, err);
	}
}

Test(gw_user, too_long)
{
	char	name[301];

	memset(name, 'a', 300);
	name[300] = '\0';
	cr_assert_eq(parse(name), -1);
	cr_expect(strstr(err, "too long") != NULL, "%s", err);
	cr_expect(strlen(err) < 200, "the whole name quoted back: %s", err);
	/* 33 bytes of login: one past the limit. */
	cr_expect_eq(parse("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"), -1);
	cr_expect_eq(parse("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"), 0, "%s", err);
	cr_expect_eq(parse("alice+aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"), -1);
}

Test(gw_user, control_bytes_are_not_echoed)
{
	cr_assert_eq(parse("x\x1b]52;c;AAAA\x07"), -1);
	cr_expect(printable(err), "%s", err);
	cr_expect(strstr(err, "control") != NULL, "%s", err);
}

Test(gw_user, unknown_suffix_says_how)
{
	cr_assert_eq(parse("alice+Console!"), -1);
	cr_expect(strstr(err, "alice+COURSE") != NULL, "%s", err);
	cr_expect(strstr(err, "+console, +reset or +check") != NULL, "%s", err);
}

static const struct gw_cand two[] = {
	{ "net101", "net101-alice" },
	{ "os", "os-alice" },
};

Test(gw_route, unknown_student)
{
	cr_assert_eq(gw_route_pick("zed", "", NULL, 0, err, sizeof(err)), -1);
	cr_expect(strstr(err, "unknown student \"zed\"") != NULL, "%s", err);
	cr_assert_eq(gw_route_pick("zed", "os", NULL, 0, err, sizeof(err)),
	    -1);
	cr_expect(strstr(err, "unknown student") != NULL, "%s", err);
}

Test(gw_route, one_course)
{
	cr_expect_eq(gw_route_pick("alice", "", two, 1, err, sizeof(err)), 0);
	cr_expect_eq(gw_route_pick("alice", "net101", two, 1, err,
	    sizeof(err)), 0);
}

Test(gw_route, several_courses_name_one)
{
	cr_assert_eq(gw_route_pick("alice", "", two, 2, err, sizeof(err)), -1);
	cr_expect(strstr(err, "several courses (net101, os)") != NULL, "%s",
	    err);
	cr_expect(strstr(err, "alice+net101@") != NULL, "%s", err);
	cr_expect_eq(gw_route_pick("alice", "os", two, 2, err, sizeof(err)),
	    1);
	cr_expect_eq(gw_route_pick("alice", "net101", two, 2, err,
	    sizeof(err)), 0);
}

Test(gw_route, course_she_is_not_in)
{
	cr_assert_eq(gw_route_pick("alice", "db", two, 2, err, sizeof(err)),
	    -1);
	cr_expect(strstr(err, "no VM in course \"db\"") != NULL, "%s", err);
	cr_expect(strstr(err, "net101, os") != NULL, "%s", err);
	/* "alice+consol": a course to the parser, a typo to the student. */
	cr_expect(strstr(err, "+console, +reset or +check") != NULL, "%s", err);
}

Test(gw_allow, from)
{
	cr_expect(gw_addr_allowed("", "203.0.113.9"));
	cr_expect(gw_addr_allowed(NULL, "203.0.113.9"));
	cr_expect(gw_addr_allowed("10.0.0.0/8", "10.1.2.3"));
	cr_expect(!gw_addr_allowed("10.0.0.0/8", "11.0.0.1"));
	cr_expect(!gw_addr_allowed("10.99.0.0/16", "127.0.0.1"));
	cr_expect(gw_addr_allowed("10.99.0.0/16,127.0.0.0/8", "127.0.0.1"));
	cr_expect(gw_addr_allowed("192.0.2.7/32", "192.0.2.7"));
	cr_expect(!gw_addr_allowed("192.0.2.7/32", "192.0.2.8"));
	cr_expect(gw_addr_allowed("192.0.2.7", "192.0.2.7"));
	cr_expect(gw_addr_allowed("0.0.0.0/0", "198.51.100.1"));
	cr_expect(!gw_addr_allowed("10.0.0.0/8", "not an address"));
	/* allow_from=closed (an exam's end): nobody a client can be. */
	cr_expect(!gw_addr_allowed(LABD_ALLOW_CLOSED, "127.0.0.1"));
	cr_expect(!gw_addr_allowed(LABD_ALLOW_CLOSED, "203.0.113.9"));
	cr_expect(!gw_addr_allowed("10.0.0.0/8", "::1"));
}

Test(gw_fail, a_minute_window)
{
	static struct gw_fails	f;
	int64_t			until = 0;
	int			i;

	for (i = 0; i < 4; i++)
		gw_fail_add(&f, "192.0.2.1", 1000 + i * 1000);
	cr_expect(!gw_fail_blocked(&f, "192.0.2.1", 5, 5000, NULL));
	gw_fail_add(&f, "192.0.2.1", 5000);
	cr_assert(gw_fail_blocked(&f, "192.0.2.1", 5, 5000, &until));
	/* The oldest of the five leaves the window at 1000 + 60 s. */
	cr_expect_eq(until, 61000);
	cr_expect(!gw_fail_blocked(&f, "192.0.2.2", 5, 5000, NULL),
	    "another address is blocked too");
	cr_expect(!gw_fail_blocked(&f, "192.0.2.1", 5, 61000, NULL),
	    "still blocked once a failure left the window");
	cr_expect(gw_fail_blocked(&f, "192.0.2.1", 4, 61000, NULL));
}

Test(gw_fail, many_addresses_do_not_overflow)
{
	static struct gw_fails	f;
	char			addr[32];
	int			i;

	for (i = 0; i < 3 * GW_FAIL_ADDRS; i++) {
		snprintf(addr, sizeof(addr), "10.0.%d.%d", i / 250, i % 250);
		gw_fail_add(&f, addr, i);
	}
	for (i = 0; i < 200; i++)
		gw_fail_add(&f, "192.0.2.9", 100000 + i);
	cr_expect(gw_fail_blocked(&f, "192.0.2.9", GW_FAIL_MAX, 100300, NULL));
}

/* --- +check's table: the student's goals, never a script ---------------- */

static json_t *
check_result(void)
{
	json_error_t	jerr;
	json_t		*res;

	res = json_loads("{\"course\": \"net101\", \"goals\": ["
	    "{\"name\": \"hello\", \"description\": \"a file /root/hello\","
	    " \"met\": 1},"
	    "{\"name\": \"web\", \"description\": \"nginx answers\","
	    " \"met\": 0}],"
	    " \"rows\": [{\"vm\": \"net101-alice\", \"student\": \"alice\","
	    " \"state\": \"checked\", \"met\": 1, \"results\": ["
	    "{\"goal\": \"hello\", \"met\": true, \"status\": 0,"
	    " \"reason\": \"ok\"},"
	    "{\"goal\": \"web\", \"met\": false, \"status\": 7,"
	    " \"reason\": \"connection refused\\u001b[2J\"}]}]}", 0, &jerr);
	cr_assert_not_null(res, "%s", jerr.text);
	return res;
}

Test(gw_check, table_says_met_not_met_why_and_totals)
{
	json_t	*res = check_result();
	char	*t;
	int	 all = -1;

	t = gw_check_text(res, &all);
	cr_expect_eq(all, 0);
	cr_expect(strstr(t, "net101-alice") != NULL, "%s", t);
	cr_expect(strstr(t, "met      hello  a file /root/hello\n") != NULL,
	    "%s", t);
	cr_expect(strstr(t, "not met  web    nginx answers\n") != NULL, "%s",
	    t);
	cr_expect(strstr(t, "why: connection refused?[2J\n") != NULL, "%s", t);
	cr_expect(strstr(t, "1 of 2 goals met\n") != NULL, "%s", t);
	cr_expect(strchr(t, 0x1b) == NULL, "%s", t);
	free(t);
	json_decref(res);
}

Test(gw_check, all_met_only_when_every_goal_is)
{
	json_t	*res = check_result(), *r;
	char	*t;
	int	 all = 0;

	r = json_array_get(json_object_get(json_array_get(json_object_get(res,
	    "rows"), 0), "results"), 1);
	json_object_set_new(r, "met", json_true());
	t = gw_check_text(res, &all);
	cr_expect_eq(all, 1);
	cr_expect(strstr(t, "2 of 2 goals met\n") != NULL, "%s", t);
	cr_expect(strstr(t, "why:") == NULL, "%s", t);
	free(t);
	json_decref(res);
}

Test(gw_check, vm_not_checked_is_said)
{
	json_t	*res = check_result(), *row;
	char	*t;
	int	 all = 1;

	row = json_array_get(json_object_get(res, "rows"), 0);
	json_object_set_new(row, "state", json_string("failed"));
	json_object_set_new(row, "error", json_string("check failed: ssh"));
	json_object_set_new(json_array_get(json_object_get(row, "results"), 0),
	    "met", json_false());
	t = gw_check_text(res, &all);
	cr_expect_eq(all, 0);
	cr_expect(strstr(t, "could not be checked: check failed: ssh") != NULL,
	    "%s", t);
	cr_expect(strstr(t, "0 of 2 goals met") != NULL, "%s", t);
	free(t);
	json_decref(res);
}
