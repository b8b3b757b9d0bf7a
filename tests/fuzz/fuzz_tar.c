/* SPDX-License-Identifier: ISC */
/*
 * fuzz_tar.c - tar_index(), the reader of an .ova's tar headers, on any
 * bytes as a file (a memfd).  What it accepts lists plain file names,
 * each once, whose data lies inside the file on a block boundary.
 */
#include <sys/mman.h>

#include "vmm/vmm.h"
#include "tests/fuzz/fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tar_entry	*v;
	char			 err[VMM_ERRLEN];
	size_t			 n, i, j;
	int			 fd;

	fd = memfd_create("fuzz.ova", MFD_CLOEXEC);
	fuzz_must(fd != -1, "memfd_create");
	fuzz_write_fd(fd, data, size);
	if (tar_index(fd, "x.ova", &v, &n, err, sizeof(err)) == -1) {
		FUZZ_CHECK(v == NULL && n == 0, "refused, not empty");
		FUZZ_CHECK(FUZZ_TERMINATED(err) && err[0] != '\0',
		    "refused without a message");
		close(fd);
		return 0;
	}
	for (i = 0; i < n; i++) {
		FUZZ_CHECK(FUZZ_TERMINATED(v[i].name), "name not terminated");
		FUZZ_CHECK(v[i].name[0] != '\0' &&
		    strchr(v[i].name, '/') == NULL &&
		    strcmp(v[i].name, ".") != 0 && strcmp(v[i].name, "..") != 0,
		    "member '%s' is not a plain name", v[i].name);
		FUZZ_CHECK(v[i].offset % 512 == 0 && v[i].offset <= size &&
		    v[i].size <= size - v[i].offset, "member '%s': %llu bytes"
		    " at %llu in a file of %zu", v[i].name,
		    (unsigned long long)v[i].size,
		    (unsigned long long)v[i].offset, size);
		for (j = 0; j < i; j++)
			FUZZ_CHECK(strcmp(v[i].name, v[j].name) != 0,
			    "'%s' twice", v[i].name);
	}
	free(v);
	close(fd);
	return 0;
}
