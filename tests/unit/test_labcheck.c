/* SPDX-License-Identifier: ISC */
/*
 * test_labcheck.c - the request line of lab-check's port (labd/labcheck.c):
 * what a guest may write, and everything else refused with a reason.
 */
#include <string.h>

#include <criterion/criterion.h>

#include "labd/labd.h"

static int
parse(const char *line, char *nonce, char *err)
{
	return labcheck_parse(line, strlen(line), nonce, LABCHECK_NONCE_MAX,
	    err, LABD_MSGLEN);
}

Test(labcheck, a_good_request)
{
	char	nonce[LABCHECK_NONCE_MAX], err[LABD_MSGLEN] = "";

	cr_assert_eq(parse("check 1b4e28ba-2fa1-11d2-883f-0016d3cca427",
	    nonce, err), 0, "%s", err);
	cr_expect_str_eq(nonce, "1b4e28ba-2fa1-11d2-883f-0016d3cca427");
	cr_assert_eq(parse("check 42-1765000000", nonce, err), 0);
	cr_expect_str_eq(nonce, "42-1765000000");
}

Test(labcheck, the_longest_nonce_and_one_more)
{
	char	line[LABCHECK_LINE_MAX + 8], nonce[LABCHECK_NONCE_MAX];
	char	err[LABD_MSGLEN] = "";

	strcpy(line, "check ");
	memset(line + 6, 'a', LABCHECK_NONCE_MAX - 1);
	line[6 + LABCHECK_NONCE_MAX - 1] = '\0';
	cr_expect_eq(parse(line, nonce, err), 0, "%s", err);
	cr_expect_eq(strlen(nonce), LABCHECK_NONCE_MAX - 1);
	strcat(line, "a");
	cr_expect_eq(parse(line, nonce, err), -1);
	cr_expect_not_null(strstr(err, "nonce of"), "%s", err);
	/* A nonce too long for the caller's buffer is refused, not cut. */
	cr_expect_eq(labcheck_parse("check abcd", 10, nonce, 4, err,
	    sizeof(err)), -1);
}

Test(labcheck, bad_requests_refused)
{
	static const char *const bad[] = {
		"", "check", "check ", "CHECK abc", "check  abc", "check abc ",
		"check ab/c", "check ../../etc", "check a\tb", "check a\rb",
		"status abc", "check abc\033[2J", "check \xc3\xa9t\xc3\xa9",
		"checkabc", "check a;b", "check $(reboot)",
	};
	char	nonce[LABCHECK_NONCE_MAX], err[LABD_MSGLEN];
	size_t	i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		cr_expect_eq(parse(bad[i], nonce, err), -1, "case %zu", i);
		cr_expect_neq(err[0], '\0', "case %zu has no reason", i);
	}
}

Test(labcheck, a_nul_inside_and_a_line_too_long)
{
	char	line[LABCHECK_LINE_MAX + 10], nonce[LABCHECK_NONCE_MAX];
	char	err[LABD_MSGLEN] = "";

	memcpy(line, "check ab\0cd", 11);
	cr_expect_eq(labcheck_parse(line, 11, nonce, sizeof(nonce), err,
	    sizeof(err)), -1);
	memset(line, 'a', sizeof(line));
	memcpy(line, "check ", 6);
	cr_expect_eq(labcheck_parse(line, LABCHECK_LINE_MAX, nonce,
	    sizeof(nonce), err, sizeof(err)), -1);
	cr_expect_not_null(strstr(err, "at most"), "%s", err);
}
