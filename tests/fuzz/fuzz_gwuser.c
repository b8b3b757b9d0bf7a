/* SPDX-License-Identifier: ISC */
/*
 * fuzz_gwuser.c - gw_user_parse(), the SSH gateway's reader of the user
 * name a client sends before anyone has authenticated: whatever it takes
 * is a valid login (and course, and mode), whatever it refuses it says
 * why in printable ASCII, never echoing a control byte back to a
 * terminal.
 */
#include "labd/gateway.h"
#include "tests/fuzz/fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	*user, login[LABD_NAMELEN], course[LABD_NAMELEN];
	char	 err[LABD_ERRLEN];
	size_t	 i, n;
	int	 mode;
	static const char *const words[] = {
		[GW_MODE_SHELL] = "", [GW_MODE_CONSOLE] = "console",
		[GW_MODE_RESET] = "reset", [GW_MODE_CHECK] = "check",
	};

	user = malloc(size + 1);
	fuzz_must(user != NULL, "malloc");
	memcpy(user, data, size);
	user[size] = '\0';
	if (gw_user_parse(user, login, course, &mode, err, sizeof(err)) == 0) {
		FUZZ_CHECK(login_valid(login), "login '%s' taken", login);
		FUZZ_CHECK(course[0] == '\0' || name_valid(course),
		    "course '%s' taken", course);
		FUZZ_CHECK(mode >= GW_MODE_SHELL && mode <= GW_MODE_CHECK,
		    "mode %d", mode);
		n = strlen(login) + (course[0] ? strlen(course) + 1 : 0) +
		    (mode != GW_MODE_SHELL ? strlen(words[mode]) + 1 : 0);
		FUZZ_CHECK(n == strlen(user), "'%s' is not all of the name",
		    login);
	} else {
		FUZZ_CHECK(FUZZ_TERMINATED(err) && err[0] != '\0',
		    "refused without a message");
		FUZZ_CHECK(login[0] == '\0', "refused, but login set");
		for (i = 0; err[i] != '\0'; i++)
			FUZZ_CHECK((unsigned char)err[i] >= 0x20 &&
			    (unsigned char)err[i] < 0x7f,
			    "byte %02x in the message", (unsigned char)err[i]);
	}
	free(user);
	return 0;
}
