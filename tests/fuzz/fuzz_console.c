/* SPDX-License-Identifier: ISC */
/*
 * fuzz_console.c - offline_console_parse(), labd's reading of the
 * collector appliance's console (labd/offline.c) on any text: the tail
 * of a serial log where the kernel writes too and tar's stderr may hold
 * the names of a guest's files.  It never overruns its buffer; what it
 * accepts had a status line, and the stderr it gives back is terminated
 * and no longer than the room given.
 */
#include "labd/vmjob.h"
#include "tests/fuzz/fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	*text, errtext[64];
	int	 status;

	text = malloc(size + 1);
	fuzz_must(text != NULL, "malloc");
	memcpy(text, data, size);
	text[size] = '\0';
	if (offline_console_parse(text, &status, errtext,
	    sizeof(errtext)) == 0) {
		FUZZ_CHECK(strstr(text, "labd-collect-status ") != NULL,
		    "accepted without a status line");
		FUZZ_CHECK(FUZZ_TERMINATED(errtext), "stderr not terminated");
	} else
		FUZZ_CHECK(status == -1, "refused with status %d", status);
	free(text);
	return 0;
}
