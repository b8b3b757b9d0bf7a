/* SPDX-License-Identifier: ISC */
/*
 * fuzz_roster.c - roster_parse() on any bytes, as course.create hands it
 * the text of a roster CSV.  A roster it accepts holds valid logins, each
 * once, with the line each came from; a refused one says why.
 */
#include "labd/labd.h"
#include "tests/fuzz/fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct roster	 ros;
	char		 err[LABD_MSGLEN];
	size_t		 i, j;

	if (roster_parse((const char *)data, size, "roster.csv", &ros, err,
	    sizeof(err)) == -1) {
		FUZZ_CHECK(ros.v == NULL && ros.n == 0, "refused, not empty");
		FUZZ_CHECK(FUZZ_TERMINATED(err) && err[0] != '\0',
		    "refused without a message");
		return 0;
	}
	FUZZ_CHECK(ros.n > 0, "accepted without students");
	for (i = 0; i < ros.n; i++) {
		FUZZ_CHECK(login_valid(ros.v[i].id), "id '%s'", ros.v[i].id);
		FUZZ_CHECK(ros.v[i].line > 1, "%s on line %d", ros.v[i].id,
		    ros.v[i].line);
		FUZZ_CHECK(FUZZ_TERMINATED(ros.v[i].name) &&
		    FUZZ_TERMINATED(ros.v[i].email) &&
		    FUZZ_TERMINATED(ros.v[i].ssh_key), "%s: a field is not"
		    " terminated", ros.v[i].id);
		for (j = 0; j < i; j++)
			FUZZ_CHECK(strcmp(ros.v[i].id, ros.v[j].id) != 0,
			    "'%s' twice", ros.v[i].id);
	}
	roster_free(&ros);
	return 0;
}
