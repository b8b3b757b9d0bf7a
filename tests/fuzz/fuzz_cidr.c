/* SPDX-License-Identifier: ISC */
/*
 * fuzz_cidr.c - nft_cidrs_parse(), the reader of a course's allow_from
 * ("10.1.2.0/24, 198.51.100.7"), on any string.  What it accepts comes
 * out canonical: read again, the canonical form is itself.
 */
#include "portforward/portforward.h"
#include "tests/fuzz/fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	*list, canon[PF_CIDRSLEN], again[PF_CIDRSLEN];
	char	 err[PF_ERRLEN];

	/* A C string, as the control socket's JSON hands it over. */
	list = malloc(size + 1);
	fuzz_must(list != NULL, "malloc");
	memcpy(list, data, size);
	list[size] = '\0';
	if (nft_cidrs_parse(list, canon, sizeof(canon), err,
	    sizeof(err)) == -1) {
		FUZZ_CHECK(FUZZ_TERMINATED(err) && err[0] != '\0',
		    "refused without a message");
		free(list);
		return 0;
	}
	FUZZ_CHECK(FUZZ_TERMINATED(canon), "canon not terminated");
	FUZZ_CHECK(nft_cidrs_parse(canon, again, sizeof(again), err,
	    sizeof(err)) == 0, "its own canon '%s' refused: %s", canon, err);
	FUZZ_CHECK(strcmp(canon, again) == 0, "'%s' then '%s'", canon, again);
	free(list);
	return 0;
}
