/* SPDX-License-Identifier: ISC */
/*
 * fuzz_labcheck.c - labcheck_parse(), labd's reader of the line a guest
 * writes on lab-check's port: whatever it takes is "check " and a nonce
 * of A-Z a-z 0-9 and -, all of the line; whatever it refuses it says why
 * in printable ASCII, never a byte of the guest's.
 */
#include "labd/labd.h"
#include "tests/fuzz/fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	 nonce[LABCHECK_NONCE_MAX], err[LABD_MSGLEN];
	size_t	 i, n;

	memset(nonce, 0, sizeof(nonce));
	if (labcheck_parse((const char *)data, size, nonce, sizeof(nonce), err,
	    sizeof(err)) == 0) {
		n = strlen(nonce);
		FUZZ_CHECK(n > 0 && n < LABCHECK_NONCE_MAX, "nonce of %zu", n);
		FUZZ_CHECK(size == n + 6 && memcmp(data, "check ", 6) == 0 &&
		    memcmp(data + 6, nonce, n) == 0, "not all of the line");
		for (i = 0; i < n; i++)
			FUZZ_CHECK(nonce[i] == '-' || (nonce[i] >= '0' &&
			    nonce[i] <= '9') || (nonce[i] >= 'a' &&
			    nonce[i] <= 'z') || (nonce[i] >= 'A' &&
			    nonce[i] <= 'Z'), "byte %02x in the nonce",
			    (unsigned char)nonce[i]);
	} else {
		FUZZ_CHECK(FUZZ_TERMINATED(err) && err[0] != '\0',
		    "refused without a message");
		for (i = 0; err[i] != '\0'; i++)
			FUZZ_CHECK((unsigned char)err[i] >= 0x20 &&
			    (unsigned char)err[i] < 0x7f,
			    "byte %02x in the message", (unsigned char)err[i]);
	}
	return 0;
}
