/* SPDX-License-Identifier: ISC */
/*
 * fuzz_ovf.c - ovf_parse(), the OVF descriptor scan of vmm/ova.c, on any
 * bytes.  What it accepts names a disk that is a plain file name and
 * hardware within what labd gives a VM (0: the descriptor does not say).
 */
#include "vmm/vmm.h"
#include "tests/fuzz/fuzz.h"

/* Bounds of vmm/ova.c (and of a template profile). */
#define MIN_MB		32
#define MAX_MB		(64 * 1024)
#define MAX_VCPUS	64

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ovf_info	 info;
	char		 err[VMM_ERRLEN];

	/* The length, no NUL after it: the reader must keep within. */
	if (ovf_parse((const char *)data, size, "x.ovf", &info, err,
	    sizeof(err)) == -1) {
		FUZZ_CHECK(FUZZ_TERMINATED(err) && err[0] != '\0',
		    "refused without a message");
		return 0;
	}
	FUZZ_CHECK(info.memory_mb == 0 || (info.memory_mb >= MIN_MB &&
	    info.memory_mb <= MAX_MB), "memory %u MiB", info.memory_mb);
	FUZZ_CHECK(info.vcpus <= MAX_VCPUS, "%u vCPUs", info.vcpus);
	FUZZ_CHECK(FUZZ_TERMINATED(info.disk), "disk not terminated");
	FUZZ_CHECK(info.disk[0] != '\0' && strchr(info.disk, '/') == NULL &&
	    strcmp(info.disk, ".") != 0 && strcmp(info.disk, "..") != 0,
	    "disk '%s' is not a plain name", info.disk);
	return 0;
}
