/* SPDX-License-Identifier: ISC */
/*
 * fuzz_agent.c - agent_parse(), labd's reader of the lines a guest's
 * root writes on labd-agent's port: whatever it takes is all of the
 * line, "hello TOKEN" or "done TOKEN STATUS", the token of A-Z a-z 0-9
 * and -, the status 0 to 255 written as labd-agent writes it.
 */
#include <stdio.h>

#include "labd/labd.h"
#include "tests/fuzz/fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	 token[AGENT_TOKEN_MAX], again[AGENT_LINE_MAX + 32];
	size_t	 i, n;
	int	 kind, status = -1;

	memset(token, 0, sizeof(token));
	kind = agent_parse((const char *)data, size, token, sizeof(token),
	    &status);
	if (kind == -1)
		return 0;
	FUZZ_CHECK(kind == AGENT_HELLO || kind == AGENT_DONE, "kind %d", kind);
	n = strlen(token);
	FUZZ_CHECK(n > 0 && n < AGENT_TOKEN_MAX, "token of %zu", n);
	for (i = 0; i < n; i++)
		FUZZ_CHECK(token[i] == '-' || (token[i] >= '0' &&
		    token[i] <= '9') || (token[i] >= 'a' && token[i] <= 'z') ||
		    (token[i] >= 'A' && token[i] <= 'Z'), "byte %02x in the"
		    " token", (unsigned char)token[i]);
	/* Taken: the line is exactly what the agent would have written. */
	if (kind == AGENT_HELLO)
		snprintf(again, sizeof(again), "hello %s", token);
	else {
		FUZZ_CHECK(status >= 0 && status <= 255, "status %d", status);
		snprintf(again, sizeof(again), "done %s %d", token, status);
	}
	FUZZ_CHECK(strlen(again) == size && memcmp(again, data, size) == 0,
	    "not all of the line");
	return 0;
}
