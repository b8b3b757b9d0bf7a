/*
 * vmm_int.h - what the files of vmm/ share among themselves and nobody
 * else: not part of the library's contract, callers use vmm.h only.
 */
#ifndef LABD_VMM_INT_H
#define LABD_VMM_INT_H

#include <stddef.h>

/* proc.c */
/*
 * vmm_run() with more: input (at most VMM_INPUT_MAX bytes, may be NULL)
 * is the child's whole stdin; timeout_ms > 0 kills it with SIGKILL when
 * it runs longer; with out, stdout is collected apart from stderr into
 * *out (malloc'd, NUL-terminated, at most VMM_OUTPUT_MAX bytes) so that
 * machine-readable output (qemu-img info --output=json) is not mixed
 * with warnings.
 */
#define VMM_INPUT_MAX	4096
#define VMM_OUTPUT_MAX	(4 * 1024 * 1024)
int	 vmm_run_io(char *const argv[], const char *input, int timeout_ms,
	    char **out, char *err, size_t errlen);

#endif /* LABD_VMM_INT_H */
