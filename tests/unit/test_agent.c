/* SPDX-License-Identifier: ISC */
/*
 * test_agent.c - the lines labd-agent writes on its port (labd/agent.c):
 * "hello TOKEN" and "done TOKEN STATUS", all of the line, and nothing
 * else; a guest's root writes there, so every other shape is refused.
 */
#include <string.h>

#include <criterion/criterion.h>

#include "labd/labd.h"

static int
parse(const char *line, char *token, int *status)
{
	return agent_parse(line, strlen(line), token, AGENT_TOKEN_MAX, status);
}

Test(agent, hello_and_done)
{
	char	token[AGENT_TOKEN_MAX];
	int	status = -1;

	cr_assert_eq(parse("hello 1b4e28ba-2fa1-11d2-883f-0016d3cca427", token,
	    &status), AGENT_HELLO);
	cr_expect_str_eq(token, "1b4e28ba-2fa1-11d2-883f-0016d3cca427");
	cr_assert_eq(parse("done r17 0", token, &status), AGENT_DONE);
	cr_expect_str_eq(token, "r17");
	cr_expect_eq(status, 0);
	cr_assert_eq(parse("done r18 255", token, &status), AGENT_DONE);
	cr_expect_eq(status, 255);
	cr_assert_eq(parse("done r19 1", token, &status), AGENT_DONE);
	cr_expect_eq(status, 1);
}

Test(agent, the_longest_token_and_one_more)
{
	char	line[AGENT_LINE_MAX + 8], token[AGENT_TOKEN_MAX];
	int	status;

	strcpy(line, "hello ");
	memset(line + 6, 'a', AGENT_TOKEN_MAX - 1);
	line[6 + AGENT_TOKEN_MAX - 1] = '\0';
	cr_expect_eq(parse(line, token, &status), AGENT_HELLO);
	cr_expect_eq(strlen(token), AGENT_TOKEN_MAX - 1);
	strcat(line, "a");
	cr_expect_eq(parse(line, token, &status), -1);
	/* A token too long for the caller's buffer is refused, not cut. */
	cr_expect_eq(agent_parse("hello abcd", 10, token, 4, &status), -1);
}

Test(agent, other_lines_refused)
{
	static const char *const bad[] = {
		"", "hello", "hello ", "HELLO abc", "hello  abc", "hello abc ",
		"hello ab/c", "hello a\tb", "hello $(reboot)", "helloabc",
		"done", "done r1", "done r1 ", "done  r1 0", "done r1  0",
		"done r1 0 ", "done r1 -1", "done r1 +1", "done r1 256",
		"done r1 1000", "done r1 007", "done r1 00", "done r1 x",
		"done r;1 0", "done r1 0\r", "welcome abc", "run r1 true",
		"done \xc3\xa9 0",
	};
	char	token[AGENT_TOKEN_MAX];
	int	status;
	size_t	i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_expect_eq(parse(bad[i], token, &status), -1, "case %zu: %s",
		    i, bad[i]);
}

Test(agent, a_nul_inside_and_a_line_too_long)
{
	char	line[AGENT_LINE_MAX + 10], token[AGENT_TOKEN_MAX];
	int	status;

	cr_expect_eq(agent_parse("hello ab\0cd", 11, token, sizeof(token),
	    &status), -1);
	cr_expect_eq(agent_parse("done r1\0 0", 10, token, sizeof(token),
	    &status), -1);
	memset(line, 'a', sizeof(line));
	memcpy(line, "hello ", 6);
	cr_expect_eq(agent_parse(line, AGENT_LINE_MAX, token, sizeof(token),
	    &status), -1);
}
